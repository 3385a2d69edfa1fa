"""More of the input gate (:mod:`manifold_probe._validation`, kept apart for size): precomputed
k-nearest-neighbour graphs. Every public function taking ``neighbors=`` reaches
:func:`check_neighbor_arrays` through :func:`manifold_probe.neighbors.check_graph`."""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._validation import InputError

__all__ = ["all_rows_differ", "check_neighbor_arrays"]


#: Rows of a precomputed graph whose distances are recomputed from X (a stated budget, not a
#: tuned constant: enough that a graph of another cloud is caught with near certainty, while
#: the check costs at most ``_GRAPH_CHECK_OPS`` operations, well under a second).
_GRAPH_CHECK_ROWS = 16
_GRAPH_CHECK_OPS = 5e7


def check_neighbor_arrays(distances: Any, indices: Any, *, metric: str = "euclidean",
                          points: np.ndarray | None = None) -> None:
    """Check a precomputed k-nearest-neighbour graph before any estimator reads it.

    Checked: ``distances`` and ``indices`` are 2-D of one shape, indices integers in
    ``[0, n)`` with no point its own neighbour and no neighbour twice in a row, distances
    finite, non-negative (up to rounding for cosine) and ascending along each row. When the
    ``points`` are given, a few rows drawn with a fixed seed (:data:`_GRAPH_CHECK_ROWS`, fewer
    for large clouds) are recomputed from them in float64: each listed distance must match
    (up to one common power-of-two factor: scale-invariant estimators rescale the points by
    one, exactly, and not the graph),
    and no other point may lie closer than the row's last neighbour, so a graph of another
    cloud, or of another metric, is refused. Cost: O(n k) plus O(rows n d).

    Raises
    ------
    InputError
        Naming the first offending row and what to do (recompute with ``mp.knn(X, k)``).
    """
    fix = "recompute it with mp.knn(X, k) from the same X"
    D = np.asarray(distances)
    I = np.asarray(indices)  # noqa: E741
    if D.ndim != 2 or I.shape != D.shape:
        raise InputError(f"a neighbour graph needs distances and indices of one shape (n, k); got "
                         f"{D.shape} and {I.shape}; {fix}")
    n, k = I.shape
    if not (np.issubdtype(I.dtype, np.integer)):
        raise InputError(f"neighbour indices must be integers; got dtype {I.dtype}; {fix}")
    if not np.issubdtype(D.dtype, np.floating) and not np.issubdtype(D.dtype, np.integer):
        raise InputError(f"neighbour distances must be real numbers; got dtype {D.dtype}; {fix}")
    if n == 0 or k == 0:
        return
    D = D.astype(np.float64, copy=False)

    def first(bad: np.ndarray) -> int:
        return int(np.flatnonzero(bad.any(axis=1) if bad.ndim == 2 else bad)[0])

    bad = ~np.isfinite(D)
    if bad.any():
        raise InputError(f"the neighbour graph has {int(bad.sum())} non-finite distance(s) "
                         f"(first in row {first(bad)}); {fix}")
    low = -8 * np.finfo(np.float64).eps if metric == "cosine" else 0.0
    bad = D < low
    if bad.any():
        raise InputError(f"the neighbour graph has negative distances (first in row "
                         f"{first(bad)}); {fix}")
    bad = (I < 0) | (I >= n)
    if bad.any():
        r = first(bad)
        raise InputError(f"neighbour indices must lie in [0, {n}) (one per point); row {r} holds "
                         f"{int(I[r][bad[r]][0])}; {fix}")
    bad = I == np.arange(n)[:, None]
    if bad.any():
        raise InputError(f"row {first(bad)} of the neighbour graph lists the point itself; "
                         f"neighbours exclude the point (mp.knn does); {fix}")
    if k > 1:
        step = np.diff(D, axis=1)
        bad = step < -8 * np.finfo(np.float64).eps * np.maximum(np.abs(D[:, 1:]), 1e-300)
        if bad.any():
            raise InputError(f"neighbour distances must ascend along each row; row {first(bad)} "
                             f"does not (reversed or unsorted); {fix}")
        srt = np.sort(I, axis=1)
        bad = srt[:, 1:] == srt[:, :-1]
        if bad.any():
            raise InputError(f"row {first(bad)} of the neighbour graph lists a neighbour twice; "
                             f"{fix}")
    if points is None:
        return
    A = np.asarray(points, dtype=np.float64)
    if A.shape[0] != n:
        return  # the caller reports the row count
    rows_budget = int(_GRAPH_CHECK_OPS // max(1, n * A.shape[1]))
    m = min(n, _GRAPH_CHECK_ROWS, max(1, rows_budget))
    rows = np.random.default_rng(0).choice(n, size=m, replace=False)
    from manifold_probe._validation import normalize_scale

    # recomputed at magnitude ~1 (an exact power of two, absorbed by the common factor below):
    # squared distances of x1e300 points would overflow
    A = normalize_scale(A)[0]
    if metric == "cosine":
        norm = np.linalg.norm(A, axis=1)
        U = A / np.where(norm > 0, norm, 1.0)[:, None]
        full = 1.0 - U[rows] @ U.T
        # 1 - cos loses about |cos| eps relative to 1
        tol = 64 * np.finfo(np.float64).eps * np.ones((m, 1))
    else:
        c = A.mean(axis=0)  # the distances are translation-invariant: recompute them centred
        B = A - c
        if m * n * A.shape[1] <= 4e6:
            full = np.sqrt(np.maximum(((B[rows, None, :] - B[None, :, :]) ** 2).sum(-1), 0.0))
        else:  # from coordinate differences too, without an (n, d) temporary per row
            from scipy.spatial.distance import cdist

            full = cdist(B[rows], B)
        scale = np.abs(B).max() if B.size else 0.0
        # a graph from float32 coordinates (another library's search) differs by ~1e-7 relative
        tol = 1e-5 * np.maximum(full.max(axis=1, keepdims=True), scale * 1e-12) + 1e-300
    listed = np.take_along_axis(full, I[rows], axis=1)
    # scale-invariant estimators rescale X by a power of two and not the graph: compare up to
    # one common factor (a graph of another cloud is not proportional to this one's)
    pos = D[rows] > 0
    c = float(np.median(listed[pos] / D[rows][pos])) if pos.any() else 1.0
    if c > 0 and np.isfinite(c):  # the factor is an exact power of two (normalize_scale's)
        c = float(np.ldexp(1.0, int(np.round(np.log2(c)))))
    D = D * c
    off = np.abs(listed - D[rows]) > tol
    if off.any():
        r = int(rows[np.flatnonzero(off.any(axis=1))[0]])
        raise InputError(f"the neighbour graph does not belong to these points: row {r}'s "
                         f"distances differ from those recomputed from X; {fix}")
    full[np.arange(m), rows] = np.inf  # the point itself
    np.put_along_axis(full, I[rows], np.inf, axis=1)
    closer = full < D[rows, -1:] - tol
    if closer.any():
        r = int(rows[np.flatnonzero(closer.any(axis=1))[0]])
        raise InputError(f"the neighbour graph does not belong to these points: row {r} misses "
                         f"a point closer than its k-th neighbour; {fix}")


def all_rows_differ(X: np.ndarray) -> bool:
    """True when no two rows of the 2-D float array ``X`` are equal, proved by hashing; False
    when that is not proved (duplicates, a hash collision, or another dtype).

    Equal rows have equal bits once converted to float64 (exact) and ``-0.0`` is made ``+0.0``,
    so equal rows get equal hashes (a fixed random linear map of the 64-bit words, modulo
    2**64): when the hashes of the rows, first over a few columns and then over all of them,
    are all different, no two rows are equal. ``n`` hashes are sorted instead of ``n`` rows of
    ``d`` values (the same test as :func:`manifold_probe.dimension._base._distinct_rows`).
    """
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] == 0 or X.dtype.kind != "f" \
            or X.dtype.itemsize > 8:
        return False
    n, d = X.shape
    words = (X.astype(np.float64, copy=False) + 0.0).view(np.uint64)
    weights = np.random.default_rng(0).integers(1, 2**63, size=d, dtype=np.uint64)
    for cols in (slice(0, min(d, 8)), slice(0, d)):
        if len(np.unique(words[:, cols] @ weights[cols])) == n:
            return True
    return False
