"""Regression tests of issue 25: a Betti null the features cannot move, the interleaving band,
no switch in the number of bars, H0 of nested spheres, and the resolution report.

Each failure listed in the issue is a case here (slow ones marked); the xfail list names those
still out of reach, and why.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import manifold_probe as mp
from manifold_probe.topology._compare import comparison_verdict
from manifold_probe.topology._noise_law import (
    NOISE_QUANTILES,
    _fit,
    noise_pvalues,
    outward_test,
)
from manifold_probe.topology._resolution import INTERLEAVING, BettiNumbers, ResolutionWarning


def _rotate(P, dim, rng):
    Q, _ = np.linalg.qr(rng.standard_normal((dim, P.shape[1])))
    return P @ Q.T


def _null_ratios(n, rng, loc=2.5, scale=2.5):
    """Bars drawn from the null itself: log log(d/b) = (l - loc) / scale, l left-Gumbel."""
    return np.exp(np.exp((np.log(rng.exponential(size=n)) - loc) / scale))


@pytest.mark.parametrize("n", [11, 17, 30, 31, 200])
def test_noise_pvalues_are_exact_for_every_number_of_bars(n):
    # The pivot is exact under the model at every n (issue: a switch at 30 bars). 800 null
    # samples: the rejection rate at 0.05 has binomial standard error 0.0077; tolerance 3 SE.
    # (Below 11 bars no bar lies above the fit's 90th percentile: nothing is tested, p = 1.)
    assert noise_pvalues([10.0], 7)[0] == 1.0
    rng = np.random.default_rng(n)
    p = []
    for _ in range(800):
        y = np.sort(0.7 + 0.3 * np.log(rng.exponential(size=n)))
        mu, sigma, _, i_u = _fit(y, NOISE_QUANTILES)
        p.append(noise_pvalues((y[-1] - mu) / sigma, n, n - i_u)[0])
    assert abs(np.mean(np.array(p) < 0.05) - 0.05) < 0.023


@pytest.mark.parametrize("n", [4, 6, 10, 11, 29, 30, 31])
def test_outward_test_is_exact_at_every_number_of_bars(n):
    # issue 25, cause 3 and "the fit needs 11 bars": the leave-out test is calibrated on the
    # exact null law of its statistic at every n >= 4, with no switch. 400 null diagrams at
    # band 1 (every bar a candidate): the share with a counted bar is alpha = 0.05 within 3
    # binomial standard errors (0.033).
    rng = np.random.default_rng(100 + n)
    hits = sum(bool(np.any(outward_test(_null_ratios(n, rng, 3.0, 2.0), 1.0) < 0.05))
               for _ in range(400))
    assert abs(hits / 400 - 0.05) < 0.033


def test_a_feature_of_a_small_dimension_is_found_without_a_bar_count_switch():
    # issue 25, cause 3: a dimension of 21 bars was tested against a pooled null (p = 0.128
    # for a clear torus void), and below 11 bars nothing was tested. Now 7 to 40 null bars
    # with one feature at ratio 3.5 (below the ratio rule's 4): tested at every n (p < 1),
    # and found at >= 90% of the n from 19 up (measured here: 21 of 22).
    rng = np.random.default_rng(3)
    p = np.array([outward_test(np.r_[_null_ratios(n, rng, 3.0, 2.0), 3.5], INTERLEAVING)[-1]
                  for n in range(7, 41)])
    assert np.all(p < 1.0)
    assert np.mean(p[12:] < 0.05) >= 0.9


def test_pvalues_change_smoothly_with_the_number_of_bars():
    # issue 25, cause 3: a dimension with 29 bars was tested against another null than one
    # with 30. Now the p-value of a standardised bar moves by little from n to n + 1.
    t = np.linspace(0.0, 4.0, 9)
    p = np.array([noise_pvalues(t, n) for n in range(25, 36)])
    assert np.max(np.abs(np.diff(p, axis=0))) < 0.05


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(1.0001, INTERLEAVING), st.integers(4, 80))
def test_a_bar_inside_the_interleaving_band_never_counts(seed, ratio, n):
    # issue 25, cause 2: bars of ratio 1.09-1.32 counted on a torus after a linear map, below
    # the 1 + eps = 1.5 of the sparse Rips, so diagonal noise by the method's own guarantee.
    rng = np.random.default_rng(seed)
    noise = 1.0 + 1e-3 * rng.uniform(size=n)  # extremely tight noise: any fit is narrow
    p = outward_test(np.r_[noise, ratio], INTERLEAVING)
    assert p[-1] == 1.0


@pytest.mark.parametrize("k", [1, 4, 8, 12])
def test_many_features_do_not_mask_one_another(k):
    # issue 25, cause 1: the null fitted to all bars (median, 90th percentile) absorbed eight
    # loops. Here 200 null bars (largest about 2.1) and k features at ratio 3.2-3.9 (below
    # the certified 4): the count is k.
    rng = np.random.default_rng(0)
    r = np.r_[_null_ratios(200, rng), np.linspace(3.2, 3.9, k)]
    assert int(np.sum(outward_test(r, INTERLEAVING) < 0.05)) == k


def test_family_wise_error_at_most_alpha_on_null_bars():
    # 300 diagrams of 60 null bars each: the share with any bar counted must stay below
    # alpha = 0.05 plus 3 binomial standard errors (0.038).
    rng = np.random.default_rng(1)
    hits = sum(bool(np.any(outward_test(_null_ratios(60, rng, 3.0, 2.0), 1.0) < 0.05))
               for _ in range(300))
    assert hits / 300 < 0.05 + 0.038


def test_nested_spheres_are_two_components():
    # issue 25, cause 4: spheres of radii 1 and 2 (500 + 2000 points; gap 1.0, 4.2x the next
    # spanning-tree edge) read beta_0 = 1 in 9/10 runs: on a 400-landmark net the inner
    # sphere's 79 landmarks merged at p = 0.057. H0 is now judged on half the points.
    for seed in range(1):
        rng = np.random.default_rng(seed)
        Z = rng.standard_normal((2500, 3))
        Z /= np.linalg.norm(Z, axis=1, keepdims=True)
        Z[500:] *= 2.0
        assert mp.betti_numbers(_rotate(Z, 20, rng), maxdim=0, seed=seed) == (2,)


def test_eight_circles_at_one_percent_noise_read_eight_loops():
    # issue 25, cause 1: eight circles (150 points each in R^16, 1% noise) read (8, 0) at 6/6
    # seeds. Their loops (ratio 5-9 here) are now counted.
    for seed in range(2):
        s = mp.datasets.circles(1200, k=8, ambient_dim=16, seed=seed)
        rng = np.random.default_rng(seed)
        X = s.points + 0.01 / 4 * rng.standard_normal(s.points.shape)
        assert mp.betti_numbers(X, maxdim=1, seed=seed) == (8, 8)


def test_betti_numbers_is_a_tuple_with_its_resolution():
    t = np.random.default_rng(0).uniform(0, 2 * np.pi, 300)
    b = mp.betti_numbers(np.c_[np.cos(t), np.sin(t)], maxdim=1, seed=0)
    assert b == (1, 1) and isinstance(b, tuple) and repr(b) == "(1, 1)"
    assert isinstance(b, BettiNumbers) and len(b.resolution) == len(b.critical_ratio) == 2
    assert all(np.isfinite(b.resolution)) and all(r > 0 for r in b.resolution)
    assert b.critical_ratio[1] >= INTERLEAVING and not b.below_resolution
    c = pickle.loads(pickle.dumps(b))
    assert c == b and c.resolution == b.resolution and c.near_resolution == b.near_resolution
    assert c.min_feature_radius == b.min_feature_radius and len(b.min_feature_radius) == 2
    # every point is a landmark here: the condition is the sample's own spacing (300 points on
    # a unit circle: last insertion radius about pi / 300) over sqrt(3/5) / 2
    assert 0 < b.min_feature_radius[1] < 0.1


def test_min_feature_radius_is_the_net_covering_radius_over_the_nsw_constant():
    # Niyogi, Smale & Weinberger (2008): a net of covering radius delta resolves reach above
    # delta / (sqrt(3/5) / 2). More points give a finer H1 net (max(400, n / 5) landmarks), so
    # a smaller radius; the value is the net's covering radius over the distinct points.
    from manifold_probe.topology._resolution import NSW_DENSITY
    from manifold_probe.topology._significance import significant_features

    X = mp.datasets.circle(3000, ambient_dim=10, seed=0).points
    f = significant_features(X, 1, seed=0)
    b = mp.betti_numbers(X, 1, seed=0)
    assert b.min_feature_radius[1] == pytest.approx(f.net_radius[1] / NSW_DENSITY)
    assert NSW_DENSITY == pytest.approx(np.sqrt(3 / 5) / 2)
    small = mp.betti_numbers(mp.datasets.circle(1000, ambient_dim=10, seed=0).points, 1, seed=0)
    assert b.min_feature_radius[1] < small.min_feature_radius[1]


def test_answer_near_resolution_warns_and_says_so():
    # issue 25, cause 5: 0 warnings in 22 calls at n = 60-6000. A von Mises circle
    # (kappa = 2, 700 points) has one H1 bar, of ratio 3.9 at this seed: under the certified
    # 4 and within the interleaving factor of it, so its answer is below resolution.
    rng = np.random.default_rng(1)
    t = rng.vonmises(0.0, 2.0, 700)
    X = _rotate(np.c_[np.cos(t), np.sin(t)], 20, rng)
    with pytest.warns(ResolutionWarning, match="H1"):
        b = mp.betti_numbers(X, maxdim=1, seed=1)
    assert b.below_resolution and b.near_resolution[1]


def test_verdict_has_three_values():
    assert comparison_verdict((1, 1), (1, 1), (False, False), (False, False)) == "preserved"
    assert comparison_verdict((1, 1), (1, 1), (False, True), (False, False)) == "preserved"
    assert comparison_verdict((1, 1), (1, 0), (False, False), (False, False)) == "broken"
    assert comparison_verdict((1, 1), (1, 0), (False, True), (False, False)) == "undecided"
    assert comparison_verdict((2, 1), (1, 0), (False, True), (False, False)) == "broken"
    X = mp.datasets.circle(500, seed=0).points
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResolutionWarning)  # the verdict carries it instead
        same = mp.topology_preserved(X, 3.0 * X, seed=0)
        folded = mp.topology_preserved(X, np.c_[X[:, 0], np.abs(X[:, 1])], seed=0)  # onto an arc
    assert same.verdict == "preserved" and same.preserved
    assert folded.betti_y == (1, 0) and folded.verdict in ("broken", "undecided")
    assert not folded.preserved


@pytest.mark.slow
def test_projective_plane_reads_its_mod_two_numbers():
    # issue 25, cause 6: coefficients are Z/2, so RP^2 (Veronese embedding in R^6) reads
    # (1, 1, 1); over Q it would be (1, 0, 0).
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((2000, 3))
    x, y, z = (Z / np.linalg.norm(Z, axis=1, keepdims=True)).T
    P = np.c_[x * x, y * y, z * z, np.sqrt(2) * x * y, np.sqrt(2) * x * z, np.sqrt(2) * y * z]
    b = mp.betti_numbers(_rotate(P, 20, rng), maxdim=2, seed=0)
    assert b == (1, 1, 1) or b.below_resolution


@pytest.mark.slow
def test_small_samples_are_exact_or_reported_below_resolution():
    # issue 25, cause 5: surfaces at n = 600 read a wrong answer in silence. The torus R = 3,
    # r = 1 needs ~1500 points (validate_topology --sizes): below that, a wrong answer must
    # come flagged.
    for seed in range(3):
        X = mp.datasets.torus_shape(600, R=3.0, r=1.0, ambient_dim=30, seed=seed).points
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResolutionWarning)
            b = mp.betti_numbers(X, maxdim=2, seed=seed)
        assert b == (1, 2, 1) or b.below_resolution


@pytest.mark.slow
@pytest.mark.parametrize("case", ["genus2_600", "trefoil_tube", "wedge"])
def test_shapes_below_resolution_say_so(case):
    # issue 25, cause 5: a genus-2 surface at n = 600 read (1, 0, 1) and the trefoil tube
    # (1, 1, 0) in silence. A wedge of two spheres has two voids of ratio ~3.7 as its only H2
    # bars (too few to fit their noise law, under the ratio rule's 4): exact or flagged.
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import validate_topology as vt

    make, opts, n, maxdim = {"genus2_600": (vt.genus_surface, {"g": 2}, 600, 2),
                             "trefoil_tube": (vt.trefoil, {"tube": 0.35}, 4000, 2),
                             "wedge": (vt.sphere_wedge, {}, 3000, 2)}[case]
    s = make(n, 0, 20, **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResolutionWarning)
        b = mp.betti_numbers(s.points, maxdim=maxdim, seed=0)
    assert b == s.truth(maxdim) or b.below_resolution


def _grid_case(label, seed, noise):
    """The run of benchmarks/validate_topology.py's grid: (sample, maxdim)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import validate_topology as vt

    _, family, options, n, maxdim = {f[0]: f for f in vt.FAMILIES}[label]
    return vt.sample(family, options, n, seed, noise, vt.AMBIENT[seed % len(vt.AMBIENT)]), maxdim


def _reported(b, rho):
    """Read (not near resolution, and the net dense enough for features of radius ``rho``:
    ``min_feature_radius`` at most rho in every dimension) or reported below resolution."""
    return b.below_resolution or any(r > rho for r in b.min_feature_radius[1:])


# The misses of benchmarks/validate_topology.py that were read in silence before the
# resolution report came from the filtration's guarantee and the density condition: each is
# now exact or reported (results/validate_topology.json).
FEATURES_BELOW_THE_NET = [
    # holes of minor semi-axis 0.035 (the disc squashed by 10): the H1 net's covering
    # radius is 0.04, min_feature_radius 0.10
    ("# 3-hole disc kappa 10", 0, 0.0),
    # the tube squashed to ~0.2: min_feature_radius 0.39 in H1 and H2
    ("* torus R=2 r=1 kappa 5", 1, 0.0),
    # the void of an ellipsoid of semi-axes 1, 0.32, 0.1: bar d/b 1.24, min_feature_radius 0.12
    ("* S2 kappa 10", 0, 0.0),
]
FEW_BARS_UNTESTED = [
    # one H2 bar (d/b 3.87): too few to test, under the ratio rule's 4: near resolution
    ("+ bumped S2", 1, 0.0),
    # loops where the squashed strands pass within 0.25: counted, but their exact-Rips ratio
    # may fall to the cut
    ("# trefoil kappa 5", 1, 0.0),
]


@pytest.mark.parametrize("case", FEATURES_BELOW_THE_NET)
def test_former_silent_misses_are_exact_or_reported(case):
    s, maxdim = _grid_case(*case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResolutionWarning)
        b = mp.betti_numbers(s.points, maxdim=maxdim, seed=case[1])
    assert b == s.truth(maxdim) or _reported(b, s.feature_size)
    assert b != s.truth(maxdim)  # still a miss: the case tests the report, not the reading


@pytest.mark.parametrize("case", FEW_BARS_UNTESTED)
def test_few_bars_untested_stay_near_resolution(case):
    # read on three landmark nets (betti_numbers, Three nets) both now read the truth, but the
    # bar that decides is still untested (bumped S2) or may fall to the cut (trefoil): near
    s, maxdim = _grid_case(*case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResolutionWarning)
        b = mp.betti_numbers(s.points, maxdim=maxdim, seed=case[1])
    assert b == s.truth(maxdim) or _reported(b, s.feature_size)
    assert b.below_resolution


@pytest.mark.slow
@pytest.mark.parametrize("case", [("* genus 2", 3, 0.0), ("* genus 2", 4, 0.01),
                                  ("* nested spheres", 0, 0.01), ("# wedge of spheres", 0, 0.0),
                                  ("* torus R=2 r=1 kappa 10", 0, 0.0),
                                  ("# trefoil tube", 3, 0.0)])
def test_former_silent_misses_are_exact_or_reported_slow(case):
    s, maxdim = _grid_case(*case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResolutionWarning)
        b = mp.betti_numbers(s.points, maxdim=maxdim, seed=case[1])
    assert b == s.truth(maxdim) or _reported(b, s.feature_size)


# The last unflagged miss inside the density condition of the single net (benchmarks/
# validate_topology.py, results/validate_topology.json; none remain in validate_topology_nets.json):
# a 2-sphere under a condition-5 map (semi-axes 1, 0.45, 0.2; 1500 points) at data seed 4. Its
# void's bar (d/b 1.81) is one of only 8 H2 bars and got p = 0.059 against the other seven on
# the single net, a statistical miss read in silence (an xfail). Read on three landmark nets,
# one of them counts the void: H2 is flagged (net_agreement 2/3), so the miss is reported.
@pytest.mark.slow
def test_sphere_under_a_condition_five_map_at_seed_four():
    s, maxdim = _grid_case("* S2 kappa 5", 4, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResolutionWarning)
        b = mp.betti_numbers(s.points, maxdim=maxdim, seed=4)
    assert b == s.truth(maxdim) or _reported(b, s.feature_size)
    assert b.near_resolution[2] and b.net_agreement[2] < 1.0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(8, 60), st.integers(1, 6))
def test_sparse_filtration_is_the_rips_filtration_below_its_exact_range(seed, n, dim):
    # The resolution report treats bar ends below T = 2 lambda / eps as exact: every edge of
    # length <= T enters the sparse filtration at its length, and no other edge enters by T.
    from manifold_probe.topology._persistence import maxmin_landmarks, sparse_rips_edges
    from manifold_probe.topology._resolution import SPARSE_EPS, exact_range

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim))
    order, _ = maxmin_landmarks(n, 0, X=X)
    D = np.linalg.norm(X[order][:, None] - X[order][None], axis=-1)
    T = exact_range(0.0, D, SPARSE_EPS)
    rows, cols, values = sparse_rips_edges(D, SPARSE_EPS)
    sparse = {(int(a), int(b)): float(v) for a, b, v in zip(rows, cols, values, strict=True)}
    i, j = np.triu_indices(n, 1)
    for a, b in zip(i[D[i, j] <= T], j[D[i, j] <= T], strict=True):
        assert sparse[(int(a), int(b))] == D[a, b]
    assert all(v > T or D[a, b] == v for (a, b), v in sparse.items())
    # a covering radius below every insertion radius gives a smaller, still exact range
    assert exact_range(0.5 * T * SPARSE_EPS / 2, D, SPARSE_EPS) <= T


def test_sparse_bars_match_exact_rips_bars_within_the_reported_bounds():
    # rips_ratio_bounds: the exact Rips diagram of the same net holds, for each long sparse
    # bar, a bar whose ratio lies in [lo, hi]. A noisy circle in R^3 (net of 120 points):
    # the loop's sparse and Rips ratios, and the bounds around the sparse one.
    from manifold_probe.topology._persistence import maxmin_landmarks, rips_diagrams
    from manifold_probe.topology._resolution import SPARSE_EPS, exact_range, rips_ratio_bounds

    rng = np.random.default_rng(3)
    t = rng.uniform(0, 2 * np.pi, 600)
    X = np.c_[np.cos(t), np.sin(t), 0.3 * np.sin(2 * t)] + 0.02 * rng.standard_normal((600, 3))
    order, cov = maxmin_landmarks(120, 0, X=X)
    D = np.linalg.norm(X[order][:, None] - X[order][None], axis=-1)
    sparse = rips_diagrams(D, 1, np.inf, sparse=SPARSE_EPS)[1]
    exact = rips_diagrams(D, 1, np.inf)[1]
    T = exact_range(cov, D, SPARSE_EPS)
    s = sparse[np.argmax(sparse[:, 1] / sparse[:, 0])]
    e = exact[np.argmax(exact[:, 1] / exact[:, 0])]
    lo, hi = rips_ratio_bounds(s[None, :], T)
    assert lo[0] <= e[1] / e[0] <= hi[0]
    # bars that die below T are the same in both diagrams
    short = np.sort(sparse[sparse[:, 1] <= T], axis=0)
    assert np.allclose(short, np.sort(exact[exact[:, 1] <= T], axis=0))


def test_clean_circle_is_not_near_resolution_and_its_loop_is_clear_of_the_cut():
    # The resolution report flags only bars that could cross the cut in the exact Rips
    # filtration; a clean circle's loop (ratio well above 4 x 1.5) and its noise bars (ends
    # below the exact range) cannot, so the answer is not flagged.
    from manifold_probe.topology._significance import significant_features

    X = mp.datasets.circle(700, ambient_dim=30, seed=0).points
    f = significant_features(X, 1, seed=0)
    assert f.betti == (1, 1) and f.near == (False, False)
    assert f.exact_below[1] > 0 and 1.0 <= f.cut[1] <= 4.0


def test_fat_torus_at_1500_points_is_reported_below_resolution():
    # The fat torus R = 1.5, r = 1 (reach 0.5, its inner loop's radius) misses that loop at
    # 1500 points (tests/test_topology.py, a strict xfail). The answer says so both ways: a bar
    # could cross the cut in the exact Rips filtration, and its nets resolve only features of
    # radius above 0.5.
    X = mp.datasets.torus_shape(1500, R=1.5, r=1.0, ambient_dim=20, seed=0).points
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResolutionWarning)
        b = mp.betti_numbers(X, maxdim=2, seed=0)
    assert b != (1, 2, 1)
    assert b.below_resolution and b.min_feature_radius[1] > 0.5
