"""The exact duplicate rows of large arrays, kept for the next call on the same bits (see
:func:`manifold_probe._validation.unique_rows`, whose work this is)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

__all__ = ["unique_rows_kept"]

#: :func:`unique_rows_kept` keeps the results of this many arrays of at least
#: :data:`_UNIQUE_KEPT_BYTES` (a profile's tasks collapse the same layer several times: its
#: dimension, curvature, regions and every pair it enters; a result is 3 integer arrays of n)
_UNIQUE_KEPT = 8
_UNIQUE_KEPT_BYTES = 2**20
_kept: OrderedDict[bytes, tuple[np.ndarray, ...]] = OrderedDict()
_lock = threading.Lock()


def _digest(X: np.ndarray) -> bytes:
    """SHA-256 of the dtype, shape and bytes of the C-contiguous ``X`` (SHA-256 has hardware
    support on current x86 and ARM cores: faster than BLAKE2b there)."""
    h = hashlib.sha256(f"{X.dtype.str}{X.shape}".encode())
    h.update(memoryview(X).cast("B"))
    return h.digest()


def unique_rows_kept(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(first, inverse, counts)`` of :func:`~manifold_probe._validation.unique_rows` for the
    C-contiguous ``X``: the arrays of a previous call on the same bits (a SHA-256 digest of
    the dtype, shape and bytes) where one of the last :data:`_UNIQUE_KEPT` large arrays had
    them.

    The result is a function of the bits alone, so a kept one is the one a new sort would give
    (copies are returned: a caller may write to them). Sorting the rows costs about 0.3 s at
    19,296 x 384 float32; the digest about a tenth of that.
    """
    key = None
    if X.nbytes >= _UNIQUE_KEPT_BYTES:
        key = _digest(X)
        with _lock:
            hit = _kept.get(key)
            if hit is not None:
                _kept.move_to_end(key)
                return tuple(a.copy() for a in hit)
    _, first, inverse, counts = np.unique(
        X, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    out = (first[order], rank[inverse.reshape(-1)], counts[order])
    if key is not None:
        with _lock:
            _kept[key] = tuple(a.copy() for a in out)
            while len(_kept) > _UNIQUE_KEPT:
                _kept.popitem(last=False)
    return out
