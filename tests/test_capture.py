"""Capture from torch models: hooks, Hugging Face hidden states, pooling, batching, errors.

All models here are tiny and randomly initialised (seeded), built locally: no network.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import manifold_probe as mp  # noqa: E402
from manifold_probe import InputError  # noqa: E402
from manifold_probe.capture import (  # noqa: E402
    capture_hidden_states,
    capture_modules,
    load_model,
    pool_tokens,
)

# float32 forward passes of the same input in batches of different shapes (padding) differ by
# rounding only: a few ulps of O(1) activations after two LayerNorm'd blocks; 1e-5 is ~100 ulp.
ATOL_F32 = 1e-5

WORDS = "[PAD] [UNK] [CLS] [SEP] [MASK] the a cat dog sat on mat red blue big small ran far".split()
SENTENCES = [
    "the cat sat",
    "a dog ran far on the big red mat",
    "small blue cat",
    "the dog sat on a mat",
    "big cat",
    "a red dog ran",
    "the small mat",
]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    from transformers import BertConfig, BertModel, BertTokenizer

    d = tmp_path_factory.mktemp("tinybert")
    (d / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    tok = BertTokenizer(str(d / "vocab.txt"))
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(WORDS),
        hidden_size=16,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    model = BertModel(cfg).eval()
    model.save_pretrained(str(d))
    tok.save_pretrained(str(d))
    return model, tok, d


def _reference_states(model, tok, sentences):
    """hidden_states of each sentence run alone (no padding at all)."""
    out = []
    with torch.no_grad():
        for s in sentences:
            enc = tok([s], return_tensors="pt")
            hs = model(**enc, output_hidden_states=True).hidden_states
            out.append([h[0].numpy() for h in hs])
    return out  # out[sentence][layer] -> (T, d)


def test_hidden_states_shapes_and_last_state_equals_model_output(tiny_bert):
    model, tok, _ = tiny_bert
    acts = capture_hidden_states(model, tok, SENTENCES, pooling="all", batch_size=3)
    assert acts.layers == ("embeddings", "layer_1", "layer_2", "layer_3")
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        last = model(**enc).last_hidden_state
    mask = enc["attention_mask"].bool()
    n_tokens = int(mask.sum())
    for name in acts.layers:
        assert acts.arrays[name].shape == (n_tokens, 16)
        assert acts.arrays[name].dtype == np.float32
    np.testing.assert_allclose(acts.arrays["layer_3"], last[mask].numpy(), atol=ATOL_F32)
    # ids: sentence index and position among its real tokens
    lengths = mask.sum(1).numpy()
    np.testing.assert_array_equal(acts.sentence_ids, np.repeat(np.arange(len(SENTENCES)), lengths))
    np.testing.assert_array_equal(acts.position_ids, np.concatenate([np.arange(n) for n in lengths]))
    assert acts.meta["n_inputs"] == len(SENTENCES)
    assert acts.meta["input_hash"] == mp.capture.hash_sentences(SENTENCES)


def test_hooks_on_blocks_equal_hidden_states(tiny_bert):
    model, tok, _ = tiny_bert
    via_states = capture_hidden_states(model, tok, SENTENCES, pooling="mean", batch_size=4)
    batches = [
        dict(tok(SENTENCES[i : i + 4], padding=True, return_tensors="pt"))
        for i in range(0, len(SENTENCES), 4)
    ]
    names = ["embeddings", *(f"encoder.layer.{i}" for i in range(3))]
    via_hooks = capture_modules(
        model, batches, names, pooling="mean", layer_names=via_states.layers
    )
    for name in via_states.layers:
        # the same tensors read two ways: exactly equal
        np.testing.assert_array_equal(via_hooks.arrays[name], via_states.arrays[name])


@pytest.mark.parametrize("pooling", ["mean", "first", "last", "all", [0, -1], 1])
def test_padding_never_leaks(tiny_bert, pooling):
    """Each sentence captured inside a padded batch equals it captured alone."""
    model, tok, _ = tiny_bert
    ref = _reference_states(model, tok, SENTENCES)
    acts = capture_hidden_states(model, tok, SENTENCES, pooling=pooling, batch_size=len(SENTENCES))
    for li, name in enumerate(acts.layers):
        per = [r[li] for r in ref]
        if pooling == "mean":
            want = np.stack([h.mean(0) for h in per])
        elif pooling == "first":
            want = np.stack([h[0] for h in per])
        elif pooling == "last":
            want = np.stack([h[-1] for h in per])
        elif pooling == "all":
            want = np.concatenate(per)
        elif pooling == 1:
            want = np.stack([h[1] for h in per])
        else:
            want = np.stack([h[[0, -1]] for h in per]).reshape(-1, 16)
        np.testing.assert_allclose(acts.arrays[name], want, atol=ATOL_F32)


def test_pool_tokens_ignores_padded_values_exactly():
    g = torch.Generator().manual_seed(1)
    h = torch.randn(3, 5, 4, generator=g)
    # left padding in row 0, right padding in row 1, none in row 2
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    poisoned = h.clone()
    poisoned[~mask] = 1e6
    for pooling in ("mean", "first", "last", "all", (0, -1)):
        a, sa, pa = pool_tokens(h, mask, pooling)
        b, sb, pb = pool_tokens(poisoned, mask, pooling)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    first, _, _ = pool_tokens(h, mask, "first")
    last, _, _ = pool_tokens(h, mask, "last")
    torch.testing.assert_close(first, torch.stack([h[0, 2], h[1, 0], h[2, 0]]), rtol=0, atol=0)
    torch.testing.assert_close(last, torch.stack([h[0, 4], h[1, 1], h[2, 4]]), rtol=0, atol=0)
    mean, _, _ = pool_tokens(h, mask, "mean")
    torch.testing.assert_close(mean[1], h[1, :2].mean(0), rtol=0, atol=1e-6)
    rows, sid, pid = pool_tokens(h, mask, "all")
    assert sid.tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    assert pid.tolist() == [0, 1, 2, 0, 1, 0, 1, 2, 3, 4]


@settings(max_examples=8, deadline=None)
@given(batch_size=st.integers(1, 8), pooling=st.sampled_from(["mean", "all", "last"]))
def test_batch_size_does_not_change_results(tiny_bert, batch_size, pooling):
    model, tok, _ = tiny_bert
    one = capture_hidden_states(model, tok, SENTENCES, pooling=pooling, batch_size=1)
    other = capture_hidden_states(model, tok, SENTENCES, pooling=pooling, batch_size=batch_size)
    for name in one.layers:
        np.testing.assert_allclose(other.arrays[name], one.arrays[name], atol=ATOL_F32)
    if pooling == "all":
        np.testing.assert_array_equal(other.sentence_ids, one.sentence_ids)


def test_layer_subset_and_local_directory_handle(tiny_bert):
    model, tok, d = tiny_bert
    handle = load_model(str(d))
    assert handle.layer_names == ("embeddings", "layer_1", "layer_2", "layer_3")
    assert handle.heads() == (3, 2)
    assert len(handle.blocks) == 3
    acts = handle.capture(SENTENCES[:3], layers=["layer_2", 0])
    assert acts.layers == ("layer_2", "embeddings")
    full = capture_hidden_states(model, tok, SENTENCES[:3])
    np.testing.assert_allclose(acts.arrays["layer_2"], full.arrays["layer_2"], atol=ATOL_F32)


def test_generic_module_capture_and_entry_point_spec():
    handle = load_model("manifold_probe.capture.toy:ModAddTransformer", trust_code=True)
    assert handle.kind == "modules" and handle.layer_names == ("embeddings", "layer_1")
    tokens = torch.tensor([[1, 2, 59], [3, 4, 59], [5, 6, 59]])
    acts = handle.capture(tokens, pooling="last", batch_size=2)
    with torch.no_grad():
        block_out = handle.model.blocks[0](
            handle.model.embed(tokens) + handle.model.pos_embed
        )
    np.testing.assert_allclose(acts.arrays["layer_1"], block_out[:, -1].numpy(), atol=1e-6)
    with torch.no_grad():
        resid_pre = handle.model.embed(tokens) + handle.model.pos_embed
    # "embeddings" is the first block's input: read exactly, no arithmetic in between
    np.testing.assert_array_equal(acts.arrays["embeddings"], resid_pre[:, -1].numpy())


def test_progress_callback_counts_inputs():
    # capture reports progress through a callback; drawing bars is the CLI's job
    handle = load_model("manifold_probe.capture.toy:ModAddTransformer", trust_code=True)
    tokens = torch.tensor([[1, 2, 59], [3, 4, 59], [5, 6, 59]])
    done = []
    handle.capture(tokens, pooling="last", batch_size=2, progress=done.append)
    assert done == [2, 3]


def test_capture_is_gradient_free_and_restores_training_mode(tiny_bert):
    model, tok, _ = tiny_bert
    model.train()
    try:
        acts = capture_hidden_states(model, tok, SENTENCES[:2], pooling="mean")
        assert model.training  # mode restored
        eval_acts = capture_hidden_states(model.eval(), tok, SENTENCES[:2], pooling="mean")
        # capture ran in eval mode (no dropout) both times: identical
        np.testing.assert_array_equal(acts.arrays["layer_3"], eval_acts.arrays["layer_3"])
    finally:
        model.eval()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"pooling": "max"}, "pooling"),
        ({"pooling": []}, "pooling"),
        ({"pooling": 40}, "outside"),
        ({"layers": ["layer_9"]}, "not one of"),
        ({"layers": [1, "layer_1"]}, "twice"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments_raise_input_error(tiny_bert, kwargs, match):
    model, tok, _ = tiny_bert
    with pytest.raises(InputError, match=match):
        capture_hidden_states(model, tok, SENTENCES, **kwargs)


@pytest.mark.parametrize(
    "inputs, match",
    [("just one string", "single string"), ([], "empty"), (["ok", 3], "not non-empty"), (5, "list")],
)
def test_bad_inputs_raise_input_error(tiny_bert, inputs, match):
    model, tok, _ = tiny_bert
    with pytest.raises(InputError, match=match):
        capture_hidden_states(model, tok, inputs)


def test_capture_modules_errors(tiny_bert):
    model, tok, _ = tiny_bert
    batch = dict(tok(SENTENCES[:2], padding=True, return_tensors="pt"))
    with pytest.raises(InputError, match="not found"):
        capture_modules(model, [batch], ["encoder.nope"])
    with pytest.raises(InputError, match="empty"):
        capture_modules(model, [batch], [])
    with pytest.raises(InputError, match="no batches"):
        capture_modules(model, [], ["encoder.layer.0"])
    with pytest.raises(InputError, match="one per module"):
        capture_modules(model, [batch], ["encoder.layer.0"], layer_names=["a", "b"])
    with pytest.raises(InputError, match="batch is"):
        capture_modules(model, ["text"], ["encoder.layer.0"])
    # a registered module that the forward pass never calls
    model.add_module("unused_probe", torch.nn.Identity())
    try:
        with pytest.raises(InputError, match="did not run"):
            capture_modules(model, [batch], ["unused_probe"])
    finally:
        del model.unused_probe


def test_load_model_errors(tmp_path):
    with pytest.raises(InputError, match="offline"):
        load_model("no-such-model")
    with pytest.raises(InputError, match="unknown model spec"):
        load_model("./no/such dir")
    with pytest.raises(InputError, match="config.json"):
        load_model(str(tmp_path))
    with pytest.raises(InputError, match="could not import"):
        load_model("manifold_probe.nope:make", trust_code=True)
    with pytest.raises(InputError, match="returned"):
        # a dataclass, not a module
        load_model("manifold_probe.capture.toy:ToyConfig", trust_code=True)
    with pytest.raises(InputError, match="empty"):
        load_model("")


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, manifold_probe as mp, manifold_probe.capture, manifold_probe.store; "
        "print(any(m in sys.modules for m in ('transformers', 'torch', 'zarr')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


EVIL = """
import pathlib
pathlib.Path({marker!r}).write_text("imported")

def pwn():
    pathlib.Path({marker!r}).write_text("called")
    raise SystemExit(134)
"""


@pytest.fixture()
def evil_dir(tmp_path, monkeypatch):
    """A directory holding evilmod.py (which leaves a marker file when imported), made the
    current directory, with the implicit '' entry on sys.path as in `python -c`."""
    import sys

    marker = tmp_path / "marker.txt"
    (tmp_path / "evilmod.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", *sys.path])
    monkeypatch.delitem(sys.modules, "evilmod", raising=False)
    return tmp_path, marker


def test_code_specs_need_trust_code_and_never_import_from_the_cwd(evil_dir):
    import sys

    tmp, marker = evil_dir
    with pytest.raises(InputError, match="trust_code=True"):
        load_model("evilmod:pwn")
    assert not marker.exists() and "evilmod" not in sys.modules
    # trusted, but the current directory is not searched implicitly
    with pytest.raises(InputError, match="current directory is not searched"):
        load_model("evilmod:pwn", trust_code=True)
    assert not marker.exists() and "evilmod" not in sys.modules
    # named explicitly by its file path, and trusted: it runs
    with pytest.raises(SystemExit):
        load_model(f"{tmp / 'evilmod.py'}:pwn", trust_code=True)
    assert marker.read_text() == "called"


def test_tokens_is_an_alias_of_all(tiny_bert):
    model, tok, _ = tiny_bert
    a = capture_hidden_states(model, tok, SENTENCES[:3], pooling="tokens")
    b = capture_hidden_states(model, tok, SENTENCES[:3], pooling="all")
    np.testing.assert_array_equal(a.arrays["layer_3"], b.arrays["layer_3"])
    np.testing.assert_array_equal(a.sentence_ids, b.sentence_ids)
