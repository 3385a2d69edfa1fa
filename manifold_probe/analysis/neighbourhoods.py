"""How well a map keeps neighbourhoods: kNN overlap, trustworthiness and continuity.

Split from :mod:`manifold_probe.analysis.warping` (which re-exports these names).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._validation import (
    InputError,
    check_points,
    normalize_scale,
)
from manifold_probe.neighbors import Neighbors, resolve_neighbors

__all__ = ["continuity", "knn_overlap", "trustworthiness"]


def knn_overlap(neighbors_x: Neighbors, neighbors_y: Neighbors) -> np.ndarray:
    r"""Per-point Jaccard overlap of two k-nearest-neighbour sets.

    .. math::

        J_i = \frac{|N_X(i) \cap N_Y(i)|}{|N_X(i) \cup N_Y(i)|}
            = \frac{m_i}{2k - m_i}, \qquad m_i = |N_X(i) \cap N_Y(i)|.

    Parameters
    ----------
    neighbors_x, neighbors_y : Neighbors
        Graphs of the same points in two representations, with the same k.

    Returns
    -------
    ndarray of float64, shape (n_points,)
    """
    _check_pair(neighbors_x, neighbors_y)
    k = neighbors_x.k
    both = np.sort(np.concatenate([neighbors_x.indices, neighbors_y.indices], axis=1), axis=1)
    shared = (both[:, 1:] == both[:, :-1]).sum(axis=1).astype(np.float64)
    return shared / (2 * k - shared)


def _check_pair(nx: Neighbors, ny: Neighbors) -> None:
    for name, nb in (("neighbors_x", nx), ("neighbors_y", ny)):
        if not isinstance(nb, Neighbors):
            raise InputError(f"{name} must be a Neighbors from mp.knn; got {type(nb).__name__}")
    if nx.n_points != ny.n_points:
        raise InputError(
            f"the two graphs cover {nx.n_points} and {ny.n_points} points; X[i] and Y[i] must "
            "be the same input, so pass graphs of equally many points"
        )
    if nx.k != ny.k:
        raise InputError(
            f"the two graphs have k={nx.k} and k={ny.k}; truncate both to the same k "
            "with Neighbors.truncate(k)"
        )


#: bytes of the rows of distances copied at a time to rank a block's pairs (in the cache)
_PAIR_ROWS_BYTES = 2**21


def _sq_distance_rows(A: np.ndarray, sq: np.ndarray, rows: np.ndarray,
                      buffers: dict | None = None) -> np.ndarray:
    """Squared distances from ``A[rows]`` to every row of ``A``; a row to itself: inf.

    ``sq_i + sq_j - 2 g_ij`` (``g = A[rows] A^T``), the same operations in the same order
    written in place; with ``buffers`` (a dict kept by the caller) into two arrays reused from
    call to call (the returned one among them) instead of four new ``(rows, n)`` ones."""
    shape = (len(rows), A.shape[0])
    buffers = {} if buffers is None else buffers
    if buffers.get("shape") != shape:
        buffers.update(shape=shape, G=np.empty(shape), D=np.empty(shape))
    G, D = buffers["G"], buffers["D"]
    np.matmul(A[rows], A.T, out=G)
    G *= 2.0
    np.add(sq[rows, None], sq[None, :], out=D)
    D -= G
    D[np.arange(len(rows)), rows] = np.inf  # self is no neighbour
    return D


def rank_excess(A: np.ndarray, candidates: np.ndarray, own: np.ndarray, block: int = 256,
                 ranked: np.ndarray | None = None, max_rows: int | None = None,
                 rng: np.random.Generator | None = None) -> float:
    r"""Sum over i and j in candidates[i] \ own[i] of (rank of j among i's distances in A) - k.

    The rank counts the other points strictly closer to i than j, ties broken by the smaller
    index (the order of :func:`manifold_probe.knn`), plus one; ``i`` itself is excluded.
    ``ranked`` (n, K >= k), optional: each row's K nearest neighbours in that order (an exact
    graph of A, such as the profile's shared graph): a j listed at position p has rank p + 1
    with no distance computed, and only the rows with a j beyond their list are ranked from
    a row of distances (``n d`` operations each). Without it every row with a new j is.

    ``max_rows``: when more than this many rows need a row of distances (R of them), a
    uniform sample of ``max_rows`` of them (drawn with ``rng``) is ranked and their part of
    the sum is multiplied by :math:`R / \text{max\_rows}` — an unbiased (Horvitz–Thompson)
    estimate of that part, whose cost no longer grows as :math:`n^2 d`; the listed part stays
    exact. Its error is measured in ``benchmarks/bench_scaling.py``.

    A layer enters several pairs of a profile (trustworthiness of one, continuity of another),
    so its squared-distance matrix, when it is small enough to keep (``8 N^2`` bytes at most
    :data:`~manifold_probe.analysis._reuse.MAX_ENTRY_BYTES`), is computed once (content-keyed
    reuse, by the same blocks, so the values are the same as block by block).
    """
    from manifold_probe.analysis._reuse import MAX_ENTRY_BYTES, reused

    A = normalize_scale(A)[0]  # ranks are scale-invariant; squared distances then stay finite
    n = A.shape[0]
    k = own.shape[1]
    sq = np.einsum("ij,ij->i", A, A)
    total = 0.0
    far_i, far_j = [], []
    for start in range(0, n, block):
        stop = min(n, start + block)
        # only points that appear in the other neighbourhood but not in this one are ranked
        cand = candidates[start:stop]
        new = ~(cand[:, :, None] == own[start:stop][:, None, :]).any(axis=2)
        if ranked is not None and new.any():
            # listed candidates: rank = position in the list + 1, read off the graph
            hit = cand[:, :, None] == ranked[start:stop][:, None, :]
            listed = new & hit.any(axis=2)
            pos = np.argmax(hit, axis=2)
            total += float(np.sum(pos[listed] + 1 - k))
            new &= ~listed
        r_idx, c_idx = np.nonzero(new)
        far_i.append(start + r_idx)
        far_j.append(cand[r_idx, c_idx])
    fi = np.concatenate(far_i)  # increasing (row-major order of the blocks)
    fj = np.concatenate(far_j)
    rows = np.unique(fi)
    if len(rows) == 0:
        return total
    weight = 1.0
    if max_rows is not None and len(rows) > max_rows:
        gen = rng if rng is not None else np.random.default_rng(0)
        chosen = np.sort(gen.choice(rows, size=max_rows, replace=False))
        weight = len(rows) / max_rows
        keep = np.isin(fi, chosen)
        fi, fj, rows = fi[keep], fj[keep], chosen
    full = None
    if 8 * n * n <= MAX_ENTRY_BYTES:
        def compute() -> np.ndarray:
            D = np.empty((n, n))
            for start in range(0, n, block):
                D[start : start + block] = _sq_distance_rows(
                    A, sq, np.arange(start, min(n, start + block)))
            D.setflags(write=False)
            return D

        full = reused(f"sq_distances|{block}", (A,), compute, lambda D: D.nbytes)
    idx = np.arange(n)
    far = 0.0
    buffers: dict = {}
    for b0 in range(0, len(rows), block):
        these = rows[b0 : b0 + block]
        D = full[these] if full is not None else _sq_distance_rows(A, sq, these, buffers)
        lo, hi = np.searchsorted(fi, [these[0], these[-1] + 1])
        r_idx = np.searchsorted(these, fi[lo:hi])
        j = fj[lo:hi]
        # the pairs' rows of D a few at a time: copies that stay in the cache (one of P x n
        # would be written to fresh memory); ranks are integers, so the sum is the same
        step = max(1, _PAIR_ROWS_BYTES // (8 * n))
        for p0 in range(0, len(j), step):
            rp, jp = r_idx[p0 : p0 + step], j[p0 : p0 + step]
            Drow = D[rp]
            dj = D[rp, jp][:, None]
            ranks = np.count_nonzero(Drow < dj, axis=1) + 1
            tied = np.flatnonzero(np.count_nonzero(Drow == dj, axis=1) > 1)  # j itself is equal
            if len(tied):  # equal distances: the smaller index counts as closer
                ranks[tied] += np.count_nonzero((Drow[tied] == dj[tied])
                                                & (idx[None, :] < jp[tied, None]), axis=1)
            far += float(np.sum(ranks - k))
    return total + weight * far


def venna_kaski(total: float, n: int, k: int) -> float:
    if not 2 * n - 3 * k - 1 > 0:
        raise InputError(
            f"trustworthiness needs 3k + 1 < 2N; got k={k} for N={n} points. Use a smaller k"
        )
    return 1.0 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)) * total


def trustworthiness(
    X: Any, Y: Any, k: int = 10, *, neighbors_x: Neighbors | None = None,
    neighbors_y: Neighbors | None = None,
) -> float:
    r"""Trustworthiness of the map ``X[i] -> Y[i]`` (Venna & Kaski 2001).

    .. math::

        T(k) = 1 - \frac{2}{N k (2N - 3k - 1)} \sum_{i=1}^{N} \sum_{j \in U_k(i)} (r(i, j) - k),

    where :math:`U_k(i)` holds the points among i's k nearest neighbours in Y that are not
    among its k nearest in X, and :math:`r(i, j)` is the rank of j by distance from i in X
    (1 for the nearest, i excluded). T = 1 when the map creates no false neighbours.
    Equal to ``sklearn.manifold.trustworthiness(X, Y, n_neighbors=k)`` when there are no ties.

    References
    ----------
    Venna, J. & Kaski, S. (2001). Neighborhood preservation in nonlinear projection methods:
    an experimental study. ICANN 2001, LNCS 2130, 485–491.
    """
    A, nx, ny = _pair_graphs(X, Y, k, neighbors_x, neighbors_y, need="X")
    return venna_kaski(rank_excess(A, ny.indices, nx.indices), A.shape[0], nx.k)


def continuity(
    X: Any, Y: Any, k: int = 10, *, neighbors_x: Neighbors | None = None,
    neighbors_y: Neighbors | None = None,
) -> float:
    r"""Continuity of the map ``X[i] -> Y[i]`` (Venna & Kaski 2001).

    The trustworthiness formula with the roles of X and Y swapped: it penalises the neighbours
    in X that the map moves out of the k-neighbourhood in Y, by their rank in Y.

    .. math::

        C(k) = 1 - \frac{2}{N k (2N - 3k - 1)} \sum_{i=1}^{N} \sum_{j \in V_k(i)} (\hat r(i, j) - k).

    References
    ----------
    Venna, J. & Kaski, S. (2001). Neighborhood preservation in nonlinear projection methods:
    an experimental study. ICANN 2001, LNCS 2130, 485–491.
    """
    _, nx, ny = _pair_graphs(X, Y, k, neighbors_x, neighbors_y, need=None)
    B = check_points(Y, min_points=k + 2, name="Y", what="continuity")
    return venna_kaski(rank_excess(B, nx.indices, ny.indices), B.shape[0], nx.k)


def _pair_graphs(X, Y, k, neighbors_x, neighbors_y, need):
    A, nx = resolve_neighbors(X, k, neighbors=neighbors_x, min_k=1, what="warp")
    B, ny = resolve_neighbors(Y, k, neighbors=neighbors_y, min_k=1, what="warp")
    if A is not None and B is not None and A.shape[0] != B.shape[0]:
        raise InputError(
            f"X has {A.shape[0]} rows and Y has {B.shape[0]}; X[i] and Y[i] must be the same "
            "input in two representations, so they need equally many rows"
        )
    _check_pair(nx, ny)
    return A, nx, ny
