"""Cost guards of the public functions whose cost is superlinear in an argument.

Each function below is called first thing by one public function, before any of its work, with
the sizes it was given (with :func:`centred_points`, the input step of the statistics that are
translation- and scale-invariant); it refuses (:class:`~manifold_probe.InputError`) an allocation above
the memory budget or warns (:class:`~manifold_probe._validation.CostWarning`) when the leading
term of the cost, written beside it, passes the limits of :func:`~manifold_probe._validation.guard_cost`.
"""

from __future__ import annotations

import math

import numpy as np

from manifold_probe._validation import guard_cost

__all__ = [
    "centred_points",
    "scaled_points",
    "guard_embedding",
    "guard_hyperbolicity",
    "guard_knn",
    "guard_known_structure",
    "guard_ollivier",
    "guard_regions",
    "guard_warp_all_sources",
]


def _log2(n: float) -> float:
    return math.log2(max(n, 2))


def guard_knn(n: int, d: int, k: int) -> None:
    """The result (float64 distances + int64 indices) and, while it is built, the float32
    candidates, their indices and the float64 recomputation: about three copies of 16 bytes
    per (point, neighbour); the search itself is O(n^2 d)."""
    guard_cost(nbytes=3 * 16.0 * n * k, operations=float(n) * n * d + n * k * _log2(k + 1),
               what=f"knn with k={k} on {n} points",
               fix="use a smaller k (the estimators need tens of neighbours, not n)")


def guard_hyperbolicity(n: int, d: int, n_surrogates: int) -> None:
    """Each of the 1 + B clouds builds an (n, n, d) difference array and runs the O(n^3)
    (max, min) product of ``gromov_delta``."""
    guard_cost(operations=(1.0 + n_surrogates) * (float(n) ** 3 + float(n) ** 2 * d),
               nbytes=8.0 * n * n * (d + 2), what=f"hyperbolicity of {n} points",
               fix="pass the class means or a subsample (a few hundred points)")


def guard_known_structure(n_perm: int, n_classes: int, n: int, d: int, max_dims: int,
                          null: str, kind: str = "line") -> None:
    """The class null holds every permutation and its target (C + C^2 entries each); the
    point null refits the probe, O(n d) per permutation. (And a cycle needs a plane: at least
    two columns.)"""
    if kind == "cycle" and d < 2:
        from manifold_probe._validation import InputError

        raise InputError(f"a cycle is read in a plane, but X has {d} column; pass at least two "
                         "columns (or test kind='line')")
    C = n_classes
    per_perm = C * C * max_dims if null == "classes" else n * d * max_dims
    guard_cost(operations=float(n_perm) * per_perm,
               nbytes=8.0 * n_perm * ((C + C * C + 1) if null == "classes" else 1),
               what=f"known_structure with n_perm={n_perm}",
               fix="use n_perm of a few hundred to a few thousand (the p-value's floor is "
               "1/(n_perm+1))")


def guard_regions(n_boot: int, n: int, K: int, band: str) -> None:
    """Every bootstrap replicate draws n multinomial weights and the DTM of K neighbours at
    each of the n points (and, for the bottleneck band, an H0 diagram, O(n log n))."""
    guard_cost(operations=float(n_boot) * n * (K + (_log2(n) if band == "bottleneck" else 0)),
               nbytes=8.0 * n_boot, what=f"regions with n_boot={n_boot} on {n} points",
               fix="use n_boot of a few hundred (p-values resolve 1/(n_boot+1))")


def guard_embedding(n: int, D: int, ambient_dim: int) -> None:
    """The (ambient_dim, D) Gaussian, its QR and the (n, ambient_dim) result."""
    guard_cost(operations=float(ambient_dim) * D * (D + n), nbytes=8.0 * ambient_dim * (n + 2 * D),
               what=f"a sample of {n} points in R^{ambient_dim}",
               fix="use a smaller ambient_dim (or embed the native coordinates yourself)")


def guard_warp_all_sources(n: int, k: object) -> None:
    """All-pairs geodesics in both layers: two dense (n, n) float64 matrices each, and n
    Dijkstra runs of O(n k log n)."""
    k_cost = k if isinstance(k, int) and not isinstance(k, bool) else 10
    guard_cost(operations=2.0 * n * n * max(int(k_cost), 1) * _log2(n),
               nbytes=2 * 2 * 8.0 * n * n,
               what=f"warp with n_sources=None (all {n} points as geodesic sources)",
               fix="pass n_sources=200 (the distortion is a distribution over pairs; a few "
               "hundred sources estimate it)")


def guard_ollivier(n: int, k: int, s: int, calibrate: bool, ground: str) -> None:
    """About n k edges, each an optimal transport between two measures on s + 1 points
    (network simplex, ~(s+1)^3), twice with the flat reference; a geodesic ground adds
    Dijkstra runs from about every node."""
    ops = (2.0 if calibrate else 1.0) * n * k * (s + 1.0) ** 3
    if ground != "euclidean":
        ops += float(n) ** 2 * k * _log2(n)
    guard_cost(operations=ops, what=f"ollivier_ricci with k={k} on {n} points",
               fix="use k of about 10 (and nodes= a subset of rows)")


def centred_points(A: np.ndarray, minimum: int, *, what: str) -> np.ndarray:
    """``A`` (validated) minus its mean, rescaled by an exact power of two to magnitude ~1.

    For a statistic invariant to translation and scale: far from the origin (+1e7) the
    coordinates' rounding would swamp the cloud's own extent, and near the float limits
    (x1e300) squared distances overflow. Refuses (:class:`~manifold_probe.InputError`) fewer than ``minimum``
    distinct rows, on which such a statistic is undefined.
    """
    from manifold_probe._validation import check_distinct, normalize_scale

    check_distinct(A, minimum, what=what)
    B = normalize_scale(A)[0]  # scaled first: a mean of x1e300 values would overflow
    return normalize_scale(B - B.mean(axis=0))[0]


def scaled_points(A: np.ndarray) -> tuple[np.ndarray, int]:
    """``(A - mean) * 2**-e`` at magnitude ~1, and ``e``: the input step of a statistic whose
    values are ratios and whose coordinates scale back exactly by ``2**e`` (x1e300 would
    overflow its squares; +1e7 would lose its extent to rounding)."""
    from manifold_probe._validation import normalize_scale

    B, e0 = normalize_scale(A)  # scaled first: a mean of x1e300 values would overflow
    C, e1 = normalize_scale(B - B.mean(axis=0))
    return C, e0 + e1
