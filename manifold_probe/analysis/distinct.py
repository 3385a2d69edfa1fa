"""One layer's distinct rows and their kNN graph: the view every per-layer measure uses.

Per-token clouds hold exact duplicate rows (a BOS or [CLS] token at position 0 gives the same
vector for every input in a causal model). :func:`distinct_layer` and :func:`distinct_pair`
keep the first occurrence of each distinct row and give the kNN graph among the kept rows,
read off the layer's shared graph where it lists enough kept neighbours (a certified
completion otherwise). :func:`graph_components` counts the components of a layer's graph.
"""

from __future__ import annotations

import numpy as np

from manifold_probe._knn_exact import exact_sq_dists
from manifold_probe._validation import InputError, unique_rows
from manifold_probe.neighbors import Neighbors, cached_knn

__all__ = ["distinct_layer", "distinct_pair", "graph_components"]


def _first_occurrences(X: np.ndarray, nb: Neighbors | None) -> np.ndarray | None:
    """Rows that are the first occurrence of their value (increasing), or None if all distinct.

    With an exact kNN graph a row that has a copy has it as nearest neighbour at distance 0, so
    a graph whose first column has no zero proves there are no duplicates without sorting X.
    """
    if nb is not None and nb.n_points == X.shape[0] and not (nb.distances[:, 0] == 0.0).any():
        return None
    first = unique_rows(X)[0]
    return None if len(first) == X.shape[0] else first


#: Above this share of rows whose graph cannot be read off the full graph (more than ``k`` of
#: their listed neighbours dropped), the distinct rows get a search of their own.
_MAX_COMPLETED_SHARE = 0.05


def graph_on(points: np.ndarray, k: int, parent: Neighbors | None = None,
              rows: np.ndarray | None = None) -> Neighbors:
    """The exact kNN graph of ``points`` (``k`` columns, at most ``m - 1``).

    With ``parent`` (the exact graph of the whole cloud) and ``rows`` (``points`` is
    ``cloud[rows]``, rows increasing), it is read off the parent: a row's neighbours among
    the kept rows are its listed neighbours that are kept, in the listed (distance, index)
    order, which the renumbering keeps (the kept rows are renumbered in increasing order);
    the first ``k`` of them are exact as soon as there are ``k``, because every unlisted point
    comes after every listed one. Rows with fewer get a certified search
    (:func:`complete_rows`); when more than 5% of rows would, the whole subset is searched
    instead (through the estimators' graph cache, so two tasks needing the same subset search
    it once). Either way the graph equals ``knn(points, k)``: the same neighbours and the
    same distances (each is the parent's, computed from the same two points).
    """

    m = points.shape[0]
    if m < 3:
        raise InputError(
            f"only {m} distinct rows after collapsing exact duplicates; a layer "
            "needs at least 3 distinct points (capture more inputs or another pooling)"
        )
    k = min(k, m - 1)
    if parent is None or rows is None or parent.k < k:
        return cached_knn(points, k)
    new_id = np.full(parent.n_points, -1, dtype=np.int64)
    new_id[rows] = np.arange(m)
    ids = new_id[parent.indices[rows]]
    kept = ids >= 0
    short = np.flatnonzero(np.count_nonzero(kept, axis=1) < k)
    amax = float(np.max(np.abs(points)))
    if (len(short) > _MAX_COMPLETED_SHARE * m or parent.metric != "euclidean"
            or not 2.0**-200 < amax < 2.0**200):
        return cached_knn(points, k)
    first = np.argsort(~kept, axis=1, kind="stable")[:, :k]  # kept entries first, in order
    out_i = np.take_along_axis(ids, first, axis=1)
    out_d = np.take_along_axis(parent.distances[rows], first, axis=1)
    if len(short):
        out_d[short], out_i[short] = complete_rows(points, short, k)
    return Neighbors(np.ascontiguousarray(out_d), np.ascontiguousarray(out_i), parent.metric)


def complete_rows(A: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact k nearest neighbours (self excluded) of ``A[rows]`` among the rows of ``A``.

    Candidates come from float64 Gram distances :math:`\tilde d^2 = |a|^2 + |b|^2 - 2a\cdot b`,
    whose error is at most :math:`\tau = 4(D+2)\epsilon(|a|^2 + \max|b|^2)`; every point
    with :math:`\tilde d^2` within :math:`2\tau` of the k-th smallest is a candidate, so no
    point outside can reach (or tie) the k-th exact distance. The candidates' squared
    distances are then computed from coordinate differences (as :func:`manifold_probe.knn`
    does) and sorted by (distance, index).
    """
    m, d = A.shape
    sq = np.einsum("ij,ij->i", A, A)
    tau_scale = 4.0 * (d + 2) * np.finfo(np.float64).eps
    out_d = np.empty((len(rows), k))
    out_i = np.empty((len(rows), k), dtype=np.int64)
    block = max(1, (32 * 2**20) // (8 * m))
    for b0 in range(0, len(rows), block):
        b = rows[b0 : b0 + block]
        G = sq[b, None] + sq[None, :] - 2.0 * (A[b] @ A.T)
        G[np.arange(len(b)), b] = np.inf
        kth = np.partition(G, k - 1, axis=1)[:, k - 1]
        tau = tau_scale * (sq[b] + sq.max())
        for r, i in enumerate(b):
            cand = np.flatnonzero(G[r] <= kth[r] + 2.0 * tau[r])
            # the engine's exact distances (fixed summation order): the same bits as a search
            d2 = exact_sq_dists(A, np.array([i]), cand[None, :])[0]
            order = np.lexsort((cand, d2))[:k]
            out_d[b0 + r] = np.sqrt(d2[order])
            out_i[b0 + r] = cand[order]
    return out_d, out_i


def distinct_layer(X: np.ndarray, nb: Neighbors | None, k: int | None = None
                   ) -> tuple[np.ndarray, Neighbors | None, np.ndarray | None]:
    """One layer's distinct rows and their kNN graph: the view every per-layer measure uses.

    Parameters
    ----------
    X : ndarray (n_points, d)
    nb : Neighbors or None
        The layer's shared exact kNN graph (or None: only the rows are reduced).
    k : int, optional
        Neighbours of the new graph when duplicates are dropped (default: ``nb.k``).

    Returns
    -------
    (points, graph, rows)
        ``rows`` (increasing indices into X of the kept first occurrences) is None and
        ``points``/``graph`` are ``X``/``nb`` themselves when X has no exact duplicates.
        Otherwise the graph of the distinct rows (``min(k, m - 1)`` neighbours) is read off
        ``nb`` where it lists enough kept neighbours, and searched otherwise
        (:func:`graph_on`): exact either way.
    """
    rows = _first_occurrences(X, nb)
    if rows is None:
        return X, nb, None
    U = X[rows]
    if nb is None and k is None:
        return U, None, rows
    return U, graph_on(U, k if k is not None else nb.k, nb, rows), rows


def distinct_pair(X: np.ndarray, Y: np.ndarray, nbx: Neighbors | None, nby: Neighbors | None,
                  k: int | None = None):
    """Rows distinct in both X and Y (row ``i`` the same input in each), with their graphs.

    A row is kept when it is the first occurrence of its value in X **and** in Y, so both
    reduced clouds are free of duplicates and stay paired. Returns ``(X', Y', nbx', nby',
    rows)``; ``rows`` is None and everything is returned unchanged when neither has duplicates.
    """
    rx, ry = _first_occurrences(X, nbx), _first_occurrences(Y, nby)
    if rx is None and ry is None:
        return X, Y, nbx, nby, None
    rows = np.arange(X.shape[0]) if rx is None else rx
    if ry is not None:
        rows = np.intersect1d(rows, ry)
    Xr, Yr = X[rows], Y[rows]

    def graph(points, nb):
        if nb is None and k is None:
            return None
        return graph_on(points, k if k is not None else nb.k, nb, rows)

    return Xr, Yr, graph(Xr, nbx), graph(Yr, nby), rows


def graph_components(nb: Neighbors, k: int) -> int:
    """Connected components of the symmetrised k-nearest-neighbour graph (k = the warp's k).

    Geodesics (``geodesic_*`` columns) exist only within a component; a per-token cloud
    (a template corpus's repeated phrases) can have hundreds.
    """
    from scipy.sparse.csgraph import connected_components

    from manifold_probe.neighbors import symmetric_graph

    g = nb.truncate(min(k, nb.k))
    return int(connected_components(symmetric_graph(g, g.n_points), directed=False)[0])
