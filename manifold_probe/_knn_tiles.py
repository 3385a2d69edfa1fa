"""The float32 candidate passes of the exact kNN search (see :mod:`manifold_probe._knn_search`).

Two ways to find, for every point, ``n_cand`` candidates and a value that every other point's
approximate squared distance reaches: the CPU's symmetric pass over the tiles on and above the
diagonal (:func:`self_candidates`), and the plain pass of CUDA, one GEMM and one top-k per
block of rows against all points (:func:`plain_candidates`, also the float64 search of the
rows the float32 certificate leaves).
"""

from __future__ import annotations

import math

_ROW_CHUNK = 64  # columns per chunk minimum of a row (contiguous: a long inner reduction)
_COL_CHUNK = 16  # rows per chunk minimum of a column (vectorised across the columns)
# reading an entry by index costs about this many times a vectorised pass over it
_GATHER_COST = 2


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


def block_rows(n: int, n_cand: int, memory_budget: int) -> int:
    """Rows per block of the float32 pass: a multiple of 64, the blocks near-equal.

    A tile of B x B float32 entries with its masks and selection scratch takes ~12 bytes an
    entry, so B is sized to the memory budget; a block holds more than ``n_cand`` points.
    """
    B = max(2 * (n_cand + 1), math.isqrt(max(1, memory_budget // 12)))
    return math.ceil(math.ceil(n / math.ceil(n / B)) / _ROW_CHUNK) * _ROW_CHUNK


def self_candidates(Xt, n: int, n_cand: int, s: int):
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


def plain_candidates(Q, sq_q, qidx, column_block, sq, m: int, entries: int):
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
