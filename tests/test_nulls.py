"""Every reading beside its null: surrogates, intervals, calls, Holm, and the profile's columns.

Known answers: a cloud that *is* Gaussian reads within its matched-Gaussian null (dimension,
curvature, regions); a circle reads below it in dimension, a round sphere above it in
curvature, two far blobs above it in regions, and straight token paths below their
shuffled-order baseline.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_probe.analysis import measures, semantic
from manifold_probe.analysis.nulls import (
    combine_calls,
    holm,
    matched_gaussian,
    median_interval,
    null_call,
    structure_calls,
)
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.analysis.table import combine
from manifold_probe.neighbors import knn

EST = EstimatorSettings.from_mapping({"curvature": {"max_points": 300},
                                      "regions": {"max_points": 400}})


def test_matched_gaussian_has_the_mean_and_covariance():
    rng = np.random.default_rng(0)
    X = rng.standard_exponential((20000, 4)) @ rng.normal(size=(4, 6)) + 3.0
    G = matched_gaussian(X, seed=1)
    assert G.shape == X.shape
    # sample covariances of 20,000 points agree to a few sqrt(2/n) ~ 1% (heavy-tailed X: 5%)
    C, CG = np.cov(X, rowvar=False), np.cov(G, rowvar=False)
    assert np.abs(CG - C).max() <= 0.05 * np.abs(C).max()
    assert np.allclose(G.mean(axis=0), X.mean(axis=0), atol=0.05)
    assert matched_gaussian(X, seed=1, n=10).shape == (10, 6)


@pytest.mark.parametrize("shape", [(3000, 20), (400, 200), (300, 200)])
def test_matched_gaussian_of_a_tall_cloud_draws_what_the_full_svd_draws(shape):
    """At N >= 2d the SVD is taken of the R factor of the centred cloud (LAPACK's own route
    for so tall a matrix, without forming U): the same singular values and right singular
    vectors, so the same draws as from the SVD of the whole centred cloud, to round-off
    (bit for bit with numpy's OpenBLAS; 1e-12 of the largest coordinate allows another LAPACK's
    rounding). (300, 200) is below 2d: the SVD of the cloud itself."""
    rng = np.random.default_rng(5)
    n, d = shape
    X = rng.standard_exponential((n, d)) * np.geomspace(10.0, 1e-3, d) + 2.0
    mean = X.mean(axis=0)
    _, s, Vt = np.linalg.svd(X - mean, full_matrices=False)
    Z = np.random.default_rng(7).standard_normal((n, len(s)))
    old = mean + (Z * (s / np.sqrt(n - 1))) @ Vt
    new = matched_gaussian(X, seed=7)
    assert np.abs(new - old).max() <= 1e-12 * np.abs(old).max()


def test_median_interval_covers_at_its_level():
    """Coverage of the order-statistic interval is at least 95% (exact binomial bound); over
    400 samples the observed rate has standard error 1.1%, so >= 92% is required."""
    rng = np.random.default_rng(0)
    true_median = np.log(2.0)  # of the unit exponential
    hits = 0
    for _ in range(400):
        lo, hi = median_interval(rng.standard_exponential(41))
        hits += lo <= true_median <= hi
    assert hits / 400 >= 0.92
    assert np.isnan(median_interval([1.0, 2.0])[0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=30))
def test_holm_is_its_definition(p):
    """Adjusted p: the running max of (m - i) p_(i), capped at 1; never below p; monotone in p."""
    p = np.asarray(p)
    q = holm(p)
    order = np.argsort(p, kind="stable")
    m = len(p)
    expected = np.maximum.accumulate(np.minimum(1, (m - np.arange(m)) * p[order]))
    assert np.allclose(q[order], expected)
    assert (q >= p - 1e-15).all()
    assert (np.diff(q[order]) >= -1e-15).all()


def test_null_call_and_seed_agreement():
    assert null_call(3, 4, 1, 2) == "above"
    assert null_call(0, 0.5, 1, 2) == "below"
    assert null_call(1.5, 3, 1, 2) == "within"
    assert combine_calls(["above", "above", "above"]) == "above"
    assert combine_calls(["above", "within"]) == "undecided"
    assert combine(["below", "below"]) == "below" and combine(["below", "above"]) == "undecided"


def test_structure_calls_apply_holm_and_say_when_a_test_cannot_pass():
    rows = [{"structure_days_p": 0.001, "structure_days_p_min": 0.001},
            {"structure_days_p": 0.2, "structure_days_p_min": 0.001},
            {"structure_days_p": None}]
    structure_calls(rows, alpha=0.05)
    assert rows[0]["structure_days_vs_null"] == "above"
    assert rows[0]["structure_days_p_holm"] == pytest.approx(0.002)
    assert rows[1]["structure_days_vs_null"] == "within"
    assert rows[2]["structure_days_vs_null"] is None
    # a floor of 0.05 over 2 tests: the test cannot reach 0.025, so it is undecided, not "within"
    floored = [{"structure_x_p": 0.05, "structure_x_p_min": 0.05},
               {"structure_x_p": 0.5, "structure_x_p_min": 0.05}]
    structure_calls(floored, alpha=0.05)
    assert floored[0]["structure_x_vs_null"] == "undecided"


def _circle(n=1500, D=20, seed=0):
    """A noise-free circle rotated into R^D (TwoNN ~1; its matched Gaussian is a 2-D disc)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    Q, _ = np.linalg.qr(rng.normal(size=(D, 2)))
    return np.c_[np.cos(t), np.sin(t)] @ Q.T


def test_dimension_of_a_gaussian_is_within_and_of_a_circle_below_its_null():
    rng = np.random.default_rng(1)
    G = rng.normal(size=(1500, 6)) * [3, 2, 1, 1, 0.5, 0.5]
    C = _circle()
    for X, want in ((G, "within"), (C, "below")):
        out = measures.measure_dimension(X, knn(X, 40), EST)
        assert out["id_twonn_vs_null"] == want, out
        assert out["id_mle_vs_null"] == want, out
        assert out["id_twonn_null_lo"] <= out["id_twonn_null"] <= out["id_twonn_null_hi"]


def test_curvature_of_a_sphere_is_above_and_of_a_gaussian_within_its_null():
    rng = np.random.default_rng(2)
    S = rng.normal(size=(1500, 3))
    S /= np.linalg.norm(S, axis=1, keepdims=True)  # S^2 of radius 1: curvature 2
    # 800 points: the quadratic fit reads S^2 within 1% there (300 are too sparse for it)
    est = EstimatorSettings.from_mapping({"curvature": {"max_points": 800, "dim": 2}})
    out = measures.measure_curvature(S, knn(S, 20), est, seed=0)
    assert out["curvature_median_vs_null"] == "above", out
    assert out["curvature_median_lo"] <= out["curvature_median"] <= out["curvature_median_hi"]
    G = rng.normal(size=(1500, 3)) * [2, 1, 0.5]
    est = EstimatorSettings.from_mapping({"curvature": {"max_points": 300, "dim": 2}})
    out = measures.measure_curvature(G, knn(G, 20), est, seed=0)
    assert out["curvature_median_vs_null"] == "within", out


def test_regions_of_two_far_blobs_are_above_and_of_a_gaussian_within_the_null():
    rng = np.random.default_rng(3)
    blobs = np.r_[rng.normal(size=(300, 5)), rng.normal(size=(300, 5)) + [12, 0, 0, 0, 0]]
    out = semantic.measure_regions(blobs, None, None, EST, seed=0)
    assert out["n_regions_null"] == 1 and out["n_regions_vs_null"] == "above", out
    G = rng.normal(size=(600, 5))
    out = semantic.measure_regions(G, None, None, EST, seed=0)
    assert out["n_regions_vs_null"] == "within", out


def test_trajectory_baselines():
    """Tokens marching along a line (small noise) are straighter than their shuffled order;
    i.i.d. Gaussian tokens read about 120 degrees, within their shuffled baseline."""
    rng = np.random.default_rng(4)
    n_sent, length, D = 60, 8, 50
    sid = np.repeat(np.arange(n_sent), length)
    direction = rng.normal(size=(n_sent, D))
    steps = np.arange(length)[None, :, None] * direction[:, None, :]
    line = (steps + 0.05 * rng.normal(size=steps.shape)).reshape(-1, D)
    out = measures.measure_trajectory(line, sid)
    assert out["trajectory_curvature_vs_null"] == "below", out
    noise = rng.normal(size=(n_sent * length, D))
    out = measures.measure_trajectory(noise, sid)
    assert out["trajectory_curvature_vs_null"] == "within", out
    # in D dimensions, consecutive steps of i.i.d. points have cosine about -1/2: 120 degrees
    assert out["trajectory_curvature_gaussian"] == pytest.approx(120, abs=6)
    assert out["trajectory_curvature"] == pytest.approx(120, abs=6)


def test_nulls_can_be_switched_off():
    X = _circle(400)
    est = EstimatorSettings.from_mapping({"nulls": {"enabled": False}})
    out = measures.measure_dimension(X, knn(X, 40), est)
    assert not any("null" in k for k in out)


def test_matched_gaussian_pair_has_the_joint_covariance():
    from manifold_probe.analysis.nulls import matched_gaussian_pair

    rng = np.random.default_rng(3)
    X = rng.standard_exponential((20000, 3))
    Y = np.c_[X[:, 0] ** 2, X[:, 1] - X[:, 2]]
    Xn, Yn = matched_gaussian_pair(X, Y, seed=4)
    C = np.cov(np.hstack([X, Y]), rowvar=False)
    Cn = np.cov(np.hstack([Xn, Yn]), rowvar=False)
    # heavy-tailed X**2: sample covariances of 20,000 rows agree to ~10% of the largest entry
    assert np.abs(Cn - C).max() <= 0.1 * np.abs(C).max()
    with pytest.raises(ValueError, match="same rows"):
        matched_gaussian_pair(X, Y[:-1])


def test_nulls_above_null_max_rows_run_on_that_many_rows_and_keep_their_calls(monkeypatch):
    """Above NULL_MAX_ROWS the dimension null is a Gaussian of that many rows and the trajectory
    null uses whole inputs of at most that many tokens; the known calls stay the same."""
    import manifold_probe.analysis.nulls as nulls
    from manifold_probe.analysis.nulls import matched_gaussian_gram

    monkeypatch.setattr(nulls, "NULL_MAX_ROWS", 600)
    rng = np.random.default_rng(1)
    G = rng.normal(size=(1500, 6)) * [3, 2, 1, 1, 0.5, 0.5]
    C = _circle()
    for X, want in ((G, "within"), (C, "below")):
        out = measures.measure_dimension(X, knn(X, 40), EST)
        assert out["id_null_rows"] == 600
        assert out["id_twonn_vs_null"] == want, out
        assert out["id_mle_vs_null"] == want, out
    # the Gram route draws the same distribution: mean and covariance of X
    W = rng.standard_exponential((20000, 4)) @ rng.normal(size=(4, 6)) + 3.0
    H = matched_gaussian_gram(W, seed=1)
    C1, C2 = np.cov(W, rowvar=False), np.cov(H, rowvar=False)
    assert np.abs(C2 - C1).max() <= 0.05 * np.abs(C1).max()  # as for matched_gaussian above
    # trajectories: 150 inputs of 8 tokens, at most 600 tokens -> 75 whole inputs
    n_sent, length, D = 150, 8, 50
    sid = np.repeat(np.arange(n_sent), length)
    direction = rng.normal(size=(n_sent, D))
    steps = np.arange(length)[None, :, None] * direction[:, None, :]
    line = (steps + 0.05 * rng.normal(size=steps.shape)).reshape(-1, D)
    out = measures.measure_trajectory(line, sid)
    assert out["trajectory_null_rows"] == 600
    assert out["trajectory_curvature_vs_null"] == "below", out
    noise = rng.normal(size=(n_sent * length, D))
    out = measures.measure_trajectory(noise, sid)
    assert out["trajectory_null_rows"] == 600
    assert out["trajectory_curvature_vs_null"] == "within", out


def test_nulls_below_null_max_rows_are_unchanged():
    """A cloud at or below NULL_MAX_ROWS has no *_null_rows column: the full-size nulls run."""
    G = np.random.default_rng(1).normal(size=(1500, 6))
    out = measures.measure_dimension(G, knn(G, 40), EST)
    assert "id_null_rows" not in out and "id_twonn_null" in out
