"""The k-nearest-neighbour graph type (see :mod:`manifold_probe.neighbors`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from manifold_probe._validation import (
    InputError,
    check_int,
)

__all__ = ["METRICS", "Neighbors"]

METRICS = ("euclidean", "cosine")
EPS32 = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Neighbors:
    """The k nearest neighbours of every point (self excluded).

    Attributes
    ----------
    distances : ndarray of float64, shape (n_points, k)
        Distance to each neighbour, ascending along a row. Exact: recomputed in float64 from the
        coordinates (for ``metric="cosine"``, ``1 - cos`` of the angle between the points).
    indices : ndarray of int64, shape (n_points, k)
        Row index of each neighbour. Ties (equal distances, exact duplicates included) are
        broken by the smaller index, so the graph is deterministic.
    metric : str
        ``"euclidean"`` or ``"cosine"``.
    """

    distances: np.ndarray
    indices: np.ndarray
    metric: str = "euclidean"

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    @property
    def n_points(self) -> int:
        return int(self.indices.shape[0])

    def truncate(self, k: int) -> Neighbors:
        """The first ``k`` neighbours of every point (the kNN graph for a smaller k)."""
        k = check_int(k, name="k", minimum=1)
        if k > self.k:
            raise InputError(
                f"this neighbour graph has k={self.k}; cannot truncate to k={k}. "
                f"Recompute it with mp.knn(X, k={k})"
            )
        if k == self.k:
            return self
        return Neighbors(self.distances[:, :k], self.indices[:, :k], self.metric)
