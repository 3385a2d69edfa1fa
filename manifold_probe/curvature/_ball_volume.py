"""Scalar curvature from the growth of geodesic-ball volumes (Hickok & Blumberg 2023)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_float, check_int, check_points
from manifold_probe.neighbors import Neighbors, resolve_neighbors

__all__ = ["ball_volume_curvature", "check_distance_matrix"]


def check_distance_matrix(distances: Any) -> np.ndarray:
    """Validate a square matrix of non-negative distances (``inf`` allowed, NaN not)."""
    from manifold_probe._validation import to_numpy

    Dm = np.asarray(to_numpy(distances), dtype=np.float64)
    if Dm.ndim != 2 or Dm.shape[0] != Dm.shape[1]:
        raise InputError(
            f"distances must be a square (n_points, n_points) matrix; got shape {Dm.shape}"
        )
    if Dm.shape[0] < 3:
        raise InputError(f"distances has {Dm.shape[0]} points; ball volumes need at least 3")
    if np.isnan(Dm).any():
        raise InputError("distances contains NaN; drop those points or fill in the distances")
    if (Dm < 0).any():
        raise InputError("distances contains negative entries; pass distances (>= 0)")
    if not np.allclose(np.diag(Dm), 0.0):
        raise InputError("distances must have zeros on the diagonal (d(x, x) = 0)")
    return Dm


def _unit_ball_volume(n: int) -> float:
    return math.pi ** (n / 2) / math.gamma(n / 2 + 1)


def ball_volume_curvature(
    X: Any,
    dim: int,
    k: int | None = None,
    neighbors: Neighbors | None = None,
    distances: Any = None,
    ball_fraction: float = 0.1,
    n_radii: int = 12,
    density_k: int = 10,
    block: int = 512,
):
    r"""Scalar curvature per point from the volume of geodesic balls.

    On a Riemannian manifold of dimension :math:`n`,

    .. math:: \frac{\operatorname{vol} B(x,\rho)}{\omega_n \rho^n}
              = 1 - \frac{S(x)}{6(n+2)}\rho^2 + O(\rho^4),

    :math:`\omega_n` the volume of the Euclidean unit ball. The volume of a geodesic ball is
    estimated by the points it holds, each weighted by the inverse of its density estimate
    :math:`\hat f(y) = m / (N \omega_n r_m(y)^n)` (:math:`r_m` the distance to the ``m``-th
    neighbour, ``m = density_k``, leaving the centre out), so a non-uniform sample still
    measures volume. The centre itself is not counted. The ratio is
    evaluated at ``n_radii`` radii from :math:`\rho_{max}/4` to :math:`\rho_{max}`, the median
    radius of a ball holding ``ball_fraction`` of the sample, and regressed on
    :math:`\rho^2` with a free intercept :math:`a` (which absorbs a global error in the
    density normalisation): :math:`\hat S = 6(n+2)\,b/a` for the fit :math:`a - b\rho^2`.
    The standard error is that of the regression, propagated to :math:`\hat S`; the counts at
    nested radii are correlated, so treat it as a rough guide. Balls that reach the edge of a
    sampled region lose volume and read as positive curvature.
    """
    n = check_int(dim, name="dim", minimum=1)
    ball_fraction = check_float(ball_fraction, name="ball_fraction", low=0.0, high=1.0,
                                low_open=True)
    n_radii = check_int(n_radii, name="n_radii", minimum=3)
    density_k = check_int(density_k, name="density_k", minimum=1)
    if distances is not None:
        Dm = check_distance_matrix(distances)
        N = Dm.shape[0]
        if X is not None:
            A = check_points(X, min_points=3, what="scalar_curvature")
            if A.shape[0] != N:
                raise InputError(
                    f"distances is {N} x {N} but X has {A.shape[0]} points; pass matching inputs"
                )
        if density_k + 1 >= N:
            raise InputError(f"density_k={density_k} must be below {N - 1}")
        part = np.partition(Dm, (density_k, density_k + 1), axis=1)
        r_m, r_m1 = part[:, density_k], part[:, density_k + 1]

        def rows(s: int, e: int) -> np.ndarray:
            return Dm[s:e]
    else:
        if X is None:
            raise InputError(
                "method='ball_volume' needs the points X or a geodesic distance matrix distances="
            )
        from manifold_probe.geodesic import geodesic_distances

        kk = 20 if k is None else k
        A, nb = resolve_neighbors(
            X, max(kk, density_k + 1), neighbors=neighbors, min_k=1, what="scalar_curvature"
        )
        N = A.shape[0]
        r_m, r_m1 = nb.distances[:, density_k - 1], nb.distances[:, density_k]
        geo_nb = nb.truncate(kk)

        def rows(s: int, e: int) -> np.ndarray:
            return geodesic_distances(A, k=kk, sources=np.arange(s, e), neighbors=geo_nb)

    # weights proportional to 1 / density; leave-one-out: where the centre x is among y's m
    # nearest, y's density is read from its (m+1)-th neighbour instead, so that the weights
    # of the points near x do not depend on x being in the sample
    w_scale = float(np.mean(r_m**n))
    w = r_m**n / w_scale
    w1 = r_m1**n / w_scale
    m_ball = max(density_k + 1, int(math.ceil(ball_fraction * N)))
    if m_ball >= N:
        raise InputError(f"ball_fraction={ball_fraction} leaves no room: use a smaller fraction")
    size = np.empty(N, dtype=np.int64)
    ratios = []
    r_hi = None
    blocks = list(range(0, N, block))
    # the radius grid is global: fix it from the first block's ball radii
    for s in blocks:
        e = min(N, s + block)
        R = np.array(rows(s, e), dtype=np.float64)
        # the centre itself adds a constant to every ball, a spurious 1/rho^n term
        R[np.arange(e - s), np.arange(s, e)] = np.inf
        if r_hi is None:
            r_hi = float(np.median(np.partition(R, m_ball, axis=1)[:, m_ball]))
            if not np.isfinite(r_hi) or r_hi <= 0:
                raise InputError(
                    "could not set a ball radius (disconnected graph or repeated points); "
                    "raise k or remove duplicates"
                )
            radii = np.linspace(r_hi / 4, r_hi, n_radii)
        W = np.where(R <= r_m[None, :], w1[None, :], w[None, :])
        vol = np.stack([(W * (R <= r)).sum(axis=1) for r in radii], axis=1)
        size[s:e] = (R <= r_hi).sum(axis=1)
        ratios.append(vol / radii[None, :] ** n)
    # proportional to vol B / (omega_n rho^n); the constant is irrelevant (free intercept)
    ratio = np.concatenate(ratios) / _unit_ball_volume(n)
    x = radii**2
    Xd = np.stack([np.ones_like(x), -x], axis=1)
    coef, *_ = np.linalg.lstsq(Xd, ratio.T, rcond=None)  # (2, N)
    a, b = coef
    resid = ratio - (Xd @ coef).T
    dof = max(len(x) - 2, 1)
    s2 = (resid**2).sum(axis=1) / dof
    cov = np.linalg.inv(Xd.T @ Xd)
    c = 6.0 * (n + 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        S = c * b / a
        # delta method for b / a
        var = (c / a) ** 2 * s2 * (cov[1, 1] + (b / a) ** 2 * cov[0, 0]
                                   - 2 * (b / a) * cov[0, 1])
    se = np.sqrt(np.maximum(var, 0.0))
    return S, se, size, float(r_hi)
