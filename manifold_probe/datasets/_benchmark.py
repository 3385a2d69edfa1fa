"""The intrinsic-dimension benchmark suite of Hein & Audibert (2005) and Campadelli et al. (2015).

The 24 data sets, their names, true intrinsic dimensions and ambient dimensions are those of
scikit-dimension 0.5's ``BenchmarkManifolds`` (Bac et al. 2021), so results compare one to one
with published tables. The generators are written here from the published definitions; where
a closed form is known, the sample carries exact geodesic distances and scalar curvature too.

References
----------
Hein & Audibert 2005, "Intrinsic dimensionality estimation of submanifolds in R^d", ICML.
Campadelli, Casiraghi, Ceruti & Rozza 2015, "Intrinsic dimension estimation: relevant
techniques and a benchmark framework", Mathematical Problems in Engineering 2015:759567.
Bac, Mirkes, Gorban, Tyukin & Zinovyev 2021, "Scikit-dimension: a Python package for intrinsic
dimension estimation", Entropy 23(10):1368.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from manifold_probe._validation import InputError, check_float, check_seed
from manifold_probe.datasets._manifolds import (
    ManifoldSample,
    check_ambient,
    check_n,
    euclidean_block,
    finish_sample,
    seed_repr,
    sphere,
)
from manifold_probe.datasets._surfaces import spiral_arclength

__all__ = ["benchmark", "benchmark_names", "BENCHMARK_TABLE"]


class _Spec(NamedTuple):
    intrinsic_dim: int
    ambient_dim: int
    description: str


# name -> (true ID, ambient dimension, description): scikit-dimension 0.5's table.
BENCHMARK_TABLE: dict[str, _Spec] = {
    "M1_Sphere": _Spec(10, 11, "10-sphere in R^11"),
    "M2_Affine_3to5": _Spec(3, 5, "3-d affine subspace of R^5"),
    "M3_Nonlinear_4to6": _Spec(4, 6, "4-d nonlinear manifold in R^6, concentrated near 3-d"),
    "M4_Nonlinear": _Spec(4, 8, "4-d nonlinear manifold in R^8"),
    "M5a_Helix1d": _Spec(1, 3, "closed 1-d helix in R^3"),
    "M5b_Helix2d": _Spec(2, 3, "helicoid (2-d helix) in R^3"),
    "M6_Nonlinear": _Spec(6, 36, "6-d nonlinear manifold in R^36"),
    "M7_Roll": _Spec(2, 3, "swiss roll in R^3"),
    "M8_Nonlinear": _Spec(12, 72, "12-d strongly curved nonlinear manifold in R^72"),
    "M9_Affine": _Spec(20, 20, "20-d affine space (uniform cube)"),
    "M10a_Cubic": _Spec(10, 11, "boundary of the 11-cube (10-d)"),
    "M10b_Cubic": _Spec(17, 18, "boundary of the 18-cube (17-d)"),
    "M10c_Cubic": _Spec(24, 25, "boundary of the 25-cube (24-d)"),
    "M10d_Cubic": _Spec(70, 71, "boundary of the 71-cube (70-d)"),
    "M11_Moebius": _Spec(2, 3, "Moebius band, 10 times twisted, in R^3"),
    "M12_Norm": _Spec(20, 20, "isotropic 20-d Gaussian"),
    "M13a_Scurve": _Spec(2, 3, "S-curve in R^3"),
    "M13b_Spiral": _Spec(1, 13, "1-d helix curve in R^13"),
    "Mbeta": _Spec(10, 40, "10-d manifold in R^40 with a smooth non-uniform (beta) density"),
    "Mn1_Nonlinear": _Spec(18, 72, "18-d nonlinearly embedded manifold in R^72"),
    "Mn2_Nonlinear": _Spec(24, 96, "24-d nonlinearly embedded manifold in R^96"),
    "Mp1_Paraboloid": _Spec(3, 12, "3-d paraboloid in R^12, multivariate Burr density"),
    "Mp2_Paraboloid": _Spec(6, 21, "6-d paraboloid in R^21, multivariate Burr density"),
    "Mp3_Paraboloid": _Spec(9, 30, "9-d paraboloid in R^30, multivariate Burr density"),
}


def benchmark_names() -> tuple[str, ...]:
    """Names of the 24 benchmark data sets, in the order of scikit-dimension's table."""
    return tuple(BENCHMARK_TABLE)


class _Truth(NamedTuple):
    points: np.ndarray  # (n, native ambient dim)
    curvature: float | np.ndarray | None = None
    latent: np.ndarray | None = None
    geodesic_coords: np.ndarray | None = None
    metric: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


def _pad(Y: np.ndarray, D: int) -> np.ndarray:
    return np.hstack([Y, np.zeros((Y.shape[0], D - Y.shape[1]))])


def _flat(Y: np.ndarray, latent: np.ndarray | None = None) -> _Truth:
    """A convex piece of a flat space embedded linearly: geodesics are Euclidean distances."""
    return _Truth(Y, 0.0, latent, Y, euclidean_block)


def _affine_3to5(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # Hein & Audibert's M2: p ~ U[0, 4]^3 mapped by a fixed full-rank affine map into R^5
    A = np.array(
        [[1.2, -0.5, 0.0], [0.5, 0.9, 0.0], [-0.5, -0.2, 1.0], [0.4, -0.9, -0.1], [1.1, -0.3, 0.0]]
    )
    b = np.array([3.0, -1.0, 0.0, 0.0, 8.0])
    p = 4.0 * rng.random((n, 3))
    return _flat(p @ A.T + b, latent=p)


def _nonlinear_4to6(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    p = rng.random((n, 4))
    a, b, c, e = p.T
    Y = np.column_stack(
        [
            b**2 * np.cos(2 * np.pi * a),
            c**2 * np.sin(2 * np.pi * a),
            b + c + (b - e) ** 2,
            b - 2 * c + (a - e) ** 2,
            -b - 2 * c + (c - e) ** 2,
            a**2 - b**2 + c**2 - e**2,
        ]
    )
    return _Truth(Y, latent=p)


def _nonlinear_cyclic(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # M4/M6/M8: for each i, the pair p_{i+1} (cos 2 pi p_i, sin 2 pi p_i) (indices cyclic), the
    # 2d coordinates repeated D / (2d) times.
    p = rng.random((n, d))
    nxt = np.roll(p, -1, axis=1)
    block = np.empty((n, 2 * d))
    block[:, 0::2] = nxt * np.cos(2 * np.pi * p)
    block[:, 1::2] = nxt * np.sin(2 * np.pi * p)
    return _Truth(np.tile(block, (1, D // (2 * d))), latent=p)


def _helix_speed(t: np.ndarray) -> np.ndarray:
    # |x'(t)| of ((2 + cos 8t) cos t, (2 + cos 8t) sin t, sin 8t): sqrt(64 + (2 + cos 8t)^2)
    return np.sqrt(64.0 + (2.0 + np.cos(8.0 * t)) ** 2)


def _helix_arclength(t: np.ndarray) -> np.ndarray:
    """Arc length from 0 to t of the M5a helix, to float precision.

    The speed has period pi/4: whole periods contribute a constant (trapezoid rule, exact to
    rounding for a smooth periodic integrand), the remainder a 64-node Gauss-Legendre rule
    (the integrand is analytic, so the rule's error is far below rounding).
    """
    period = np.pi / 4
    grid = np.linspace(0.0, period, 513)[:-1]
    per_period = period * np.mean(_helix_speed(grid))
    k, rem = np.divmod(t, period)
    x, w = np.polynomial.legendre.leggauss(64)
    nodes = 0.5 * rem[:, None] * (x[None, :] + 1.0)
    partial = 0.5 * rem * (_helix_speed(nodes) @ w)
    return k * per_period + partial


def _helix1d(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # closed curve: the geodesic is the shorter of the two arcs
    t = 2 * np.pi * rng.random(n)
    ring = 2.0 + np.cos(8 * t)
    Y = np.column_stack([ring * np.cos(t), ring * np.sin(t), np.sin(8 * t)])
    s = _helix_arclength(t)[:, None]
    total = float(_helix_arclength(np.array([2 * np.pi]))[0])

    def metric(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        gap = np.abs(A[:, 0, None] - B[None, :, 0])
        return np.minimum(gap, total - gap)

    return _Truth(_pad(Y, D), 0.0, t[:, None], s, metric)  # any 1-manifold is flat


def _helicoid(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # (r cos p, r sin p, c p) with c = 1/2: Gaussian curvature -c^2 / (c^2 + r^2)^2
    # (do Carmo 1976, §3-3 Ex. 5), scalar curvature twice that.
    c = 0.5
    r = 10 * np.pi * rng.random(n)
    p = 10 * np.pi * rng.random(n)
    Y = np.column_stack([r * np.cos(p), r * np.sin(p), c * p])
    return _Truth(_pad(Y, D), -2 * c**2 / (c**2 + r**2) ** 2, np.column_stack([r, p]))


def _roll(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # Hein & Audibert's swiss roll, uniform in the spiral angle t (not by area); developable,
    # so geodesics are Euclidean distances of the unrolled coordinates (arc length s(t), h).
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.random(n))
    h = 21.0 * rng.random(n)
    Y = np.column_stack([t * np.cos(t), h, t * np.sin(t)])
    unrolled = np.column_stack([spiral_arclength(t) - spiral_arclength(1.5 * np.pi), h])
    return _Truth(_pad(Y, D), 0.0, unrolled, unrolled, euclidean_block)


def _affine(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    p = 5.0 * rng.random((n, d)) - 2.5
    return _flat(_pad(p, D), latent=p)


def _cube_boundary(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # uniform on the boundary of [0, 1]^(d+1): a face (coordinate, side) uniformly at random,
    # the other coordinates uniform. Flat faces but not a smooth manifold along the edges, so
    # no curvature or geodesic truth is given.
    Y = rng.random((n, d + 1))
    face = rng.integers(0, d + 1, size=n)
    Y[np.arange(n), face] = rng.integers(0, 2, size=n)
    return _Truth(_pad(Y, D))


def _moebius(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    phi = 2 * np.pi * rng.random(n)
    w = 2.0 * rng.random(n) - 1.0
    ring = 1.0 + 0.5 * w * np.cos(5 * phi)
    Y = np.column_stack([ring * np.cos(phi), ring * np.sin(phi), 0.5 * w * np.sin(5 * phi)])
    return _Truth(Y, latent=np.column_stack([phi, w]))


def _normal(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    p = rng.standard_normal((n, d))
    return _flat(_pad(p, D), latent=p)


def _scurve(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # (sin t, h, sign(t)(cos t - 1)): the profile curve has unit speed, so (t, h) is an
    # isometric chart onto a rectangle and geodesics are its Euclidean distances.
    t = 3 * np.pi * (rng.random(n) - 0.5)
    h = 2.0 * rng.random(n)
    Y = np.column_stack([np.sin(t), h, np.sign(t) * (np.cos(t) - 1.0)])
    chart = np.column_stack([t, h])
    return _Truth(_pad(Y, D), 0.0, chart, chart, euclidean_block)


def _spiral(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # (100 cos t, 100 sin t, t), t in [0, 10 pi]: unit speed after scaling by sqrt(100^2 + 1),
    # so the arc length along the curve is exact.
    t = 10 * np.pi * rng.random(n)
    Y = np.column_stack([100 * np.cos(t), 100 * np.sin(t), t])
    s = np.sqrt(100.0**2 + 1.0) * t[:, None]
    return _Truth(_pad(Y, D), 0.0, t[:, None], s, euclidean_block)


def _campadelli_beta(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # Campadelli et al. 2015, M_beta: x_i ~ Beta(10, 0.5) independently, each coordinate
    # embedded by x -> (x sin(cos 2 pi x), x cos(sin 2 pi x)); the blocks are repeated twice.
    x = rng.beta(10.0, 0.5, size=(n, d))
    a = x * np.sin(np.cos(2 * np.pi * x))
    b = x * np.cos(np.sin(2 * np.pi * x))
    return _Truth(np.hstack([a, b, a, b]), latent=x)


def _campadelli_n(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # Campadelli et al. 2015, M_N1 / M_N2: x ~ U[0, 1]^d,
    # a_i = tan(x_i cos x_{d-1-i}), b_i = arctan(x_{d-1-i} sin x_i); blocks repeated twice.
    x = rng.random((n, d))
    rev = x[:, ::-1]
    a = np.tan(x * np.cos(rev))
    b = np.arctan(rev * np.sin(x))
    return _Truth(np.hstack([a, b, a, b]), latent=x)


def _paraboloid(n: int, rng: np.random.Generator, d: int, D: int) -> _Truth:
    # Campadelli et al. 2015, M_P: x_i = 1 / (1 + E_i / E_0), E ~ Exp(1)^(d+1) (a multivariate
    # Burr law with alpha = 1), the paraboloid z = |x|^2, then (y, sin y, y^2) for y = (x, z).
    E = rng.exponential(1.0, size=(n, d + 1))
    x = 1.0 / (1.0 + E[:, 1:] / E[:, :1])
    y = np.hstack([x, np.sum(x * x, axis=1, keepdims=True)])
    return _Truth(np.hstack([y, np.sin(y), y * y]), latent=x)


_GENERATORS: dict[str, Callable[[int, np.random.Generator, int, int], _Truth]] = {
    "M2_Affine_3to5": _affine_3to5,
    "M3_Nonlinear_4to6": _nonlinear_4to6,
    "M4_Nonlinear": _nonlinear_cyclic,
    "M5a_Helix1d": _helix1d,
    "M5b_Helix2d": _helicoid,
    "M6_Nonlinear": _nonlinear_cyclic,
    "M7_Roll": _roll,
    "M8_Nonlinear": _nonlinear_cyclic,
    "M9_Affine": _affine,
    "M10a_Cubic": _cube_boundary,
    "M10b_Cubic": _cube_boundary,
    "M10c_Cubic": _cube_boundary,
    "M10d_Cubic": _cube_boundary,
    "M11_Moebius": _moebius,
    "M12_Norm": _normal,
    "M13a_Scurve": _scurve,
    "M13b_Spiral": _spiral,
    "Mbeta": _campadelli_beta,
    "Mn1_Nonlinear": _campadelli_n,
    "Mn2_Nonlinear": _campadelli_n,
    "Mp1_Paraboloid": _paraboloid,
    "Mp2_Paraboloid": _paraboloid,
    "Mp3_Paraboloid": _paraboloid,
}


def benchmark(
    name: str,
    n: int,
    seed: Any = None,
    ambient_dim: int | None = None,
    noise: float = 0.0,
) -> ManifoldSample:
    """One data set of the Hein & Audibert / Campadelli benchmark suite.

    Parameters
    ----------
    name : str
        One of :func:`benchmark_names` (e.g. ``"M1_Sphere"``, ``"M10d_Cubic"``), exact spelling.
    n : int
        Number of points.
    seed : int, numpy Generator or None
        Source of randomness.
    ambient_dim : int or None, default=None
        ``None`` keeps the suite's ambient dimension; a larger value maps the data set into
        R^ambient_dim by a random linear isometry.
    noise : float, default=0.0
        Standard deviation of isotropic Gaussian noise added in ambient coordinates
        (scikit-dimension adds uniform noise instead; the truth is that of the noise-free set).

    Returns
    -------
    ManifoldSample
        ``intrinsic_dim`` the true ID of the table; ``scalar_curvature`` where a closed form is
        known (M1 sphere 90; flat sets and curves 0; the helicoid M5b per point), else ``None``;
        exact geodesics for M1 (sphere), M2, M9, M12 (convex flat sets: Euclidean), M7 and M13a
        (developable: unrolled coordinates), M5a and M13b (arc length along the curve), else
        ``None``.

    Notes
    -----
    M10 (cube boundaries) is sampled uniformly over the 2(d+1) faces. M7 is sampled uniformly
    in the spiral angle, as in the original suite (not uniformly by area as in
    :func:`swiss_roll`).

    References
    ----------
    Hein & Audibert 2005 (ICML); Campadelli, Casiraghi, Ceruti & Rozza 2015 (Math. Probl. Eng.).
    """
    if not isinstance(name, str) or name not in BENCHMARK_TABLE:
        close = [k for k in BENCHMARK_TABLE if isinstance(name, str) and k.lower() == name.lower()]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"unknown benchmark data set {name!r}{hint} Choose one of "
            f"mp.datasets.benchmark_names(): {list(BENCHMARK_TABLE)}"
        )
    spec = BENCHMARK_TABLE[name]
    n = check_n(n)
    noise = check_float(noise, name="noise", low=0.0)
    rng = check_seed(seed)
    ambient = check_ambient(ambient_dim, spec.ambient_dim)
    params = dict(n=n, ambient_dim=ambient, noise=noise, seed=seed_repr(seed))

    if name == "M1_Sphere":
        s = sphere(n, spec.intrinsic_dim, ambient_dim=ambient, noise=noise, seed=rng)
        return ManifoldSample(
            points=s.points,
            intrinsic_dim=spec.intrinsic_dim,
            name=name,
            scalar_curvature=s.scalar_curvature,
            latent=s.latent,
            params=params,
            _geodesic_coords=s._geodesic_coords,
            _metric=s._metric,
            _geomstats=s._geomstats,
        )

    truth = _GENERATORS[name](n, rng, spec.intrinsic_dim, spec.ambient_dim)
    assert truth.points.shape == (n, spec.ambient_dim)  # internal invariant, not user input
    X = finish_sample(truth.points, ambient_dim=ambient, noise=noise, rng=rng)
    return ManifoldSample(
        points=X,
        intrinsic_dim=spec.intrinsic_dim,
        name=name,
        scalar_curvature=truth.curvature,
        latent=truth.latent,
        params=params,
        _geodesic_coords=truth.geodesic_coords,
        _metric=truth.metric,
    )
