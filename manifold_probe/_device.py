"""The torch device of a computation: ``None`` means CUDA when present, else the CPU.

Shared by every computation that runs in torch (the neighbour search's float32 pass, the
curvature fits, local PCA's spectra, the ball volumes), so that ``device=`` is read and refused
the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from manifold_probe._validation import InputError

__all__ = ["torch_device"]


def torch_device(device: Any, *, what: str = "this computation"):
    """The ``torch.device`` named by ``device``: ``None`` means CUDA when present, else the CPU.

    Raises :class:`~manifold_probe.InputError` for a name torch does not read, a device that is
    neither CPU nor CUDA, CUDA where torch sees none, or a CUDA index past the last device.
    """
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputError(
            f"device={device!r} is not a torch device ({exc}); use 'cpu', 'cuda' or None (CUDA "
            "when available, else CPU)"
        ) from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(
                f"device={device!r} asks for CUDA, but torch sees no CUDA device on this machine "
                "(torch.cuda.is_available() is False); use device='cpu' or device=None"
            )
        if dev.index is not None and dev.index >= count:
            raise InputError(
                f"device={device!r}: this machine has {count} CUDA device(s) (0..{count - 1})"
            )
    elif dev.type != "cpu":
        raise InputError(f"device={device!r}: {what} runs on 'cpu' or 'cuda'; got {dev.type!r}")
    return dev
