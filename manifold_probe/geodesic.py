r"""Geodesic distances on a sampled manifold.

- :func:`geodesic_distances` — shortest paths on the symmetrised kNN graph (Isomap), with the
  zig-zag bias of graph paths removed by shortcutting each shortest path with chords.
- :func:`geodesic_distortion` — how a map stretches them; in :mod:`manifold_probe.distortion`,
  re-exported here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema
from manifold_probe._validation import (
    InputError,
    normalize_cloud,
    rescale,
    to_numpy,
)
from manifold_probe.dimension import levina_bickel
from manifold_probe.distortion import GeodesicDistortion, geodesic_distortion
from manifold_probe.neighbors import Neighbors, chord_lengths, resolve_neighbors, symmetric_graph

__all__ = ["GEODESIC_PARAMS", "geodesic_distances", "geodesic_distortion", "GeodesicDistortion"]

METHODS = ("shortcut", "graph")
_REF_K = 10  # the shortcut span is measured in units of the median distance to the 10th neighbour
_MEMORY_BUDGET = 128 * 2**20  # bytes of scratch per block of sources in the shortcut pass
_WHAT = "the geodesic distance"


def _join_components(G, A: np.ndarray, labels: np.ndarray):
    """Add the shortest Euclidean edges between components until the graph is connected.

    Borůvka rounds: every component gets its shortest edge to a point outside it (exact, from
    blocked pairwise distances), the edges are added, and components are recomputed.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    n = A.shape[0]
    sq = np.einsum("ij,ij->i", A, A)
    block = max(1, min(n, (32 * 2**20) // (8 * n)))
    while labels.max() > 0:
        n_comp = int(labels.max()) + 1
        best_d = np.full(n_comp, np.inf)
        best_pair = np.zeros((n_comp, 2), dtype=np.int64)
        for r0 in range(0, n, block):
            r1 = min(n, r0 + block)
            D2 = sq[r0:r1, None] + sq[None, :] - 2.0 * (A[r0:r1] @ A.T)
            D2[labels[r0:r1, None] == labels[None, :]] = np.inf
            j = np.argmin(D2, axis=1)
            d = D2[np.arange(r1 - r0), j]
            for c in np.unique(labels[r0:r1]):
                sel = np.flatnonzero(labels[r0:r1] == c)
                i = sel[np.argmin(d[sel])]
                if d[i] < best_d[c]:
                    best_d[c] = d[i]
                    best_pair[c] = (r0 + i, j[i])
        a, b = best_pair[:, 0], best_pair[:, 1]
        w = np.linalg.norm(A[a] - A[b], axis=1)
        w = np.maximum(w, np.finfo(np.float64).tiny)
        E = sp.csr_matrix((w, (a, b)), shape=(n, n))
        G = G.maximum(E).maximum(E.T).tocsr()
        _, labels = connected_components(G, directed=False)
    return G


def _reference_radius(nb: Neighbors) -> float:
    r"""Median distance to the 10th neighbour, extrapolated when the graph has fewer columns.

    For ``k < 10`` it is :math:`r_k (10/k)^{1/\hat n}` with :math:`\hat n` the Levina–Bickel
    maximum-likelihood dimension from the available neighbours (2 when ``k < 3``).
    """
    d = chord_lengths(nb)
    k = nb.k
    if k >= _REF_K:
        return float(np.median(d[:, _REF_K - 1]))
    rk = float(np.median(d[:, -1]))
    n_hat = levina_bickel(d) if k >= 3 else 2.0
    return rk * (_REF_K / k) ** (1.0 / max(n_hat, 1.0))


def _shortcut(
    A: np.ndarray, D: np.ndarray, P: np.ndarray, src: np.ndarray, span: float
) -> np.ndarray:
    """Replace each shortest path by a chain of chords spanning at most ``span`` of path length.

    For every source ``s`` and target ``j``, walk the shortest-path tree from ``j`` towards ``s``,
    jumping each time to the farthest ancestor ``a`` whose graph distance to the current node is
    at most ``span`` (at least one hop), and sum the Euclidean chords ``|x_cur - x_a|``.

    Both steps take O(log depth) passes over the (sources, points) arrays: the farthest
    ancestor by binary lifting (graph distance decreases monotonically towards the root), the
    chain sums by pointer jumping.
    """
    S, n = D.shape
    ident = np.broadcast_to(np.arange(n, dtype=np.int32), (S, n))
    P = np.where(P < 0, ident, P).astype(np.int32)  # source and unreachable: point to self
    finite = np.isfinite(D)
    Df = np.where(finite, D, 0.0)

    def gather(M, idx):
        return np.take_along_axis(M, idx, axis=1)

    # binary lifting: jumps[i] is the 2^i-th ancestor (the root maps to itself)
    jumps = [P]
    while len(jumps) < 32:
        J = jumps[-1]
        if not (Df - gather(Df, J) <= span).any() or (J == ident).all():
            break
        nxt = gather(J, J)
        if np.array_equal(nxt, J):
            break
        jumps.append(nxt)
    cur = np.array(ident)
    for J in reversed(jumps):
        cand = gather(J, cur)
        cur = np.where(Df - gather(Df, cand) <= span, cand, cur)
    best = np.where(cur == ident, P, cur)  # at least one hop

    # chord from every node to its jump target, then list ranking by pointer jumping
    total = np.empty((S, n))
    rows = max(1, (32 * 2**20) // max(1, 8 * n * A.shape[1]))
    for r0 in range(0, S, rows):
        b = best[r0 : r0 + rows]
        diff = A[None, :, :] - A[b]
        total[r0 : r0 + rows] = np.sqrt(np.einsum("sij,sij->si", diff, diff))
    ptr = best
    while True:
        nxt = gather(ptr, ptr)
        total += gather(total, ptr) * (ptr != ident)
        if np.array_equal(nxt, ptr):
            break
        ptr = nxt
    total[~finite] = np.inf
    return total


def _source_rows(sources: Any, n: int) -> np.ndarray:
    """The source rows as int64 indices in ``[0, n)`` (all rows for ``None``)."""
    if sources is None:
        return np.arange(n)
    s = to_numpy(sources)
    if s.ndim == 0:
        s = s.reshape(1)
    if s.ndim != 1 or s.dtype.kind not in "iu" or len(s) == 0:
        raise InputError(
            f"sources must be an integer index or a non-empty 1-D array of integer indices; "
            f"got {s.dtype} array of shape {s.shape}"
        )
    if s.min() < -n or s.max() >= n:
        raise InputError(
            f"sources must be row indices in [0, {n}) (negative counts from the end); "
            f"got values from {int(s.min())} to {int(s.max())}"
        )
    return np.asarray(s, dtype=np.int64) % n


# span=4.0: set by `benchmarks/bench_geodesic.py`, see docs/validation.md#chord-span
#: The settings of :func:`geodesic_distances` (see :mod:`manifold_probe._params`).
GEODESIC_PARAMS = Schema("geodesic_distances", Param(
    "method", str, "shortcut", "plain kNN-graph paths (fast) or chord-shortcut paths (less "
    "biased, slower)", choices=METHODS), Param("span", float, 4.0, "reach of the shortcut "
    "chords, in median 10th-neighbour distances", gt=0.0))


def geodesic_distances(
    X: Any = None,
    k: int = 10,
    sources: Any = None,
    *,
    neighbors: Neighbors | None = None,
    method: str = "shortcut",
    span: float = 4.0,
    connect_components: bool = False,
) -> np.ndarray:
    r"""Geodesic distances along the sampled manifold, from the k-nearest-neighbour graph.

    The graph joins every point to its ``k`` nearest neighbours (an edge if either point is
    among the other's neighbours), with Euclidean edge lengths; Dijkstra's algorithm
    (``scipy.sparse.csgraph``) gives shortest paths. Graph paths converge to geodesics as the
    sample densifies (Tenenbaum, de Silva & Langford 2000), but at fixed ``k`` they zig-zag and
    overestimate: on the unit sphere with N = 8000 the median relative error is 3.6 % (S², k=10)
    and 14 % (S³, k=10).

    ``method="shortcut"`` (default) removes most of that bias. Each shortest path
    :math:`s = p_0, p_1, \dots, p_m = j` of the tree is walked from :math:`j` back to
    :math:`s`, jumping each time to the farthest ancestor whose graph distance from the current
    node is at most :math:`L`, and the Euclidean chords of the jumps are summed:

    .. math::

        \hat d(s, j) = \sum_t \lVert x_{q_t} - x_{q_{t+1}} \rVert, \qquad
        q_0 = j,\ q_{t+1} = \text{farthest ancestor of } q_t \text{ with }
        d_G(s, q_t) - d_G(s, q_{t+1}) \le L,

    with :math:`L = \text{span} \cdot \bar r_{10}`, :math:`\bar r_{10}` the median distance to
    the 10th nearest neighbour (a fixed count, so that the span does not grow with ``k``).
    Chords remove the zig-zag below the scale :math:`L`; they are shorter than the arcs they
    replace by :math:`L^3 \kappa^2 / 24` per chord on a geodesic of ambient curvature
    :math:`\kappa`, so ``span`` trades the two biases. ``span=4`` was chosen by measuring
    the median relative error against exact distances (``benchmarks/bench_geodesic.py``;
    ``docs/validation.md#chord-span``).
    ``method="graph"`` returns the plain Isomap graph distances.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features), optional
        The points. Required for ``method="shortcut"`` (chords need coordinates) and for
        ``connect_components``; may be omitted with ``method="graph"`` if ``neighbors`` is given.
    k : int, default=10
        Neighbours per point in the graph.
    sources : int or array-like of int, optional
        Rows of the result: distances from these points only (much faster for large N).
        Default: all points.
    neighbors : Neighbors, optional
        A precomputed graph (``mp.knn(X, k')`` with ``k' >= k``); reused, never recomputed.
        A cosine graph is used as the chord graph of the unit-normalised points.
    method : {"shortcut", "graph"}, default="shortcut"
    span : float, default=4.0
        Chord span :math:`L` in units of :math:`\bar r_{10}` (``method="shortcut"`` only).
    connect_components : bool, default=False
        If the graph is disconnected, join its components by their shortest Euclidean edges
        (Borůvka: each component repeatedly gets its shortest edge to a point outside it)
        instead of returning ``inf`` between them. The joined distances cross gaps in the
        sample, so they are only upper bounds on distances within a manifold.

    Returns
    -------
    ndarray of float64, shape (len(sources), n_points) or (n_points, n_points)
        ``D[i, j]``: distance from ``sources[i]`` (or point ``i``) to point ``j``; ``inf`` between
        points in different components. With ``sources=None`` the matrix is made symmetric by
        averaging the two directions (the shortcut estimate of ``d(s, j)`` follows the tree
        rooted at ``s``, so it differs slightly from that of ``d(j, s)``); with ``sources`` given
        the one-directional estimates are returned.

    Warns
    -----
    UserWarning
        When the graph is disconnected and ``connect_components=False``: it names the number
        of components; raise ``k`` or pass ``connect_components=True``.

    Raises
    ------
    InputError
        Bad points, ``k``, ``sources``, ``method`` or ``span``; ``X`` missing where needed;
        a result matrix (``8 * n_sources * N`` bytes, twice that for all sources) above the
        memory budget of half the physical memory — checked before any work; a finite
        distance beyond the range of float64 (about 1.8e308) in the units of ``X``.

    Warns
    -----
    CostWarning
        Before the work, when the Dijkstra runs (about ``n_sources * N * k * log2 N``
        operations) exceed :data:`~manifold_probe._validation.SLOW_OPERATIONS`; pass
        ``sources=`` or subsample.

    Notes
    -----
    Cost: Dijkstra is :math:`O(S\,N k \log N)` for S sources; the shortcut pass adds
    :math:`O(S N (h + D\,h/m))` for paths of ``h`` hops jumped ``m`` at a time in dimension D.
    Measured in ``docs/validation.md#geodesic-cost``. Pass ``sources``
    when only some rows are needed; memory is ``len(sources) * N`` floats plus blocked scratch.
    Exact duplicate points are joined by zero-length edges. Magnitude: the paths are computed on
    the points (and a given Euclidean graph) rescaled by an exact power of two so that the
    largest coordinate is about 1, and the distances are scaled back exactly, so that
    ``geodesic_distances(c * X)`` is ``c`` times ``geodesic_distances(X)`` from ``1e-300`` to
    ``1e300``.

    References
    ----------
    Tenenbaum, J. B., de Silva, V. & Langford, J. C. (2000). A global geometric framework for
    nonlinear dimensionality reduction. Science 290, 2319–2323.
    Bernstein, M., de Silva, V., Langford, J. C. & Tenenbaum, J. B. (2000). Graph approximations
    to geodesics on embedded manifolds. Technical report, Stanford University.

    Examples
    --------
    >>> import numpy as np, manifold_probe as mp
    >>> t = np.linspace(0, np.pi, 50)
    >>> X = np.c_[np.cos(t), np.sin(t)]                  # a half circle, arc length pi
    >>> D = mp.geodesic_distances(X, k=2, method="graph")
    >>> round(float(D[0, -1]), 3)
    3.141
    """
    from scipy.sparse.csgraph import connected_components, dijkstra

    from manifold_probe._validation import check_points

    A = None if X is None else check_points(X, what="geodesic_distances")
    _check_cost(A, neighbors, sources, k)
    method, span = GEODESIC_PARAMS.check(method=method, span=span).values()
    if not isinstance(connect_components, (bool, np.bool_)):
        raise InputError(f"connect_components must be True or False; got {connect_components!r}")
    # magnitude: the paths are computed on the cloud (and graph) rescaled by an exact power of
    # two, so that squared chords neither overflow nor underflow; distances scale back exactly
    A, neighbors, e = normalize_cloud(A, neighbors)
    A, nb = resolve_neighbors(A, k, neighbors=neighbors, min_k=1, what="geodesic_distances")
    if nb.metric != "euclidean":  # cosine: chords of the unit-normalised points, no units
        e = 0
    n = nb.n_points
    if A is None and (method == "shortcut" or connect_components):
        need = "method='shortcut'" if method == "shortcut" else "connect_components=True"
        raise InputError(
            f"{need} needs the coordinates: pass X together with neighbors=, or use "
            "method='graph' with connect_components=False"
        )
    if A is not None and nb.metric == "cosine":
        A = A / np.linalg.norm(A, axis=1, keepdims=True)

    src = _source_rows(sources, n)
    G = symmetric_graph(nb, n)
    n_comp, labels = connected_components(G, directed=False)
    if n_comp > 1:
        if connect_components:
            G = _join_components(G, A, labels)
        else:
            warnings.warn(
                f"the kNN graph (k={nb.k}) has {n_comp} connected components; distances between "
                "them are inf. Raise k or pass connect_components=True to join them",
                UserWarning,
                stacklevel=2,
            )

    if method == "graph":
        # G is symmetric (symmetric_graph and _join_components take the maximum of G and its
        # transpose), so the directed search is the undirected one, relaxation for relaxation
        # (scipy's undirected search also scans the transpose, whose rows are G's)
        out = dijkstra(G, directed=True, indices=src)
        return rescale(np.ascontiguousarray(out, dtype=np.float64), e, what=_WHAT, unit_power=1)

    out = _shortcut_paths(A, G, nb, src, span, symmetric=sources is None)
    return rescale(out, e, what=_WHAT, unit_power=1)


def _check_cost(A, neighbors, sources, k) -> None:
    """Refuse or warn before the graph or any distance is computed (see the Cost section)."""
    from manifold_probe._validation import check_memory, warn_cost

    # cost guard, before the graph or any distance is computed: the result is a dense
    # (n_sources, N) float64 matrix; refused above the memory budget, warned about when the
    # Dijkstra runs (n_sources * N * k * log N) are estimated to take minutes
    if isinstance(neighbors, Neighbors):
        n_pts = neighbors.n_points
    else:
        n_pts = A.shape[0] if A is not None else 0
    n_src = n_pts if sources is None else int(np.size(to_numpy(sources)))
    check_memory(
        8.0 * n_src * n_pts * (2 if sources is None else 1),
        what=f"geodesic_distances from {n_src} sources to {n_pts} points",
        fix="pass sources= (a subset of row indices, in blocks) or subsample the points",
    )
    k_cost = k if isinstance(k, (int, np.integer)) and not isinstance(k, bool) else 10
    warn_cost(
        float(n_src) * n_pts * max(int(k_cost), 1) * max(np.log2(max(n_pts, 2)), 1.0),
        what=f"geodesic_distances from {n_src} sources to {n_pts} points",
        fix="pass sources= with the rows you need, or subsample the points",
    )


def _shortcut_paths(A, G, nb, src, span: float, *, symmetric: bool) -> np.ndarray:
    """Dijkstra paths from ``src`` with chord shortcutting, in memory-bounded blocks."""
    from scipy.sparse.csgraph import dijkstra

    n = nb.n_points
    L = span * _reference_radius(nb)
    per_source = n * 8 * 24  # arrays of the shortcut pass per source row (32 lifting levels max)
    block = max(1, min(len(src), _MEMORY_BUDGET // per_source))
    out = np.empty((len(src), n), dtype=np.float64)
    for b0 in range(0, len(src), block):
        idx = src[b0 : b0 + block]
        # directed: G is symmetric (see geodesic_distances)
        D, P = dijkstra(G, directed=True, indices=idx, return_predecessors=True)
        out[b0 : b0 + block] = _shortcut(A, D, P.astype(np.int64), idx, L)
    if symmetric:
        out = 0.5 * (out + out.T)
    return out
