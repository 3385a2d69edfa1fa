"""Exact k-nearest-neighbour search: blocked float32 GEMM, certified, float64 distances.

The engine behind :func:`manifold_probe.neighbors.knn` (re-exported there).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

import numpy as np

from manifold_probe._neighbors_type import _EPS32, METRICS, Neighbors
from manifold_probe._validation import (
    InputError,
    check_int,
    check_k,
    check_option,
    check_points,
)

__all__ = ["knn"]

_ROW_CHUNK = 64  # columns per chunk minimum of a row (contiguous: a long inner reduction)
_COL_CHUNK = 16  # rows per chunk minimum of a column (vectorised across the columns)
# reading an entry by index costs about this many times a vectorised pass over it
_GATHER_COST = 2
# bytes of coordinate differences gathered at a time by the float64 recomputation (in L2)
_RECOMPUTE_BYTES = 2**19
# bytes per entry of a float32 tile of the plain search (the tile and top-k's scratch)
_PLAIN_BYTES = 8
_CUDA_BUDGET = 4 * 2**30  # most bytes per tile on CUDA
_EPS64 = float(np.finfo(np.float64).eps)


def _torch_device(device: Any):
    """The torch device of the float32 pass; an absent or unknown device is an InputError."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputError(
            f"device={device!r} is not a torch device ({exc}); use 'cpu', 'cuda' or None (CUDA "
            "when available, else CPU)"
        ) from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(
                f"device={device!r} asks for CUDA, but torch sees no CUDA device on this machine "
                "(torch.cuda.is_available() is False); use device='cpu' or device=None"
            )
        if dev.index is not None and dev.index >= count:
            raise InputError(
                f"device={device!r}: this machine has {count} CUDA device(s) (0..{count - 1})"
            )
    elif dev.type != "cpu":
        raise InputError(
            f"device={device!r}: the neighbour search runs on 'cpu' or 'cuda'; got {dev.type!r}"
        )
    return dev


def _as_points(X: Any) -> Any:
    """Torch tensors of dtypes numpy lacks (bfloat16, ...) upcast to float32 before the gate."""
    if type(X).__module__.startswith("torch"):
        import torch

        if isinstance(X, torch.Tensor) and X.is_floating_point() and X.dtype not in (
            torch.float16,
            torch.float32,
            torch.float64,
        ):
            return X.detach().to(torch.float32)
    return X


def _points_on_device(X: Any, dev):
    """A floating-point CUDA tensor of valid points, as float64 on its device; ``None`` for
    anything else (numpy input, CPU tensors, and invalid tensors, which the host path
    refuses with its messages). The upcast to float64 is exact."""
    if dev.type != "cuda" or not type(X).__module__.startswith("torch"):
        return None
    import torch

    if not (isinstance(X, torch.Tensor) and X.device.type == "cuda" and X.is_floating_point()
            and X.ndim == 2 and X.shape[0] >= 2 and X.shape[1] >= 1):
        return None
    if dev.index is not None and X.device.index != dev.index:
        return None
    T = X.detach().to(torch.float64)
    return T if bool(torch.isfinite(T).all()) else None


def _merge_entries(best_v, best_i, pts, cand, vals):
    """Merge offered entries (point ``pts``, candidate ``cand``, value ``vals``; sorted by
    point) into the current ``m`` best ``(R, m)`` of every point."""
    import torch

    R, m = best_v.shape
    counts = torch.bincount(pts, minlength=R)
    width = int(counts.max())
    if width <= 4 * m:  # few per point: pad them to (R, width) and rank with the current best
        pos = torch.arange(len(pts), device=pts.device) - (torch.cumsum(counts, 0) - counts)[pts]
        flat = pts * (m + width) + m + pos
        new_v = torch.full((R, m + width), float("inf"), device=pts.device, dtype=best_v.dtype)
        new_i = torch.zeros((R, m + width), device=pts.device, dtype=best_i.dtype)
        new_v[:, :m] = best_v
        new_i[:, :m] = best_i
        new_v.view(-1).index_copy_(0, flat, vals)
        new_i.view(-1).index_copy_(0, flat, cand)
        v, sel = torch.topk(new_v, m, dim=1, largest=False, sorted=False)
        return v, torch.gather(new_i, 1, sel)
    # a few points with many: all current and offered entries sorted by (point, value), the
    # first m of each point kept
    pts = torch.cat([torch.arange(R, device=pts.device).repeat_interleave(m), pts])
    vals = torch.cat([best_v.reshape(-1), vals])
    cand = torch.cat([best_i.reshape(-1), cand])
    o = torch.argsort(vals, stable=True)
    o = o[torch.argsort(pts[o], stable=True)]
    counts = torch.bincount(pts, minlength=R)
    rank = torch.arange(len(o), device=o.device) - (torch.cumsum(counts, 0) - counts)[pts[o]]
    keep = o[rank < m]  # m per point, in point order
    return vals[keep].view(R, m), cand[keep].view(R, m)


def _flat_nonzero(mask):
    """Flat positions of the true entries of ``mask`` (faster than a 2-D ``nonzero``)."""
    import torch

    return torch.nonzero(mask.reshape(-1)).view(-1)


def _offer(best_v, best_i, D2, tau, offset: int, *, columns: bool = False):
    """Offer the entries of the tile ``D2`` to the current ``m`` best ``(R, m)`` of its row
    points (candidates ``offset + column``), or with ``columns=True`` of its column points
    (candidates ``offset + row``); only entries below a point's threshold ``tau`` can enter.

    The tile is first reduced to chunk minima (a row's minimum over 64 consecutive columns, or
    a column's over 16 consecutive rows), a cheap vectorised pass: only chunks whose minimum is
    below the point's threshold can hold an entry that enters. When few chunks pass (the usual
    case once the thresholds have tightened), only those are read again; otherwise the whole
    tile is compared with the thresholds.
    """
    import torch

    R, C = D2.shape
    flat_d2 = D2.view(-1)
    if columns:
        c = _COL_CHUNK
        V = D2.view(R // c, c, C)
        lin = _flat_nonzero(V.amin(dim=1) < tau[None, :])  # (chunk, point) pairs, chunk-major
        if len(lin) == 0:
            return best_v, best_i
        if len(lin) * c * _GATHER_COST < R * C:  # few chunks: read only those
            hc, pt = lin // C, lin % C
            vals = V[hc, :, pt]  # (pairs, c), read band by band
            e = _flat_nonzero(vals < tau[pt, None])
            j = e // c
            pts, cand, v = pt[j], offset + hc[j] * c + e % c, vals.view(-1)[e]
        else:
            e = _flat_nonzero(D2 < tau[None, :])
            pts, cand, v = e % C, offset + e // C, flat_d2[e]
        o = torch.argsort(pts, stable=True)  # in point order
        return _merge_entries(best_v, best_i, pts[o], cand[o], v[o])
    c = _ROW_CHUNK
    lin = _flat_nonzero(D2.view(R, C // c, c).amin(dim=2) < tau[:, None])  # point-major
    if len(lin) == 0:
        return best_v, best_i
    if len(lin) * c * _GATHER_COST < R * C:
        pt, hc = lin // (C // c), lin % (C // c)
        vals = torch.index_select(D2.view(-1, c), 0, lin)  # (pairs, c)
        e = _flat_nonzero(vals < tau[pt, None])
        j = e // c
        return _merge_entries(best_v, best_i, pt[j], offset + hc[j] * c + e % c, vals.view(-1)[e])
    e = _flat_nonzero(D2 < tau[:, None])
    return _merge_entries(best_v, best_i, e // C, offset + e % C, flat_d2[e])


def _block_rows(n: int, n_cand: int, memory_budget: int) -> int:
    """Rows per block of the float32 pass: a multiple of 64, the blocks near-equal.

    A tile of B x B float32 entries with its masks and selection scratch takes ~12 bytes an
    entry, so B is sized to the memory budget; a block holds more than ``n_cand`` points.
    """
    B = max(2 * (n_cand + 1), math.isqrt(max(1, memory_budget // 12)))
    return math.ceil(math.ceil(n / math.ceil(n / B)) / _ROW_CHUNK) * _ROW_CHUNK


def _self_candidates(Xt, n: int, n_cand: int, s: int):
    """The ``n_cand`` approximately nearest other points of every row, from float32 tiles.

    The squared distances form a symmetric matrix, so only its tiles ``I <= J`` (square blocks
    of rows) are computed: half the Gram products of the full matrix. The diagonal tiles give
    every row its first ``n_cand`` candidates (the blocks have more rows than that) and a
    threshold, the largest of them; an off-diagonal tile then offers each of its entries to its
    row and to its column, and only the entries below that point's current threshold (a small
    fraction) are merged (:func:`_offer`), each merge lowering the threshold. Every entry
    dropped is at least the threshold at that time, which is at least the final one, so every
    non-candidate has an approximation at least as large as the row's largest candidate, as the
    certificate needs.

    The blocks have a multiple of 64 rows; the rows after the last point are padding, at
    squared distance about 1e30 from everything, and never enter a threshold.

    Returns, on the device of ``Xt``, the candidate indices ``(n, n_cand)`` (int64) and, per row,
    a float64 value that every non-candidate's approximate squared distance reaches.
    """
    import torch

    n_pad = Xt.shape[0]
    nblk = n_pad // s
    sq = (Xt * Xt).sum(dim=1)
    sq[n:] = 1e30  # the padding rows: far from everything (finite, so no inf - inf)
    no_input = torch.zeros((), dtype=Xt.dtype, device=Xt.device)
    real = torch.arange(n_pad, device=Xt.device) < n
    inf = float("inf")

    def tile(r0: int, c0: int):
        D2 = torch.addmm(no_input, Xt[r0 : r0 + s], Xt[c0 : c0 + s].T, beta=0, alpha=-2.0)
        D2 += sq[None, c0 : c0 + s]
        D2 += sq[r0 : r0 + s, None]
        return D2

    best_v, best_i, tau = [], [], []
    for a in range(nblk):  # diagonal tiles
        r0 = a * s
        D2 = tile(r0, r0)
        D2.fill_diagonal_(inf)  # self excluded
        if s // _COL_CHUNK >= n_cand:
            # each of a column's n_cand smallest chunk minima is an entry of it, so at least
            # n_cand entries are <= the largest of them: only those are offered (every pair of
            # the block reaches both its points through the columns of the symmetric tile)
            mins = D2.view(s // _COL_CHUNK, _COL_CHUNK, s).amin(dim=1)
            t0 = torch.topk(mins.T, n_cand, dim=1, largest=False, sorted=False)[0].amax(dim=1)
            # the upper limit is built beside t0: a CPU scalar here fails on CUDA (issue 21)
            t0 = torch.where(
                real[r0 : r0 + s], torch.nextafter(t0, torch.full_like(t0, inf)), -inf
            )
            v = torch.full((s, n_cand), inf, dtype=D2.dtype, device=D2.device)
            i = torch.zeros((s, n_cand), dtype=torch.int64, device=D2.device)
            v, i = _offer(v, i, D2, t0, r0, columns=True)
        else:
            v, i = torch.topk(D2, n_cand, dim=1, largest=False, sorted=False)
            i = i + r0
        best_v.append(v)
        best_i.append(i)
        # the padding rows take no candidates
        tau.append(torch.where(real[r0 : r0 + s], v.amax(dim=1), -inf))
    for a in range(nblk):
        r0 = a * s
        for b in range(a + 1, nblk):
            c0 = b * s
            D2 = tile(r0, c0)
            # each entry is offered to its row's point and to its column's point
            best_v[a], best_i[a] = _offer(best_v[a], best_i[a], D2, tau[a], c0)
            tau[a] = torch.minimum(tau[a], best_v[a].amax(dim=1))
            best_v[b], best_i[b] = _offer(best_v[b], best_i[b], D2, tau[b], r0, columns=True)
            tau[b] = torch.minimum(tau[b], best_v[b].amax(dim=1))
    return torch.cat(best_i)[:n], torch.cat(tau)[:n].double()


# ----------------------------------------------------------------------------------------------
# The plain search (CUDA): row blocks against all points, one GEMM and one top-k per tile


def _default_budget(dev) -> int:
    """Bytes of extra memory per tile: 64 MiB on CPU (tiles stay near the caches); on CUDA a
    quarter of the free memory, at most 4 GiB (tiles of thousands of rows by all points, so
    that each GEMM and top-k fills the device)."""
    if dev.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(dev)
        return int(min(_CUDA_BUDGET, free // 4))
    return 64 * 2**20


@contextmanager
def _ieee_float32():
    """Float32 matrix products in full float32 while the search runs (no TF32 or bfloat16
    passes, which ``torch.set_float32_matmul_precision`` may have allowed): the certificate's
    error bound is that of float32 arithmetic. The caller's setting comes back on exit."""
    import torch

    previous = torch.get_float32_matmul_precision()
    if previous != "highest":
        torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        if previous != "highest":
            torch.set_float32_matmul_precision(previous)


def _plain_candidates(Q, sq_q, qidx, column_block, sq, m: int, entries: int):
    r"""The ``m`` smallest approximate squared distances of every query row to all points.

    ``Q`` (r, d) holds query rows, the points of global index ``qidx`` (r,) (int64, same
    device); ``column_block(c0, c1)`` returns points ``c0:c1`` in the dtype of ``Q``, and
    ``sq`` (n,) their squared norms, ``sq_q`` those of the queries. Each tile of ``rb`` rows
    by ``cb`` points is one GEMM, :math:`\|q\|^2 + \|c\|^2 - 2 q \cdot c`, then one top-k,
    merged with the current best of its rows (one small top-k of ``2m`` columns); a point is
    never its own candidate. ``rb * cb <= entries``, so memory is bounded by the tile.

    Returns the candidate indices (r, m), int64, and per row the largest kept value, float64:
    every other point's approximate squared distance is at least that value.
    """
    import torch

    r, (n, d) = Q.shape[0], (sq.shape[0], Q.shape[1])
    rb = min(r, max(64, entries // n))
    # a column block holds at most as many numbers as a tile; when one block holds all points
    # it is built once
    cb = min(n, max(m + 1, 256, min(entries // rb, entries // d)))
    whole = column_block(0, n) if cb == n else None
    inf = float("inf")
    idx = torch.empty((r, m), dtype=torch.int64, device=Q.device)
    far = torch.empty(r, dtype=torch.float64, device=Q.device)
    for r0 in range(0, r, rb):
        r1 = min(r, r0 + rb)
        g = qidx[r0:r1]
        best_v = best_i = None
        for c0 in range(0, n, cb):
            c1 = min(n, c0 + cb)
            C = whole if whole is not None else column_block(c0, c1)
            D = torch.addmm(sq[None, c0:c1], Q[r0:r1], C.T, beta=1, alpha=-2)
            D += sq_q[r0:r1, None]
            # a query's own entry, when its point is among these columns, is set to inf
            # (a gather and a scatter: no host synchronisation on CUDA)
            inside = (g >= c0) & (g < c1)
            pos = (g - c0).clamp(0, c1 - c0 - 1)[:, None]
            D.scatter_(1, pos, torch.where(inside[:, None], inf, D.gather(1, pos)))
            v, i = torch.topk(D, min(m, c1 - c0), dim=1, largest=False, sorted=False)
            i += c0
            if best_v is not None:
                v, i = torch.cat([best_v, v], 1), torch.cat([best_i, i], 1)
                v, sel = torch.topk(v, m, dim=1, largest=False, sorted=False)
                i = i.gather(1, sel)
            best_v, best_i = v, i
        idx[r0:r1] = best_i
        far[r0:r1] = best_v.amax(dim=1)
    return idx, far


# ----------------------------------------------------------------------------------------------
# Exact float64 distances, the certificate, and the rows it does not certify


def _tree_sum(w):
    """Sum over the first axis, in place, in a fixed pairwise order: row ``i`` plus row
    ``i + L - L // 2``, halving ``L`` until one row is left (an odd middle row carried).

    One IEEE addition per step and element, the same in numpy, torch on the CPU and torch on
    CUDA, so the sum has the same bits on every device (a BLAS or einsum reduction would not:
    its order depends on the machine). Summed along the first axis, every step adds
    contiguous rows.
    """
    L = w.shape[0]
    while L > 1:
        h = L // 2
        w[:h] += w[L - h : L]
        L -= h
    return w[0]


def _exact_sq_dists(A, rows, cols):
    """``|A[cols[i, j]] - A[rows][i]|^2`` in float64 from the coordinate differences (numpy
    arrays or torch tensors; the same bits either way). The differences are written with the
    coordinate axis first (one pass: the subtraction), squared, and summed by :func:`_tree_sum`.
    """
    r, m = cols.shape
    d = A.shape[1]
    if isinstance(A, np.ndarray):
        g = np.take(A, cols, axis=0)
        w = np.empty((d, r, m), dtype=np.float64)
        np.subtract(np.moveaxis(g, -1, 0), A[rows].T[:, :, None], out=w)
    else:
        import torch

        g = A[cols]
        w = torch.empty((d, r, m), dtype=torch.float64, device=A.device)
        torch.sub(g.movedim(-1, 0), A[rows].T[:, :, None], out=w)
    w *= w
    return _tree_sum(w)


def _recompute(At, host, rows, cols, budget: int):
    """Exact squared distances ``(r, m)`` of query rows ``rows`` (int64 tensor, or ``None`` for
    all rows in order) to their candidates ``cols`` (r, m), as a float64 tensor on the device.

    On the CPU a few rows at a time (the gathered differences stay in the core's cache), on
    torch's thread count of row ranges (numpy releases the GIL); on CUDA in blocks of the
    memory budget.
    """
    import torch

    r, m = cols.shape
    d = At.shape[1]
    if At.device.type != "cpu":
        out = torch.empty((r, m), dtype=torch.float64, device=At.device)
        step = max(1, budget // (16 * m * d))
        for r0 in range(0, r, step):
            r1 = min(r, r0 + step)
            sel = slice(r0, r1) if rows is None else rows[r0:r1]
            out[r0:r1] = _exact_sq_dists(At, sel, cols[r0:r1])
        return out
    A = host()
    out = np.empty((r, m), dtype=np.float64)
    cols_np = cols.numpy()
    rows_np = None if rows is None else rows.numpy()
    step = max(1, _RECOMPUTE_BYTES // (8 * m * d))

    def work(part: range) -> None:
        for r0 in range(part.start, part.stop, step):
            r1 = min(part.stop, r0 + step)
            sel = slice(r0, r1) if rows_np is None else rows_np[r0:r1]
            out[r0:r1] = _exact_sq_dists(A, sel, cols_np[r0:r1])

    parts = min(torch.get_num_threads(), max(1, r * m * d // 2**22))
    if parts > 1:
        from concurrent.futures import ThreadPoolExecutor

        cuts = [(p * r) // parts for p in range(parts + 1)]
        with ThreadPoolExecutor(parts) as pool:
            list(pool.map(work, [range(cuts[p], cuts[p + 1]) for p in range(parts)]))
    else:
        work(range(r))
    return torch.from_numpy(out)


def _sort_rows(d2, idx):
    """Each row sorted by (distance, index): ties broken by the smaller index."""
    import torch

    o = torch.argsort(idx, dim=1, stable=True)
    d2, idx = d2.gather(1, o), idx.gather(1, o)
    o = torch.argsort(d2, dim=1, stable=True)
    return d2.gather(1, o), idx.gather(1, o)


def _certified(far, sq, sq_max, kth, c: float, unit: float, d: int):
    r"""Rows whose k-th exact candidate distance ``kth`` no non-candidate can undercut.

    ``far``: per row, a value every non-candidate's approximate squared distance reaches;
    ``sq``: the row's squared norm, ``sq_max`` the largest (both in the scaled, centred units
    of the approximate pass; ``unit`` converts to those of ``kth``); ``c``: the relative error
    constant of the approximate pass, :math:`4(d+2)\varepsilon`. A non-candidate ``j`` has

    .. math::

        D_{ij} \ge \tilde D_{ij} - c(s_i + s_j) \ge F_i - c(s_i + \max_j s_j)
        \quad\text{and, with } s_j \le 2 s_i + 2 D_{ij},\quad
        D_{ij} \ge \frac{F_i - 3 c\, s_i}{1 + 2c},

    the second free of the largest norm of the cloud (a few huge rows do not loosen every
    row's bound). ``kth`` was recomputed in float64 (relative error below
    :math:`2(d+2)\varepsilon_{64}`), which the comparison absorbs.
    """
    import torch

    lower = torch.maximum(far - c * (sq + sq_max), (far - 3.0 * c * sq) / (1.0 + 2.0 * c))
    return lower * unit > kth * (1.0 + 2.0 * (d + 2) * _EPS64) + 1e-300


def _duplicate_rows(A: np.ndarray, rows: np.ndarray, k: int):
    """Rows with at least ``k`` exact duplicates: their ``k`` duplicates of smallest index.

    Exact duplicates are the points at distance 0, so for such a row they are the whole
    answer. Rows are grouped by a hash of their bits (multiply-add modulo 2**64, so order-free;
    ``+ 0.0`` makes -0.0 and 0.0 one value), then split into classes of exactly equal rows,
    so that a hash collision can never merge two different points. Returns the resolved rows
    and their neighbours ``(len, k)``.
    """
    n, d = A.shape
    mult = np.random.default_rng(0x9E3779B9).integers(0, 2**63, size=d, dtype=np.uint64)
    mult |= np.uint64(1)
    h = np.empty(n, dtype=np.uint64)
    step = max(1, 2**22 // (8 * d))
    for r in range(0, n, step):
        bits = (A[r : r + step] + 0.0).view(np.uint64)
        h[r : r + step] = (bits * mult).sum(axis=1)
    order = np.argsort(h, kind="stable")  # within a hash, ascending index
    hs = h[order]
    done, found = [], []
    for value in np.unique(h[rows]):
        group = order[np.searchsorted(hs, value, "left") : np.searchsorted(hs, value, "right")]
        _, cls = np.unique(A[group] + 0.0, axis=0, return_inverse=True)
        cls = cls.ravel()
        for i in rows[h[rows] == value]:
            same = group[cls == cls[np.searchsorted(group, i)]]
            same = same[same != i]
            if len(same) >= k:
                done.append(int(i))
                found.append(same[:k])
    return np.array(done, dtype=np.int64), np.array(found, dtype=np.int64).reshape(-1, k)


def _full_scan(At, i: int, k: int, budget: int):
    """Exact k nearest neighbours of row ``i`` over all points (the last resort)."""
    import torch

    n, d = At.shape
    step = max(1, budget // (16 * d))
    d2 = torch.empty(n, dtype=torch.float64, device=At.device)
    for c0 in range(0, n, step):
        w = (At[c0 : c0 + step] - At[i]).T.contiguous()  # as _exact_sq_dists: the same bits
        w *= w
        d2[c0 : c0 + step] = _tree_sum(w)
    d2[i] = float("inf")
    kth = torch.topk(d2, k, largest=False, sorted=False).values.max()
    pool = torch.nonzero(d2 <= kth).view(-1)  # ascending index
    o = torch.argsort(d2[pool], stable=True)[:k]
    return d2[pool[o]], pool[o]


def _search(At, host, k: int, n_cand: int, budget: int, search: str):
    """Exact squared distances and indices ``(n, k)`` (numpy) of the k nearest neighbours of
    every row of the float64 points ``At`` (a tensor on the search's device, never written;
    ``host()`` returns them as a numpy array), and a record of how the rows were resolved
    (see :func:`knn`)."""
    import torch

    n, d = At.shape
    dev = At.device
    mean = At.mean(dim=0)
    # The approximate passes see the centred points (centring reduces cancellation in the
    # shortcut), scaled by a power of two so that the largest centred coordinate lies in
    # [0.5, 1); blocks of a few MB on the CPU (no centred float64 copy of the whole cloud)
    step = max(1, (2**22 if dev.type == "cpu" else budget) // (8 * d))
    top = max(float((At[r : r + step] - mean).abs().max()) for r in range(0, n, step))
    e_c = int(np.frexp(top)[1]) if top > 0 else 0
    scale, unit = 2.0**-e_c, 2.0 ** (2 * e_c)  # exact powers of two: |e_c| <= 501
    if search == "symmetric":
        s = _block_rows(n, n_cand, budget)
        n_pad = math.ceil(n / s) * s  # zero rows pad the last block
    else:
        n_pad = n
    C32 = torch.zeros((n_pad, d), dtype=torch.float32, device=dev)
    sq64 = torch.empty(n, dtype=torch.float64, device=dev)
    for r in range(0, n, step):
        Cb = (At[r : r + step] - mean).mul_(scale)
        C32[r : r + len(Cb)] = Cb
        sq64[r : r + len(Cb)] = (Cb * Cb).sum(dim=1)
    if search == "symmetric":
        cand_idx, cand_far = _self_candidates(C32, n, n_cand, s)
    else:
        sq32 = (C32 * C32).sum(dim=1)
        cand_idx, cand_far = _plain_candidates(
            C32, sq32, torch.arange(n, device=dev), lambda a, b, C=C32: C[a:b], sq32, n_cand,
            budget // _PLAIN_BYTES,
        )
    del C32

    d2, ci = _sort_rows(_recompute(At, host, None, cand_idx, budget), cand_idx)
    out_d2, out_i = d2[:, :k].contiguous(), ci[:, :k].contiguous()
    stats = {"search": search, "candidates": n_cand, "uncertified": 0, "duplicate_rows": 0,
             "float64_rows": 0, "full_scan_rows": 0}
    if n_cand < n - 1:
        sq_max = sq64.max()
        c32 = 4.0 * (d + 2) * _EPS32
        ok = _certified(cand_far, sq64, sq_max, d2[:, k - 1], c32, unit, d)
        rows = torch.nonzero(~ok).view(-1)
        stats["uncertified"] = len(rows)
        if len(rows):
            # rows with k exact duplicates among their candidates: the duplicates decide
            dup = rows[d2[rows, k - 1] == 0].cpu().numpy()
            if len(dup):
                done, found = _duplicate_rows(host(), dup, k)
                if len(done):
                    done_t = torch.from_numpy(done).to(dev)
                    out_i[done_t] = torch.from_numpy(found).to(dev)
                    out_d2[done_t] = 0.0
                    rows = rows[~torch.isin(rows, done_t)]
                stats["duplicate_rows"] = len(done)
        if len(rows):
            # the same search in float64 for these rows: its error bound is 2**29 times
            # smaller, so tight clusters (near-identical tokens) certify
            stats["float64_rows"] = len(rows)

            def centred(a: int, b: int):
                return (At[a:b] - mean).mul_(scale)

            sq_q = sq64[rows]
            idx2, far2 = _plain_candidates(
                (At[rows] - mean).mul_(scale), sq_q, rows, centred, sq64, n_cand,
                budget // (2 * _PLAIN_BYTES),
            )
            d2b, cib = _sort_rows(_recompute(At, host, rows, idx2, budget), idx2)
            c64 = 4.0 * (d + 2) * _EPS64
            ok = _certified(far2, sq_q, sq_max, d2b[:, k - 1], c64, unit, d)
            out_d2[rows[ok]] = d2b[ok, :k]
            out_i[rows[ok]] = cib[ok, :k]
            rows = rows[~ok]
        stats["full_scan_rows"] = len(rows)
        for i in rows.tolist():  # exact over all points
            out_d2[i], out_i[i] = _full_scan(At, i, k, budget)
    return out_d2.cpu().numpy(), out_i.cpu().numpy(), stats


def knn(
    X: Any,
    k: int = 10,
    metric: str = "euclidean",
    *,
    device: Any = None,
    memory_budget: int | None = None,
    margin: int | None = None,
) -> Neighbors:
    r"""Exact k nearest neighbours of every point, self excluded.

    Candidates are found by blocked matrix products in float32 with torch (on CUDA when it is
    available), using :math:`\|x-y\|^2 = \|x\|^2 + \|y\|^2 - 2 x\cdot y` on centred data, and
    then the distances of the selected candidates are recomputed exactly in float64 from the
    coordinate differences. On the CPU the squared distances, a symmetric matrix, are computed
    only in its blocks on and above the diagonal, each offering candidates to both its rows
    and its columns (half the products of a full search); on CUDA each block of rows is
    multiplied with all points at once and its candidates taken by one top-k (a plain brute
    force: on a GPU the products are cheap and the selection must be one kernel). The shortcut
    loses precision for near-duplicates (relative error about
    :math:`D\,\varepsilon_{32}(\|x\|^2+\|y\|^2)/\|x-y\|^2`), so the float32 pass keeps
    ``k + margin`` candidates and every row whose k-th exact distance cannot be certified
    against that error bound is searched again: rows with at least k exact duplicates take
    them; the others are searched in float64 (the same bound, :math:`2^{29}` times smaller:
    tight clusters such as the first tokens of many sentences certify there); a row that
    still fails is compared exactly with every point. The result is therefore the exact kNN
    graph, whatever the precision of the first pass.

    The certificate. With the centred points scaled so that every coordinate is below 1, the
    float32 value :math:`\tilde D_{ij}` of :math:`D_{ij} = \|x_i - x_j\|^2` (a dot product of
    ``d`` terms plus two norms, each rounded, from coordinates rounded to float32) satisfies

    .. math::

        |\tilde D_{ij} - D_{ij}| \le c\,(s_i + s_j), \qquad
        c = 4 (d + 2)\, \varepsilon_{32}, \quad s_i = \|x_i\|^2,

    which exceeds the rounding of the coordinates to float32 (at most
    :math:`2\varepsilon_{32}(s_i + s_j)`) plus the classical bound
    :math:`\gamma_{d+2} \sum |\text{terms}|` of the sum, with
    :math:`2|x_i \cdot x_j| \le s_i + s_j` (Higham 2002, *Accuracy and Stability of Numerical
    Algorithms*, 2nd ed., eq. 3.5), whatever the order of summation. Every point that is not
    a candidate of row ``i`` has :math:`\tilde D_{ij}` at least the largest candidate value
    :math:`F_i`, hence :math:`D_{ij} \ge \max\bigl(F_i - c(s_i + \max_j s_j),\,
    (F_i - 3c\,s_i)/(1 + 2c)\bigr)` (the second from :math:`s_j \le 2 s_i + 2 D_{ij}`); when
    that exceeds the k-th exact candidate distance, no other point can enter the first k and
    the row is certified. The exact distances are sums of squared float64 differences in a
    fixed order, so they are the same bits on the CPU and on CUDA, and so is the graph.

    Magnitude: clouds at any scale representable in float64 (``1e-300`` or ``1e200``) are
    searched with full precision. Beyond :math:`2^{\pm 500}` the points are multiplied
    internally by an exact power of two, and the float32 pass always sees the centred points
    scaled by one, so no square overflows or underflows; distances are scaled back exactly, so
    the result is that of the same cloud at a moderate scale, bit for bit.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
        The point cloud (numpy array or torch tensor on any device; float16 and bfloat16 are
        upcast).
    k : int, default=10
        Number of neighbours, ``1 <= k < n_points``.
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"cosine"`` gives the cosine distance :math:`1 - \cos\theta` (rows are normalised
        first; zero rows are refused).
    device : str or torch.device, optional
        Where the search runs; default CUDA when available, else CPU. Asking for CUDA on a
        machine without it is an :class:`InputError`. The result does not depend on it.
    memory_budget : int, optional
        Upper bound in bytes on the extra memory of one block of the distance computation
        (beyond a float32 and, on CUDA, a float64 copy of the points, and
        ``O(n_points * (k + margin))`` for the candidates); blocks are sized to it, so it
        holds whatever ``n_points`` is. Default 64 MiB on the CPU; on CUDA a quarter of the
        free device memory, at most 4 GiB. Blocks have at least 64 rows, so the bound is at
        least ~200 kB.
    margin : int, optional
        Extra float32 candidates per row (default ``max(8, k // 2)``). Only speed depends on it.

    Returns
    -------
    Neighbors
        ``distances`` (float64, ascending) and ``indices`` (int64), both ``(n_points, k)``.
        Ties are broken by the smaller index, so exact duplicates come out deterministically:
        a point with a duplicate has it as first neighbour at distance 0.

    Raises
    ------
    InputError
        Bad points (see :func:`manifold_probe.InputError`), ``k >= n_points``, unknown metric,
        zero vectors with ``metric="cosine"``, an absent device, or neighbour distances that
        float64 cannot represent (above ~1.8e308, or non-zero below ~5e-324).

    Examples
    --------
    >>> import numpy as np, manifold_probe as mp
    >>> nb = mp.knn(np.array([[0.0], [1.0], [3.0]]), k=1)
    >>> nb.indices.ravel().tolist(), nb.distances.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    return _knn(X, k, metric, device=device, memory_budget=memory_budget, margin=margin)[0]


def _knn(
    X: Any,
    k: int = 10,
    metric: str = "euclidean",
    *,
    device: Any = None,
    memory_budget: int | None = None,
    margin: int | None = None,
    search: str | None = None,
) -> tuple[Neighbors, dict]:
    """:func:`knn`, and how its rows were resolved: ``uncertified`` rows after the float32
    pass, of which ``duplicate_rows`` took k exact duplicates, ``float64_rows`` were searched
    in float64 and ``full_scan_rows`` compared with every point. ``search`` picks the float32
    pass ("symmetric": the CPU's; "plain": CUDA's); default by device."""
    import torch

    metric = check_option(metric, METRICS, name="metric")
    dev = _torch_device(device)
    T = _points_on_device(X, dev) if metric == "euclidean" else None
    if T is not None:  # a CUDA tensor: validated and searched where it is (no host copy)
        dev = T.device
        A = None
        n, d = T.shape
    else:
        A = check_points(_as_points(X), min_points=2, what="knn")
        n, d = A.shape
    k = check_k(k, n)
    if search is None:
        search = "plain" if dev.type == "cuda" else "symmetric"
    search = check_option(search, ("plain", "symmetric"), name="search")
    if margin is None:
        margin = max(8, k // 2)
    n_cand = min(n - 1, k + check_int(margin, name="margin", minimum=0))
    if memory_budget is None:
        memory_budget = _default_budget(dev)
    memory_budget = check_int(memory_budget, name="memory_budget", minimum=1)

    # Magnitude: outside [2^-500, 2^500] the squares of the coordinates could leave float64's
    # range, so the points are multiplied by an exact power of two (no rounding) bringing the
    # largest coordinate to [0.5, 1); the distances are scaled back exactly at the end.
    amax = float(np.max(np.abs(A))) if T is None else float(T.abs().max())
    e_in = 0
    if amax > 2.0**500 or 0 < amax < 2.0**-500:
        if T is not None:  # exotic magnitudes take the host path's exact rescaling
            A, T = T.cpu().numpy(), None
        e_in = int(np.frexp(amax)[1])
        A = np.ldexp(A, -e_in)  # a new array: X itself is never modified
    e_out = e_in
    if metric == "cosine":
        norms = np.linalg.norm(A, axis=1)
        zero = np.flatnonzero(norms == 0)
        if len(zero):
            raise InputError(
                f"{len(zero)} row(s) of X are zero vectors (first: row {int(zero[0])}); the cosine "
                "distance is undefined for them: drop them or use metric='euclidean'"
            )
        A = A / norms[:, None]
        e_out = 0
    # The exact float64 distances come from differences of the (uncentred) points A, so that
    # equal distances (lattices, duplicates) are computed equal and ties are broken by index.
    if T is None:
        T = torch.from_numpy(A).to(dev)  # on the CPU the same memory; never written

        def host():
            return A
    else:
        cache: list = []

        def host():  # the points on the host, copied once if a rare step needs them
            if not cache:
                cache.append(T.cpu().numpy())
            return cache[0]

    with _ieee_float32():
        out_d, out_i, stats = _search(T, host, k, n_cand, memory_budget, search)

    np.sqrt(out_d, out=out_d)
    with np.errstate(over="ignore", under="ignore"):
        scaled = np.ldexp(out_d, e_out)  # exact unless the distances leave float64's range
    if e_out > 0 and not np.isfinite(scaled).all():
        raise InputError(
            "some neighbour distances exceed the float64 range (~1.8e308): the cloud is too "
            f"large in magnitude (max |x| = {amax:.1e}); divide X by a constant"
        )
    if e_out < 0 and np.any((scaled == 0) & (out_d > 0)):
        raise InputError(
            "some neighbour distances are below the float64 range (~5e-324) and would read as "
            f"0: the cloud is too small in magnitude (max |x| = {amax:.1e}); "
            "multiply X by a constant"
        )
    out_d = scaled
    if metric == "cosine":
        out_d = 0.5 * out_d**2  # 1 - cos = |a - b|^2 / 2 for unit vectors
    return Neighbors(out_d, out_i, metric), stats


# ----------------------------------------------------------------------------------------------
# One graph per cloud: a small cache of kNN graphs, keyed by the points' content
