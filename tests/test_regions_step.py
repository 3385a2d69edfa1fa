"""``regions(peak="step")``: every height read one step of the k-NN mean-shift flow off the sample.

Known answers: one step never lowers the height (``g(y_i) >= -log d_k(x_i) >= g(x_i)``, the
finder's reading leaving ``x_i`` out); the step from the graph's rows is the step from exact
distances; with k = 1 every point stays, with k = n every point goes to the centroid, all
heights are equal and the finder reads one mode; separated blobs read their count; one-cluster
shapes read one. Invariances (rotation, translation, scale, order of the rows) by hypothesis;
bad input raises InputError. The rates on families of clouds are measured in round 8 of
``benchmarks/sweep_regions_rules.py`` (``sweep_regions_step.json``).
"""

from __future__ import annotations

import numpy as np
import pytest
from _clouds import blobs_with_centres as blobs
from _clouds import one_cluster
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_probe import InputError
from manifold_probe.analysis import _flow as F
from manifold_probe.analysis._modes import adjacency, merge_test, mode_persistence
from manifold_probe.analysis.regions import regions


def _sq(A):
    return ((A[:, None] - A[None]) ** 2).sum(-1)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 8), st.integers(2, 40))
def test_one_step_never_lowers_the_height(seed, d, k):
    # d_k(y_i)^2 <= (1/k) sum_{N_k(x_i)} |y_i - X_j|^2 <= d_k(x_i)^2 (the mean minimises the sum
    # of squares; d_k^2 is a minimum over k-subsets), and leaving x_i out only raises d_k(x_i)
    rng = np.random.default_rng(seed)
    A = np.vstack([rng.normal(size=(50, d)), rng.normal(size=(30, d)) + 3.0])
    D2 = np.sort(_sq(A), axis=1)  # column 0 is the point itself
    g_all = -0.5 * np.log(D2[:, :k].mean(axis=1))
    g_loo = -0.5 * np.log(D2[:, 1 : k + 1].mean(axis=1))
    g_y, dist, rows = F.step_heights(A, k, k + 5)
    assert np.all(g_y >= g_all - 1e-12) and np.all(g_all >= g_loo)
    # the heights are the formula at y_i, over all n points, and the rows are y_i's nearest
    Y = F.step_points(A, k)
    d2y = np.sort(((Y[:, None] - A[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(g_y, -0.5 * np.log(d2y[:, :k].mean(axis=1)), rtol=1e-12)
    np.testing.assert_allclose(dist, np.sqrt(d2y[:, : k + 5]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(Y[:, None] - A[rows], axis=2), dist, atol=1e-12)


def test_step_from_the_graph_rows_equals_the_exact_step():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(120, 5))
    idx = np.argsort(_sq(A), axis=1)[:, 1:]  # nearest others, self excluded
    for k in (1, 2, 30, 120):
        np.testing.assert_allclose(F.step_points(A, k, idx), F.step_points(A, k), atol=1e-12)
    # k = 1: every point stays where it is
    np.testing.assert_array_equal(F.step_points(A, 1), A)


def test_k_equal_n_every_point_at_the_centroid_one_mode():
    rng = np.random.default_rng(4)
    A = np.vstack([rng.normal(size=(60, 3)), rng.normal(size=(60, 3)) + 10.0])
    n = len(A)
    Y = F.step_points(A, n)
    np.testing.assert_allclose(Y, np.broadcast_to(A.mean(axis=0), A.shape), atol=1e-12)
    g, _, _ = F.step_heights(A, n, n)
    assert np.ptp(g) <= 1e-12 * np.abs(g).max()
    # the finder on these heights (the graph of the points, two clear blobs): every
    # prominence is 0, so no mode but the first is kept, whatever its error bar: one region
    from manifold_probe.neighbors import cached_knn

    adj = adjacency(cached_knn(A, 20), mutual=False)
    _, prom, *_ = mode_persistence(np.full(n, g[0]), adj)
    assert np.all(prom == 0.0)
    keep, p, _ = merge_test(prom, np.full(len(prom), 0.01), 1.645, 0.05, "fdr")
    assert not keep.any() and np.all(p >= 0.5)


_FLAT = pytest.mark.xfail(strict=True, reason=(
    "measured: 2 blobs of 150 points 15 sd apart in 6-d read 1 region (the second mode's "
    "prominence 0.087, p 0.087; at the sample 0.735, p 0): at k = 60 every point's step lands "
    "near its blob's centre, so the heights of a blob of 150 points are nearly flat and the "
    "blob that never merges stands little above the lowest height. 300 points a blob read 2. "
    "The same flattening reads the 20-d mixture of round 8 as 1 region (sweep_regions_step.json)"))


@pytest.mark.parametrize("c", [pytest.param(2, marks=_FLAT), 3, 4])
def test_separated_blobs_right_count(c):
    from sklearn.metrics import adjusted_rand_score

    X, y, _ = blobs(c, 15.0, 6, 150 * c, seed=c)
    r = regions(X, seed=0, peak="step")
    assert r.n_regions == c and adjusted_rand_score(y, r.labels) > 0.98
    assert np.all(r.p_values[:c] < r.alpha) and "step" in r.basis and r.modes is None


@pytest.mark.parametrize("shape", ["gaussian", "ball", "circle"])
def test_one_cluster_shapes_read_one(shape):
    assert regions(one_cluster(shape, 0), seed=0, peak="step").n_regions == 1


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(1e-3, 1e3), st.floats(-50.0, 50.0))
def test_rotation_translation_scale_invariance(rot_seed, scale, shift):
    # y_i is a mean of sample points chosen by distances: it moves with the cloud, and the
    # heights shift by -log(scale): same regions, same prominences
    X, _, _ = blobs(3, 8.0, 4, 240, seed=6)
    r0 = regions(X, seed=1, peak="step")
    Q, _ = np.linalg.qr(np.random.default_rng(rot_seed).normal(size=(4, 4)))
    r1 = regions(scale * X @ Q + shift, seed=1, peak="step")
    assert r1.n_regions == r0.n_regions
    np.testing.assert_array_equal(r1.labels, r0.labels)
    np.testing.assert_allclose(r1.prominences, r0.prominences, rtol=1e-6, atol=1e-8)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_permutation_invariance(perm_seed):
    from sklearn.metrics import adjusted_rand_score

    X, _, _ = blobs(3, 8.0, 4, 240, seed=7)
    r = regions(X, seed=3, peak="step")
    p = np.random.default_rng(perm_seed).permutation(len(X))
    rp = regions(X[p], seed=3, peak="step")
    # the bootstrap weights follow the row order, so p-values may move; the heights, the
    # modes, the partition (up to renaming) and the prominences are deterministic
    np.testing.assert_allclose(F.step_points(X[p], 60), F.step_points(X, 60)[p], atol=1e-12)
    assert rp.n_regions == r.n_regions
    assert adjusted_rand_score(r.labels[p], rp.labels) == pytest.approx(1.0)
    np.testing.assert_allclose(np.sort(rp.prominences), np.sort(r.prominences), atol=1e-9)


def test_bad_input():
    X = np.random.default_rng(0).normal(size=(100, 3))
    for kw in (dict(method="tomato"), dict(consensus="modal"), dict(density="pak"),
               dict(method="meanshift")):
        with pytest.raises(InputError, match="step"):
            regions(X, peak="step", **kw)
    with pytest.raises(InputError, match="NaN"):
        regions(np.where(np.arange(300).reshape(100, 3) == 7, np.nan, X), peak="step")
    for k in (0, 101):
        with pytest.raises(InputError, match="k="):
            F.step_points(X, k)
