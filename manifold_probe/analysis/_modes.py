"""Persistence of density modes on a kNN graph, and the helpers of :mod:`.regions`.

The distance to measure and its bootstrap reweighting, the H0 persistence of the superlevel
sets of a function on a graph (union-find with the elder rule, and gudhi's lower-star
filtration on a minimum spanning forest for the bottleneck bootstrap), the symmetrised kNN
adjacency, and the Benjamini–Hochberg step-up rule. The maths is stated in
:func:`manifold_probe.analysis.regions.regions`.
"""

from __future__ import annotations

import numpy as np


def edge_list(adj: list[np.ndarray]) -> np.ndarray:
    """Undirected edges ``(2, E)`` with ``i < j`` of an adjacency list."""
    src = np.repeat(np.arange(len(adj)), [len(a) for a in adj])
    dst = np.concatenate(adj) if adj else np.empty(0, dtype=np.int64)
    keep = src < dst
    return np.vstack([src[keep], dst[keep]])


def h0_diagram(g: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """H0 diagram of the superlevel sets of ``g`` on a graph, in the coordinates ``-g``.

    Lower-star filtration of ``-g``: vertex ``i`` enters at ``-g_i``, edge ``ij`` at
    ``max(-g_i, -g_j)``. Rows are ``(birth, death)``; components that never merge die at inf.
    """
    import gudhi

    st = gudhi.SimplexTree()
    st.insert_batch(np.arange(len(g))[None, :], -g)
    st.insert_batch(edges, np.maximum(-g[edges[0]], -g[edges[1]]))
    st.compute_persistence(homology_coeff_field=2, min_persistence=0.0)
    dgm = st.persistence_intervals_in_dimension(0)
    return np.asarray(dgm, dtype=np.float64).reshape(-1, 2)


def forest_edges(edges: np.ndarray, n: int):
    """``g -> edges (2, n - c)`` of a minimum spanning forest of the lower-star filtration of
    ``-g`` on the graph ``edges`` (``c`` its components); the graph's CSR layout is built once.

    Every threshold's sublevel graph has the same components in the forest as in the graph
    (cut property of minimum spanning forests), so the H0 diagrams of the two are equal and
    :func:`h0_diagram` on the forest (``n - c`` edges instead of ``E``) gives the graph's.
    The weights are the dense ranks of ``max(-g_i, -g_j)`` (edge order and ties exactly kept;
    SciPy drops zero weights, hence ``1 +``).
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import minimum_spanning_tree

    slot = np.arange(1, edges.shape[1] + 1, dtype=np.float64)
    G = sp.csr_matrix((slot, (edges[0], edges[1])), shape=(n, n))
    edge_of_slot = (G.data - 1.0).astype(np.int64)
    lo, hi = edges[0][edge_of_slot], edges[1][edge_of_slot]

    def forest(g: np.ndarray) -> np.ndarray:
        rank = np.unique(-g, return_inverse=True)[1].astype(np.float64)
        G.data = 1.0 + np.maximum(rank[lo], rank[hi])
        T = minimum_spanning_tree(G).tocoo()
        return np.vstack([T.row, T.col]).astype(np.int64)

    return forest


def dtm_log(dist: np.ndarray, weights: np.ndarray | None, k: int) -> np.ndarray:
    r"""Log distance to measure at each point from its sorted neighbour distances.

    :math:`\mathrm{DTM}^2(x) = \frac1k \sum_j \min(w_j, (k - W_{j-1})_+)\, r_j^2` with
    :math:`W_j` the cumulative weight of the ``j`` nearest neighbours (weights 1: the mean of
    the ``k`` nearest squared distances). If the listed neighbours hold less than ``k`` of
    weight, the missing mass is put at the last listed distance (a lower bound).
    """
    r2 = dist * dist
    if weights is None:
        return 0.5 * np.log(np.maximum(r2[:, :k].mean(axis=1), 1e-300))
    cum = np.cumsum(weights, axis=-1)
    take = np.clip(k - (cum - weights), 0.0, weights)
    missing = np.clip(k - cum[..., -1], 0.0, None)
    m2 = ((take * r2).sum(axis=-1) + missing * r2[..., -1]) / k
    return 0.5 * np.log(np.maximum(m2, 1e-300))


def mode_persistence(f: np.ndarray, adj: list[np.ndarray]):
    """Persistence of the superlevel sets of ``f`` on a graph (union-find, elder rule).

    Returns ``peaks`` (vertex of each mode), ``prominence`` (peak - merge level; for a mode
    that never merges, peak - min f) and, per vertex, the mode it was first attached to
    (its ascent by the steepest higher neighbour, as in ToMATo), the merge forest (younger
    peak -> elder peak), the merge levels and the merge (saddle) vertices.
    """
    n = len(f)
    order = np.argsort(-f, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    parent = np.full(n, -1, dtype=np.int64)  # union-find over vertices; roots are modes' peaks
    attach = np.full(n, -1, dtype=np.int64)
    death = {}  # peak vertex -> merge level
    merged_into = {}  # peak vertex -> elder peak vertex
    saddle = {}  # peak vertex -> vertex at which it merged

    def find(v: int) -> int:
        root = v
        while parent[root] != root:
            root = parent[root]
        while parent[v] != root:
            parent[v], v = root, parent[v]
        return root

    for v in order:
        higher = [u for u in adj[v] if rank[u] < rank[v]]
        parent[v] = v
        if not higher:
            attach[v] = v
            continue
        steepest = min(higher, key=lambda u: rank[u])
        attach[v] = attach[steepest]
        rv = find(steepest)
        parent[v] = rv
        for u in higher:
            ru, rv = find(u), find(v)
            if ru == rv:
                continue
            elder, younger = (ru, rv) if rank[ru] < rank[rv] else (rv, ru)
            death[younger] = f[v]
            saddle[younger] = int(v)
            merged_into[younger] = elder
            parent[younger] = elder
    peaks = np.array(sorted(set(attach.tolist()), key=lambda p: rank[p]), dtype=np.int64)
    low = float(f.min())
    prominence = np.array([f[p] - death.get(int(p), low) for p in peaks], dtype=np.float64)
    return peaks, prominence, attach, merged_into, death, saddle


def benjamini_hochberg(p: np.ndarray, alpha: float) -> np.ndarray:
    """Which of the p-values the Benjamini–Hochberg step-up rule rejects at level ``alpha``."""
    m = len(p)
    order = np.argsort(p, kind="stable")
    passed = np.flatnonzero(p[order] <= alpha * np.arange(1, m + 1) / m)
    keep = np.zeros(m, dtype=bool)
    if len(passed):
        keep[order[: passed[-1] + 1]] = True
    return keep


def adjacency(nb, mutual: bool = False) -> list[np.ndarray]:
    """Sorted neighbour lists of the symmetrised kNN graph (an edge if either end is among
    the other's k nearest): :func:`manifold_probe.neighbors.symmetric_graph`'s pattern.

    ``mutual=True``: the mutual kNN graph (an edge if each end is among the other's k
    nearest; Maier, Hein & von Luxburg 2009) joined with every point's edge to its nearest
    neighbour, so that no point is left without an edge (the nearest-neighbour graph is a
    forest whose every tree has at least two points).

    Point 3 lists 0 and 1 as its nearest, but neither lists 3: the mutual graph keeps only
    its edge to its nearest neighbour, 0.

    >>> from manifold_probe.neighbors import Neighbors
    >>> nb = Neighbors(np.array([[1.0, 2.0], [1.0, 1.5], [1.5, 2.0], [1.0, 3.0]]),
    ...                np.array([[1, 2], [0, 2], [1, 0], [0, 1]]))
    >>> [a.tolist() for a in adjacency(nb)]
    [[1, 2, 3], [0, 2, 3], [0, 1], [0, 1]]
    >>> [a.tolist() for a in adjacency(nb, mutual=True)]
    [[1, 2, 3], [0, 2], [0, 1], [0]]
    """
    import scipy.sparse as sp

    from manifold_probe.neighbors import symmetric_graph

    n = nb.n_points
    if mutual:
        rows = np.repeat(np.arange(n), nb.k)
        A = sp.csr_matrix((np.ones(rows.size), (rows, nb.indices.ravel())), shape=(n, n))
        nearest = sp.csr_matrix((np.ones(n), (np.arange(n), nb.indices[:, 0])), shape=(n, n))
        G = (A.multiply(A.T) + nearest + nearest.T).tocsr()
    else:
        G = symmetric_graph(nb, n)
    G.sort_indices()
    return [G.indices[G.indptr[i] : G.indptr[i + 1]] for i in range(n)]


#: The likelihood-ratio threshold of the k* test at level 1e-6: the chi-squared(1) quantile
#: used by Rodriguez et al. (2018) and d'Errico et al. (2021).
KSTAR_THRESHOLD = 23.928


def kstar(dist: np.ndarray, idx: np.ndarray, dim: float, *, threshold: float = KSTAR_THRESHOLD,
          min_k: int = 3) -> np.ndarray:
    r"""Per-point neighbourhood size :math:`k^*` of constant density (Rodriguez et al. 2018).

    For each ``k``, :math:`V_i` and :math:`V_j` are the volumes of the balls holding the ``k``
    nearest neighbours of ``i`` and of its ``(k+1)``-th neighbour ``j`` in the intrinsic
    dimension ``dim`` (:math:`V \propto r^{d}`). Under a constant density both are
    Gamma(k) with the same rate; the likelihood ratio of two rates against one is

    .. math:: D_k = -2k\,\bigl(\log V_i + \log V_j - 2\log(V_i + V_j) + \log 4\bigr),

    and :math:`k^*_i` is the largest ``k`` with :math:`D_{k'} < ` ``threshold`` for every
    :math:`k' \le k` (at least ``min_k``, at most ``dist.shape[1] - 1``).
    """
    n, K = dist.shape
    logr = np.log(np.maximum(dist, 1e-300))
    ks = np.arange(1, K)
    lvi = dim * logr[:, : K - 1]  # ball of the k nearest of i, k = 1 .. K-1
    lvj = dim * logr[idx[:, 1:K], ks - 1]  # ball of the k nearest of i's (k+1)-th neighbour
    D = -2.0 * ks * (lvi + lvj - 2.0 * np.logaddexp(lvi, lvj) + np.log(4.0))
    fail = D >= threshold
    first = np.where(fail.any(axis=1), fail.argmax(axis=1), K - 1)  # k' = first + 1 fails
    return np.clip(first, min_k, K - 1).astype(np.int64)


def pak_log_density(dist: np.ndarray, ks: np.ndarray, dim: float,
                    iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    r"""Point-adaptive log-density (PAk; Rodriguez et al. 2018) and its error bar.

    With :math:`v_l` the volume of the shell between the ``(l-1)``-th and ``l``-th neighbour
    in dimension ``dim`` (:math:`v_l \propto r_l^d - r_{l-1}^d`, :math:`r_0 = 0`), the log
    density near ``i`` is taken linear in the neighbour rank, :math:`\log\rho = F + a l`,
    and :math:`(F, a)` maximise

    .. math:: \mathcal L(F, a) = F k^* + a\,\frac{k^*(k^*+1)}{2}
              - \sum_{l=1}^{k^*} v_l\, e^{F + a l}

    (Newton's method). Returns :math:`F` (up to one additive constant, the log volume of the
    unit ball) and the asymptotic error :math:`\varepsilon = \sqrt{(4k^*+2)/((k^*-1)k^*)}`.
    """
    n, K = dist.shape
    logr = np.log(np.maximum(dist, 1e-300))
    ltop = dim * logr[np.arange(n), ks - 1]  # log V at the k*-th neighbour: the unit of volume
    lv = dim * logr - ltop[:, None]
    prev = np.concatenate([np.full((n, 1), -np.inf), lv[:, :-1]], axis=1)
    with np.errstate(divide="ignore"):
        u = np.exp(lv) * -np.expm1(prev - lv)  # v_l / V_{k*}, 0 for tied radii
    ell = np.arange(1, K, dtype=np.float64)[None, :].repeat(n, 0)
    ell = np.concatenate([ell, np.full((n, 1), float(K))], axis=1)
    mask = ell <= ks[:, None]
    u = np.where(mask, u, 0.0)
    kk = ks.astype(np.float64)
    F = np.log(kk)  # a = 0: the plain k*-NN estimate in these units
    a = np.zeros(n)
    for _ in range(iterations):
        e = u * np.exp(np.clip(F[:, None] + a[:, None] * ell, -700, 700))
        s0, s1, s2 = e.sum(1), (e * ell).sum(1), (e * ell * ell).sum(1)
        gF, ga = kk - s0, kk * (kk + 1) / 2.0 - s1
        det = s0 * s2 - s1 * s1
        ok = det > 1e-12 * s0 * s2
        dF = np.where(ok, (s2 * gF - s1 * ga) / np.where(ok, det, 1.0), gF / np.maximum(s0, 1e-300))
        da = np.where(ok, (s0 * ga - s1 * gF) / np.where(ok, det, 1.0), 0.0)
        step = np.minimum(1.0, 1.0 / np.maximum(np.abs(dF), 1e-300))  # damped far from the optimum
        F, a = F + step * dF, a + step * da
        if max(np.abs(dF).max(), np.abs(da).max() * K) < 1e-10:
            break
    err = np.sqrt((4.0 * kk + 2.0) / ((kk - 1.0) * kk))
    return F - ltop, err


def kstar_adjacency(idx: np.ndarray, ks: np.ndarray) -> list[np.ndarray]:
    """Sorted neighbour lists of the graph joining each point to its ``k*`` nearest,
    symmetrised (an edge if either end is among the other's ``k*``)."""
    import scipy.sparse as sp

    n = len(idx)
    mask = np.arange(idx.shape[1])[None, :] < ks[:, None]
    rows = np.repeat(np.arange(n), mask.sum(1))
    cols = idx[mask]
    G = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    G = (G + G.T).tocsr()
    G.sort_indices()
    return [G.indices[G.indptr[i] : G.indptr[i + 1]] for i in range(n)]


def draw_labels(gb: np.ndarray, devs: np.ndarray, adj: list[np.ndarray], z: float,
                 alpha: float, correction: str, error_bar: str, sd: np.ndarray) -> np.ndarray:
    """The finder's partition of one bootstrap density ``gb``: its modes on the same graph, each
    tested by the same merge criterion with the bootstrap error bars of the full sample."""
    peaks, prom, attach, merged_into, _, saddle_of = mode_persistence(gb, adj)
    order = np.argsort(-prom, kind="stable")
    peaks, prom = peaks[order], prom[order]
    lowest = int(np.argmin(gb))
    saddles = np.array([saddle_of.get(int(p), lowest) for p in peaks], dtype=np.int64)
    if error_bar == "difference":
        err = (devs[:, peaks] - devs[:, saddles]).std(axis=0, ddof=1)
    else:
        err = sd[peaks] + sd[saddles]
    keep, _, _ = merge_test(prom, err, z, alpha, correction)
    keep[0] = True
    return merge_labels(peaks, keep, merged_into, attach)


def majority_labels(draws: list[np.ndarray], adj: list[np.ndarray], *,
                     min_size: int) -> np.ndarray:
    r"""Consensus partition of bootstrap draws on a graph.

    Each edge :math:`(i, j)` of the graph gets its co-assignment frequency
    :math:`c_{ij} = \#\{b: \ell_b(i) = \ell_b(j)\}/B`; regions are the connected components
    of the edges with :math:`c_{ij} \ge 1/2` (a majority of the draws put the two points
    together). A component of fewer than ``min_size`` points (the draws' disagreement at a
    boundary leaves such slivers) joins the neighbouring component to which it has the edge
    of highest co-assignment, smallest components first. Regions numbered by decreasing size.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    src, dst = edge_list(adj)
    L = np.vstack(draws)  # (B, n)
    co = (L[:, src] == L[:, dst]).mean(axis=0)
    n = L.shape[1]
    strong = co >= 0.5
    G = coo_matrix((np.ones(int(strong.sum())), (src[strong], dst[strong])), shape=(n, n))
    _, lab = connected_components(G, directed=False)
    lab = lab.astype(np.int64)
    isolated: set[int] = set()  # components with no edge out: separate parts of the graph
    while True:
        sizes = np.bincount(lab)
        small = [c for c in np.argsort(sizes, kind="stable")
                 if sizes[c] < min_size and int(c) not in isolated]
        if not small or len(sizes) == 1:
            break
        c = small[0]
        leaving = (lab[src] == c) != (lab[dst] == c)
        if not leaving.any():
            isolated.add(int(c))
            continue
        e = np.flatnonzero(leaving)[np.argmax(co[leaving])]
        target = lab[dst[e]] if lab[src[e]] == c else lab[src[e]]
        lab[lab == c] = target
        # renumber 0..m-1, keeping the isolated components' numbers in step
        old = np.unique(lab)
        isolated = {int(np.searchsorted(old, i)) for i in isolated}
        lab = np.searchsorted(old, lab)
    sizes = np.bincount(lab)
    rank = np.empty(len(sizes), dtype=np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    return rank[lab]


def merge_test(prom: np.ndarray, sd: np.ndarray, z: float, alpha: float,
                correction: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which modes pass ``prominence > z * sd`` (or Benjamini-Hochberg over the modes after the
    first), their p-values ``1 - Phi(prominence / sd)`` and the prominence each needed."""
    from scipy.stats import norm

    thresholds = z * sd
    with np.errstate(divide="ignore", invalid="ignore"):
        p_values = norm.sf(np.where(sd > 0, prom / sd, np.inf * np.sign(prom)))
    keep = prom > thresholds
    if correction == "fdr" and len(prom) > 1:
        keep[1:] = benjamini_hochberg(p_values[1:], alpha)
        # the bar each mode met: its p-value's BH cut, as a prominence
        cut = alpha * max(int(keep[1:].sum()), 1) / (len(prom) - 1)
        thresholds = float(norm.isf(cut)) * sd
    return keep, p_values, thresholds


def merge_labels(peaks: np.ndarray, keep: np.ndarray, merged_into: dict,
                  attach: np.ndarray) -> np.ndarray:
    """ToMATo's merge: a non-significant mode joins the elder it merged into, following the
    chain until a significant mode is reached; regions numbered by decreasing prominence."""
    kept = set(peaks[keep].tolist())

    def resolve(p: int) -> int:
        while p not in kept:
            p = merged_into.get(p, int(peaks[0]))
        return p

    region_of_peak = {int(p): i for i, p in enumerate(peaks[keep])}
    return np.array([region_of_peak[resolve(int(a))] for a in attach], dtype=np.int64)
