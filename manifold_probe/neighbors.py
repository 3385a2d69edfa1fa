"""The neighbour engine: one exact k-nearest-neighbour graph per point cloud.

Everything in manifold_probe that looks at neighbourhoods (TwoNN, MLE, GRIDE, local PCA,
curvature, geodesics, Ollivier–Ricci) starts from :func:`knn`. Compute it once and pass the
resulting :class:`Neighbors` on through the ``neighbors=`` argument of those functions.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from manifold_probe._knn_exact import complete_rows
from manifold_probe._knn_search import knn  # the search kernel, re-exported
from manifold_probe._neighbors_type import METRICS, Neighbors
from manifold_probe._validation import (
    InputError,
    check_int,
    check_k,
    check_points,
    normalize_scale,
)
from manifold_probe._validation_extra import check_neighbor_arrays

__all__ = [
    "METRICS",
    "KnnCacheState",
    "Neighbors",
    "cached_knn",
    "check_graph",
    "graph_on",
    "knn",
    "knn_cache",
    "resolve_neighbors",
]

# A cache miss computes at least this many neighbours: the default k of MLE, LocalPCA and the
# k-based estimators, so TwoNN (k=2) followed by any of them searches once, at a small price.
# set by `benchmarks/bench_knn.py`, see docs/validation.md#knn-cache-size
CACHE_MIN_K = 20


class _GraphCache:
    """Bounded LRU store of exact kNN graphs, keyed by a SHA-256 digest of the points.

    The key is the digest of the float64 points actually searched (shape, metric and every
    byte), so an array changed in place gets a new key and is searched again: a stored graph
    can only be served for identical points, for which it is the exact answer. Only graphs are
    kept (16 bytes per point and neighbour), never the points. Each entry keeps the largest k
    computed for its points; smaller requests are served by truncation, which is exact because
    the graph is sorted by (distance, index).
    """

    def __init__(self, max_graphs: int = 8, max_bytes: int = 256 * 2**20):
        self.enabled = True
        self.max_graphs = max_graphs
        self.max_bytes = max_bytes
        self.hits = 0
        self.builds = 0
        self._store: OrderedDict[bytes, Neighbors] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(A: np.ndarray, metric: str) -> bytes:
        h = hashlib.sha256(f"{A.shape}|{A.dtype.str}|{metric}|".encode())
        h.update(memoryview(np.ascontiguousarray(A)).cast("B"))
        return h.digest()

    @property
    def nbytes(self) -> int:
        return sum(nb.distances.nbytes + nb.indices.nbytes for nb in self._store.values())

    def get(self, key: bytes, k: int) -> Neighbors | None:
        with self._lock:
            nb = self._store.get(key)
            if nb is None or nb.k < k:
                return None
            self._store.move_to_end(key)
            self.hits += 1
        # copies: a caller editing its graph in place cannot change the stored one
        return Neighbors(nb.distances[:, :k].copy(), nb.indices[:, :k].copy(), nb.metric)

    def put(self, key: bytes, nb: Neighbors, built: bool = True) -> None:
        size = nb.distances.nbytes + nb.indices.nbytes
        with self._lock:
            self.builds += int(built)
            if size > self.max_bytes or self.max_graphs < 1:
                return
            self._store[key] = Neighbors(nb.distances.copy(), nb.indices.copy(), nb.metric)
            self._store.move_to_end(key)
            while len(self._store) > self.max_graphs or self.nbytes > self.max_bytes:
                self._store.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._store.clear()
            self.hits = 0
            self.builds = 0


_GRAPHS = _GraphCache()


class KnnCacheState:
    """What :func:`knn_cache` returns: the cache's state, and a context manager.

    Attributes
    ----------
    enabled : bool
        Whether estimators reuse stored graphs.
    graphs : int
        Number of stored graphs.
    nbytes : int
        Memory held by the stored graphs.
    hits, builds : int
        Requests served from the cache, and graphs computed through it, since the last clear.
    max_graphs, max_bytes : int
        The bounds.

    Used in a ``with`` block, the previous ``enabled`` setting (and bounds) come back on exit.
    """

    def __init__(self, previous: tuple[bool, int, int]):
        self._previous = previous
        self.enabled = _GRAPHS.enabled
        self.graphs = len(_GRAPHS._store)
        self.nbytes = _GRAPHS.nbytes
        self.hits = _GRAPHS.hits
        self.builds = _GRAPHS.builds
        self.max_graphs = _GRAPHS.max_graphs
        self.max_bytes = _GRAPHS.max_bytes

    def __enter__(self) -> KnnCacheState:
        return self

    def __exit__(self, *exc: Any) -> None:
        _GRAPHS.enabled, _GRAPHS.max_graphs, _GRAPHS.max_bytes = self._previous

    def __repr__(self) -> str:
        return (
            f"KnnCacheState(enabled={self.enabled}, graphs={self.graphs}, nbytes={self.nbytes}, "
            f"hits={self.hits}, builds={self.builds})"
        )


def knn_cache(
    enabled: bool | None = None,
    *,
    max_graphs: int | None = None,
    max_bytes: int | None = None,
    clear: bool = False,
) -> KnnCacheState:
    """Switch, bound, clear or inspect the neighbour-graph cache of the estimators.

    Every estimator that is given points without ``neighbors=`` (``intrinsic_dimension``,
    ``scalar_curvature``, ``geodesic_distances``, ``ollivier_ricci``, ...) gets its kNN graph
    through a small in-memory cache, so that calling several of them on the same array
    searches its neighbours once: ``mp.intrinsic_dimension(X, method="twonn")`` then
    ``method="mle"`` compute one graph. The cache is keyed by a SHA-256 digest of the points'
    content (about 0.1 s per 60 MB), so an array modified in place is searched again; it
    stores graphs only (16 bytes per point and neighbour), at most ``max_graphs`` of them
    within ``max_bytes``, least recently used evicted first. A miss computes at least
    ``CACHE_MIN_K = 20`` neighbours (1.2-1.3x the time of k=2; a second search would cost
    2x), so smaller and later larger requests up to 20 are served by exact truncation.
    :func:`knn` itself never uses the cache; passing ``neighbors=mp.knn(X, k)`` bypasses it.

    Parameters
    ----------
    enabled : bool, optional
        ``True``/``False`` switch the cache on/off (default on); ``None`` leaves it.
    max_graphs : int, optional
        Most graphs kept (default 8). ``0`` keeps none.
    max_bytes : int, optional
        Most memory the stored graphs may hold (default 256 MiB).
    clear : bool, default=False
        Drop every stored graph and reset the counters.

    Returns
    -------
    KnnCacheState
        The state after the call; as a context manager it restores the previous setting, so
        ``with mp.knn_cache(False): ...`` turns the cache off inside the block only.

    Examples
    --------
    >>> import manifold_probe as mp
    >>> with mp.knn_cache(False) as state:
    ...     state.enabled
    False
    """
    previous = (_GRAPHS.enabled, _GRAPHS.max_graphs, _GRAPHS.max_bytes)
    if enabled is not None:
        if not isinstance(enabled, (bool, np.bool_)):
            raise InputError(f"enabled must be True, False or None; got {enabled!r}")
        _GRAPHS.enabled = bool(enabled)
    if max_graphs is not None:
        _GRAPHS.max_graphs = check_int(max_graphs, name="max_graphs", minimum=0)
    if max_bytes is not None:
        _GRAPHS.max_bytes = check_int(max_bytes, name="max_bytes", minimum=0)
    if clear:
        _GRAPHS.clear()
    elif max_graphs is not None or max_bytes is not None:
        with _GRAPHS._lock:  # apply the new bounds now
            while _GRAPHS._store and (
                len(_GRAPHS._store) > _GRAPHS.max_graphs or _GRAPHS.nbytes > _GRAPHS.max_bytes
            ):
                _GRAPHS._store.popitem(last=False)
    return KnnCacheState(previous)


def cached_knn(A: np.ndarray, k: int, metric: str = "euclidean") -> Neighbors:
    """``knn(A, k, metric)`` through the estimators' graph cache (see :func:`knn_cache`).

    ``A`` is a validated float64 array (the output of the input gate). The result is equal to
    ``knn(A, k, metric)``, element for element.
    """
    if not _GRAPHS.enabled:
        return knn(A, k, metric)
    # Keyed on the cloud rescaled by an exact power of two (normalize_scale), so that the
    # scale-invariant estimators, which rescale their input, share the graph of the same data;
    # distances scale back exactly (a power-of-two factor commutes with every rounding).
    An, e = normalize_scale(A)
    key = _GRAPHS.key(An, metric)
    nb = _GRAPHS.get(key, k)
    if nb is None:
        nb = knn(An, min(A.shape[0] - 1, max(k, CACHE_MIN_K)), metric)
        _GRAPHS.put(key, nb)
    nb = nb if nb.k == k else nb.truncate(k)
    if e and metric == "euclidean":
        nb = Neighbors(np.ldexp(nb.distances, e), nb.indices, nb.metric)
    return nb


def remember_graph(A: np.ndarray, nb: Neighbors) -> None:
    """Store ``nb``, a graph equal to ``knn(A, nb.k)`` element for element (such as one that
    :func:`graph_on` read off a parent), in the estimators' graph cache, so that
    :func:`cached_knn` of the same points at up to ``nb.k`` neighbours is served it instead
    of searching. Euclidean graphs only (others are left out); not counted as a build."""
    if not _GRAPHS.enabled or nb.metric != "euclidean":
        return
    An, e = normalize_scale(A)  # the cache holds the graph of the rescaled points, as above
    key = _GRAPHS.key(An, nb.metric)
    with _GRAPHS._lock:
        held = _GRAPHS._store.get(key)
    if held is not None and held.k >= nb.k:
        return
    _GRAPHS.put(key, Neighbors(np.ldexp(nb.distances, -e) if e else nb.distances, nb.indices,
                               nb.metric), built=False)


_built_here = threading.local()


@contextmanager
def graphs_built_here() -> Iterator[None]:
    """Within the block, :func:`check_graph` (in this thread) leaves out the array checks of
    :func:`~manifold_probe._validation_extra.check_neighbor_arrays`: for a caller that hands
    an estimator only graphs it has just built with :func:`knn` from the very points it
    passes (a null's random draws), whose checks could only pass and cost ``O(n k)`` plus a
    few rows of distances per graph and estimator. The shape and ``k`` checks stay."""
    before = getattr(_built_here, "on", False)
    _built_here.on = True
    try:
        yield
    finally:
        _built_here.on = before


def check_graph(
    neighbors: Any, A: np.ndarray | None, k: int, *, min_k: int = 1, what: str = ""
) -> Neighbors:
    """Validate a precomputed graph: a :class:`Neighbors` of the points ``A`` with >= k columns,
    well formed and (a few rows recomputed) built from ``A`` (see
    :func:`~manifold_probe._validation_extra.check_neighbor_arrays`)."""
    if not isinstance(neighbors, Neighbors):
        raise InputError(
            f"neighbors must be a Neighbors from mp.knn; got {type(neighbors).__name__}"
        )
    if A is not None and neighbors.n_points != A.shape[0]:
        raise InputError(
            f"neighbors has {neighbors.n_points} rows but X has {A.shape[0]} points; "
            "pass the graph computed from this X"
        )
    # sorted, finite, indices in range, no self; and (a few rows recomputed) from this X
    if not getattr(_built_here, "on", False):
        check_neighbor_arrays(neighbors.distances, neighbors.indices, metric=neighbors.metric,
                              points=A)
    check_k(k, neighbors.n_points, min_k=min_k, what=what)
    if neighbors.k < k:
        who = f"{what} needs" if what else "this method needs"
        raise InputError(
            f"{who} k={k} neighbours but the graph has k={neighbors.k}; "
            f"recompute it with mp.knn(X, k={k})"
        )
    return neighbors


def resolve_neighbors(
    X: Any,
    k: int,
    *,
    neighbors: Neighbors | None = None,
    metric: str = "euclidean",
    min_k: int = 1,
    what: str = "",
) -> tuple[np.ndarray | None, Neighbors]:
    """The shared preamble of every kNN-based estimator: validate, then compute or reuse a graph.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features) or None
        Points; may be ``None`` when ``neighbors`` is given and the caller needs no coordinates.
    k : int
        Neighbourhood size the caller needs.
    neighbors : Neighbors, optional
        A precomputed graph with at least ``k`` columns; it is truncated to ``k``. Without
        it the graph comes from :func:`cached_knn` (computed once per cloud, see
        :func:`knn_cache`).

    Returns
    -------
    (points or None, Neighbors with exactly k columns)
    """
    A = None
    if X is not None:
        A = check_points(X, min_points=min_k + 1, what=what or "this method")
    if neighbors is not None:
        check_graph(neighbors, A, k, min_k=min_k, what=what)
        return A, neighbors.truncate(k)
    if A is None:
        raise InputError("pass the points X or a precomputed neighbors=mp.knn(X, k)")
    k = check_k(k, A.shape[0], min_k=min_k, what=what)
    return A, cached_knn(A, k, metric)


def chord_lengths(nb: Neighbors) -> np.ndarray:
    r"""The graph's neighbour distances as Euclidean lengths, shape (N, k).

    Euclidean graphs are returned as they are. A cosine graph stores :math:`1 - \cos\theta`;
    between unit-normalised points the chord is :math:`|a - b| = \sqrt{2 (1 - \cos\theta)}`.

    >>> nb = Neighbors(np.array([[0.5, 2.0]]), np.array([[1, 2]]), metric="cosine")
    >>> chord_lengths(nb).tolist()
    [[1.0, 2.0]]
    """
    d = np.asarray(nb.distances, dtype=np.float64)
    return np.sqrt(2.0 * np.maximum(d, 0.0)) if nb.metric == "cosine" else d


def symmetric_graph(nb: Neighbors, n: int):
    """The symmetrised kNN graph as a CSR matrix of edge lengths (an edge if either is a kNN).

    Edge lengths are :func:`chord_lengths`; zero-length edges (duplicate points) are kept as
    the smallest positive float so that they do not vanish from the sparse matrix.

    >>> nb = Neighbors(np.array([[1.0], [1.0], [2.0]]), np.array([[1], [0], [1]]))
    >>> symmetric_graph(nb, 3).toarray().tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 2.0], [0.0, 2.0, 0.0]]
    """
    import scipy.sparse as sp

    w = np.maximum(chord_lengths(nb), np.finfo(np.float64).tiny)
    rows = np.repeat(np.arange(n), nb.k)
    G = sp.csr_matrix((w.ravel(), (rows, nb.indices.ravel())), shape=(n, n))
    return G.maximum(G.T).tocsr()


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
