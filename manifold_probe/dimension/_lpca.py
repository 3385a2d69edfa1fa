"""Local PCA: the number of principal directions of each neighbourhood."""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema
from manifold_probe._validation import (
    check_points,
    normalize_scale,
)
from manifold_probe.dimension._base import METRIC, DimensionEstimate, distinct_graph
from manifold_probe.neighbors import Neighbors

__all__ = ["LPCA_PARAMS", "local_pca"]

CRITERIA = ("variance", "gap")
# eigenvalues below this fraction of the largest count as zero for the eigengap criterion
_GAP_FLOOR = 1e-3


def _local_spectra(A: np.ndarray, nb: Neighbors, block: int = 1024) -> np.ndarray:
    """Eigenvalues (descending) of each neighbourhood's covariance, shape (m, k+1)."""
    m, k = nb.indices.shape
    out = np.empty((m, k + 1))
    for s in range(0, m, block):
        e = min(m, s + block)
        idx = np.concatenate([np.arange(s, e)[:, None], nb.indices[s:e]], axis=1)
        Y = A[idx]  # (b, k+1, D)
        Y = Y - Y.mean(axis=1, keepdims=True)
        # the non-zero eigenvalues of Y^T Y equal those of the (k+1)x(k+1) Gram matrix Y Y^T
        G = np.einsum("bid,bjd->bij", Y, Y) / k
        out[s:e] = np.linalg.eigvalsh(G)[:, ::-1]
    return np.clip(out, 0.0, None)


#: The settings of :func:`local_pca` (and :class:`~manifold_probe.dimension.LocalPCA`).
LPCA_PARAMS = Schema(
    "local_pca",
    Param("k", int, 20, "neighbours of each local PCA", ge=2),
    Param("criterion", str, "variance", "explained-variance threshold or largest eigengap",
          choices=CRITERIA),
    Param("threshold", float, 0.95, "share of variance to explain (criterion \"variance\")",
          gt=0.0, le=1.0),
    METRIC,
)


#: most bytes of one block of gathered neighbourhoods on a GPU (the (b, k+1, D) float64 stack)
_DEVICE_BLOCK_BYTES = 2**28


def _local_spectra_torch(A: np.ndarray, nb: Neighbors, device) -> np.ndarray:
    """:func:`_local_spectra` in torch on ``device`` (a ``torch.device``), float64 throughout.

    The same Gram matrices and symmetric eigenvalue problems, batched over blocks sized by
    :data:`_DEVICE_BLOCK_BYTES`; eigenvalues agree with the numpy path to round-off
    (``torch.linalg.eigvalsh`` and LAPACK's ``syevd`` sum in different orders).
    """
    import torch

    m, k = nb.indices.shape
    At = torch.as_tensor(np.ascontiguousarray(A, dtype=np.float64), device=device)
    I = torch.as_tensor(np.asarray(nb.indices, dtype=np.int64), device=device)  # noqa: E741
    block = max(1, int(_DEVICE_BLOCK_BYTES // (8 * (k + 1) * max(A.shape[1], 1))))
    out = np.empty((m, k + 1))
    for s in range(0, m, block):
        e = min(m, s + block)
        own = torch.arange(s, e, device=device)[:, None]
        Y = At[torch.cat([own, I[s:e]], dim=1)]  # (b, k+1, D)
        Y = Y - Y.mean(dim=1, keepdim=True)
        G = torch.bmm(Y, Y.transpose(1, 2)) / k
        out[s:e] = torch.linalg.eigvalsh(G).flip(1).cpu().numpy()
    return np.clip(out, 0.0, None)


def _device(device: Any):
    """The ``torch.device`` of the eigenvalues (None: CUDA when available, else the CPU)."""
    from manifold_probe._device import torch_device

    return torch_device(device)


def local_pca(
    X: Any = None,
    *,
    neighbors: Neighbors | None = None,
    k: int = 20,
    criterion: str = "variance",
    threshold: float = 0.95,
    metric: str = "euclidean",
    device: Any = None,
) -> DimensionEstimate:
    r"""Intrinsic dimension by local principal component analysis.

    For every point :math:`x` take the :math:`k+1` points :math:`\{x\} \cup N_k(x)`, centre them
    and compute the eigenvalues :math:`\lambda_1 \ge \lambda_2 \ge \dots` of their covariance.
    The local dimension is

    - ``criterion="variance"`` (default): the fewest directions that explain at least
      ``threshold`` of the neighbourhood's variance,

      .. math:: \hat n(x) = \min\Big\{m : \sum_{i\le m}\lambda_i \ \ge\ \tau\sum_i\lambda_i\Big\},
                \qquad \tau = \text{threshold} = 0.95;

    - ``criterion="gap"``: the position of the largest eigengap,
      :math:`\hat n(x) = \arg\max_m \lambda_m/\max(\lambda_{m+1}, 10^{-3}\lambda_1)`:
      eigenvalues below :math:`10^{-3}\lambda_1` count as zero, so that round-off in exactly
      flat normal directions (noise-free data rotated into a larger space) cannot win the gap.

    ``pointwise`` holds :math:`\hat n(x)` and ``dimension`` their mean; both lie in
    :math:`[1, \min(k, D)]` (:math:`D` the ambient dimension). The points are rescaled by an
    exact power of two first (the estimate is scale-invariant). Assumptions: the
    neighbourhood is small enough for the manifold to be nearly flat across it (curvature adds
    variance in normal directions and inflates the count) and large enough to span it: at most
    :math:`k` directions can be seen, so use :math:`k` well above the dimension.

    **Duplicates.** Exact duplicate rows are collapsed first; every copy gets the value of its
    distinct row.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
        The points (needed: the covariance uses the coordinates).
    neighbors : Neighbors, optional
        A precomputed graph with at least ``k`` neighbours.
    k : int, default=20
        Neighbourhood size.
    criterion : {"variance", "gap"}, default="variance"
        Explained-variance threshold or largest eigengap.
    threshold : float, default=0.95
        Fraction of variance to explain, in ``(0, 1]`` (``criterion="variance"``).
    metric : {"euclidean", "cosine"}, default="euclidean"
        Metric of the graph when it is computed here.
    device : str or torch.device, optional
        Where the neighbourhoods' eigenvalues are computed: ``"cpu"`` (numpy, LAPACK), or a
        CUDA device (torch, float64, batched). Default: CUDA when available, else the CPU.
        Both give the same eigenvalues up to round-off; a count can differ only where a
        cumulative share ties ``threshold`` (or two gaps tie) to within it.

    Returns
    -------
    DimensionEstimate
        ``dimension`` (mean), ``pointwise`` (n_points,), ``interval`` None.

    References
    ----------
    Fukunaga & Olsen (1971), "An algorithm for finding intrinsic dimensionality of data",
    IEEE Trans. Computers C-20. Little, Maggioni & Rosasco (2017), "Multiscale geometric methods
    for data sets I: multiscale SVD, noise and curvature", Appl. Comput. Harmon. Anal. 43.
    """
    from manifold_probe._validation import InputError

    k, criterion, threshold, metric = LPCA_PARAMS.check(
        k=k, criterion=criterion, threshold=threshold, metric=metric).values()
    if X is None:
        raise InputError("local PCA needs the coordinates: pass X (neighbors= is optional)")
    # scale-invariant: work at magnitude ~1 (exact power-of-two rescaling), so that squared
    # coordinates neither overflow (1e200) nor underflow (1e-300)
    X = normalize_scale(check_points(X, what=f"local PCA (k={k})"))[0]
    U, g = distinct_graph(X, k, neighbors=neighbors, metric=metric, what=f"local PCA (k={k})")
    dev = _device(device)
    lam = (_local_spectra(U, g.neighbors) if dev.type == "cpu"
           else _local_spectra_torch(U, g.neighbors, dev))
    total = lam.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    if criterion == "variance":
        frac = np.cumsum(lam, axis=1) / total
        local = 1.0 + (frac < threshold - 1e-12).sum(axis=1)
    else:
        tiny = lam[:, :1] * _GAP_FLOOR
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = lam[:, :-1] / np.maximum(lam[:, 1:], tiny)
        ratio[~np.isfinite(ratio)] = 0.0
        local = 1.0 + np.argmax(ratio, axis=1)
    # a neighbourhood of k+1 points in R^D spans at most min(k, D) directions
    local = np.minimum(local, min(k, U.shape[1])).astype(np.float64)
    return DimensionEstimate(
        dimension=float(local.mean()),
        pointwise=g.broadcast(local),
        method="lpca",
        n_distinct=g.n_distinct,
    )
