"""The modular-addition toy model: shipped weights generalise, and its embedding is a circle."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import manifold_probe as mp  # noqa: E402
from manifold_probe import InputError  # noqa: E402
from manifold_probe.capture.toy import (  # noqa: E402
    TOY_CONFIG,
    TOY_WEIGHTS,
    ModAddTransformer,
    ToyConfig,
    fourier_key_frequencies,
    fourier_plane_projection,
    load_toy_modadd,
    modadd_data,
    toy_accuracy,
    train_modadd,
)


@pytest.fixture(scope="module")
def toy():
    return load_toy_modadd()


def test_shipped_weights_match_their_hash():
    meta = json.loads(TOY_CONFIG.read_text())
    assert hashlib.sha256(TOY_WEIGHTS.read_bytes()).hexdigest() == meta["sha256"]
    assert "train_toy_modadd.py" in meta["reproduce"]


def test_corrupt_or_missing_weights_are_refused(tmp_path):
    bad = tmp_path / "toy_modadd.safetensors"
    shutil.copy(TOY_WEIGHTS, bad)
    shutil.copy(TOY_CONFIG, tmp_path / "toy_modadd.json")
    data = bytearray(bad.read_bytes())
    data[-1] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match="SHA-256"):
        load_toy_modadd(bad)
    with pytest.raises(InputError, match="not found"):
        load_toy_modadd(tmp_path / "nothing.safetensors")


def test_shipped_weights_generalise(toy):
    model, config = toy
    tokens, labels, train_idx, test_idx = modadd_data(config.p, config.train_fraction, config.seed)
    # the bar: >= 99% on pairs never seen in training
    assert toy_accuracy(model, tokens[test_idx], labels[test_idx]) >= 0.99
    assert toy_accuracy(model, tokens[train_idx], labels[train_idx]) >= 0.99


def test_embedding_on_a_key_fourier_plane_is_a_circle(toy):
    """Nanda et al. (2023): a grokked model embeds residues on circles, one per key frequency.
    Our own topology code must find the loop (H1 >= 1) on the strongest frequency's plane."""
    model, config = toy
    W = model.embed.weight.detach().numpy()[: config.p].astype(np.float64)
    f = int(fourier_key_frequencies(W, n=1)[0])
    plane = fourier_plane_projection(W, f)
    # the H1 bar is 1.10 long against < 0.01 for any other; both the default filtration cut
    # and the full complex (cheap for 59 points) must see it
    for threshold in ("auto", None):
        betti = mp.betti_numbers(plane, maxdim=1, seed=0, threshold=threshold)
        assert betti[0] == 1 and betti[1] >= 1, threshold
    # residues go round in order: a -> a+1 turns by 2*pi*f/p, so the closed walk 0, 1, ..., p-1, 0
    # winds exactly f times around the centre (an affine image of the circle keeps each turn's
    # sign and keeps it below pi, so the winding number is exact, not approximate)
    theta = np.angle(plane[:, 0] + 1j * plane[:, 1])
    turns = np.angle(np.exp(1j * (np.roll(theta, -1) - theta)))
    assert np.all(turns > 0) or np.all(turns < 0)
    assert round(abs(turns.sum()) / (2 * np.pi)) == f


def test_untrained_embedding_shows_no_circle():
    """Negative control: a seeded random (untrained) embedding, same projection, no loop."""
    torch.manual_seed(0)
    model = ModAddTransformer(59)
    W = model.embed.weight.detach().numpy()[:59].astype(np.float64)
    f = int(fourier_key_frequencies(W, n=1)[0])
    plane = fourier_plane_projection(W, f)
    for threshold in ("auto", None):
        assert mp.betti_numbers(plane, maxdim=1, seed=0, threshold=threshold)[1] == 0, threshold


def test_fourier_key_frequency_known_answer():
    p, f = 31, 7
    a = np.arange(p)
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal(10), rng.standard_normal(10)
    W = np.outer(np.cos(2 * np.pi * f * a / p), u) + np.outer(np.sin(2 * np.pi * f * a / p), v)
    W += 0.01 * rng.standard_normal(W.shape)
    assert fourier_key_frequencies(W, n=1)[0] == f
    plane = fourier_plane_projection(W, f)
    # an ellipse through the centre: every point at a radius between the axes' lengths
    r = np.linalg.norm(plane, axis=1)
    s = np.linalg.svd(np.stack([u, v]), compute_uv=False)
    assert r.min() > 0.9 * s.min() and r.max() < 1.1 * s.max()  # 10%: the 0.01 noise, d = 10


def test_handle_captures_the_residual_stream(toy):
    handle = mp.capture.load_model("toy-modadd")
    p = handle.extra["p"]
    assert handle.layer_names == ("embeddings", "layer_1_mid", "layer_1")
    assert handle.heads() == (1, 4)
    acts = handle.capture()  # all p**2 pairs, pooled at "="
    for name in handle.layer_names:
        assert acts.arrays[name].shape == (p * p, 128)
    pairs = handle.default_inputs()
    tokens = torch.as_tensor(np.concatenate([pairs, np.full((p * p, 1), p)], 1))
    with torch.no_grad():
        logits = handle.model(tokens)[:, -1].numpy()
    # the model's own output is the unembedding of the last captured residual state
    W_U = handle.model.unembed.weight.detach().numpy()
    np.testing.assert_allclose(acts.arrays["layer_1"] @ W_U.T, logits, atol=1e-4, rtol=1e-5)
    pred = logits.argmax(1)
    assert (pred == pairs.sum(1) % p).mean() >= 0.99
    # the "=" token's embedding is the same for every pair: one point
    assert np.ptp(acts.arrays["embeddings"], axis=0).max() == 0.0
    # position 0 holds a's embedding plus the position embedding
    first = handle.capture(pairs[:5], pooling=0, layers=["embeddings"])
    W_E = handle.model.embed.weight.detach().numpy()
    pos = handle.model.pos_embed.detach().numpy()
    np.testing.assert_allclose(first.arrays["embeddings"], W_E[pairs[:5, 0]] + pos[0], atol=1e-6)


@pytest.mark.parametrize(
    "inputs, match",
    [(np.array([[1, 2, 3]]), r"\(N, 2\)"), (np.array([[1.0, 2.0]]), "integer"), (np.array([[1, 59]]), r"\[0, 58\]")],
)
def test_toy_input_errors(inputs, match):
    handle = mp.capture.load_model("toy-modadd")
    with pytest.raises(InputError, match=match):
        handle.capture(inputs)


def test_training_is_deterministic_given_the_seed():
    cfg = ToyConfig(p=7, d_model=8, n_heads=2, d_mlp=16, max_steps=15, seed=5)
    m1, h1 = train_modadd(cfg, verbose=False)
    m2, h2 = train_modadd(cfg, verbose=False)
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert h1["train_loss"] == h2["train_loss"]
    assert h1["train_loss"][-1] < h1["train_loss"][0]  # it learns
