"""Every InputError path of the one input gate."""

import numpy as np
import pytest

import manifold_probe as mp
from manifold_probe._validation import (
    check_float,
    check_int,
    check_k,
    check_option,
    check_points,
    check_seed,
    unique_rows,
)


def test_input_error_is_value_error():
    assert issubclass(mp.InputError, ValueError)


def test_nan_rows_counted_with_first_index():
    X = np.zeros((20, 3))
    X[17, 1] = np.nan
    X[19, 0] = np.nan
    with pytest.raises(mp.InputError, match=r"2 row\(s\).*NaN.*first: row 17"):
        check_points(X)


def test_inf_rows():
    X = np.zeros((5, 2))
    X[3, 0] = np.inf
    with pytest.raises(mp.InputError, match=r"1 row\(s\).*inf.*first: row 3"):
        check_points(X)


@pytest.mark.parametrize(
    "X, pattern",
    [
        (np.arange(5.0), r"2-D.*reshape\(-1, 1\)"),
        (np.zeros((2, 3, 4)), r"2-D.*reshape\(-1"),
        (np.zeros((4, 2), dtype=complex), r"complex.*\.real"),
        (np.array([["a", "b"], ["c", "d"]]), r"non-numeric"),
        (np.array([[1, 2], [3]], dtype=object), r"non-numeric"),
        (np.zeros((3, 0)), r"no features"),
    ],
)
def test_bad_arrays(X, pattern):
    with pytest.raises(mp.InputError, match=pattern):
        check_points(X)


def test_too_few_points_names_method():
    with pytest.raises(mp.InputError, match=r"TwoNN needs at least 3 points; X has 2"):
        check_points(np.zeros((2, 2)), min_points=3, what="TwoNN")


def test_k_too_large_names_fix():
    with pytest.raises(mp.InputError, match=r"k=5 is too large.*only 5 points.*k < 5"):
        check_k(5, 5)


@pytest.mark.parametrize("bad", [2.5, True, "3", None])
def test_int_params(bad):
    with pytest.raises(mp.InputError, match="integer"):
        check_int(bad, name="k")


def test_int_bounds_and_floats_and_options():
    with pytest.raises(mp.InputError, match=">= 1"):
        check_int(0, name="k", minimum=1)
    with pytest.raises(mp.InputError, match="< 1"):
        check_float(1.0, name="alpha", low=0, high=1, high_open=True)
    with pytest.raises(mp.InputError, match="finite"):
        check_float(np.nan, name="alpha")
    with pytest.raises(mp.InputError, match=r"choose one of \['a', 'b'\]"):
        check_option("c", ["a", "b"], name="method")
    with pytest.raises(mp.InputError, match="seed"):
        check_seed("x")


def test_torch_and_int_inputs_become_float64():
    torch = pytest.importorskip("torch")
    out = check_points(torch.arange(6).reshape(3, 2))
    assert out.dtype == np.float64 and out.shape == (3, 2)
    assert check_points(np.ones((3, 2), dtype=np.float32), dtype=None).dtype == np.float32


def test_unique_rows_inverse_reconstructs():
    X = np.array([[1.0, 0], [0, 1], [1, 0], [2, 2], [0, 1]])
    first, inverse, counts = unique_rows(X)
    assert first.tolist() == [0, 1, 3]
    assert counts.tolist() == [2, 2, 1]
    np.testing.assert_array_equal(X[first][inverse], X)


def test_all_rows_differ_only_when_unique_rows_finds_no_duplicate():
    """The hash test that lets the kNN search and the distinct-row view skip sorting the rows
    says "all distinct" only where the sort finds no duplicate, and does say it for distinct
    float clouds (also when only columns past the eighth tell rows apart)."""
    from manifold_probe._validation_extra import all_rows_differ

    rng = np.random.default_rng(3)
    G = rng.normal(size=(300, 12))
    tail = np.zeros((4, 12))
    tail[:, 9] = [1.0, 2.0, 3.0, 4.0]  # equal in the first eight columns, distinct rows
    signed = np.array([[0.0, 1.0], [-0.0, 1.0], [2.0, 3.0]])
    for X, distinct in [(G, True), (G.astype(np.float32), True), (tail, True),
                        (np.vstack([G, G[:5]]), False), (signed, False),
                        (np.arange(12).reshape(6, 2), False)]:
        assert all_rows_differ(X) is distinct
        if distinct:
            assert len(unique_rows(X)[0]) == len(X)


# ------------------------------------------------------------------ dtypes, magnitude, seeds
from manifold_probe import _validation as val  # noqa: E402


def test_float16_bfloat16_longdouble_become_float64():
    torch = pytest.importorskip("torch")
    X = np.arange(12, dtype=np.float64).reshape(6, 2) / 8  # exact in float16 and bfloat16
    for A in (X.astype(np.float16), torch.tensor(X, dtype=torch.bfloat16),
              torch.tensor(X, dtype=torch.float16), X.astype(np.longdouble)):
        got = check_points(A, dtype=None)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, X)
    with pytest.raises(mp.InputError, match="complex"):
        check_points(torch.ones((3, 2), dtype=torch.complex64))
    # a longdouble value beyond float64 is refused as non-finite, not silently inf
    if np.finfo(np.longdouble).max > np.finfo(np.float64).max:
        big = np.full((3, 2), np.longdouble(10) ** 400)
        with pytest.raises(mp.InputError, match="inf"):
            check_points(big)


@pytest.mark.parametrize("power", [-1070, -1000, -300, 0, 5, 300, 1000])
def test_normalize_scale_is_exact(power):
    X = np.random.default_rng(0).standard_normal((30, 4))
    A = np.ldexp(X, power)
    B, e = val.normalize_scale(A)
    assert 0.5 <= np.max(np.abs(B)) < 1.0
    # multiplying by 2**-e is exact: the round trip recovers the input bit for bit
    np.testing.assert_array_equal(np.ldexp(B, e), A)
    if power > -1000:  # no subnormal inputs: B is X up to the exact power of two
        np.testing.assert_array_equal(np.ldexp(B, e - power), X)


def test_normalize_scale_of_zeros_and_rescale_range():
    Z = np.zeros((4, 2))
    assert val.normalize_scale(Z)[1] == 0
    np.testing.assert_array_equal(val.rescale(np.array([1.5, 0.0, np.nan]), 10, what="x",
                                              unit_power=-2),
                                  np.array([1.5 * 2.0**-20, 0.0, np.nan]))
    with pytest.raises(mp.InputError, match="beyond the range of float64"):
        val.rescale(np.array([2.0]), -600, what="the curvature", unit_power=-2)  # 2**1201
    with pytest.raises(mp.InputError, match="beyond the range of float64"):
        val.rescale(np.array([2.0]), 600, what="the curvature", unit_power=-2)  # 2**-1199


@pytest.mark.parametrize("seed", [0, 7, 2**70, np.int8(3), np.uint64(2**63)])
def test_seeds_accepted_are_deterministic(seed):
    a = check_seed(seed).random(3)
    np.testing.assert_array_equal(a, check_seed(seed).random(3))


@pytest.mark.parametrize("seed", [-1, np.int64(-3), True, 1.0, "0", [1]])
def test_bad_seeds_are_input_errors(seed):
    with pytest.raises(mp.InputError, match="seed"):
        check_seed(seed)


def test_distinct_rows_and_dimension_clip():
    with pytest.raises(mp.InputError, match="only 1 distinct"):
        val.check_distinct(np.ones((60, 3)), 3, what="this")
    assert val.check_distinct(np.eye(3), 3, what="this") == 3
    assert val.clip_dimension(4.2, 3) == (3.0, 4.2)
    assert val.clip_dimension(2.5, 3) == (2.5, None)
    assert val.clip_dimension(float("inf"), None) == (float("inf"), None)


def test_cost_guards():
    with pytest.raises(mp.InputError, match="GiB.*subsample"):
        val.check_memory(2**40, what="that", fix="subsample", budget=2**30)
    val.check_memory(2**20, what="that", fix="subsample", budget=2**30)
    with pytest.warns(val.CostWarning, match="pass fewer"):
        val.warn_cost(10 * val.SLOW_OPERATIONS, what="that", fix="pass fewer")


def test_unique_rows_of_a_large_array_seen_again_are_the_same_and_not_shared():
    """A large array's result is kept for its next call (same bits, same arrays); a caller
    writing to what it got does not change the next answer, and one changed value gives a
    new one."""
    from manifold_probe import _unique_kept as vx

    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 60))  # 1.4 MB: above the size from which results are kept
    X[2000:2100] = X[:100]
    assert X.nbytes >= vx._UNIQUE_KEPT_BYTES
    first, inverse, counts = unique_rows(X)
    assert len(first) == 2900 and counts.sum() == 3000
    np.testing.assert_array_equal(X[first][inverse], X)
    first[:] = -1
    again = unique_rows(X.copy())
    assert again[0].min() == 0 and len(again[0]) == 2900
    np.testing.assert_array_equal(again[1], inverse)
    Z = X.copy()
    Z[2050, 0] += 1.0  # row 2050 no longer repeats row 50
    assert len(unique_rows(Z)[0]) == 2901
