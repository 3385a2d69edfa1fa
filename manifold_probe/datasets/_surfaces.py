"""Embedded surfaces with known curvature and geodesics: ring torus, pseudosphere, swiss roll."""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._validation import (
    InputError,
    check_float,
)
from manifold_probe.datasets._manifolds import (
    ManifoldSample,
    check_ambient,
    check_common,
    euclidean_block,
    finish_sample,
    rejection,
    seed_repr,
)

__all__ = ["ring_torus", "pseudosphere", "swiss_roll"]


def ring_torus(
    n: int,
    major: float = 2.0,
    minor: float = 1.0,
    ambient_dim: int | None = None,
    noise: float = 0.0,
    seed: Any = None,
) -> ManifoldSample:
    r"""Sample of the ring torus in R^3, uniform with respect to surface area.

    .. math:: x(t, \varphi) = \big((R + r\cos t)\cos\varphi,\ (R + r\cos t)\sin\varphi,\
              r \sin t\big),

    with major radius :math:`R` > minor radius :math:`r` > 0. The area element is
    :math:`r (R + r\cos t)\, dt\, d\varphi`, so :math:`\varphi` is uniform and :math:`t` is
    drawn by exact rejection sampling with acceptance :math:`(R + r\cos t)/(R + r)`.

    Parameters
    ----------
    n : int
        Number of points.
    major, minor : float, default=2.0, 1.0
        :math:`R > r > 0`.
    ambient_dim, noise, seed
        As in :func:`sphere` (``ambient_dim >= 3``).

    Returns
    -------
    ManifoldSample
        ``latent`` (n, 2) = (t, phi) in [0, 2 pi)^2; ``scalar_curvature`` per point, twice the
        Gaussian curvature

        .. math:: S = \frac{2\cos t}{r (R + r\cos t)},

        positive on the outer equator, negative on the inner one; its area integral is 0
        (Gauss–Bonnet, Euler characteristic 0). No closed-form geodesics: ``geodesic_distances``
        returns ``None``.
    """
    n, noise, rng = check_common(n, noise, seed)
    R = check_float(major, name="major", low=0.0, low_open=True)
    r = check_float(minor, name="minor", low=0.0, low_open=True)
    if not r < R:
        raise InputError(
            f"a ring torus needs major > minor; got major={R}, minor={r}. Swap them or make "
            "the major radius larger"
        )
    ambient = check_ambient(ambient_dim, 3)

    t = rejection(
        lambda m: 2 * np.pi * rng.random(m),
        lambda t: (R + r * np.cos(t)) / (R + r),
        n,
        rng,
        rate=(R - r) / (R + r) + 1e-3,
    )
    phi = 2 * np.pi * rng.random(n)
    ring = R + r * np.cos(t)
    Y = np.column_stack([ring * np.cos(phi), ring * np.sin(phi), r * np.sin(t)])
    X = finish_sample(Y, ambient_dim=ambient, noise=noise, rng=rng)
    return ManifoldSample(
        points=X,
        intrinsic_dim=2,
        name="ring_torus",
        scalar_curvature=2 * np.cos(t) / (r * ring),
        latent=np.column_stack([t, phi]),
        params=dict(n=n, major=R, minor=r, ambient_dim=ambient, noise=noise,
                    seed=seed_repr(seed)),
    )


def pseudosphere(
    n: int,
    radius: float = 1.0,
    ambient_dim: int | None = None,
    noise: float = 0.0,
    seed: Any = None,
    height: float | None = None,
) -> ManifoldSample:
    r"""Sample of the pseudosphere (tractricoid) in R^3, uniform with respect to area.

    .. math:: x(u, v) = \big(r\,\mathrm{sech}\,u \cos v,\ r\,\mathrm{sech}\,u \sin v,\
              r(u - \tanh u)\big), \quad 0 \le u \le U,\ 0 \le v < 2\pi,

    a surface of constant Gaussian curvature :math:`-1/r^2` (scalar curvature
    :math:`-2/r^2`). Its metric is :math:`r^2(\tanh^2 u\, du^2 + \mathrm{sech}^2 u\, dv^2)`
    and its area element :math:`r^2 \tanh u\,\mathrm{sech}\,u\, du\, dv`, so ``u`` is drawn by
    inverting :math:`F(u) = (1 - \mathrm{sech}\,u) / (1 - \mathrm{sech}\,U)` exactly. The rim
    :math:`u = 0` (radius :math:`r`, where the surface has a cuspidal edge) is its widest
    circle; the surface narrows towards the neck :math:`u = U`.

    Parameters
    ----------
    n : int
        Number of points.
    radius : float, default=1.0
        :math:`r > 0`.
    ambient_dim, noise, seed
        As in :func:`sphere` (``ambient_dim >= 3``).
    height : float or None, default=None
        Height :math:`r(U - \tanh U)` of the sampled piece along its axis; ``None`` means
        :math:`1.5 r` (then :math:`U \approx 2.5` and the neck circle has radius
        :math:`\approx 0.16 r`).

    Returns
    -------
    ManifoldSample
        ``latent`` (n, 2) = (u, v); ``scalar_curvature`` the constant :math:`-2/r^2`.
        Geodesic distances are exact where known: with :math:`y = \cosh u` the surface is the
        quotient of the horodisk strip :math:`\{1 \le y \le \cosh U\}` of the upper half-plane
        (metric :math:`r^2 (dv^2 + dy^2)/y^2`) by :math:`v \mapsto v + 2\pi`, so

        .. math:: d = r\,\mathrm{arccosh}\left(1 + \frac{\Delta v^2 + \Delta y^2}{2 y y'}\right),
                  \quad |\Delta v| \le \pi,

        whenever that hyperbolic geodesic stays below :math:`y = \cosh U`; where it would cross
        the cut-off neck the true distance is longer and unknown in closed form, and the entry
        is NaN (rare for points away from the neck).

    References
    ----------
    do Carmo 1976, "Differential Geometry of Curves and Surfaces", §3-3 Ex. 6 and §5-10.
    """
    n, noise, rng = check_common(n, noise, seed)
    r = check_float(radius, name="radius", low=0.0, low_open=True)
    h = 1.5 * r if height is None else check_float(height, name="height", low=0.0, low_open=True)
    if h > 20 * r:
        raise InputError(
            f"height={h} exceeds 20 * radius = {20 * r}: the neck becomes thinner than float64 "
            "resolves; choose a smaller height"
        )
    ambient = check_ambient(ambient_dim, 3)
    from scipy.optimize import brentq

    U = brentq(lambda s: r * (s - np.tanh(s)) - h, 0.0, h / r + 2.0, xtol=1e-14)
    sech_U = 1.0 / np.cosh(U)
    F = rng.random(n)
    u = np.arccosh(1.0 / (1.0 - F * (1.0 - sech_U)))
    v = 2 * np.pi * rng.random(n)
    sech = 1.0 / np.cosh(u)
    Y = np.column_stack([r * sech * np.cos(v), r * sech * np.sin(v), r * (u - np.tanh(u))])
    X = finish_sample(Y, ambient_dim=ambient, noise=noise, rng=rng)
    y_max = float(np.cosh(U))

    def metric(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        dv = np.abs(A[:, 0, None] - B[None, :, 0])  # v in [0, 2 pi): one wrap suffices
        np.minimum(dv, 2 * np.pi - dv, out=dv)
        y1, y2 = A[:, 1, None], B[None, :, 1]
        # arccosh(1 + 2 z^2) = 2 arsinh(z): no cancellation for nearby points
        d = 2.0 * r * np.arcsinh(np.sqrt((dv**2 + (y1 - y2) ** 2) / (4.0 * y1 * y2)))
        # Does the half-plane geodesic rise above y_max? Along it |d log y| <= ds / r, so its
        # top is at most max(y1, y2) exp(d / 2r): only those candidates are checked exactly.
        hi = np.maximum(y1, y2)
        cand = np.nonzero(hi * np.exp(d / (2.0 * r)) > y_max)
        if cand[0].size:
            dvc = dv[cand]
            y1c = np.broadcast_to(y1, d.shape)[cand]
            y2c = np.broadcast_to(y2, d.shape)[cand]
            with np.errstate(divide="ignore", invalid="ignore"):
                # the geodesic through (0, y1), (dv, y2) is the circle about (c, 0)
                c = (dvc**2 + y2c**2 - y1c**2) / (2.0 * dvc)
                apex_inside = (dvc > 0) & (c > 0) & (c < dvc)
                top = np.where(apex_inside, np.sqrt(c**2 + y1c**2), np.maximum(y1c, y2c))
            leaves = top > y_max * (1 + 1e-12)
            d[cand[0][leaves], cand[1][leaves]] = np.nan
        return d

    coords = np.column_stack([v, np.cosh(u)])
    return ManifoldSample(
        points=X,
        intrinsic_dim=2,
        name="pseudosphere",
        scalar_curvature=-2.0 / r**2,
        latent=np.column_stack([u, v]),
        params=dict(n=n, radius=r, height=h, u_max=float(U), ambient_dim=ambient, noise=noise,
                    seed=seed_repr(seed)),
        _geodesic_coords=coords,
        _metric=metric,
    )


# Swiss roll of Tenenbaum, de Silva & Langford 2000 / Hein & Audibert 2005: spiral angle
# t in [1.5 pi, 4.5 pi], height 21.
_ROLL_T = (1.5 * np.pi, 4.5 * np.pi)
_ROLL_HEIGHT = 21.0


def spiral_arclength(t: np.ndarray) -> np.ndarray:
    """Arc length of the planar spiral (t cos t, t sin t) from t = 0."""
    return 0.5 * (t * np.sqrt(1.0 + t * t) + np.arcsinh(t))


def _spiral_angle(s: np.ndarray) -> np.ndarray:
    """Inverse of :func:`spiral_arclength` (Newton's method; ds/dt = sqrt(1 + t^2))."""
    t = np.sqrt(2.0 * s)  # s ~ t^2 / 2 for large t
    for _ in range(50):
        step = (spiral_arclength(t) - s) / np.sqrt(1.0 + t * t)
        t = t - step
        if np.max(np.abs(step)) < 1e-13 * max(1.0, float(np.max(t))):
            break
    return t


def swiss_roll(
    n: int,
    ambient_dim: int | None = None,
    noise: float = 0.0,
    seed: Any = None,
) -> ManifoldSample:
    r"""Swiss roll in R^3, uniform with respect to area, with exact geodesics.

    .. math:: x(t, h) = (t\cos t,\ h,\ t\sin t), \quad t \in [1.5\pi, 4.5\pi],\ h \in [0, 21].

    The roll is a developable surface: unrolling it along the arc length
    :math:`s(t) = \tfrac12\big(t\sqrt{1+t^2} + \operatorname{arsinh} t\big)` of its spiral is an
    isometry onto the rectangle :math:`[0, s(4.5\pi) - s(1.5\pi)] \times [0, 21]`, which is
    convex, so geodesic distances are exactly the Euclidean distances of the unrolled
    coordinates :math:`(s - s(1.5\pi), h)`. Points are uniform in those coordinates (uniform by
    area; the ``s`` to ``t`` inversion is by Newton's method to float precision).

    Parameters
    ----------
    n : int
        Number of points.
    ambient_dim, noise, seed
        As in :func:`sphere` (``ambient_dim >= 3``).

    Returns
    -------
    ManifoldSample
        ``latent`` (n, 2) = unrolled (s, h); ``scalar_curvature`` 0.0 (intrinsically flat).

    References
    ----------
    Tenenbaum, de Silva & Langford 2000, "A global geometric framework for nonlinear
    dimensionality reduction", Science 290.
    """
    n, noise, rng = check_common(n, noise, seed)
    ambient = check_ambient(ambient_dim, 3)
    s0, s1 = spiral_arclength(np.array(_ROLL_T))
    s = s0 + (s1 - s0) * rng.random(n)
    h = _ROLL_HEIGHT * rng.random(n)
    t = _spiral_angle(s)
    Y = np.column_stack([t * np.cos(t), h, t * np.sin(t)])
    X = finish_sample(Y, ambient_dim=ambient, noise=noise, rng=rng)
    latent = np.column_stack([s - s0, h])
    return ManifoldSample(
        points=X,
        intrinsic_dim=2,
        name="swiss_roll",
        scalar_curvature=0.0,
        latent=latent,
        params=dict(n=n, t_range=_ROLL_T, height=_ROLL_HEIGHT, ambient_dim=ambient,
                    noise=noise, seed=seed_repr(seed)),
        _geodesic_coords=latent,
        _metric=euclidean_block,
    )
