"""Shared pieces of the intrinsic-dimension estimators.

- :class:`DimensionEstimate`, the one result type;
- :func:`distinct_graph`, the shared preamble (validate, collapse exact duplicate rows, compute
  or reuse ONE k-nearest-neighbour graph);
- :func:`calibrate`, the finite-sample bias correction by simulation on a reference family of
  known dimension (uniform balls or cubes with the same number of points and the same k).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manifold_probe._validation import (
    InputError,
    check_int,
    check_option,
    check_points,
    check_seed,
    unique_rows,
)
from manifold_probe.neighbors import Neighbors, check_graph, knn

__all__ = [
    "DimensionEstimate",
    "distinct_graph",
    "calibrate",
    "correct",
    "Correction",
    "REFERENCE_FAMILIES",
]

REFERENCE_FAMILIES = ("ball", "cube")


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
        Number of distinct rows the estimate was computed on (exact duplicates collapsed).
    details : dict
        Method-specific extras, not part of equality. ``gride``: ``raw_curve``, ``error``,
        ``selected_n1`` (the reported scale), ``plateau_n1`` (first and last n1 of the stable
        range), ``plateau_range`` (its lowest and highest 95% bound), ``scale_reason`` (why
        that scale), ``lattice_scales``; corrected ``twonn``/``gride``:
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


def _collapse(nb: Neighbors, labels: np.ndarray, k: int, what: str) -> tuple[Neighbors, np.ndarray]:
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
    rows (see :func:`_chordal`), and rows pointing the same way count as duplicates. With ``X``
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
                _chordal(neighbors.truncate(k)), np.arange(neighbors.n_points), _dim(A)
            )
            return A, g
        nb, inverse = _collapse(neighbors, labels, k, what)
        if nb.n_points <= k:
            raise InputError(
                f"{what} needs more than k={k} distinct points; there are {nb.n_points}"
            )
        pts = None if A is None else A[np.sort(np.unique(inverse, return_index=True)[1])]
        return pts, DistinctGraph(_chordal(nb), inverse, _dim(A))
    if A is None:
        raise InputError("pass the points X or a precomputed neighbors=mp.knn(X, k)")
    if metric == "cosine":  # same direction = same point: collapse on the normalised rows
        norms = np.linalg.norm(A, axis=1, keepdims=True)
        first, inverse, _ = unique_rows(np.divide(A, norms, out=np.zeros_like(A), where=norms > 0))
    else:
        first, inverse, _ = unique_rows(A)
    U = A[first] if len(first) < A.shape[0] else A
    if U.shape[0] <= k:
        raise InputError(
            f"{what} needs more than k={k} distinct points; X has {U.shape[0]} distinct rows "
            f"({A.shape[0]} in all). Pass more points or choose a smaller k"
        )
    return U, DistinctGraph(_chordal(knn(U, k, metric)), inverse, A.shape[1])


def _chordal(nb: Neighbors) -> Neighbors:
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


# ----------------------------------------------------------------------------------------------
# Finite-sample bias correction by simulation


_REFERENCE_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_MAX_DIM = 1024
# Reference estimates are means over query points, so they need the neighbours of a subset of
# the points only (among ALL N points: the bias depends on N). Their spread falls as
# 1/sqrt(queries): 2500 queries give about 2% of the dimension for TwoNN.
REFERENCE_QUERIES = 2500
# Independent reference samples per dimension: at least REFERENCE_MIN_REPEATS, and enough for
# REFERENCE_TOTAL_QUERIES query points in all (small N needs more samples for the same spread).
# Their standard error is the Monte-Carlo spread that enters the corrected interval.
REFERENCE_MIN_REPEATS = 4
REFERENCE_TOTAL_QUERIES = 10_000
# The reference simulations use this fixed seed, never the caller's: a corrected value is a
# function of the data alone (same data, same correction, whatever ``seed`` the caller passes).
REFERENCE_SEED = 20170912
# Reference dimensions simulated: all integers up to 10, then a geometric grid (see
# _next_reference_dim).
REFERENCE_GRID_DENSE = 10
REFERENCE_GRID_GROWTH = 1.2


def reference_sample(family: str, n_points: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform sample of the unit ``dim``-ball or of the unit ``dim``-cube."""
    if family == "cube":
        return rng.random((n_points, dim))
    g = rng.standard_normal((n_points, dim))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    return g * rng.random((n_points, 1)) ** (1.0 / dim)


def reference_distances(Y: np.ndarray, k: int, n_queries: int = REFERENCE_QUERIES) -> np.ndarray:
    """Sorted distances to the k nearest neighbours among all rows of ``Y`` (self excluded),
    for the first ``min(n, n_queries)`` rows (i.i.d. samples, so any subset is a fair one).

    Blocked ``|q|^2 + |y|^2 - 2 q.y`` in float64 (torch): reference samples are random, so there
    are no near-duplicates for the shortcut to lose.
    """
    import torch

    n = Y.shape[0]
    q = min(n, n_queries)
    Yt = torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float64))
    sq = (Yt * Yt).sum(dim=1)
    out = np.empty((q, k))
    block = max(1, min(q, (64 * 2**20) // (8 * n)))
    for s in range(0, q, block):
        e = min(q, s + block)
        # |y|^2 - 2 q.y; the row constant |q|^2 is added after the selection
        D2 = torch.addmm(sq[None, :], Yt[s:e], Yt.T, beta=1.0, alpha=-2.0)
        D2[torch.arange(e - s), torch.arange(s, e)] = float("inf")
        v = torch.topk(D2, k, dim=1, largest=False, sorted=True).values + sq[s:e, None]
        out[s:e] = v.clamp_min_(0.0).sqrt_().numpy()
    return out


def reference_repeats(n_points: int) -> int:
    """Number of independent reference samples per dimension for ``n_points`` points."""
    per = min(n_points, REFERENCE_QUERIES)
    return max(REFERENCE_MIN_REPEATS, int(np.ceil(REFERENCE_TOTAL_QUERIES / per)))


def reference_value(
    key: tuple,
    raw_fn: Callable[[np.ndarray], Any],
    n_points: int,
    k: int,
    dim: int,
    *,
    family: str = "ball",
    seed: int = 0,
    repeats: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean raw estimate(s) on uniform samples of a ``dim``-dimensional reference, and the
    standard error of that mean over the ``repeats`` independent samples (cached).

    ``raw_fn`` maps sorted neighbour distances ``(n_queries, k)`` to one value or to a vector
    of values (e.g. one per scale). The samples are drawn with the fixed ``REFERENCE_SEED``;
    ``seed`` is accepted for compatibility and ignored.
    """
    del seed  # the reference never depends on the caller's seed
    repeats = reference_repeats(n_points) if repeats is None else int(repeats)
    ck = (key, family, n_points, k, dim, repeats)
    if ck not in _REFERENCE_CACHE:
        vals = []
        fam = REFERENCE_FAMILIES.index(family)
        for r in range(repeats):
            rng = np.random.default_rng([REFERENCE_SEED, n_points, dim, r, fam])
            d = reference_distances(reference_sample(family, n_points, dim, rng), k)
            vals.append(np.atleast_1d(np.asarray(raw_fn(d), dtype=np.float64)))
        v = np.asarray(vals)
        se = v.std(axis=0, ddof=1) / np.sqrt(repeats) if repeats > 1 else np.zeros(v.shape[1])
        _REFERENCE_CACHE[ck] = (v.mean(axis=0), se)
    return _REFERENCE_CACHE[ck]


@dataclass(frozen=True)
class Correction:
    """A finite-sample correction of one estimate and its interval (see :func:`correct`).

    ``applied`` is False when the reference curve was not monotone and the raw values were
    kept (with a warning); ``mc_se`` is the Monte-Carlo standard error of the corrected
    estimate (already folded into ``interval``); ``curve`` holds the reference dimensions
    and mean raw estimates used.
    """

    estimate: float
    interval: tuple[float, float]
    applied: bool
    mc_se: float
    curve: tuple[np.ndarray, np.ndarray]


def _next_reference_dim(m: int) -> int:
    """Reference grid: every integer up to ``REFERENCE_GRID_DENSE``, then steps of ~20%.

    Above ~10 dimensions f(m) rises by less than its Monte-Carlo error per dimension (TwoNN,
    N = 2000: f(51) - f(50) = 0.14, standard error 0.13), so the mean curve on all integers
    is out of order at 10 of 69 adjacent pairs (m <= 70) and the monotonicity check would test
    the noise; on this grid it is out of order at none, at N = 300 and 2000
    (``benchmarks/bench_dimension_reference.py``), and f is smooth enough for linear
    interpolation between the grid points.
    """
    return m + 1 if m < REFERENCE_GRID_DENSE else int(np.ceil(m * REFERENCE_GRID_GROWTH))


def _reference_curve(
    f: Callable[[int], tuple[float, float]], upto: float, cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """f evaluated on the reference grid until two consecutive values exceed ``upto`` (or the
    grid reaches ``cap``): one point past the crossing, so that a dip right after it is seen."""
    ms, means, ses = [], [], []
    m = 1
    while True:
        mean, se = f(m)
        ms.append(m)
        means.append(mean)
        ses.append(se)
        if (len(means) > 1 and min(means[-2:]) > upto) or m >= cap:
            break
        m = min(cap, _next_reference_dim(m))
    return np.asarray(ms, float), np.asarray(means), np.asarray(ses)


def _invert_curve(raw: float, ms: np.ndarray, means: np.ndarray, cap: int) -> float:
    """Solve f(m) = raw on an increasing curve, linear between grid points; proportional below
    f(1); capped at ``cap``."""
    if not np.isfinite(raw):
        return float(cap) if raw > 0 else float(raw)
    if raw < means[0]:
        return float(raw / means[0])
    if raw >= means[-1]:
        return float(cap) if ms[-1] >= cap else float(ms[-1])
    return float(min(cap, np.interp(raw, means, ms)))


def correct(
    raw: float,
    interval: tuple[float, float],
    key: tuple,
    raw_fn: Callable[[np.ndarray], Any],
    n_points: int,
    k: int,
    *,
    max_dim: int | None = None,
    family: str = "ball",
    component: int = 0,
) -> Correction:
    r"""Correct the finite-sample bias of an estimate by inverting its reference curve.

    For a reference family of known dimension :math:`m` (uniform samples of the unit
    :math:`m`-ball, or cube) with the same number of points :math:`N` and the same neighbour
    count :math:`k`, let :math:`f(m) = \mathbb{E}[\hat n]` be the mean raw estimate, simulated
    at :math:`m = 1, 2, \dots, 10` and then in steps of about 20% (``reference_repeats(N)``
    independent samples each, fixed seed, cached) until two consecutive values pass the
    largest value to invert. The corrected estimate is
    :math:`\hat m = f^{-1}(\hat n_{\mathrm{raw}})`, linear between grid points, capped at
    ``max_dim`` (the number of coordinates). This is the calibration idea of DANCo and MiND
    (Ceruti et al. 2014; Rozza et al. 2012).

    **Checks and uncertainty.** The simulated curve must increase strictly over the range used;
    otherwise no inverse exists, the raw values are returned unchanged with a
    ``RuntimeWarning`` and ``applied=False``. The Monte-Carlo error of :math:`f` gives
    :math:`\mathrm{se}(\hat m) = \mathrm{se}_f(\hat m)/f'(\hat m)`; each side of the interval
    is :math:`\sqrt{(\hat m - f^{-1}(\text{end}))^2 + (1.96\,\mathrm{se}(\hat m))^2}` away
    from :math:`\hat m`, so the interval always contains the estimate.
    """
    family = check_option(family, REFERENCE_FAMILIES, name="reference")
    cap = _MAX_DIM if max_dim is None else max(1, min(int(max_dim), _MAX_DIM))

    def f(m: int) -> tuple[float, float]:
        mean, se = reference_value(key, raw_fn, n_points, k, m, family=family)
        return float(mean[component]), float(se[component])

    finite = [v for v in (raw, *interval) if np.isfinite(v)]
    ms, means, ses = _reference_curve(f, max(finite, default=1.0), cap)
    if len(means) > 1 and not np.all(np.diff(means) > 0):
        bad = int(np.flatnonzero(np.diff(means) <= 0)[0])
        warnings.warn(
            f"the finite-sample reference curve is not monotone at N={n_points} "
            f"(f({bad + 1})={means[bad]:.3f}, f({bad + 2})={means[bad + 1]:.3f}); the "
            "correction cannot be inverted and the uncorrected value is reported",
            RuntimeWarning,
            stacklevel=3,
        )
        lo, hi = min(interval[0], raw), max(interval[1], raw)
        return Correction(float(raw), (float(lo), float(hi)), False, 0.0, (ms, means))
    est = _invert_curve(raw, ms, means, cap)
    lo_c, hi_c = (_invert_curve(v, ms, means, cap) for v in interval)
    mc = _mc_se(est, ms, means, ses)
    lo = est - float(np.hypot(max(est - lo_c, 0.0), 1.96 * mc))
    hi = est + float(np.hypot(max(hi_c - est, 0.0), 1.96 * mc))
    return Correction(est, (max(lo, 0.0), min(hi, float(cap))), True, mc, (ms, means))


def _mc_se(est: float, ms: np.ndarray, means: np.ndarray, ses: np.ndarray) -> float:
    """Monte-Carlo standard error of f^{-1} at ``est``: se_f / slope of f there."""
    if len(ms) < 2 or not np.isfinite(est):
        return 0.0
    i = int(np.clip(np.searchsorted(ms, est) - 1, 0, len(ms) - 2))
    slope = (means[i + 1] - means[i]) / (ms[i + 1] - ms[i])
    return float(np.interp(est, ms, ses) / slope) if slope > 0 else 0.0


def calibrate(
    raw_values: list[float],
    key: tuple,
    raw_fn: Callable[[np.ndarray], Any],
    n_points: int,
    k: int,
    *,
    max_dim: int | None = None,
    family: str = "ball",
    seed: int = 0,
    repeats: int | None = None,
    component: int = 0,
) -> list[float]:
    r"""Corrected values :math:`f^{-1}(v)` of several raw values (see :func:`correct`).

    Kept for callers that correct point values only. ``seed`` and ``repeats`` are accepted for
    compatibility and ignored: the reference uses a fixed seed and ``reference_repeats(N)``
    samples per dimension. When the reference curve is not monotone the raw values are
    returned unchanged, with a ``RuntimeWarning``.
    """
    del seed, repeats
    finite = [v for v in raw_values if np.isfinite(v)]
    top = max(finite, default=1.0)
    c = correct(
        top,
        (top, top),
        key,
        raw_fn,
        n_points,
        k,
        max_dim=max_dim,
        family=family,
        component=component,
    )
    if not c.applied:
        return [float(v) for v in raw_values]
    ms, means = c.curve
    cap = _MAX_DIM if max_dim is None else max(1, min(int(max_dim), _MAX_DIM))
    return [_invert_curve(float(v), ms, means, cap) for v in raw_values]


# ----------------------------------------------------------------------------------------------
# sklearn-style parameter handling without importing scikit-learn


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
