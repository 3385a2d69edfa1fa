"""Ground-truth manifolds: the samples lie on their manifolds with the right law, and the
truth they carry (dimension, curvature, geodesics) is right."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import pdist

import manifold_probe as mp
from manifold_probe import InputError
from manifold_probe.datasets import (
    available,
    benchmark,
    benchmark_names,
    flat_torus,
    generate,
    hyperbolic,
    pseudosphere,
    ring_torus,
    sphere,
    swiss_roll,
)

# Float64 rounding of a handful of operations on O(1) numbers: values that should be equal
# "exactly" agree to this.
EXACT = 1e-9
# KS tests of seeded samples against the exact law: p below this means the law is wrong (with a
# correct sampler a seeded test fails with probability 0.1%).
P_MIN = 1e-3

GENERATORS = {
    "sphere": lambda n, **kw: sphere(n, 2, **kw),
    "flat_torus": flat_torus,
    "ring_torus": ring_torus,
    "hyperbolic": hyperbolic,
    "pseudosphere": pseudosphere,
    "swiss_roll": swiss_roll,
}
NATIVE_DIM = {"sphere": 3, "flat_torus": 4, "ring_torus": 3, "hyperbolic": 2,
              "pseudosphere": 3, "swiss_roll": 3}


def _check_metric_space(D: np.ndarray, tol: float = 1e-9) -> None:
    """Symmetric, zero diagonal, non-negative, triangle inequality (finite entries)."""
    assert np.allclose(D, D.T, atol=tol, equal_nan=True)
    assert np.all(np.diag(D) == 0)
    assert np.nanmin(D) >= 0
    # d(i, j) <= d(i, k) + d(k, j) for every k
    via = np.nanmin(D[:, :, None] + D[None, :, :], axis=1)
    finite = np.isfinite(D) & np.isfinite(via)
    assert np.all(D[finite] <= via[finite] + tol * (1 + via[finite]))


# ------------------------------------------------------------------------------- contract


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generator_contract(name):
    s = GENERATORS[name](300, seed=1)
    assert s.points.shape == (300, NATIVE_DIM[name])
    assert s.points.dtype == np.float64 and s.points.flags.c_contiguous
    assert np.isfinite(s.points).all()
    assert s.name == name
    assert s.intrinsic_dim == 2
    assert s.latent is not None and s.latent.shape[0] == 300
    assert s.params["n"] == 300 and s.params["seed"] == 1
    with pytest.raises(AttributeError):  # frozen
        s.intrinsic_dim = 3
    # reproducible, seed-sensitive, Generator accepted
    assert np.array_equal(s.points, GENERATORS[name](300, seed=1).points)
    assert not np.allclose(s.points, GENERATORS[name](300, seed=2).points)
    g = GENERATORS[name](300, seed=np.random.default_rng(1))
    assert g.points.shape == s.points.shape


@pytest.mark.parametrize("name", list(GENERATORS))
def test_rotation_and_noise_keep_the_truth(name):
    base = GENERATORS[name](200, seed=5)
    up = GENERATORS[name](200, seed=5, ambient_dim=12)
    noisy = GENERATORS[name](200, seed=5, ambient_dim=12, noise=0.05)
    assert up.points.shape == (200, 12)
    # a random isometric embedding keeps every pairwise distance
    np.testing.assert_allclose(pdist(up.points), pdist(base.points), rtol=0, atol=EXACT)
    # the embedding is not the trivial zero-padding
    assert np.abs(up.points[:, NATIVE_DIM[name]:]).max() > 1e-3
    # noise: displacement of std 0.05 per coordinate -> mean squared norm 12 * 0.05^2; with
    # 200 x 12 draws the relative sampling error of that mean is ~ sqrt(2 / 2400) = 3%
    msq = np.mean(np.sum((noisy.points - up.points) ** 2, axis=1))
    assert abs(msq / (12 * 0.05**2) - 1) < 0.15
    # ground truth is that of the noise-free manifold
    if base.has_geodesics:
        np.testing.assert_array_equal(
            base.geodesic_distances([0, 3]), noisy.geodesic_distances([0, 3])
        )
    np.testing.assert_array_equal(np.asarray(base.scalar_curvature),
                                  np.asarray(noisy.scalar_curvature))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), dim=st.integers(1, 4),
       radius=st.floats(0.1, 10.0), extra=st.integers(0, 5))
def test_sphere_property(seed, dim, radius, extra):
    s = sphere(40, dim, radius=radius, ambient_dim=dim + 1 + extra, seed=seed)
    np.testing.assert_allclose(np.linalg.norm(s.points, axis=1), radius, rtol=EXACT)
    assert s.scalar_curvature == pytest.approx(dim * (dim - 1) / radius**2, rel=1e-12)
    G = s.geodesic_distances()
    # independent closed form: chord c -> geodesic 2 r arcsin(c / 2r)
    chord = np.linalg.norm(s.points[:, None] - s.points[None], axis=-1)
    expected = 2 * radius * np.arcsin(np.clip(chord / (2 * radius), 0, 1))
    np.testing.assert_allclose(G, expected, atol=1e-7 * radius)  # arccos near 1: ~sqrt(eps)
    _check_metric_space(G, tol=1e-7)


def test_sphere_geodesics_are_r_arccos_and_match_geomstats():
    s = sphere(300, 3, radius=2.5, seed=0)
    from geomstats.geometry.hypersphere import Hypersphere

    S3 = Hypersphere(3)
    assert np.all(S3.belongs(s.points / 2.5))
    G = s.geodesic_distances()
    cos = np.clip(s.points @ s.points.T / 2.5**2, -1, 1)
    np.testing.assert_allclose(G, 2.5 * np.arccos(cos), atol=1e-7)  # arccos: ~sqrt(eps) at 0
    # the reference implementation: geomstats' Hypersphere metric, on all pairs
    i, j = np.triu_indices(300, 1)
    ref = 2.5 * np.asarray(S3.metric.dist(s.points[i] / 2.5, s.points[j] / 2.5))
    np.testing.assert_allclose(G[i, j], ref, atol=1e-7)
    space, coords, scale = s.geomstats_space()
    assert isinstance(space, Hypersphere) and scale == 2.5
    np.testing.assert_allclose(scale * space.metric.dist(coords[i], coords[j]), ref, atol=1e-12)
    assert ring_torus(10, seed=0).geomstats_space() is None
    # sources select rows
    np.testing.assert_array_equal(s.geodesic_distances([4, 7]), G[[4, 7]])
    np.testing.assert_array_equal(s.geodesic_distances(9), G[[9]])
    # uniformity: a coordinate z = x_1 / r of a uniform point of S^n has density proportional
    # to (1 - z^2)^((n - 2) / 2), i.e. (z + 1) / 2 ~ Beta(n/2, n/2); here n = 3
    z = (s.points[:, 0] / 2.5 + 1) / 2
    assert stats.kstest(z, stats.beta(1.5, 1.5).cdf).pvalue > P_MIN


# ---------------------------------------------------------------------------------- tori


def test_flat_torus_geodesics_brute_force():
    lengths = [2.0, 3.0, 5.0]
    s = flat_torus(150, dim=3, lengths=lengths, seed=2)
    assert s.points.shape == (150, 6) and s.scalar_curvature == 0.0
    G = s.geodesic_distances()
    # brute force: shortest Euclidean distance over all lattice translates of the cover
    L = np.array(lengths)
    S = s.latent
    shifts = np.array(np.meshgrid(*[[-1, 0, 1]] * 3, indexing="ij")).reshape(3, -1).T * L
    diff = S[:, None, None, :] - S[None, :, None, :] + shifts[None, None]
    brute = np.linalg.norm(diff, axis=-1).min(axis=-1)
    np.testing.assert_allclose(G, brute, atol=EXACT)
    # each circle factor has radius L_i / 2 pi around the origin of its plane
    radii = np.hypot(s.points[:, 0::2], s.points[:, 1::2])
    np.testing.assert_allclose(radii, np.broadcast_to(L / (2 * np.pi), radii.shape), rtol=EXACT)
    # chords never exceed geodesics, and agree for close points (isometric embedding)
    chord = np.linalg.norm(s.points[:, None] - s.points[None], axis=-1)
    assert np.all(chord <= G + EXACT)
    close = (G > 0) & (G < 0.5)
    assert close.sum() > 50
    # chord of an arc of length a on a circle of radius rho is 2 rho sin(a / 2 rho) >=
    # a (1 - a^2 / 24 rho^2), factor by factor; here rho >= 1/pi
    assert np.all(chord[close] / G[close] >= 1 - 0.5**2 * np.pi**2 / 24 - EXACT)
    assert np.all(chord[close] / G[close] >= 1 - G[close] ** 2 * np.pi**2 / 24 - EXACT)


def test_ring_torus_on_surface_area_law_and_gauss_bonnet():
    R, r = 3.0, 1.0
    s = ring_torus(20000, major=R, minor=r, seed=3)
    x, y, z = s.points.T
    np.testing.assert_allclose((np.hypot(x, y) - R) ** 2 + z**2, r**2, atol=EXACT)
    t = s.latent[:, 0]
    # area-uniform: t has CDF (R t + r sin t) / (2 pi R)
    assert stats.kstest(t, lambda u: (R * u + r * np.sin(u)) / (2 * np.pi * R)).pvalue > P_MIN
    # closed-form curvature at the outer / inner equator: 2/(r(R+r)), -2/(r(R-r))
    K = np.asarray(s.scalar_curvature)
    np.testing.assert_allclose(K, 2 * np.cos(t) / (r * (R + r * np.cos(t))), rtol=EXACT)
    # Gauss-Bonnet: integral of K dA = 2 pi chi = 0, so the area-mean of S is 0; tolerance 4
    # standard errors of the Monte Carlo mean
    se = K.std() / np.sqrt(len(K))
    assert abs(K.mean()) < 4 * se
    # the check has power: sampling uniform in t instead of by area biases the mean by > 10 se
    t_bad = np.random.default_rng(0).random(20000) * 2 * np.pi
    K_bad = 2 * np.cos(t_bad) / (r * (R + r * np.cos(t_bad)))
    assert abs(K_bad.mean()) > 10 * se
    assert s.geodesic_distances() is None and not s.has_geodesics


# ----------------------------------------------------------------------------- hyperbolic


def _hyperbolic_radial_cdf(dim: int, U: float):
    # integral_0^u sinh^(dim-1): dim 2: cosh u - 1; dim 3: (sinh u cosh u - u) / 2
    if dim == 2:
        F = lambda u: np.cosh(u) - 1.0  # noqa: E731
    else:
        F = lambda u: (np.sinh(u) * np.cosh(u) - u) / 2.0  # noqa: E731
    return lambda u: F(np.asarray(u)) / F(U)


@pytest.mark.parametrize("dim,radius,rho_max", [(2, 1.0, 3.0), (3, 2.0, 5.0), (2, 0.5, 0.2)])
def test_hyperbolic_volume_law(dim, radius, rho_max):
    s = hyperbolic(4000, dim=dim, radius=radius, max_distance=rho_max, seed=4)
    assert s.scalar_curvature == pytest.approx(-dim * (dim - 1) / radius**2)
    rho = s.latent[:, 0]
    assert rho.max() <= rho_max
    cdf = _hyperbolic_radial_cdf(dim, rho_max / radius)
    assert stats.kstest(rho / radius, cdf).pvalue > P_MIN
    # power: the Euclidean-ball law rho^(dim-1) is rejected (for a ball large in units of r)
    if rho_max / radius > 1:
        euclid = stats.kstest(rho / rho_max, lambda v: np.asarray(v) ** dim).pvalue
        assert euclid < 1e-6
    # distance from the origin is rho: d(0, x) = 2 r artanh(|x| / r) in the scaled ball
    np.testing.assert_allclose(
        2 * radius * np.arctanh(np.linalg.norm(s.points, axis=1) / radius), rho, rtol=1e-8
    )


def test_hyperbolic_geodesics_exact_and_metric():
    s = hyperbolic(120, dim=3, radius=1.5, max_distance=4.0, seed=6)
    G = s.geodesic_distances()
    _check_metric_space(G)
    # independent closed form of the Poincare-ball distance
    u = s.points / 1.5
    sq = np.sum((u[:, None] - u[None]) ** 2, axis=-1)
    nu = 1 - np.sum(u**2, axis=1)
    expected = 1.5 * np.arccosh(1 + 2 * sq / np.outer(nu, nu))
    np.testing.assert_allclose(G, expected, atol=1e-7)  # arccosh: ~sqrt(eps) near 0
    # the reference implementation: geomstats' Poincare-ball metric, on all pairs
    from geomstats.geometry.poincare_ball import PoincareBall

    i, j = np.triu_indices(120, 1)
    ref = 1.5 * np.asarray(PoincareBall(3).metric.dist(u[i], u[j]))
    np.testing.assert_allclose(G[i, j], ref, rtol=1e-9, atol=1e-7)
    space, coords, scale = s.geomstats_space()
    assert isinstance(space, PoincareBall) and scale == 1.5
    np.testing.assert_allclose(coords, u, atol=1e-12)
    # the hyperboloid chart: same sample, points on -x0^2 + |x|^2 = -r^2, same geodesics
    hb = hyperbolic(120, dim=3, radius=1.5, max_distance=4.0, seed=6, model="hyperboloid")
    x0, xs = hb.points[:, 0], hb.points[:, 1:]
    np.testing.assert_allclose(-(x0**2) + np.sum(xs**2, axis=1), -(1.5**2), rtol=1e-9)
    # Minkowski distance: r arccosh(-<x, y>_M / r^2)
    mink = (np.outer(x0, x0) - xs @ xs.T) / 1.5**2
    np.testing.assert_allclose(1.5 * np.arccosh(np.maximum(mink, 1)), G, atol=1e-6)
    np.testing.assert_array_equal(hb.geodesic_distances(), G)
    # distances scale with the curvature radius
    s2 = hyperbolic(120, dim=3, radius=3.0, max_distance=8.0, seed=6)
    np.testing.assert_allclose(s2.geodesic_distances(), 2 * G, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- pseudosphere


def test_pseudosphere_on_surface_area_law_and_geodesics():
    r = 2.0
    s = pseudosphere(3000, radius=r, height=3.0, seed=7)
    assert s.scalar_curvature == pytest.approx(-2 / r**2)
    x, y, z = s.points.T
    rho = np.hypot(x, y) / r  # = sech u
    # the tractrix: z = r (arsech(rho) - sqrt(1 - rho^2))
    np.testing.assert_allclose(z, r * (np.arccosh(1 / rho) - np.sqrt(1 - rho**2)), atol=1e-8)
    assert z.min() >= 0 and z.max() <= 3.0 + EXACT
    # area-uniform: u has CDF (1 - sech u) / (1 - sech U)
    U = s.params["u_max"]
    assert U - np.tanh(U) == pytest.approx(3.0 / r, rel=1e-12)
    u = s.latent[:, 0]
    assert stats.kstest(u, lambda v: (1 - 1 / np.cosh(v)) / (1 - 1 / np.cosh(U))).pvalue > P_MIN

    idx = np.arange(200)
    G = s.geodesic_distances(idx)[:, idx]
    _check_metric_space(G)
    assert np.isnan(G).mean() < 0.05  # only paths that would cross the cut-off neck
    # along a meridian (same v) the distance is r |log cosh u1 - log cosh u2|
    # (metric r^2 tanh^2 u du^2 along a meridian); test the pair metric on such a pair
    coords = np.array([[0.4, np.cosh(0.3)], [0.4, np.cosh(1.7)]])  # (v, y = cosh u)
    d = s._metric(coords[:1], coords[1:])[0]
    assert d == pytest.approx(r * (np.log(np.cosh(1.7)) - np.log(np.cosh(0.3))), rel=1e-12)
    # nearby points: geodesic ~ chord (embedding is isometric); relative gap is O(d^2 k) with
    # normal curvature k <= 1/(r sech U) on this piece
    near = np.isfinite(G) & (G > 0) & (G < 0.05)
    chord = np.linalg.norm(s.points[idx, None] - s.points[None, idx], axis=-1)
    assert near.any()
    np.testing.assert_allclose(chord[near], G[near], rtol=0.05**2 * np.cosh(U) ** 2 / r**2)


# ---------------------------------------------------------------------------- swiss roll


def test_swiss_roll_geodesics_unrolled():
    s = swiss_roll(2000, seed=8)
    x, h, z = s.points.T
    t = np.hypot(x, z)
    np.testing.assert_allclose(np.arctan2(z, x) % (2 * np.pi), t % (2 * np.pi), atol=1e-8)
    assert t.min() >= 1.5 * np.pi - EXACT and t.max() <= 4.5 * np.pi + EXACT
    # uniform by area: the unrolled arc-length coordinate is uniform on [0, s_max]
    s_coord = s.latent[:, 0]
    def arc(t):  # arc length of (t cos t, t sin t) from 0: integral of sqrt(1 + t^2)
        return 0.5 * (t * np.sqrt(1 + t * t) + np.arcsinh(t))

    s_max = arc(4.5 * np.pi) - arc(1.5 * np.pi)
    assert s_coord.max() <= s_max
    assert stats.kstest(s_coord / s_max, "uniform").pvalue > P_MIN
    # arc length checked against a fine polyline of the spiral
    i, j = np.argmin(t), np.argmax(t)
    tt = np.linspace(t[i], t[j], 200001)
    poly = np.sum(np.hypot(np.diff(tt * np.cos(tt)), np.diff(tt * np.sin(tt))))
    G = s.geodesic_distances([i])[0, j]
    # polyline error ~ curvature * step^2 * length / 24 << 1e-6
    assert G == pytest.approx(np.hypot(poly, h[i] - h[j]), rel=1e-6)
    sub = s.geodesic_distances(np.arange(100))[:, :100]
    _check_metric_space(sub)
    chord = np.linalg.norm(s.points[:100, None] - s.points[None, :100], axis=-1)
    assert np.all(chord <= sub + EXACT)


# ------------------------------------------------------------------------------ benchmark


def test_benchmark_table_matches_scikit_dimension():
    skdim = pytest.importorskip("skdim")
    truth = skdim.datasets.BenchmarkManifolds(random_state=0)._dict_truth
    assert benchmark_names() == tuple(truth)
    assert len(benchmark_names()) == 24
    for name, (d, D, _) in truth.items():
        s = benchmark(name, 60, seed=0)
        assert (s.intrinsic_dim, s.points.shape) == (d, (60, D)), name
        assert np.isfinite(s.points).all(), name
        assert s.name == name


def test_benchmark_laws_match_scikit_dimension():
    """Same parameterisations and sampling laws: every coordinate's distribution in our sample
    equals that of scikit-dimension's generator (two-sample KS, Bonferroni over all tests)."""
    skdim = pytest.importorskip("skdim")
    bm = skdim.datasets.BenchmarkManifolds(random_state=0)
    pvalues = []
    for name, (d, D, _) in bm._dict_truth.items():
        theirs = bm.generate(name, n=3000, dim=D, d=d)
        ours = benchmark(name, 3000, seed=0).points
        for j in range(min(D, 8)):
            if np.ptp(theirs[:, j]) == 0 and np.ptp(ours[:, j]) == 0:
                continue
            pvalues.append(stats.ks_2samp(ours[:, j], theirs[:, j]).pvalue)
    assert len(pvalues) > 100
    # family-wise error 1e-3
    threshold = 1e-3 / len(pvalues)
    assert min(pvalues) > threshold
    # power: a subtle change of law (the roll uniform by area instead of by spiral angle) is
    # rejected at this threshold
    roll = bm.generate("M7_Roll", n=3000, dim=3, d=2)
    by_area = swiss_roll(3000, seed=0).points
    assert min(stats.ks_2samp(by_area[:, j], roll[:, j]).pvalue for j in range(3)) < threshold


@pytest.mark.parametrize("name", ["M1_Sphere", "M2_Affine_3to5", "M5a_Helix1d", "M7_Roll",
                                  "M9_Affine", "M12_Norm", "M13a_Scurve", "M13b_Spiral"])
def test_benchmark_geodesics(name):
    s = benchmark(name, 150, seed=9)
    G = s.geodesic_distances()
    assert G.shape == (150, 150)
    _check_metric_space(G, tol=1e-7)
    chord = pdist(s.points)
    from scipy.spatial.distance import squareform

    assert np.all(squareform(chord) <= G + 1e-7)  # a geodesic is never shorter than the chord
    if name in ("M2_Affine_3to5", "M9_Affine", "M12_Norm"):
        np.testing.assert_allclose(squareform(chord), G, atol=EXACT)


def test_helix_arc_length_against_polyline():
    s = benchmark("M5a_Helix1d", 50, seed=3)
    t = s.latent[:, 0]
    i, j = np.argmin(t), np.argmax(t)
    tt = np.linspace(t[i], t[j], 400001)
    ring = 2 + np.cos(8 * tt)
    curve = np.column_stack([ring * np.cos(tt), ring * np.sin(tt), np.sin(8 * tt)])
    along = np.sum(np.linalg.norm(np.diff(curve, axis=0), axis=1))
    total_tt = np.linspace(0, 2 * np.pi, 800001)
    ring = 2 + np.cos(8 * total_tt)
    loop = np.column_stack([ring * np.cos(total_tt), ring * np.sin(total_tt), np.sin(8 * total_tt)])
    total = np.sum(np.linalg.norm(np.diff(loop, axis=0), axis=1))
    # polyline error: curvature (< 70 here) * step^2 * length / 24 ~ 1e-9 relative
    assert s.geodesic_distances([i])[0, j] == pytest.approx(min(along, total - along), rel=1e-7)


def test_benchmark_known_forms():
    s = benchmark("M1_Sphere", 200, seed=1)
    np.testing.assert_allclose(np.linalg.norm(s.points, axis=1), 1.0, rtol=EXACT)
    assert s.scalar_curvature == 90.0
    c = benchmark("M10b_Cubic", 2000, seed=1)
    # each point on exactly one face of [0,1]^18 (other coordinates interior a.s.)
    on_face = np.sum((c.points == 0) | (c.points == 1), axis=1)
    assert np.all(on_face == 1)
    # faces uniform: each of the 36 faces gets 2000/36 ~ 55.6 points; chi-square test
    # the 36 faces equally likely: chi-square test of the face counts (~55.6 each)
    axis = np.argmax((c.points == 0) | (c.points == 1), axis=1)
    side = c.points[np.arange(2000), axis].astype(int)
    counts = np.bincount(2 * axis + side, minlength=36)
    assert stats.chisquare(counts).pvalue > P_MIN
    p = benchmark("Mp1_Paraboloid", 300, seed=1).points
    np.testing.assert_allclose(p[:, 3], np.sum(p[:, :3] ** 2, axis=1), rtol=EXACT)
    np.testing.assert_allclose(p[:, 4:8], np.sin(p[:, :4]), rtol=EXACT)
    h = benchmark("M5b_Helix2d", 300, seed=1)
    rr = np.hypot(h.points[:, 0], h.points[:, 1])
    np.testing.assert_allclose(h.scalar_curvature, -2 * 0.25 / (0.25 + rr**2) ** 2, rtol=1e-9)
    up = benchmark("M4_Nonlinear", 100, seed=2, ambient_dim=30)
    base = benchmark("M4_Nonlinear", 100, seed=2)
    np.testing.assert_allclose(pdist(up.points), pdist(base.points), atol=EXACT)


def test_available_and_generate():
    av = available()
    assert set(benchmark_names()) <= set(av)
    assert {"sphere", "flat_torus", "ring_torus", "hyperbolic", "pseudosphere",
            "swiss_roll"} <= set(av)
    assert all(isinstance(v, str) and v for v in av.values())
    np.testing.assert_array_equal(generate("sphere", 50, dim=3, seed=1).points,
                                  sphere(50, 3, seed=1).points)
    np.testing.assert_array_equal(generate("Mbeta", 50, seed=1).points,
                                  benchmark("Mbeta", 50, seed=1).points)
    assert mp.datasets.sphere is sphere


def test_import_is_light():
    code = ("import sys, manifold_probe as mp; mp.datasets.sphere(10, 2, seed=0); "
            "bad = [m for m in ('geomstats', 'gudhi', 'transformers', 'typer', 'ot') "
            "if m in sys.modules]; print(bad); assert not bad; "
            "assert 'manifold_probe.datasets.corpus' not in sys.modules; "
            "assert callable(mp.datasets.load_corpus)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: sphere(0, 2), "n must be >= 1"),
        (lambda: sphere(10.5, 2), "n must be an integer"),
        (lambda: sphere(10, 0), "dim must be >= 1"),
        (lambda: sphere(10, 2, radius=0), "radius must be >"),
        (lambda: sphere(10, 2, noise=-0.1), "noise must be >="),
        (lambda: sphere(10, 2, noise=float("nan")), "noise must be finite"),
        (lambda: sphere(10, 2, ambient_dim=2), "ambient_dim=2 is smaller"),
        (lambda: sphere(10, 2, seed="x"), "seed must be"),
        (lambda: flat_torus(10, dim=2, lengths=[1, 2, 3]), "lengths must be one number or 2"),
        (lambda: flat_torus(10, lengths=-1.0), "lengths must be finite and > 0"),
        (lambda: flat_torus(10, dim=2, ambient_dim=3), "ambient_dim=3 is smaller"),
        (lambda: ring_torus(10, major=1.0, minor=1.0), "major > minor"),
        (lambda: ring_torus(10, minor=-1.0), "minor must be >"),
        (lambda: hyperbolic(10, dim=1), "dim must be >= 2"),
        (lambda: hyperbolic(10, max_distance=0.0), "max_distance must be >"),
        (lambda: hyperbolic(10, max_distance=50.0), "exceeds 20"),
        (lambda: hyperbolic(10, model="klein"), "model='klein' is not supported"),
        (lambda: hyperbolic(10, dim=2, model="hyperboloid", ambient_dim=2), "smaller"),
        (lambda: pseudosphere(10, height=-1.0), "height must be >"),
        (lambda: pseudosphere(10, height=100.0), "exceeds 20"),
        (lambda: swiss_roll(10, ambient_dim=2), "ambient_dim=2 is smaller"),
        (lambda: benchmark("m1_sphere", 10), "did you mean 'M1_Sphere'"),
        (lambda: benchmark("nope", 10), "unknown benchmark"),
        (lambda: benchmark("M1_Sphere", 10, ambient_dim=5), "ambient_dim=5 is smaller"),
        (lambda: generate("nope", 10), "unknown data set"),
        (lambda: sphere(10, 2).geodesic_distances([10]), "out of range"),
        (lambda: sphere(10, 2).geodesic_distances([-1]), "out of range"),
        (lambda: sphere(10, 2).geodesic_distances([0.5]), "integer"),
        (lambda: sphere(10, 2).geodesic_distances([[0, 1]]), "1-D"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(InputError, match=match):
        call()
