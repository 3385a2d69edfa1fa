"""The handle of a loaded model: :class:`ModelHandle` (capture, heads, blocks, fingerprint).

Layer names (one convention for every model; see :mod:`manifold_probe.capture.architectures`):
``"embeddings"`` = the first block's input (``blocks.0.hook_resid_pre``), ``"layer_l"`` = the
output of block ``l``, 1-based (``blocks.{l-1}.hook_resid_post``), and ``"ln_final"`` = the
final norm's output, captured only when asked for by name.

The model sources are in :mod:`.loaders` (:func:`~manifold_probe.capture.loaders.load_model`:
packaged, local Hugging Face directory, in-memory model, TransformerLens, nnsight, code spec);
the text capture in :mod:`.hidden_states`. ``load_model``, ``capture_hidden_states``,
``hf_layer_names`` and ``offline_loading`` are still importable from here.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_int
from manifold_probe.capture.architectures import FINAL_NORM_NAME, Architecture, block_index
from manifold_probe.capture.core import Activations, capture_modules
from manifold_probe.capture.hidden_states import (
    capture_hidden_states,
    select_layers,
    tap_points,
    taps_module,
    tlens_call,
)

__all__ = ["ModelHandle"]

# names that moved to .loaders / .hidden_states, still importable from here
_MOVED = {
    "load_model": "manifold_probe.capture.loaders",
    "capture_hidden_states": "manifold_probe.capture.hidden_states",
    "hf_layer_names": "manifold_probe.capture.hidden_states",
    "offline_loading": "manifold_probe.capture.hidden_states",
    "MINILM_MAX_LENGTH": "manifold_probe.capture.hidden_states",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

    @property
    def hook_points(self) -> tuple[str, ...]:
        """Capture points inside the blocks, named like TransformerLens hook points
        (``blocks.{l}.hook_attn_out``, ``blocks.{l}.hook_mlp_out``, ``blocks.{l}.attn.hook_z.{h}``,
        ``l`` 0-based), for the recognised layouts; ask :meth:`capture` for them by name. See
        :mod:`manifold_probe.capture.hook_points`."""
        if self.architecture is None or self.kind not in ("hf", "tlens", "modules"):
            return ()
        from manifold_probe.capture.hook_points import hook_point_names

        return hook_point_names(self.architecture, self.n_heads)

    def block(self, layer: Any):
        """The block whose output is ``layer`` (``"layer_l"`` or ``l``, 1-based)."""
        return self.blocks[block_index(layer, len(self.blocks))]

    def fingerprint(self) -> str:
        """SHA-256 of what determines this model's activations: every tensor of the state dict
        (name, dtype, shape and bytes, in name order), the model config (without where it was
        loaded from), the tokenizer (its full serialisation and settings) and the layer
        layout. Same weights → same fingerprint in any process; one changed weight → a new one.

        Cost: one pass over the weights (``docs/validation.md#fingerprint-cost``). Not cached,
        so an in-place edit of the weights is always seen.
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
                call=tlens_call if self.kind == "tlens" else None,
            )
        import torch

        inputs = self.inputs_for(inputs)
        extra = (FINAL_NORM_NAME,) if FINAL_NORM_NAME in self.available_layers else ()
        chosen = select_layers(self.layer_names, layers, extra)
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
            tap = taps_module(self.model, lambda m, *a, **k: m(*a, **k),
                               tap_points(self.architecture, chosen))
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
