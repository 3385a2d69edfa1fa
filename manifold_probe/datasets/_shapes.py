"""Point clouds with known homology: each sample carries its true Betti numbers (Z/2).

>>> import manifold_probe as mp
>>> s = mp.datasets.torus_shape(500, R=3.0, r=1.0, ambient_dim=20, seed=0)
>>> s.points.shape, s.betti, s.truth(3)
((500, 20), (1, 2, 1), (1, 2, 1, 0))

Every generator takes ``n``, ``ambient_dim`` (a Haar-random isometric embedding into a larger
R^D), ``noise`` (isotropic Gaussian, standard deviation per ambient coordinate, so a point
moves by about ``noise * sqrt(D)``) and ``seed``. ``feature_size`` is the length that the
smallest feature's persistence scales with (a circle's radius, a torus's tube radius, the
gap between blobs); noise levels are best quoted relative to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_float, check_int
from manifold_probe.datasets._manifolds import check_ambient, check_common, finish_sample

__all__ = [
    "ShapeSample",
    "KNOWN_HOMOLOGY",
    "homology_shape",
    "circle",
    "ellipse",
    "figure_eight",
    "circles",
    "round_sphere",
    "torus_shape",
    "klein_bottle",
    "clifford_torus",
    "gaussian_blobs",
    "cube",
    "swiss_roll_shape",
]


@dataclass(frozen=True, eq=False)
class ShapeSample:
    """Points of a shape with known homology.

    Attributes
    ----------
    points : ndarray of shape (n, D), float64
    betti : tuple of int
        True Betti numbers (coefficients Z/2) :math:`\\beta_0, \\dots, \\beta_{top}`; all higher
        ones are 0.
    intrinsic_dim : int
    name : str
    feature_size : float
        Length scale of the smallest feature (see the module docstring).
    params : dict
        Everything that generated the sample.
    """

    points: np.ndarray
    betti: tuple[int, ...]
    intrinsic_dim: int
    name: str
    feature_size: float
    params: dict = field(default_factory=dict)

    def truth(self, maxdim: int) -> tuple[int, ...]:
        """The Betti numbers :math:`\\beta_0 \\dots \\beta_{maxdim}` (padded with zeros)."""
        b = tuple(self.betti[: maxdim + 1])
        return b + (0,) * (maxdim + 1 - len(b))


def _make(P, betti, intrinsic, name, size, n, ambient_dim, noise, rng, **params) -> ShapeSample:
    amb = check_ambient(ambient_dim, P.shape[1])
    X = finish_sample(P, ambient_dim=amb, noise=noise, rng=rng)
    params.update(n=n, ambient_dim=amb, noise=noise)
    return ShapeSample(X, tuple(betti), intrinsic, name, float(size), params)


def _angles(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.0, 2.0 * np.pi, n)


def circle(n, radius=1.0, ambient_dim=None, noise=0.0, seed=None) -> ShapeSample:
    """Uniform on a circle of the given radius; betti (1, 1)."""
    n, noise, rng = check_common(n, noise, seed)
    r = check_float(radius, name="radius", low=0.0, low_open=True)
    t = _angles(n, rng)
    return _make(r * np.c_[np.cos(t), np.sin(t)], (1, 1), 1, "circle", r, n, ambient_dim,
                 noise, rng, radius=r)


def ellipse(n, a=2.0, b=1.0, ambient_dim=None, noise=0.0, seed=None) -> ShapeSample:
    """Ellipse with semi-axes a >= b, uniform in the angle parameter; betti (1, 1)."""
    n, noise, rng = check_common(n, noise, seed)
    a = check_float(a, name="a", low=0.0, low_open=True)
    b = check_float(b, name="b", low=0.0, low_open=True)
    t = _angles(n, rng)
    return _make(np.c_[a * np.cos(t), b * np.sin(t)], (1, 1), 1, "ellipse", min(a, b), n,
                 ambient_dim, noise, rng, a=a, b=b)


def figure_eight(n, ambient_dim=None, noise=0.0, seed=None) -> ShapeSample:
    """Two unit circles touching at the origin (a wedge of two circles); betti (1, 2)."""
    n, noise, rng = check_common(n, noise, seed)
    t = _angles(n, rng)
    side = np.where(np.arange(n) < n // 2, -1.0, 1.0)
    P = np.c_[np.cos(t) + side, np.sin(t)]
    return _make(P, (1, 2), 1, "figure_eight", 1.0, n, ambient_dim, noise, rng)


def circles(n, k=2, spacing=3.0, ambient_dim=None, noise=0.0, seed=None) -> ShapeSample:
    """``k`` disjoint unit circles, centres ``spacing`` apart on a line; betti (k, k)."""
    n, noise, rng = check_common(n, noise, seed)
    k = check_int(k, name="k", minimum=1)
    spacing = check_float(spacing, name="spacing", low=2.0, low_open=True)
    t = _angles(n, rng)
    which = np.arange(n) % k
    P = np.c_[np.cos(t) + spacing * which, np.sin(t)]
    return _make(P, (k, k), 1, f"{k}_circles", min(1.0, (spacing - 2.0) / 2.0), n,
                 ambient_dim, noise, rng, k=k, spacing=spacing)


def round_sphere(n, dim=2, radius=1.0, ambient_dim=None, noise=0.0, seed=None) -> ShapeSample:
    """Uniform on S^dim (normalised Gaussians); betti 1 in degrees 0 and dim."""
    n, noise, rng = check_common(n, noise, seed)
    dim = check_int(dim, name="dim", minimum=1)
    r = check_float(radius, name="radius", low=0.0, low_open=True)
    Z = rng.standard_normal((n, dim + 1))
    P = r * Z / np.linalg.norm(Z, axis=1, keepdims=True)
    betti = [1] + [0] * (dim - 1) + [1]
    return _make(P, betti, dim, f"S{dim}", r, n, ambient_dim, noise, rng, dim=dim, radius=r)


def torus_shape(n, R=2.0, r=1.0, ambient_dim=None, noise=0.0, seed=None) -> ShapeSample:
    """Ring torus in R^3, uniform by area (rejection); betti (1, 2, 1)."""
    n, noise, rng = check_common(n, noise, seed)
    r = check_float(r, name="r", low=0.0, low_open=True)
    R = check_float(R, name="R", low=r, low_open=True)
    u, v = np.empty(0), np.empty(0)
    while len(u) < n:  # area element (R + r cos v) du dv
        uu, vv, w = _angles(2 * n, rng), _angles(2 * n, rng), rng.uniform(0, 1, 2 * n)
        keep = w < (R + r * np.cos(vv)) / (R + r)
        u, v = np.r_[u, uu[keep]], np.r_[v, vv[keep]]
    u, v = u[:n], v[:n]
    P = np.c_[(R + r * np.cos(v)) * np.cos(u), (R + r * np.cos(v)) * np.sin(u), r * np.sin(v)]
    return _make(P, (1, 2, 1), 2, "torus", r, n, ambient_dim, noise, rng, R=R, r=r)


def klein_bottle(n, R=2.0, r=1.0, ambient_dim=None, noise=0.0, seed=None) -> ShapeSample:
    """Klein bottle embedded in R^4 ("tube" embedding, uniform in the parameters).

    :math:`((R + r\\cos v)\\cos u, (R + r\\cos v)\\sin u, r\\sin v\\cos(u/2), r\\sin v\\sin(u/2))`;
    betti over Z/2: (1, 2, 1).
    """
    n, noise, rng = check_common(n, noise, seed)
    r = check_float(r, name="r", low=0.0, low_open=True)
    R = check_float(R, name="R", low=r, low_open=True)
    u, v = _angles(n, rng), _angles(n, rng)
    P = np.c_[(R + r * np.cos(v)) * np.cos(u), (R + r * np.cos(v)) * np.sin(u),
              r * np.sin(v) * np.cos(u / 2), r * np.sin(v) * np.sin(u / 2)]
    return _make(P, (1, 2, 1), 2, "klein_bottle", r, n, ambient_dim, noise, rng, R=R, r=r)


def clifford_torus(n, d=2, ambient_dim=None, noise=0.0, seed=None) -> ShapeSample:
    """Flat torus T^d: d unit circles in R^(2d); betti C(d, k)."""
    n, noise, rng = check_common(n, noise, seed)
    d = check_int(d, name="d", minimum=1, maximum=6)
    T = rng.uniform(0, 2 * np.pi, (n, d))
    P = np.concatenate([np.cos(T), np.sin(T)], axis=1)
    return _make(P, tuple(comb(d, k) for k in range(d + 1)), d, f"T{d}", 1.0, n, ambient_dim,
                 noise, rng, d=d)


def gaussian_blobs(n, k=2, separation=12.0, dim=3, ambient_dim=None, noise=0.0,
                   seed=None) -> ShapeSample:
    """``k`` standard Gaussian blobs in R^dim, centres ``separation`` sigmas apart on a line.

    Not compactly supported: its "betti (k, 0, ...)" is the number of clusters at the scale of
    their separation (what :func:`manifold_probe.betti_numbers` is documented to count).
    """
    n, noise, rng = check_common(n, noise, seed)
    k = check_int(k, name="k", minimum=1)
    dim = check_int(dim, name="dim", minimum=1)
    sep = check_float(separation, name="separation", low=0.0, low_open=True)
    P = rng.standard_normal((n, dim))
    P[:, 0] += sep * (np.arange(n) % k)
    return _make(P, (k,), dim, f"{k}_blobs", 1.0, n, ambient_dim, noise, rng, k=k,
                 separation=sep)


def cube(n, dim=3, side=1.0, ambient_dim=None, noise=0.0, seed=None) -> ShapeSample:
    """Uniform in the solid cube [0, side]^dim: contractible, betti (1,)."""
    n, noise, rng = check_common(n, noise, seed)
    dim = check_int(dim, name="dim", minimum=1)
    s = check_float(side, name="side", low=0.0, low_open=True)
    return _make(s * rng.uniform(0, 1, (n, dim)), (1,), dim, f"cube{dim}", s, n, ambient_dim,
                 noise, rng, dim=dim, side=s)


def swiss_roll_shape(n, turns=1.5, width=10.0, ambient_dim=None, noise=0.0,
                     seed=None) -> ShapeSample:
    """Swiss roll (uniform in its parameters): a rolled rectangle, contractible, betti (1,)."""
    n, noise, rng = check_common(n, noise, seed)
    turns = check_float(turns, name="turns", low=0.0, low_open=True)
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.uniform(0, 1, n) * turns / 1.5)
    h = rng.uniform(0, width, n)
    P = np.c_[t * np.cos(t), h, t * np.sin(t)]
    return _make(P, (1,), 2, "swiss_roll", 2 * np.pi, n, ambient_dim, noise, rng, turns=turns,
                 width=width)


KNOWN_HOMOLOGY = {
    "circle": circle,
    "ellipse": ellipse,
    "figure_eight": figure_eight,
    "circles": circles,
    "sphere": round_sphere,
    "torus": torus_shape,
    "klein_bottle": klein_bottle,
    "flat_torus": clifford_torus,
    "blobs": gaussian_blobs,
    "cube": cube,
    "swiss_roll": swiss_roll_shape,
}


def homology_shape(name: str, n: int, seed: Any = None, **options: Any) -> ShapeSample:
    """A shape of :data:`KNOWN_HOMOLOGY` by name, ``options`` passed on.

    >>> homology_shape("sphere", 100, dim=3, seed=0).betti
    (1, 0, 0, 1)
    """
    if isinstance(name, str) and name in KNOWN_HOMOLOGY:
        return KNOWN_HOMOLOGY[name](n, seed=seed, **options)
    raise InputError(f"unknown shape {name!r}; choose one of {sorted(KNOWN_HOMOLOGY)}")
