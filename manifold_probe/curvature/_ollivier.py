r"""Ollivier–Ricci curvature of the k-nearest-neighbour graph of a point cloud."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema
from manifold_probe._validation import (
    InputError,
    check_int,
    check_points,
    check_seed,
    normalize_cloud,
    rescale,
    to_numpy,
)
from manifold_probe.dimension import levina_bickel
from manifold_probe.neighbors import Neighbors, resolve_neighbors, symmetric_graph

__all__ = ["OLLIVIER_PARAMS", "OllivierRicci", "ollivier_ricci"]

GROUNDS = ("geodesic", "graph", "euclidean")


@dataclass(frozen=True)
class OllivierRicci:
    r"""Ollivier–Ricci curvature of a kNN graph.

    Attributes
    ----------
    edges : ndarray of int64, shape (E, 2)
        Undirected edges ``(i, j)``, ``i < j``, of the symmetrised kNN graph for which the
        curvature was computed (all edges, or those touching ``nodes``), sorted.
    edge_curvature : ndarray of float64, shape (E,)
        :math:`\kappa(i, j)`, minus ``offset`` when calibrated.
    node_curvature : ndarray of float64, shape (N,)
        Length-weighted mean of ``edge_curvature`` over the computed edges at each point,
        :math:`1 - \sum_e W_1(e) / \sum_e d(e)` (minus ``offset``); NaN at points with no
        computed edge (possible only when ``nodes`` restricts the computation).
    curvature : float
        The same length-weighted mean over all computed edges: one number for the sample.
    edge_length : ndarray of float64, shape (E,)
        Ground distance :math:`d(i, j)` of each edge.
    raw_edge_curvature : ndarray of float64, shape (E,)
        :math:`\kappa(i, j)` before calibration.
    offset : float
        Length-weighted mean edge curvature of the flat reference sample (0.0 when not
        calibrated).
    alpha : float
        Idleness of the random walk.
    scale : int
        Number of neighbours in the support of each measure :math:`m_x`.
    ground : str
        Ground metric of the transport problem.
    dim : int or None
        Intrinsic dimension of the flat reference (None when not calibrated).
    """

    edges: np.ndarray
    edge_curvature: np.ndarray
    node_curvature: np.ndarray
    curvature: float
    edge_length: np.ndarray
    raw_edge_curvature: np.ndarray
    offset: float
    alpha: float
    scale: int
    ground: str
    dim: int | None


def _edges(nb: Neighbors, nodes: np.ndarray | None) -> np.ndarray:
    """Sorted unique undirected edges ``i < j`` of the symmetrised kNN graph."""
    n, k = nb.indices.shape
    i = np.repeat(np.arange(n), k)
    j = nb.indices.ravel()
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    keep = lo != hi
    code = np.unique(lo[keep] * n + hi[keep])
    E = np.stack([code // n, code % n], axis=1).astype(np.int64)
    if nodes is not None:
        mark = np.zeros(n, dtype=bool)
        mark[nodes] = True
        E = E[mark[E[:, 0]] | mark[E[:, 1]]]
    return E


def _refuse_repeated_points(nb: Neighbors) -> None:
    """Refuse a graph with an edge of length 0 (a row and its copy), where
    :math:`1 - W_1/d(x, y)` is undefined."""
    rows, cols = np.nonzero(nb.distances == 0.0)
    if len(rows):
        a, b = sorted((int(rows[0]), int(nb.indices[rows[0], cols[0]])))
        n_rows = len(np.unique(rows))
        raise InputError(
            f"row {a} and row {b} are the same point ({n_rows} rows have a copy among their "
            "neighbours): the curvature 1 - W1/d of an edge of length d = 0 is undefined; "
            "drop the repeated rows (numpy.unique(X, axis=0)) first"
        )


def _kappa(
    edges: np.ndarray,
    support: np.ndarray,
    alpha: float,
    cost: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`1 - W_1(m_x, m_y)/d(x, y)` and :math:`d(x, y)` per edge; exact W1 (POT)."""
    import ot

    s = support.shape[1]
    w = np.full(s + 1, (1.0 - alpha) / s)
    w[0] = alpha
    if alpha == 0.0:  # drop the zero-mass atom at the centre
        w, sl = w[1:], slice(1, None)
    else:
        sl = slice(None)
    out = np.empty(len(edges))
    length = np.empty(len(edges))
    for e, (x, y) in enumerate(edges):
        U = np.concatenate(([x], support[x]))
        V = np.concatenate(([y], support[y]))
        C = cost(U, V)
        d_xy = C[0, 0]
        M = np.ascontiguousarray(C[sl, sl], dtype=np.float64)
        if not np.isfinite(M).all():  # measures in different components: no finite transport
            out[e], length[e] = -np.inf, d_xy
            continue
        out[e] = 1.0 - ot.emd2(w, w, M) / d_xy
        length[e] = d_xy
    return out, length


def _flat_torus_reference(
    n_points: int,
    dim: int,
    k: int,
    s: int,
    alpha: float,
    ground: str,
    rng: np.random.Generator,
    n_nodes: int = 200,
) -> float:
    """Mean edge curvature of a uniform sample of the flat unit torus [0, 1)^dim."""
    from scipy.sparse.csgraph import dijkstra

    P = rng.random((n_points, dim))
    kk = max(k, s)
    idx = np.empty((n_points, kk), dtype=np.int64)
    dist = np.empty((n_points, kk))
    block = max(1, (32 * 2**20) // (8 * n_points * dim))

    def periodic(U, V):
        diff = np.abs(P[U][:, None, :] - P[V][None, :, :])
        diff = np.minimum(diff, 1.0 - diff)
        return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))

    for r0 in range(0, n_points, block):
        r1 = min(n_points, r0 + block)
        D = periodic(np.arange(r0, r1), np.arange(n_points))
        D[np.arange(r1 - r0), np.arange(r0, r1)] = np.inf
        part = np.argpartition(D, kk - 1, axis=1)[:, :kk]
        dp = np.take_along_axis(D, part, axis=1)
        order = np.argsort(dp, axis=1, kind="stable")
        idx[r0:r1] = np.take_along_axis(part, order, axis=1)
        dist[r0:r1] = np.take_along_axis(dp, order, axis=1)
    nb = Neighbors(dist, idx)
    nodes = rng.choice(n_points, size=min(n_points, n_nodes), replace=False)
    edges = _edges(nb.truncate(k), nodes)
    edges = _orient(edges, nodes, n_points)
    support = idx[:, :s]
    if ground == "graph":
        rows = np.unique(np.concatenate([edges[:, 0], support[edges[:, 0]].ravel()]))
        G = symmetric_graph(nb.truncate(k), n_points)
        Dg = dijkstra(G, directed=False, indices=rows)
        where = np.full(n_points, -1)
        where[rows] = np.arange(len(rows))

        def cost(U, V):
            return Dg[where[U]][:, V]

    else:  # the exact flat distance, which the geodesic and Euclidean grounds estimate
        cost = periodic
    kappa, length = _kappa(edges, support, alpha, cost)
    return float(np.average(kappa, weights=length))


def _orient(edges: np.ndarray, nodes: np.ndarray | None, n: int) -> np.ndarray:
    """Put a selected node first in every edge (so that ground-distance rows are only needed
    from the selected nodes' supports)."""
    if nodes is None:
        return edges
    mark = np.zeros(n, dtype=bool)
    mark[nodes] = True
    flip = ~mark[edges[:, 0]]
    out = edges.copy()
    out[flip] = edges[flip][:, ::-1]
    return out


def _select_nodes(nodes: Any, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """The nodes whose edges are measured: all (None), a random count, or given indices."""
    if nodes is None:
        return None
    if isinstance(nodes, (int, np.integer, bool, np.bool_, float)):
        count = check_int(nodes, name="nodes", minimum=1)
        return np.sort(rng.choice(n, size=min(count, n), replace=False))
    v = to_numpy(nodes)
    if v.ndim != 1 or v.dtype.kind not in "iu" or len(v) == 0:
        raise InputError(
            "nodes must be a count (int) or a non-empty 1-D array of point indices; got "
            f"{v.dtype} array of shape {v.shape}"
        )
    if v.min() < 0 or v.max() >= n:
        raise InputError(
            f"nodes must be indices in [0, {n}); got values from {int(v.min())} to "
            f"{int(v.max())}"
        )
    return np.unique(v.astype(np.int64))


def _ground_cost(ground: str, A: np.ndarray | None, nb: Neighbors, oriented: np.ndarray,
                 support: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``cost(U, V)``: the ground distances between point sets U and V (rows x columns)."""
    if ground == "euclidean":
        P = A if nb.metric == "euclidean" else A / np.linalg.norm(A, axis=1, keepdims=True)

        def cost(U, V):
            diff = P[U][:, None, :] - P[V][None, :, :]
            return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))

        return cost
    import warnings

    from manifold_probe.geodesic import geodesic_distances

    rows = np.unique(np.concatenate([oriented[:, 0], support[oriented[:, 0]].ravel()]))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "the kNN graph", UserWarning)
        Dg = geodesic_distances(
            A, nb.k, sources=rows, neighbors=nb,
            method="shortcut" if ground == "geodesic" else "graph",
        )
    where = np.full(nb.n_points, -1)
    where[rows] = np.arange(len(rows))

    def cost(U, V):
        return Dg[where[U]][:, V]

    return cost


def _node_average(edges: np.ndarray, kappa: np.ndarray, length: np.ndarray, n: int) -> np.ndarray:
    """Per node, the length-weighted mean curvature of its edges (NaN for a node without any).

    Length weights: the sampling error of W1 is absolute, so kappa = 1 - W1/d is noisiest on
    the shortest edges; the weighted mean is 1 - sum(W1)/sum(d), the ratio of the sums.
    """
    total = np.zeros(n)
    count = np.zeros(n)
    np.add.at(total, edges[:, 0], kappa * length)
    np.add.at(total, edges[:, 1], kappa * length)
    np.add.at(count, edges[:, 0], length)
    np.add.at(count, edges[:, 1], length)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


#: The settings of :func:`ollivier_ricci` (see :mod:`manifold_probe._params`). ``nodes`` (a
#: count or indices) is checked where it is read; ``dim`` is read with ``calibrate=True`` only,
#: and checked there.
OLLIVIER_PARAMS = Schema(
    "ollivier_ricci",
    Param("k", int, 10, "neighbours per point in the graph whose edges get a curvature", ge=1),
    Param("alpha", float, 0.5, "idleness: mass the walk keeps at its start", ge=0.0, lt=1.0),
    Param("scale", int, None, "neighbours in the support of each measure (None: k)", ge=1,
          nullable=True),
    Param("ground", str, "geodesic", "ground metric of the transport: chord-shortcut geodesics, "
          "plain graph paths, or Euclidean distance", choices=GROUNDS),
    Param("calibrate", bool, False, "subtract the mean edge curvature of a flat reference"),
    Param("dim", int, None, "intrinsic dimension of the flat reference (None: Levina-Bickel)",
          ge=1, nullable=True),
    Param("reference_nodes", int, 200, "points of the flat reference whose edges are averaged",
          ge=1),
)


def ollivier_ricci(
    X: Any = None,
    k: int = 10,
    alpha: float = 0.5,
    *,
    neighbors: Neighbors | None = None,
    scale: int | None = None,
    ground: str = "geodesic",
    calibrate: bool = False,
    dim: int | None = None,
    nodes: Any = None,
    reference_nodes: int = 200,
    seed: Any = None,
) -> OllivierRicci:
    r"""Ollivier–Ricci curvature of the edges and nodes of the k-nearest-neighbour graph.

    For every edge :math:`(x, y)` of the symmetrised kNN graph (an edge if either point is
    among the other's ``k`` nearest neighbours),

    .. math::

        \kappa(x, y) = 1 - \frac{W_1(m_x, m_y)}{d(x, y)}, \qquad
        m_x = \alpha\,\delta_x + \frac{1 - \alpha}{s} \sum_{u \in N_s(x)} \delta_u ,

    where :math:`N_s(x)` are the ``s = scale`` nearest neighbours of :math:`x`, :math:`d` the
    ground metric and :math:`W_1` the exact 1-Wasserstein distance, solved as a transport
    problem by network simplex (POT ``ot.emd2``). Node curvature is the mean of
    :math:`\kappa` over the edges at a node.

    **When the numbers mean something.** For a Riemannian manifold of dimension :math:`n` and
    measures uniform on :math:`\varepsilon`-balls, :math:`\kappa(x, y) \approx
    \varepsilon^2\,\mathrm{Ric}(v, v) / (2(n + 2))` (Ollivier 2009, Example 7): about
    :math:`\varepsilon^2/8` on the unit S², tiny for the few-neighbour balls of a kNN graph.
    On finite samples, the discreteness of :math:`m_x` adds a bias of the same size or larger
    that depends on ``k``, ``scale``, :math:`n` and N, not on the curvature: with ``k`` = 10–20
    and ``scale=None`` the sphere, the plane and the hyperbolic disk all come out near 0.
    Two things make the sign interpretable: a larger ``scale`` (measures on ~100 neighbours,
    so :math:`\varepsilon^2` is large enough) and ``calibrate=True``, which subtracts the mean
    edge curvature of a flat reference — a uniform sample of the flat torus :math:`T^n` of
    the same size N, dimension :math:`n` and the same ``k``, ``scale``, ``alpha``, ground —
    so that only the curvature-driven part remains: positive on spheres, about 0 on flat
    samples, negative on hyperbolic ones. Compare values across samples only at equal
    ``k``, ``scale``, N and dimension. Points near the boundary of a sample (a disk's rim)
    have lopsided neighbourhoods and biased curvature; leave them out with ``nodes``.

    The sampling noise is of the order of the signal: average over many nodes spread over the
    sample, and do not read single edges (measured: ``docs/validation.md#ollivier-ricci``).
    The calibration offset itself is a flat-sample average over ``reference_nodes`` points
    and carries the same kind of noise.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features), optional
        The points; may be omitted with ``ground="graph"`` when ``neighbors`` is given.
    k : int, default=10
        Neighbours per point in the graph whose edges get a curvature.
    alpha : float, default=0.5
        Idleness :math:`\alpha \in [0, 1)`: mass the walk keeps at its start.
    neighbors : Neighbors, optional
        Precomputed ``mp.knn(X, k')`` with ``k' >= max(k, scale)``; reused, never recomputed.
    scale : int, optional
        Neighbours in the support of each measure (default ``k``): the measurement scale,
        separate from the graph. About 100 is needed for the sign of the curvature of
        2–3-dimensional samples to show.
    ground : {"geodesic", "graph", "euclidean"}, default="geodesic"
        Ground metric :math:`d`: shortest paths shortcut by chords
        (:func:`manifold_probe.geodesic_distances`, the closest to the intrinsic distance),
        plain kNN-graph shortest paths, or Euclidean distance in the ambient space (fastest;
        chords are shorter than geodesics by a curvature-dependent amount, which biases
        :math:`\kappa` upwards on curved samples of either sign).
    calibrate : bool, default=False
        Subtract the mean edge curvature of the flat reference (see above).
    dim : int, optional
        Intrinsic dimension of the flat reference; default: the Levina–Bickel estimate from the
        neighbour distances, rounded. Only used with ``calibrate=True``.
    nodes : int or array-like of int, optional
        Compute only the edges touching these points (an int: that many points drawn with
        ``seed``). Much faster; ``node_curvature`` is complete for these points.
    reference_nodes : int, default=200
        Points of the flat reference whose edges are averaged for the calibration offset (its
        sampling error falls like the inverse square root of the number of edges).
    seed : None, int or numpy Generator
        Randomness of ``nodes`` (when an int) and of the flat reference sample.

    Returns
    -------
    OllivierRicci

    Raises
    ------
    InputError
        Bad points, ``k``, ``alpha``, ``scale``, ``ground``, ``dim``, ``nodes`` or ``seed``;
        ``X`` missing where the ground metric needs coordinates.

    Notes
    -----
    Magnitude: :math:`\kappa` is scale-invariant; it is computed on the points (and a given
    Euclidean graph) rescaled by an exact power of two, and only ``edge_length`` is scaled
    back to the units of ``X``, so results agree from ``1e-300`` to ``1e300``.
    Cost: one transport problem of size :math:`(s+1)^2` per edge, about 3 ms at ``scale=100``,
    plus one row of ground distances per point in the selected nodes' measures.
    Complete graph check: on :math:`K_m` (the vertices of a regular simplex with
    ``k = m - 1``) every edge has :math:`\kappa = 1 - |\alpha - (1 - \alpha)/(m - 1)|`.

    References
    ----------
    Ollivier, Y. (2009). Ricci curvature of Markov chains on metric spaces. Journal of
    Functional Analysis 256(3), 810–864.
    Lin, Y., Lu, L. & Yau, S.-T. (2011). Ricci curvature of graphs. Tohoku Mathematical
    Journal 63(4), 605–627.

    Examples
    --------
    >>> import numpy as np, manifold_probe as mp
    >>> X = np.eye(4)                       # regular simplex: the kNN graph with k=3 is K_4
    >>> r = mp.ollivier_ricci(X, k=3, alpha=0.0, ground="euclidean")
    >>> r.edges.shape, np.round(r.edge_curvature, 6).tolist()[:2]
    ((6, 2), [0.666667, 0.666667])
    """
    alpha, ground, calibrate, n_ref, scale, k = OLLIVIER_PARAMS.check(
        alpha=alpha, ground=ground, calibrate=calibrate, reference_nodes=reference_nodes,
        scale=scale, k=k).values()
    rng = check_seed(seed)
    s = k if scale is None else scale
    # magnitude: kappa is scale-invariant, so everything runs on the cloud (and a given
    # Euclidean graph) rescaled by an exact power of two; only edge_length has units
    A = None if X is None else check_points(X, what="ollivier_ricci")
    from manifold_probe._cost_guards import guard_ollivier

    n_all = A.shape[0] if A is not None else getattr(neighbors, "n_points", 0)
    guard_ollivier(n_all, k, s, calibrate, ground)
    A, neighbors, e = normalize_cloud(A, neighbors)
    A, nb_all = resolve_neighbors(
        A, max(k, s), neighbors=neighbors, min_k=1, what="ollivier_ricci"
    )
    if nb_all.metric != "euclidean":
        e = 0
    _refuse_repeated_points(nb_all)
    n = nb_all.n_points
    if A is None and ground != "graph":
        raise InputError(
            f"ground={ground!r} needs the coordinates: pass X together with neighbors=, or use "
            "ground='graph'"
        )
    nb = nb_all.truncate(k)
    support = nb_all.indices[:, :s]

    sel = _select_nodes(nodes, n, rng)
    edges = _edges(nb, sel)
    oriented = _orient(edges, sel, n)

    cost = _ground_cost(ground, A, nb, oriented, support)
    raw, length = _kappa(oriented, support, alpha, cost)
    if not np.isfinite(raw).all():
        raise InputError(
            "some edges join points whose measures lie in different connected components of the "
            "kNN graph (infinite transport cost); raise k or use ground='euclidean'"
        )

    offset = 0.0
    ref_dim = None
    if calibrate:
        if dim is None:
            ref_dim = max(1, int(round(levina_bickel(nb_all.distances))))
        else:
            ref_dim = OLLIVIER_PARAMS["dim"].check(dim)
        offset = _flat_torus_reference(n, ref_dim, k, s, alpha, ground, rng, n_ref)
    kappa = raw - offset

    node = _node_average(edges, kappa, length, n)
    return OllivierRicci(
        edges=edges,
        edge_curvature=kappa,
        node_curvature=node,
        curvature=float(np.average(kappa, weights=length)) if len(kappa) else float("nan"),
        edge_length=rescale(length, e, what="the edge length", unit_power=1),
        raw_edge_curvature=raw,
        offset=offset,
        alpha=alpha,
        scale=s,
        ground=ground,
        dim=ref_dim,
    )
