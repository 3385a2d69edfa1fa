"""Exact k-nearest-neighbour search: blocked float32 GEMM, certified, float64 distances.

The engine behind :func:`manifold_probe.neighbors.knn` (re-exported there).
"""

from __future__ import annotations

import math
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


def _binary_exponent(A: np.ndarray) -> int:
    """``e`` such that ``max|A| * 2**-e`` lies in [0.5, 1) (0 for an all-zero array)."""
    m = float(np.max(np.abs(A))) if A.size else 0.0
    return int(np.frexp(m)[1]) if m > 0 else 0


def _exact_sq_dists(X: np.ndarray, r0: int, r1: int, cols: np.ndarray, out: np.ndarray):
    """Squared distances ``|X[r0 + i] - X[cols[i, j]]|^2`` in float64, from differences."""
    diff = np.take(X, cols, axis=0)
    diff -= X[r0:r1, None, :]
    return np.einsum("ijk,ijk->ij", diff, diff, out=out)


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

    Returns the candidate indices ``(n, n_cand)`` and, per row, the largest approximate squared
    distance among its candidates.
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
            t0 = torch.where(real[r0 : r0 + s], torch.nextafter(t0, torch.tensor(inf)), -inf)
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
    cand_idx = torch.cat(best_i)[:n].cpu().numpy()
    cand_far = torch.cat(tau)[:n].double().cpu().numpy()
    return cand_idx, cand_far


def knn(
    X: Any,
    k: int = 10,
    metric: str = "euclidean",
    *,
    device: Any = None,
    memory_budget: int = 64 * 2**20,
    margin: int | None = None,
) -> Neighbors:
    r"""Exact k nearest neighbours of every point, self excluded.

    Candidates are found by blocked matrix products in float32 with torch (on CUDA when it is
    available), using :math:`\|x-y\|^2 = \|x\|^2 + \|y\|^2 - 2 x\cdot y` on centred data, and
    then the distances of the selected candidates are recomputed exactly in float64 from the
    coordinate differences. The squared distances form a symmetric matrix, so only its blocks
    on and above the diagonal are computed, each offering candidates to both its rows and its
    columns (half the products of a full search). The shortcut loses precision for
    near-duplicates (relative error about
    :math:`D\,\varepsilon_{32}(\|x\|^2+\|y\|^2)/\|x-y\|^2`), so the float32 pass keeps
    ``k + margin`` candidates and every row whose k-th exact distance cannot be certified
    against that error bound is recomputed exactly over all points in float64. The result is
    therefore the exact kNN graph, whatever the precision of the first pass.

    The certificate. With the centred points scaled so that every coordinate is below 1, the
    float32 value :math:`\tilde D_{ij}` of :math:`D_{ij} = \|x_i - x_j\|^2` (a dot product of
    ``d`` terms plus two norms, each rounded, from coordinates rounded to float32) satisfies

    .. math::

        |\tilde D_{ij} - D_{ij}| \le \tau_i = 4 (d + 2)\, \varepsilon_{32}
            \bigl(\|x_i\|^2 + \max_j \|x_j\|^2\bigr),

    which exceeds the rounding of the coordinates to float32 (at most
    :math:`2\varepsilon_{32}(\|x_i\|^2 + \|x_j\|^2)`) plus the classical bound
    :math:`\gamma_{d+2} \sum |\text{terms}|` of the sum, with
    :math:`2|x_i \cdot x_j| \le \|x_i\|^2 + \|x_j\|^2` (Higham 2002, *Accuracy and Stability
    of Numerical Algorithms*, 2nd ed., eq. 3.5), whatever the order of summation. Every point that is not a candidate of row
    ``i`` has :math:`\tilde D_{ij}` at least the largest candidate value :math:`F_i`, hence
    :math:`D_{ij} \ge F_i - \tau_i`; when that exceeds the k-th exact candidate distance, no
    other point can enter the first k and the row is certified.

    Magnitude: clouds at any scale representable in float64 (``1e-300`` or ``1e200``) are
    searched with full precision. Beyond :math:`2^{\pm 500}` the points are multiplied
    internally by an exact power of two, and the float32 pass always sees the centred points
    scaled by one, so no square overflows or underflows; distances are scaled back exactly, so
    the result is that of the same cloud at a moderate scale, bit for bit.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
        The point cloud (numpy array or torch tensor; float16 and bfloat16 are upcast).
    k : int, default=10
        Number of neighbours, ``1 <= k < n_points``.
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"cosine"`` gives the cosine distance :math:`1 - \cos\theta` (rows are normalised
        first; zero rows are refused).
    device : str or torch.device, optional
        Where the float32 pass runs; default CUDA when available, else CPU. Asking for CUDA
        on a machine without it is an :class:`InputError`.
    memory_budget : int, default=64 MiB
        Upper bound in bytes on the extra memory of the blocked distance computation (beyond a
        float32 copy of the points and ``O(n_points * (k + margin))`` for the candidates);
        blocks of points are sized to it, so it holds whatever ``n_points`` is. Blocks have at
        least 64 rows, so the bound is at least ~200 kB.
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
    import torch

    metric = check_option(metric, METRICS, name="metric")
    A = check_points(_as_points(X), min_points=2, what="knn")
    n, d = A.shape
    k = check_k(k, n)
    from manifold_probe._cost_guards import guard_knn

    guard_knn(n, d, k)
    dev = _torch_device(device)
    if margin is None:
        margin = max(8, k // 2)
    n_cand = min(n - 1, k + check_int(margin, name="margin", minimum=0))

    # Magnitude: outside [2^-500, 2^500] the squares of the coordinates could leave float64's
    # range, so the points are multiplied by an exact power of two (no rounding) bringing the
    # largest coordinate to [0.5, 1); the distances are scaled back exactly at the end.
    amax = float(np.max(np.abs(A)))
    e_in = 0
    if amax > 2.0**500 or 0 < amax < 2.0**-500:
        e_in = _binary_exponent(A)
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
    # The float32 pass sees the centred points (centring reduces cancellation in the shortcut),
    # scaled again so that the largest centred coordinate lies in [0.5, 1); the exact float64
    # distances come from differences of the (uncentred) points A, so that equal distances
    # (lattices, duplicates) are computed equal and ties are broken by index.
    # (built a few MB of rows at a time: no centred float64 copy of the whole cloud)
    mean = A.mean(axis=0)
    step = max(1, 2**22 // (8 * d))
    top = max(float(np.max(np.abs(A[r : r + step] - mean))) for r in range(0, n, step))
    e_c = int(np.frexp(top)[1]) if top > 0 else 0
    s = _block_rows(n, n_cand, memory_budget)
    C32 = np.zeros((math.ceil(n / s) * s, d), dtype=np.float32)  # zero rows pad the last block
    sq64 = np.empty(n, dtype=np.float64)
    for r in range(0, n, step):
        Cb = np.ldexp(A[r : r + step] - mean, -e_c)
        C32[r : r + len(Cb)] = Cb
        sq64[r : r + len(Cb)] = np.einsum("ij,ij->i", Cb, Cb)
    cand_idx, cand_far = _self_candidates(torch.from_numpy(C32).to(dev), n, n_cand, s)
    del C32
    cand_far = np.ldexp(cand_far, 2 * e_c)  # back to the units of A (exact)

    # Exact float64 distances of the candidates from the coordinate differences, a few rows at
    # a time (the gathered differences stay in the core's cache), then sorted by (distance,
    # index) and certified for all rows at once.
    d2 = np.empty((n, n_cand), dtype=np.float64)
    step = max(1, _RECOMPUTE_BYTES // (8 * n_cand * d))

    def recompute(rows: range) -> None:
        for r0 in range(rows.start, rows.stop, step):
            r1 = min(rows.stop, r0 + step)
            _exact_sq_dists(A, r0, r1, cand_idx[r0:r1], out=d2[r0:r1])

    # numpy releases the GIL in take, subtract and einsum: torch's thread count of row ranges
    parts = min(torch.get_num_threads(), max(1, n * n_cand * d // 2**22))
    if parts > 1:
        from concurrent.futures import ThreadPoolExecutor

        cuts = [(p * n) // parts for p in range(parts + 1)]
        with ThreadPoolExecutor(parts) as pool:
            list(pool.map(recompute, [range(cuts[p], cuts[p + 1]) for p in range(parts)]))
    else:
        recompute(range(n))
    order = np.lexsort((cand_idx, d2), axis=1)
    d2 = np.take_along_axis(d2, order, axis=1)
    ci = np.take_along_axis(cand_idx, order, axis=1)
    out_d = np.ascontiguousarray(d2[:, :k])
    out_i = np.ascontiguousarray(ci[:, :k])
    need_full = []
    if n_cand < n - 1:
        # Every non-candidate has approximate sq-distance >= cand_far; its exact value is
        # >= cand_far - tol. Certified if that exceeds the k-th exact sq-distance.
        tol_scale = 4.0 * (d + 2) * _EPS32
        tol = np.ldexp(tol_scale * (sq64 + float(sq64.max())), 2 * e_c) + 1e-300
        need_full = np.flatnonzero(cand_far - tol <= d2[:, k - 1]).tolist()
    for i in need_full:  # exact over all points, blocked
        best = []
        for c0 in range(0, n, 65536):
            c1 = min(n, c0 + 65536)
            diff = A[c0:c1] - A[i]
            best.append(np.einsum("ij,ij->i", diff, diff))
        d2 = np.concatenate(best)
        d2[i] = np.inf
        idx = np.arange(n)
        part = np.argpartition(d2, k)[: k + 1]
        kth = np.sort(d2[part])[k - 1]
        pool = np.flatnonzero(d2 <= kth)
        order = np.lexsort((pool, d2[pool]))[:k]
        out_d[i] = d2[pool[order]]
        out_i[i] = idx[pool[order]]

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
    return Neighbors(out_d, out_i, metric)


# ----------------------------------------------------------------------------------------------
# One graph per cloud: a small cache of kNN graphs, keyed by the points' content
