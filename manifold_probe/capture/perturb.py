"""Changes to a model, made with forward hooks, to ask which changes preserve topology.

A perturbation "at layer ``l``" acts on block ``l`` (``handle.blocks[l - 1]``, 1-based like the
layer names: ``"layer_l"`` is block ``l``'s output), so it first shows in ``"layer_l"``;
``layer`` is the number ``l`` or the name ``"layer_l"`` (see
:func:`manifold_probe.capture.architectures.block_index`). The kinds:

- ``ablate_block``: skip the block — its output is its input, so the residual stream passes
  through unchanged (for a residual block ``x -> x + f(x)``, this removes ``f``);
- ``zero_head``: zero one attention head's output, before the attention's output projection
  (:func:`manifold_probe.capture.architectures.zero_head`: BERT, GPT-2, GPT-NeoX,
  Llama/Mistral/Qwen and TransformerLens layouts);
- ``noise``: add Gaussian noise of a given Euclidean norm to every vector of the block's output
  (a uniformly random direction, scaled to the norm; seeded);
- ``scale``: multiply the block's output by a factor.

Each kind is one function in :data:`PERTURBATIONS` (``fn(handle, block_number, perturbation,
seed) -> list of hook handles``); a new kind is one more entry. :func:`perturbed` is a context
manager that installs the hooks and always removes them, so the model is unchanged afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from manifold_probe._validation import InputError
from manifold_probe.capture.architectures import block_index, zero_head

__all__ = ["PERTURBATIONS", "apply_perturbation", "perturbed"]


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


def _ablate_block(handle: Any, b: int, perturbation: Any, seed: int) -> list[Any]:
    def hook(module, args, kwargs, output):
        x = args[0] if args else kwargs.get("hidden_states", next(iter(kwargs.values())))
        return _replace_first(output, x)

    return [handle.blocks[b].register_forward_hook(hook, with_kwargs=True, prepend=True)]


def _scale(handle: Any, b: int, perturbation: Any, seed: int) -> list[Any]:
    factor = float(perturbation.factor)

    def hook(module, args, output):
        return _replace_first(output, _first_tensor(output) * factor)

    return [handle.blocks[b].register_forward_hook(hook, prepend=True)]


def _noise(handle: Any, b: int, perturbation: Any, seed: int) -> list[Any]:
    import torch

    norm = float(perturbation.norm)
    gen = torch.Generator().manual_seed(int(seed))

    def hook(module, args, output):
        y = _first_tensor(output)
        eps = torch.randn(y.shape, generator=gen, dtype=torch.float32).to(y.device, y.dtype)
        eps = eps * (norm / eps.norm(dim=-1, keepdim=True).clamp_min(1e-30))
        return _replace_first(output, y + eps)

    return [handle.blocks[b].register_forward_hook(hook, prepend=True)]


def _zero_head(handle: Any, b: int, perturbation: Any, seed: int) -> list[Any]:
    model = getattr(handle, "model", None)
    config = (getattr(model, "config", None) or getattr(model, "cfg", None)
              or getattr(handle, "extra", {}).get("config"))
    head = perturbation.head
    try:
        return [zero_head(handle.blocks[b], int(head) if head is not None else head, config)]
    except InputError as exc:
        raise InputError(f"zero_head at layer {b + 1}: {exc}") from None


#: kind -> ``fn(handle, block_position, perturbation, seed) -> list of hook handles``.
PERTURBATIONS: dict[str, Callable[[Any, int, Any, int], list[Any]]] = {
    "ablate_block": _ablate_block,
    "zero_head": _zero_head,
    "noise": _noise,
    "scale": _scale,
}


def apply_perturbation(handle: Any, perturbation: Any, seed: int = 0,
                       context: Any = None) -> list[Any]:
    """Install the hooks of one perturbation on ``handle.blocks``; returns the hook handles.

    ``perturbation`` has ``kind``, ``layer`` (``l`` in ``1 … L`` or ``"layer_l"``: block ``l``,
    whose output is ``"layer_l"``) and ``head`` / ``norm`` / ``factor`` as its kind needs (a
    :class:`manifold_probe.config.PerturbationConfig`). ``kind="transform"`` (the keep/break
    controls of :mod:`manifold_probe.capture.transforms`) also needs ``context``, a
    :class:`~manifold_probe.capture.transforms.TransformContext`.

    Raises
    ------
    InputError
        An unknown kind, or a layer outside ``1 … L`` (``0`` is the embeddings, which no block
        produces).
    """
    kind = perturbation.kind
    if kind not in PERTURBATIONS and kind != "transform":
        raise InputError(f"unknown perturbation kind {kind!r}; use one of {sorted(PERTURBATIONS)}")
    n_blocks = len(handle.blocks)
    try:
        b = block_index(perturbation.layer, n_blocks)
    except InputError as exc:
        raise InputError(f"perturbation {kind} at layer {perturbation.layer!r}: {exc}") from None
    if kind == "transform":
        from manifold_probe.capture.transforms import install_transform

        return install_transform(list(handle.blocks), b, perturbation, context, seed,
                                 _first_tensor, _replace_first, f"layer_{b + 1}")
    return PERTURBATIONS[kind](handle, b, perturbation, seed)


@contextlib.contextmanager
def perturbed(handle: Any, perturbation: Any, seed: int = 0, context: Any = None) -> Iterator[Any]:
    """Within the block, ``handle``'s model runs with the perturbation; the hooks are removed after."""
    hooks = apply_perturbation(handle, perturbation, seed, context)
    try:
        yield handle
    finally:
        for hk in hooks:
            hk.remove()
