"""Levina–Bickel maximum-likelihood estimate with the MacKay–Ghahramani average."""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema
from manifold_probe._validation import (
    check_points,
    clip_dimension,
    normalize_scale,
)
from manifold_probe.dimension._base import (
    CORRECT_BIAS,
    METRIC,
    REFERENCE,
    SEED,
    DimensionEstimate,
    distinct_graph,
    seed_int,
)
from manifold_probe.dimension._correction import calibrate
from manifold_probe.dimension._near import NEAR_DUPLICATES, collapse_near_duplicates
from manifold_probe.neighbors import Neighbors

__all__ = ["MLE_PARAMS", "mle"]


def _pointwise_inverse(d: np.ndarray) -> np.ndarray:
    """Per point, :math:`\\frac{1}{k-1}\\sum_{j<k}\\log(r_k/r_j)` (the inverse local estimate)."""
    k = d.shape[1]
    with np.errstate(divide="ignore"):
        logs = np.log(d[:, -1:]) - np.log(d[:, :-1])
    return logs.sum(axis=1) / (k - 1)


def levina_bickel(d: np.ndarray, default: float = 2.0) -> float:
    r"""Levina–Bickel dimension from sorted neighbour distances (MacKay–Ghahramani average).

    :math:`\hat n = [\operatorname{mean}_i \frac{1}{k-1}\sum_{j<k}\log(r_k(x_i)/r_j(x_i))]^{-1}`
    over the rows of ``d`` (shape (N, k)) whose distances are all positive; ``default`` when
    nothing is usable (``k < 3``, no such row, or a non-positive mean). The helper the geodesic
    and Ollivier–Ricci modules use for a quick dimension from a graph they already hold.

    >>> r = np.array([[1.0, 2.0, 3.0]])  # in 1-D: r_j = j r_1
    >>> bool(np.isclose(levina_bickel(r), 2 / (np.log(3) + np.log(1.5))))
    True
    """
    k = d.shape[1]
    if k < 3:
        return default
    pos = (d[:, :-1] > 0).all(axis=1)
    if not pos.any():
        return default
    m = float(np.mean(_pointwise_inverse(d[pos])))
    return float(1.0 / m) if m > 0 else default


def _raw_mle(dist: np.ndarray) -> float:
    inv = _pointwise_inverse(dist)
    m = float(inv.mean())
    return 1.0 / m if m > 0 else np.inf


#: The settings of :func:`mle` (and :class:`~manifold_probe.dimension.MLE`). ``k >= 2``: the
#: average of :math:`\log(r_k/r_j)` over :math:`j < k` needs one ratio.
MLE_PARAMS = Schema(
    "mle",
    Param("k", int, 20, "neighbours of each local likelihood", ge=2),
    CORRECT_BIAS,
    REFERENCE,
    SEED,
    METRIC,
    NEAR_DUPLICATES,
)


def mle(
    X: Any = None,
    *,
    neighbors: Neighbors | None = None,
    k: int = 20,
    correct_bias: bool = False,
    reference: str = "ball",
    seed: int | None = 0,
    metric: str = "euclidean",
    near_duplicates: str = "collapse",
) -> DimensionEstimate:
    r"""Maximum-likelihood intrinsic dimension (Levina & Bickel 2004; MacKay & Ghahramani 2005).

    Treating the neighbours of :math:`x` as a Poisson process of constant rate in a ball of
    radius :math:`r_k(x)` on an :math:`n`-dimensional manifold, the local estimate is

    .. math:: \hat m_k(x) = \Big[\frac{1}{k-1}\sum_{j=1}^{k-1}
              \log\frac{r_k(x)}{r_j(x)}\Big]^{-1},

    the ``pointwise`` result. The global estimate averages the inverses (MacKay & Ghahramani),
    which is the maximum-likelihood combination and is not dominated by the few points whose
    local estimate is very large:

    .. math:: \hat m_k = \Big[\frac1N\sum_i \hat m_k(x_i)^{-1}\Big]^{-1}.

    A point whose ``k`` neighbours are all at the same distance has :math:`\hat m_k = \infty`
    (it enters the average as 0).

    **Range.** When the points are given, ``dimension`` is clipped to the ambient dimension
    :math:`D` (the unclipped value is kept in ``details["unclipped"]``); with only a graph it
    is not clipped and may be ``inf``. ``pointwise`` holds the raw local statistics: they are
    noisy, may exceed :math:`D` and are ``inf`` where all ``k`` neighbours are equidistant
    (e.g. on a lattice); they are never NaN. The points are
    rescaled by an exact power of two first (the estimate is scale-invariant), so magnitudes
    from 1e-300 to 1e300 give the same result. With ``correct_bias=True`` the global value is corrected for
    its finite-sample bias exactly as in :func:`twonn` (reference simulations with the same
    number of points and the same ``k``); ``pointwise`` stays uncorrected.

    **Duplicates.** Exact duplicate rows are collapsed first; the estimate is computed on the
    distinct rows and each row gets the pointwise value of its distinct row. Near-coincident
    points (a first neighbour far closer than the second, more often than any dimension
    :math:`\ge 1` allows) enter :math:`\log(r_k/r_1)` with a huge term and pull the estimate
    down; they are found by the test of :func:`twonn` (``NearDuplicateWarning``,
    ``near_duplicates`` True) and, by default, each group is merged into one point before the
    estimate; every row of a group gets its point's pointwise value.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features), optional
        The points; may be omitted when ``neighbors`` is given.
    neighbors : Neighbors, optional
        A precomputed graph with at least ``k`` neighbours.
    k : int, default=20
        Number of neighbours, ``k >= 2``. At ``k = 2`` the global estimate is the maximum
        likelihood estimate of TwoNN (the mean of :math:`\log(r_2/r_1)`, whose law is
        exponential of rate :math:`n`, inverted), so it is consistent; the pointwise values
        are then single noisy ratios.
    correct_bias : bool, default=False
        Apply the finite-sample correction (off by default, so the value is the classical one).
    reference : {"ball", "cube"}, default="ball"
        Reference family of the correction.
    seed : int or None, default=0
        Seed of the reference simulations.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Metric of the graph when it is computed here.
    near_duplicates : {"collapse", "keep"}, default="collapse"
        Estimate on the cloud with near-coincident groups merged, or on the cloud as it is
        (still tested and flagged).

    Returns
    -------
    DimensionEstimate
        ``dimension``, ``pointwise`` (n_points,), ``raw`` when corrected; ``interval`` None.

    References
    ----------
    Levina & Bickel (2004), "Maximum likelihood estimation of intrinsic dimension", NeurIPS 17.
    MacKay & Ghahramani (2005), "Comments on 'Maximum likelihood estimation of intrinsic
    dimension' by E. Levina and P. Bickel" (note).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((2000, 2))
    >>> round(mle(X).dimension)
    2
    """
    k, correct_bias, reference, metric, near_duplicates = MLE_PARAMS.check(
        k=k, correct_bias=correct_bias, reference=reference, metric=metric,
        near_duplicates=near_duplicates).values()
    seed = seed_int(seed)
    if X is not None:  # scale-invariant: work at magnitude ~1 (exact power-of-two rescaling)
        X = normalize_scale(check_points(X, what=f"MLE (k={k})"))[0]
    U, g = distinct_graph(X, k, neighbors=neighbors, metric=metric, what=f"MLE (k={k})")
    _, g, near = collapse_near_duplicates(U, g, k, graph=neighbors, option=near_duplicates,
                                          what=f"MLE (k={k})")
    inv = _pointwise_inverse(g.neighbors.distances)
    with np.errstate(divide="ignore"):
        local = 1.0 / inv
    m = float(inv.mean())
    est = 1.0 / m if m > 0 else np.inf
    raw = None
    if correct_bias:
        raw = est
        (est,) = calibrate(
            [est],
            ("mle",),
            _raw_mle,
            g.n_distinct,
            k,
            max_dim=g.ambient_dim,
            family=reference,
            seed=seed,
        )
    details = {} if near is None else {"near_duplicates": near}
    est, unclipped = clip_dimension(float(est), g.ambient_dim)
    if unclipped is not None:
        details["unclipped"] = unclipped
    return DimensionEstimate(
        dimension=float(est),
        pointwise=g.broadcast(local),
        method="mle",
        raw=raw,
        n_distinct=g.n_distinct,
        near_duplicates=near is not None,
        details=details,
    )
