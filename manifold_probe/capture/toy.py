"""A one-layer transformer trained on modular addition: a toy model with known topology.

The task (Power et al. 2022) is ``a + b mod p`` on the token sequence ``[a, b, =]``; the answer
is read from the logits at the ``=`` position. Trained with strong weight decay the network
*groks*: it generalises to held-out pairs by embedding each residue ``a`` on circles,
``a -> (cos(2 pi f a / p), sin(2 pi f a / p))`` for a few *key frequencies* ``f``
(Nanda et al. 2023). The embedding matrix projected on a key frequency's Fourier plane is
therefore a circle: first Betti number 1. That is the known answer the topology code is
checked against.

The architecture follows the one described by Nanda et al. (2023): learned token and position
embeddings, one pre-norm-free attention block with causal attention, a ReLU MLP, an unembedding;
no layer norm, no biases in attention. The code is our own. Each residual-stream position has an
identity "hook point" named as in TransformerLens (``blocks.{l}.hook_resid_pre``,
``blocks.{l}.hook_resid_mid``, ``blocks.{l}.hook_resid_post``), so that
:func:`manifold_probe.capture.capture_modules` reads them by name.

References
----------
Power, Burda, Edwards, Babuschkin & Misra (2022), "Grokking: generalization beyond overfitting on
small algorithmic datasets", arXiv:2201.02177.
Nanda, Chan, Lieberum, Smith & Steinhardt (2023), "Progress measures for grokking via mechanistic
interpretability", ICLR.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ToyConfig",
    "ModAddTransformer",
    "modadd_data",
    "train_modadd",
    "load_toy_modadd",
    "toy_accuracy",
    "fourier_key_frequencies",
    "fourier_plane_projection",
    "TOY_WEIGHTS",
    "TOY_CONFIG",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TOY_WEIGHTS = DATA_DIR / "toy_modadd.safetensors"
TOY_CONFIG = DATA_DIR / "toy_modadd.json"


@dataclass(frozen=True)
class ToyConfig:
    """Hyper-parameters of the modular-addition model and its training run."""

    p: int = 59
    d_model: int = 128
    n_heads: int = 4
    d_mlp: int = 512
    train_fraction: float = 0.5
    lr: float = 2e-3
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)
    max_steps: int = 20000
    stop_test_accuracy: float = 1.0
    extra_steps: int = 500
    seed: int = 0


def _torch():
    import torch

    return torch


def _build_module_classes():
    torch = _torch()
    nn = torch.nn

    class HookPoint(nn.Identity):
        """An identity module: a named place in the residual stream to hook."""

    class Attention(nn.Module):
        def __init__(self, d_model: int, n_heads: int):
            super().__init__()
            self.n_heads = n_heads
            self.d_head = d_model // n_heads
            self.W_Q = nn.Linear(d_model, d_model, bias=False)
            self.W_K = nn.Linear(d_model, d_model, bias=False)
            self.W_V = nn.Linear(d_model, d_model, bias=False)
            self.W_O = nn.Linear(d_model, d_model, bias=False)

        def forward(self, x):
            B, T, D = x.shape
            h, dh = self.n_heads, self.d_head

            def split(t):
                return t.view(B, T, h, dh).transpose(1, 2)

            q, k, v = split(self.W_Q(x)), split(self.W_K(x)), split(self.W_V(x))
            scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(causal, float("-inf"))
            z = scores.softmax(-1) @ v
            return self.W_O(z.transpose(1, 2).reshape(B, T, D))

    class Block(nn.Module):
        def __init__(self, d_model: int, n_heads: int, d_mlp: int):
            super().__init__()
            self.attn = Attention(d_model, n_heads)
            self.mlp = nn.Sequential(nn.Linear(d_model, d_mlp), nn.ReLU(), nn.Linear(d_mlp, d_model))
            self.hook_resid_pre = HookPoint()
            self.hook_resid_mid = HookPoint()
            self.hook_resid_post = HookPoint()

        def forward(self, x):
            x = self.hook_resid_pre(x)
            x = self.hook_resid_mid(x + self.attn(x))
            return self.hook_resid_post(x + self.mlp(x))

    class _ModAddTransformer(nn.Module):
        """One-layer transformer on ``[a, b, =]``; token ``p`` is ``=``."""

        def __init__(self, p: int, d_model: int, n_heads: int, d_mlp: int, n_layers: int = 1):
            super().__init__()
            self.p = p
            self.embed = nn.Embedding(p + 1, d_model)
            self.pos_embed = nn.Parameter(torch.randn(3, d_model) / math.sqrt(d_model))
            self.blocks = nn.ModuleList(Block(d_model, n_heads, d_mlp) for _ in range(n_layers))
            self.unembed = nn.Linear(d_model, p, bias=False)
            nn.init.normal_(self.embed.weight, std=1 / math.sqrt(d_model))

        def forward(self, tokens):
            x = self.embed(tokens) + self.pos_embed[: tokens.shape[1]]
            for block in self.blocks:
                x = block(x)
            return self.unembed(x)

    return _ModAddTransformer


_CLASS_CACHE: dict[str, Any] = {}


def ModAddTransformer(p: int = 59, d_model: int = 128, n_heads: int = 4, d_mlp: int = 512):
    """Build an (untrained) modular-addition transformer as a ``torch.nn.Module``.

    A factory rather than a class at module level so that importing this module does not import
    torch. Input: int64 tokens ``(batch, 3)`` = ``[a, b, p]``; output: logits ``(batch, 3, p)``.
    """
    if "cls" not in _CLASS_CACHE:
        _CLASS_CACHE["cls"] = _build_module_classes()
    return _CLASS_CACHE["cls"](p, d_model, n_heads, d_mlp)


def modadd_data(p: int, train_fraction: float, seed: int):
    """All ``p**2`` pairs as tokens ``[a, b, p]`` with labels ``(a + b) % p``, split at random.

    Returns ``(tokens, labels, train_idx, test_idx)`` as int64 numpy arrays.
    """
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    a, b = a.ravel(), b.ravel()
    tokens = np.stack([a, b, np.full_like(a, p)], axis=1).astype(np.int64)
    labels = ((a + b) % p).astype(np.int64)
    perm = np.random.default_rng(seed).permutation(p * p)
    n_train = int(round(train_fraction * p * p))
    return tokens, labels, np.sort(perm[:n_train]), np.sort(perm[n_train:])


def toy_accuracy(model, tokens: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of pairs whose arg-max logit at the ``=`` position is ``(a + b) mod p``."""
    torch = _torch()
    device = next(model.parameters()).device  # a model moved to CUDA reads CUDA tokens
    with torch.no_grad():
        logits = model(torch.as_tensor(tokens, device=device))[:, -1]
    return float((logits.argmax(-1).cpu().numpy() == labels).mean())


def train_modadd(config: ToyConfig = ToyConfig(), *, log_every: int = 500, verbose: bool = True):
    """Train the toy model full-batch with AdamW until it generalises.

    Training stops ``config.extra_steps`` steps after the held-out accuracy first reaches
    ``config.stop_test_accuracy`` (or at ``config.max_steps``). Deterministic given the seed on
    one CPU thread.

    Returns
    -------
    model : torch.nn.Module
    history : dict
        ``steps``, ``train_loss``, ``test_accuracy`` lists, ``wall_s`` and ``grokked_at``.
    """
    torch = _torch()
    torch.manual_seed(config.seed)
    model = ModAddTransformer(config.p, config.d_model, config.n_heads, config.d_mlp)
    tokens, labels, tr, te = modadd_data(config.p, config.train_fraction, config.seed)
    x_tr, y_tr = torch.as_tensor(tokens[tr]), torch.as_tensor(labels[tr])
    opt = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=config.betas
    )
    history: dict[str, Any] = {"steps": [], "train_loss": [], "test_accuracy": []}
    start = time.perf_counter()
    grokked_at = None
    for step in range(config.max_steps):
        logits = model(x_tr)[:, -1]
        # float64 log-softmax: near-zero losses in float32 stall grokking (Nanda et al. 2023)
        loss = torch.nn.functional.cross_entropy(logits.double(), y_tr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == config.max_steps - 1:
            acc = toy_accuracy(model, tokens[te], labels[te])
            history["steps"].append(step)
            history["train_loss"].append(float(loss.detach()))
            history["test_accuracy"].append(acc)
            if verbose and step % log_every == 0:
                print(f"step {step:6d}  train loss {float(loss.detach()):.3e}  test acc {acc:.4f}", flush=True)
            if grokked_at is None and acc >= config.stop_test_accuracy:
                grokked_at = step
            if grokked_at is not None and step >= grokked_at + config.extra_steps:
                break
    history["wall_s"] = time.perf_counter() - start
    history["grokked_at"] = grokked_at
    return model, history


def save_toy(model, config: ToyConfig, history: dict, weights: Path = TOY_WEIGHTS) -> str:
    """Write weights (safetensors) and a JSON sidecar with the config, history and SHA-256."""
    from safetensors.torch import save_file

    weights = Path(weights)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    tmp = weights.with_suffix(".tmp")
    save_file(state, str(tmp))
    tmp.replace(weights)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    sidecar = {
        "config": asdict(config),
        "sha256": digest,
        "weights": weights.name,
        "grokked_at_step": history.get("grokked_at"),
        "final_step": history["steps"][-1] if history.get("steps") else None,
        "wall_s": round(float(history.get("wall_s", float("nan"))), 1),
        "reproduce": "OMP_NUM_THREADS=1 python experiments/train_toy_modadd.py",
    }
    side = weights.with_suffix(".json")
    tmp = side.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(sidecar, indent=2) + "\n")
    tmp.replace(side)
    return digest


def load_toy_modadd(weights: str | Path = TOY_WEIGHTS, *, verify: bool = True):
    """Load the shipped modular-addition model (safetensors), checking its SHA-256.

    Returns ``(model, config)``; the model is in eval mode.
    """
    from safetensors.torch import load_file

    from manifold_probe._validation import InputError

    weights = Path(weights)
    side = weights.with_suffix(".json")
    if not weights.exists() or not side.exists():
        raise InputError(
            f"toy weights {weights} (and its .json sidecar) not found; regenerate them with "
            "`python experiments/train_toy_modadd.py`"
        )
    meta = json.loads(side.read_text())
    if verify:
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        if digest != meta["sha256"]:
            raise InputError(
                f"toy weights {weights} have SHA-256 {digest}, expected {meta['sha256']}; the "
                "file is corrupt or was replaced: regenerate with experiments/train_toy_modadd.py"
            )
    cfg = dict(meta["config"])
    cfg["betas"] = tuple(cfg["betas"])
    config = ToyConfig(**cfg)
    model = ModAddTransformer(config.p, config.d_model, config.n_heads, config.d_mlp)
    model.load_state_dict(load_file(str(weights)))
    model.eval()
    return model, config


def fourier_key_frequencies(W: np.ndarray, n: int = 3) -> np.ndarray:
    """The ``n`` frequencies ``f in 1..(p-1)/2`` carrying most of the norm of ``W`` (p, d).

    .. math:: \\|\\hat W_f\\|^2 = \\|c_f^\\top W\\|^2 + \\|s_f^\\top W\\|^2,\\quad
              c_f(a) = \\cos(2\\pi f a / p),\\; s_f(a) = \\sin(2\\pi f a / p).
    """
    W = np.asarray(W, dtype=np.float64)
    p = W.shape[0]
    a = np.arange(p)
    freqs = np.arange(1, (p - 1) // 2 + 1)
    norms = np.array(
        [
            np.linalg.norm(np.cos(2 * np.pi * f * a / p) @ W) ** 2
            + np.linalg.norm(np.sin(2 * np.pi * f * a / p) @ W) ** 2
            for f in freqs
        ]
    )
    return freqs[np.argsort(-norms, kind="stable")[:n]]


def fourier_plane_projection(W: np.ndarray, f: int) -> np.ndarray:
    """Project the rows of ``W`` (p, d) on the 2-D plane its frequency-``f`` component spans.

    The plane is spanned by :math:`W^\\top c_f` and :math:`W^\\top s_f` (orthonormalised); the
    rows are centred first. For a grokked model the result is close to a circle (Nanda et al.
    2023). Returns ``(p, 2)`` float64.
    """
    W = np.asarray(W, dtype=np.float64)
    p = W.shape[0]
    a = np.arange(p)
    Wc = W - W.mean(axis=0)
    basis = np.stack([np.cos(2 * np.pi * f * a / p) @ Wc, np.sin(2 * np.pi * f * a / p) @ Wc], 1)
    q, _ = np.linalg.qr(basis)
    return Wc @ q
