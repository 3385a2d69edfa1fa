"""Geodesic distances reused between the pair measures of one profile.

A layer's geodesic distances from the profile's sources enter every pair it belongs to (as
the later layer of ``pair_prev``, the earlier one of the next ``pair_prev``, the later one of
``pair_input``; the input layer enters every ``pair_input``), and the sources depend only on
the seed and the number of points. :func:`cached_geodesic_distances` keeps the last few
results in memory, keyed by a digest of everything the result depends on (the points, the
graph, the sources, ``k`` and the method), so a repeated call returns the same matrix
without a new Dijkstra pass and a changed array can never get a stale result.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from manifold_probe.neighbors import Neighbors

__all__ = ["cached_geodesic_distances", "clear_geodesic_cache"]

#: Results kept (least recently used evicted), and the largest one kept (bytes).
MAX_ENTRIES = 8
MAX_ENTRY_BYTES = 32 * 2**20

_cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
_lock = threading.Lock()


def _digest(A: np.ndarray, nb: Neighbors, k: int, sources: np.ndarray | None, method: str) -> bytes:
    h = hashlib.blake2b(digest_size=32)
    h.update(f"{method}|{k}|{nb.metric}".encode())
    for arr in (A, nb.indices, nb.distances, sources):
        if arr is None:
            h.update(b"None")
            continue
        a = np.ascontiguousarray(arr)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.digest()


def cached_geodesic_distances(A: np.ndarray, nb: Neighbors, k: int, sources: np.ndarray | None,
                              method: str) -> np.ndarray:
    """``geodesic_distances(A, k=k, sources=sources, neighbors=nb, method=method)``, reused.

    The returned array is read-only (it may be shared with later calls).
    """
    from manifold_probe.geodesic import geodesic_distances

    key = _digest(A, nb, k, sources, method)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    D = geodesic_distances(A, k=k, sources=sources, neighbors=nb, method=method)
    D.setflags(write=False)
    if D.nbytes <= MAX_ENTRY_BYTES:
        with _lock:
            _cache[key] = D
            while len(_cache) > MAX_ENTRIES:
                _cache.popitem(last=False)
    return D


def clear_geodesic_cache() -> None:
    """Forget every kept result."""
    with _lock:
        _cache.clear()
