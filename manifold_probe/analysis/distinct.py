"""One layer's distinct rows and their kNN graph: the view every per-layer measure uses.

Per-token clouds hold exact duplicate rows (a BOS or [CLS] token at position 0 gives the same
vector for every input in a causal model). :func:`distinct_layer` and :func:`distinct_pair`
keep the first occurrence of each distinct row and give the kNN graph among the kept rows,
read off the layer's shared graph where it lists enough kept neighbours (a certified
completion otherwise). :func:`graph_components` counts the components of a layer's graph.
"""

from __future__ import annotations

import numpy as np

from manifold_probe._knn_exact import complete_rows  # noqa: F401 - re-exported
from manifold_probe._validation import unique_rows
from manifold_probe._validation_extra import all_rows_differ
from manifold_probe.neighbors import Neighbors, graph_on

__all__ = ["distinct_layer", "distinct_pair", "graph_components"]


def _first_occurrences(X: np.ndarray, nb: Neighbors | None) -> np.ndarray | None:
    """Rows that are the first occurrence of their value (increasing), or None if all distinct.

    With an exact kNN graph a row that has a copy has it as nearest neighbour at distance 0, so
    a graph whose first column has no zero proves there are no duplicates without sorting X.
    """
    if nb is not None and nb.n_points == X.shape[0] and not (nb.distances[:, 0] == 0.0).any():
        return None
    if all_rows_differ(X):  # hashes prove it without sorting X
        return None
    first = unique_rows(X)[0]
    return None if len(first) == X.shape[0] else first


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
