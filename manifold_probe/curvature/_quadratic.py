"""Batched local polynomial fits of a sampled submanifold and the Gauss equation.

Private helpers of :func:`manifold_probe.curvature.scalar_curvature` (``method="quadratic"``).
For a batch of base points, each with its own neighbours, tangent basis and neighbourhood
size, fit every normal coordinate by a polynomial in the tangent coordinates and turn the
fitted second derivatives into scalar curvature at the base point, with a first-order
correction for the tilt of the estimated tangent plane, an unbiased correction for the noise in
the fitted coefficients, and a standard error.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np

__all__ = ["monomial_exponents", "n_coefficients", "ladder_fit", "run_batches"]


@lru_cache(maxsize=64)
def monomial_exponents(n: int, degree: int) -> np.ndarray:
    """Exponent vectors of all monomials in ``n`` variables of total degree ``<= degree``.

    Ordered by degree (constant, linear, quadratic, ...), lexicographically within a degree, so
    that the linear block is ``u_0 .. u_{n-1}`` and the quadratic block is ``u_i u_j, i <= j``.
    """
    rows = []
    for deg in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(n), deg):
            e = np.zeros(n, dtype=np.int64)
            for i in combo:
                e[i] += 1
            rows.append(e)
    out = np.array(rows, dtype=np.int64).reshape(-1, n)
    out.setflags(write=False)
    return out


def n_coefficients(n: int, degree: int) -> int:
    """Number of monomials in ``n`` variables of total degree ``<= degree``: C(n + degree,
    degree), counted without listing them (a layer of dimension 700 has 10^10 quartic terms)."""
    return math.comb(int(n) + int(degree), int(degree))


@lru_cache(maxsize=64)
def _hessian_map(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``F`` of shape (n*n, n(n+1)/2) with ``vec(H) = F @ c_quad``, and the quadratic pairs.

    The coefficient of ``u_i^2`` is ``H_ii / 2`` and that of ``u_i u_j`` (i < j) is ``H_ij``.
    """
    pairs = list(itertools.combinations_with_replacement(range(n), 2))
    F = np.zeros((n * n, len(pairs)))
    for q, (i, j) in enumerate(pairs):
        if i == j:
            F[i * n + i, q] = 2.0
        else:
            F[i * n + j, q] = 1.0
            F[j * n + i, q] = 1.0
    F.setflags(write=False)
    return F, np.array(pairs)


@lru_cache(maxsize=64)
def _pair_rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The two rows of ``F`` (:func:`_hessian_map`) that each quadratic pair ``(i, j)`` uses:
    ``i n + j`` and ``j n + i`` (the same row, weight 2, when ``i = j``), so that
    ``(F^T K)[q] = K[r1[q]] + K[r2[q]]`` for any ``K``."""
    _, pairs = _hessian_map(n)
    return pairs[:, 0] * n + pairs[:, 1], pairs[:, 1] * n + pairs[:, 0]


@lru_cache(maxsize=64)
def _monomial_parents(n: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """For each monomial (after the constant): a lower monomial and a variable whose product it is."""
    E = monomial_exponents(n, degree)
    pos = {tuple(e): j for j, e in enumerate(E)}
    parent = np.zeros(len(E), dtype=np.int64)
    var = np.zeros(len(E), dtype=np.int64)
    for j in range(1, len(E)):
        i = int(np.flatnonzero(E[j])[-1])
        e = E[j].copy()
        e[i] -= 1
        parent[j], var[j] = pos[tuple(e)], i
    return parent, var


def _design_t(U: np.ndarray, degree: int) -> np.ndarray:
    """Monomials of the rows of ``U`` (B, k, n), laid out as (B, p, k) and ordered as
    :func:`monomial_exponents` (columns built in place, each from a lower one)."""
    B, k, n = U.shape
    parent, var = _monomial_parents(n, degree)
    Ut = np.ascontiguousarray(np.moveaxis(U, 2, 0))  # (n, B, k)
    cols = np.empty((len(parent), B, k))
    cols[0] = 1.0
    for j in range(1, len(parent)):
        np.multiply(cols[parent[j]], Ut[var[j]], out=cols[j])
    return np.ascontiguousarray(np.moveaxis(cols, 0, 1))


def _on(a: np.ndarray, device):
    """``a`` as a torch tensor on ``device`` (no copy on the CPU)."""
    import torch

    t = torch.from_numpy(a)
    return t if device is None or device.type == "cpu" else t.to(device)


def _back(t) -> np.ndarray:
    return t.numpy() if t.device.type == "cpu" else t.cpu().numpy()


def _sym_inverse(N: np.ndarray, device=None) -> np.ndarray:
    """Inverse of a batch of symmetric positive semi-definite ``N`` (B, p, p)
    (Jacobi-equilibrated Cholesky in torch; a pseudo-inverse for the rank-deficient ones, so
    that ``inverse @ rhs`` is their minimum-norm least-squares solution). ``device``: a
    ``torch.device`` to compute on (None: the CPU); the result is a numpy array."""
    import torch

    t = _on(N, device)
    p = N.shape[-1]
    dg = torch.sqrt(torch.clamp(torch.diagonal(t, dim1=1, dim2=2), min=1e-300))
    Ns = t / (dg[:, :, None] * dg[:, None, :])
    L, info = torch.linalg.cholesky_ex(Ns)
    bad = torch.nonzero(info).flatten()
    if len(bad):
        L[bad] = torch.eye(p, dtype=L.dtype, device=L.device)
    # one inverse per matrix: cheaper than a batched triangular solve with D + q columns
    Minv = torch.cholesky_inverse(L)
    if len(bad):
        Minv[bad] = torch.linalg.pinv(Ns[bad], rtol=p * 1e-13, hermitian=True)
    return _back(Minv / (dg[:, :, None] * dg[:, None, :]))


def _bmm(a: np.ndarray, b: np.ndarray, device=None) -> np.ndarray:
    """Batched matrix product through torch (strided views accepted, no copies on the CPU)."""
    import torch

    return _back(torch.bmm(_on(a, device), _on(b, device)))


def _minus_bmm(c: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None,
               device=None) -> np.ndarray:
    """``c - a @ b`` for batches, in one fused torch call (into ``out`` when given: a
    C-contiguous array of the result's shape, which may be ``c`` itself)."""
    import torch

    if device is not None and device.type != "cpu":
        r = _back(torch.baddbmm(_on(c, device), _on(a, device), _on(b, device), alpha=-1.0))
        if out is None:
            return r
        out[...] = r
        return out
    tc, ta, tb = torch.from_numpy(c), torch.from_numpy(a), torch.from_numpy(b)
    if out is None:
        return torch.baddbmm(tc, ta, tb, alpha=-1.0).numpy()
    to = torch.from_numpy(out)
    if out is not c:
        to.copy_(tc)
    to.baddbmm_(ta, tb, alpha=-1.0)
    return out


def ladder_fit(
    Y: np.ndarray,
    T: np.ndarray,
    levels: np.ndarray,
    degree: int = 2,
    sort_tangent: bool = True,
    fold_from: int | None = None,
    device=None,
    return_kappa: bool | str = False,
):
    r"""Scalar curvature at a batch of base points, fitted on nested neighbourhoods.

    Parameters
    ----------
    Y : ndarray of shape (B, k, D)
        Neighbour positions relative to the base point (``x_j - p``), nearest first.
    T : ndarray of shape (B, D, n)
        Orthonormal tangent basis at each base point.
    levels : ndarray of int, shape (L,)
        Increasing neighbourhood sizes; level ``l`` fits the first ``levels[l]`` neighbours.
    degree : int
        Polynomial degree (>= 2).
    fold_from : int, optional
        Look for the fold of the tangent chart from this ambient rank on (see Notes); ``None``:
        no check.
    device : torch.device, optional
        Where the batched products and inverses run (None: the CPU); the rest is numpy.
    return_kappa : bool or "debiased"
        Also return each level's largest principal curvature, :func:`_largest_curvature`;
        ``"debiased"``: with the fitted coefficients' noise subtracted from their Gram matrix;
        ``"both"``: shape (B, L, 2), the plain and the debiased one.

    Returns
    -------
    S : ndarray (B, L)
        Scalar curvature of the fitted surface at ``u = 0``, noise-bias corrected; NaN at the
        levels that reach past the fold of the tangent chart.
    se : ndarray (B, L)
        Standard error (delta method plus the second-order noise term).
    rho : ndarray (B, L)
        Largest tangent radius of each neighbourhood.
    kappa : ndarray (B, L)
        Only with ``return_kappa``: the largest :math:`|\kappa|` of the fitted second
        fundamental form, :func:`_largest_curvature`.

    Notes
    -----
    Normal residuals :math:`v = (I - TT^\top)(x - p)` are regressed on the monomials of
    :math:`u = T^\top (x - p)`: :math:`v \approx c_0 + \sum_i c_i u_i + \tfrac12 \sum_{ij}
    H_{ij} u_i u_j + \dots`. The fitted graph :math:`\varphi(u) = p + Tu + v(u)` has metric
    :math:`g = I + C_1^\top C_1` at 0 and second fundamental form
    :math:`\mathrm{II}_{ij} = H_{ij} - \sum_{kl} \partial_k\varphi\, g^{kl}\langle
    \partial_l\varphi, H_{ij}\rangle`, so a tilted tangent estimate is corrected at the base
    point. Gauss: :math:`S = g^{ik} g^{jl}(\langle \mathrm{II}_{ik}, \mathrm{II}_{jl}\rangle
    - \langle \mathrm{II}_{il}, \mathrm{II}_{jk}\rangle)`. Writing :math:`S = \sum_\alpha
    h_\alpha^\top Q h_\alpha` over the quadratic coefficients :math:`h_\alpha` of each normal
    coordinate, least squares with residual covariance :math:`\Sigma` (across coordinates)
    gives :math:`\operatorname{Cov}(h_\alpha, h_\beta) = \Sigma_{\alpha\beta} M`,
    :math:`M = (A^\top A)^{-1}`, so :math:`E\hat S = S + \operatorname{tr}\Sigma\,
    \operatorname{tr}(QM)`; that term is subtracted, and
    :math:`\operatorname{Var}\hat S \approx 4\operatorname{tr}(\Sigma H^\top QMQ H)
    + 2\operatorname{tr}(\Sigma^2)\operatorname{tr}((QM)^2)` (delta method plus the
    second-order Gaussian term). Every quantity is invariant under rotations of the ambient
    space.
    The normal equations of nested neighbourhoods are prefix sums, so all levels cost one pass
    over the largest neighbourhood plus one ``p x p`` inversion per level.

    **Fold of the chart.** The fit assumes that the neighbours form a graph over the tangent
    plane. The ambient ball of the neighbour graph may reach past where that holds (on a
    sparse compact manifold, past the equator of a sphere: ``k`` = 299 neighbours of 300
    points on S^2 cover the whole sphere), and the far side then projects into the middle of
    the tangent discs. A neighbour whose normal offset exceeds its tangent offset,
    :math:`|v_j| > |u_j|` (a secant steeper than 45 degrees: on a sphere of radius :math:`r`,
    :math:`|v| = r(1-\cos\theta)` and :math:`|u| = r\sin\theta`, equal at
    :math:`\theta = 90` degrees), and also every tangent offset in the graph,
    :math:`|v_j| > \max_i |u_i|` (on a sphere :math:`|u| \le r < |v|` past the equator;
    normal noise smaller than the neighbourhood, as the fit assumes, reaches neither), lies
    past the fold; with ``fold_from`` every neighbour from the first such one at ambient rank
    ``>= fold_from`` on is left out, and the levels that need them are NaN (and are not
    computed: a level is solved only when a point of the batch reaches it before its fold,
    and its curvature only at those points).
    """
    B, k, D = Y.shape
    n = T.shape[2]
    levels = np.asarray(levels, dtype=np.int64)
    L = len(levels)
    kt = int(levels[-1])  # rows beyond the largest level enter no fit
    U = np.matmul(Y, T)  # (B, k, n)
    r2 = np.einsum("bkn,bkn->bk", U, U)
    k_valid = np.full(B, k, dtype=np.int64)
    if fold_from is not None:
        # |v|^2 = |y|^2 - |u|^2 > |u|^2 (a secant steeper than 45 degrees) and larger than the
        # tangent extent of the whole graph: past the fold of the tangent chart (noise smaller
        # than the neighbourhood, the method's assumption, reaches neither)
        v2 = np.einsum("bkd,bkd->bk", Y, Y) - r2
        folded = (v2 > r2) & (v2 > r2.max(axis=1, keepdims=True))
        folded[:, : min(int(fold_from), k)] = False
        any_fold = folded.any(axis=1)
        k_valid[any_fold] = np.argmax(folded[any_fold], axis=1)
    if sort_tangent:
        # nested discs in the tangent plane: their selection ignores the normal noise; the
        # neighbours past the fold sort after all others (and the levels reaching them are NaN)
        key = r2
        if fold_from is not None:
            key = r2 + (np.arange(k)[None, :] >= k_valid[:, None]) * (r2.max(axis=1) + 1.0)[:, None]
        order = np.argsort(key, axis=1, kind="stable")[:, :kt]
        # whole-row gathers (a fancy index on the first axis copies rows, not elements)
        flat = (order + (np.arange(B) * k)[:, None]).ravel()
        U = U.reshape(B * k, n)[flat].reshape(B, kt, n)
        Y = Y.reshape(B * k, D)[flat].reshape(B, kt, D)
        r2 = np.take_along_axis(r2, order, axis=1)
    else:
        U, Y, r2 = U[:, :kt], Y[:, :kt], r2[:, :kt]
    k = kt
    # V = Y - U T^T, (B, k, D); in place when Y is already this function's sorted copy
    V = _minus_bmm(Y, U, np.ascontiguousarray(np.transpose(T, (0, 2, 1))),
                   out=Y if sort_tangent else None, device=device)
    rho_run = np.sqrt(np.maximum.accumulate(r2, axis=1))
    rho = rho_run[:, levels - 1]  # (B, L)
    scale0 = np.where(rho[:, -1] > 0, rho[:, -1], 1.0)
    At = _design_t(U / scale0[:, None, None], degree)  # (B, p, k)
    A = np.ascontiguousarray(np.transpose(At, (0, 2, 1)))
    E = monomial_exponents(n, degree)
    p = len(E)
    deg_of = E.sum(axis=1).astype(np.float64)
    coef_scale = scale0[:, None] ** (-deg_of[None, :])  # (B, p)

    lin = slice(1, 1 + n)
    quad = slice(1 + n, 1 + n + n * (n + 1) // 2)
    F, _ = _hessian_map(n)
    AtA = np.zeros((B, p, p))
    cs = coef_scale[:, quad]
    AtV = np.zeros((B, p, D))
    S_out = np.full((B, L), np.nan)
    se_out = np.full((B, L), np.nan)
    kappa_out = np.full((B, L, 2) if return_kappa == "both" else (B, L), np.nan) \
        if return_kappa else None
    # the levels each point fits: those before its fold (the others are NaN, see the end);
    # a level no point of the batch fits is not solved (but for the largest, whose residuals
    # every level reads), and each level's curvature is computed at its points only
    live = levels[None, :] <= k_valid[:, None]  # (B, L)
    fits = []
    start = 0
    for li, stop in enumerate(levels):
        seg = At[:, :, start:stop]
        AtA += _bmm(seg, np.transpose(seg, (0, 2, 1)), device)
        AtV += _bmm(seg, V[:, start:stop], device)
        start = stop
        if li < L - 1 and not live[:, li].any():
            fits.append(None)
            continue
        # M = (A^T A)^{-1} gives the coefficients and its own quadratic block
        M = _sym_inverse(AtA, device)
        fits.append((M, _bmm(M, AtV, device)))  # C: (B, p, D), in scaled coordinates
    # Residuals of the largest fit, E = V - A C_top (in place of V). Each level's residuals
    # are R_l = P_l V_l = P_l E_l (P_l A_l = 0), so every level reads E and the Gram matrix
    # G = E E^T of its rows, not a product over all D coordinates per level.
    E = _minus_bmm(V, A, fits[-1][1], out=V if sort_tangent else None, device=device)
    G = np.matmul(E, np.transpose(E, (0, 2, 1)))  # (B, k, k)
    G_trace = np.cumsum(np.einsum("bii->bi", G), axis=1)
    G_sq = np.zeros(B)  # ||G_l||_F^2 of the leading block, grown level by level
    start = 0
    for li, stop in enumerate(levels):
        G_sq = G_sq + np.einsum("bij,bij->b", G[:, start:stop, start:stop],
                                G[:, start:stop, start:stop]) \
            + 2.0 * np.einsum("bij,bij->b", G[:, start:stop, :start], G[:, start:stop, :start])
        start = stop
        at = np.flatnonzero(live[:, li])
        if len(at) == 0:
            continue
        # the level's points: whole rows of every batch array, laid out as in the batch (a
        # lone point taken twice: numpy's einsum sums a batch of one in another order). Each
        # point's numbers come from its own rows; torch's batched products round them as
        # they would in a batch of other points (see ``batch_size``)
        b = slice(None) if len(at) == B else np.repeat(at, 2) if len(at) == 1 else at
        M, C = fits[li]
        M, C, Eb, Ab, Gb = M[b], C[b], E[b], A[b], G[b]
        csb = cs[b]
        Mq = M[:, quad, quad] * csb[:, :, None] * csb[:, None, :]
        dof = max(int(stop) - p, 1)
        resid = (Eb[:, :stop], Ab[:, :stop], M,
                 _residual_traces(Gb[:, :stop, :stop], Ab[:, :stop], M, G_trace[b, stop - 1],
                                  G_sq[b]))
        out = _gauss_curvature(C * coef_scale[b][:, :, None], Mq, resid, dof, F, n, lin, quad,
                               return_kappa)
        S_out[b, li], se_out[b, li] = out[0], out[1]
        if return_kappa:
            kappa_out[b, li] = out[2]
    past_fold = levels[None, :] > k_valid[:, None]
    S_out[past_fold] = np.nan
    se_out[past_fold] = np.nan
    if return_kappa:
        kappa_out[past_fold] = np.nan
        return S_out, se_out, rho, kappa_out
    return S_out, se_out, rho


def _largest_curvature(II: np.ndarray, F: np.ndarray, n: int,
                       noise: np.ndarray | None = None) -> np.ndarray:
    r"""Largest principal curvature :math:`|\kappa|_{\max}` of a batch of second fundamental forms.

    ``II`` (B, q, D) holds, per ambient coordinate, the packed Hessian of the normal graph
    (``vec(H) = F @ II``). The normal directions are the right singular vectors
    :math:`\nu_j` of :math:`\mathcal H = [\mathrm{vec} H_1, \dots, \mathrm{vec} H_D]`
    (``n^2 x D``): the Hessian along :math:`\nu_j` is :math:`\sigma_j u_j` reshaped to
    ``n x n``, from the eigenvectors :math:`u_j` of :math:`\mathcal H \mathcal H^\top`.
    Its eigenvalues are the principal curvatures along :math:`\nu_j` (the metric of the
    graph at the base point is the identity up to the tilt, ignored here); the result is the
    largest absolute one over all :math:`j`. Invariant under rotations of the ambient space
    and of the tangent coordinates (do Carmo, *Riemannian Geometry*, ch. 6: the shape
    operator :math:`S_\nu`). It is the largest normal curvature
    :math:`\max_{|u|=1} |\mathrm{II}(u, u)|` when the shape operators of the singular
    directions commute (spheres, their products, hypersurfaces) and a lower bound otherwise.

    ``noise`` (B, q, q), optional: :math:`\operatorname{tr}\Sigma\, M_q`, the summed
    covariance of the fitted quadratic coefficients over the ambient coordinates
    (:func:`ladder_fit`, Notes). The fitted Gram matrix is biased by it,
    :math:`E\,\hat{\mathcal H}\hat{\mathcal H}^\top = \mathcal H \mathcal H^\top +
    F (\operatorname{tr}\Sigma\, M_q) F^\top`, the same noise bias that the scalar
    curvature subtracts; with ``noise`` it is subtracted before the decomposition.
    """
    B = II.shape[0]
    Hv = np.matmul(F[None], II)  # (B, n*n, D)
    gram = np.matmul(Hv, np.transpose(Hv, (0, 2, 1)))
    if noise is not None:
        gram = gram - np.matmul(np.matmul(F[None], noise), F.T[None])
    w, U = np.linalg.eigh(gram)
    sig = np.sqrt(np.maximum(w, 0.0))  # (B, n*n)
    Hj = np.transpose(U, (0, 2, 1)).reshape(B, n * n, n, n)
    Hj = 0.5 * (Hj + np.transpose(Hj, (0, 1, 3, 2)))
    ev = np.abs(np.linalg.eigvalsh(Hj)).max(axis=2)  # (B, n*n)
    return (sig * ev).max(axis=1)


def run_batches(fit, starts, n_jobs: int) -> None:
    """``fit(s)`` for every batch start, in turn, or on ``n_jobs`` threads side by side.

    The batches of :func:`ladder_fit` are independent (each writes its own rows), and each
    thread fits with one BLAS/OpenMP thread (OpenMP's thread count is per thread, so it is set
    in the thread): the numbers are those of a one-thread run, bit for bit, at any count.
    """
    starts = list(starts)
    workers = min(len(starts), n_jobs)
    if workers <= 1:
        for s in starts:
            fit(s)
        return
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    def one_thread(s: int) -> None:
        with threadpool_limits(limits=1):
            fit(s)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one_thread, starts))


def _residual_traces(G: np.ndarray, A: np.ndarray, M: np.ndarray, tr_G: np.ndarray,
                     sq_G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\|R\|_F^2` and :math:`\|R^\top R\|_F^2` of one level's least-squares residuals
    :math:`R = PE`, from the Gram matrix :math:`G = EE^\top` of its rows.

    :math:`P = I - AMA^\top` (:math:`M = (A^\top A)^{-1}`) is a symmetric projector, so
    :math:`\|R\|_F^2 = \operatorname{tr}(PG) = \operatorname{tr}G -
    \operatorname{tr}(MA^\top GA)` and :math:`\|R^\top R\|_F^2 = \operatorname{tr}(PGPG) =
    \operatorname{tr}(G^2) - 2\operatorname{tr}(M(GA)^\top GA) +
    \operatorname{tr}((MA^\top GA)^2)`: :math:`k^2 p` operations instead of the
    :math:`k^2 D` of :math:`RR^\top`. ``E`` are the residuals of the largest fit, not the
    raw coordinates, so the terms are of the size of the residuals themselves and the
    differences lose no more than a few digits (a fit's residuals are never larger than
    another coefficient vector's). ``tr_G``, ``sq_G``: :math:`\operatorname{tr}G`,
    :math:`\|G\|_F^2`.
    """
    GA = np.matmul(G, A)  # (B, k_l, p)
    MAGA = np.matmul(M, np.matmul(np.transpose(A, (0, 2, 1)), GA))  # (B, p, p)
    tr_pg = tr_G - np.einsum("bii->b", MAGA)
    GAGA = np.matmul(np.transpose(GA, (0, 2, 1)), GA)
    sq = sq_G - 2.0 * np.einsum("bij,bji->b", M, GAGA) + np.einsum("bij,bji->b", MAGA, MAGA)
    return np.maximum(tr_pg, 0.0), np.maximum(sq, 0.0)


def _gauss_curvature(C, Mq, resid, dof: int, F, n: int, lin: slice, quad: slice,
                     return_kappa: bool | str = False):
    """Scalar curvature of one level's fitted graph at the base point, and its standard error.

    ``C`` (B, p, D): polynomial coefficients in original units; ``Mq``: the quadratic block of
    :math:`(A^\\top A)^{-1}`; ``resid``: the level's rows of the largest fit's residuals
    ``E`` (B, k_l, D), its design ``A`` and ``M``, and :func:`_residual_traces` of its
    residuals :math:`R = PE` (``dof`` degrees of freedom). The Gauss equation, the noise-bias correction and the variance of :func:`ladder_fit`.
    """
    B, _, D = C.shape
    Cl = C[:, lin, :]
    Cq = C[:, quad, :]

    g = np.eye(n)[None] + np.matmul(Cl, np.transpose(Cl, (0, 2, 1)))
    ginv = np.linalg.inv(g)
    K = np.einsum("bik,bjl->bikjl", ginv, ginv) - np.einsum("bil,bjk->bikjl", ginv, ginv)
    K = K.reshape(B, n * n, n * n)
    # Q = F^T K F (B, q, q): F's columns hold one 2 or two 1s, so each entry of a product
    # with F is the sum of the one or two entries of K it picks (K + K for the 2: exact),
    # which a gather adds with the same rounding as the product, bit for bit (laid out as
    # the product was: the BLAS products below sum in an order that depends on the layout)
    r1, r2 = _pair_rows(n)
    P = K[:, r1, :] + K[:, r2, :]
    Q = np.ascontiguousarray(P[:, :, r1] + P[:, :, r2])
    Wt = np.matmul(Cq, np.transpose(Cl, (0, 2, 1)))  # <H_a, d_l phi>, (B, q, n)
    Z = np.matmul(Wt, ginv)
    II_n = Cq - np.matmul(Z, Cl)
    QII = np.matmul(Q, II_n)
    S = np.einsum("bad,bad->b", II_n, QII) + np.einsum("bam,bam->b", Z, np.matmul(Q, Z))
    QM = np.matmul(Q, Mq)
    # residual covariance Sigma = R^T R / dof enters through rotation-invariant traces
    # R H^T with R = P E = E - A M A^T E, without forming R: (E H^T) - A M A^T (E H^T)
    El, Al, M, (tr_rr, sq_rr) = resid
    W = _bmm(El, np.ascontiguousarray(np.transpose(II_n, (0, 2, 1))))  # (B, k_l, q)
    RH = W - np.matmul(Al, np.matmul(M, np.matmul(np.transpose(Al, (0, 2, 1)), W)))
    tr_sigma = tr_rr / dof  # |R|_F^2 / dof
    tr_sigma2 = sq_rr / dof**2  # |R^T R|_F^2 / dof^2
    S = S - tr_sigma * np.einsum("baa->b", QM)
    # Var: 4 tr(Sigma H^T QMQ H) + 2 tr(Sigma^2) tr((QM)^2)
    QMQ = np.matmul(QM, Q)
    var1 = 4.0 * np.einsum("bka,bka->b", np.matmul(RH, QMQ), RH) / dof
    var2 = 2.0 * tr_sigma2 * np.einsum("bae,bea->b", QM, QM)
    se = np.sqrt(np.maximum(var1 + var2, 0.0))
    if return_kappa:
        noise = tr_sigma[:, None, None] * Mq
        if return_kappa == "both":
            kappa = np.stack([_largest_curvature(II_n, F, n),
                              _largest_curvature(II_n, F, n, noise)], axis=1)
        else:
            kappa = _largest_curvature(II_n, F, n, noise if return_kappa == "debiased" else None)
        return S, se, kappa
    return S, se
