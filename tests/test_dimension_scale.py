"""TwoNN's scale check: a noise diagnostic for the intrinsic dimension (issue 25)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import manifold_probe as mp
from manifold_probe import InputError
from manifold_probe.dimension import scale_dependence, twonn


def _torus(n, d, D, sigma, seed):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, 2.0 * np.pi, (n, d))
    Q, _ = np.linalg.qr(rng.standard_normal((D, 2 * d)))
    X = np.column_stack([np.cos(t), np.sin(t)]) @ Q.T
    return X + sigma * rng.standard_normal(X.shape)


def _pareto_distances(n, dim, k, seed):
    """Distances to k neighbours of a Poisson process of intensity 1 in dimension ``dim``:
    r_j^dim are the partial sums of unit exponentials (up to the ball's volume), so every
    GRIDE ratio follows its exact law and the curve is flat at ``dim``."""
    e = np.random.default_rng(seed).exponential(size=(n, k))
    return np.cumsum(e, axis=1) ** (1.0 / dim)


def test_heavy_noise_torus_is_flagged_and_the_interval_spans_the_scales():
    # T^3 in R^200 with sigma = 0.05 read 27.6 with interval (26.5, 28.7) while GRIDE reads
    # 6.4 and calls itself an upper bound
    X = _torus(2000, 3, 200, 0.05, seed=0)
    with pytest.warns(RuntimeWarning, match="depends on the neighbourhood scale"):
        e = mp.intrinsic_dimension(X)
    plain = twonn(X, scale_check=False)
    assert e.dimension == plain.dimension  # the value is TwoNN's; only the interval and flag
    assert e.scale_dependent is True and plain.scale_dependent is None
    g = mp.intrinsic_dimension(X, method="gride")
    lo, hi = e.interval
    # from GRIDE's large-scale value (within its 95% band) to above the small-scale one
    assert lo <= g.interval[1] and lo < 8.0
    assert hi >= e.dimension > 20.0
    assert plain.interval[0] > 20.0  # the old, confidently wrong interval


def test_interval_is_the_curves_95_percent_range_up_to_the_stable_end():
    X = _torus(2000, 3, 100, 0.02, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = twonn(X)
    sc = e.details["scale_check"]
    assert sc["dependent"]
    c, s = np.array(sc["curve"]), np.array(sc["error"])
    g = mp.intrinsic_dimension(X, method="gride")
    last = int(np.flatnonzero(np.array(sc["scale"]) == g.details["plateau_n1"][1])[0])
    lo = max(np.min(c[: last + 1] - 1.959964 * s[: last + 1]), 0.0)
    hi = np.max(c[: last + 1] + 1.959964 * s[: last + 1])
    # 1e-5 relative: 1.96 written to 6 digits
    assert sc["scale_range"] == pytest.approx((lo, hi), rel=1e-5)
    assert e.interval[0] == pytest.approx(min(lo, e.dimension), rel=1e-5)
    assert e.interval[1] == pytest.approx(max(hi, e.dimension), rel=1e-5)
    np.testing.assert_allclose(c, g.curve, rtol=1e-12)  # the same curve as GRIDE's


def test_clean_closed_manifolds_are_rarely_flagged():
    # the check is GRIDE's one-sided 2.5% test at the first step: on clean closed manifolds
    # about one run in 40 is flagged by chance (benchmarks/sweep_dimension_scale.py: 0/30 on
    # spheres and tori). Over 4 runs, at most one; unflagged runs keep TwoNN's own interval.
    alarms = 0
    for d in (2, 4):
        for seed in range(2):
            X = _torus(1000, d, 20, 0.0, seed=10 + seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                e = mp.intrinsic_dimension(X)
            alarms += bool(e.scale_dependent)
            if not e.scale_dependent:
                assert e.scale_dependent is False
                assert e.interval == twonn(X, scale_check=False).interval
    assert alarms <= 1


def test_exact_ratio_law_is_flat_and_not_flagged():
    # no false alarm where the GRIDE law holds exactly, at any dimension, over 20 samples:
    # the one-sided 2.5% test at the first step gives ~0.5 expected alarms; allow 3
    alarms = sum(
        scale_dependence(_pareto_distances(2000, dim, 64, seed)).dependent
        for dim in (2, 5, 10, 20)
        for seed in range(5)
    )
    assert alarms <= 3


def test_a_significant_first_fall_is_flagged():
    # the first neighbour moved towards the second (noise makes near neighbours equidistant,
    # r_2/r_1 -> 1, which reads as a higher dimension at the smallest scale only)
    d = _pareto_distances(2000, 3, 64, seed=0)
    d[:, 0] += 0.3 * (d[:, 1] - d[:, 0])
    sc = scale_dependence(d)
    assert sc.dependent and sc.curve[0] > sc.curve[1]


def test_a_small_significant_fall_is_not_material():
    # a fall that is significant (N = 20000) but under 10% of the value: within the
    # estimator's own accuracy, not flagged; the same data with a larger shift is flagged
    d = _pareto_distances(20000, 3, 16, seed=1)
    small = d.copy()
    small[:, 0] += 0.04 * (small[:, 1] - small[:, 0])
    sc = scale_dependence(small)
    fall = (sc.curve[0] - sc.curve[1]) / sc.curve[1]
    assert 0.02 < fall < 0.09 and sc.stable_n1 > 1  # significant, not material
    assert not sc.dependent
    big = d.copy()
    big[:, 0] += 0.15 * (big[:, 1] - big[:, 0])
    assert scale_dependence(big).dependent


def test_check_skipped_without_enough_columns():
    X = _torus(500, 2, 10, 0.0, seed=3)
    e = twonn(X, neighbors=mp.knn(X, 2))
    assert e.scale_dependent is None and "scale_check" not in e.details
    assert scale_dependence(np.ones((10, 3))) is None
    with pytest.raises(InputError, match="scale_check"):
        twonn(X, scale_check="yes")


def test_tiny_sample_still_gets_an_estimate():
    X = _torus(40, 2, 10, 0.0, seed=4)  # fewer points than the check's 64 neighbours
    e = twonn(X)
    assert np.isfinite(e.dimension) and e.scale_dependent in (True, False)


def test_twenty_ball_corrected_interval_covers_twenty():
    # The 20-ball read 16.0 with an interval that excludes 20: TwoNN's finite-sample boundary
    # bias, below every scale, so the scale check cannot see it; correct_bias=True is the remedy
    rng = np.random.default_rng(5)
    g = rng.standard_normal((2000, 20))
    B = g / np.linalg.norm(g, axis=1, keepdims=True) * rng.random((2000, 1)) ** (1 / 20)
    Q, _ = np.linalg.qr(rng.standard_normal((42, 20)))
    X = B @ Q.T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = twonn(X, correct_bias=True)
    assert e.interval[0] <= 20.0 <= e.interval[1]


def _twenty_ball(seed=5):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((2000, 20))
    B = g / np.linalg.norm(g, axis=1, keepdims=True) * rng.random((2000, 1)) ** (1 / 20)
    Q, _ = np.linalg.qr(rng.standard_normal((42, 20)))
    return B @ Q.T


def test_twenty_ball_reads_below_twenty_at_every_scale():
    # Why the default interval cannot honestly cover 20 (the xfail below): GRIDE's curve reads
    # 16.4, 15.8, 15.1, 14.5, 14.1, 13.4 at n1 = 1 .. 32 (seed 5). No scale reads 20, so an
    # interval spanning the scale range would not reach it either; the deficit is TwoNN's
    # finite-sample boundary bias (below). The curve's 95% bands all lie below 18.
    e = twonn(_twenty_ball())
    sc = e.details["scale_check"]
    curve, err = np.asarray(sc["curve"]), np.asarray(sc["error"])
    assert np.all(curve + 1.96 * err < 18.0)
    assert e.scale_dependent is False and e.interval[1] < 20.0


@pytest.mark.xfail(reason="finite-sample boundary bias, not scale dependence: at n = 2000 in 20 "
                   "dimensions the typical nearest-neighbour distance, (1/2000)^(1/20) = 0.68 "
                   "of the radius, exceeds the distance to the boundary for all but "
                   "0.32^20 ~ 1e-10 of the points, so r2/r1 departs from Pareto(20) almost everywhere and "
                   "GRIDE's curve reads 13.4-16.4 at every scale (test above); the default "
                   "(raw TwoNN, what the literature reports) reads 16.0-16.2 with an interval "
                   "that excludes 20. correct_bias=True covers it (test above)",
                   strict=True)
def test_twenty_ball_default_interval_covers_twenty():
    rng = np.random.default_rng(5)
    g = rng.standard_normal((2000, 20))
    B = g / np.linalg.norm(g, axis=1, keepdims=True) * rng.random((2000, 1)) ** (1 / 20)
    Q, _ = np.linalg.qr(rng.standard_normal((42, 20)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = mp.intrinsic_dimension(B @ Q.T)
    assert e.interval[0] <= 20.0 <= e.interval[1]
