"""Exact float64 distances, the certificate, and the rows it leaves (see
:mod:`manifold_probe._knn_search`)."""

from __future__ import annotations

import numpy as np

# bytes of coordinate differences gathered at a time by the float64 recomputation (they and
# the gathered rows stay in the cache); 2**21 against 2**19: the same bits, ~2-9% less CPU on
# the token layers' 48-NN graphs and the warp null's 1000-row draws (tokens_run_report_reuse.json)
_RECOMPUTE_BYTES = 2**21
EPS64 = float(np.finfo(np.float64).eps)


def tree_sum(w):
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


def exact_sq_dists(A, rows, cols):
    """``|A[cols[i, j]] - A[rows][i]|^2`` in float64 from the coordinate differences (numpy
    arrays or torch tensors; the same bits either way). The differences are written with the
    coordinate axis first (one pass: the subtraction), squared, and summed by :func:`tree_sum`.
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
    return tree_sum(w)


def recompute(At, host, rows, cols, budget: int):
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
            out[r0:r1] = exact_sq_dists(At, sel, cols[r0:r1])
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
            out[r0:r1] = exact_sq_dists(A, sel, cols_np[r0:r1])

    parts = min(torch.get_num_threads(), max(1, r * m * d // 2**22))
    if parts > 1:
        from concurrent.futures import ThreadPoolExecutor

        cuts = [(p * r) // parts for p in range(parts + 1)]
        with ThreadPoolExecutor(parts) as pool:
            list(pool.map(work, [range(cuts[p], cuts[p + 1]) for p in range(parts)]))
    else:
        work(range(r))
    return torch.from_numpy(out)


def sort_rows(d2, idx):
    """Each row sorted by (distance, index): ties broken by the smaller index."""
    import torch

    o = torch.argsort(idx, dim=1, stable=True)
    d2, idx = d2.gather(1, o), idx.gather(1, o)
    o = torch.argsort(d2, dim=1, stable=True)
    return d2.gather(1, o), idx.gather(1, o)


def certified(far, sq, sq_max, kth, c: float, unit: float, d: int):
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
    return lower * unit > kth * (1.0 + 2.0 * (d + 2) * EPS64) + 1e-300


def duplicate_rows(A: np.ndarray, rows: np.ndarray, k: int):
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


def full_scan(At, i: int, k: int, budget: int):
    """Exact k nearest neighbours of row ``i`` over all points (the last resort)."""
    import torch

    n, d = At.shape
    step = max(1, budget // (16 * d))
    d2 = torch.empty(n, dtype=torch.float64, device=At.device)
    for c0 in range(0, n, step):
        w = (At[c0 : c0 + step] - At[i]).T.contiguous()  # as exact_sq_dists: the same bits
        w *= w
        d2[c0 : c0 + step] = tree_sum(w)
    d2[i] = float("inf")
    kth = torch.topk(d2, k, largest=False, sorted=False).values.max()
    pool = torch.nonzero(d2 <= kth).view(-1)  # ascending index
    o = torch.argsort(d2[pool], stable=True)[:k]
    return d2[pool[o]], pool[o]


#: a cloud whose distinct rows are at most this share of its rows is searched on them alone
_COLLAPSE_SHARE = 0.5


def collapsed_search(A: np.ndarray, k: int, search):
    """The exact graph of a cloud with many exact duplicate rows, from its distinct rows' graph.

    ``search(U, k_u)`` returns the squared distances and indices ``(m, k_u)`` of the exact
    graph of the distinct rows ``U``. A row's k nearest neighbours (smallest squared
    distance, then smallest index) are its other copies (distance 0) and then the copies of
    its distinct row's nearest distinct rows, each at that distinct row's distance; copies
    are bitwise equal, so their exact distances are the same bits a search of every row
    computes. Returns None (search every row) where fewer than half the rows collapse, or
    where a row's k-th neighbour ties with the last distinct row fetched (another distinct
    row at that distance could hold a copy of smaller index).

    Per-token clouds need it: an embedding layer has a few distinct rows per token type
    (1,260 distinct among 19,296 in the default MiniLM corpus), and a search over every row
    leaves each copy's row uncertified.
    """
    from manifold_probe._validation import unique_rows
    from manifold_probe._validation_extra import all_rows_differ

    n = A.shape[0]
    if all_rows_differ(A):  # nothing collapses (proved without sorting the rows)
        return None
    first, inv, counts = unique_rows(A)
    m = len(first)
    if m > _COLLAPSE_SHARE * n or m < 2:
        return None
    ku = min(k, m - 1)
    d2u, iu = search(np.ascontiguousarray(A[first]), ku)
    order = np.argsort(inv, kind="stable")  # each distinct row's copies, in index order
    starts = np.concatenate([[0], np.cumsum(counts)])
    out_d = np.empty((n, k))
    out_i = np.empty((n, k), dtype=np.int64)
    for g in range(m):
        own = order[starts[g]:starts[g + 1]]
        idx, dist, have = [own[: k + 1]], [np.zeros(min(len(own), k + 1))], min(len(own), k + 1)
        r = 0
        while r < ku and (have < k + 1 or d2u[g, r] == dist[-1][-1]):
            h = iu[g, r]
            copies = order[starts[h]:starts[h + 1]][: k + 1]
            idx.append(copies)
            dist.append(np.full(len(copies), d2u[g, r]))
            have += len(copies)
            r += 1
        cand = np.concatenate(idx)
        D = np.concatenate(dist)
        srt = np.lexsort((cand, D))[: k + 1]
        cand, D = cand[srt], D[srt]
        if r == ku and ku < m - 1 and d2u[g, ku - 1] == D[-1]:
            return None  # a tie at the last distinct row fetched: search every row
        for i in own:
            keep = cand != i
            out_i[i] = cand[keep][:k]
            out_d[i] = D[keep][:k]
    return out_d, out_i


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
