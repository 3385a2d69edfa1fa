r"""Mode clustering by mean shift with a bootstrap merge test of each mode (``method="meanshift"``).

The density is the Gaussian kernel density estimate

.. math:: \hat f_h(x) = \frac{1}{n (2\pi h^2)^{D/2}} \sum_{i=1}^n
          \exp\Bigl(-\frac{\lVert x - X_i\rVert^2}{2h^2}\Bigr),

and each point ascends it by mean-shift iterations
:math:`x \leftarrow \sum_i w_i(x) X_i / \sum_i w_i(x)`, :math:`w_i(x) = \exp(-\lVert x -
X_i\rVert^2/2h^2)` (Comaniciu & Meer 2002), a gradient ascent with an adaptive step that never
decreases :math:`\hat f_h` and stops at a stationary point. The limits are the modes of
:math:`\hat f_h`, read where the estimate peaks, not at the sample, and a point's region is
the basin of attraction of its mode (mode clustering; Chen, Genovese & Wasserman 2016). The
statistical target is the smoothed density :math:`f_h = f * K_h`, whose modes the estimate's
converge to at the parametric rate for a fixed ``h`` (the target Chen et al. 2016 argue for).

Significance, the merge criterion of :mod:`.regions` moved off the sample:

1. *Neighbouring modes*: two modes are neighbours when an edge of the symmetrised (or mutual)
   ``graph_k``-NN graph joins a point of one basin to a point of the other.
2. *Saddles*: between two neighbouring modes :math:`m_a, m_b` the saddle height
   :math:`s_{ab}` is the higher of two paths' lowest points: the segment,
   :math:`\min_{t \in T} \log\hat f_h((1-t) m_a + t m_b)` over :data:`SEGMENT_POINTS`
   interior points :math:`T`; and the best graph edge :math:`(i, j)` between the two basins,
   :math:`\max_{(i,j)} \min(\log\hat f_{h,-i}(X_i), \log\hat f_{h,-j}(X_j))` with the
   leave-one-out estimate :math:`\hat f_{h,-i}` (an unbiased estimate of :math:`f_h` at a
   sample point, without the spike of its own kernel), the border density of DPA (d'Errico et
   al. 2021), since each end rises to its mode by its ascent. Each path bounds the minimax
   saddle from below; the segment is the path in many dimensions, where the sample lies on
   shells away from the modes and the valley between two groups lies where no point is, and
   the graph edge on a curved support, where a chord between two modes of a noisy circle
   crosses its hole.
3. *Persistence* (elder rule): the pairs are taken by decreasing :math:`s_{ab}` with a
   union-find over the modes; when two groups meet, the one with the lower peak dies there, its
   prominence :math:`\Delta_m = \log\hat f_h(m) - s_{ab}`. A mode that never meets another
   (the global one, or one whose basin the graph does not join to any other) is measured to
   the lowest height read, at the sample or on a path, so that the highest peak has the
   largest prominence.
4. *Test*: ``n_boot`` multinomial replicates :math:`w^*_b` of the sample give
   :math:`\hat f^*_b(x) = \frac1n\sum_i w^*_{bi} K_h(x - X_i)` at the fixed peaks and saddle
   points (the kernel estimate is a sample mean, for which the bootstrap is consistent; a
   saddle on a graph edge is read leaving its own point out), and mode :math:`m` is a region
   when :math:`\Delta_m > z\,\sigma_m` with :math:`\sigma_m` the bootstrap sd of
   :math:`\log\hat f^*(m) - \log\hat f^*(s_m)` (or the sum of the two sds), :math:`z` and the
   correction for many modes as in :func:`~.regions.regions` (BH by default). A mode whose
   basin holds only the point that founded it is not a candidate (no p-value): it is the
   spike of that point's own kernel, which in many dimensions stands above its neighbours'
   contributions at any bandwidth that resolves the groups, and its bootstrap law (the point
   drawn or not) is far from the normal the test assumes. Non-significant modes merge into
   the elder they died into (ToMATo's merge).

Bandwidth, by ``bandwidth``:

* ``"knn"``: :math:`h = \operatorname{median}_i r_k(X_i) / \sqrt{\hat d}`, with
  :math:`r_k` the distance to the ``k``-th neighbour (the finder's ``k``) and :math:`\hat d`
  the TwoNN intrinsic dimension. In ``d`` dimensions the mass of a Gaussian kernel lies at
  radius about :math:`h\sqrt d` (the :math:`\chi_d` law), so the kernel reaches as far as the
  ``k`` nearest neighbours, the scale of the distance to measure of the other methods;
* ``"normal"``: the normal-reference rule for density-gradient estimation (Chacón, Duong &
  Wand 2011, its r = 1 case; the rule Chen et al. 2016 use for mode clustering),
  :math:`h = \bar S\,(4/(D+4))^{1/(D+6)}\, n^{-1/(D+6)}`, with :math:`D` the ambient
  dimension and :math:`\bar S` the root mean coordinate variance (rotation-invariant);
* ``"lcv"``: one :math:`h` maximising the leave-one-out likelihood (Kullback-Leibler
  optimal; maths in :mod:`._bandwidth`);
* ``"adaptive"``: per-sample bandwidths :math:`h_i` by Abramson's square-root law with the
  finder's k-NN density as the pilot, the global factor by the same cross-validation; the
  kernels are normalised by :math:`h_i^{-\hat d}` and the ascent is the variable-bandwidth
  mean shift of Comaniciu, Ramesh & Meer (2001) (:mod:`._bandwidth`). The step tolerance is
  read against the smallest :math:`h_i`, and two limits are one mode within
  :data:`MERGE_RADIUS` times the bandwidth of the sample nearest the higher one.

Cost: the ascent is :math:`O(n^2 D)` per iteration over the points not yet converged, in
blocks of rows (memory ``block x n``, never ``n x n``); the bootstrap is one
``(n_boot, n) @ (n, Q)`` product over the ``Q`` peaks and saddles.

References
----------
Comaniciu & Meer (2002), "Mean shift: a robust approach toward feature space analysis",
IEEE Trans. PAMI 24(5). Chen, Genovese & Wasserman (2016), "A comprehensive approach to mode
clustering", Electronic Journal of Statistics 10(1). Chacón, Duong & Wand (2011),
"Asymptotics for general multivariate kernel density derivative estimators", Statistica
Sinica 21(2). Carreira-Perpiñán (2007), "Gaussian mean-shift is an EM algorithm", IEEE Trans.
PAMI 29(5) — monotone ascent of the Gaussian mean shift.
"""

from __future__ import annotations

import warnings

import numpy as np

from manifold_probe.analysis._bandwidth import Bandwidths

#: Interior points of a segment between two modes at which the saddle height is read.
SEGMENT_POINTS = 15
#: Mean shift stops for a point when its step is below this fraction of h.
STEP_TOLERANCE = 1e-4
#: Iteration cap of the ascent (points still moving then keep their position).
MAX_ITER = 500
#: Limits closer than this fraction of h are one mode (a KDE with bandwidth h has no two
#: modes much closer than h along the line joining them).
MERGE_RADIUS = 0.5
#: Rows x points per block of kernel evaluations (float64: 16 MB).
BLOCK = 2_000_000


def bandwidth(A: np.ndarray, dist: np.ndarray, k: int, rule: str, nb=None
              ) -> tuple[float | Bandwidths, str]:
    """The bandwidth ``h`` by ``rule`` (module docstring; ``"lcv"`` and ``"adaptive"`` in
    :mod:`._bandwidth`) and a sentence stating it."""
    n, D = A.shape
    if rule == "normal":
        S = float(np.sqrt(A.var(axis=0, ddof=1).mean()))
        h = S * (4.0 / (D + 4)) ** (1.0 / (D + 6)) * n ** (-1.0 / (D + 6))
        return h, (f"h = {h:.4g} by the normal-reference rule for gradient estimation "
                   "(Chacon, Duong & Wand 2011), S (4/(D+4))^(1/(D+6)) n^(-1/(D+6))")
    from manifold_probe.dimension import NearDuplicateWarning, twonn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NearDuplicateWarning)
        dim = float(twonn(A, neighbors=nb, scale_check=False, seed=0).dimension)
    dim = max(dim, 1.0)
    if rule in ("lcv", "adaptive"):
        from manifold_probe.analysis._bandwidth import adaptive_bandwidth

        return adaptive_bandwidth(A, dist, k, dim, rule, BLOCK)
    h = float(np.median(dist[:, k - 1])) / np.sqrt(dim)
    return h, (f"h = {h:.4g} = median r_{k} / sqrt(d), d = {dim:.3g} (TwoNN): the kernel's mass "
               f"at the {k}-NN radius")


def _rows(Q: np.ndarray, n: int) -> int:
    return max(1, min(len(Q), BLOCK // max(n, 1)))


def _expo(q: np.ndarray, A: np.ndarray, a2: np.ndarray, h) -> np.ndarray:
    """Log kernel of every row of ``q`` against every sample: ``-d2 / 2h^2``, or with
    per-sample :class:`~._bandwidth.Bandwidths` ``-d2 / 2h_i^2 - p log h_i``."""
    d2 = np.maximum((q * q).sum(axis=1)[:, None] + a2[None] - 2.0 * q @ A.T, 0.0)
    if isinstance(h, Bandwidths):
        return -d2 / (2.0 * (h.h * h.h)[None]) + h.log_norm()[None]
    return -d2 / (2.0 * h * h)


def scale(h) -> float:
    """The smallest bandwidth (the step tolerance is read against it)."""
    return float(h.h.min()) if isinstance(h, Bandwidths) else float(h)


def log_kde(Q: np.ndarray, A: np.ndarray, h) -> np.ndarray:
    r""":math:`\log \sum_i \exp(-\lVert q - X_i\rVert^2/2h^2)` at each row of ``Q`` (the
    log-density up to the constant :math:`-\log(n (2\pi h^2)^{D/2})`), in blocks of rows."""
    out = np.empty(len(Q))
    a2 = (A * A).sum(axis=1)
    step = _rows(Q, len(A))
    for s in range(0, len(Q), step):
        e = _expo(Q[s : s + step], A, a2, h)
        top = e.max(axis=1)
        out[s : s + step] = top + np.log(np.exp(e - top[:, None]).sum(axis=1))
    return out


def kernel_rows(Q: np.ndarray, A: np.ndarray, h) -> tuple[np.ndarray, np.ndarray]:
    """Kernel weights ``exp(e_qi - top_q)`` (Q, n) and the row shifts ``top_q``."""
    e = _expo(Q, A, (A * A).sum(axis=1), h)
    top = e.max(axis=1)
    return np.exp(e - top[:, None]), top


def ascend(A: np.ndarray, h) -> tuple[np.ndarray, int]:
    """Mean-shift limits of every point (``(n, D)``) and the iterations run. With per-sample
    bandwidths the weights are ``h_i^-(p+2) exp(-d2/2h_i^2)`` (Comaniciu, Ramesh & Meer 2001)."""
    inv2 = 1.0 / (h.h * h.h) if isinstance(h, Bandwidths) else None
    tol = STEP_TOLERANCE * scale(h)
    Y = A.copy()
    active = np.arange(len(A))
    a2 = (A * A).sum(axis=1)
    it = 0
    while it < MAX_ITER:
        it += 1
        step = _rows(active, len(A))
        moved = np.zeros(len(active), dtype=bool)
        for s in range(0, len(active), step):
            rows = active[s : s + step]
            y = Y[rows]
            e = _expo(y, A, a2, h)
            w = np.exp(e - e.max(axis=1, keepdims=True))
            if inv2 is not None:
                w = w * inv2[None]
            new = (w @ A) / w.sum(axis=1, keepdims=True)
            moved[s : s + step] = np.linalg.norm(new - y, axis=1) > tol
            Y[rows] = new
        active = active[moved]
        if not len(active):
            break
    return Y, it


def nearest_rows(Q: np.ndarray, A: np.ndarray) -> np.ndarray:
    """The row of ``A`` nearest each row of ``Q``."""
    a2 = (A * A).sum(axis=1)
    out = np.empty(len(Q), dtype=np.int64)
    step = _rows(Q, len(A))
    for s in range(0, len(Q), step):
        q = Q[s : s + step]
        out[s : s + step] = np.argmin(a2[None] - 2.0 * q @ A.T, axis=1)
    return out


def group_limits(Y: np.ndarray, height: np.ndarray, h, A: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Modes from the limits: by decreasing height, a limit within ``MERGE_RADIUS * h`` of a
    mode already found joins it, else it is a new mode (with per-sample bandwidths, ``h`` that
    of the sample row ``A`` nearest the mode). Returns the mode of each point and the row whose
    limit founded each mode (its highest)."""
    order = np.argsort(-height, kind="stable")
    attach = np.full(len(Y), -1, dtype=np.int64)
    founders: list[int] = []
    centres = np.empty((0, Y.shape[1]))
    if isinstance(h, Bandwidths):
        r2_of = (MERGE_RADIUS * h.h[nearest_rows(Y, A)]) ** 2
    else:
        r2_of = np.full(len(Y), (MERGE_RADIUS * h) ** 2)
    radii: list[float] = []
    for i in order:
        if len(founders):
            d2 = ((centres - Y[i]) ** 2).sum(axis=1)
            j = int(np.argmin(d2))
            if d2[j] <= radii[j]:
                attach[i] = j
                continue
        attach[i] = len(founders)
        founders.append(int(i))
        radii.append(float(r2_of[i]))
        centres = np.vstack([centres, Y[i]])
    return attach, np.asarray(founders, dtype=np.int64)


def mode_pairs(attach: np.ndarray, adj: list[np.ndarray]) -> np.ndarray:
    """Pairs ``(2, P)`` of modes (``a < b``) whose basins an edge of the graph joins."""
    src = np.repeat(np.arange(len(adj)), [len(a) for a in adj])
    dst = np.concatenate(adj) if adj else np.empty(0, dtype=np.int64)
    a, b = attach[src], attach[dst]
    keep = a < b
    pairs = np.unique(np.vstack([a[keep], b[keep]]), axis=1)
    return pairs.reshape(2, -1)


def segment_saddles(modes: np.ndarray, pairs: np.ndarray, A: np.ndarray,
                    h) -> tuple[np.ndarray, np.ndarray]:
    """The lowest ``log_kde`` on each pair's segment (interior points) and where it is."""
    t = np.arange(1, SEGMENT_POINTS + 1) / (SEGMENT_POINTS + 1)
    P = pairs.shape[1]
    if not P:
        return np.empty(0), np.empty((0, modes.shape[1]))
    pts = ((1 - t)[None, :, None] * modes[pairs[0]][:, None]
           + t[None, :, None] * modes[pairs[1]][:, None])  # (P, S, D)
    g = log_kde(pts.reshape(P * SEGMENT_POINTS, -1), A, h).reshape(P, SEGMENT_POINTS)
    j = g.argmin(axis=1)
    return g[np.arange(P), j], pts[np.arange(P), j]


def elder_rule(height: np.ndarray, pairs: np.ndarray, s: np.ndarray
               ) -> tuple[dict[int, int], dict[int, int]]:
    """Union-find over the modes, pairs by decreasing saddle: ``merged_into`` (younger ->
    elder) and ``died_at`` (younger -> index of the pair at which it died)."""
    parent = np.arange(len(height))

    def find(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return int(v)

    merged_into: dict[int, int] = {}
    died_at: dict[int, int] = {}
    for e in np.argsort(-s, kind="stable"):
        ra, rb = find(int(pairs[0, e])), find(int(pairs[1, e]))
        if ra == rb:
            continue
        elder, younger = (ra, rb) if height[ra] >= height[rb] else (rb, ra)
        merged_into[younger] = elder
        died_at[younger] = int(e)
        parent[younger] = elder
    return merged_into, died_at


def loo_log_kde(A: np.ndarray, h) -> np.ndarray:
    """``log_kde`` at each sample row without its own kernel (leave one out: an unbiased
    estimate of the smoothed density there, free of the spike of the point's own kernel)."""
    out = np.empty(len(A))
    step = _rows(A, len(A))
    for s in range(0, len(A), step):
        K, top = kernel_rows(A[s : s + step], A, h)
        K[np.arange(len(K)), np.arange(s, s + len(K))] = 0.0
        out[s : s + step] = top + np.log(np.maximum(K.sum(axis=1), 1e-300))
    return out


def edge_saddles(attach: np.ndarray, pairs: np.ndarray, adj: list[np.ndarray],
                 g_loo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each pair of modes, the highest graph edge joining their basins, its height the
    lower of its two ends' leave-one-out densities, and that end's row (-1: no edge)."""
    src = np.repeat(np.arange(len(adj)), [len(a) for a in adj])
    dst = np.concatenate(adj) if adj else np.empty(0, dtype=np.int64)
    a, b = attach[src], attach[dst]
    keep = a < b
    src, dst, a, b = src[keep], dst[keep], a[keep], b[keep]
    low = np.where(g_loo[src] <= g_loo[dst], src, dst)
    height = np.full(pairs.shape[1], -np.inf)
    row = np.full(pairs.shape[1], -1, dtype=np.int64)
    key = {(int(x), int(y)): i for i, (x, y) in enumerate(pairs.T)}
    for e in np.argsort(g_loo[low], kind="stable"):  # ascending: the highest edge last
        i = key[(int(a[e]), int(b[e]))]
        height[i], row[i] = g_loo[low[e]], low[e]
    return height, row


def meanshift_modes(A: np.ndarray, h, adj: list[np.ndarray],
                    saddle: str = "path") -> dict:
    """Ascent, modes, their neighbouring pairs, saddles and the elder rule.

    Returns a dict: ``attach`` (mode of each row), ``modes`` (M, D) limits, ``height``
    (log_kde at each mode), ``saddle_height`` and ``saddle_point`` per mode (for a mode that
    never dies: the lowest row), ``merged_into``, ``founders``, ``lowest`` and ``iterations``.
    """
    Y, iterations = ascend(A, h)
    g_limit = log_kde(Y, A, h)
    attach, founders = group_limits(Y, g_limit, h, A)
    modes = Y[founders]
    height = g_limit[founders]
    pairs = mode_pairs(attach, adj)
    s, where = segment_saddles(modes, pairs, A, h)
    exclude = np.full(len(s), -1, dtype=np.int64)  # the saddle is a sample row (its own kernel out)
    if saddle == "path" and len(s):
        # the higher of two paths: the segment, or the best graph edge between the basins
        # (up each basin by its ascent, DPA's border density), read without the self-kernel
        es, erow = edge_saddles(attach, pairs, adj, loo_log_kde(A, h))
        better = es > s
        s = np.where(better, es, s)
        where = np.where(better[:, None], A[np.maximum(erow, 0)], where)
        exclude = np.where(better, erow, -1)
    if len(s):  # a saddle never above either peak
        s = np.minimum(s, np.minimum(height[pairs[0]], height[pairs[1]]))
    merged_into, died_at = elder_rule(height, pairs, s)
    g_sample = log_kde(A, A, h)
    lowest = int(np.argmin(g_sample))
    M = len(modes)
    # a mode that never dies is measured to the lowest height read, at the sample or on a
    # path (so that the highest peak has the largest prominence)
    low_h, low_p, low_r = g_sample[lowest], A[lowest], -1
    if len(s) and s.min() < low_h:
        e = int(np.argmin(s))
        low_h, low_p, low_r = s[e], where[e], int(exclude[e])
    saddle_height = np.full(M, low_h)
    saddle_point = np.repeat(low_p[None], M, axis=0)
    saddle_row = np.full(M, low_r, dtype=np.int64)
    for m, e in died_at.items():
        saddle_height[m], saddle_point[m], saddle_row[m] = s[e], where[e], exclude[e]
    return dict(attach=attach, modes=modes, height=height, saddle_height=saddle_height,
                saddle_point=saddle_point, saddle_row=saddle_row, merged_into=merged_into, founders=founders,
                lowest=lowest, iterations=iterations, n_pairs=pairs.shape[1],
                g_sample=g_sample)


def bootstrap_log_kde(Q: np.ndarray, A: np.ndarray, h, n_boot: int,
                      rng: np.random.Generator, exclude: np.ndarray | None = None) -> np.ndarray:
    r"""Deviations :math:`\log\hat f^*_b(q) - \log\hat f_h(q)` at each row of ``Q``,
    ``(n_boot, len(Q))``, from multinomial reweightings of the sample (``w @ K`` in blocks of
    rows of ``Q``; the weights ``(n_boot, n)`` drawn once)."""
    n = len(A)
    W = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    out = np.empty((n_boot, len(Q)))
    step = _rows(Q, n)
    for s in range(0, len(Q), step):
        Kq, _ = kernel_rows(Q[s : s + step], A, h)  # shifted per row: cancels in the deviation
        if exclude is not None:  # rows read without their own kernel (leave one out)
            ex = exclude[s : s + step]
            Kq[np.flatnonzero(ex >= 0), ex[ex >= 0]] = 0.0
        out[:, s : s + step] = (np.log(np.maximum(W @ Kq.T, 1e-300))
                                - np.log(Kq.sum(axis=1))[None])
    return out


def regions_meanshift(A: np.ndarray, dist: np.ndarray, nb, adj: list[np.ndarray], *, k: int,
                      alpha: float, n_boot: int, rng: np.random.Generator, rule: str,
                      correction: str, error_bar: str, saddle: str = "path") -> dict:
    """The fields of :class:`~.regions.Regions` for ``method="meanshift"`` (module docstring).

    ``peaks``: the row whose limit founded each mode (the highest of its basin at its limit);
    ``saddles``: the row nearest each saddle point (the lowest row for a mode that never
    dies); the modes themselves (off-sample) are not rows.
    """
    from scipy.stats import norm

    from manifold_probe.analysis._modes import merge_labels, merge_test

    h, h_basis = bandwidth(A, dist, k, rule, nb)
    ms = meanshift_modes(A, h, adj, saddle)
    M = len(ms["modes"])
    prom = ms["height"] - ms["saddle_height"]
    order = np.argsort(-prom, kind="stable")
    # the bootstrap at every peak and saddle point (a mode that never dies: the lowest row)
    Q = np.vstack([ms["modes"], ms["saddle_point"]])
    exclude = np.concatenate([np.full(M, -1, dtype=np.int64), ms["saddle_row"]])
    dev = bootstrap_log_kde(Q, A, h, n_boot, rng, exclude)
    dp, ds = dev[:, :M], dev[:, M:]
    if error_bar == "difference":
        sd = (dp - ds).std(axis=0, ddof=1)
    else:
        sd = dp.std(axis=0, ddof=1) + ds.std(axis=0, ddof=1)
    z = float(norm.ppf(1.0 - alpha))
    if correction == "simultaneous":
        sd_all = dev.std(axis=0, ddof=1)
        stud = np.abs(dev - dev.mean(axis=0)) / np.where(sd_all > 0, sd_all, np.inf)
        z = float(np.quantile(stud.max(axis=1), 1.0 - alpha))
    prom, sd = prom[order], sd[order]
    # candidates: modes whose basin holds more than the point that founded them (a singleton's
    # mode is its own kernel's spike, and its bootstrap law, drawn or not, is not normal)
    cand = np.bincount(ms["attach"], minlength=M)[order] >= 2
    cand[0] = True
    keep = np.zeros(M, dtype=bool)
    p_values = np.full(M, np.nan)
    thresholds = np.full(M, np.inf)
    keep[cand], p_values[cand], thresholds[cand] = merge_test(prom[cand], sd[cand], z, alpha,
                                                              correction)
    keep[0] = True
    labels = merge_labels(order, keep, ms["merged_into"], ms["attach"])
    # the row nearest each saddle point
    sp = ms["saddle_point"][order]
    saddles = nearest_rows(sp, A)
    basis = (f"modes of the Gaussian kernel density (mean shift; {h_basis}), saddles the lowest "
             f"density on the segments between modes whose basins the graph joins, elder rule; "
             f"prominence log f(peak) - log f(saddle) > z_(1-alpha) "
             + ("sd(peak - saddle)" if error_bar == "difference" else "(sd(peak) + sd(saddle))")
             + ", sd from the multinomial bootstrap of the kernel density (Chen, Genovese & "
             "Wasserman 2016; the merge criterion of d'Errico et al. 2021)")
    return dict(labels=labels, n_regions=int(keep.sum()), prominences=prom,
                p_values=np.asarray(p_values, dtype=np.float64),
                threshold=float(np.median(thresholds)),
                thresholds=np.asarray(thresholds, dtype=np.float64),
                peaks=ms["founders"][order], saddles=saddles, basis=basis,
                bandwidth=float(np.median(h.h)) if isinstance(h, Bandwidths) else h,
                modes=ms["modes"][order], iterations=ms["iterations"])
