"""Capture the residual stream of neural networks.

Public names
------------
``Activations``
    Frozen dataclass: ``layers`` (tuple of names), ``arrays`` (name -> (N, d) float32, rows
    aligned across layers), ``sentence_ids`` / ``position_ids`` (token-level rows) and ``meta``.
``ModelHandle``
    What :func:`load_model` returns: ``name``, ``layer_names``, ``model``, ``blocks`` (the
    residual blocks in order: ``blocks[l - 1]`` produces ``"layer_l"``), ``tokenizer``,
    ``architecture``; methods ``capture(inputs, *, pooling=None, layers=None, batch_size=64,
    device=None, store=None, progress=False)``, ``heads() -> (n_blocks, n_heads)``,
    ``block(layer)``, ``fingerprint() -> str`` (SHA-256 of weights, config and tokenizer) and
    the property ``available_layers``.
``load_model(spec="minilm", *, tokenizer=None, device=None, trust_code=False, blocks=None, final_norm=None, name=None)``
    ``"minilm"`` (the packaged all-MiniLM-L6-v2, offline), ``"toy-modadd"`` (our modular
    addition transformer), a local Hugging Face directory, an in-memory model (Hugging Face
    model + tokenizer, ``(model, tokenizer)``, TransformerLens ``HookedTransformer``, nnsight
    ``LanguageModel``, any ``nn.Module``), or ``"package.module:function"`` with
    ``trust_code=True`` (it runs code).
``capture_modules(model, batches, module_names, *, pooling="mean", ...)``
    Forward hooks on named modules (any module path) of any torch model.
``capture_hidden_states(hf_model, tokenizer, sentences, *, pooling="mean", ...)``
    A text transformer's residual stream, read with hooks on its blocks.
``detect_architecture(model)``, ``find_head_projection(block)``, ``zero_head(block, head)``, ``block_index(layer, n_blocks)``
    Blocks, final norm and attention-head layout of BERT, GPT-2, GPT-NeoX, Llama/Mistral/Qwen
    and TransformerLens models (:mod:`manifold_probe.capture.architectures`).
``pool_tokens(hidden, mask, pooling)``
    Token pooling that never lets padding in.
``hf_layer_names(n_layers)``
    ``("embeddings", "layer_1", ..., "layer_L")``.
``perturbed(handle, perturbation, seed=0)`` / ``apply_perturbation``
    Forward hooks that change a model (ablate a block, zero a head, add noise, scale) at layer
    ``l`` (1-based: block ``l``, or ``"layer_l"``); a side effect on the model, so it lives here
    with the other hooks (:mod:`.perturb`, one function per kind in ``PERTURBATIONS``).

Pooling
-------
``"all"`` (every real token, with ``sentence_ids`` and ``position_ids``), ``"mean"`` (over real
tokens), ``"first"``, ``"last"`` (first/last real token), an int position or a list of positions
(among the real tokens; negative from the end). Special tokens ([CLS], [SEP], BOS) count as
tokens. Padding never produces a row.

Layer names (one convention, for every model and for perturbations)
--------------------------------------------------------------------
- ``"embeddings"``: the first block's input (TransformerLens ``blocks.0.hook_resid_pre``);
- ``"layer_l"``, ``l = 1 … L``: the output of block ``l`` (1-based; ``blocks.{l-1}.hook_resid_post``
  = ``blocks.{l}.hook_resid_pre``). ``"layer_L"`` is the residual stream *before* the final
  norm (Hugging Face's ``hidden_states[-1]`` is after it in pre-norm decoders);
- ``"ln_final"``: the final norm's output (GPT-2 ``ln_f``, GPT-NeoX ``final_layer_norm``,
  Llama/Mistral/Qwen ``norm``), captured only when named in ``layers``; BERT-style post-norm
  encoders have none.
A perturbation at layer ``l`` acts on block ``l`` = ``blocks[l - 1]`` and first shows in
``"layer_l"``. ``hook_resid_mid`` is not a block output: the toy model exposes it as
``"layer_1_mid"``; for other models hook the attention sub-layer with :func:`capture_modules`.

Modules: :mod:`.loaders` (one loader per model source), :mod:`.models` (``ModelHandle``),
:mod:`.hidden_states` (text capture, offline loading), :mod:`.architectures`, :mod:`.core`,
:mod:`.perturb`, :mod:`.toy`. Heavy dependencies (torch, transformers) are imported on first use.
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
    "ModelHandle": "manifold_probe.capture.models",
    "load_model": "manifold_probe.capture.loaders",
    "capture_hidden_states": "manifold_probe.capture.hidden_states",
    "hf_layer_names": "manifold_probe.capture.hidden_states",
    "offline_loading": "manifold_probe.capture.hidden_states",
    "Architecture": "manifold_probe.capture.architectures",
    "HeadProjection": "manifold_probe.capture.architectures",
    "detect_architecture": "manifold_probe.capture.architectures",
    "find_head_projection": "manifold_probe.capture.architectures",
    "zero_head": "manifold_probe.capture.architectures",
    "block_index": "manifold_probe.capture.architectures",
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
