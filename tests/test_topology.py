"""Tests of manifold_probe.topology: persistence, significant Betti numbers, distances, verdict.

Known-homology clouds come from ``mp.datasets`` (``homology_shape`` and friends: points plus
their true Betti numbers), rotated into R^20-R^60. The Betti-number cases are the fast subset
of ``python benchmarks/validate_topology.py`` (results/validate_topology.json), run inside the
noise range measured there to be exact.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import manifold_probe as mp
from manifold_probe import InputError

# ---------------------------------------------------------------- clouds with known homology


def embed(P: np.ndarray, dim: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate a low-dimensional cloud into R^dim (random orthonormal frame) and add noise."""
    Q, _ = np.linalg.qr(rng.normal(size=(dim, P.shape[1])))
    return P @ Q.T + noise * rng.normal(size=(len(P), dim))


def circle(n, rng, radius=1.0):
    t = rng.uniform(0, 2 * np.pi, n)
    return radius * np.c_[np.cos(t), np.sin(t)]


# (shape, options, n, ambient dim, rms noise / feature size, maxdim). The fast subset of
# benchmarks/validate_topology.py (same construction: per-coordinate noise
# rel * feature_size / sqrt(D)). Measured there over 5 seeds x D in 20..400: every family
# exact at rel 0 and 0.01 on >= 95% of runs (results/validate_topology.json); the cases
# below run at rel 0.01, inside that measured range.
KNOWN = [
    ("circle", {}, 700, 30, 1),
    ("circles", {"k": 2}, 600, 40, 1),
    ("figure_eight", {}, 600, 50, 1),
    ("cube", {"dim": 3}, 600, 60, 1),
    ("sphere", {"dim": 2}, 1200, 40, 2),
    ("blobs", {"k": 2, "separation": 12.0}, 600, 20, 1),
]


def _noisy(shape, options, n, dim, rel, seed):
    s = mp.datasets.homology_shape(shape, n, seed=seed, ambient_dim=dim, **options)
    rng = np.random.default_rng(10_000 + seed)
    return s, s.points + rel * s.feature_size / np.sqrt(dim) * rng.normal(size=s.points.shape)


@pytest.mark.parametrize("shape,options,n,dim,maxdim", KNOWN, ids=[k[0] for k in KNOWN])
def test_known_homology_is_exact(shape, options, n, dim, maxdim):
    s, X = _noisy(shape, options, n, dim, 0.01, seed=1)
    assert mp.betti_numbers(X, maxdim=maxdim, seed=1) == s.truth(maxdim)


def test_torus_and_klein_bottle_are_exact():
    # issue 10: torus R=3, r=1 read 0/15 in H2 before; Klein bottle (Z/2: 1, 2, 1) 4/15
    t = mp.datasets.torus_shape(2000, R=3.0, r=1.0, ambient_dim=30, seed=0)
    assert mp.betti_numbers(t.points, maxdim=2, seed=0) == (1, 2, 1)
    k = mp.datasets.klein_bottle(2000, ambient_dim=30, seed=0)
    assert mp.betti_numbers(k.points, maxdim=2, seed=0) == k.betti == (1, 2, 1)


def test_noise_free_answers_do_not_depend_on_the_seed():
    # issue 10: a noise-free circle of 700 points in R^30 read (1, 0) at 4 of 20 seeds, and a
    # clean figure eight beta_1 = 0 at seed 0. Both data and analysis seeds vary here.
    for seed in range(4):
        X = mp.datasets.circle(700, ambient_dim=30, seed=seed).points
        assert mp.betti_numbers(X, maxdim=1, seed=seed) == (1, 1)
    X = mp.datasets.figure_eight(400, ambient_dim=10, seed=0).points
    assert {mp.betti_numbers(X, maxdim=1, seed=k) for k in range(4)} == {(1, 2)}


def test_feature_free_clouds_read_no_features():
    # The null of the test: its family-wise error per dimension is at most alpha under the
    # model (tests/test_betti_significance.py), and the fitted law's tail is heavier than a
    # net's noise (validate_topology.py --calibrate), so a solid cube and a Gaussian blob in
    # R^30 must read (1, 0, 0) at every seed.
    for seed in range(3):
        X = mp.datasets.cube(1000, dim=3, ambient_dim=30, seed=seed).points
        assert mp.betti_numbers(X, maxdim=2, seed=seed) == (1, 0, 0)
        X = mp.datasets.gaussian_blobs(1000, k=1, ambient_dim=30, seed=seed).points
        assert mp.betti_numbers(X, maxdim=2, seed=seed) == (1, 0, 0)


def test_small_loop_resolved_once_landmarks_are_fine_enough():
    # The resolution condition in betti_numbers: a loop counts once its death/birth ratio on
    # the landmark net clears the net's noise (largest noise ratio ~2 on a 2-manifold), and
    # its birth is about the landmark spacing. The fat torus (R = 1.5, r = 1) has an inner
    # loop of radius R - r = 0.5 (Rips death ~0.9): with 1000 landmarks of 3000 points the
    # covering radius is 0.155, its ratio ~3.7 against noise <= ~2.1, and it is found. The
    # default H1 net (n/5 = 600 landmarks here) reads it at ratio 2.9, Bonferroni p = 5e-4;
    # 400 landmarks for every dimension read ratio ~2.3 against noise ~2.1 at 1500 points.
    X = mp.datasets.torus_shape(3000, R=1.5, r=1.0, ambient_dim=30, seed=1).points
    assert mp.betti_numbers(X, maxdim=2, seed=1, n_landmarks=1000) == (1, 2, 1)
    assert mp.betti_numbers(X, maxdim=2, seed=1) == (1, 2, 1)


def test_h1_net_is_a_finer_prefix_of_the_same_greedy_order():
    # H1 is read on the first h1_landmarks(n) = max(400, n/5) landmarks; H2 on the first 400
    # of the same order, so its bars are those of an explicit 400-landmark run, and for
    # n <= 2000 the H1 net is that net too. (H0 is judged on its own net, half the points up
    # to H0_MAX_NET by default, at most n_landmarks when given: the same count here.)
    from manifold_probe.topology._significance import h1_landmarks, significant_features

    assert [h1_landmarks(n) for n in (10, 400, 2000, 2400, 4000)] == [10, 400, 400, 480, 800]
    X = mp.datasets.torus_shape(2400, R=2.0, r=1.0, ambient_dim=20, seed=2).points
    a = significant_features(X, 2, seed=3)
    b = significant_features(X, 2, seed=3, n_landmarks=400)
    np.testing.assert_array_equal(a.tested[2], b.tested[2])
    np.testing.assert_array_equal(a.pvalues[2], b.pvalues[2])
    assert a.covering_radius == pytest.approx(b.covering_radius, rel=1e-12)  # cdist vs einsum
    assert len(a.tested[1]) > len(b.tested[1])  # 480 landmarks hold more (noise) bars
    assert a.betti == b.betti == (1, 2, 1)
    Y = mp.datasets.circles(1000, k=2, ambient_dim=20, seed=1).points
    c, d = significant_features(Y, 1, seed=0), significant_features(Y, 1, seed=0, n_landmarks=400)
    for u, v in zip(c.tested[1:] + c.pvalues[1:], d.tested[1:] + d.pvalues[1:], strict=True):
        np.testing.assert_array_equal(u, v)
    assert c.betti == d.betti == (2, 2)


@pytest.mark.xfail(strict=True, reason="documented resolution limit: at 1500 points the fat "
                   "torus's inner loop (radius 0.5) has ratio 2.2-3.2 against noise 1.9-2.5 on "
                   "375-750 landmarks (Bonferroni p >= 0.13) and 3.6-3.9 against 2.7-3.1 on all "
                   "points; no landmark count separates it (benchmarks/results/"
                   "sweep_topology_landmarks.json). Its sample's covering radius is 0.72 of the "
                   "reach 0.5, outside the Niyogi-Smale-Weinberger condition (0.39)")
def test_fat_torus_at_1500_points_is_below_resolution():
    X = mp.datasets.torus_shape(1500, R=1.5, r=1.0, ambient_dim=20, seed=0).points
    assert mp.betti_numbers(X, maxdim=2, seed=0) == (1, 2, 1)


def test_h1_net_is_capped_at_the_default_nets_complete_graph():
    # H1_MAX_EDGES = C(400, 2): in R^2 the sparse Rips graph of 1000 landmarks holds ~36 edges
    # per landmark (36,000 edges), so the whole finer net is kept; in R^10 it is complete
    # already at 400 landmarks (79,800 edges), so the H1 net stays the default one.
    from manifold_probe.topology._persistence import maxmin_landmarks, pairwise_distances
    from manifold_probe.topology._significance import H1_MAX_EDGES, _fitting_prefix

    assert H1_MAX_EDGES == 400 * 399 // 2
    rng = np.random.default_rng(0)
    for d, want in ((2, 1000), (10, 400)):
        X = rng.standard_normal((4000, d))
        order, _ = maxmin_landmarks(1000, 0, X=X)
        assert _fitting_prefix(pairwise_distances(X[order]), 400) == want


def test_torus_and_klein_bottle_answer_does_not_depend_on_the_seed():
    # issue 10: a noise-free well-sampled shape gives the same answer at every seed
    X = mp.datasets.torus_shape(2000, R=3.0, r=1.0, ambient_dim=30, seed=0).points
    assert {mp.betti_numbers(X, maxdim=2, seed=k) for k in range(3)} == {(1, 2, 1)}
    X = mp.datasets.klein_bottle(2000, ambient_dim=30, seed=0).points
    assert {mp.betti_numbers(X, maxdim=2, seed=k) for k in range(3)} == {(1, 2, 1)}


def test_h0_elder_rule_keeps_the_survivors_own_scale():
    # Four tight clusters (internal spacing 0.01) on a line, 1.0 apart: the pairs join at
    # 1.0, the two pairs at 1.0 + 1e-4. Without the elder rule the last merge's smaller side
    # was "one piece from 1.0" (ratio ~1) and a component was lost; with it the survivor
    # keeps its own scale 0.01 and the merge reads ratio ~100.
    from manifold_probe.topology._components import _h0_bars
    from manifold_probe.topology._persistence import pairwise_distances

    line = np.arange(20) * 0.01
    X = np.concatenate([line + c for c in (0.0, 1.19, 2.3801, 3.5701)])[:, None]
    D = pairwise_distances(X)
    plain = _h0_bars(D)
    elder = _h0_bars(D, split=lambda b, d, size: d / b > 10)
    assert plain[-1, 0] == pytest.approx(1.0, abs=1e-3)  # the pair's own merge edge
    assert elder[-1, 0] == pytest.approx(0.01, abs=1e-9)  # the survivor's internal spacing
    assert elder[-1, 1] == plain[-1, 1] == pytest.approx(1.0001, abs=1e-9)
    np.testing.assert_allclose(elder[:-1], plain[:-1])  # only merges above a split change
    X4 = mp.datasets.circles(1200, k=4, ambient_dim=20, seed=3).points
    assert mp.betti_numbers(X4, maxdim=0, seed=3) == (4,)  # held-out family, seed 3


def test_h0_pvalues_are_the_exact_law_of_the_excess_ratio():
    from manifold_probe.topology import h0_pvalues

    # P(T >= t) = prod_{i <= m} i / (i + t), m = s - 1: a pair gets b/d; s = 4, t = 1: 1/4
    np.testing.assert_allclose(h0_pvalues([1.0, 1.0, 2.0], [2.0, 3.0, 4.0], [2, 2, 4]),
                               [1 / 2, 1 / 3, 1 / 4], rtol=1e-12)
    # the model itself: m internal edges and the excess are i.i.d. exponentials of any rate;
    # T = excess / largest internal edge. 200,000 draws: the tail matches to 3 binomial sds
    rng = np.random.default_rng(0)
    for m, rate in ((1, 3.0), (7, 0.2), (49, 1.0)):
        E = rng.exponential(1 / rate, (200_000, m + 1))
        T = E[:, 0] / E[:, 1:].max(axis=1)
        for t in (0.5, 1.0, 2.0):
            want = h0_pvalues(1.0, 1.0 + t, m + 1)
            assert abs(np.mean(T >= t) - want) < 3 * np.sqrt(want * (1 - want) / len(T)) + 1e-4
    p = h0_pvalues(1.0, np.linspace(1.0, 3.0, 9)[:, None], np.array([2, 5, 50, 400]))
    assert p.shape == (9, 4) and np.all(p[0] == 1.0)  # no excess: p = 1
    assert np.all(np.diff(p, axis=0) < 0) and np.all(np.diff(p, axis=1) <= 0)  # ratio, size
    # scale-free: only d/b enters
    np.testing.assert_allclose(h0_pvalues(3e-7, 6e-7, 10), h0_pvalues(3.0, 6.0, 10), rtol=1e-12)


def test_h0_false_splits_stay_under_the_level_on_a_connected_support():
    # Under the null (one connected support sampled i.i.d.) the family-wise rate of beta_0 > 1
    # is at most alpha = 0.05 when the bound holds: spacings on a segment are the case where it
    # is tightest (benchmarks/sweep_topology_h0.py: 0/200 at 300 and 1/200 at 1000 points;
    # 0/200 on a square, Gaussians in R^3 and R^10 and a 200-point circle). At the nominal 5%
    # the count of 60 runs exceeds 8 with probability 0.006.
    false = sum(mp.betti_numbers(np.c_[np.random.default_rng(s).uniform(size=300), np.zeros(300)],
                                 maxdim=0, seed=s)[0] > 1 for s in range(60))
    assert false <= 8


def test_small_and_uneven_clusters_are_components():
    # missed by the fitted H0 ratio test (benchmarks/sweep_topology_h0.py): three unit circles
    # 1.0 apart at 100 points each (beta_0 = 1 at 8 of 10 runs), and concentric circles of
    # radii 1 and 2 (1 at 3 of 10)
    for seed in range(3):
        X = mp.datasets.circles(300, k=3, ambient_dim=20, seed=seed).points
        assert mp.betti_numbers(X, maxdim=0, seed=seed) == (3,)
    rng = np.random.default_rng(0)
    r = np.where(rng.uniform(size=400) < 1 / 3, 1.0, 2.0)
    t = rng.uniform(0, 2 * np.pi, 400)
    assert mp.betti_numbers(r[:, None] * np.c_[np.cos(t), np.sin(t)], maxdim=0, seed=0) == (2,)


def test_separated_gaussian_blobs_are_components():
    # the documented H0 meaning: clusters 12 sigma apart are components at that scale
    X = mp.datasets.gaussian_blobs(1000, k=2, separation=12.0, seed=0).points
    assert mp.betti_numbers(X, maxdim=0, seed=0) == (2,)
    X1 = mp.datasets.gaussian_blobs(1000, k=1, seed=0).points
    assert mp.betti_numbers(X1, maxdim=1, seed=0) == (1, 0)


def test_betti_numbers_deterministic_given_seed():
    X = mp.datasets.figure_eight(300, ambient_dim=20, noise=0.005, seed=3).points
    from manifold_probe.topology._significance import significant_features

    a = significant_features(X, 1, seed=5)
    b = significant_features(X, 1, seed=5)
    assert a.betti == b.betti
    for u, v in zip(a.pvalues, b.pvalues, strict=True):
        np.testing.assert_array_equal(u, v)


def test_gumbel_pvalues_are_calibrated_under_the_null():
    # ratios drawn from the null itself: l = A loglog(pi) + B ~ left-Gumbel with arbitrary
    # A, B. The fitted test must reject about alpha of them; with 4000 draws the binomial
    # standard error at alpha = 0.05 is 0.0034, and the two fitted quantiles add about as
    # much again: tolerance 0.02.
    from manifold_probe.topology import gumbel_pvalues

    rng = np.random.default_rng(0)
    ell = np.log(rng.exponential(size=4000))  # P(l <= x) = 1 - exp(-e^x)
    for A, B in ((1.0, 2.0), (0.5, -1.0), (3.0, 0.5)):
        ratios = np.exp(np.exp((ell - B) / A))
        p = gumbel_pvalues(ratios)
        assert abs(np.mean(p < 0.05) - 0.05) < 0.02
        assert abs(np.mean(p < 0.5) - 0.5) < 0.03  # median matched by construction


def test_two_points_far_apart_are_two_components():
    X = np.r_[np.zeros((30, 2)), np.ones((30, 2)) * 10] + np.random.default_rng(0).normal(
        scale=0.01, size=(60, 2)
    )
    assert mp.betti_numbers(X, maxdim=0, seed=0) == (2,)


def test_single_distinct_point():
    assert mp.betti_numbers(np.ones((5, 3)), maxdim=1, seed=0) == (1, 0)
    dgms = mp.persistence(np.ones((5, 3)), maxdim=1)
    assert dgms[0].tolist() == [[0.0, np.inf]] and dgms[1].shape == (0, 2)


def test_full_rips_refused_before_allocating(monkeypatch):
    # issue 13: persistence(X, n_landmarks=len(X)) built and collapsed all O(n^2) edges
    # before refusing (282 s at 2000 points). The refusal must come from the sizes alone.
    from manifold_probe.topology import _persistence

    def boom(*args, **kwargs):
        raise AssertionError("distance matrix computed before the size check")

    monkeypatch.setattr(_persistence, "pairwise_distances", boom)
    X = np.random.default_rng(0).normal(size=(2000, 5))
    with pytest.raises(InputError, match="n_landmarks"):
        mp.persistence(X, maxdim=1, n_landmarks=len(X))
    with pytest.raises(InputError, match="distance matrix"):
        mp.persistence(np.random.default_rng(0).normal(size=(7000, 2)), maxdim=0,
                       n_landmarks=7000)


def test_sparse_persistence_within_its_interleaving():
    # Cavanna, Jahanseir & Sheehy 2015: log-scale bottleneck between sparse and full Rips
    # diagrams <= log(1 + eps). Checked on the bars away from birth 0 (H1).
    rng = np.random.default_rng(5)
    X = embed(circle(150, rng), 6, 0.02, rng)
    eps = 0.5
    full = mp.persistence(X, maxdim=1, n_landmarks=len(X))[1]
    sparse = mp.persistence(X, maxdim=1, n_landmarks=len(X), sparse=eps)[1]
    d = mp.diagram_distance(np.log(full), np.log(sparse))
    assert d <= np.log1p(eps) + 1e-9


@pytest.mark.parametrize("sparse", [None, 0.5])
@pytest.mark.parametrize("threshold", [np.inf, 1.5])
def test_ripser_and_gudhi_backends_give_the_same_diagrams(sparse, threshold):
    # Up to H1 ripser reads the flag filtration that gudhi collapses and reduces from H2 on;
    # ripser keeps values in float32 and each is mapped back to the float64 edge value that
    # rounds to it, so the diagrams agree to one float32 unit (exactly where no two edge
    # values share a float32).
    from manifold_probe.topology._persistence import pairwise_distances, rips_diagrams

    rng = np.random.default_rng(3)
    u, v = rng.uniform(0, 2 * np.pi, (2, 250))
    torus = np.c_[(2 + np.cos(v)) * np.cos(u), (2 + np.cos(v)) * np.sin(u), np.sin(v)]
    for X in (torus, rng.normal(size=(200, 8)), embed(circle(120, rng), 5, 0.05, rng)):
        D = pairwise_distances(X)
        by_ripser = rips_diagrams(D, 1, threshold, sparse=sparse)
        by_gudhi = rips_diagrams(D, 2, threshold, sparse=sparse)[:2]
        for a, b in zip(by_ripser, by_gudhi, strict=True):
            assert a.shape == b.shape
            assert np.array_equal(np.isinf(a), np.isinf(b))
            fin = np.isfinite(a)
            np.testing.assert_allclose(a[fin], b[fin], rtol=2.0**-23, atol=0)


def test_complex_too_large_to_store_goes_to_ripser_with_the_same_diagrams():
    # Past max_simplices (estimated after the collapse) the complex is not built: ripser
    # computes H0-H2 of the same filtration; past 5x that, ComplexTooLarge
    from manifold_probe.topology._persistence import (
        ComplexTooLarge,
        pairwise_distances,
        rips_diagrams,
    )

    rng = np.random.default_rng(4)
    u, v = rng.uniform(0, 2 * np.pi, (2, 200))
    X = np.c_[(2 + np.cos(v)) * np.cos(u), (2 + np.cos(v)) * np.sin(u), np.sin(v)]
    D = pairwise_distances(X)
    stored = rips_diagrams(D, 2, np.inf, sparse=0.5)
    walked = rips_diagrams(D, 2, np.inf, sparse=0.5, max_simplices=1e4)  # estimate 3e4
    with pytest.raises(ComplexTooLarge, match="simplices"):
        rips_diagrams(D, 2, np.inf, sparse=0.5, max_simplices=10.0)
    for a, b in zip(walked, stored, strict=True):
        b = b[b[:, 1] > b[:, 0]]
        assert a.shape == b.shape
        fin = np.isfinite(a)
        np.testing.assert_allclose(np.sort(a[fin]), np.sort(b[fin]), rtol=2.0**-23, atol=0)


def test_three_and_four_spheres_get_betti_numbers_up_to_h2_with_defaults():
    # 400 landmarks of S^3 (estimated 7e7 simplices) go to ripser; those of S^4 (8e8) do
    # not fit either, so H2 is read on a prefix of the greedy order, with a warning
    from manifold_probe._validation import CostWarning

    rng = np.random.default_rng(0)
    Z = rng.standard_normal((1200, 5))
    with pytest.warns(CostWarning, match="H2 and up were read on the first"):
        assert mp.betti_numbers(Z / np.linalg.norm(Z, axis=1, keepdims=True), maxdim=2,
                                seed=0) == (1, 0, 0)
    with pytest.raises(mp.InputError, match="simplices"):  # a net the caller chose: refused
        mp.betti_numbers(Z / np.linalg.norm(Z, axis=1, keepdims=True), maxdim=2, seed=0,
                         n_landmarks=400)


# ---------------------------------------------------------------- persistence


def test_persistence_of_regular_polygon_known_answer():
    # A regular 40-gon of radius 1: every H0 bar and the H1 birth are the side 2 sin(pi/40);
    # H1 dies once an inscribed triangle with longest side within one side of sqrt(3) fills.
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    dgms = mp.persistence(np.c_[np.cos(t), np.sin(t)], maxdim=1)
    assert len(dgms) == 2 and all(d.dtype == np.float64 and d.shape[1] == 2 for d in dgms)
    side = 2 * np.sin(np.pi / 40)
    assert dgms[0].shape == (40, 2) and np.isinf(dgms[0][0, 1])
    np.testing.assert_allclose(dgms[0][1:, 1], side, rtol=1e-12)  # float64 round-off
    assert dgms[1].shape == (1, 2)
    assert dgms[1][0, 0] == pytest.approx(side, rel=1e-12)
    assert abs(dgms[1][0, 1] - np.sqrt(3)) < side


def test_threshold_keeps_short_bars_and_makes_essential_classes_infinite():
    rng = np.random.default_rng(11)
    X = embed(circle(120, rng), 10, 0.0, rng)
    full = mp.persistence(X, maxdim=1)
    cut = mp.persistence(X, maxdim=1, threshold=1.0)
    # bars that die below the threshold are the same (exact: same filtration below 1.0)
    for a, b in zip(full, cut, strict=True):
        np.testing.assert_array_equal(a[a[:, 1] <= 1.0], b[b[:, 1] <= 1.0])
    # the circle's class (death ~sqrt 3 > 1) is alive at the threshold: an infinite bar
    assert np.isinf(cut[1][:, 1]).sum() == 1 and np.isfinite(full[1][:, 1]).all()


def test_landmarks_deterministic_and_duplicates_ignored():
    rng = np.random.default_rng(12)
    X = embed(circle(600, rng), 20, 0.02, rng)
    a = mp.persistence(X, maxdim=1, n_landmarks=100, seed=4)
    b = mp.persistence(X, maxdim=1, n_landmarks=100, seed=4)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    small = X[:50]
    for u, v in zip(mp.persistence(small), mp.persistence(np.r_[small, small[:10]]), strict=True):
        np.testing.assert_array_equal(u, v)


def test_landmark_diagram_within_stability_bound():
    # d_B(D(L), D(X)) <= 2 d_H(L, X) for Rips diagrams (Chazal, de Silva & Oudot 2014)
    from manifold_probe.topology._persistence import _landmark_rips

    rng = np.random.default_rng(13)
    X = embed(circle(250, rng), 10, 0.03, rng)
    full = mp.persistence(X, maxdim=1, n_landmarks=len(X))
    lm = _landmark_rips(X, 1, 60, 0, None)
    for k in range(2):
        d = mp.diagram_distance(full[k], lm.diagrams[k])
        assert d <= 2 * lm.covering_radius + 1e-12


def test_torch_input_accepted():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    t = np.linspace(0, 2 * np.pi, 30, endpoint=False)
    X = np.c_[np.cos(t), np.sin(t)]
    a = mp.persistence(torch.tensor(X, dtype=torch.float32), maxdim=1)
    assert a[1].shape == (1, 2) and a[1].dtype == np.float64


def test_import_is_lazy():
    code = (
        "import sys, manifold_probe, manifold_probe.topology; "
        "print(any(m in sys.modules for m in ('gudhi', 'ripser', 'ot', 'gph')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- diagram distances

diagrams = st.lists(
    st.tuples(
        st.floats(0, 10, allow_nan=False), st.floats(0, 10, allow_nan=False)
    ).map(lambda p: (min(p), max(p))),
    max_size=12,
).map(lambda rows: np.array(rows, dtype=float).reshape(-1, 2))


def test_diagram_distance_known_values():
    # one bar (0, 2) vs (0, 1): matched at L-inf cost 1 (cheaper than both to the diagonal)
    assert mp.diagram_distance([[0.0, 2.0]], [[0.0, 1.0]]) == pytest.approx(1.0, abs=1e-12)
    assert mp.diagram_distance([[0.0, 2.0]], [[0.0, 1.0]], normalize=(2.0, 1.0)) == 0.0
    # W_{1,2}: a single unmatched bar (0, 2) goes to the diagonal at Euclidean cost sqrt(2)
    w = mp.diagram_distance([[0.0, 2.0]], np.zeros((0, 2)), kind="wasserstein")
    assert w == pytest.approx(np.sqrt(2.0), rel=1e-12)
    # infinite bars: matched by birth; different counts -> inf
    assert mp.diagram_distance([[0, np.inf]], [[0.5, np.inf]]) == pytest.approx(0.5)
    assert mp.diagram_distance([[0, np.inf]], [[0.0, 1.0]]) == np.inf


@settings(max_examples=25, deadline=None)
@given(diagrams, diagrams, st.sampled_from(["bottleneck", "wasserstein"]))
def test_diagram_distance_zero_on_identical_and_symmetric(a, b, kind):
    assert mp.diagram_distance(a, a, kind=kind) == pytest.approx(0.0, abs=1e-9)
    assert mp.diagram_distance(a, b, kind=kind) == pytest.approx(
        mp.diagram_distance(b, a, kind=kind), rel=1e-9, abs=1e-9
    )


@settings(max_examples=25, deadline=None)
@given(diagrams, diagrams)
def test_wasserstein_1_inf_bounds_bottleneck(a, b):
    # a sum of matching costs is at least their maximum (same L-inf ground metric)
    w = mp.diagram_distance(a, b, kind="wasserstein", order=1, internal_p=np.inf)
    assert w >= mp.diagram_distance(a, b) - 1e-9


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.001, 0.3))
def test_stability_bottleneck_at_most_twice_hausdorff(seed, eps):
    # Chazal, de Silva & Oudot 2014: d_B(Rips(X), Rips(Y)) <= 2 d_GH(X, Y) <= 2 d_H(X, Y)
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    Y = X + eps * rng.normal(size=X.shape)
    D = cdist(X, Y)
    hausdorff = max(D.min(axis=0).max(), D.min(axis=1).max())
    dx = mp.persistence(X, maxdim=1)
    dy = mp.persistence(Y, maxdim=1)
    for k in range(2):
        assert mp.diagram_distance(dx[k], dy[k]) <= 2 * hausdorff + 1e-9


# ---------------------------------------------------------------- verdict

FAST: dict = {}


def _warp(X, rng, strength):
    """x -> x + g(x), g(x) = strength * tanh(W x) / |W|_2: Lip(g) <= strength < 1."""
    W = rng.normal(size=(X.shape[1], X.shape[1]))
    W /= np.linalg.norm(W, 2)
    return X + strength * np.tanh(3.0 * W @ X.T).T / 3.0


@settings(max_examples=4, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.1, 10.0), st.floats(0.0, 0.9))
def test_invertible_maps_keep_topology(seed, scale, strength):
    rng = np.random.default_rng(seed)
    # rms noise 0.01 * sqrt(8) = 2.8% of the radius: inside the validated range (<= 3%)
    X = embed(circle(250, rng), 8, 0.01, rng)
    Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    Y = scale * _warp(X, rng, strength) @ Q + rng.normal(size=8)
    res = mp.topology_preserved(X, Y, maxdim=1, seed=0, **FAST)
    # one component and one loop on both sides (beta_0 was not asserted under the fitted H0
    # ratio test, which split sampling gaps of such small clouds off: the example below)
    assert res.betti_x == res.betti_y == (1, 1)


def test_invertible_map_h0_split_found_by_exploring():
    # found by exploring the property above: under the fitted H0 ratio test a strong warp
    # split two sampling gaps of this 250-point circle off as components (beta_0 = 3)
    rng = np.random.default_rng(2**32 - 1)
    X = embed(circle(250, rng), 8, 0.01, rng)
    Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    Y = 1.0 * _warp(X, rng, 0.5) @ Q + rng.normal(size=8)
    res = mp.topology_preserved(X, Y, maxdim=1, seed=0, **FAST)
    assert res.preserved and res.betti_x == res.betti_y == (1, 1)


def test_identical_and_scaled_clouds_have_distance_zero():
    rng = np.random.default_rng(21)
    X = embed(circle(200, rng), 6, 0.02, rng)
    for Y in (X, 5.0 * X):
        res = mp.topology_preserved(X, Y, seed=0, **FAST)
        assert res.preserved
        # same landmarks (shared seed), diagrams scale with the cloud: round-off only
        assert max(res.distances) < 1e-9


def test_verdict_agrees_with_betti_numbers_on_each_input():
    # issue 10: topology_preserved(X, 3 X, seed=0) on the 700-point circle reported (1, 0)
    X = mp.datasets.circle(700, ambient_dim=30, seed=0).points
    res = mp.topology_preserved(X, 3 * X, seed=0)
    own = mp.betti_numbers(X, maxdim=1, seed=mp.topology.shared_seed(0))
    assert res.preserved and res.betti_x == res.betti_y == own == (1, 1)


def test_folding_circle_onto_segment_changes_topology():
    rng = np.random.default_rng(22)
    t = rng.uniform(0, 2 * np.pi, 300)
    X = np.c_[np.cos(t), np.sin(t)]
    Y = np.c_[np.cos(t), np.zeros_like(t)]  # projection onto a diameter: a fold
    res = mp.topology_preserved(X, Y, seed=0, **FAST)
    assert not res.preserved and res.betti_x == (1, 1) and res.betti_y == (1, 0)
    # the loop vanished: H1 moved by the loop's half-persistence over the median distance,
    # (sqrt 3 - b) / 2 / s ~ 0.6 here, while a rotation moves nothing
    # beyond round-off (1e-9: float64 distances of a unit cloud)
    Q, _ = np.linalg.qr(rng.normal(size=(2, 2)))
    rotated = mp.topology_preserved(X, X @ Q, seed=0, **FAST)
    assert rotated.preserved and rotated.distances[1] < 1e-9
    assert res.distances[1] > 0.02


def test_gluing_two_circles_changes_topology():
    X = mp.datasets.circles(400, k=2, spacing=4.0, seed=23).points
    X = np.r_[X[::2], X[1::2]]  # first circle, then second
    Y = X.copy()
    Y[200:] -= [4.0, 0.0]  # both circles onto one
    res = mp.topology_preserved(X, Y, seed=0, **FAST)
    assert not res.preserved and res.betti_x == (2, 2) and res.betti_y == (1, 1)


def test_tearing_circle_changes_topology():
    rng = np.random.default_rng(24)
    t = rng.uniform(0, 2 * np.pi, 300)
    X = np.c_[np.cos(t), np.sin(t)]
    s = 0.75 * t  # open the circle: the arc of 3/2 pi, an arc of pi/2 is torn out
    Y = np.c_[np.cos(s), np.sin(s)]
    res = mp.topology_preserved(X, Y, seed=0, **FAST)
    assert not res.preserved and res.betti_y == (1, 0)


def test_comparison_is_frozen():
    res = mp.topology_preserved(np.eye(4), np.eye(4), maxdim=0, seed=0, **FAST)
    with pytest.raises(AttributeError):
        res.preserved = False


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call",
    [
        lambda: mp.betti_numbers(np.zeros((5, 2, 2))),
        lambda: mp.betti_numbers(np.array([[np.nan, 0.0], [1.0, 1.0]])),
        lambda: mp.betti_numbers(np.zeros((0, 3))),
        lambda: mp.betti_numbers(np.eye(3), confidence=1.0),
        lambda: mp.betti_numbers(np.eye(3), confidence=0.0),
        lambda: mp.betti_numbers(np.eye(3), threshold="big"),
        lambda: mp.betti_numbers(np.eye(3), seed="x"),
        lambda: mp.persistence(np.eye(3), maxdim=-1),
        lambda: mp.persistence(np.eye(3), maxdim=6),
        lambda: mp.persistence(np.eye(3), maxdim=1.5),
        lambda: mp.persistence(np.eye(3), n_landmarks=0),
        lambda: mp.persistence(np.eye(3), threshold=-1.0),
        lambda: mp.persistence(np.eye(3), sparse=0.0),
        lambda: mp.persistence(["a", "b"]),
        lambda: mp.topology_preserved(np.eye(3), np.eye(4)),
        lambda: mp.topology_preserved(np.eye(3), np.full((3, 2), np.inf)),
        lambda: mp.diagram_distance(np.zeros((3, 3)), np.zeros((3, 2))),
        lambda: mp.diagram_distance([[1.0, 0.0]], [[0.0, 1.0]]),
        lambda: mp.diagram_distance([[np.nan, 1.0]], [[0.0, 1.0]]),
        lambda: mp.diagram_distance([[np.inf, np.inf]], [[0.0, 1.0]]),
        lambda: mp.diagram_distance("ab", [[0.0, 1.0]]),
        lambda: mp.diagram_distance([[0.0, 1.0]], [[0.0, 1.0]], kind="l2"),
        lambda: mp.diagram_distance([[0.0, 1.0]], [[0.0, 1.0]], internal_p=2),
        lambda: mp.diagram_distance([[0.0, 1.0]], [[0.0, 1.0]], "wasserstein", order=0.5),
        lambda: mp.diagram_distance([[0.0, 1.0]], [[0.0, 1.0]], "wasserstein", internal_p=0.5),
        lambda: mp.diagram_distance([[0.0, 1.0]], [[0.0, 1.0]], normalize=0.0),
        lambda: mp.diagram_distance([[0.0, 1.0]], [[0.0, 1.0]], normalize=(1.0, 2.0, 3.0)),
    ],
)
def test_input_errors(call):
    with pytest.raises(InputError):
        call()


def test_paper_shapes_use_the_datasets_truth():
    # one home per fact: the paper's table of Betti numbers is that of mp.datasets
    from experiments.paper.shapes import _SHAPES, HOMOLOGY

    for name, (family, options) in _SHAPES.items():
        s = mp.datasets.homology_shape(family, 8, seed=0, **options)
        betti, dim = HOMOLOGY[name]
        assert s.truth(len(betti) - 1) == betti and s.intrinsic_dim == dim


def test_shapes_carry_their_betti_numbers():
    assert mp.datasets.circles(30, k=4, seed=0).betti == (4, 4)
    assert mp.datasets.clifford_torus(30, d=3, seed=0).betti == (1, 3, 3, 1)
    assert mp.datasets.round_sphere(30, dim=3, seed=0).truth(4) == (1, 0, 0, 1, 0)
    s = mp.datasets.klein_bottle(50, ambient_dim=20, seed=0)
    assert s.points.shape == (50, 20) and s.betti == (1, 2, 1)
    with pytest.raises(InputError):
        mp.datasets.homology_shape("moebius", 10)
