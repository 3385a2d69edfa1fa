"""What a batch handed to :func:`~manifold_probe.capture.capture_modules` is: its parts, its size,
its rows (for the input hash that lets an interrupted capture resume), and its move to a device.

A batch is a tensor ``(B, T)`` of token ids, a tuple of tensors (positional arguments) or a
mapping of tensors (keyword arguments, ``attention_mask`` marking the real tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from manifold_probe._validation import InputError

__all__ = ["batch_parts", "batch_size", "hash_rows", "slice_batch", "to_device"]


def batch_parts(batch) -> tuple[tuple, dict, Any]:
    """Split a batch into (args, kwargs, attention mask or None)."""
    import torch

    if isinstance(batch, torch.Tensor):
        return (batch,), {}, None
    if isinstance(batch, np.ndarray):
        return (torch.as_tensor(batch),), {}, None
    if isinstance(batch, Mapping):
        kwargs = {k: (torch.as_tensor(v) if isinstance(v, np.ndarray) else v) for k, v in batch.items()}
        return (), kwargs, kwargs.get("attention_mask")
    if isinstance(batch, (tuple, list)):
        return tuple(batch), {}, None
    raise InputError(
        f"a batch is {type(batch).__name__}; pass tensors (batch, tokens), tuples of tensors, "
        "or dicts of tensors (e.g. a tokenizer's output with 'attention_mask')"
    )


def batch_size(args, kwargs) -> int:
    import torch

    for v in (*args, *kwargs.values()):
        if isinstance(v, torch.Tensor) and v.ndim >= 1:
            return int(v.shape[0])
    raise InputError("could not find a tensor in the batch to read its size from")


def slice_batch(args, kwargs, start: int):
    import torch

    def cut(v):
        return v[start:] if isinstance(v, torch.Tensor) and v.ndim >= 1 else v

    return tuple(cut(a) for a in args), {k: cut(v) for k, v in kwargs.items()}


def hash_rows(hasher, args, kwargs, mask, start: int = 0, stop: int | None = None) -> None:
    """Feed input rows [start, stop) to ``hasher``, real tokens only (padding-independent)."""
    import torch

    tensors = [v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor) and v.ndim >= 1]
    n = batch_size(args, kwargs)
    stop = n if stop is None else stop
    for i in range(start, stop):
        keep = mask[i].bool().cpu() if mask is not None else None
        for t in tensors:
            row = t[i].detach().cpu()
            if keep is not None and row.ndim >= 1 and row.shape[0] == keep.shape[0]:
                row = row[keep]
            hasher.update(np.ascontiguousarray(row.numpy()).tobytes())
        hasher.update(b"\x1e")


def to_device(args, kwargs, device):
    import torch

    def move(v):
        return v.to(device) if isinstance(v, torch.Tensor) else v

    return tuple(move(a) for a in args), {k: move(v) for k, v in kwargs.items()}
