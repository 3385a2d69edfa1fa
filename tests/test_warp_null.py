"""The warp null between layers as a Monte Carlo test at a stated level.

Known answers: unrolling a swiss roll keeps neighbourhoods no linear map of the roll keeps, so
its p-values sit at the floor 1/(B+1); a rotation and rescaling *is* linear, so its Gaussian
pair reads the same and p is 1. The p-value is exact: over any B + 1 exchangeable values at
most a of them have p <= a/(B+1) (checked on arbitrary values with hypothesis), and the
test's draws depend on the rows only through their mean and covariance (the p-values do not
change when the rows of both layers are permuted together).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_probe.analysis import measures, warp_null
from manifold_probe.analysis.nulls import matched_gaussian_pairs, monte_carlo_p
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.neighbors import knn

B = warp_null._WARP_NULL_DRAWS
FLOOR = 1.0 / (B + 1)
# plain graph geodesics from 50 sources: the statistic of the default run, at a test's cost
EST = EstimatorSettings.from_mapping({"geodesic": {"method": "graph", "n_sources": 50}})
KEYS = warp_null.WARP_NULL_KEYS


def _pair(X, Y, est=EST, seed=0):
    return measures.measure_pair(X, Y, knn(X, est.graph_k()), knn(Y, est.graph_k()), est,
                                 seed=seed)


def _roll(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=n))
    h = 10 * rng.uniform(size=n)
    return np.c_[t * np.cos(t), h, t * np.sin(t)], np.c_[t, h]


def test_the_level_reaches_the_floor():
    # the call needs p <= alpha, so the floor 1/(B+1) must reach it
    assert FLOOR <= warp_null.WARP_NULL_ALPHA


def test_unrolling_a_swiss_roll_reads_p_at_its_floor():
    """The unrolled roll keeps neighbourhoods (trustworthiness 0.96) that its Gaussian pair,
    the roll's linear part plus noise, loses (0.56): every draw is farther from it than the
    centre, so p is the floor; the unrolling also distorts geodesics less than that pair."""
    X, Y = _roll(400, 0)
    out = _pair(X, Y)
    assert out["warp_p_min_prev"] == FLOOR
    for key in ("trustworthiness", "continuity", "knn_overlap"):
        assert out[f"{key}_p_prev"] == FLOOR, (key, out)
        assert out[f"{key}_vs_null_prev"] == "above", (key, out)
        assert out[f"{key}_null_lo_prev"] <= out[f"{key}_null_prev"] <= out[f"{key}_null_hi_prev"]
    assert out["geodesic_distortion_p_prev"] == FLOOR
    assert out["geodesic_distortion_vs_null_prev"] == "below"


def test_a_rotation_and_rescaling_reads_p_well_above_alpha():
    """2 X R is linear: its Gaussian pair is the same map of a Gaussian, every draw reads
    neighbourhoods kept and no distortion, like the reading (ties within round-off), so
    p = 1 for all four measures."""
    X, _ = _roll(400, 1)
    R, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    out = _pair(X, 2.0 * X @ R)
    for key in KEYS:
        assert out[f"{key}_p_prev"] == 1.0, (key, out)
        assert out[f"{key}_vs_null_prev"] == "within", (key, out)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=40),
       st.sampled_from([0.0, 1e-9]))
def test_monte_carlo_p_is_exact_and_floored(values, tol):
    """Under the null the reading is any one of the B + 1 values with equal chance: for every
    a, at most a of the B + 1 positions give p <= a/(B+1) (so P(p <= a/(B+1)) <= a/(B+1)),
    whatever the values and their ties; and p is never below 1/(B+1) nor above 1."""
    v = np.asarray(values)
    n = len(v)
    p = np.array([monte_carlo_p(v[j], np.delete(v, j), tol=tol)[0] for j in range(n)])
    assert p.min() >= 1.0 / n - 1e-15 and p.max() <= 1.0
    for a in range(1, n + 1):
        assert np.sum(p <= a / n + 1e-12) <= a


def test_monte_carlo_p_ignores_missing_draws_and_a_missing_reading():
    assert monte_carlo_p(5.0, [0.0, 1.0, np.nan, 2.0]) == (0.25, "above")
    p, side = monte_carlo_p(np.nan, [0.0, 1.0])
    assert np.isnan(p) and side is None


def _bent(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [2.0, 1.0, 0.5]
    return X, np.c_[np.tanh(X[:, 0]), X[:, 1] * X[:, 2], X[:, 2]]


@settings(max_examples=3, deadline=None)
@given(st.randoms(use_true_random=False))
def test_p_values_do_not_depend_on_the_order_of_the_rows(random):
    """At or below the row cap, with every row a geodesic source, the reading is a function of
    the set of paired rows and the draws one of their mean and covariance (the symmetric root
    of the covariance, not the basis the eigensolver picks): the same p-values for any order
    of the rows applied to both layers. (Above the cap the seeded subsample picks rows by
    position, so there only the test's law is the same.)"""
    est = EstimatorSettings.from_mapping({"geodesic": {"method": "graph", "n_sources": None}})
    X, Y = _bent(120, 3)
    order = list(range(len(X)))
    random.shuffle(order)
    a, b = _pair(X, Y, est), _pair(X[order], Y[order], est)
    for key in KEYS:
        assert a[f"{key}_p_prev"] == b[f"{key}_p_prev"], key
        assert a[f"{key}_vs_null_prev"] == b[f"{key}_vs_null_prev"], key
        # the draws agree to round-off; neighbour sets exactly, geodesic spreads to ~1e-12
        assert a[f"{key}_null_prev"] == pytest.approx(b[f"{key}_null_prev"], rel=1e-9), key


def test_the_draws_are_a_function_of_the_mean_and_covariance():
    X, Y = _bent(300, 4)
    order = np.random.default_rng(0).permutation(len(X))
    (A, B_), = matched_gaussian_pairs(X, Y, 1, seed=5, n=200)
    (C, D), = matched_gaussian_pairs(X[order], Y[order], 1, seed=5, n=200)
    assert np.allclose(A, C, atol=1e-10) and np.allclose(B_, D, atol=1e-10)


def test_a_large_pair_compares_the_reading_and_the_null_on_one_subsample(monkeypatch):
    """Above the cap the draws and the reading they are compared with have the cap's rows;
    the compared reading and the number of rows are written, the call follows their p, and a
    seed gives the same columns twice."""
    monkeypatch.setattr(warp_null, "_WARP_NULL_MAX_ROWS", 250)
    X, Y = _roll(400, 2)
    a, b = _pair(X, Y), _pair(X, Y)
    assert a == b
    assert a["warp_null_rows_prev"] == 250
    for key in KEYS:
        assert a[f"{key}_compared_prev"] != a[f"{key}_prev"], key  # a reading of other rows
    for key in ("trustworthiness", "continuity", "knn_overlap"):
        assert a[f"{key}_p_prev"] == FLOOR and a[f"{key}_vs_null_prev"] == "above", key
    small = _pair(X[:250], Y[:250])
    assert "warp_null_rows_prev" not in small and "trustworthiness_compared_prev" not in small


def test_the_shortcuts_leave_every_column_bit_identical(monkeypatch):
    """The null's draws skip re-checking the graphs mp.knn just built from them, and rows
    proved distinct by their hashes skip the sort of the rows: every column (readings,
    p-values, null means and ranges, the subsample's reading) must have the same bits as
    with the full checks and the sort, also on a pair with duplicate rows."""
    import contextlib

    from manifold_probe import _validation_extra, neighbors
    from manifold_probe.analysis import distinct

    monkeypatch.setattr(warp_null, "_WARP_NULL_MAX_ROWS", 250)
    X, Y = _roll(300, 7)
    Xd, Yd = np.vstack([X, X[:20]]), np.vstack([Y, Y[:20]])  # 20 rows twice
    fast = [_pair(X, Y), _pair(Xd, Yd)]
    monkeypatch.setattr(neighbors, "graphs_built_here", contextlib.nullcontext)
    monkeypatch.setattr(_validation_extra, "all_rows_differ", lambda A: False)
    monkeypatch.setattr(distinct, "all_rows_differ", lambda A: False)
    slow = [_pair(X, Y), _pair(Xd, Yd)]
    for a, b in zip(fast, slow, strict=True):
        assert a.keys() == b.keys() and "trustworthiness_null_lo_prev" in a
        for key, value in a.items():
            if isinstance(value, float):
                assert np.float64(value).tobytes() == np.float64(b[key]).tobytes(), key
            else:
                assert value == b[key], key


def test_nulls_off_leave_the_warp_null_columns_out():
    est = EstimatorSettings.from_mapping({"nulls": {"enabled": False}})
    out = _pair(*_roll(200, 1), est)
    assert out and not any("null" in c or "_p_" in c for c in out)


def test_no_geodesics_no_geodesic_null():
    est = EstimatorSettings.from_mapping({"geodesic": {"enabled": False}})
    out = _pair(*_roll(200, 5), est)
    assert "geodesic_distortion_p_prev" not in out and "trustworthiness_p_prev" in out


def test_null_draws_leave_the_shared_caches_alone():
    """A null's draws are never seen again: the results kept for the layers stay kept."""
    from manifold_probe.analysis import _reuse

    _reuse.clear_geodesic_cache()
    X, Y = _roll(300, 6)
    _pair(X, Y)
    kept = len(_reuse._cache)
    assert kept <= 4  # the layers' own geodesics and distance matrices, none of 2 x 19 draws
    _reuse.clear_geodesic_cache()


@pytest.mark.slow
def test_the_test_holds_its_level_on_gaussian_pairs():
    """On pairs that are jointly Gaussian the test rejects at about its level: 100 pairs of
    300 rows (covariance estimated from each, as in the profile), at most 12 rejections per
    measure at alpha = 0.05 (Binomial(100, 0.05) exceeds 11 with probability 0.005)."""
    rng = np.random.default_rng(0)
    M = rng.normal(size=(4, 3))
    rejected = dict.fromkeys(KEYS, 0)
    for seed in range(100):
        X = rng.normal(size=(300, 4)) * [3.0, 2.0, 1.0, 0.5]
        Y = X @ M + rng.normal(size=(300, 3))
        out = _pair(X, Y, seed=seed)
        for key in KEYS:
            rejected[key] += out[f"{key}_vs_null_prev"] != "within"
    assert max(rejected.values()) <= 12, rejected
