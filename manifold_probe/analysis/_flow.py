r"""The distance to measure off the sample: the k-NN mean-shift flow (``peak="flow"`` and ``peak="step"``).

The distance to the empirical measure at mass :math:`k/n` is defined everywhere, not only at
the sample:

.. math:: d_k(x)^2 = \frac1k \sum_{j \in N_k(x)} \lVert x - X_j\rVert^2
          = \min_{|S| = k} \frac1k \sum_{j \in S} \lVert x - X_j\rVert^2,

with :math:`N_k(x)` the ``k`` sample points nearest :math:`x` (Chazal, Cohen-Steiner & Mérigot
2011). Where :math:`N_k` is locally constant, :math:`\nabla d_k^2(x) = 2(x - \bar X_{N_k(x)})`,
and the flow

.. math:: x_{t+1} = \bar X_{N_k(x_t)} = \frac1k \sum_{j \in N_k(x_t)} X_j

(mean shift with a flat kernel of adaptive radius, the k-NN mean shift) descends :math:`d_k`.

*Guarantee* (the argument of Lloyd's algorithm). Write :math:`V(S) = \min_x \frac1k\sum_{j\in
S}\lVert x - X_j\rVert^2`, reached at the mean :math:`\bar X_S`. Then

.. math:: d_k(x_{t+1})^2 \le \frac1k \sum_{j\in N_k(x_t)} \lVert x_{t+1} - X_j\rVert^2
          = V(N_k(x_t)) \le d_k(x_t)^2,

the first inequality because :math:`d_k^2` is a minimum over all k-subsets, the second because
the mean minimises the sum of squares over :math:`N_k(x_t)`. So :math:`d_k` never rises along
the flow, and :math:`V(N_k(x_{t+1})) \le d_k(x_{t+1})^2 \le V(N_k(x_t))`: the sets
:math:`N_k(x_t)` do not repeat unless :math:`x` stops (without ties, the inequality is strict
when :math:`x` moves), and there are finitely many, so the flow stops after finitely many
steps at an exact fixed point :math:`x^* = \bar X_{N_k(x^*)}` — a local minimum of
:math:`d_k` (near :math:`x^*`, :math:`d_k^2` is the quadratic of the set
:math:`N_k(x^*)`, whose minimum is :math:`x^*`). The stopping test is exact: the
neighbour set of the new point equals the one it is the mean of; no tolerance.

In :func:`~manifold_probe.analysis.regions.regions` with ``peak="flow"``, each mode's peak
height is read at the limit of the flow started from its peak vertex,
:math:`g(x^*) = -\log d_k(x^*)` over all ``n`` sample points (the point is not a sample point,
so none is left out; at a sample point the finder leaves the point itself out, and
:math:`g(x^*) \ge -\log d_k(p) \ge g(p)`: the flowed peak is never lower than the vertex's).
Its saddle height is the higher of its saddle vertex's :math:`g` and the lowest :math:`g` on the
segment from :math:`x^*_m` to the flowed peak of the elder it merges into (each a path between
the two peaks, so each bounds from below the height at which they meet; two modes whose flows
end at one fixed point have prominence 0). The bootstrap reads the reweighted distance to
measure at the same fixed points. Measured in round 7 of
``benchmarks/sweep_regions_rules.py``: on a noisy curve in many dimensions the chord between
two flowed peaks can dip below the saddle vertex, the saddle then stays at the sample, below
the off-sample peak's level, and a featureless curve reads several regions (the noisy circle
in R^10: 11 of 20 fresh clouds, ``benchmarks/check_regions_flow.py``), so this is an option.

One step of the flow at every sample point (``peak="step"``)
-------------------------------------------------------------
:func:`step_heights` moves every sample point :math:`x_i` by one step of the same flow,
:math:`y_i = \bar X_{N_k(x_i)}` (:math:`N_k(x_i)` the ``k`` sample points nearest :math:`x_i`,
:math:`x_i` itself the first), and reads :math:`g(y_i) = -\log d_k(y_i)` over all ``n`` points.
The finder then runs unchanged on the heights :math:`g(y_i)`, on the same graph of the
original points (its vertices are the points; only the heights change), the bootstrap reading
the reweighted distance to measure at the same :math:`y_i`. Peaks and saddles are read on the
same footing, both one step off the sample.

*Guarantees.* (i) Monotone: by the argument above,
:math:`d_k(y_i)^2 \le V(N_k(x_i)) \le d_k(x_i)^2`, and the finder's reading at :math:`x_i`
leaves :math:`x_i` out, :math:`d_k^{-i}(x_i) \ge d_k(x_i)`, so
:math:`g(y_i) \ge -\log d_k(x_i) \ge g(x_i)`. (ii) Equivariant: :math:`y_i` is a mean of sample
points chosen by distances, so a rotation, translation or scaling of the cloud moves every
:math:`y_i` with it, heights shift by :math:`-\log` of the scale (prominences unchanged), and a
permutation of the rows permutes the :math:`y_i`. (iii) At ``k = n`` every :math:`y_i` is the
sample mean, all heights are equal and the finder reads one region.

*Why one step.* One step replaces :math:`x_i` by the minimiser of the quadratic
:math:`\frac1k\sum_{j\in N_k(x_i)}\lVert x - X_j\rVert^2` that equals :math:`d_k^2` near
:math:`x_i` (the Lloyd, or Newton, step of :math:`d_k^2`): it removes the point's own offset
from the mean of its neighbourhood — the shell offset of a sample point, about
:math:`\sqrt d` sd from its component's centre in :math:`d` dimensions, which lowers
:math:`g(x_i)` below the density's level by a roughly constant amount — and is the least move
the flow defines without a tolerance. Each further step moves :math:`y_i` along the flow
towards a mode; in the limit every point of a basin reads its mode's height, the saddles
between basins rise to the lower peak and every prominence but the largest vanishes. So the
number of steps is the smallest that lifts every point off the shell, one, fixed by this
argument and not chosen on any cloud.

Measured in round 8 of ``benchmarks/sweep_regions_rules.py`` (``sweep_regions_step.json``): no
false region on 175 featureless clouds (the default 5), but where a component holds fewer than
a few ``k`` points every point's step lands near its centre, rim and centre read nearly one
height and the valley goes with the shell (the 20-d mixture of 5 components of 100 points 6
sd apart reads 1 region at every seed, 2 of 8 clear mixtures right, MiniLM ARI 0.09), so this
is an option.

Cost: :math:`O(n^2 D)` for the :math:`y_i`'s neighbours (exact distances to every sample
point); :math:`O(n D)` per step and mode (exact distances to every sample point), a few tens of
steps per mode.

References
----------
Chazal, Cohen-Steiner & Mérigot (2011), "Geometric inference for probability measures",
Foundations of Computational Mathematics 11(6) — the distance to measure, its gradient and
semiconcavity. Fukunaga & Hostetler (1975), "The estimation of the gradient of a density
function", IEEE Trans. Inf. Theory 21(1) — mean shift; Comaniciu & Meer (2002), IEEE Trans.
PAMI 24(5) — its flat-kernel form and convergence. Lloyd (1982), "Least squares quantization in
PCM", IEEE Trans. Inf. Theory 28(2) — the monotone descent argument.
"""

from __future__ import annotations

import numpy as np

from manifold_probe.analysis._modes import dtm_log

#: A cap on the flow's steps per start. The flow stops by itself (see the module docstring);
#: the cap only bounds the cost should ties make it cycle. Each step still never raises d_k.
MAX_STEPS = 1000


def _sq_dist(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Exact squared distances from ``x`` to every row of ``A`` (no expansion, no cancellation)."""
    diff = A - x
    return np.einsum("ij,ij->i", diff, diff)


def _knn_set(A: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """The rows of the ``k`` sample points nearest ``x``, sorted by row."""
    d2 = _sq_dist(A, x)
    return np.sort(np.argpartition(d2, k - 1)[:k])


def knn_flow(A: np.ndarray, X0: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The limits of the k-NN mean-shift flow started at each row of ``X0``.

    Parameters
    ----------
    A : ndarray (n, D)
        The sample.
    X0 : ndarray (m, D)
        Starting points.
    k : int
        Neighbours of the distance to measure, ``1 <= k <= n``.

    Returns
    -------
    limits : ndarray (m, D)
        Each start's fixed point :math:`x^* = \\bar X_{N_k(x^*)}`.
    steps : ndarray of int64 (m,)
        Steps taken (``MAX_STEPS`` if the cap was met).
    """
    limits = np.empty((len(X0), A.shape[1]))
    steps = np.zeros(len(X0), dtype=np.int64)
    for i, x0 in enumerate(X0):
        x = np.asarray(x0, dtype=np.float64)
        prev = None
        for t in range(MAX_STEPS):
            s = _knn_set(A, x, k)
            if prev is not None and np.array_equal(s, prev):
                break
            x = A[s].mean(axis=0)
            prev = s
            steps[i] = t + 1
        limits[i] = x
    return limits, steps


def nearest(A: np.ndarray, Q: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distances and rows of the ``K`` sample points nearest each row of ``Q`` (all
    ``n`` points count: ``Q`` is off the sample)."""
    dist = np.empty((len(Q), K))
    idx = np.empty((len(Q), K), dtype=np.int64)
    for i, q in enumerate(Q):
        d2 = _sq_dist(A, q)
        part = np.argpartition(d2, K - 1)[:K] if K < len(A) else np.arange(len(A))
        order = part[np.lexsort((part, d2[part]))]
        idx[i] = order
        dist[i] = np.sqrt(d2[order])
    return dist, idx


def log_dtm_at(A: np.ndarray, Q: np.ndarray, k: int) -> np.ndarray:
    """:math:`\\log d_k(q)` at each row of ``Q`` over all ``n`` sample points."""
    d, _ = nearest(A, Q, k)
    return dtm_log(d, None, k)


def flowed_peaks(A: np.ndarray, peaks: np.ndarray, k: int, K: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flow's limit from each peak vertex, and its ``K`` nearest sample points (sorted
    distances, rows) for the bootstrap of the distance to measure there."""
    limits, _ = knn_flow(A, A[peaks], k)
    dist, idx = nearest(A, limits, K)
    return limits, dist, idx


def segment_saddles(A: np.ndarray, limits: np.ndarray, pairs: np.ndarray, k: int, K: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lowest :math:`g = -\\log d_k` on the segment between each pair of limits.

    Read at :data:`~manifold_probe.analysis._meanshift.SEGMENT_POINTS` interior points of
    the segment (the grid of ``method="meanshift"``). Returns the lowest ``g`` of each pair
    and the sorted distances and rows of the ``K`` sample points nearest the point where it
    is read (for the bootstrap there).
    """
    from manifold_probe.analysis._meanshift import SEGMENT_POINTS

    t = np.arange(1, SEGMENT_POINTS + 1) / (SEGMENT_POINTS + 1)
    low = np.empty(len(pairs))
    dist = np.empty((len(pairs), K))
    idx = np.empty((len(pairs), K), dtype=np.int64)
    for i, (a, b) in enumerate(pairs):
        pts = (1 - t)[:, None] * limits[a] + t[:, None] * limits[b]
        g = -log_dtm_at(A, pts, k)
        j = int(np.argmin(g))
        low[i] = g[j]
        d, r = nearest(A, pts[j : j + 1], K)
        dist[i], idx[i] = d[0], r[0]
    return low, dist, idx


def flowed_saddles(A: np.ndarray, g: np.ndarray, peaks: np.ndarray, saddles: np.ndarray,
                   merged_into: dict, limits: np.ndarray, k: int, K: int):
    """Each mode's saddle height: the higher of its saddle vertex's ``g`` and the lowest ``g``
    on the segment from its flowed peak to that of the elder it merges into.

    Returns the heights, the neighbours (sorted distances, rows) of the segment points read,
    and per mode the row of those arrays its saddle is read at (``-1``: at the sample vertex).
    A mode that never merges keeps its lowest-point saddle.
    """
    where = {int(p): i for i, p in enumerate(peaks)}
    pairs = np.array([(i, where[merged_into[int(p)]]) for i, p in enumerate(peaks)
                      if int(p) in merged_into], dtype=np.int64).reshape(-1, 2)
    low, dist, idx = segment_saddles(A, limits, pairs, k, K)
    height = g[saddles].astype(np.float64)
    seg = np.full(len(peaks), -1, dtype=np.int64)
    for r, (i, _) in enumerate(pairs):
        if low[r] > height[i]:
            height[i], seg[i] = low[r], r
    return height, dist, idx, seg


def step_points(A: np.ndarray, k: int, idx: np.ndarray | None = None) -> np.ndarray:
    """One step of the k-NN mean-shift flow from every sample point: ``y_i`` the mean of the
    ``k`` sample points nearest ``x_i`` (``x_i`` itself the first).

    Parameters
    ----------
    A : ndarray (n, D)
        The sample.
    k : int
        Neighbours of the distance to measure, ``1 <= k <= n``.
    idx : ndarray of int (n, >= k - 1), optional
        Each point's nearest other points, nearest first (a kNN graph without self loops);
        read exactly from ``A`` when omitted.
    """
    A = np.asarray(A, dtype=np.float64)
    n = len(A)
    if not 1 <= k <= n:
        from manifold_probe._validation import InputError

        raise InputError(f"k={k} must be in [1, n={n}]: one step of the flow averages the k "
                         f"sample points nearest each point, the point itself included")
    if idx is None:
        return np.stack([A[_knn_set(A, x, k)].mean(axis=0) for x in A])
    return (A + A[idx[:, : k - 1]].sum(axis=1)) / k


def step_heights(A: np.ndarray, k: int, K: int, idx: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heights ``g(y_i) = -log d_k(y_i)`` one flow step off the sample, with each ``y_i``'s
    ``K`` nearest sample points (sorted distances, rows; all ``n`` points count) for the
    bootstrap of the distance to measure there. Returns ``(g, dist, rows)``."""
    Y = step_points(A, k, idx)
    dist, rows = nearest(A, Y, K)
    return -dtm_log(dist, None, k), dist, rows
