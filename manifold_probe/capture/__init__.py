"""Capture the residual stream of neural networks.

Public names
------------
``Activations``
    Frozen dataclass: ``layers`` (tuple of names), ``arrays`` (name -> (N, d) float32, rows
    aligned across layers), ``sentence_ids`` / ``position_ids`` (token-level rows) and ``meta``.
``ModelHandle``
    What :func:`load_model` returns: ``name``, ``layer_names``, ``model``, ``blocks`` (the
    residual blocks in order, for perturbation hooks), ``tokenizer``; methods
    ``capture(inputs, *, pooling=None, layers=None, batch_size=64, device=None, store=None,
    progress=False)`` and ``heads() -> (n_blocks, n_heads)``.
``load_model(spec="minilm", *, device=None)``
    ``"minilm"`` (the packaged all-MiniLM-L6-v2, offline), ``"toy-modadd"`` (our modular
    addition transformer), a local Hugging Face directory, or ``"package.module:function"``.
``capture_modules(model, batches, module_names, *, pooling="mean", ...)``
    Forward hooks on named modules of any torch model.
``capture_hidden_states(hf_model, tokenizer, sentences, *, pooling="mean", ...)``
    A Hugging Face model's ``hidden_states`` tuple (embeddings, then after each block).
``pool_tokens(hidden, mask, pooling)``
    Token pooling that never lets padding in.
``hf_layer_names(n_layers)``
    ``("embeddings", "layer_1", ..., "layer_L")``.
``perturbed(handle, perturbation, seed=0)`` / ``apply_perturbation`` / ``find_head_projection``
    Forward hooks that change a model (ablate a block, zero a head, add noise, scale); a side
    effect on the model, so it lives here with the other hooks (:mod:`.perturb`).

Pooling
-------
``"all"`` (every real token, with ``sentence_ids`` and ``position_ids``), ``"mean"`` (over real
tokens), ``"first"``, ``"last"`` (first/last real token), an int position or a list of positions
(among the real tokens; negative from the end). Special tokens ([CLS], [SEP]) count as tokens.

Residual-stream names
---------------------
Hugging Face ``hidden_states[0]`` is ``"embeddings"`` (TransformerLens
``blocks.0.hook_resid_pre``); ``hidden_states[l]`` is ``"layer_l"`` (``blocks.{l-1}.hook_resid_post``
= ``blocks.{l}.hook_resid_pre``). ``hook_resid_mid`` has no ``hidden_states`` entry: the toy model
exposes it as ``"layer_1_mid"``; for other models, hook the attention sub-layer's output module
with :func:`capture_modules`.

Heavy dependencies (torch, transformers) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Activations": "manifold_probe.capture.core",
    "capture_modules": "manifold_probe.capture.core",
    "pool_tokens": "manifold_probe.capture.core",
    "check_pooling": "manifold_probe.capture.core",
    "hash_sentences": "manifold_probe.capture.core",
    "apply_perturbation": "manifold_probe.capture.perturb",
    "perturbed": "manifold_probe.capture.perturb",
    "find_head_projection": "manifold_probe.capture.perturb",
    "ModelHandle": "manifold_probe.capture.models",
    "load_model": "manifold_probe.capture.models",
    "capture_hidden_states": "manifold_probe.capture.models",
    "hf_layer_names": "manifold_probe.capture.models",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'manifold_probe.capture' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
