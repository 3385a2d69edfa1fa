"""Scalar curvature from the growth of geodesic-ball volumes (Hickok & Blumberg 2023)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from manifold_probe._validation import (
    InputError,
    check_float,
    check_int,
    check_memory,
    check_points,
    warn_cost,
)
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
        raise InputError(
            "distances must have zeros on the diagonal (d(x, x) = 0); the largest diagonal "
            f"entry is {float(np.max(np.diag(Dm))):.3g} (e.g. arccos of a rounded 1: set it "
            "with numpy.fill_diagonal(distances, 0))"
        )
    return Dm


# weights and ratios are powers r**n; keep their spread inside float64 (about e**±708)
_MAX_LOG_SPREAD = 600.0


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
    device: Any = None,
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

    **NaN.** A point whose balls hold no other point at any of the radii (an isolated point,
    farther than :math:`\rho_{max}/4` from every other one, or disconnected from them in the
    graph) has no volume to fit: its curvature and standard error are NaN, and one
    :class:`RuntimeWarning` says how many points are affected. No other value is NaN.

    **Cost.** Without ``distances`` every point needs its graph geodesic distance to every
    other: :math:`O(N^2 k \log N)` time, memory :math:`O(\text{block}\cdot N)`. Above
    :data:`~manifold_probe._validation.SLOW_OPERATIONS` estimated operations a
    :class:`~manifold_probe._validation.CostWarning` is issued before any work (the call then
    proceeds); a block that would not fit in the memory budget (half the physical memory) is
    refused with :class:`InputError`.

    **Range.** The weights and ratios are powers :math:`r^n`; when their spread exceeds
    float64 (:math:`n\log(r_{max}/r_{min}) > 600`, e.g. ``dim=400`` with neighbour radii
    varying by a factor 5) an :class:`InputError` is raised rather than overflowing.

    **Device.** ``device`` (a ``torch.device``; None or the CPU: numpy) is where the weighted
    ball volumes of each block of distance rows are summed (:math:`O(N^2 \cdot` ``n_radii``
    :math:`)`, float64); the geodesic distances themselves are graph shortest paths on the
    CPU. The sums agree with the numpy path to round-off (another summation order).
    """
    n = check_int(dim, name="dim", minimum=1)
    ball_fraction = check_float(ball_fraction, name="ball_fraction", low=0.0, high=1.0,
                                low_open=True)
    n_radii = check_int(n_radii, name="n_radii", minimum=3)
    density_k = check_int(density_k, name="density_k", minimum=1)
    if distances is not None:
        N, near, r_m, r_m1, rows = _given_distance_rows(X, distances, density_k)
    else:
        N, near, r_m, r_m1, rows = _geodesic_rows(X, k, neighbors, density_k)
    w, w1 = _density_weights(r_m, r_m1, n)
    m_ball = max(density_k + 1, int(math.ceil(ball_fraction * N)))
    if m_ball >= N:
        raise InputError(f"ball_fraction={ball_fraction} leaves no room: use a smaller fraction")
    # per block: the distance rows, the weights and a comparison mask, N floats each per row
    check_memory(
        3 * 8.0 * min(block, N) * N + 8.0 * N * n_radii,
        what=f"ball-volume curvature of {N} points",
        fix="subsample the points or use method='quadratic'",
    )
    if device is None or device.type == "cpu":
        ratio, radii, size, r_hi = _volume_ratios(rows, N, near, w, w1, n, m_ball, n_radii,
                                                  block)
    else:
        ratio, radii, size, r_hi = _volume_ratios_torch(rows, N, near, w, w1, n, m_ball,
                                                        n_radii, block, device)
    S, se = _fit_curvature(ratio, radii, n)
    return S, se, size, float(r_hi)


def _given_distance_rows(X, distances, density_k: int):
    """``N``, the indices of every point's m nearest neighbours, the m-th and (m+1)-th
    neighbour distances, and a row reader, from a matrix."""
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
    others = Dm.copy()
    np.fill_diagonal(others, np.inf)  # self excluded, as in a kNN graph
    order = np.argpartition(others, (density_k - 1, density_k), axis=1)[:, : density_k + 1]
    at = np.arange(N)[:, None]
    r = others[at, order]

    def rows(s: int, e: int) -> np.ndarray:
        return Dm[s:e]

    return N, order[:, :density_k], r[:, density_k - 1], r[:, density_k], rows


def _geodesic_rows(X, k, neighbors, density_k: int):
    """As :func:`_given_distance_rows`, with rows of graph geodesic distances from the points."""
    if X is None:
        raise InputError(
            "method='ball_volume' needs the points X or a geodesic distance matrix distances="
        )
    from manifold_probe.geodesic import geodesic_distances

    kk = 20 if k is None else k
    A = check_points(X, min_points=3, what="scalar_curvature")
    N = A.shape[0]
    # every point needs its geodesic distances to all others: N Dijkstra runs on the graph
    warn_cost(
        float(N) * N * kk * max(math.log2(N), 1.0),
        what=f"ball-volume curvature of {N} points (all-pairs graph geodesics)",
        fix="subsample the points, pass precomputed distances=, or use method='quadratic'",
    )
    A, nb = resolve_neighbors(
        A, max(kk, density_k + 1), neighbors=neighbors, min_k=1, what="scalar_curvature"
    )
    geo_nb = nb.truncate(kk)

    def rows(s: int, e: int) -> np.ndarray:
        return geodesic_distances(A, k=kk, sources=np.arange(s, e), neighbors=geo_nb)

    return (N, nb.indices[:, :density_k], nb.distances[:, density_k - 1],
            nb.distances[:, density_k], rows)


def _density_weights(r_m: np.ndarray, r_m1: np.ndarray, n: int):
    """Inverse-density weights ``r_m**n`` (and ``r_{m+1}**n`` for leave-one-out), mean 1.

    Where the centre x is among y's m nearest, y's density is read from its (m+1)-th
    neighbour instead, so that the weights of the points near x do not depend on x being in
    the sample.
    """
    pos = r_m[r_m > 0]
    spread = max(float(np.max(r_m1)) / float(pos.min()) if pos.size else 1.0, 4.0)
    if n * math.log(spread) > _MAX_LOG_SPREAD:
        raise InputError(
            f"dim={n} is too large for the ball-volume weights r**dim in float64 (neighbour "
            f"radii and ball radii vary by a factor {spread:.3g}, so r**{n} spans more than "
            "e**600); pass the true intrinsic dimension or use method='quadratic'"
        )
    # the weights only matter up to a common factor: normalise r by its largest value
    r_top = float(np.max(r_m1)) if np.max(r_m1) > 0 else 1.0
    w = (r_m / r_top) ** n
    w_scale = float(np.mean(w))
    return w / w_scale, (r_m1 / r_top) ** n / w_scale


def _among_nearest(near: np.ndarray, s: int, e: int) -> np.ndarray:
    """Mask (e - s, N): True where the centre s + i is among point j's m nearest neighbours.

    Read from the neighbour indices, not by comparing the distance to ``r_m``: the m-th
    neighbour lies exactly at ``r_m``, so a comparison of two separately rounded distances
    would decide that tie by rounding, and the estimate would change with a rescaling or a
    translation of the input.
    """
    N, m = near.shape
    centre = near.ravel()
    point = np.repeat(np.arange(N), m)
    inside = (centre >= s) & (centre < e)
    mask = np.zeros((e - s, N), dtype=bool)
    mask[centre[inside] - s, point[inside]] = True
    return mask


def _volume_ratios(rows, N, near, w, w1, n, m_ball, n_radii, block):
    """Weighted ball volumes over ``rho^n`` at ``n_radii`` radii, per point, block by block."""
    size = np.empty(N, dtype=np.int64)
    ratios = []
    r_hi = radii = None
    # the radius grid is global: fix it from the first block's ball radii
    for s in range(0, N, block):
        e = min(N, s + block)
        R = np.array(rows(s, e), dtype=np.float64)
        # the centre itself adds a constant to every ball, a spurious 1/rho^n term
        R[np.arange(e - s), np.arange(s, e)] = np.inf
        if r_hi is None:
            r_hi = _ball_radius(np.partition(R, m_ball, axis=1)[:, m_ball])
            radii = np.linspace(r_hi / 4, r_hi, n_radii)
        W = np.where(_among_nearest(near, s, e), w1[None, :], w[None, :])
        vol = np.stack([(W * (R <= r)).sum(axis=1) for r in radii], axis=1)
        size[s:e] = (R <= r_hi).sum(axis=1)
        ratios.append(vol / (radii[None, :] / r_hi) ** n)
    # proportional to vol B / (omega_n rho^n): the factors r_hi**n and omega_n are common to
    # every radius and absorbed by the free intercept a (S = 6(n+2) b / a does not see them)
    return np.concatenate(ratios), radii, size, r_hi


def _ball_radius(R_part_m_ball: np.ndarray) -> float:
    """The largest ball radius: the median over a block's rows of the distance that holds
    ``m_ball`` points; refused when it is not a positive number."""
    r_hi = float(np.median(R_part_m_ball))
    if not np.isfinite(r_hi) or r_hi <= 0:
        raise InputError(
            "could not set a ball radius (disconnected graph or repeated points); "
            "raise k or remove duplicates"
        )
    return r_hi


def _volume_ratios_torch(rows, N, near, w, w1, n, m_ball, n_radii, block, device):
    """:func:`_volume_ratios` with each block's weighted counts summed in torch on ``device``
    (float64; the same radii, the same comparisons, another summation order)."""
    import torch

    size = np.empty(N, dtype=np.int64)
    ratios = []
    r_hi = radii = None
    wt = torch.as_tensor(np.asarray(w, dtype=np.float64), device=device)[None, :]
    w1t = torch.as_tensor(np.asarray(w1, dtype=np.float64), device=device)[None, :]
    for s in range(0, N, block):
        e = min(N, s + block)
        R = torch.as_tensor(np.array(rows(s, e), dtype=np.float64), device=device)
        R[torch.arange(e - s, device=device), torch.arange(s, e, device=device)] = math.inf
        if r_hi is None:
            # the (m_ball+1)-th smallest of each row: np.partition(R, m_ball)[:, m_ball]
            kth = torch.kthvalue(R, m_ball + 1, dim=1).values
            r_hi = _ball_radius(kth.cpu().numpy())
            radii = np.linspace(r_hi / 4, r_hi, n_radii)
        W = torch.where(torch.as_tensor(_among_nearest(near, s, e), device=device), w1t, wt)
        vol = torch.stack([(W * (R <= float(r))).sum(dim=1) for r in radii], dim=1)
        size[s:e] = (R <= r_hi).sum(dim=1).cpu().numpy()
        ratios.append(vol.cpu().numpy() / (radii[None, :] / r_hi) ** n)
    return np.concatenate(ratios), radii, size, r_hi


def _fit_curvature(ratio: np.ndarray, radii: np.ndarray, n: int):
    """``S = 6(n+2) b/a`` from the fit ``a - b rho^2`` per point, with its delta-method SE."""
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
    empty = ~np.isfinite(S)  # 0/0: no point in any ball (a = b = 0)
    if empty.any():
        import warnings

        S = np.where(empty, np.nan, S)
        se = np.where(empty, np.nan, se)
        warnings.warn(
            f"ball-volume curvature is NaN at {int(empty.sum())} of {len(S)} points whose "
            "balls hold no other point (isolated or disconnected points); raise ball_fraction "
            "or k, or drop those points",
            RuntimeWarning,
            stacklevel=4,
        )
    return S, se
