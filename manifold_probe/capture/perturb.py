"""Changes to a model, made with forward hooks, to ask which changes preserve topology.

Four kinds of change, each applied to one block of ``handle.blocks`` (the residual blocks of a
captured model, in forward order):

- ``ablate_block``: skip the block — its output is its input, so the residual stream passes
  through unchanged (for a residual block ``x -> x + f(x)``, this removes ``f``);
- ``zero_head``: zero one attention head's output, before the attention's output projection
  (hidden size ``H * d_head``: slice ``[h d_head, (h + 1) d_head)``);
- ``noise``: add Gaussian noise of a given Euclidean norm to every vector of the block's output
  (a uniformly random direction, scaled to the norm; seeded);
- ``scale``: multiply the block's output by a factor.

:func:`perturbed` is a context manager that installs the hooks and always removes them, so the
model is unchanged afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from manifold_probe._validation import InputError

__all__ = ["apply_perturbation", "find_head_projection", "perturbed"]


def _first_tensor(value: Any):
    if isinstance(value, (tuple, list)):
        return value[0]
    if hasattr(value, "last_hidden_state"):
        return value.last_hidden_state
    return value


def _replace_first(value: Any, tensor: Any):
    if isinstance(value, tuple):
        return (tensor, *value[1:])
    if isinstance(value, list):
        return [tensor, *value[1:]]
    if hasattr(value, "last_hidden_state"):
        value.last_hidden_state = tensor
        return value
    return tensor


def find_head_projection(block: Any) -> tuple[Any, int]:
    """The module whose input is the concatenation of the heads' outputs, and the head count.

    Recognises Hugging Face BERT-style blocks (``attention.self.num_attention_heads`` and
    ``attention.output.dense``), TransformerLens-style blocks (an ``attn`` with ``n_heads`` and
    ``W_O``), and GPT-2 style blocks (``attn.num_heads`` and ``attn.c_proj``).
    """
    att = getattr(block, "attention", None)
    if att is not None and hasattr(getattr(att, "self", None), "num_attention_heads"):
        out = getattr(getattr(att, "output", None), "dense", None)
        if out is not None:
            return out, int(att.self.num_attention_heads)
    attn = getattr(block, "attn", None) or getattr(block, "self_attn", None)
    if attn is not None:
        n_heads = next((getattr(attn, a) for a in ("n_heads", "num_heads", "num_attention_heads")
                        if hasattr(attn, a)), None)
        proj = next((getattr(attn, a) for a in ("W_O", "c_proj", "out_proj", "o_proj")
                     if hasattr(attn, a)), None)
        if n_heads is not None and proj is not None:
            return proj, int(n_heads)
    raise InputError(
        f"cannot find the attention heads of block {type(block).__name__}: expected a BERT-, "
        "TransformerLens- or GPT-2-style block; use kind='ablate_block' or 'scale' instead"
    )


def apply_perturbation(handle: Any, perturbation: Any, seed: int = 0,
                       context: Any = None) -> list[Any]:
    """Install the hooks of one perturbation on ``handle.blocks``; returns the hook handles.

    ``perturbation`` has ``kind``, ``layer`` (block index) and ``head`` / ``norm`` / ``factor``
    as its kind needs (a :class:`manifold_probe.config.PerturbationConfig`). ``kind="transform"``
    (the keep/break controls of :mod:`manifold_probe.capture.transforms`) also needs
    ``context``, a :class:`~manifold_probe.capture.transforms.TransformContext`.
    """
    import torch

    blocks = list(handle.blocks)
    b = int(perturbation.layer)
    if not 0 <= b < len(blocks):
        raise InputError(
            f"perturbation {perturbation.kind} at block {b}: the model has {len(blocks)} blocks "
            f"(0..{len(blocks) - 1})"
        )
    block = blocks[b]
    kind = perturbation.kind
    if kind == "ablate_block":
        def hook(module, args, kwargs, output):
            x = args[0] if args else kwargs.get("hidden_states", next(iter(kwargs.values())))
            return _replace_first(output, x)

        return [block.register_forward_hook(hook, with_kwargs=True, prepend=True)]
    if kind == "scale":
        factor = float(perturbation.factor)

        def hook(module, args, output):
            return _replace_first(output, _first_tensor(output) * factor)

        return [block.register_forward_hook(hook, prepend=True)]
    if kind == "noise":
        norm = float(perturbation.norm)
        gen = torch.Generator().manual_seed(int(seed))

        def hook(module, args, output):
            y = _first_tensor(output)
            eps = torch.randn(y.shape, generator=gen, dtype=torch.float32).to(y.device, y.dtype)
            eps = eps * (norm / eps.norm(dim=-1, keepdim=True).clamp_min(1e-30))
            return _replace_first(output, y + eps)

        return [block.register_forward_hook(hook, prepend=True)]
    if kind == "zero_head":
        proj, n_heads = find_head_projection(block)
        h = int(perturbation.head)
        if not 0 <= h < n_heads:
            raise InputError(f"zero_head: block {b} has {n_heads} heads (0..{n_heads - 1}); got {h}")

        def pre_hook(module, args):
            z = args[0]
            d_head = z.shape[-1] // n_heads
            z = z.clone()
            z[..., h * d_head:(h + 1) * d_head] = 0
            return (z, *args[1:])

        return [proj.register_forward_pre_hook(pre_hook)]
    if kind == "transform":
        from manifold_probe.capture.transforms import install_transform

        return install_transform(blocks, b, perturbation, context, seed, _first_tensor,
                                 _replace_first, f"layer_{b + 1}")
    raise InputError(f"unknown perturbation kind {kind!r}")


@contextlib.contextmanager
def perturbed(handle: Any, perturbation: Any, seed: int = 0, context: Any = None) -> Iterator[Any]:
    """Within the block, ``handle``'s model runs with the perturbation; the hooks are removed after."""
    hooks = apply_perturbation(handle, perturbation, seed, context)
    try:
        yield handle
    finally:
        for hk in hooks:
            hk.remove()
