"""Capture points inside a block, named like TransformerLens hook points.

Besides the residual stream at block boundaries (``embeddings``, ``layer_l``), a block's
sublayer outputs are clouds researchers look at:

=================================  ======================================================
name (``l`` 0-based, as in TL)     what it is
=================================  ======================================================
``blocks.{l}.hook_attn_out``       the attention sublayer's output, before it is added to
                                   the residual stream (after the output projection)
``blocks.{l}.hook_mlp_out``        the MLP sublayer's output, before it is added
``blocks.{l}.attn.hook_z.{h}``     head ``h``'s output before the output projection
                                   (TL ``hook_z[..., h, :]``, width ``d_head``)
=================================  ======================================================

``l`` is 0-based like TransformerLens' ``blocks.{l}``: ``blocks.{l}`` produces the residual
state ``layer_{l+1}``. Where each point is read, per recognised layout:

==================  ==============================  =====================  ================
family              attention output                MLP output             heads (input of)
==================  ==============================  =====================  ================
BERT / MiniLM       ``attention.output.dense``      ``output.dense``       ``attention.output.dense``
MPNet               ``attention.attn`` (``o(·)``)   ``output.dense``       ``attention.attn.o``
GPT-2               ``attn``                        ``mlp``                ``attn.c_proj``
GPT-NeoX / Pythia   ``attention``                   ``mlp``                ``attention.dense``
Llama / Mistral     ``self_attn``                   ``mlp``                ``self_attn.o_proj``
TransformerLens     ``hook_attn_out``               ``hook_mlp_out``       ``attn.hook_z``
==================  ==============================  =====================  ================

In post-norm encoders (BERT, MPNet) the sublayer output is read before the dropout and the
LayerNorm that follow the residual addition, which is where TransformerLens places these hooks.
Dropout is inactive in capture (the model is in eval mode), so this is also the value added.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from manifold_probe._validation import InputError
from manifold_probe.capture.architectures import Architecture, find_head_projection

__all__ = ["HOOK_POINT_PATTERN", "is_hook_point", "hook_point_names", "hook_point_tap"]

HOOK_POINT_PATTERN = re.compile(r"blocks\.(\d+)\.(hook_attn_out|hook_mlp_out|attn\.hook_z\.(\d+))")

# family -> (attention-output module, MLP-output module), relative to the block
_SUBLAYERS: dict[str, tuple[str, str]] = {
    "bert": ("attention.output.dense", "output.dense"),
    "mpnet": ("attention.attn", "output.dense"),
    "gpt2": ("attn", "mlp"),
    "gpt_neox": ("attention", "mlp"),
    "llama": ("self_attn", "mlp"),
    "transformer_lens": ("hook_attn_out", "hook_mlp_out"),
}


def is_hook_point(name: Any) -> bool:
    """Whether ``name`` has the form of a hook-point name (its indices are checked later)."""
    return isinstance(name, str) and HOOK_POINT_PATTERN.fullmatch(name) is not None


def _module(block: Any, path: str):
    module = block
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def hook_point_names(arch: Architecture, n_heads: int | None = None) -> tuple[str, ...]:
    """Every hook point of a model in forward order (block by block: attention, MLP, heads).

    Parameters
    ----------
    arch : Architecture
    n_heads : int, optional
        Heads per block; default: read from the first block (none listed if not found).
    """
    if arch.family not in _SUBLAYERS:
        return ()
    if n_heads is None:
        try:
            n_heads = find_head_projection(arch.blocks[0], getattr(arch.root, "config", None)).n_heads
        except InputError:
            n_heads = 0
    names: list[str] = []
    for layer in range(arch.n_blocks):
        names += [f"blocks.{layer}.hook_attn_out", f"blocks.{layer}.hook_mlp_out"]
        names += [f"blocks.{layer}.attn.hook_z.{h}" for h in range(n_heads)]
    return tuple(names)


def hook_point_tap(arch: Architecture, name: str) -> tuple[Any, str, Callable | None]:
    """Where to read hook point ``name``: ``(module, "input" | "output", select)``.

    ``select`` (or ``None``) maps the module's tensor to the hook point's (one head's slice).

    Raises
    ------
    InputError
        When the name is malformed, its block or head does not exist, or the model's layout is
        not one of the recognised families.
    """
    m = HOOK_POINT_PATTERN.fullmatch(name) if isinstance(name, str) else None
    if m is None:
        raise InputError(f"{name!r} is not a hook point; use 'blocks.{{l}}.hook_attn_out', "
                         "'blocks.{l}.hook_mlp_out' or 'blocks.{l}.attn.hook_z.{h}' (l 0-based)")
    layer = int(m.group(1))
    if not 0 <= layer < arch.n_blocks:
        raise InputError(f"{name}: block {layer} does not exist; blocks are 0..{arch.n_blocks - 1} "
                         "(0-based, as TransformerLens: blocks.{l} produces layer_{l+1})")
    block = arch.blocks[layer]
    if arch.family not in _SUBLAYERS:
        raise InputError(
            f"{name}: hook points are mapped for {', '.join(sorted(_SUBLAYERS))} layouts, not "
            f"{arch.family!r}; capture a module of your own with capture_modules(model, batches, "
            "[module path])")
    what = m.group(2)
    if what.startswith("attn.hook_z"):
        head = int(m.group(3))
        hp = find_head_projection(block, getattr(arch.root, "config", None))
        if not 0 <= head < hp.n_heads:
            raise InputError(f"{name}: head {head} does not exist; heads are 0..{hp.n_heads - 1}")
        if hp.split_axis:  # TransformerLens hook_z: (..., n_heads, d_head)
            return hp.module, "output", lambda t, h=head: t[..., h, :]
        sl = hp.head_slice(head)
        return hp.module, "input", lambda t, sl=sl: t[..., sl]
    path = _SUBLAYERS[arch.family][0 if what == "hook_attn_out" else 1]
    module = _module(block, path)
    if module is None:
        raise InputError(f"{name}: block {layer} ({type(block).__name__}) has no {path}; its "
                         f"layout differs from the {arch.family} family's")
    return module, "output", None
