"""Scalar curvature: bias-aware intervals, the fold of the tangent chart (issue 25)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import manifold_probe as mp
from manifold_probe.curvature._interval import bias_exponent, bias_noise, interval
from manifold_probe.curvature._interval import richardson as _richardson
from manifold_probe.curvature._quadratic import _hessian_map, _largest_curvature, ladder_fit
from manifold_probe.curvature._scalar import _lepski

torch.set_num_threads(1)
Z95 = 1.959963984540054


def _unit_sphere(n, dim=2, radius=1.0, seed=0):
    g = np.random.default_rng(seed).standard_normal((n, dim + 1))
    return radius * g / np.linalg.norm(g, axis=1, keepdims=True)


# ------------------------------------------------------------------ the bias model


def test_bias_exponent_is_the_first_even_degree_not_fitted_minus_two():
    # quadratic and cubic fits alias the quartic terms (rho^2); the quartic fit the sextic (rho^4)
    assert [bias_exponent(d) for d in (2, 3, 4)] == [2, 2, 4]


@pytest.mark.parametrize("beta", [2, 4])
def test_richardson_recovers_an_exact_power_law_bias(beta):
    # S_l = truth + c rho_l^beta exactly: the chosen level's bias is c rho_chosen^beta
    rho = np.array([[0.3, 0.36, 0.43, 0.52]] * 3)
    truth, c = 2.0, np.array([-0.7, 0.4, 1.3])
    S = truth + c[:, None] * rho**beta
    se = np.full_like(S, 1e-6)
    choice = np.array([0, 2, 3])  # the smallest level uses the next larger one
    bias, sd = _richardson(S, se, rho, choice, beta)
    np.testing.assert_allclose(bias, c * rho[0, choice] ** beta, rtol=1e-9)
    assert np.all(sd >= 1e-6)


def test_richardson_interval_covers_nested_means_at_the_nominal_rate():
    # Nested sample means of i.i.d. noise have Cov(S_a, S_b) = Var(S_b): the case the
    # variance formula assumes. With a rho^2 bias added, R +- 1.96 sd covers the truth 95% of
    # the time (binomial sd over 4000 trials: 0.35%; tolerance 1.5%).
    rng = np.random.default_rng(0)
    trials, sizes = 4000, np.array([20, 28, 40, 56])
    rho = (sizes / sizes[0]) ** 0.5 * 0.2  # rho^2 grows like the size, as on a surface
    noise = rng.standard_normal((trials, sizes[-1]))
    means = np.cumsum(noise, axis=1)[:, sizes - 1] / sizes
    S = 1.0 + 3.0 * rho**2 + means
    se = np.broadcast_to(1.0 / np.sqrt(sizes), S.shape)
    choice = np.full(trials, 2)
    rr = np.broadcast_to(rho, S.shape)
    bias, sd = _richardson(S, se, rr, choice, 2)
    R = S[:, 2] - bias
    covered = np.abs(R - 1.0) <= Z95 * sd
    assert abs(covered.mean() - 0.95) < 0.015
    # and without the bias term the chosen level misses far more often
    assert (np.abs(S[:, 2] - 1.0) <= Z95 * se[:, 2]).mean() < 0.8


def _nested_means(trials, bias_coef, seed=0):
    rng = np.random.default_rng(seed)
    sizes = np.array([20, 28, 40, 56])
    rho = np.broadcast_to((sizes / sizes[0]) ** 0.5 * 0.2, (trials, 4))
    noise = rng.standard_normal((trials, sizes[-1]))
    S = 1.0 + bias_coef * rho**2 + np.cumsum(noise, axis=1)[:, sizes - 1] / sizes
    se = np.broadcast_to(1.0 / np.sqrt(sizes), S.shape)
    return S, se, rho


def test_pure_noise_is_not_counted_twice():
    # Issue 25: with 1% noise the intervals covered 99.9-100%. Cause: the old interval
    # spanned min(S, R)..max(S, R) and added 1.96 sd_R on each side, but the spread |S - R|
    # of a noise-only ladder is the bias estimate's own noise, already inside sd_R. With no
    # bias the new interval is R +- 1.96 sd_R except where |b| passes its own 95% band (5%
    # of trials), so it covers 95-96.5% (binomial sd over 4000 trials 0.35%), the old > 98.5%.
    S, se, rho = _nested_means(4000, 0.0)
    choice = np.full(len(S), 2)
    bias, sd = _richardson(S, se, rho, choice, 2)
    sd_b = bias_noise(se, rho, choice, 2)
    lo, hi = interval(S[:, 2], bias, sd, sd_b, Z95)
    new = np.mean((lo <= 1.0) & (1.0 <= hi))
    R = S[:, 2] - bias
    old = np.mean((np.minimum(S[:, 2], R) - Z95 * sd <= 1.0) & (1.0 <= np.maximum(S[:, 2], R) + Z95 * sd))
    assert 0.94 <= new <= 0.97 and old > 0.985
    # the noise of the bias estimate: the spread of b over trials (tolerance 5%: 4000 trials)
    assert abs(np.std(bias) / np.median(sd_b) - 1) < 0.05


def test_interval_always_holds_the_chosen_value_and_the_extrapolation():
    # sd_R >= sd_b (Var R = se_b^2 + Var b), so the half-width z sd_R + (|b| - z sd_b)_+ is
    # at least |b|: both S and R = S - b are inside, whatever the numbers
    rng = np.random.default_rng(1)
    S, b = rng.normal(size=500), rng.normal(scale=3.0, size=500)
    sd_b = rng.uniform(0, 2, 500)
    sd = np.sqrt(sd_b**2 + rng.uniform(0, 1, 500))
    lo, hi = interval(S, b, sd, sd_b, Z95)
    assert np.all(lo <= np.minimum(S, S - b)) and np.all(np.maximum(S, S - b) <= hi)


def test_lepski_tests_against_the_smaller_fits_error():
    # level 1 differs from level 0 by 0.05: within 2 se_0 = 0.06, beyond 2 sd of the nested
    # difference (2 sqrt(0.03^2 - 0.025^2) = 0.033). The package keeps the larger fit: the
    # stricter test picks smaller neighbourhoods, where tangent noise attenuates the fit more
    # (docs/validation.md#lepski-test-form); a difference beyond 2 se_0 stops the ladder
    S = np.array([[1.0, 1.05, 1.055], [1.0, 1.07, 1.07]])
    se = np.array([[0.03, 0.025, 0.02], [0.03, 0.025, 0.02]])
    np.testing.assert_array_equal(_lepski(S, se, 2.0), [2, 0])
    # a level beyond kappa se of a smaller one stops the ladder: a later level that agrees
    # with the smallest again is refused too (it disagrees with the one between)
    S2 = np.array([[1.0, 1.2, 1.0]])
    np.testing.assert_array_equal(_lepski(S2, np.full((1, 3), 0.05), 2.0), [0])


# ------------------------------------------------------------------ intervals on shapes


def test_noise_free_sphere_interval_covers_where_the_standard_error_does_not():
    # S^2 of radius 2 from 1500 points (truth 0.5): the regression error ignores the
    # higher-order bias, so +-1.96 se covers few points (old behaviour: 1-2%). Issue 25: the
    # previous interval covered 83-87% at N = 1000, its misses beyond the extrapolated end
    # (the extrapolation overshoots by more than its noise); the resolved bias now widens
    # both sides. Target 90-97% (benchmarks/validate_curvature_intervals.py).
    X = _unit_sphere(1500, radius=2.0, seed=3)
    est = mp.scalar_curvature(X, dim=2, return_se=True)
    lo, hi = est.interval.T
    assert np.all(lo <= est.curvature) and np.all(est.curvature <= hi)
    new = np.mean((lo <= 0.5) & (0.5 <= hi))
    old = np.mean(np.abs(est.curvature - 0.5) <= Z95 * est.standard_error)
    assert old < 0.2 and 0.9 <= new <= 0.985
    # the extrapolated value is closer to the truth than the chosen one (bias -0.05%..-0.5%)
    assert abs(np.median(est.curvature - est.bias) - 0.5) < abs(np.median(est.curvature) - 0.5)


def test_sphere_from_1000_points_is_covered():
    # issue 25: S^2 from 1000 points covered 83-87% (target 90-97%)
    X = _unit_sphere(1000, seed=5)
    est = mp.scalar_curvature(X, dim=2, return_se=True)
    lo, hi = est.interval.T
    assert 0.9 <= np.mean((lo <= 2.0) & (2.0 <= hi)) <= 0.985


def test_noisy_sphere_interval_is_not_all_encompassing():
    # issue 25: with 1% noise the intervals covered 99.9-100% (too wide). S^2 in R^20 with
    # sigma = 0.01, 1500 points: 90-98.5% (target 90-97%; 1.5% for two seeds' spread)
    rng = np.random.default_rng(9)
    Q, _ = np.linalg.qr(rng.standard_normal((20, 3)))
    X = _unit_sphere(1500, seed=9) @ Q.T + 0.01 * rng.standard_normal((1500, 20))
    est = mp.scalar_curvature(X, dim=2, return_se=True)
    lo, hi = est.interval.T
    assert 0.9 <= np.mean((lo <= 2.0) & (2.0 <= hi)) <= 0.985


def test_too_few_points_warn_that_the_estimate_collapses():
    # S^2 from 50 points reads 0.3 (truth 2): only the smallest fit lies before the fold at
    # most points, so no bias can be estimated; the call says so
    X = _unit_sphere(50, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mp.scalar_curvature(X, dim=2, return_se=True)
    text = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any("known to collapse" in t for t in text)
    assert any("past the fold" in t for t in text)
    # and a sample where every point has a second level before the fold does not say so
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mp.scalar_curvature(_unit_sphere(300, seed=0), dim=2, return_se=True)
    assert not any("known to collapse" in str(w.message) for w in caught)


def test_interval_is_in_the_units_of_x():
    X = _unit_sphere(600, seed=4)
    a = mp.scalar_curvature(X, dim=2, return_se=True)
    b = mp.scalar_curvature(X * 4.0, dim=2, return_se=True)  # curvature scales by 1/16
    np.testing.assert_allclose(b.interval, a.interval / 16.0, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.bias, a.bias / 16.0, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ the fold of the chart


def test_sparse_sphere_no_longer_collapses():
    # Default quadratic curvature on S^2 from 300 points read 0.141 (truth 2): the 299-neighbour
    # graph covers the whole sphere, and the far side projects into the middle of the tangent
    # discs. The fits now stop at the fold (|v| > |u|), so the estimate is that of the
    # near side (5%: the S^2 accuracy the README states).
    X = _unit_sphere(300, seed=0)
    with pytest.warns(RuntimeWarning, match="past the fold"):
        est = mp.scalar_curvature(X, dim=2, return_se=True)
    assert est.n_folded > 250  # every point's graph reaches past its equator
    assert abs(np.median(est.curvature) / 2.0 - 1) < 0.05


def test_fold_rule_is_a_45_degree_secant():
    # base point at the north pole of the unit sphere; neighbours at turning angles below and
    # above 90 degrees: |v| = 1 - cos t, |u| = sin t, equal at t = 90 degrees
    t = np.array([0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.5, np.pi / 2 + 0.05, 1.8, 2.0])
    t = np.repeat(t, 8)
    phi = np.tile(np.linspace(0, 2 * np.pi, 8, endpoint=False), len(t) // 8) + t
    P = np.column_stack([np.sin(t) * np.cos(phi), np.sin(t) * np.sin(phi), np.cos(t)])
    Y = (P - np.array([0.0, 0.0, 1.0]))[None]
    T = np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])
    first_past = int(np.argmax(t > np.pi / 2))
    levels = np.array([16, 40, first_past, first_past + 8])
    S, se, _ = ladder_fit(Y.copy(), T, levels, degree=2, fold_from=10)
    assert np.all(np.isfinite(S[0, :3])) and np.isnan(S[0, 3])
    S0, _, _ = ladder_fit(Y.copy(), T, levels, degree=2)  # no check: every level is fitted
    assert np.all(np.isfinite(S0))


def _packed(H):
    """Packed quadratic coefficients of a symmetric Hessian: u_i^2 takes H_ii / 2, u_i u_j H_ij."""
    n = H.shape[0]
    _, pairs = _hessian_map(n)
    return np.array([H[i, j] / 2 if i == j else H[i, j] for i, j in pairs])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_largest_principal_curvature_is_rotation_invariant(seed):
    # S^2(1) x S^1(2): the S^2 factor's normal has Hessian diag(1, 1, 0), the circle's
    # diag(0, 0, 1/2): largest |kappa| 1. A saddle diag(1, -3, 0) with the circle: 3. Whatever
    # the rotation of the normal space or of the tangent coordinates
    n, D = 3, 7
    F, _ = _hessian_map(n)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((D, D)))
    R, _ = np.linalg.qr(np.random.default_rng(seed + 10).standard_normal((n, n)))
    forms = [[np.diag([1.0, 1.0, 0.0]), np.diag([0.0, 0.0, 0.5])],
             [np.diag([1.0, -3.0, 0.0]), np.diag([0.0, 0.0, 0.5])]]
    for rot in (np.eye(n), R):
        II = np.zeros((2, n * (n + 1) // 2, D))
        for b, Hs in enumerate(forms):
            II[b, :, :2] = np.column_stack([_packed(rot @ h @ rot.T) for h in Hs])
        np.testing.assert_allclose(_largest_curvature(II @ Q, F, n), [1.0, 3.0], rtol=1e-10)


def test_ladder_fit_reads_the_principal_curvature_of_a_sphere():
    # S^2 of radius 2 in R^6 (rotated), noise-free: |kappa|_max = 1/2 at every level; the
    # graph's quartic term lifts it by a relative O((rho kappa)^2) (pointwise (rho kappa)^2 / 4;
    # least squares over the disc weights the rim: about 0.3 (rho kappa)^2 here)
    X = _unit_sphere(3000, radius=2.0, seed=3)
    Q, _ = np.linalg.qr(np.random.default_rng(4).standard_normal((6, 3)))
    X = X @ Q.T
    d = np.linalg.norm(X[:4, None] - X[None], axis=2)
    idx = np.argsort(d, axis=1)[:, 1:301]
    Y = X[idx] - X[:4, None]
    T = np.stack([Q @ np.linalg.svd(np.cross(X[i] @ Q, np.eye(3)), full_matrices=False)[0][:, :2]
                  for i in range(4)])
    levels = np.array([16, 33, 66, 131, 225])
    S, se, rho, kappa = ladder_fit(Y, T, levels, degree=2, fold_from=16, return_kappa=True)
    np.testing.assert_allclose(S, 0.5, rtol=0.2)
    assert np.all(np.abs(kappa / 0.5 - 1) <= (rho * 0.5) ** 2 / 2 + 0.01)
    assert np.all(rho * kappa < 0.7)


def test_noise_bias_of_the_principal_curvature_is_subtracted():
    # S^2 of radius 2 in R^20 with sigma = 0.01: the noise in the fitted Hessians (18 normal
    # coordinates) inflates the plain |kappa|_max at the smallest level to about 1.9 for 1/2;
    # subtracting F (tr Sigma M_q) F^T from their Gram matrix roughly halves that excess, and
    # at the larger levels, where the noise is small against the curvature, both read 1/2
    g = np.random.default_rng(3).standard_normal((3000, 3))
    Q, _ = np.linalg.qr(np.random.default_rng(4).standard_normal((20, 3)))
    X0 = (2 * g / np.linalg.norm(g, axis=1, keepdims=True)) @ Q.T
    X = X0 + 0.01 * np.random.default_rng(5).standard_normal(X0.shape)
    d = np.linalg.norm(X[:40, None] - X[None], axis=2)
    Y = X[np.argsort(d, axis=1)[:, 1:301]] - X[:40, None]
    T = np.stack([Q @ np.linalg.svd(np.cross(X0[i] @ Q / 2, np.eye(3)), full_matrices=False)[0][:, :2]
                  for i in range(40)])
    levels = np.array([16, 33, 66, 131, 225])
    *_, kappa = ladder_fit(Y, T, levels, degree=2, fold_from=16, return_kappa="both")
    plain, debiased = np.median(kappa[..., 0], axis=0), np.median(kappa[..., 1], axis=0)
    assert plain[0] > 1.2 and abs(debiased[0] - 0.5) < 0.6 * abs(plain[0] - 0.5)
    np.testing.assert_allclose(debiased[2:], 0.5, rtol=0.15)
    assert np.all(debiased <= plain)


def test_noise_is_not_a_fold():
    # S^2 with sigma = 0.03 in R^100: the normal noise (about 0.4) exceeds the tangent offsets
    # of the nearest neighbours but not the tangent extent of the graph; no fold, no warning
    g = np.random.default_rng(6).standard_normal((1500, 3))
    Q, _ = np.linalg.qr(np.random.default_rng(7).standard_normal((100, 3)))
    X = (g / np.linalg.norm(g, axis=1, keepdims=True)) @ Q.T
    X = X + 0.03 * np.random.default_rng(8).standard_normal(X.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = mp.scalar_curvature(X, dim=2, return_se=True)
    assert est.n_folded == 0


@pytest.mark.slow
def test_s3_radius_2_interval_coverage():
    # S^3 of radius 2 in R^30, noise-free, N = 4000: median 1.4937 vs 1.5 with median se
    # 0.0007 gave 0% coverage; the bias-aware interval covers 99.0-99.2% (two seeds:
    # conservative, the resolved bias is a bound on the extrapolation's error)
    rng = np.random.default_rng([0, 3, 0])
    g = rng.standard_normal((4000, 4))
    Q, _ = np.linalg.qr(rng.standard_normal((30, 4)))
    X = (2.0 * g / np.linalg.norm(g, axis=1, keepdims=True)) @ Q.T
    est = mp.scalar_curvature(X, dim=3, return_se=True)
    lo, hi = est.interval.T
    assert 0.9 <= np.mean((lo <= 1.5) & (1.5 <= hi)) <= 0.996


def _s2xs1(n, sigma, seed):
    rng = np.random.default_rng([seed, 21])
    t = rng.uniform(0, 2 * np.pi, n)
    Y = np.column_stack([_unit_sphere(n, 2, 1.5, seed=seed + 100), np.cos(t), np.sin(t)])
    Q, _ = np.linalg.qr(rng.standard_normal((30, 5)))
    X = Y @ Q.T
    return X + sigma * rng.standard_normal(X.shape)


@pytest.mark.slow
def test_pseudosphere_interval_coverage():
    # constant curvature -2 (the hyperbolic case: 69-70% before); measured 93-94%
    s = mp.datasets.pseudosphere(4000, seed=0)
    est = mp.scalar_curvature(s.points, dim=2, return_se=True)
    lo, hi = est.interval.T
    assert 0.9 <= np.mean((lo <= -2.0) & (-2.0 <= hi))


@pytest.mark.slow
def test_noisy_product_interval_covers_the_noise_bias():
    # S^2(1.5) x S^1 in R^30 with sigma = 0.01: median -9% (truth 2/1.5^2); the intervals
    # still cover the truth at >= 90% of the points, and no longer all of them (99.9% before:
    # the noise of the bias estimate was counted twice; measured 96.9% now)
    X = _s2xs1(4000, 0.01, seed=0)
    est = mp.scalar_curvature(X, dim=3, return_se=True)
    lo, hi = est.interval.T
    truth = 2.0 / 1.5**2
    assert 0.9 <= np.mean((lo <= truth) & (truth <= hi)) <= 0.985


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="noise in the tangent coordinates attenuates the fitted "
                   "second derivatives (errors in variables); only the noise in the normal "
                   "coordinates is corrected, so 1% noise leaves -4% to -9% (the intervals "
                   "cover it)")
def test_noisy_product_median_within_5_percent():
    X = _s2xs1(4000, 0.01, seed=0)
    S = mp.scalar_curvature(X, dim=3)
    assert abs(np.median(S) / (2.0 / 1.5**2) - 1) < 0.05


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="neighbourhoods past the curvature radius: the ellipsoid "
                   "(1, 1.5, 2) has curvature radius 0.75 at its ends, and the default ladder "
                   "reaches rho = 0.88 of 2000 points; there the bias is not a power of rho "
                   "(median bias of levels 6 and 7: -0.29 and -0.30 noise-free), so the Richardson pair "
                   "resolves none of it, and 1% noise (se 0.14-0.17) hides it from the Lepski "
                   "test: coverage 85-87% (held out, benchmarks/validate_curvature_intervals.py). "
                   "A Lepski test against the nested difference's own deviation covers 94.5-95.5% "
                   "but worsens other noisy estimates (S^2(1.5) x S^1: -10.2% against -8.9%), so "
                   "it was not adopted (docs/validation.md#lepski-test-form); a stop at each point's "
                   "curvature radius (rho |kappa|_max <= 1/2) covers 99-100% but is not eligible "
                   "either (docs/validation.md#curvature-radius-stop)")
def test_noisy_ellipsoid_interval_coverage():
    rng = np.random.default_rng([0, 32])
    ax = np.array([1.0, 1.5, 2.0])
    P = _unit_sphere(2000, seed=11) * ax
    K = 1.0 / (np.prod(ax) ** 2 * np.sum(P**2 / ax**4, axis=1) ** 2)
    Q, _ = np.linalg.qr(rng.standard_normal((12, 3)))
    X = P @ Q.T + 0.01 * rng.standard_normal((2000, 12))
    est = mp.scalar_curvature(X, dim=2, return_se=True)
    lo, hi = est.interval.T
    assert np.mean((lo <= 2 * K) & (2 * K <= hi)) >= 0.9


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="neighbourhoods past the curvature radius under noise: "
                   "S^2(1) x S^1(2) from 3000 points reaches rho = 1.0-1.2 at the top of the "
                   "ladder, past the S^2 factor's radius 1; noise-free the Lepski test stops "
                   "at 52 neighbours (-11.6%), with 1% noise it climbs to 225 and the median "
                   "reads -96% (coverage 84-86%); docs/validation.md#lepski-test-form. A stop at each "
                   "point's curvature radius reads -17% here but worsens other noisy shapes "
                   "(docs/validation.md#curvature-radius-stop)")
def test_noisy_product_past_its_curvature_radius():
    rng = np.random.default_rng([0, 31])
    t = rng.uniform(0, 2 * np.pi, 3000)
    g = rng.standard_normal((3000, 3))
    Y = np.column_stack([g / np.linalg.norm(g, axis=1, keepdims=True), 2 * np.cos(t),
                         2 * np.sin(t)])
    Q, _ = np.linalg.qr(rng.standard_normal((30, 5)))
    X = Y @ Q.T + 0.01 * np.random.default_rng([0, 77]).standard_normal((3000, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        S = mp.scalar_curvature(X, dim=3)
    assert abs(np.median(S) / 2.0 - 1) < 0.2


def test_a_points_levels_do_not_depend_on_its_batch():
    # two base points on the unit sphere with their neighbours at turning angles t: one whose
    # graph reaches past the fold (its last levels NaN), one whose graph stays before it. The
    # levels a batch computes only at some of its points (those before their fold) give each
    # point what it gets alone, to round-off (batched products sum in another order)
    def cap(t_max, rng):
        t = np.sort(rng.uniform(0.05, t_max, 160))
        phi = rng.uniform(0, 2 * np.pi, len(t))
        P = np.column_stack([np.sin(t) * np.cos(phi), np.sin(t) * np.sin(phi), np.cos(t)])
        P += 1e-3 * rng.standard_normal(P.shape)  # noise: standard errors well above round-off
        return P - np.array([0.0, 0.0, 1.0])

    rng = np.random.default_rng(0)
    Y = np.stack([cap(2.2, rng), cap(1.2, rng), cap(2.4, rng), cap(1.1, rng), cap(2.3, rng)])
    T = np.repeat(np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]), len(Y), axis=0)
    levels = np.array([20, 40, 80, 120, 160])
    S, se, _ = ladder_fit(Y.copy(), T, levels, degree=2, fold_from=20)
    assert np.isnan(S[[0, 2, 4], -1]).all() and np.isfinite(S[[1, 3]]).all()
    for b in range(len(Y)):
        S1, se1, _ = ladder_fit(Y[b : b + 1].copy(), T[b : b + 1], levels, degree=2, fold_from=20)
        np.testing.assert_array_equal(np.isnan(S1[0]), np.isnan(S[b]))
        # round-off of products of 160 x 6 designs, summed in another order by the batch
        np.testing.assert_allclose(S[b], S1[0], rtol=1e-11)
        np.testing.assert_allclose(se[b], se1[0], rtol=1e-11)


@pytest.mark.parametrize("n", [2, 3, 5, 7, 12])
def test_the_gathered_gauss_form_is_the_product_bit_for_bit(n):
    # Q = F^T K F in _gauss_curvature is gathered from K (F holds one 2 or two 1s per
    # column): the same sums as the product, so the same bits
    from manifold_probe.curvature._quadratic import _pair_rows

    rng = np.random.default_rng(n)
    F, _ = _hessian_map(n)
    K = rng.standard_normal((4, n * n, n * n)) * 10.0 ** rng.uniform(-3, 3, (4, 1, 1))
    r1, r2 = _pair_rows(n)
    P = K[:, r1, :] + K[:, r2, :]
    np.testing.assert_array_equal(P[:, :, r1] + P[:, :, r2],
                                  np.matmul(np.matmul(F.T[None], K), F[None]))
