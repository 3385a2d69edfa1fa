r"""Semantic regions: significant density clusters of a point cloud, and how they meet labels.

A *region* is a mode of the sampling density that stands out of the noise of its estimate:
the superlevel sets :math:`\{f \ge t\}` of the density are tracked on the k-nearest-neighbour
graph as :math:`t` falls (persistence-based clustering, ToMATo), every local maximum starts a
component, and a component dies when it merges with one whose peak is higher. Its
*prominence* is peak minus merge level. A prominence is called significant when it exceeds
:math:`2c_\alpha`, where :math:`c_\alpha` is a bootstrap :math:`(1-\alpha)` quantile of the
error of the estimated persistence diagram. Default (``band="sup"``): the sup-norm deviation
of the density estimate over the sample points (Fasy et al. 2014); alternative
(``band="bottleneck"``): the bottleneck distance between the H0 diagram of a bootstrap
replicate and that of the sample (the bottleneck bootstrap of Chazal et al. 2018), which the
stability theorem bounds by the former, so it has more power and fewer guarantees. With probability about :math:`1-\alpha` the true
diagram lies within :math:`c_\alpha` of the estimate, and a feature of prominence above
:math:`2c_\alpha` cannot be matched to the diagonal, so it exists in the true density. No
constant is tuned: ``alpha`` is the only knob and it is a confidence level. The sweep in
``benchmarks/bench_regions.py`` records power and false regions over Gaussian mixtures and
one-cluster shapes.

Functions
---------
:func:`regions`           significant clusters (labels, prominences, p-values, threshold)
:func:`label_agreement`   ARI / NMI with given labels and per-label kNN purity
:func:`compare_regions`   region contingency of two layers: which regions merge or split

References
----------
Chazal, Guibas, Oudot & Skraba (2013), "Persistence-based clustering in Riemannian
manifolds", Journal of the ACM 60(6) — ToMATo.
Fasy, Lecci, Rinaldo, Wasserman, Balakrishnan & Singh (2014), "Confidence sets for persistence
diagrams", Annals of Statistics 42(6) — the sup-norm bootstrap band and the :math:`2c_\alpha` rule.
Chazal, Fasy, Lecci, Michel, Rinaldo & Wasserman (2018), "Robust topological inference:
distance to a measure and kernel distance", JMLR 18(159) — the distance to measure and the
bottleneck bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._validation import (
    check_float,
    check_int,
    check_k,
    check_option,
    check_points,
    check_seed,
)
from manifold_probe.analysis.labels import (  # re-exported here
    LabelAgreement,
    RegionTransition,
    compare_regions,
    label_agreement,
)

__all__ = [
    "Regions",
    "LabelAgreement",
    "RegionTransition",
    "regions",
    "label_agreement",
    "compare_regions",
]


@dataclass(frozen=True)
class Regions:
    """Significant density clusters of a point cloud.

    Attributes
    ----------
    labels : ndarray of int64, shape (n_points,)
        Region of each point, ``0 .. n_regions-1``, numbered by decreasing prominence.
    n_regions : int
        Number of significant regions (at least 1).
    prominences : ndarray of float64, shape (n_modes,)
        Prominence of every mode of the estimated log-density on the graph, descending (a mode
        that never merges — the global one, or one in a separate component of the graph — is
        measured down to the lowest density of the data). Units:
        :math:`-\\log` of the distance to measure, i.e. log-density divided by the intrinsic
        dimension, so they do not depend on an estimate of the dimension.
    p_values : ndarray of float64, shape (n_modes,)
        Bootstrap p-value of each mode: :math:`(1 + \\#\\{b: 2 S_b \\ge \\text{prominence}\\})/(B+1)`
        with :math:`S_b` the bootstrap statistic of replicate ``b`` (bottleneck distance or
        sup-norm deviation, per ``band``). The first mode is kept whatever its p-value.
    threshold : float
        :math:`2 c_\\alpha`: modes with prominence above it are regions.
    alpha : float
        Confidence level used for ``threshold``.
    k : int
        Neighbours used for the graph and the distance to measure.
    band : str
        ``"sup"`` or ``"bottleneck"``: the bootstrap statistic behind ``threshold``.
    n_boot : int
        Bootstrap replicates.
    basis : str
        One sentence stating the significance rule.
    """

    labels: np.ndarray
    n_regions: int
    prominences: np.ndarray
    p_values: np.ndarray
    threshold: float
    alpha: float
    k: int
    band: str
    n_boot: int
    basis: str


_BASIS = {
    "bottleneck": (
        "mode prominence of -log DTM on the symmetrised kNN graph > 2 c_alpha, c_alpha = (1-alpha) "
        "bootstrap quantile of the bottleneck distance between the H0 diagrams of the bootstrap "
        "and sample -log DTM (Chazal et al. 2018, bottleneck bootstrap)"
    ),
    "sup": (
        "mode prominence of -log DTM on the symmetrised kNN graph > 2 c_alpha, c_alpha = (1-alpha) "
        "bootstrap quantile of sup_i |log DTM*(x_i) - log DTM(x_i)| (Fasy et al. 2014)"
    ),
}


def _edge_list(adj: list[np.ndarray]) -> np.ndarray:
    """Undirected edges ``(2, E)`` with ``i < j`` of an adjacency list."""
    src = np.repeat(np.arange(len(adj)), [len(a) for a in adj])
    dst = np.concatenate(adj) if adj else np.empty(0, dtype=np.int64)
    keep = src < dst
    return np.vstack([src[keep], dst[keep]])


def _h0_diagram(g: np.ndarray, edges: np.ndarray) -> np.ndarray:
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


def _forest_edges(edges: np.ndarray, n: int):
    """``g -> edges (2, n - c)`` of a minimum spanning forest of the lower-star filtration of
    ``-g`` on the graph ``edges`` (``c`` its components); the graph's CSR layout is built once.

    Every threshold's sublevel graph has the same components in the forest as in the graph
    (cut property of minimum spanning forests), so the H0 diagrams of the two are equal and
    :func:`_h0_diagram` on the forest (``n - c`` edges instead of ``E``) gives the graph's.
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


def _dtm_log(dist: np.ndarray, weights: np.ndarray | None, k: int) -> np.ndarray:
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


def _mode_persistence(f: np.ndarray, adj: list[np.ndarray]):
    """Persistence of the superlevel sets of ``f`` on a graph (union-find, elder rule).

    Returns ``peaks`` (vertex of each mode), ``prominence`` (peak - merge level; for a mode
    that never merges, peak - min f) and, per vertex, the mode it was first attached to
    (its ascent by the steepest higher neighbour, as in ToMATo) plus the merge forest.
    """
    n = len(f)
    order = np.argsort(-f, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    parent = np.full(n, -1, dtype=np.int64)  # union-find over vertices; roots are modes' peaks
    attach = np.full(n, -1, dtype=np.int64)
    death = {}  # peak vertex -> merge level
    merged_into = {}  # peak vertex -> elder peak vertex

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
            merged_into[younger] = elder
            parent[younger] = elder
    peaks = np.array(sorted(set(attach.tolist()), key=lambda p: rank[p]), dtype=np.int64)
    low = float(f.min())
    prominence = np.array([f[p] - death.get(int(p), low) for p in peaks], dtype=np.float64)
    return peaks, prominence, attach, merged_into, death


def regions(
    X: Any,
    k: int = 15,
    *,
    alpha: float = 0.05,
    n_boot: int = 200,
    seed: int | np.random.Generator | None = None,
    neighbors: Any = None,
    band: str = "sup",
) -> Regions:
    r"""Significant density clusters ("semantic regions") of a point cloud.

    1. Density: :math:`g(x) = -\log \mathrm{DTM}_k(x)`, the distance to the empirical measure
       with mass :math:`k/n` (root mean squared distance to the ``k`` nearest other points).
       For a density :math:`f` on a ``d``-dimensional manifold,
       :math:`\mathrm{DTM}_k(x) \propto f(x)^{-1/d}` to first order, so ``g`` is
       :math:`\log f / d` up to a constant and its superlevel sets are those of ``f``.
    2. Modes and prominences: persistence of the superlevel sets of ``g`` on the symmetrised
       kNN graph (ToMATo; Chazal et al. 2013). A point is attached to the mode reached by
       repeatedly stepping to its highest neighbour.
    3. Significance: ``n_boot`` multinomial bootstrap replicates reweight the sample and give
       :math:`g^*_b`. ``band="sup"``: :math:`S_b = \max_i |g^*_b(x_i) - g(x_i)|` (Fasy et
       al. 2014); ``band="bottleneck"``: :math:`S_b = W_\infty(\mathrm{Dgm}_0(g^*_b),
       \mathrm{Dgm}_0(g))`, the bottleneck distance of the H0 diagrams on the same graph
       (Chazal et al. 2018, bottleneck bootstrap). :math:`c_\alpha` is the
       :math:`(1-\alpha)` quantile of :math:`S_b`. Modes with prominence
       :math:`> 2c_\alpha` are regions; every other mode is merged into the elder mode it
       meets first (ToMATo with :math:`\tau = 2c_\alpha`). Because ``g`` is
       :math:`\log f/d` up to a constant, the rule is the same whatever the intrinsic
       dimension ``d`` and the scale of ``X``.

    Assumptions: the points are an i.i.d. sample; the kNN graph at ``k`` connects each region
    (points of a region form one graph component at its levels). The band is evaluated at the
    sample points only. Separated blobs whose kNN graphs do not touch are distinct modes whose
    prominence runs down to the lowest density of the data.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
    k : int, default=15
        Neighbours for the graph and the distance to measure (mass ``k/n``).
    alpha : float, default=0.05
        The bootstrap band holds with probability ``1-alpha``.
    n_boot : int, default=200
        Bootstrap replicates (p-values are multiples of ``1/(n_boot+1)``).
    seed : int or Generator, optional
    neighbors : Neighbors, optional
        A precomputed graph of ``X`` with at least ``2k + 10`` neighbours (for the bootstrap);
        computed when absent.
    band : {"sup", "bottleneck"}, default="sup"
        The bootstrap statistic for :math:`c_\alpha` (see above). ``"sup"`` read one region on
        45 of 45 one-cluster samples of the sweep and found every component of 31 of 72
        mixtures; ``"bottleneck"`` found 46 of 72 but read 2 or 4 regions on 2 of the 5 noisy
        circles in R^10 (43 of 45 one-cluster samples right).

    Returns
    -------
    Regions

    Raises
    ------
    InputError
        Bad points, ``k`` too large, ``alpha`` outside (0, 1), ``n_boot < 20``, unknown
        ``band``, a precomputed graph with too few neighbours.

    References
    ----------
    Chazal et al. (2013) JACM 60(6); Fasy et al. (2014) Ann. Statist. 42(6); Chazal et al.
    (2018) JMLR 18.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) + 12])
    >>> regions(X, seed=0).n_regions
    2
    """
    from manifold_probe.neighbors import cached_knn, check_graph

    A = check_points(X, min_points=20, what="regions")
    n = len(A)
    k = check_k(k, n, what="regions", min_k=2)
    alpha = check_float(alpha, name="alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    n_boot = check_int(n_boot, name="n_boot", minimum=20)
    rng = check_seed(seed)
    band = check_option(band, tuple(_BASIS), name="band")
    K = min(n - 1, 2 * k + 10)  # multinomial weights of K neighbours hold mass >= k w.h.p.
    from manifold_probe._cost_guards import guard_regions
    from manifold_probe._validation import normalize_cloud

    guard_regions(n_boot, n, K, band)
    # prominences and threshold are differences of log DTM: invariant to translation and
    # scale. Centred and rescaled (with a given graph), x1e300 and x1e-300 read as x1
    A, neighbors, _ = normalize_cloud(A, neighbors)
    A = A - A.mean(axis=0)  # after the rescaling: the mean of x1e300 values would overflow
    if neighbors is None:
        # through the graph cache: the label purity of the same rows reads this graph too
        nb = cached_knn(A, K)
    else:
        nb = check_graph(neighbors, A, K, what="regions (2k + 10 neighbours, for the bootstrap)")
        nb = nb.truncate(K)
    dist, idx = nb.distances, nb.indices
    g = -_dtm_log(dist, None, k)

    adj = _adjacency(nb.truncate(k))
    edges = _edge_list(adj)

    # Bootstrap: multinomial weights, the DTM of the reweighted sample at every point, and the
    # statistic whose (1 - alpha) quantile is c_alpha.
    stat = np.empty(n_boot)
    if band == "bottleneck":
        forest = _forest_edges(edges, n)
        ref = _h0_diagram(g, forest(g))
    chunk = max(1, int(2e7 // (n * K)))
    for b0 in range(0, n_boot, chunk):
        nbk = min(chunk, n_boot - b0)
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=nbk).astype(np.float64)
        gb = -_dtm_log(dist[None], w[:, idx], k)
        if band == "sup":
            stat[b0 : b0 + nbk] = np.abs(gb - g[None]).max(axis=1)
        else:
            import gudhi

            for j in range(nbk):
                stat[b0 + j] = gudhi.bottleneck_distance(_h0_diagram(gb[j], forest(gb[j])), ref)
    c_alpha = float(np.quantile(stat, 1.0 - alpha))
    threshold = 2.0 * c_alpha

    peaks, prom, attach, merged_into, _ = _mode_persistence(g, adj)
    by_prominence = np.argsort(-prom, kind="stable")
    peaks, prom = peaks[by_prominence], prom[by_prominence]
    p_values = np.array([(1 + np.sum(2.0 * stat >= p)) / (n_boot + 1) for p in prom])
    keep = prom > threshold
    keep[0] = True  # the global mode is always a region
    kept = set(peaks[keep].tolist())

    # ToMATo with tau = 2 c_alpha: a non-significant mode joins the elder it merged into,
    # following the chain until a significant mode is reached.
    def resolve(p: int) -> int:
        while p not in kept:
            p = merged_into.get(p, int(peaks[0]))
        return p

    region_of_peak = {int(p): i for i, p in enumerate(peaks[keep])}
    labels = np.array([region_of_peak[resolve(int(a))] for a in attach], dtype=np.int64)
    return Regions(
        labels=labels,
        n_regions=int(keep.sum()),
        prominences=prom,
        p_values=p_values,
        threshold=threshold,
        alpha=alpha,
        k=k,
        band=band,
        n_boot=n_boot,
        basis=_BASIS[band],
    )


def _adjacency(nb) -> list[np.ndarray]:
    """Sorted neighbour lists of the symmetrised kNN graph (an edge if either end is among
    the other's k nearest): :func:`manifold_probe.neighbors.symmetric_graph`'s pattern."""
    from manifold_probe.neighbors import symmetric_graph

    G = symmetric_graph(nb, nb.n_points)
    G.sort_indices()
    return [G.indices[G.indptr[i] : G.indptr[i + 1]] for i in range(nb.n_points)]
