"""Ground-truth manifolds: samples with their exact intrinsic dimension, curvature and geodesics.

Every generator returns a :class:`ManifoldSample`. The ground truth (``intrinsic_dim``,
``scalar_curvature``, :meth:`ManifoldSample.geodesic_distances`) always describes the
noise-free manifold in its own coordinates: the optional random rotation into a higher ambient
dimension is an isometry, so it changes none of it, and the optional Gaussian noise is extra —
it moves the points off the manifold, and the truth stays that of the manifold.

Curvature follows the Riemannian convention used throughout manifold_probe: the scalar
curvature of the round sphere :math:`S^n` of radius :math:`r` is :math:`n(n-1)/r^2`, of flat
space 0, of a space of constant sectional curvature :math:`-1/r^2` it is :math:`-n(n-1)/r^2`;
for a surface it is twice the Gaussian curvature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manifold_probe._validation import (
    InputError,
    check_float,
    check_int,
    check_seed,
)

__all__ = ["ManifoldSample", "sphere", "flat_torus"]

# Number of (source, target) distances evaluated at once by geodesic_distances: bounds the
# temporary memory at a few tens of MB whatever n is.
_PAIR_BLOCK = 1 << 21

# metric(A, B) -> (len(A), len(B)) geodesic distances between rows of two coordinate arrays
BlockMetric = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class ManifoldSample:
    """Points sampled from a manifold, with the manifold's ground truth.

    Attributes
    ----------
    points : ndarray of shape (n, D), float64
        The sample in ambient coordinates (after the optional rotation and noise).
    intrinsic_dim : int
        Dimension of the manifold.
    name : str
        Short name of the manifold ("sphere", "M1_Sphere", ...).
    scalar_curvature : float, ndarray of shape (n,), or None
        Riemannian scalar curvature of the noise-free manifold at each point (a float when it
        is constant), ``None`` when no closed form is known.
    latent : ndarray of shape (n, q) or None
        Intrinsic coordinates of each point (angles, arc lengths, ...), as documented by the
        generator.
    params : dict
        Everything that generated the sample (sizes, radii, noise, seed, ...).

    Notes
    -----
    The exact geodesic distances come from :meth:`geodesic_distances`; they are those of the
    noise-free manifold with its intrinsic (Riemannian) metric.
    """

    points: np.ndarray
    intrinsic_dim: int
    name: str
    scalar_curvature: float | np.ndarray | None = None
    latent: np.ndarray | None = None
    params: dict = field(default_factory=dict)
    # Coordinates in which the metric below is evaluated, and the metric on blocks of rows:
    # metric(A, B)[i, j] = geodesic distance between A[i] and B[j]. None: no exact geodesics.
    _geodesic_coords: np.ndarray | None = field(default=None, repr=False)
    _metric: BlockMetric | None = field(default=None, repr=False)
    # () -> geomstats manifold whose points are _geodesic_coords (unit curvature radius)
    _geomstats: Callable[[], Any] | None = field(default=None, repr=False)

    @property
    def n_points(self) -> int:
        """Number of points."""
        return int(self.points.shape[0])

    @property
    def has_geodesics(self) -> bool:
        """Whether :meth:`geodesic_distances` returns exact distances (not ``None``)."""
        return self._metric is not None

    def geomstats_space(self) -> tuple[Any, np.ndarray, float] | None:
        """The manifold as a geomstats object, for Riemannian computations on the sample.

        Returns
        -------
        (space, coords, scale) or None
            ``space`` a geomstats manifold of unit curvature radius (``Hypersphere(dim)``,
            ``PoincareBall(dim)``), ``coords`` (n, ·) the noise-free points in its coordinates,
            and ``scale`` the factor (the radius) turning its distances into this sample's:
            ``scale * space.metric.dist(coords[i], coords[j])`` is the geodesic distance
            ``geodesic_distances()[i, j]``. ``None`` for manifolds without a geomstats model.
            Imports geomstats (slow, prints its backend) on first call.
        """
        if self._geomstats is None:
            return None
        space, scale = self._geomstats()
        return space, self._geodesic_coords, scale

    def geodesic_distances(self, sources: Any = None) -> np.ndarray | None:
        """Exact geodesic distances on the noise-free manifold.

        Parameters
        ----------
        sources : int, array-like of int, or None, default=None
            Row indices of the source points; ``None`` means all points.

        Returns
        -------
        ndarray of shape (len(sources), n) or (n, n), float64, or None
            ``D[i, j]`` is the geodesic distance from ``points[sources[i]]`` to ``points[j]``
            (zero on the diagonal). ``None`` when the manifold has no known exact geodesics.
            A generator may document entries it cannot give exactly as NaN.

        Raises
        ------
        InputError
            If a source index is not an integer in ``[0, n)``.
        """
        if self._metric is None:
            return None
        n = self.n_points
        src = _check_sources(sources, n)
        G = self._geodesic_coords
        out = np.empty((len(src), n), dtype=np.float64)
        block = max(1, _PAIR_BLOCK // max(n, 1))
        for start in range(0, len(src), block):
            s = src[start : start + block]
            out[start : start + len(s)] = self._metric(G[s], G)
        out[np.arange(len(src)), src] = 0.0
        return out


def _check_sources(sources: Any, n: int) -> np.ndarray:
    if sources is None:
        return np.arange(n)
    arr = np.asarray(sources)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise InputError(
            f"sources must be an integer or a 1-D array of integer row indices; got "
            f"{np.asarray(sources).dtype} array of shape {np.asarray(sources).shape}"
        )
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        raise InputError(
            f"source index {int(arr[bad][0])} is out of range for {n} points; use indices "
            f"0..{n - 1}"
        )
    return arr


# --------------------------------------------------------------------------------------------
# shared helpers


def geomstats_model(kind: str, dim: int) -> Any:
    if kind == "Hypersphere":
        from geomstats.geometry.hypersphere import Hypersphere

        return Hypersphere(dim)
    from geomstats.geometry.poincare_ball import PoincareBall

    return PoincareBall(dim)


def check_n(n: Any) -> int:
    return check_int(n, name="n", minimum=1)


def check_ambient(ambient_dim: Any, native: int) -> int | None:
    if ambient_dim is None:
        return None
    a = check_int(ambient_dim, name="ambient_dim")
    if a < native:
        raise InputError(
            f"ambient_dim={a} is smaller than the manifold's own embedding dimension {native}; "
            f"pass ambient_dim >= {native} or None to keep the native coordinates"
        )
    return a


def random_isometric_embedding(
    X: np.ndarray, ambient_dim: int, rng: np.random.Generator
) -> np.ndarray:
    """Map ``X`` (n, D) into R^ambient_dim by a Haar-random linear isometry.

    The map is ``x -> x Q^T`` with ``Q`` (ambient_dim, D) having orthonormal columns, drawn as the
    Q factor of a Gaussian matrix with the signs of R's diagonal fixed (Mezzadri 2007, "How to
    generate random matrices from the classical compact groups"), so it preserves all distances
    and curvatures.
    """
    D = X.shape[1]
    from manifold_probe._cost_guards import guard_embedding

    guard_embedding(X.shape[0], D, ambient_dim)
    G = rng.standard_normal((ambient_dim, D))
    Q, R = np.linalg.qr(G)
    Q = Q * np.sign(np.diag(R))
    return X @ Q.T


def finish_sample(
    X: np.ndarray,
    *,
    ambient_dim: int | None,
    noise: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Optional random isometric embedding into R^ambient_dim, then optional Gaussian noise."""
    if ambient_dim is not None:
        X = random_isometric_embedding(X, ambient_dim, rng)
    if noise > 0:
        X = X + noise * rng.standard_normal(X.shape)
    return np.ascontiguousarray(X, dtype=np.float64)


def check_common(n: Any, noise: Any, seed: Any) -> tuple[int, float, np.random.Generator]:
    n = check_n(n)
    noise = check_float(noise, name="noise", low=0.0)
    rng = check_seed(seed)
    return n, noise, rng


def seed_repr(seed: Any) -> Any:
    return seed if seed is None or isinstance(seed, (int, np.integer)) else "Generator"


def euclidean_block(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import cdist

    return cdist(A, B)  # from coordinate differences: exact for near points too


def rejection(
    draw: Callable[[int], np.ndarray],
    accept_prob: Callable[[np.ndarray], np.ndarray],
    n: int,
    rng: np.random.Generator,
    *,
    rate: float = 0.5,
) -> np.ndarray:
    """Exact rejection sampling: draw proposals until ``n`` are accepted (order preserved)."""
    kept: list[np.ndarray] = []
    have = 0
    while have < n:
        m = int((n - have) / rate * 1.2) + 16
        prop = draw(m)
        ok = rng.random(m) < accept_prob(prop)
        kept.append(prop[ok])
        have += int(ok.sum())
    return np.concatenate(kept)[:n]


def sample_increasing(
    log_density: Callable[[np.ndarray], np.ndarray],
    hi: float,
    n: int,
    rng: np.random.Generator,
    bins: int = 512,
) -> np.ndarray:
    """Exact sample of n values on [0, hi] from a non-decreasing density given by its log.

    Rejection from a piecewise-constant envelope: on each of ``bins`` equal cells the density is
    bounded by its value at the cell's right end; pick a cell with probability proportional to
    that bound, a uniform point in it, and accept with probability f(u) / f(right end).
    """
    edges = np.linspace(0.0, hi, bins + 1)
    log_right = log_density(edges[1:])
    w = np.exp(log_right - log_right.max())
    p = w / w.sum()
    width = hi / bins
    kept: list[np.ndarray] = []
    have = 0
    while have < n:
        m = int((n - have) * 1.3) + 16
        cell = rng.choice(bins, size=m, p=p)
        u = edges[cell] + width * rng.random(m)
        with np.errstate(divide="ignore"):
            log_ratio = log_density(u) - log_right[cell]
        ok = np.log(rng.random(m)) < log_ratio
        kept.append(u[ok])
        have += int(ok.sum())
    return np.concatenate(kept)[:n]


def log_sinh(u: np.ndarray) -> np.ndarray:
    """log(sinh u) for u >= 0, without overflow (-inf at 0)."""
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return u + np.log1p(-np.exp(-2.0 * u)) - np.log(2.0)


# --------------------------------------------------------------------------------------------
# generators


def sphere(
    n: int,
    dim: int,
    radius: float = 1.0,
    ambient_dim: int | None = None,
    noise: float = 0.0,
    seed: Any = None,
) -> ManifoldSample:
    r"""Uniform sample of the round sphere :math:`S^{dim}` of radius ``radius`` in R^(dim+1).

    Parameters
    ----------
    n : int
        Number of points.
    dim : int
        Intrinsic dimension (``dim >= 1``; ``dim=2`` is the ordinary sphere in R^3).
    radius : float, default=1.0
        Radius :math:`r > 0`.
    ambient_dim : int or None, default=None
        If given (``>= dim + 1``), the sphere is mapped into R^ambient_dim by a random isometric
        linear map (seeded).
    noise : float, default=0.0
        Standard deviation of isotropic Gaussian noise added in ambient coordinates.
    seed : int, numpy Generator or None
        Source of randomness.

    Returns
    -------
    ManifoldSample
        ``scalar_curvature`` is the constant :math:`dim(dim-1)/r^2`; ``latent`` holds the unit
        vectors (n, dim+1) before rotation; geodesic distances are exact.

    Notes
    -----
    Uniform points are normalised standard Gaussian vectors (Muller 1959, "A note on a method
    for generating points uniformly on n-dimensional spheres") — the construction of
    geomstats' ``Hypersphere.random_uniform``, drawn here from the local seeded generator
    because geomstats draws from numpy's global state. Geodesic distances are those of
    geomstats' ``Hypersphere(dim).metric.dist`` times the radius (the tests check the two
    agree), evaluated in the form that keeps full precision for nearby points:

    .. math:: d(x, y) = r \arccos\left(\frac{\langle x, y\rangle}{r^2}\right)
              = 2 r \arcsin\left(\frac{|x - y|}{2r}\right).

    References
    ----------
    Miolane et al. 2020, "Geomstats: a Python package for Riemannian geometry in machine
    learning", JMLR 21(223).
    """
    n, noise, rng = check_common(n, noise, seed)
    dim = check_int(dim, name="dim", minimum=1)
    radius = check_float(radius, name="radius", low=0.0, low_open=True)
    ambient = check_ambient(ambient_dim, dim + 1)

    V = rng.standard_normal((n, dim + 1))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    X = finish_sample(radius * V, ambient_dim=ambient, noise=noise, rng=rng)

    def metric(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        # angle = 2 arcsin(chord / 2) on unit vectors: the arccos of geomstats' Hypersphere
        # distance without its loss of precision for nearby points
        return 2.0 * radius * np.arcsin(np.minimum(euclidean_block(A, B) / 2.0, 1.0))

    return ManifoldSample(
        points=X,
        intrinsic_dim=dim,
        name="sphere",
        scalar_curvature=dim * (dim - 1) / radius**2,
        latent=V,
        params=dict(n=n, dim=dim, radius=radius, ambient_dim=ambient, noise=noise,
                    seed=seed_repr(seed)),
        _geodesic_coords=V,
        _metric=metric,
        _geomstats=lambda: (geomstats_model("Hypersphere", dim), radius),
    )


def flat_torus(
    n: int,
    dim: int = 2,
    lengths: Any = None,
    ambient_dim: int | None = None,
    noise: float = 0.0,
    seed: Any = None,
) -> ManifoldSample:
    r"""Uniform sample of the flat torus :math:`T^{dim} = \prod_i \mathbb{R}/L_i\mathbb{Z}`.

    Each factor circle of circumference :math:`L_i` is embedded as a round circle of radius
    :math:`L_i / 2\pi` in its own plane, giving an isometric (Clifford-type) embedding in
    R^(2 dim): intrinsic distances on the product are exactly those of the flat torus.

    Parameters
    ----------
    n : int
        Number of points.
    dim : int, default=2
        Number of circle factors (intrinsic dimension).
    lengths : float, sequence of float or None, default=None
        Circumferences :math:`L_i`; ``None`` means :math:`2\pi` for each factor (unit circles).
    ambient_dim, noise, seed
        As in :func:`sphere` (``ambient_dim >= 2 dim``).

    Returns
    -------
    ManifoldSample
        ``scalar_curvature`` 0.0; ``latent`` (n, dim) arc-length coordinates
        :math:`s_i \in [0, L_i)`; exact geodesics

        .. math:: d(s, s') = \Big(\sum_i \min(|s_i - s'_i|, L_i - |s_i - s'_i|)^2\Big)^{1/2}.
    """
    n, noise, rng = check_common(n, noise, seed)
    dim = check_int(dim, name="dim", minimum=1)
    if lengths is None:
        L = np.full(dim, 2 * np.pi)
    else:
        L = np.atleast_1d(np.asarray(lengths, dtype=np.float64))
        if L.ndim != 1 or L.size not in (1, dim):
            raise InputError(
                f"lengths must be one number or {dim} numbers (one per circle); got shape "
                f"{L.shape}"
            )
        if not (np.all(np.isfinite(L)) and np.all(L > 0)):
            raise InputError(f"lengths must be finite and > 0; got {L.tolist()}")
        L = np.broadcast_to(L, (dim,)).copy()
    ambient = check_ambient(ambient_dim, 2 * dim)

    S = rng.random((n, dim)) * L
    theta = 2 * np.pi * S / L
    rad = L / (2 * np.pi)
    Y = np.empty((n, 2 * dim))
    Y[:, 0::2] = rad * np.cos(theta)
    Y[:, 1::2] = rad * np.sin(theta)
    X = finish_sample(Y, ambient_dim=ambient, noise=noise, rng=rng)

    def metric(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        # coordinates lie in [0, L_i), so |difference| < L_i and one wrap suffices
        acc = np.zeros((len(A), len(B)))
        for i in range(dim):
            d = np.abs(A[:, i, None] - B[None, :, i])
            np.minimum(d, L[i] - d, out=d)
            d *= d
            acc += d
        return np.sqrt(acc, out=acc)

    return ManifoldSample(
        points=X,
        intrinsic_dim=dim,
        name="flat_torus",
        scalar_curvature=0.0,
        latent=S,
        params=dict(n=n, dim=dim, lengths=L.tolist(), ambient_dim=ambient, noise=noise,
                    seed=seed_repr(seed)),
        _geodesic_coords=S,
        _metric=metric,
    )
