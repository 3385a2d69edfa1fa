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
