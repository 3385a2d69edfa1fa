"""The metric the profile measures in: Euclidean, or cosine (rows on the unit sphere)."""

from __future__ import annotations

import numpy as np

from manifold_probe._validation import InputError

__all__ = ["METRICS", "apply_metric"]

METRICS = ("euclidean", "cosine")


def apply_metric(X: np.ndarray, metric: str, name: str = "X") -> np.ndarray:
    """The cloud the profile measures under ``metric``.

    ``"euclidean"`` returns ``X`` unchanged. ``"cosine"`` projects every row onto the unit
    sphere, :math:`x \\mapsto x / \\lVert x \\rVert`. On the sphere the Euclidean (chord) distance
    is :math:`\\lVert u - v \\rVert = \\sqrt{2 (1 - \\cos\\theta_{uv})}`, a monotone function of
    the cosine distance :math:`1 - \\cos\\theta`, so the kNN graph is the cosine-similarity
    graph, and graph geodesics, persistent homology and curvature are those of the cloud on
    the unit sphere (chord distances) — the geometry in which embedding models are compared.

    Raises
    ------
    InputError
        For an unknown metric, or a zero row (no direction) under ``"cosine"``.
    """
    if metric not in METRICS:
        raise InputError(f"metric must be one of {METRICS}; got {metric!r}")
    if metric == "euclidean":
        return X
    X = np.asarray(X)
    norms = np.linalg.norm(X.astype(np.float64, copy=False), axis=1)
    zero = np.flatnonzero(~(norms > 0))
    if zero.size:
        raise InputError(
            f"{name}: {zero.size} row(s) have zero norm (first: row {zero[0]}), which have no "
            "direction under the cosine metric; drop them or use metric='euclidean'")
    return (X / norms[:, None]).astype(X.dtype, copy=False)
