"""Semantic regions: bootstrap-significant density modes, label agreement, merges and splits.

Known answers: well separated blobs are found with the right count and ARI ~ 1; one-cluster
shapes read one region (the sweeps are benchmarks/bench_regions.py for the global band and
benchmarks/bench_regions_truth.py for the per-mode rule against labelled truth, dadapy and
k-means).
"""

from __future__ import annotations

import numpy as np
import pytest
from _clouds import blobs, one_cluster, simplex_mixture
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_probe import InputError
from manifold_probe.analysis.regions import (
    compare_regions,
    label_agreement,
    regions,
)

RULES = [("peak", "none"), ("peak", "fdr"), ("peak", "simultaneous"), ("tomato", "none")]


@pytest.mark.parametrize("method,correction", RULES)
@pytest.mark.parametrize("c", [2, 3, 4])
def test_separated_blobs_right_count_and_ari(c, method, correction):
    # Separation 15 sd: far above the ~8 sd where the sweep starts to detect every component.
    from sklearn.metrics import adjusted_rand_score

    X, y = blobs(c, 15.0, 6, 150 * c, seed=c)
    r = regions(X, seed=0, method=method, correction=correction)
    assert r.n_regions == c and r.method == method
    assert adjusted_rand_score(y, r.labels) > 0.98  # a few boundary points may go astray
    assert np.all(r.p_values[:c] < r.alpha) and np.all(np.diff(r.prominences) <= 0)
    assert np.all(r.prominences[1:c] > r.thresholds[1:c])
    assert r.labels.dtype == np.int64 and set(r.labels.tolist()) == set(range(c))
    assert r.peaks.shape == r.saddles.shape == r.prominences.shape == r.thresholds.shape
    # each region's label is the one of its peak's row
    np.testing.assert_array_equal(r.labels[r.peaks[:c]], np.arange(c))


ONE_CLUSTER = [(shape, rule) for shape in ("gaussian", "ball", "circle")
               for rule in [("peak", "fdr"), ("peak", "simultaneous"), ("tomato", "none")]
               if (shape, rule) != ("circle", ("peak", "fdr"))]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape,rule", ONE_CLUSTER)
def test_one_cluster_shapes_read_one(shape, rule, seed):
    # The default (Benjamini-Hochberg over the modes) and the simultaneous rules. Left out,
    # with their rates measured rather than tested: the default on noisy plane circles of 400
    # points (2 of 10 seeds read 2 regions: the p-values of selected bumps are optimistic;
    # 0 of 10 at 500 points in benchmarks/bench_regions_truth.py), and correction="none"
    # (DPA's rule), which splits every noisy circle there.
    method, correction = rule
    X = one_cluster(shape, seed)
    r = regions(X, seed=seed, method=method, correction=correction)
    assert r.n_regions == 1
    assert np.all(r.labels == 0)


def test_scale_and_rotation_invariance():
    # -log DTM shifts by a constant under scaling and is unchanged by rotation: same regions.
    X, _ = blobs(3, 12.0, 5, 300, seed=4)
    r0 = regions(X, seed=1)
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))
    r1 = regions(7.5 * X @ Q, seed=1)
    assert r1.n_regions == r0.n_regions
    np.testing.assert_array_equal(r1.labels, r0.labels)
    np.testing.assert_allclose(r1.prominences, r0.prominences, rtol=1e-6, atol=1e-9)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_permutation_invariance(perm_seed):
    from sklearn.metrics import adjusted_rand_score

    X, _ = blobs(3, 12.0, 4, 240, seed=7)
    r = regions(X, seed=3)
    p = np.random.default_rng(perm_seed).permutation(len(X))
    rp = regions(X[p], seed=3)
    # The bootstrap draws differ with the order, so the threshold may move a little; the
    # partition (up to renaming) and the prominences (exact, no randomness) must not.
    assert rp.n_regions == r.n_regions
    assert adjusted_rand_score(r.labels[p], rp.labels) == pytest.approx(1.0)
    np.testing.assert_allclose(np.sort(rp.prominences), np.sort(r.prominences), atol=1e-12)


def test_deterministic_with_seed_and_precomputed_graph():
    import manifold_probe as mp

    X, _ = blobs(2, 12.0, 3, 200, seed=0)
    a, b = regions(X, seed=5), regions(X, seed=5)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.threshold == b.threshold
    c = regions(X, seed=5, neighbors=mp.knn(X, k=2 * 60 + 10))  # the default k = 60
    np.testing.assert_array_equal(a.labels, c.labels)
    assert a.threshold == pytest.approx(c.threshold)


def test_bad_input():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    with pytest.raises(InputError, match="NaN"):
        regions(np.where(np.arange(300).reshape(100, 3) == 7, np.nan, X))
    with pytest.raises(InputError, match="alpha"):
        regions(X, alpha=1.5)
    with pytest.raises(InputError, match="k="):
        regions(X, k=200)
    with pytest.raises(InputError, match="n_boot"):
        regions(X, n_boot=5)
    import manifold_probe as mp

    with pytest.raises(InputError, match="k=40"):
        regions(X, k=15, neighbors=mp.knn(X, k=10))
    with pytest.raises(InputError, match="one entry per point"):
        label_agreement([0, 1, 1], [0, 1])
    with pytest.raises(InputError, match="share"):
        compare_regions([0, 1], [0, 1], share=0.3)
    with pytest.raises(InputError, match="method"):
        regions(X, method="dbscan")
    with pytest.raises(InputError, match="correction"):
        regions(X, correction="bonferroni")


def test_label_agreement_known_values():
    X, y = blobs(3, 20.0, 4, 300, seed=1)
    agree = label_agreement(y, y, X, k=10)
    assert agree.ari == pytest.approx(1.0) and agree.nmi == pytest.approx(1.0)
    # 20 sd apart: every neighbour shares the label.
    assert all(v == pytest.approx(1.0) for v in agree.purity.values())
    assert agree.chance_purity[0] == pytest.approx(99 / 299)
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(y)
    a2 = label_agreement(y, shuffled, X, k=10)
    assert abs(a2.ari) < 0.02  # independent partitions of 300 points: ARI ~ N(0, ~0.005)
    assert a2.mean_purity == pytest.approx(1 / 3, abs=0.05)  # chance 99/299 = 0.331


def test_compare_regions_merge_and_split():
    a = np.repeat([0, 1, 2], 50)
    b = np.repeat([0, 0, 1], 50)
    t = compare_regions(a, b)
    assert t.merged and t.merges == [(0, (0, 1))] and not t.split
    np.testing.assert_array_equal(t.contingency, [[50, 0], [50, 0], [0, 50]])
    back = compare_regions(b, a)
    assert back.split and back.splits == [(0, (0, 1))] and not back.merged
    same = compare_regions(a, (a + 1) % 3)
    assert not same.merged and not same.split and same.ari == pytest.approx(1.0)


def test_mode_prominences_match_gudhi_diagram():
    # Two independent computations of the same H0 persistence: our union-find (elder rule)
    # and gudhi's lower-star filtration of -g on the same graph.
    from manifold_probe.analysis.regions import (
        adjacency,
        dtm_log,
        edge_list,
        h0_diagram,
        mode_persistence,
    )
    from manifold_probe.neighbors import knn

    X, _ = blobs(3, 5.0, 3, 300, seed=2)
    nb = knn(X, k=15)
    g = -dtm_log(nb.distances, None, 15)
    adj = adjacency(nb)
    _, prom, *_ = mode_persistence(g, adj)
    dgm = h0_diagram(g, edge_list(adj))
    finite = np.sort(dgm[np.isfinite(dgm[:, 1])] @ [-1.0, 1.0])[::-1]
    ours = np.sort(prom[1:])[::-1]  # the first is the essential (global) mode
    ours = ours[ours > 0]
    np.testing.assert_allclose(ours, finite[: len(ours)], atol=1e-12)
    assert np.sum(np.isinf(dgm[:, 1])) == 1


def test_sup_band_is_more_conservative():
    # By stability, the bottleneck distance of the diagrams is at most the sup-norm deviation
    # of the functions, replicate by replicate (same seed: same bootstrap weights).
    X, _ = blobs(2, 7.0, 4, 300, seed=3)
    b = regions(X, seed=0, band="bottleneck", method="tomato")
    s = regions(X, seed=0, band="sup", method="tomato")
    assert b.threshold <= s.threshold + 1e-12
    assert b.n_regions >= s.n_regions
    with pytest.raises(InputError, match="band"):
        regions(X, band="wide")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_h0_diagram_of_the_spanning_forest_is_the_graph_diagram(seed):
    # Cut property: every sublevel graph has the components of its minimum spanning forest, so
    # the two H0 diagrams are the same multiset of pairs, exactly (no rounding enters). Values
    # rounded to a coarse grid make many ties, and a second component tests a forest.
    from manifold_probe.analysis.regions import (
        adjacency,
        dtm_log,
        edge_list,
        forest_edges,
        h0_diagram,
    )
    from manifold_probe.neighbors import knn

    X, _ = blobs(3, 4.0, 3, 240, seed=seed)
    X[:40] += 100.0  # a separate component of the kNN graph
    nb = knn(X, k=10)
    edges = edge_list(adjacency(nb))
    forest = forest_edges(edges, len(X))
    rng = np.random.default_rng(seed)
    g0 = -dtm_log(nb.distances, None, 10)
    for g in (g0, np.round(g0, 1), np.round(g0 + rng.normal(scale=0.1, size=len(g0)), 1)):
        full, reduced = h0_diagram(g, edges), h0_diagram(g, forest(g))
        def key(d):
            return d[np.lexsort((d[:, 1], d[:, 0]))]
        assert forest(g).shape[1] == len(X) - 2  # two components
        np.testing.assert_array_equal(key(full), key(reduced))


@pytest.mark.parametrize("seed", [0, 1])
def test_per_mode_rule_finds_moderately_separated_components(seed):
    # Three unit Gaussians 6 sd apart in 5 dimensions, randomly rotated (n = 500): the
    # density has three clear modes. The global sup band (method="tomato") found all three
    # at 0 of 5 seeds of benchmarks/bench_regions_truth.py (this construction, these seeds,
    # k = 15); the per-mode rule at 5 of 5 with each correction, as did dadapy's DPA.
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(seed)
    centres = np.eye(3, 5) * 6.0 / np.sqrt(2.0)
    rot, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    y = np.arange(500) % 3
    X = (centres[y] + rng.normal(size=(500, 5))) @ rot
    for correction in ("none", "fdr", "simultaneous"):
        r = regions(X, seed=seed, correction=correction)
        assert r.n_regions == 3
        assert adjusted_rand_score(y, r.labels) > 0.95  # the sweep's mean: 0.992
    assert regions(X, k=15, seed=seed, method="tomato").n_regions < 3


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_per_mode_rule_is_its_stated_test(seed):
    # correction="none": a mode is a region iff prominence > z (sd_peak + sd_saddle), iff its
    # p-value 1 - Phi(prominence / (sd_peak + sd_saddle)) is below alpha; the global mode
    # always. "simultaneous" replaces z by a bootstrap quantile of a max over >= 2 critical
    # points of |deviation| / sd, which is above the one-sided z on the same draws here.
    from scipy.stats import norm

    X, _ = blobs(3, 6.0, 4, 240, seed=seed % 1000)
    r = regions(X, seed=seed, n_boot=100, correction="none")
    keep = r.prominences > r.thresholds
    keep[0] = True
    assert r.n_regions == keep.sum()
    np.testing.assert_array_equal(keep[1:], r.p_values[1:] < r.alpha)
    z = norm.ppf(1 - r.alpha)
    sd_sum = r.thresholds / z
    np.testing.assert_allclose(r.p_values, norm.sf(r.prominences / sd_sum), rtol=1e-9)
    rs = regions(X, seed=seed, n_boot=100, correction="simultaneous")
    assert np.all(rs.thresholds >= r.thresholds) and rs.n_regions <= r.n_regions
    # "fdr": Benjamini-Hochberg keeps a subset of the modes the uncorrected test keeps, and
    # every mode it keeps has p <= alpha k / M (k kept, M candidates)
    rf = regions(X, seed=seed, n_boot=100, correction="fdr")
    np.testing.assert_array_equal(rf.p_values, r.p_values)  # same draws, same statistic
    kept = np.flatnonzero(rf.prominences > rf.thresholds)
    assert rf.n_regions == 1 + np.sum(kept > 0) <= r.n_regions
    m = len(r.p_values) - 1
    assert np.all(rf.p_values[kept[kept > 0]] <= r.alpha * (rf.n_regions - 1) / max(m, 1) + 1e-15)


def test_benjamini_hochberg_hand_cases():
    from manifold_probe.analysis.regions import benjamini_hochberg

    # m = 4, alpha = 0.05: cuts 0.0125, 0.025, 0.0375, 0.05 for the sorted p-values.
    np.testing.assert_array_equal(benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2]), 0.05),
                                  [True, False, False, False])
    # step-up: 0.04 <= 0.05 at rank 4 carries every smaller one with it
    np.testing.assert_array_equal(benjamini_hochberg(np.array([0.04, 0.03, 0.02, 0.011]), 0.05),
                                  [True, True, True, True])
    np.testing.assert_array_equal(benjamini_hochberg(np.array([0.3, 0.6]), 0.05), [False, False])


def test_error_bar_of_the_difference_is_the_bootstrap_sd_of_peak_minus_saddle():
    # two far blobs and a faint bump: "sum" bounds sd(p - s) by sd(p) + sd(s), so each mode's
    # bar under "difference" is at most its bar under "sum" (same bootstrap draws), and the
    # first, global mode has the same p-value 0 either way
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) + 8.0])
    a = regions(X, k=15, seed=3, correction="none", error_bar="difference")
    b = regions(X, k=15, seed=3, correction="none", error_bar="sum")
    np.testing.assert_array_equal(a.prominences, b.prominences)
    assert np.all(a.thresholds <= b.thresholds + 1e-12)
    assert a.n_regions == b.n_regions == 2
    assert "sd(peak - saddle)" in a.basis and "sd(peak) + sd(saddle)" in b.basis
    with pytest.raises(ValueError, match="error_bar"):
        regions(X, error_bar="max")


_simplex_mixture = simplex_mixture  # benchmarks/bench_regions_truth.py::mixture


def test_three_components_in_20d_read_right_at_4_of_5_seeds():
    # Stability where the truth is clear (issue: the same count at >= 4/5 seeds): three unit
    # Gaussians 6 sd apart in 20 dimensions (k-means told k = 3: ARI 1.0). The previous
    # default (k = 40 on its own graph) read 3 at 5 of 5 seeds here, the rule before it 2 of 5
    # (benchmarks/results/sweep_regions_density2.json, group "c=3 sep=6 d=20").
    counts = [regions(_simplex_mixture(3, 6.0, 20, 500, s)[0], seed=s).n_regions
              for s in range(5)]
    assert sum(c == 3 for c in counts) >= 4, counts


@pytest.mark.parametrize("shape", ["gaussian-20", "circle-in-10"])
def test_featureless_clouds_read_one_region(shape):
    # The default read 0 false regions on the 35 featureless clouds of the sweep (7 shapes x 5
    # seeds; sweep_regions_density2.json); the noisy circle in R^10 and the 20-d Gaussian are
    # the shapes on which the rejected candidates read them (graph of 10-20 neighbours at
    # k = 40, PAk). At the nominal alpha = 5% a false region at one of these 3 seeds would
    # happen with probability about 0.15 at most, so 0 of 3 is what the rule promises.
    rng = np.random.default_rng(7)
    for s in range(3):
        if shape == "gaussian-20":
            X = rng.normal(size=(500, 20))
        else:
            t = rng.uniform(0, 2 * np.pi, 500)
            X = np.zeros((500, 10))
            X[:, 0], X[:, 1] = np.cos(t), np.sin(t)
            X += 0.05 * rng.normal(size=(500, 10))
        assert regions(X, seed=s).n_regions == 1


def test_sparser_mode_graph_deepens_real_valleys():
    # The saddle between two modes is read on the graph_k graph: a sparser graph has fewer
    # short-cuts between the groups, so each saddle is at most as high (the prominence of a
    # mode found by both is at least as large) and the density (k) is unchanged.
    X, _ = blobs(3, 6.0, 10, 450, seed=4)
    dense = regions(X, k=60, graph_k=60, seed=0)
    sparse = regions(X, k=60, graph_k=20, seed=0)
    assert sparse.n_regions >= dense.n_regions
    assert sparse.prominences[1] >= dense.prominences[1] - 1e-12
    with pytest.raises(InputError, match="graph_k"):
        regions(X, graph_k=1)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), k=st.integers(1, 8))
def test_mutual_graph_is_a_subgraph_with_no_isolated_point(seed, k):
    # The mutual kNN graph (an edge when each end lists the other) with every point's edge to
    # its nearest is a subgraph of the symmetrised one (each of its edges is a kNN edge), it
    # holds the mutual pairs, and no point is left without an edge.
    from manifold_probe.analysis._modes import adjacency
    from manifold_probe.neighbors import knn

    X = np.random.default_rng(seed).normal(size=(40, 3))
    nb = knn(X, k)
    sym, mut = adjacency(nb), adjacency(nb, mutual=True)
    lists = [set(row.tolist()) for row in nb.indices]
    for i in range(40):
        assert set(mut[i].tolist()) <= set(sym[i].tolist())
        assert len(mut[i]) >= 1 and int(nb.indices[i, 0]) in set(mut[i].tolist())
        assert {j for j in lists[i] if i in lists[j]} <= set(mut[i].tolist())


def test_mutual_graph_of_the_modes_reads_separated_groups():
    # Every path of the mutual graph is one of the symmetrised graph, so each saddle is at
    # most as high: here the prominence of the second group is at least the symmetrised
    # graph's, and three groups 6 sd apart in 10-d read as three.
    X, _ = blobs(3, 6.0, 10, 450, seed=4)
    sym = regions(X, seed=0)
    mut = regions(X, seed=0, graph="mutual")
    assert mut.n_regions == 3
    assert mut.prominences[1] >= sym.prominences[1] - 1e-12
    with pytest.raises(InputError, match="graph"):
        regions(X, graph="knn")


def test_pak_density_of_a_gaussian():
    # PAk (Rodriguez et al. 2018) on a 3-d standard Gaussian: F = log(rho N omega_3) where
    # log rho = -|x|^2/2 - 1.5 log(2 pi); the residual's spread is of the order of the stated
    # error eps = sqrt((4k*+2)/((k*-1)k*)) (median 0.26 here; the estimator's bias in the
    # tails adds to it), the offset is the constant log N + log omega_3 - 1.5 log 2 pi.
    from math import lgamma, log, pi

    from manifold_probe.analysis._modes import kstar, pak_log_density
    from manifold_probe.neighbors import knn

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    nb = knn(X, 100)
    ks = kstar(nb.distances, nb.indices, 3.0)
    F, err = pak_log_density(nb.distances, ks, 3.0)
    truth = -0.5 * (X**2).sum(1)
    const = log(2000) + 1.5 * log(pi) - lgamma(2.5) - 1.5 * log(2 * pi)  # log N omega_3 / (2pi)^1.5
    resid = F - truth
    assert abs(np.median(resid) - const) < 0.1
    assert np.std(resid) < 2.0 * np.median(err)
    assert np.all((ks >= 3) & (ks <= 99))


def test_kstar_of_a_uniform_cloud_reaches_the_cap():
    # Under a constant density the likelihood-ratio statistic D_k is chi-squared(1) and the
    # threshold 23.9 is its 1 - 1e-6 quantile: on a uniform square (away from its edges)
    # almost every point keeps the largest k; the exponent must be the intrinsic dimension:
    # the same square read in dimension 10 fails the test early.
    from manifold_probe.analysis._modes import kstar
    from manifold_probe.neighbors import knn

    rng = np.random.default_rng(1)
    X = rng.uniform(size=(3000, 2))
    nb = knn(X, 31)
    inner = np.all((X > 0.2) & (X < 0.8), axis=1)
    assert np.mean(kstar(nb.distances, nb.indices, 2.0)[inner] == 30) > 0.95
    assert np.mean(kstar(nb.distances, nb.indices, 10.0)[inner] == 30) < 0.5


def test_pak_regions_of_separated_blobs_and_bad_combinations():
    X, y = blobs(3, 15.0, 6, 450, seed=5)
    r = regions(X, seed=0, density="pak")
    assert r.n_regions == 3 and "PAk" in r.basis and "intrinsic dimension" in r.basis
    with pytest.raises(InputError, match="pak"):
        regions(X, density="pak", method="tomato")
    with pytest.raises(InputError, match="pak"):
        regions(X, density="pak", correction="simultaneous")


@pytest.mark.xfail(strict=True, reason="not reached: 5 unit Gaussians 6 sd apart in 20-d read "
                   "3, 5, 4, 3, 5 regions over the seeds (right at 2 of 5; k-means told k = 5: "
                   "ARI 1.0; dadapy's DPA 3, 4, 2, 3, 2). Diagnosis (diagnose_regions_20d.json): "
                   "every component holds a mode; the test merges those whose prominence stands "
                   "0.5-1.6 bootstrap error bars above 0 (p 0.06-0.30), and the error bars are "
                   "right (within 3% of the sd over fresh samples for a difference). In 20-d the "
                   "sample lies on shells 4.5 sd from each centre and the density's modes and "
                   "valleys lie where no point is: read at the sample, the valley is within "
                   "about 2 error bars. A smaller k is noisier faster than sharper (contrast/sd "
                   "19.9 at k = 60, 8.8 at 10). Tried: consensus over bootstrap draws "
                   "(sweep_regions_consensus.json: 1, 1, 1, 1, 4 majority; 2, 5, 4, 3, 4 modal) "
                   "and the mutual kNN graph (sweep_regions_graph.json: 4, 5, 4, 4, 5 at "
                   "graph_k = 20). Mean shift (method='meanshift', sweep_regions_meanshift.json) "
                   "reads it 5, 5, 5, 5, 5 but 2 of 35 featureless clouds as several regions "
                   "and MiniLM as one region: not the default. Its bandwidth by likelihood "
                   "cross-validation or Abramson's law (sweep_regions_adaptive.json) reads it "
                   "1, 1, 1, 1, 1 (every point its own mode). Reading the distance to measure "
                   "off the sample (peak='flow', sweep_regions_flow.json) reads it 5, 5, 5, 6, 5 "
                   "but 14 of 140 fresh featureless clouds as several regions "
                   "(check_regions_flow.json): not the default. Every height read one flow "
                   "step off the sample (peak='step', sweep_regions_step.json) reads it 1, 1, "
                   "1, 1, 1 (components of 100 points flatten at k = 60)")
def test_five_components_in_20d_read_right_at_4_of_5_seeds():
    # The stability target (the same count at >= 4/5 seeds where the truth is clear)
    # on the one clear development mixture the default misses; strict, so a method that
    # reaches it turns this test red until the marker goes.
    counts = [regions(_simplex_mixture(5, 6.0, 20, 500, s)[0], seed=s).n_regions
              for s in range(5)]
    assert sum(c == 5 for c in counts) >= 4, counts


def test_majority_consensus_of_identical_draws_is_the_draw():
    # Known answer: when every draw gives one partition, every within-region edge is co-assigned
    # in all draws and every cross edge in none, so the consensus is that partition.
    from sklearn.metrics import adjusted_rand_score

    from manifold_probe.analysis._modes import adjacency
    from manifold_probe.analysis.regions import majority_labels
    from manifold_probe.neighbors import knn

    X, y = blobs(3, 12.0, 4, 240, 0)
    adj = adjacency(knn(X, 10))
    lab = majority_labels([y.copy() for _ in range(5)], adj, min_size=10)
    assert adjusted_rand_score(y, lab) == 1.0
    # a sliver (5 points of region 0 labelled apart in every draw) is under min_size: it
    # joins its neighbour, region 0
    z = y.copy()
    z[np.flatnonzero(y == 0)[:5]] = 7
    lab = majority_labels([z] * 5, adj, min_size=10)
    assert adjusted_rand_score(y, lab) == 1.0
    # draws that split region 0 in only 2 of 5 draws: the majority keeps it whole
    split = y.copy()
    split[np.flatnonzero(y == 0)[::2]] = 9
    lab = majority_labels([split, split, y, y, y], adj, min_size=10)
    assert adjusted_rand_score(y, lab) == 1.0


@pytest.mark.parametrize("rule", ["majority", "modal"])
def test_consensus_of_bootstrap_draws(rule):
    from sklearn.metrics import adjusted_rand_score

    X, y = blobs(3, 15.0, 5, 300, 1)
    r = regions(X, seed=0, consensus=rule, n_draws=10, n_boot=40)
    assert r.n_regions == 3 and adjusted_rand_score(y, r.labels) > 0.95
    assert r.draw_counts is not None and len(r.draw_counts) == 10
    assert r.n_regions == int(r.labels.max()) + 1
    if rule == "modal":  # the stated rule: the modal count of the draws, ties to the smaller
        values, freq = np.unique(r.draw_counts, return_counts=True)
        assert r.n_regions == values[freq == freq.max()].min()
    one = regions(np.random.default_rng(2).normal(size=(300, 5)), seed=0, consensus=rule,
                  n_draws=10, n_boot=40)
    assert one.n_regions == 1
    assert regions(X, seed=0, n_boot=40).draw_counts is None


def test_consensus_bad_input():
    X = np.random.default_rng(0).normal(size=(100, 3))
    with pytest.raises(InputError, match="consensus"):
        regions(X, consensus="vote")
    with pytest.raises(InputError, match="n_draws"):
        regions(X, consensus="modal", n_boot=20, n_draws=21)
    with pytest.raises(InputError, match="consensus"):
        regions(X, consensus="modal", density="pak")


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_majority_consensus_depends_on_co_assignment_only(seed):
    # The consensus reads only which pairs share a region in each draw: renaming the regions
    # of any draw, or reordering the draws, leaves it unchanged (up to its own numbering).
    from sklearn.metrics import adjusted_rand_score

    from manifold_probe.analysis.regions import majority_labels

    rng = np.random.default_rng(seed)
    n = 60
    adj = [np.array([(i - 2) % n, (i - 1) % n, (i + 1) % n, (i + 2) % n]) for i in range(n)]
    draws = [np.repeat(rng.permutation(4), n // 4)[(np.arange(n) + rng.integers(0, 5)) % n]
             for _ in range(5)]
    ref = majority_labels(draws, adj, min_size=5)
    renamed = [rng.permutation(8)[d] for d in draws]
    other = majority_labels([renamed[i] for i in rng.permutation(5)], adj, min_size=5)
    assert adjusted_rand_score(ref, other) == 1.0
    assert np.bincount(ref).min() >= 5 and set(np.unique(ref)) == set(range(ref.max() + 1))
