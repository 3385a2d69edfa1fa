"""Results reused between the tasks of one profile: geodesic distances and region labels.

A layer's geodesic distances from the profile's sources enter every pair it belongs to (as
the later layer of ``pair_prev``, the earlier one of the next ``pair_prev``, the later one of
``pair_input``; the input layer enters every ``pair_input``), and the sources depend only on
the seed and the number of points. :func:`cached_geodesic_distances` keeps the last few
results in memory, keyed by a digest of everything the result depends on (the points, the
graph, the sources, ``k`` and the method), so a repeated call returns the same matrix
without a new Dijkstra pass and a changed array can never get a stale result. A layer's
semantic regions enter its own ``regions`` task and the next layer's (merges and splits):
:func:`reused` serves both from one computation, with the same content key.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from manifold_probe.neighbors import Neighbors

__all__ = ["cached_geodesic_distances", "clear_geodesic_cache", "not_kept", "reused"]

#: Results kept (least recently used evicted), the largest one kept and all of them together
#: (bytes). A profile step holds, per layer, its regions, its geodesic distances and its squared
#: distances (32 MB at 2000 points), of the two latest layers and of the input layer.
MAX_ENTRIES = 16
MAX_ENTRY_BYTES = 32 * 2**20
MAX_TOTAL_BYTES = 256 * 2**20

_cache: OrderedDict[bytes, tuple[Any, int]] = OrderedDict()  # key -> (value, its bytes)
_lock = threading.Lock()
_running: dict[bytes, threading.Event] = {}  # key -> set when its computation ends
_local = threading.local()  # .off: this thread computes without keeping (see not_kept)


@contextmanager
def not_kept() -> Iterator[None]:
    """Within the block, :func:`reused` computes its results in this thread without looking
    them up or keeping them: for clouds that are never seen again (a null's random draws),
    whose results would only evict the layers' own and cost a digest each."""
    before = getattr(_local, "off", False)
    _local.off = True
    try:
        yield
    finally:
        _local.off = before


def _digest(tag: str, *arrays) -> bytes:
    h = hashlib.blake2b(digest_size=32)
    h.update(tag.encode())
    for arr in arrays:
        if arr is None:
            h.update(b"None")
            continue
        a = np.ascontiguousarray(arr)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.digest()


def reused(tag: str, arrays: tuple, compute: Callable[[], Any], nbytes: Callable[[Any], int]):
    """``compute()``, or the result kept from a call with the same ``tag`` and array contents.

    ``tag`` names every non-array argument the result depends on; results larger than
    :data:`MAX_ENTRY_BYTES` (by ``nbytes``) are returned but not kept. Thread-safe: while one
    thread computes a result, another asking for the same one waits for it instead of
    computing it again (tasks of a threaded run share these results).
    """
    if getattr(_local, "off", False):
        return compute()
    key = _digest(tag, *arrays)
    while True:
        with _lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
                return hit[0]
            running = _running.get(key)
            if running is None:  # this thread computes it
                running = _running[key] = threading.Event()
                break
        # another thread is computing the same result: wait for it, then read it (or, if it
        # was not kept, being too large, or its computation failed, compute it here)
        running.wait()
    try:
        value = compute()
        size = int(nbytes(value))
        if size <= MAX_ENTRY_BYTES:
            with _lock:
                _cache[key] = (value, size)
                while len(_cache) > MAX_ENTRIES or (
                        len(_cache) > 1 and sum(b for _, b in _cache.values()) > MAX_TOTAL_BYTES):
                    _cache.popitem(last=False)
    finally:
        with _lock:
            _running.pop(key).set()
    return value


def cached_geodesic_distances(A: np.ndarray, nb: Neighbors, k: int, sources: np.ndarray | None,
                              method: str) -> np.ndarray:
    """``geodesic_distances(A, k=k, sources=sources, neighbors=nb, method=method)``, reused.

    The returned array is read-only (it may be shared with later calls).
    """
    from manifold_probe.geodesic import geodesic_distances

    def compute() -> np.ndarray:
        D = geodesic_distances(A, k=k, sources=sources, neighbors=nb, method=method)
        D.setflags(write=False)
        return D

    return reused(f"geodesic|{method}|{k}|{nb.metric}", (A, nb.indices, nb.distances, sources),
                  compute, lambda D: D.nbytes)


def clear_geodesic_cache() -> None:
    """Forget every kept result."""
    with _lock:
        _cache.clear()
