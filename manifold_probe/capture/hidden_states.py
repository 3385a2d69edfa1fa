"""The residual stream of text models, read with forward hooks: :func:`capture_hidden_states`.

Layer names (one convention for every model; see :mod:`manifold_probe.capture.architectures`):
``"embeddings"`` = the first block's input (``blocks.0.hook_resid_pre``), ``"layer_l"`` = the
output of block ``l``, 1-based (``blocks.{l-1}.hook_resid_post``), and ``"ln_final"`` = the
final norm's output, captured only when asked for by name. Also the tap module that reads
chosen blocks' inputs/outputs of any torch model (used by :class:`~.models.ModelHandle`) and
:func:`offline_loading`, the one place Hugging Face is switched offline (for our own loading).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
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
from manifold_probe.capture.hook_points import hook_point_tap, is_hook_point

__all__ = [
    "MINILM_MAX_LENGTH",
    "capture_hidden_states",
    "hf_layer_names",
    "offline_loading",
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


def select_layers(all_names: Sequence[str], layers: Any, extra: Sequence[str] = ()) -> list[str]:
    """Names of the requested layers: names from ``all_names`` or ``extra``, or indices into
    ``all_names`` (0 = ``"embeddings"``, ``l`` = ``"layer_l"``, negative from the end)."""
    if layers is None:
        return list(all_names)
    if isinstance(layers, (str, int, np.integer)):
        layers = [layers]
    out = []
    for layer in layers:
        if isinstance(layer, str):
            if layer not in all_names and layer not in extra and not is_hook_point(layer):
                raise InputError(
                    f"layer {layer!r} is not one of {[*all_names, *extra]} nor a hook point "
                    "such as 'blocks.0.hook_attn_out', 'blocks.0.hook_mlp_out' or "
                    "'blocks.0.attn.hook_z.3'")
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


def taps_module(inner, call, points, owner=None):
    """A module that runs ``call(inner, *args, **kwargs)`` and passes each tap point's tensor
    through an identity child ``tap_j`` (so :func:`capture_modules` can hook it).

    ``points``: ``(module, where)`` or ``(module, where, select)`` with ``where`` = ``"input"``
    (the module's first input, a forward pre-hook) or ``"output"`` (its output's first tensor, a
    forward hook appended after any hooks already installed — e.g. perturbations — so it sees
    their effect); ``select`` maps that tensor to the captured one (a head's slice). ``owner``
    (the whole model, when ``inner`` is part of it) moves with it, so ``device=`` never leaves a
    model split across devices.
    """
    import torch

    from manifold_probe.capture.core import first_tensor

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
                for j, (module, where, *rest) in enumerate(points):
                    tap = getattr(self, f"tap_{j}")
                    select = rest[0] if rest and rest[0] is not None else (lambda t: t)
                    if where == "input":
                        def pre(_m, a, kw, tap=tap, select=select):
                            tap(select(_first_tensor_in(a, kw)))

                        handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
                    else:
                        def post(_m, _a, out, tap=tap, select=select):
                            tap(select(first_tensor(out)))

                        handles.append(module.register_forward_hook(post))
                return call(self.inner, *args, **kwargs)
            finally:
                for h in handles:
                    h.remove()

    return Taps()


def tap_points(arch: Architecture, names: Sequence[str]):
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
        elif is_hook_point(name):
            points.append(hook_point_tap(arch, name))
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


def tlens_call(inner, *, input_ids, attention_mask, **_):
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


def default_max_length(tokenizer, model) -> int:
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
    chosen = select_layers(names, layers, extra)
    if max_length is None:
        max_length = default_max_length(tokenizer, hf_model)
    max_length = check_int(max_length, name="max_length", minimum=1)

    call = call or _hf_call(arch.root)
    inner = arch.root if call is not tlens_call else hf_model
    tap = taps_module(inner, call, tap_points(arch, chosen), owner=hf_model)
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
