"""The in-memory result of a capture: per-layer activations of the same inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Activations"]


@dataclass(frozen=True)
class Activations:
    """Per-layer activations of the same inputs.

    Attributes
    ----------
    layers : tuple of str
        Layer names in forward order, e.g. ``("embeddings", "layer_1", ..., "layer_6")``.
    arrays : dict of str to ndarray of shape (N, d), float32
        One array per layer; row ``i`` is the same input (token, or pooled sentence) in every
        layer. Dask arrays when read lazily from a store.
    sentence_ids : ndarray of int64, shape (N,), or None
        For token-level rows (``pooling="all"`` or a list of positions): the input each row
        comes from. ``None`` when there is one row per input (row ``i`` is input ``i``).
    position_ids : ndarray of int64, shape (N,), or None
        For token-level rows: the token position within its input (0 = first real token).
    meta : dict
        Model name, pooling, number of inputs, input hash, package version, ...
    """

    layers: tuple[str, ...]
    arrays: dict[str, Any]
    sentence_ids: np.ndarray | None = None
    position_ids: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __getitem__(self, layer: str):
        return self.arrays[layer]

    @property
    def n_rows(self) -> int:
        """Number of rows (points) per layer."""
        return int(self.arrays[self.layers[0]].shape[0]) if self.layers else 0
