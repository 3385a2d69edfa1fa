r"""Near-coincident points: a test of the nearest-neighbour ratios against the Pareto law.

The ratio estimators (TwoNN, GRIDE, MLE) assume that, around every point, the sample is a
Poisson process of locally constant density on an :math:`n`-dimensional manifold. Then the
ratio :math:`\mu = r_2/r_1` of the distances to the second and first neighbours follows the
Pareto law :math:`P(\mu > t) = t^{-n}` (Facco et al. 2017), whatever the density and the
curvature. A cloud whose points come in near-coincident pairs (or small groups) — the same
input in two orders that a model maps almost to one vector, a jittered copy, a rounding — has
:math:`r_1` far below the spacing of the cloud for those points, so :math:`\mu` is huge, the
mean of :math:`\log\mu` is large and the estimate :math:`1/\overline{\log\mu}` falls below 1:
the estimators read the zero-dimensional pairs, not the manifold the pairs sit on. Exact
duplicates are collapsed before (``distinct_graph``); this module catches the near ones.

**The test.** Under the Pareto law of dimension :math:`n`, :math:`S(t) = P(\mu > t) =
t^{-n}`. The reference dimension is a lower confidence bound read from the lower half of the
ratios only: the censored maximum-likelihood estimate with the :math:`N - K` ratios above the
median, :math:`K = \lfloor N/2 \rfloor`, treated as censored (Type-II censoring; its law,
:math:`nT \sim \mathrm{Gamma}(K, 1)`, is exact, as for TwoNN's interval),

.. math:: n_{\mathrm{ref}} = \max\big(1,\ g_{\alpha/2}(K) / T\big), \qquad
          T = \sum_{i \le K} \log\mu_{(i)} + (N - K)\log\mu_{(K)},

so that near-coincident points, whose ratios sit in the upper tail, enter it only as "above
the median" while they are fewer than half; the floor 1 is the line, the heaviest tail of
large ratios any manifold gives (when more than half of the points are near-coincident the
test is the line's). With :math:`\hat S(t)` the share of the :math:`N` distinct points whose
ratio exceeds :math:`t`, the statistic is the largest excess over that tail,

.. math:: D = \sup_{t \ge 1} \big(\hat S(t) - t^{-n_{\mathrm{ref}}}\big)
            = \max_j \big(j/N - \mu_{[j]}^{-n_{\mathrm{ref}}}\big)

(:math:`\mu_{[1]} \ge \mu_{[2]} \ge \dots` the ratios in decreasing order). By the one-sided
Dvoretzky–Kiefer–Wolfowitz inequality with Massart's constant,
:math:`P(\sup_t (\hat S(t) - S(t)) > \varepsilon) \le e^{-2N\varepsilon^2}` for :math:`N`
independent ratios; with :math:`n_{\mathrm{ref}} \le n` (probability at least
:math:`1 - \alpha/2`), :math:`t^{-n_{\mathrm{ref}}} \ge S(t)`, so under the Pareto law of any
dimension

.. math:: P(D > \varepsilon) \le \alpha, \qquad
          \varepsilon = \sqrt{\log(2/\alpha) / (2 N_{\mathrm{eff}})},

and the points are declared near-coincident when :math:`D > \varepsilon`, with
:math:`\alpha =` :data:`NEAR_ALPHA` and :math:`N_{\mathrm{eff}} = N/2`: the ratios of two
mutual nearest neighbours share their :math:`r_1`, so at worst they count as one observation.
``benchmarks/sweep_near_duplicates.py`` checks the false-alarm rate where the bound is tight
(lines, circles, a 1-d Gaussian: 200 seeds at each of four sizes) and on the held-out
families of ``benchmarks/validate_dimension.py``, the Hein–Audibert sets and heavy-tailed and
clustered clouds, and the power on clouds with a known share of twinned points
(``benchmarks/results/sweep_near_duplicates.json``).

The test has no constant fitted to data: :math:`\alpha` is a level, the bound is the Pareto
law itself, and the median split is where the reference tolerates the most near-coincident
points. Its power falls where the pairs are not much closer than the spacing (a twin at a
tenth of the spacing in dimension 10 has :math:`\mu` of about 10, which a dimension-1 tail
also gives) and where few points are twinned (about 5-10% at :math:`N = 2000`); the default
TwoNN drops the largest 10% of the ratios, so it is little moved by those.

**The decimated cloud.** When flagged, the points whose ratio is at least :math:`t^\ast`, the
ratio where the excess :math:`D` is attained (their first neighbour is :math:`t^\ast` times closer
than the second, beyond what the reference law allows), are merged with their first neighbour;
each group of merged points keeps one representative (its first row), exactly as exact
duplicates are collapsed. The test is repeated on the decimated cloud (up to
:data:`MAX_ROUNDS` times, for pairs of pairs) and the estimators run on what is left.

References
----------
Facco, d'Errico, Rodriguez & Laio (2017), "Estimating the intrinsic dimension of datasets by a
minimal neighborhood information", Sci. Rep. 7:12140.
Massart (1990), "The tight constant in the Dvoretzky-Kiefer-Wolfowitz inequality", Ann.
Probab. 18(3).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from manifold_probe._params import Param
from manifold_probe._validation import InputError
from manifold_probe.neighbors import Neighbors, cached_knn, graph_on, remember_graph

__all__ = [
    "MAX_ROUNDS",
    "NEAR_ALPHA",
    "NearDuplicateTest",
    "NearDuplicateWarning",
    "collapse_near_duplicates",
    "near_duplicate_test",
    "widen",
]

#: Level of the test: the chance that a cloud following the Pareto law is flagged (DKW bound
#: and the reference dimension's confidence bound, alpha/2 each).
# checked by `benchmarks/sweep_near_duplicates.py`, see docs/validation.md#near-duplicate-test
NEAR_ALPHA = 1e-3
#: Rounds of test-and-merge (a second round catches pairs of pairs).
MAX_ROUNDS = 4
#: Options of the estimators' ``near_duplicates`` argument.
NEAR_OPTIONS = ("collapse", "keep")
NEAR_DUPLICATES = Param("near_duplicates", str, "collapse", "estimate on the cloud with "
                        "near-coincident groups merged, or on the cloud as it is (still tested "
                        "and flagged)", choices=NEAR_OPTIONS)


class NearDuplicateWarning(RuntimeWarning):
    """Near-coincident points drive the distance ratios (see :mod:`._near`)."""


@dataclass(frozen=True)
class NearDuplicateTest:
    """The test of :func:`near_duplicate_test` on one cloud.

    Attributes
    ----------
    detected : bool
        ``excess > bound``.
    excess : float
        :math:`D`, the largest excess of the share of large ratios over the reference tail.
    bound : float
        :math:`\\varepsilon`.
    ratio : float
        :math:`t^\\ast`, the ratio at which the excess is attained.
    reference_dimension : float
        :math:`n_{\\mathrm{ref}}`.
    share : float
        Share of the points with :math:`\\mu \\ge t^\\ast`.
    flagged : ndarray of bool, shape (N,)
        Those points.
    """

    detected: bool
    excess: float
    bound: float
    ratio: float
    share: float
    flagged: np.ndarray
    reference_dimension: float = 1.0


def near_duplicate_test(distances: np.ndarray, alpha: float = NEAR_ALPHA) -> NearDuplicateTest:
    r"""Whether the ratios :math:`r_2/r_1` have more large values than the cloud's dimension allows.

    Parameters
    ----------
    distances : ndarray (N, k >= 2)
        Neighbour distances of the distinct points, ascending, self excluded.
    alpha : float, default=NEAR_ALPHA

    Returns
    -------
    NearDuplicateTest

    Examples
    --------
    A line (the heaviest tail of large ratios any manifold gives) passes; the same line with
    every point doubled at a distance 1000 times below the spacing does not:

    >>> t = np.sort(np.random.default_rng(0).random(1000))
    >>> r = np.abs(t[:, None] - t[None, :]); np.fill_diagonal(r, np.inf)
    >>> near_duplicate_test(np.sort(r, axis=1)[:, :2]).detected
    False
    >>> u = np.r_[t, t + 1e-7]
    >>> r = np.abs(u[:, None] - u[None, :]); np.fill_diagonal(r, np.inf)
    >>> near_duplicate_test(np.sort(r, axis=1)[:, :2]).detected
    True
    """
    d = np.asarray(distances, dtype=np.float64)
    r1, r2 = d[:, 0], d[:, 1]
    n = len(r1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(r1 > 0, r2 / r1, np.inf)
    s = np.sort(mu)[::-1]
    n_ref = _reference_dimension(np.log(s[::-1]), alpha / 2)
    with np.errstate(divide="ignore", over="ignore"):
        excess = np.arange(1, n + 1) / n - s ** (-n_ref)
    j = int(np.argmax(excess))
    bound = float(np.sqrt(np.log(2.0 / alpha) / n))  # N_eff = N / 2 in the DKW bound
    t = float(s[j])
    flagged = mu >= t
    return NearDuplicateTest(bool(excess[j] > bound), float(excess[j]), bound, t,
                             float(flagged.mean()), flagged, n_ref)


def _reference_dimension(log_mu_sorted: np.ndarray, level: float) -> float:
    """max(1, lower ``level`` bound of the censored MLE from the lower half of the ratios)."""
    from scipy.special import gammaincinv

    n = len(log_mu_sorted)
    k = max(1, n // 2)
    x = log_mu_sorted[:k]
    if not np.isfinite(x).all():
        return 1.0
    total = float(x.sum() + (n - k) * x[-1])
    if total <= 0:
        return 1.0
    return max(1.0, float(gammaincinv(k, level)) / total)


def _groups(flagged: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Component labels of the graph joining each flagged point to its first neighbour."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(flagged)
    r = np.flatnonzero(flagged)
    adj = coo_matrix((np.ones(len(r)), (r, first[r])), shape=(n, n))
    return connected_components(adj, directed=False)[1]


def _representatives(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(kept rows in increasing order, row -> index of its group's kept row)."""
    n = len(labels)
    reps = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(reps, labels, np.arange(n))
    order = np.argsort(reps, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return reps[order], rank[labels]


def collapse_near_duplicates(U, g, k: int, *, graph: Neighbors | None = None,
                             option: str = "collapse", what: str = ""):
    """The distinct cloud ``(U, g)`` with near-coincident groups merged (see the module notes).

    Parameters
    ----------
    U : ndarray (m, D) or None
        The distinct points (None when only a graph was given).
    g : DistinctGraph
        Its graph (:func:`~manifold_probe.dimension._base.distinct_graph`).
    k : int
        Neighbours the estimator needs.
    graph : Neighbors, optional
        The graph the caller passed (on all rows); used, with all its columns, when there
        are no points to recompute the graph of the decimated cloud from. A merged group then
        sits at the distance of its nearest member, which differs from the kept point's by at
        most the group's size (the points path recomputes the graph exactly). With the points,
        a Euclidean ``graph`` of the distinct rows themselves (no exact duplicates) with more
        than ``k`` columns is where the decimated cloud's graph is read off
        (:func:`~manifold_probe.neighbors.graph_on`: a kept row's first ``k`` kept
        neighbours, a certified search for the rows that list fewer, the same graph as a
        search of the decimated cloud).
    option : {"collapse", "keep"}
        ``"keep"``: test and report, but estimate on the cloud as it is.
    what : str
        The estimator's name, for messages.

    Returns
    -------
    (U, g, info)
        ``info`` is None when no near-coincident points were found; otherwise a dict for
        ``DimensionEstimate.details["near_duplicates"]``: ``excess``, ``bound``, ``ratio``,
        ``share`` (of the first round), ``n_before``, ``n_after``, ``rounds``, ``resolved``
        (False when the last round still fails the test), ``collapsed``.
    """
    from manifold_probe.dimension._base import DistinctGraph, chordal, collapse

    test = near_duplicate_test(g.neighbors.distances)
    if not test.detected:
        return U, g, None
    info = {"excess": test.excess, "bound": test.bound, "ratio": test.ratio,
            "share": test.share, "reference_dimension": test.reference_dimension, "n_before": g.n_distinct, "collapsed": option == "collapse"}
    rounds = 0
    # the decimated cloud is U[kept] of the first U: its graph is read off a wider graph of U
    parent = (graph if U is not None and graph is not None and graph.metric == "euclidean"
              and graph.n_points == U.shape[0] and graph.k > k else None)
    kept = None if U is None else np.arange(U.shape[0])
    if option == "collapse":
        while test.detected and rounds < MAX_ROUNDS:
            labels = _groups(test.flagged, g.neighbors.indices[:, 0])
            keep, to_kept = _representatives(labels)
            if len(keep) <= k + 1:
                break
            metric = "cosine" if g.neighbors.metric == "chord" else g.neighbors.metric
            if U is not None:
                U, kept = U[keep], kept[keep]
                if parent is not None:
                    nb = graph_on(U, k, parent, kept)
                    # the estimators that merge the same points next (TwoNN and MLE after
                    # GRIDE in the layer profile) ask the cache for their graph
                    remember_graph(U, nb)
                else:
                    nb = cached_knn(U, k, metric)
                nb, inverse = chordal(nb), to_kept[g.inverse]
            else:
                # the caller's graph on all rows, with every row labelled by its merged group
                try:
                    nb, inverse = collapse(graph if graph is not None else g.neighbors,
                                            to_kept[g.inverse] if graph is not None else labels,
                                            k, what)
                    nb = chordal(nb)
                    if graph is None:
                        inverse = inverse[g.inverse]
                except InputError as exc:
                    raise InputError(
                        f"{what}: near-coincident points drive the distance ratios, and the "
                        "graph has too few neighbours to estimate on the decimated cloud; pass "
                        "the points X (or a graph with more neighbours), or "
                        "near_duplicates='keep' to estimate on the cloud as it is"
                    ) from exc
            g = DistinctGraph(nb, inverse, g.ambient_dim)
            rounds += 1
            test = near_duplicate_test(nb.distances)
    info.update(n_after=g.n_distinct, rounds=rounds, resolved=not test.detected)
    warnings.warn(message(what, info), NearDuplicateWarning, stacklevel=4)
    return U, g, info


def message(what: str, info: dict) -> str:
    """The one-line account of a near-duplicate finding (warning text and profile note)."""
    head = (f"{what}: {100 * info['share']:.0f}% of the {info['n_before']} distinct points have "
            f"a first neighbour at least {info['ratio']:.3g} times closer than the second, more "
            f"than the Pareto law of dimension {info['reference_dimension']:.2g} (at least 1, "
            "read from the lower half of the ratios) gives (excess "
            f"{info['excess']:.2f}, bound {info['bound']:.2f}): near-coincident points")
    if not info["collapsed"]:
        return head + "; the estimate on the cloud as it is reads their pairs, not the manifold"
    tail = (f"; estimated on the decimated cloud ({info['n_after']} points, each "
            f"near-coincident group merged)")
    if not info["resolved"]:
        tail += ", which still fails the test: the estimate is a lower bound"
    return head + tail


def widen(interval, info: dict | None, ambient: int | None) -> tuple[float, float]:
    """The interval of an estimate that is only a lower bound (near-coincident points kept, or
    still there after decimation) runs up to the ambient dimension (``inf`` without one)."""
    if info is None or (info["collapsed"] and info["resolved"]):
        return interval
    return (float(interval[0]), float(ambient) if ambient is not None else float("inf"))
