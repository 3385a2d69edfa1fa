"""Persistent-homology dimension from the growth of minimum-spanning-tree length."""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema
from manifold_probe._validation import (
    InputError,
    check_points,
    clip_dimension,
    normalize_scale,
    unique_rows,
)
from manifold_probe.dimension._base import SEED, DimensionEstimate

__all__ = ["PHD_PARAMS", "ph_dimension"]


def _mst_length(P: np.ndarray) -> float:
    """Total Euclidean length of the minimum spanning tree (Prim, O(m^2) time, O(m) memory)."""
    m = P.shape[0]
    in_tree = np.zeros(m, dtype=bool)
    best = np.full(m, np.inf)
    cur = 0
    total = 0.0
    for _ in range(m - 1):
        in_tree[cur] = True
        diff = P - P[cur]
        np.minimum(best, np.einsum("ij,ij->i", diff, diff), out=best)
        best[in_tree] = np.inf
        cur = int(np.argmin(best))
        total += float(np.sqrt(best[cur]))
    return total


#: The settings of :func:`ph_dimension` (and :class:`~manifold_probe.dimension.PHDimension`).
PHD_PARAMS = Schema(
    "ph_dimension",
    Param("min_points", int, 50, "smallest subsample size", ge=3),
    Param("max_points", int, 2000, "largest subsample size (capped at the distinct rows)", ge=4),
    Param("n_sizes", int, 8, "number of subsample sizes (a slope needs two)", ge=2),
    Param("n_repeats", int, 3, "random subsets per size", ge=1),
    SEED,
)


def ph_dimension(
    X: Any,
    *,
    min_points: int = 50,
    max_points: int = 2000,
    n_sizes: int = 8,
    n_repeats: int = 3,
    seed: int | np.random.Generator | None = 0,
) -> DimensionEstimate:
    r"""Persistent-homology (PH\ :sub:`0`) dimension from minimum-spanning-tree scaling.

    The total edge length of the minimum spanning tree of :math:`m` i.i.d. points drawn from a
    density on an :math:`n`-dimensional manifold grows as

    .. math:: L(m) \asymp m^{(n-1)/n},

    and :math:`L` is the total persistence of the 0-dimensional Rips barcode. With :math:`s` the
    least-squares slope of :math:`\log L(m)` against :math:`\log m` over ``n_sizes`` subsample
    sizes spaced geometrically between ``min_points`` and ``max_points`` (each ``L`` averaged
    over ``n_repeats`` random subsets drawn with ``seed``), the estimate is

    .. math:: \hat n = \frac{1}{1 - s},

    clipped to the ambient dimension :math:`D` (the unclipped value, possibly ``inf`` when
    :math:`s \ge 1`, is kept in ``details["unclipped"]``). The points are rescaled by an exact
    power of two first (the estimate is scale-invariant).

    Assumptions: i.i.d. sampling and sizes large enough for the asymptotic regime; like the
    nearest-neighbour estimators it underestimates high dimensions at small sizes. Distances
    are Euclidean. Cost: one dense :math:`m\times m` distance matrix per subset.

    **Duplicates.** Exact duplicate rows are collapsed first (a repeated point adds a zero-length
    edge and would bias the growth law); subsets are drawn from the distinct rows.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
        The points.
    min_points, max_points : int, default=50, 2000
        Smallest and largest subsample size (``max_points`` is capped at the number of
        distinct rows).
    n_sizes : int, default=8
        Number of subsample sizes.
    n_repeats : int, default=3
        Random subsets per size.
    seed : int, Generator or None, default=0
        Seed of the subsampling.

    Returns
    -------
    DimensionEstimate
        ``dimension``; ``details`` holds the sizes and mean lengths.

    References
    ----------
    Schweinhart (2020), "Fractal dimension and the persistent homology of random geometric
    complexes", Adv. Math. 372. Tulchinskii, Kuznetsov, Kushnareva, Cherniavskii, Nikolenko,
    Burnaev, Barannikov & Piontkovskaya (2023), "Intrinsic dimension estimation for robust
    detection of AI-generated texts", NeurIPS 36.
    """
    from manifold_probe._validation import check_seed

    min_points, max_points, n_sizes, n_repeats = PHD_PARAMS.check(
        min_points=min_points, max_points=max_points, n_sizes=n_sizes,
        n_repeats=n_repeats).values()
    rng = check_seed(seed)
    A = normalize_scale(check_points(X, min_points=min_points, what="PH dimension"))[0]
    first, _, _ = unique_rows(A)
    U = A[first]
    top = min(max_points, U.shape[0])
    if top < 2 * min_points:
        raise InputError(
            f"PH dimension needs a range of subsample sizes: {U.shape[0]} distinct points and "
            f"min_points={min_points}; pass at least {2 * min_points} distinct points or lower "
            "min_points"
        )
    sizes = np.unique(np.geomspace(min_points, top, n_sizes).astype(int))
    lengths = np.array(
        [
            np.mean(
                [_mst_length(U[rng.choice(U.shape[0], m, replace=False)]) for _ in range(n_repeats)]
            )
            for m in sizes
        ]
    )
    slope = float(np.polyfit(np.log(sizes), np.log(lengths), 1)[0])
    dim = 1.0 / (1.0 - slope) if slope < 1 else np.inf
    details = {"sizes": sizes, "lengths": lengths, "slope": slope}
    dim, unclipped = clip_dimension(float(dim), U.shape[1])
    if unclipped is not None:
        details["unclipped"] = unclipped
    if not dim > 0:  # lengths that do not grow with m (slope <= 0): a point-like sample
        raise InputError(
            f"PH dimension: the minimum-spanning-tree length does not grow with the sample size "
            f"(slope {slope:.3g}); the distinct points do not sample a manifold at these sizes. "
            "Pass more distinct points or use another method"
        )
    return DimensionEstimate(
        dimension=float(dim),
        method="phd",
        n_distinct=int(U.shape[0]),
        details=details,
    )
