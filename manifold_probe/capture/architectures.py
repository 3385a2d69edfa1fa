"""Where the residual stream and the attention heads live in common transformer layouts.

One convention for every model (see :mod:`manifold_probe.capture`):

- ``"embeddings"`` is the input of the first block (TransformerLens ``blocks.0.hook_resid_pre``:
  token + position embeddings after their own dropout/LayerNorm, as the first block sees them);
- ``"layer_l"``, ``l = 1 … L``, is the output of block ``l`` (1-based;
  ``blocks.{l-1}.hook_resid_post``), read with a forward hook on the block. For pre-norm
  decoders ``"layer_L"`` is the residual stream **before** the final norm;
- ``"ln_final"`` is the output of the final norm (GPT-2 ``ln_f``, GPT-NeoX
  ``final_layer_norm``, Llama/Mistral/Qwen ``norm``, TransformerLens ``ln_final``), available
  on request; post-norm encoders (BERT) have none.

A perturbation "at layer ``l``" acts on block ``l`` (``blocks[l - 1]``), so it first shows in
``"layer_l"``: :func:`block_index` converts a layer name or 1-based index to the position in
:attr:`Architecture.blocks`.

Heads: every supported layout concatenates the heads' outputs, head ``h`` in features
``[h d_head, (h + 1) d_head)``, and feeds them to one output projection; the heads are split on
that projection's **input** (:func:`find_head_projection`).

=====================  ==============================  ===============================
family                 blocks                          head output projection
=====================  ==============================  ===============================
BERT / RoBERTa / MiniLM ``encoder.layer``               ``attention.output.dense``
GPT-2                  ``h``                           ``attn.c_proj`` (``Conv1D``)
GPT-NeoX / Pythia      ``layers``                      ``attention.dense``
Llama / Mistral / Qwen ``layers``                      ``self_attn.o_proj``
TransformerLens        ``blocks``                      ``attn.hook_z`` (heads on an axis)
=====================  ==============================  ===============================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from manifold_probe._validation import InputError

__all__ = [
    "Architecture",
    "HeadProjection",
    "detect_architecture",
    "find_head_projection",
    "zero_head",
    "block_index",
    "residual_layer_names",
    "FINAL_NORM_NAME",
]

FINAL_NORM_NAME = "ln_final"

# Relative to the base model (HF ``model.base_model``, or the module itself).
_BLOCK_PATHS = (
    "encoder.layer",  # BERT, RoBERTa, MiniLM, ELECTRA
    "h",  # GPT-2, GPT-J, BLOOM, Falcon
    "layers",  # Llama, Mistral, Qwen, Gemma, GPT-NeoX, Phi
    "blocks",  # TransformerLens, the toy model
    "decoder.layers",  # OPT
    "transformer.h",
    "model.layers",
    "encoder.layers",
    "transformer.layer",  # DistilBERT
)
_FINAL_NORM_PATHS = (
    "ln_f",  # GPT-2, GPT-J, BLOOM, Falcon
    "norm",  # Llama, Mistral, Qwen, Gemma
    "final_layer_norm",  # GPT-NeoX, OPT (decoder.final_layer_norm)
    "final_layernorm",  # Phi
    "ln_final",  # TransformerLens, the toy model
    "decoder.final_layer_norm",
    "transformer.ln_f",
    "model.norm",
)


@dataclass(frozen=True)
class Architecture:
    """Where a model's residual stream is.

    Attributes
    ----------
    family : str
        ``"bert"``, ``"mpnet"``, ``"gpt2"``, ``"gpt_neox"``, ``"llama"`` (also Mistral, Qwen: any
        ``self_attn.o_proj`` layout), ``"transformer_lens"`` or ``"generic"``.
    root : torch.nn.Module
        The module that runs the blocks (HF ``base_model``; the model itself otherwise).
    blocks_path : str
        Name of the blocks' ``ModuleList`` within ``root``.
    blocks : tuple of torch.nn.Module
        The residual blocks in forward order.
    final_norm_path : str or None
        Name of the final norm within ``root``; ``None`` when the model has none (BERT).
    final_norm : torch.nn.Module or None
    embeddings : torch.nn.Module or None
        The token-embedding module (for reference; the ``"embeddings"`` layer is read as the
        first block's input).
    """

    family: str
    root: Any
    blocks_path: str
    blocks: tuple
    final_norm_path: str | None
    final_norm: Any
    embeddings: Any

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    def layer_names(self, *, final_norm: bool = False) -> tuple[str, ...]:
        """``("embeddings", "layer_1", …, "layer_L")``, plus ``"ln_final"`` if asked and present."""
        return residual_layer_names(self.n_blocks, final_norm=final_norm and self.final_norm is not None)


def residual_layer_names(n_blocks: int, *, final_norm: bool = False) -> tuple[str, ...]:
    """``("embeddings", "layer_1", …, "layer_L")`` (and ``"ln_final"`` when ``final_norm``)."""
    names = ("embeddings", *(f"layer_{i}" for i in range(1, n_blocks + 1)))
    return (*names, FINAL_NORM_NAME) if final_norm else names


def block_index(layer: Any, n_blocks: int) -> int:
    """Position in ``blocks`` of the block whose output is ``layer``.

    ``layer`` is a name ``"layer_l"`` or a 1-based block number ``l`` (``1 ≤ l ≤ L``); the
    answer is ``l - 1``. ``"embeddings"`` and ``"ln_final"`` are not block outputs.
    """
    if isinstance(layer, str):
        m = re.fullmatch(r"layer_(\d+)", layer)
        if not m:
            raise InputError(
                f"layer {layer!r} is not a block output; name one of 'layer_1' … 'layer_{n_blocks}'"
            )
        layer = int(m.group(1))
    if isinstance(layer, bool) or not isinstance(layer, int) and not hasattr(layer, "__index__"):
        raise InputError(f"layer must be 'layer_l' or an int l in 1..{n_blocks}; got {layer!r}")
    layer = int(layer)
    if not 1 <= layer <= n_blocks:
        raise InputError(
            f"layer {layer} is outside 1..{n_blocks}: layers are numbered like their names "
            f"(layer l = the output of block l, 1-based; 'embeddings' is 0)"
        )
    return layer - 1


def _get(module: Any, path: str) -> Any:
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def _is_norm(module: Any) -> bool:
    return module is not None and "norm" in type(module).__name__.lower()


def _family(block: Any) -> str:
    if _get(block, "attention.output.dense") is not None and _get(block, "attention.self") is not None:
        return "bert"
    if _get(block, "attention.attn.o") is not None:
        return "mpnet"
    if _get(block, "attn.c_proj") is not None:
        return "gpt2"
    if _get(block, "attention.dense") is not None:
        return "gpt_neox"
    if _get(block, "self_attn.o_proj") is not None:
        return "llama"
    if _get(block, "attn.hook_z") is not None or _get(block, "attn.W_O") is not None:
        return "transformer_lens"
    return "generic"


def detect_architecture(model: Any, *, blocks: str | None = None, final_norm: str | None = None) -> Architecture:
    """Find the blocks, final norm and embeddings of a torch model.

    Parameters
    ----------
    model : torch.nn.Module
        A Hugging Face model (``AutoModel`` or a head model such as ``AutoModelForCausalLM``;
        its ``base_model`` is used), a TransformerLens ``HookedTransformer``, or any module.
    blocks : str, optional
        Module path (within ``model``) of the ``ModuleList`` of residual blocks. Default: the
        known paths of the table above, else the longest ``ModuleList``.
    final_norm : str, optional
        Module path of the final norm (``""``: the model has none). Default: the known names,
        looked up beside the blocks and at the root.

    Raises
    ------
    InputError
        When no blocks are found, or a given path does not exist.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise InputError(f"expected a torch.nn.Module; got {type(model).__name__}")
    if blocks is not None or final_norm is not None:
        root = model
    else:
        base = getattr(model, "base_model", None)
        root = base if isinstance(base, torch.nn.Module) else model
    if blocks is not None:
        found = _get(root, blocks) if blocks else None
        if not isinstance(found, torch.nn.ModuleList) or len(found) == 0:
            raise InputError(
                f"blocks={blocks!r} is not a non-empty ModuleList of {type(model).__name__}; "
                "name the module path of the residual blocks (see model.named_modules())"
            )
        blocks_path, block_list = blocks, found
    else:
        blocks_path, block_list = "", None
        for path in _BLOCK_PATHS:
            cand = _get(root, path)
            if isinstance(cand, torch.nn.ModuleList) and len(cand) > 0:
                blocks_path, block_list = path, cand
                break
        if block_list is None:
            for name, mod in root.named_modules():
                if isinstance(mod, torch.nn.ModuleList) and len(mod) > 0 and (
                    block_list is None or len(mod) > len(block_list)
                ):
                    blocks_path, block_list = name, mod
        if block_list is None:
            raise InputError(
                f"could not find the residual blocks of {type(model).__name__} (no ModuleList); "
                "pass blocks='module.path' naming them, or return a ModelHandle from your loader"
            )
    n_cfg = getattr(getattr(root, "config", None), "num_hidden_layers", None)
    if isinstance(n_cfg, int) and 0 < n_cfg < len(block_list):
        block_list = block_list[:n_cfg]  # HF runs self.layers[: num_hidden_layers]

    norm_path: str | None = None
    norm_mod = None
    if final_norm is not None:
        if final_norm:
            norm_mod = _get(root, final_norm)
            if not isinstance(norm_mod, torch.nn.Module):
                raise InputError(f"final_norm={final_norm!r} is not a module of {type(model).__name__}")
            norm_path = final_norm
    else:
        parent = blocks_path.rpartition(".")[0]
        prefixes = [f"{parent}." if parent else "", ""] if parent else [""]
        for prefix in prefixes:
            for path in _FINAL_NORM_PATHS:
                cand = _get(root, prefix + path)
                if _is_norm(cand) or (path == "ln_final" and isinstance(cand, torch.nn.Module)):
                    norm_path, norm_mod = prefix + path, cand
                    break
            if norm_mod is not None:
                break

    emb = None
    get_emb = getattr(model, "get_input_embeddings", None)
    if callable(get_emb):
        try:
            emb = get_emb()
        except (NotImplementedError, AttributeError):
            emb = None
    if emb is None:
        emb = next((_get(root, p) for p in ("embed", "embeddings", "wte", "embed_tokens", "embed_in")
                    if _get(root, p) is not None), None)
    return Architecture(
        family=_family(block_list[0]),
        root=root,
        blocks_path=blocks_path,
        blocks=tuple(block_list),
        final_norm_path=norm_path,
        final_norm=norm_mod,
        embeddings=emb,
    )


@dataclass(frozen=True)
class HeadProjection:
    """Where one block's attention heads can be cut.

    Attributes
    ----------
    module : torch.nn.Module
        For ``split_axis=False``: the output projection, whose input (last axis, width
        ``n_heads * d_head``) is the concatenation of the heads' outputs. For
        ``split_axis=True`` (TransformerLens): ``attn.hook_z``, whose output is
        ``(..., n_heads, d_head)``.
    n_heads, d_head : int
    split_axis : bool
    """

    module: Any
    n_heads: int
    d_head: int
    split_axis: bool = False

    def __iter__(self):
        # ``proj, n_heads = find_head_projection(block)`` keeps working
        return iter((self.module, self.n_heads))

    def head_slice(self, head: int) -> slice:
        """Features of ``head`` on the projection's input (``split_axis=False``)."""
        return slice(head * self.d_head, (head + 1) * self.d_head)


def _in_features(proj: Any) -> int | None:
    if hasattr(proj, "in_features"):  # nn.Linear
        return int(proj.in_features)
    w = getattr(proj, "weight", None)
    if w is not None and type(proj).__name__ == "Conv1D":  # GPT-2: y = x W + b, W (in, out)
        return int(w.shape[0])
    return None


def _n_heads(attn: Any, block: Any, config: Any) -> int | None:
    for obj in (attn, getattr(attn, "self", None), getattr(attn, "attn", None),
                getattr(attn, "config", None), config,
                getattr(block, "config", None)):
        if obj is None:
            continue
        for a in ("num_heads", "n_heads", "num_attention_heads", "n_head"):
            v = getattr(obj, a, None)
            if isinstance(v, int) and v > 0:
                return v
    return None


def find_head_projection(block: Any, config: Any = None) -> HeadProjection:
    """The module whose input holds one block's attention heads side by side, and its layout.

    Multi-head attention computes per head ``z_h = softmax(q_h k_h^T / sqrt(d_head)) v_h`` and
    then ``out = concat(z_1, …, z_H) W_O``; head ``h`` is the slice
    ``[h d_head, (h+1) d_head)`` of the projection's input, with ``d_head = in_features / H``
    (this holds also when ``d_head ≠ d_model / H``, e.g. Gemma/Qwen3, and for grouped-query
    attention, where ``H`` counts query heads). Zeroing that slice removes head ``h``'s
    contribution (its value-weighted sum) and leaves the projection's bias.

    Parameters
    ----------
    block : torch.nn.Module
        One residual block: BERT-family (``attention.output.dense``), GPT-2 (``attn.c_proj``, a
        ``Conv1D``), GPT-NeoX/Pythia (``attention.dense``), Llama/Mistral/Qwen
        (``self_attn.o_proj``), a generic ``attn``/``self_attn`` with ``out_proj``, or a
        TransformerLens block (``attn.hook_z``, heads on their own axis).
    config : optional
        The model config, for blocks that do not store their head count (recent Llama).

    Returns
    -------
    HeadProjection
        Unpacks as ``(module, n_heads)``.

    References
    ----------
    Vaswani et al. (2017), "Attention is all you need", eq. for MultiHead;
    Michel, Levy & Neubig (2019), "Are sixteen heads really better than one?" (head masking).
    """
    import torch

    candidates = (
        ("attention", "output.dense"),  # BERT
        ("attention", "attn.o"),  # MPNet
        ("attn", "c_proj"),  # GPT-2
        ("attention", "dense"),  # GPT-NeoX
        ("self_attn", "o_proj"),  # Llama, Mistral, Qwen
        ("self_attn", "out_proj"),  # OPT, BART, CLIP
        ("attn", "out_proj"),
        ("attn", "o_proj"),
        ("attention", "o_proj"),
        ("attn", "W_O"),  # the shipped toy model (an nn.Linear)
    )
    for attn_name, proj_name in candidates:
        attn = getattr(block, attn_name, None)
        proj = _get(attn, proj_name) if attn is not None else None
        if not isinstance(proj, torch.nn.Module):  # TransformerLens W_O is a Parameter
            continue
        width = _in_features(proj)
        n_heads = _n_heads(attn, block, config)
        head_dim = getattr(attn, "head_dim", None) or getattr(attn, "head_size", None)
        if n_heads is None and isinstance(head_dim, int) and width:
            n_heads = width // head_dim
        if width is None or n_heads is None or width % n_heads:
            raise InputError(
                f"block {type(block).__name__} has {attn_name}.{proj_name} but its head count "
                f"({n_heads}) does not divide the projection's input width ({width}); pass the "
                "model config (find_head_projection(block, config))"
            )
        return HeadProjection(proj, int(n_heads), width // int(n_heads))
    attn = getattr(block, "attn", None)
    hook_z = getattr(attn, "hook_z", None) if attn is not None else None
    if hook_z is not None:  # TransformerLens
        cfg = getattr(attn, "cfg", None) or config
        n_heads = getattr(cfg, "n_heads", None)
        d_head = getattr(cfg, "d_head", None)
        w_o = getattr(attn, "W_O", None)
        if (n_heads is None or d_head is None) and w_o is not None:
            n_heads, d_head = int(w_o.shape[0]), int(w_o.shape[1])
        if n_heads and d_head:
            return HeadProjection(hook_z, int(n_heads), int(d_head), split_axis=True)
    raise InputError(
        f"cannot find the attention heads of block {type(block).__name__}: expected a BERT, "
        "GPT-2, GPT-NeoX, Llama/Mistral/Qwen (self_attn.o_proj) or TransformerLens block; "
        "use kind='ablate_block' or 'scale' instead"
    )


def zero_head(block: Any, head: int, config: Any = None):
    """Install a hook that zeroes attention head ``head`` of ``block``; returns its handle.

    The hook edits the projection's input (or TransformerLens ``hook_z``'s output) so only
    head ``head``'s features are zero; remove it with ``handle.remove()``.
    """
    hp = find_head_projection(block, config)
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < hp.n_heads:
        raise InputError(f"head must be an int in 0..{hp.n_heads - 1} for this block; got {head!r}")
    if hp.split_axis:
        def hook(module, args, output):
            out = output.clone()
            out[..., head, :] = 0
            return out

        return hp.module.register_forward_hook(hook)
    sl = hp.head_slice(head)

    def pre_hook(module, args):
        z = args[0].clone()
        if z.shape[-1] != hp.n_heads * hp.d_head:
            raise InputError(
                f"the head projection's input has width {z.shape[-1]}, expected "
                f"{hp.n_heads} heads x {hp.d_head}"
            )
        z[..., sl] = 0
        return (z, *args[1:])

    return hp.module.register_forward_pre_hook(pre_hook)
