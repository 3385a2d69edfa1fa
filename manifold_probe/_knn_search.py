"""Exact k-nearest-neighbour search: blocked float32 GEMM, certified, float64 distances.

The engine behind :func:`manifold_probe.neighbors.knn` (re-exported there): the float32
candidate passes live in :mod:`manifold_probe._knn_tiles`, the exact distances, the
certificate and the searches of uncertified rows in :mod:`manifold_probe._knn_exact`.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

import numpy as np

from manifold_probe._device import torch_device
from manifold_probe._knn_exact import (
    EPS64,
    certified,
    duplicate_rows,
    exact_sq_dists,  # noqa: F401  (re-exported: the engine's steps, for benchmarks and tests)
    full_scan,
    recompute,
    sort_rows,
    tree_sum,  # noqa: F401
)
from manifold_probe._knn_tiles import block_rows, plain_candidates, self_candidates
from manifold_probe._neighbors_type import EPS32, METRICS, Neighbors
from manifold_probe._validation import (
    InputError,
    check_int,
    check_k,
    check_option,
    check_points,
)

__all__ = ["knn"]

# bytes per entry of a float32 tile of the plain search (the tile and top-k's scratch)
_PLAIN_BYTES = 8
_CUDA_BUDGET = 4 * 2**30  # most bytes per tile on CUDA


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
        s = block_rows(n, n_cand, budget)
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
        cand_idx, cand_far = self_candidates(C32, n, n_cand, s)
    else:
        sq32 = (C32 * C32).sum(dim=1)
        cand_idx, cand_far = plain_candidates(
            C32, sq32, torch.arange(n, device=dev), lambda a, b, C=C32: C[a:b], sq32, n_cand,
            budget // _PLAIN_BYTES,
        )
    del C32

    d2, ci = sort_rows(recompute(At, host, None, cand_idx, budget), cand_idx)
    out_d2, out_i = d2[:, :k].contiguous(), ci[:, :k].contiguous()
    stats = {"search": search, "candidates": n_cand, "uncertified": 0, "duplicate_rows": 0,
             "float64_rows": 0, "full_scan_rows": 0}
    if n_cand < n - 1:
        sq_max = sq64.max()
        c32 = 4.0 * (d + 2) * EPS32
        ok = certified(cand_far, sq64, sq_max, d2[:, k - 1], c32, unit, d)
        rows = torch.nonzero(~ok).view(-1)
        stats["uncertified"] = len(rows)
        if len(rows):
            # rows with k exact duplicates among their candidates: the duplicates decide
            dup = rows[d2[rows, k - 1] == 0].cpu().numpy()
            if len(dup):
                done, found = duplicate_rows(host(), dup, k)
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
            idx2, far2 = plain_candidates(
                (At[rows] - mean).mul_(scale), sq_q, rows, centred, sq64, n_cand,
                budget // (2 * _PLAIN_BYTES),
            )
            d2b, cib = sort_rows(recompute(At, host, rows, idx2, budget), idx2)
            c64 = 4.0 * (d + 2) * EPS64
            ok = certified(far2, sq_q, sq_max, d2b[:, k - 1], c64, unit, d)
            out_d2[rows[ok]] = d2b[ok, :k]
            out_i[rows[ok]] = cib[ok, :k]
            rows = rows[~ok]
        stats["full_scan_rows"] = len(rows)
        for i in rows.tolist():  # exact over all points
            out_d2[i], out_i[i] = full_scan(At, i, k, budget)
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
    graph, whatever the precision of the first pass. A cloud of points on the host whose
    distinct rows are at most half its rows (a per-token embedding layer) is searched on its
    distinct rows alone and each copy given its distinct row's neighbours' copies: the same
    graph, bit for bit (copies are equal, so are their exact distances), at the cost of the
    distinct rows' search.

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
    dev = torch_device(device, what="the neighbour search")
    T = _points_on_device(X, dev) if metric == "euclidean" else None
    if T is not None:  # a CUDA tensor: validated and searched where it is (no host copy)
        dev = T.device
        A = None
        n, d = T.shape
    else:
        A = check_points(_as_points(X), min_points=2, what="knn")
        n, d = A.shape
    k = check_k(k, n)
    from manifold_probe._cost_guards import guard_knn

    guard_knn(n, d, k)
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

    found = None
    if A is not None:  # points on the host: many exact duplicates are searched once
        from manifold_probe._knn_exact import collapsed_search

        def distinct_search(U, ku):
            with _ieee_float32():
                return _search(torch.from_numpy(U).to(dev), lambda: U, ku,
                               min(len(U) - 1, ku + margin), memory_budget, search)[:2]

        found = collapsed_search(A, k, distinct_search)
    if found is not None:
        out_d, out_i = found
        stats = {"search": search, "candidates": n_cand, "uncertified": 0,
                 "duplicate_rows": 0, "float64_rows": 0, "full_scan_rows": 0,
                 "collapsed_rows": int(A.shape[0])}
    else:
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
