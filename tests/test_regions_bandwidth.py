"""Data-adaptive bandwidths of ``regions(method="meanshift")``: ``"lcv"`` and ``"adaptive"``.

Known answers: the cross-validated ``h`` is the maximiser of the leave-one-out likelihood
written out in full; Abramson's factors are their formula; with equal per-sample bandwidths the
variable-bandwidth finder is the fixed-bandwidth one; its mean-shift limits are stationary
points of the sample-point density and the ascent never lowers it; separated mixtures read
their count and one-cluster clouds one region. Invariances (rotation, translation, scale) by
hypothesis; bad input raises InputError. Rates on families of clouds: round 6 of
``benchmarks/sweep_regions_rules.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _clouds import blobs, one_cluster
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_probe import InputError
from manifold_probe.analysis import _bandwidth as B
from manifold_probe.analysis import _meanshift as M
from manifold_probe.analysis.regions import regions


def full_loglik(X: np.ndarray, hj: np.ndarray, p: float) -> float:
    """The leave-one-out log-likelihood of the module docstring, written out (constants kept
    but for (2 pi)^(-p/2) and 1/(n-1), which do not move the maximiser)."""
    d2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    K = hj[None] ** (-p) * np.exp(-d2 / (2 * hj[None] ** 2))
    np.fill_diagonal(K, 0.0)
    return float(np.log(K.sum(axis=1)).sum())


@pytest.mark.parametrize("adaptive", [False, True])
def test_cross_validated_h_maximises_the_leave_one_out_likelihood(adaptive):
    from manifold_probe.neighbors import knn

    X, _ = blobs(2, 6.0, 3, 160, seed=1)
    nb = knn(X, 20)
    p = 2.7
    lam = B.abramson_factors(nb.distances, 10, p) if adaptive else None
    h, edge = B.lcv_bandwidth(X, nb.distances, p, lam)
    assert not edge
    scale = lam if adaptive else np.ones(len(X))
    best = full_loglik(X, h * scale, p)
    for f in (0.9, 0.97, 1.03, 1.1):  # a maximum: every nearby value is lower
        assert full_loglik(X, f * h * scale, p) < best
    # and it is the maximum over a fine scan of the searched range
    scan = np.geomspace(h / 3, 3 * h, 61)
    assert best >= max(full_loglik(X, g * scale, p) for g in scan) - 1e-6


def test_abramson_factors_are_the_square_root_law():
    from manifold_probe.neighbors import knn

    X = np.random.default_rng(0).normal(size=(200, 3))
    nb = knn(X, 15)
    lam = B.abramson_factors(nb.distances, 15, 3.0)
    r = nb.distances[:, 14]
    # pilot f ~ r^-d: (f_i / geometric mean f)^(-1/2) = (r_i / geometric mean r)^(d/2)
    f = r ** -3.0
    np.testing.assert_allclose(lam, (f / np.exp(np.log(f).mean())) ** -0.5, rtol=1e-10)
    assert np.exp(np.log(lam).mean()) == pytest.approx(1.0)


def test_equal_bandwidths_are_the_fixed_bandwidth_finder(monkeypatch):
    X, _ = blobs(3, 9.0, 4, 240, seed=2)
    a = regions(X, seed=4, method="meanshift", bandwidth="knn")
    knn_rule = M.bandwidth

    def equal(A, dist, k, rule, nb=None):
        h, text = knn_rule(A, dist, k, "knn", nb)
        return B.Bandwidths(np.full(len(A), h), 3.3), text

    monkeypatch.setattr(M, "bandwidth", equal)
    b = regions(X, seed=4, method="meanshift", bandwidth="adaptive")
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.prominences, b.prominences, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.p_values, b.p_values, rtol=1e-9, atol=1e-12)


def test_variable_bandwidth_limits_are_stationary_and_the_ascent_monotone():
    # Comaniciu, Ramesh & Meer (2001): x <- sum w_i X_i / sum w_i, w_i = h_i^-(p+2) K_i(x);
    # at a limit the step (proportional to the gradient of the sample-point density) vanishes
    X, _ = blobs(3, 8.0, 4, 300, seed=1)
    rng = np.random.default_rng(5)
    h = B.Bandwidths(rng.uniform(0.6, 1.2, len(X)), 4.0)
    Y, it = M.ascend(X, h)
    assert it < M.MAX_ITER
    K, _ = M.kernel_rows(Y, X, h)
    w = K / h.h[None] ** 2
    step = np.linalg.norm((w @ X) / w.sum(axis=1, keepdims=True) - Y, axis=1)
    assert step.max() < 1e-3 * h.h.min()
    assert np.all(M.log_kde(Y, X, h) >= M.log_kde(X, X, h) - 1e-9)


@pytest.mark.parametrize("bandwidth", ["lcv", "adaptive"])
@pytest.mark.parametrize("c", [2, 3])
def test_separated_blobs_right_count(bandwidth, c):
    from sklearn.metrics import adjusted_rand_score

    X, y = blobs(c, 15.0, 6, 120 * c, seed=c)
    r = regions(X, seed=0, method="meanshift", bandwidth=bandwidth)
    assert r.n_regions == c
    assert adjusted_rand_score(y, r.labels) > 0.98
    assert bandwidth in r.basis or "cross-validation" in r.basis


@pytest.mark.parametrize("bandwidth", ["lcv", "adaptive"])
@pytest.mark.parametrize("shape", ["gaussian", "ball"])
def test_one_cluster_clouds_read_one(bandwidth, shape):
    r = regions(one_cluster(shape, 2), seed=0, method="meanshift", bandwidth=bandwidth)
    assert r.n_regions == 1 and np.all(r.labels == 0)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(1e-3, 1e3), st.floats(-50.0, 50.0),
       st.sampled_from(["lcv", "adaptive"]))
def test_rotation_translation_scale_invariance(rot_seed, scale, shift, bandwidth):
    X, _ = blobs(3, 12.0, 4, 210, seed=6)
    r0 = regions(X, seed=1, method="meanshift", bandwidth=bandwidth)
    Q, _ = np.linalg.qr(np.random.default_rng(rot_seed).normal(size=(4, 4)))
    r1 = regions(scale * X @ Q + shift, seed=1, method="meanshift", bandwidth=bandwidth)
    assert r1.n_regions == r0.n_regions
    np.testing.assert_array_equal(r1.labels, r0.labels)
    np.testing.assert_allclose(r1.prominences, r0.prominences, rtol=1e-5, atol=1e-7)
    assert r1.bandwidth == pytest.approx(scale * r0.bandwidth, rel=1e-5)


def test_bad_input():
    X = np.random.default_rng(0).normal(size=(100, 3))
    with pytest.raises(InputError, match="bandwidth"):
        regions(X, method="meanshift", bandwidth="abramson")
    with pytest.raises(InputError, match="bandwidth"):
        regions(X, method="meanshift", bandwidth=0.5)
