"""The permutation nulls of :func:`~manifold_probe.analysis.structure.known_structure`, and
the rank statistics it shares with them."""

from __future__ import annotations

import numpy as np


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import rankdata

    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra @ ra) * (rb @ rb))
    return float(ra @ rb / den) if den > 0 else 0.0


def points_null(A: np.ndarray, inv: np.ndarray, C: int, n_perm: int, rng: np.random.Generator,
                 kind: str, target: np.ndarray, qs: list[int], iu=None, t_ranks=None
                 ) -> np.ndarray:
    r"""The statistic of ``n_perm`` random relabellings of the rows (PCA probe), in blocks.

    Class means of a relabelling are a sparse one-hot product; the coordinates of the centred
    means in their top-``q`` principal subspace are read from the eigendecomposition of their
    C × C Gram matrix (:math:`M_c M_c^\top = U \Lambda U^\top`, coordinates
    :math:`U_q \Lambda_q^{1/2}`: the SVD's, up to the sign of each axis, to which every
    statistic here is invariant).
    """
    from scipy.sparse import csr_matrix

    n, d = A.shape
    q = max(qs)
    counts = np.bincount(inv, minlength=C).astype(np.float64)
    block = max(1, min(n_perm, int(2e7 // max(1, C * d + n))))
    out = np.empty(n_perm)
    cols = np.tile(np.arange(n), block)
    for start in range(0, n_perm, block):
        b = min(block, n_perm - start)
        lab = np.stack([inv[rng.permutation(n)] for _ in range(b)])  # (b, n)
        rows = (np.arange(b)[:, None] * C + lab).ravel()
        S = csr_matrix((np.ones(b * n), (rows, cols[:b * n])), shape=(b * C, n))
        M = np.asarray(S @ A).reshape(b, C, d) / counts[None, :, None]
        M -= M.mean(axis=1, keepdims=True)
        G = M @ M.transpose(0, 2, 1)
        w, U = np.linalg.eigh(G)
        w, U = w[:, ::-1][:, :q], U[:, :, ::-1][:, :, :q]
        Zb = U * np.sqrt(np.maximum(w, 0.0))[:, None, :]
        out[start:start + b] = _batch_stats(Zb, kind, target, qs, iu, t_ranks)
    return out


def _batch_stats(Zb: np.ndarray, kind: str, target: np.ndarray, qs: list[int], iu, t_ranks
                 ) -> np.ndarray:
    """The statistic of each configuration of class means ``Zb[b]`` (classes in place)."""
    from scipy.stats import rankdata

    if kind == "cycle":
        c = Zb[:, :, :2] - Zb[:, :, :2].mean(axis=1, keepdims=True)
        theta = np.arctan2(c[:, :, 1], c[:, :, 0])
        return np.maximum(np.abs(np.exp(1j * (theta - target)).mean(axis=1)),
                          np.abs(np.exp(1j * (theta + target)).mean(axis=1)))
    if kind == "line":
        ra = rankdata(Zb[:, :, 0], axis=1)
        ra -= ra.mean(axis=1, keepdims=True)
        rt = centred_ranks(target)
        den = np.sqrt((ra**2).sum(axis=1) * (rt @ rt))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, np.abs(ra @ rt) / den, 0.0)
    rt = t_ranks[iu]
    best = np.full(len(Zb), -np.inf)
    for q in qs:
        Zq = Zb[:, :, :q]
        D = np.sqrt(np.maximum(((Zq[:, :, None, :] - Zq[:, None, :, :]) ** 2).sum(-1), 0.0))
        re = rankdata(D[:, iu[0], iu[1]], axis=1)
        re -= re.mean(axis=1, keepdims=True)
        den = np.sqrt((re**2).sum(axis=1) * (rt @ rt))
        with np.errstate(invalid="ignore", divide="ignore"):
            best = np.maximum(best, np.where(den > 0, re @ rt / den, 0.0))
    return best


def centred_ranks(v: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    r = rankdata(v)
    return r - r.mean()


def pair_distances(Z: np.ndarray) -> np.ndarray:
    return np.sqrt(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1))


def tree_stat_q(Z: np.ndarray, T: np.ndarray, iu, q: int) -> float:
    Zq = Z[:, :q]
    E = np.sqrt(((Zq[:, None, :] - Zq[None, :, :]) ** 2).sum(-1))
    return spearman(T[iu], E[iu])
