"""Shared pieces of the intrinsic-dimension estimators.

- :class:`DimensionEstimate`, the one result type;
- :func:`distinct_graph`, the shared preamble (validate, collapse exact duplicate rows, compute
  or reuse ONE k-nearest-neighbour graph);
- :func:`calibrate`, the finite-sample bias correction by simulation on a reference family of
  known dimension (uniform balls or cubes with the same number of points and the same k).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manifold_probe._neighbors_type import METRICS
from manifold_probe._params import Param
from manifold_probe._validation import (
    InputError,
    check_int,
    check_points,
    check_seed,
    unique_rows,
)
from manifold_probe.neighbors import Neighbors, cached_knn, check_graph

__all__ = [
    "DimensionEstimate",
    "distinct_graph",
    "REFERENCE_FAMILIES",
]

# Params shared by the estimators' schemas (see manifold_probe._params).
SEED = Param("seed", int, 0, "seed of the reference simulations (a numpy Generator is accepted "
             "too; None: fresh randomness)", ge=0, nullable=True)
METRIC = Param("metric", str, "euclidean", "metric of the graph when it is computed here",
               choices=METRICS)
CORRECT_BIAS = Param("correct_bias", bool, False, "apply the finite-sample correction")
REFERENCE_FAMILIES = ("ball", "cube")
REFERENCE = Param("reference", str, "ball", "reference family of the correction",
                  choices=REFERENCE_FAMILIES)


@dataclass(frozen=True)
class DimensionEstimate:
    """An intrinsic-dimension estimate.

    Attributes
    ----------
    dimension : float
        The estimate of the intrinsic dimension of the whole cloud.
    pointwise : ndarray of float64, shape (n_points,), or None
        Local estimates, one per input row (rows that are exact copies share their value), for
        the methods that have them (``mle``, ``lpca``).
    interval : (float, float) or None
        A 95% interval for ``dimension`` where the method has one (``twonn``, ``gride``).
    method : str
        The method's name.
    raw : float or None
        The estimate before the finite-sample bias correction (``None`` when none was applied).
    scale : ndarray of float64, shape (n_scales,), or None
        ``gride``: the neighbour ranks ``n1`` of the scale analysis.
    curve : ndarray of float64, shape (n_scales,), or None
        ``gride``: the (uncorrected) estimate at each ``scale``.
    n_distinct : int or None
        Number of distinct rows the estimate was computed on (exact duplicates collapsed, and
        near-coincident groups merged when ``near_duplicates``).
    near_duplicates : bool
        True when the ratio estimators found near-coincident points: more points with a first
        neighbour far closer than the second than any dimension >= 1 gives (the test of
        :mod:`manifold_probe.dimension._near`). The estimate is then made on the decimated cloud
        (``details["near_duplicates"]`` says how many points were merged, at which ratio and
        what the test read); a ``NearDuplicateWarning`` says so.
    scale_dependent : bool or None
        ``twonn``: True when the estimate depends on the neighbourhood scale (GRIDE's curve
        falls significantly, by more than 10%, from the smallest scale: noise, boundaries or a
        very uneven density), in
        which case ``interval`` spans the scales; None when not checked (see
        :func:`~manifold_probe.dimension.scale_dependence`).
    details : dict
        Method-specific extras, not part of equality. ``gride``: ``raw_curve``, ``error``,
        ``selected_n1`` (the reported scale), ``plateau_n1`` (first and last n1 of the stable
        range), ``plateau_range`` (its lowest and highest 95% bound), ``scale_reason`` (why
        that scale), ``lattice_scales``; ``twonn``: ``scale_check`` (GRIDE's curve and the scale range); corrected ``twonn``/``gride``:
        ``correction_applied``, ``correction_mc_se``; ``phd``: ``sizes``, ``lengths``,
        ``slope``.

    Notes
    -----
    The finite-sample corrections cache their reference simulations in memory, keyed by
    estimator, reference family, number of points, k and dimension; they use a fixed internal
    seed, so the cache only saves time (same inputs, same numbers).
    """

    dimension: float
    pointwise: np.ndarray | None = None
    interval: tuple[float, float] | None = None
    method: str = ""
    raw: float | None = None
    scale: np.ndarray | None = None
    curve: np.ndarray | None = None
    n_distinct: int | None = None
    near_duplicates: bool = False
    scale_dependent: bool | None = None
    details: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class DistinctGraph:
    """A kNN graph on the distinct rows of a cloud, and how to broadcast back to all rows."""

    neighbors: Neighbors  # graph among distinct rows, exactly k columns
    inverse: np.ndarray  # (n_points,) row -> distinct row
    ambient_dim: int | None  # number of coordinates, when the points were given

    @property
    def n_distinct(self) -> int:
        return self.neighbors.n_points

    def broadcast(self, values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values[self.inverse], dtype=np.float64)


def _classes_from_graph(nb: Neighbors) -> np.ndarray:
    """Duplicate classes read off a graph: rows joined by zero-distance edges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    r, c = np.nonzero(nb.distances == 0.0)
    n = nb.n_points
    adj = coo_matrix((np.ones(len(r)), (r, nb.indices[r, c])), shape=(n, n))
    _, labels = connected_components(adj, directed=False)
    return labels


def collapse(nb: Neighbors, labels: np.ndarray, k: int, what: str) -> tuple[Neighbors, np.ndarray]:
    """Graph among duplicate classes from a graph among rows (first row of a class represents it)."""
    n = nb.n_points
    # representative = smallest row index of each class, in increasing order
    reps = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(reps, labels, np.arange(n))
    order = np.argsort(reps, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    inverse = rank[labels]
    first = reps[order]
    cls = inverse[nb.indices[first]]  # (m, k_graph) neighbour classes
    dist = nb.distances[first]
    m = len(first)
    own = cls == np.arange(m)[:, None]
    # keep the first occurrence of every class in each row (distances ascending)
    srt = np.argsort(cls, axis=1, kind="stable")
    cs = np.take_along_axis(cls, srt, axis=1)
    dup = np.zeros_like(own)
    dup_sorted = np.zeros(cs.shape, dtype=bool)
    dup_sorted[:, 1:] = cs[:, 1:] == cs[:, :-1]
    np.put_along_axis(dup, srt, dup_sorted, axis=1)
    keep = ~(own | dup)
    counts = keep.sum(axis=1)
    if counts.min() < k:
        raise InputError(
            f"the neighbour graph has k={nb.k}, but after collapsing exact duplicate rows some "
            f"points have only {int(counts.min())} distinct neighbours and {what} needs {k}; "
            "recompute it with a larger k (mp.knn(X, k=...)) or pass X instead of neighbors"
        )
    pos = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    d = np.take_along_axis(dist, pos, axis=1)
    i = first[np.take_along_axis(cls, pos, axis=1)]
    # indices must refer to distinct rows (0..m-1)
    i = inverse[i]
    return Neighbors(np.ascontiguousarray(d), np.ascontiguousarray(i), nb.metric), inverse


def distinct_graph(
    X: Any,
    k: int,
    *,
    neighbors: Neighbors | None = None,
    metric: str = "euclidean",
    what: str = "this method",
) -> tuple[np.ndarray | None, DistinctGraph]:
    """Validate, collapse exact duplicate rows and return ONE kNN graph among the distinct rows.

    Exact duplicates are the same point of the manifold sampled twice: they carry no
    information about the dimension and, left in, they give zero distances (``inf``/``NaN``
    ratios) and bias the ratios of their neighbours. Every estimator therefore works on the
    distinct rows, and pointwise values are broadcast back to all rows.

    With ``metric="cosine"`` the distances are returned as chord lengths between the normalised
    rows (see :func:`chordal`), and rows pointing the same way count as duplicates. With ``X``
    and no graph, the graph is computed once on the distinct rows. With a graph computed on all
    rows, duplicate classes are read from ``X`` (or, without ``X`` or for cosine graphs, from
    the zero-distance edges of the graph) and each distinct row keeps its first ``k``
    neighbours of other classes.

    Returns
    -------
    (distinct points or None, DistinctGraph)
    """
    k = check_int(k, name="k", minimum=1)
    A = None
    if X is not None:
        A = check_points(X, min_points=k + 1, what=what)
    if neighbors is not None:
        check_graph(neighbors, A, k, what=what)
        # The graph is exact, so a row with a copy has it as first neighbour at distance 0:
        # no zero in the first column means no duplicates (and no need to sort the rows).
        has_dup = bool((neighbors.distances[:, 0] == 0.0).any())
        labels = None
        if has_dup:
            # cosine: rows pointing the same way are the same point (distance 0), copies or not
            exact_rows = A is not None and neighbors.metric != "cosine"
            labels = unique_rows(A)[1] if exact_rows else _classes_from_graph(neighbors)
        if not has_dup:
            g = DistinctGraph(
                chordal(neighbors.truncate(k)), np.arange(neighbors.n_points), _dim(A)
            )
            return A, g
        nb, inverse = collapse(neighbors, labels, k, what)
        if nb.n_points <= k:
            raise InputError(
                f"{what} needs more than k={k} distinct points; there are {nb.n_points}"
            )
        pts = None if A is None else A[np.sort(np.unique(inverse, return_index=True)[1])]
        return pts, DistinctGraph(chordal(nb), inverse, _dim(A))
    if A is None:
        raise InputError("pass the points X or a precomputed neighbors=mp.knn(X, k)")
    if metric == "cosine":  # same direction = same point: collapse on the normalised rows
        norms = np.linalg.norm(A, axis=1, keepdims=True)
        first, inverse = _distinct_rows(
            np.divide(A, norms, out=np.zeros_like(A), where=norms > 0)
        )
    else:
        first, inverse = _distinct_rows(A)
    U = A[first] if len(first) < A.shape[0] else A
    if U.shape[0] <= k:
        raise InputError(
            f"{what} needs more than k={k} distinct points; X has {U.shape[0]} distinct rows "
            f"({A.shape[0]} in all). Pass more points or choose a smaller k"
        )
    return U, DistinctGraph(chordal(cached_knn(U, k, metric)), inverse, A.shape[1])


def _distinct_rows(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)`` of :func:`unique_rows`, without sorting the rows when all differ.

    Equal rows have equal bits once ``-0.0`` is made ``+0.0``, so equal rows get equal hashes
    (a fixed random linear map of the 64-bit words, modulo 2**64): when the hashes of the rows,
    first restricted to a few columns and then over all of them, are all different, no two rows
    are equal. Otherwise (duplicates, or a collision) the rows are sorted by
    :func:`unique_rows`. The result is that of :func:`unique_rows` either way.
    """
    n, d = A.shape
    words = np.ascontiguousarray(A + 0.0).view(np.uint64)
    weights = np.random.default_rng(0).integers(1, 2**63, size=d, dtype=np.uint64)
    for cols in (slice(0, min(d, 8)), slice(0, d)):
        if len(np.unique(words[:, cols] @ weights[cols])) == n:
            return np.arange(n), np.arange(n)
    first, inverse, _ = unique_rows(A)
    return first, inverse


def chordal(nb: Neighbors) -> Neighbors:
    """Cosine distances 1 - cos(theta) turned into chord lengths sqrt(2 (1 - cos theta)).

    The estimators read ratios of distances, which must scale linearly with length; the cosine
    distance scales as its square (theta^2 / 2), which would halve every estimate. The chord is
    the Euclidean distance between the normalised rows, so the neighbour order is unchanged.
    """
    if nb.metric != "cosine":
        return nb
    return Neighbors(np.sqrt(2.0 * np.maximum(nb.distances, 0.0)), nb.indices, "chord")


def _dim(A: np.ndarray | None) -> int | None:
    return None if A is None else int(A.shape[1])


# ----------------------------------------------------------------------------------------------
# Lattices: exactly repeated distance ratios

# Two log-ratios closer than this count as the same value. Under the Pareto law of a
# continuous density P(|log mu - c| < 1e-9) is about n * 1e-9 for any c, so a value shared by
# many points can only come from a lattice, a grid or rounded coordinates.
RATIO_TIE = 1e-9


def repeated_ratio_share(log_mu: np.ndarray) -> tuple[float, float]:
    """Share of the points whose log-ratio equals the most common value (within RATIO_TIE),
    and that ratio."""
    x = np.sort(np.asarray(log_mu, dtype=np.float64))
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return 1.0, np.nan
    # runs of values closer than RATIO_TIE to their predecessor
    starts = np.flatnonzero(np.r_[True, np.diff(x) > RATIO_TIE])
    runs = np.diff(np.r_[starts, len(x)])
    top = int(np.argmax(runs))
    if runs[top] < 2:  # every value is distinct
        return 0.0, np.nan
    return float(runs[top] / len(x)), float(np.exp(x[starts[top]]))


def lattice_message(what: str, share: float, value: float, ratio: str = "r_2/r_1") -> str:
    """The error/warning text for exactly repeated distance ratios."""
    return (
        f"{what}: {100 * share:.0f}% of the points have the same distance ratio "
        f"({ratio} = {value:.6g}), which a continuous density on a manifold gives with "
        "probability 0: the points look like a lattice, a grid or heavily rounded data, and the "
        "ratio estimators would return a meaningless value (up to the number of coordinates). "
        "Add a small jitter that reflects the measurement precision, or use another method "
        "(e.g. method='lpca')"
    )


class ParamsMixin:
    """``get_params``/``set_params`` read from ``__init__``'s signature (scikit-learn contract)."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> ParamsMixin:
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise InputError(
                    f"{type(self).__name__} has no parameter {name!r}; valid parameters: {valid}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def seed_int(seed: Any) -> int:
    """An int seed from None/int/Generator, with numpy's meaning of ``None``: fresh randomness.

    An int is returned as it is; a Generator (or ``None``, through
    :func:`~manifold_probe._validation.check_seed`) draws one, so ``seed=None`` here means
    what it means in every other entry point. The estimators' default ``seed=0`` keeps their
    results reproducible.
    """
    rng = check_seed(seed)  # validates the seed
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    return int(rng.integers(2**31))
