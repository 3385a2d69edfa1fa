r"""Significant components (H0): single linkage on a landmark net, with each merge tested
against exponential edge tails (the H0 half of :func:`betti_numbers`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["h0_pvalues"]

# H0 candidates: components holding at least this fraction of the landmarks (8 of 400), and
# at least MIN_COMPONENT_POINTS: a pair is no component (two near-duplicates in a 30-point
# cloud, 1e-7 apart, are a significant pair under the null, p = b/d, but not a piece of
# the shape: 15 such pairs read beta_0 = 15 with pairs allowed). The counts of
# benchmarks/sweep_topology_h0.py at the n/2 net and its false-split rates are the same with
# a floor of 2 or 3. The 2% share is a choice the sweep runs at (it compares no other share).
# checked by `benchmarks/sweep_topology_h0.py`, see docs/validation.md#h0
MIN_COMPONENT = 0.02
# checked by `benchmarks/sweep_topology_h0.py`, see docs/validation.md#h0
MIN_COMPONENT_POINTS = 3


def _mst_edges(D: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum spanning tree of a full distance matrix by Prim's algorithm, O(n^2) on the
    dense matrix (no sparse conversion or sort of the n^2 entries): its ``n - 1`` edges as
    (rows, cols, weights). With distinct weights the tree is unique, so equal to any other
    algorithm's."""
    n = D.shape[0]
    rows, cols, w = np.empty(n - 1, np.int64), np.empty(n - 1, np.int64), np.empty(n - 1)
    best = D[0].astype(np.float64, copy=True)
    near = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    done[0] = True
    best[0] = np.inf
    for j in range(n - 1):
        i = int(np.argmin(best))
        rows[j], cols[j], w[j] = near[i], i, best[i]
        done[i] = True
        best[i] = np.inf
        closer = ~done & (D[i] < best)
        best[closer] = D[i][closer]
        near[closer] = i
    return rows, cols, w


def _h0_bars(DL: np.ndarray, split=None, tree=None) -> np.ndarray:
    """H0 rows ``(b, d, size)``: a component of ``size`` >= 2 points merges at ``d`` (a
    minimum spanning tree edge) and was connected from ``b``, its longest internal tree edge.

    ``split(b, d, size) -> bool`` (second pass, see :func:`_significance`) marks the merges
    found significant: there two components meet, the smaller one dies, and the larger one
    carries on with its own ``b`` (the elder rule) instead of the merge edge. Without it, two
    pairs of circles joining at 1.002 after each pair joined at 1.0 read ``b = 1.0`` and the
    fourth circle was lost (held-out family "4 circles", benchmarks/validate_topology.py).
    ``tree``: the net's minimum spanning tree (:func:`_mst_edges`) when already computed."""
    n = DL.shape[0]
    if n < 4:
        return np.zeros((0, 3))
    t_row, t_col, t_w = _mst_edges(DL) if tree is None else tree
    order = np.argsort(t_w, kind="stable")
    parent, size, inner = np.arange(n), np.ones(n, dtype=np.int64), np.zeros(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    rows = []
    for e in order:
        a, b, w = root(int(t_row[e])), root(int(t_col[e])), float(t_w[e])
        small = a if size[a] <= size[b] else b
        kept = False
        if size[small] >= 2:
            rows.append((inner[small], w, size[small]))
            kept = split is not None and bool(split(inner[small], w, size[small]))
        big = b if small == a else a
        parent[small], size[big] = big, size[big] + size[small]
        if not kept:
            inner[big] = max(inner[big], inner[small], w)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def h0_pvalues(birth: Any, death: Any, size: Any) -> np.ndarray:
    r"""p-values of single-linkage merges under the null "no gap": exponential edge tails.

    (Components are the same over every coefficient field; :func:`betti_numbers` counts its
    higher dimensions over :math:`\mathbb{Z}/2`.)

    A component of ``size`` = :math:`s` points, one piece from :math:`b` (its longest internal
    minimum-spanning-tree edge), merges at :math:`d > b`. Model: as for nearest-neighbour
    distances of a Poisson sample on a :math:`k`-dimensional support, a spanning-tree edge
    :math:`e` has :math:`P(e > r) = e^{-c r^k}` for an unknown rate :math:`c` (Penrose 1997:
    the longest edge of the random minimal spanning tree has the Gumbel law of the largest
    of :math:`n` such exponentials). So :math:`c\,b^k` is the largest :math:`M` of
    :math:`m = s - 1` standard exponentials, and under the null the merge edge is one more
    edge conditioned to exceed :math:`b`: :math:`c(d^k - b^k) = X` is a standard exponential
    independent of :math:`M` (memoryless). The statistic :math:`T = (d/b)^k - 1 = X/M` is
    free of :math:`c`, and by Rényi's representation :math:`M = \sum_{i \le m} E_i / i`,

    .. math::

        P(T \ge t) = E\,e^{-tM} = \prod_{i=1}^{m} \frac{i}{i + t}
        = \frac{\Gamma(m + 1)\,\Gamma(t + 1)}{\Gamma(m + t + 1)},

    exact under the model for every size (a pair, :math:`m = 1`, gets :math:`b/d`: the rate
    read off one edge is uncertain). Evaluated at :math:`t = d/b - 1` (:math:`k = 1`, spacings
    on a curve), it bounds the p-value for every :math:`k \ge 1`, since :math:`(d/b)^k - 1 \ge
    d/b - 1`: no dimension is estimated, and the test is conservative on higher-dimensional
    supports. The scale is the component's own :math:`b`, so it follows the local density.
    Unlike a ratio test fitted on all merges, it uses the size: a large component joined after
    a long gap is rare under the null, a pair of points joined after twice their distance is
    not (sweep: ``benchmarks/sweep_topology_h0.py``).

    References
    ----------
    Penrose (1997), "The longest edge of the random minimal spanning tree", Ann. Appl. Probab.
    7(2). Rényi (1953), "On the theory of order statistics", Acta Math. Acad. Sci. Hungar. 4.

    Examples
    --------
    >>> p = h0_pvalues([0.1, 0.1, 0.1], [0.3, 0.3, 0.3], [2, 3, 50])
    >>> np.round(p[:2], 4).tolist(), bool(p[2] < 1e-3)
    ([0.3333, 0.1667], True)
    """
    from scipy.special import gammaln

    b, d, s = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (birth, death, size)))
    t = np.maximum(d / b - 1.0, 0.0)
    m = np.maximum(s - 1.0, 1.0)
    return np.exp(gammaln(m + 1.0) + gammaln(t + 1.0) - gammaln(m + t + 1.0))


def h0_test(
    DL: np.ndarray, alpha: float, n_points: int, pvalues: Callable | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """H0 rows ``(b, d, size)`` of the net ``DL`` and their Bonferroni-adjusted p-values
    (``pvalues(b, d, size)``, default :func:`h0_pvalues`; benchmarks pass other tests).

    Candidates are merges whose smaller side holds at least ``MIN_COMPONENT`` of the net
    and ``MIN_COMPONENT_POINTS`` landmarks
    (Bonferroni counts them); the others get p = 1. When a merge is significant, the tree is
    walked again with the elder rule (see :func:`_h0_bars`): a significant merge no longer
    makes its survivor look young; the count of candidates stays that of the first pass."""
    min_size = max(MIN_COMPONENT_POINTS, MIN_COMPONENT * n_points)

    tree = _mst_edges(DL) if DL.shape[0] >= 4 else None

    def rows(split=None):
        t = _h0_bars(DL, split, tree)
        return t[t[:, 1] > t[:, 0]]  # a tie (d = b) is no gap

    pvalues = h0_pvalues if pvalues is None else pvalues
    t = rows()
    cand = t[:, 2] >= min_size
    n_cand = max(int(cand.sum()), 1)

    def adjusted(t):
        p = np.minimum(1.0, pvalues(t[:, 0], t[:, 1], t[:, 2]) * n_cand)
        return np.where(t[:, 2] >= min_size, p, 1.0)

    p = adjusted(t)
    if np.any(p < alpha):
        t = rows(lambda b, d, size: size >= min_size and d > b
                 and adjusted(np.array([[b, d, size]]))[0] < alpha)
        p = adjusted(t)
    return t, p

