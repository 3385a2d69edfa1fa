"""Scalar curvature (method="quadratic"): known answers, invariances, bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import manifold_probe as mp
from manifold_probe import InputError

torch.set_num_threads(2)


def _sphere(n_points, dim, radius, ambient_dim=20, noise=0.0, seed=0):
    return mp.datasets.sphere(
        n_points, dim, radius=radius, ambient_dim=ambient_dim, noise=noise, seed=seed
    )


# ---------------------------------------------------------------- known answers (issue 3)


def test_sphere_s2_median_within_5_percent():
    s = _sphere(2000, 2, radius=2.0, seed=1)
    S = mp.scalar_curvature(s.points, dim=2)
    truth = 2 * 1 / 2.0**2  # n(n-1)/r^2
    assert S.shape == (2000,) and S.dtype == np.float64
    # 5%: the accuracy the issue asks of S^2 at N <= 10,000
    assert abs(np.median(S) / truth - 1) < 0.05


def test_sphere_s3_median_within_10_percent():
    s = _sphere(2000, 3, radius=1.5, seed=2)
    S = mp.scalar_curvature(s.points, dim=3)
    truth = 3 * 2 / 1.5**2
    # 10%: the accuracy the issue asks of S^3 at N <= 10,000
    assert abs(np.median(S) / truth - 1) < 0.10


def test_flat_torus_is_flat():
    s = mp.datasets.flat_torus(2000, dim=2, ambient_dim=20, seed=3)
    S = mp.scalar_curvature(s.points, dim=2, k=200)
    # +-0.05: the tolerance for flat samples at the density of the sphere tests
    # (2000 points on a torus of area 4 pi^2, sparser than the radius-2 sphere above)
    assert abs(np.median(S)) < 0.05


def test_pseudosphere_negative_within_15_percent():
    s = mp.datasets.pseudosphere(1500, radius=1.0, ambient_dim=20, seed=4)
    S = mp.scalar_curvature(s.points, dim=2, k=200)
    truth = s.scalar_curvature  # -2 / r^2
    assert truth == pytest.approx(-2.0)
    # right sign and within 15%: the tolerance for constant negative curvature
    assert np.median(S) < 0
    assert abs(np.median(S) / truth - 1) < 0.15


@pytest.fixture(scope="module")
def noisy_sphere():
    radius = 1.0
    s = _sphere(3000, 2, radius=radius, noise=0.01 * radius, seed=5)
    return mp.scalar_curvature(s.points, dim=2, return_se=True)


def test_noisy_sphere_within_15_percent(noisy_sphere):
    # 15%: the tolerance with Gaussian noise of 1% of the radius in all 20 coordinates
    assert abs(np.median(noisy_sphere.curvature) / 2.0 - 1) < 0.15


def test_standard_error_is_calibrated_on_noisy_sphere(noisy_sphere):
    z = (noisy_sphere.curvature - 2.0) / noisy_sphere.standard_error
    # for a well-calibrated Gaussian error, median |z| = 0.674; a factor 2 either way
    # (0.34 .. 1.35) would mean the reported errors are wrong by that factor
    assert 0.34 < np.median(np.abs(z)) < 1.35


def test_dimension_is_estimated_when_not_given():
    s = _sphere(1000, 2, radius=1.0, seed=7)
    est = mp.scalar_curvature(s.points, k=150, return_se=True)
    assert est.dim == 2
    assert abs(np.median(est.curvature) / 2.0 - 1) < 0.05  # as for the S^2 test above


def test_result_object_fields():
    s = _sphere(600, 2, radius=1.0, seed=8)
    est = mp.scalar_curvature(s.points, dim=2, k=120, return_se=True)
    assert isinstance(est, mp.CurvatureEstimate)
    assert est.method == "quadratic" and est.dim == 2 and est.degree == 4
    assert est.curvature.shape == est.standard_error.shape == (600,)
    assert est.neighborhood_size.shape == (600,) and est.neighborhood_size.dtype == np.int64
    assert np.all(est.neighborhood_size <= 120)
    assert np.all(est.standard_error >= 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.dim = 3


def test_degree_two_is_biased_upward_on_sphere_and_degree_four_is_not():
    # the higher-order bias of the plain quadratic fit: relative +rho^2/(2 r^2) on a sphere
    s = _sphere(1000, 2, radius=1.0, seed=9)
    nb = mp.knn(s.points, 150)
    S2 = mp.scalar_curvature(s.points, dim=2, neighbors=nb, degree=2, kappa=1e6)
    S4 = mp.scalar_curvature(s.points, dim=2, neighbors=nb, degree=4, kappa=1e6)
    # kappa huge: always the largest disc (112 of 1000 points, rho ~ 0.67): degree 2 is
    # ~ rho^2 / 2 = 22% high
    assert np.median(S2) / 2.0 - 1 > 0.10
    assert abs(np.median(S4) / 2.0 - 1) < 0.05


# ---------------------------------------------------------------- reuse and determinism


def test_precomputed_graph_gives_the_same_result():
    s = _sphere(500, 2, radius=1.0, seed=10)
    nb = mp.knn(s.points, 100)
    a = mp.scalar_curvature(s.points, dim=2, k=100)
    b = mp.scalar_curvature(s.points, dim=2, neighbors=nb)
    np.testing.assert_array_equal(a, b)


def test_batch_size_does_not_change_results():
    s = _sphere(300, 2, radius=1.0, noise=0.01, seed=11)
    a = mp.scalar_curvature(s.points, dim=2, k=80, batch_size=7)
    b = mp.scalar_curvature(s.points, dim=2, k=80)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.abs(b).max())


def test_threads_give_the_same_result_bit_for_bit():
    # the batches are independent and each thread fits with one BLAS thread: n_jobs changes
    # only who computes a batch, never the numbers
    from threadpoolctl import threadpool_limits

    s = _sphere(300, 2, radius=1.0, noise=0.01, seed=13)
    with threadpool_limits(limits=1):
        a = mp.scalar_curvature(s.points, dim=2, k=80, batch_size=16, return_se=True)
    b = mp.scalar_curvature(s.points, dim=2, k=80, batch_size=16, return_se=True, n_jobs=3)
    np.testing.assert_array_equal(a.curvature, b.curvature)
    np.testing.assert_array_equal(a.standard_error, b.standard_error)
    np.testing.assert_array_equal(a.neighborhood_size, b.neighborhood_size)


@pytest.mark.parametrize("n_jobs", [0, -2, 1.5, "2"])
def test_bad_n_jobs_is_refused(n_jobs):
    X = _sphere(100, 2, radius=1.0, seed=0).points
    with pytest.raises(InputError, match="n_jobs"):
        mp.scalar_curvature(X, dim=2, k=40, n_jobs=n_jobs)


# ---------------------------------------------------------------- invariances (hypothesis)

_BASE = _sphere(300, 2, radius=1.0, noise=0.005, seed=12).points


def _curv(X):
    return mp.scalar_curvature(X, dim=2, k=80)


_REF = _curv(_BASE)


@settings(max_examples=10, deadline=None)
@given(s=st.floats(min_value=1e-2, max_value=1e2))
def test_curvature_scales_as_inverse_square(s):
    S = _curv(s * _BASE)
    # exact equivariance up to rounding: every step scales, the neighbourhood choice compares
    # ratios; 1e-6 relative leaves room for float64 round-off in the fits
    np.testing.assert_allclose(S * s**2, _REF, rtol=1e-6, atol=1e-6 * np.abs(_REF).max())


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(-100, 100))
def test_curvature_invariant_under_rotation_and_translation(seed, shift):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    t = shift * rng.standard_normal(20)
    S = _curv(_BASE @ Q + t)
    np.testing.assert_allclose(S, _REF, rtol=1e-6, atol=1e-6 * np.abs(_REF).max())


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "bogus"}, "method"),
        ({"dim": 20}, "ambient dimension"),
        ({"dim": 0}, "dim"),
        ({"dim": 2.0}, "dim"),
        ({"dim": 2, "degree": 5}, "degree"),
        ({"dim": 2, "degree": "high"}, "degree"),
        ({"dim": 2, "kappa": 0.0}, "kappa"),
        ({"dim": 2, "return_se": "yes"}, "return_se"),
        ({"dim": 2, "batch_size": 0}, "batch_size"),
        ({"dim": 2, "seed": "abc"}, "seed"),
        ({"dim": 2, "k": 200}, "too large"),
        ({"dim": 2, "k": 12}, "coefficients"),
        ({"dim": 2, "distances": np.zeros((50, 50))}, "ball_volume"),
    ],
)
def test_bad_arguments(kwargs, match):
    X = _sphere(50, 2, radius=1.0, seed=13).points
    with pytest.raises(InputError, match=match):
        mp.scalar_curvature(X, **kwargs)


def test_bad_points():
    X = _sphere(50, 2, radius=1.0, seed=14).points
    X[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        mp.scalar_curvature(X, dim=2, k=40)
    with pytest.raises(InputError, match="2-D"):
        mp.scalar_curvature(np.zeros(10), dim=1)
    with pytest.raises(InputError, match="coordinates"):
        mp.scalar_curvature(None, dim=2)


def test_mismatched_graph():
    X = _sphere(60, 2, radius=1.0, seed=15).points
    nb = mp.knn(X[:50], 40)
    with pytest.raises(InputError, match="rows"):
        mp.scalar_curvature(X, dim=2, neighbors=nb)


def test_full_dimensional_data_refused_when_dimension_estimated():
    # points on a line given as one coordinate: estimated dimension 1 = ambient dimension
    X = np.random.default_rng(16).standard_normal((400, 1))
    with pytest.raises(InputError, match="full-dimensional"):
        mp.scalar_curvature(X, k=60)


def test_precomputed_graph_with_estimated_dimension():
    s = _sphere(400, 2, radius=1.0, seed=17)
    nb = mp.knn(s.points, 120)
    est = mp.scalar_curvature(s.points, neighbors=nb, return_se=True)
    assert est.dim == 2 and np.all(est.neighborhood_size <= 120)


def test_curvature_device_cpu_is_the_default_path_bit_for_bit_and_bad_devices_are_refused():
    # on a machine without CUDA, device=None is the CPU: the same numbers as device="cpu"
    import torch

    X = mp.datasets.sphere(600, dim=2, radius=2.0, ambient_dim=6, seed=3).points
    a = mp.scalar_curvature(X, dim=2, device="cpu")
    if not torch.cuda.is_available():
        assert np.array_equal(mp.scalar_curvature(X, dim=2), a)
    for bad in ("nonsense", "meta"):
        with pytest.raises(InputError, match="device"):
            mp.scalar_curvature(X, dim=2, device=bad)


def test_coefficient_count_is_the_binomial_and_never_lists_monomials():
    """C(n + d, d) monomials of degree <= d in n variables; the count must not enumerate them:
    a 768-wide layer whose dimension estimate rounds to hundreds once listed 10^10 quartic
    exponent vectors and exhausted memory before the fit could say it had too few points."""
    import math

    from manifold_probe.curvature._quadratic import monomial_exponents, n_coefficients

    for n in range(1, 8):
        for d in range(5):
            assert n_coefficients(n, d) == len(monomial_exponents(n, d)) == math.comb(n + d, d)
    assert n_coefficients(767, 4) == math.comb(771, 4)


def test_too_high_a_fit_dimension_is_refused_with_a_reason():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 300))
    with pytest.raises(InputError, match="distinct"):
        mp.scalar_curvature(X, dim=250)
