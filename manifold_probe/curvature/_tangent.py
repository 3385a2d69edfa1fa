"""Local principal directions of neighbourhoods: tangent bases and a fit dimension."""

from __future__ import annotations

import numpy as np

from manifold_probe.neighbors import Neighbors

__all__ = ["TANGENT_K", "estimate_dim", "_local_spectra", "tangent_basis"]

# Neighbours of the local PCA that estimates the fit's dimension: small enough that curvature
# adds little normal variance, large enough to average noise (read right on S^2..S^5, noisy
# S^2, the pseudosphere and a flat torus; 50 failed on a 400-point sphere, 10 on a noisy one).
# Not measured by a script: those readings were taken by hand and no benchmark reproduces them
# (docs/validation.md#constants-not-yet-measured).
TANGENT_K = 25


def _local_spectra(A: np.ndarray, nb: Neighbors, k: int) -> np.ndarray:
    """Descending eigenvalues of each point's centred k-neighbourhood covariance, (N, m)."""
    import torch

    N, D = A.shape
    out = []
    for s in range(0, N, 1024):
        Y = A[nb.indices[s : s + 1024, :k]]
        Y = Y - Y.mean(axis=1, keepdims=True)
        if D <= k:
            G = np.matmul(np.transpose(Y, (0, 2, 1)), Y)
        else:  # same non-zero spectrum, smaller matrix
            G = np.matmul(Y, np.transpose(Y, (0, 2, 1)))
        out.append(torch.linalg.eigvalsh(torch.from_numpy(G)).numpy()[:, ::-1] / k)
    return np.clip(np.concatenate(out), 0.0, None)


def estimate_dim(A: np.ndarray, nb: Neighbors, floor: float = 1e-3) -> int:
    r"""Intrinsic dimension for the fit: local PCA, largest eigengap, median over points.

    The gap :math:`\lambda_m / \lambda_{m+1}` is taken with :math:`\lambda_{m+1}` floored at
    ``floor`` :math:`\lambda_1`: the exact zeros of a noise-free embedded sample (and the tiny
    normal variance that curvature adds) would otherwise win the largest-ratio contest.
    """
    lam = _local_spectra(A, nb, min(nb.k, TANGENT_K))
    if lam.shape[1] < 2:
        return lam.shape[1]
    ratio = lam[:, :-1] / np.maximum(lam[:, 1:], floor * lam[:, :1] + 1e-300)
    local = 1 + np.argmax(ratio, axis=1)
    return int(round(float(np.median(local))))


def _eigh_vectors(G: np.ndarray, device=None) -> np.ndarray:
    """Eigenvectors (ascending eigenvalues) of a batch of symmetric matrices, via torch on
    ``device`` (None: the CPU)."""
    import torch

    t = torch.from_numpy(G)
    if device is None or device.type == "cpu":
        return torch.linalg.eigh(t)[1].numpy()
    return torch.linalg.eigh(t.to(device))[1].cpu().numpy()


def tangent_basis(Y: np.ndarray, n: int, device=None) -> np.ndarray:
    """Leading ``n`` principal directions of each centred neighbourhood, (B, D, n)
    (the eigendecompositions on ``device``, a ``torch.device``; None: the CPU)."""
    B, k, D = Y.shape
    Yc = Y - Y.mean(axis=1, keepdims=True)
    if D <= k:
        vecs = _eigh_vectors(np.matmul(np.transpose(Yc, (0, 2, 1)), Yc), device)
        T = vecs[:, :, ::-1][:, :, :n]
    else:  # through the k x k Gram matrix: Y^T w / |Y^T w| for its leading eigenvectors w
        vecs = _eigh_vectors(np.matmul(Yc, np.transpose(Yc, (0, 2, 1))), device)
        W = vecs[:, :, ::-1][:, :, :n]
        T = np.matmul(np.transpose(Yc, (0, 2, 1)), W)
        T /= np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-300)
    return np.ascontiguousarray(T)
