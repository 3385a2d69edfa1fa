"""The activation store: exact round trips, streaming capture, interruption and resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_probe import InputError
from manifold_probe.capture import Activations
from manifold_probe.store import ActivationStore

torch = pytest.importorskip("torch")


def _acts(rng, n=37, widths=(5, 3), token_level=False):
    arrays = {f"layer_{i}": rng.standard_normal((n, w)).astype(np.float32) for i, w in enumerate(widths)}
    sid = pid = None
    if token_level:
        sid = np.sort(rng.integers(0, 9, n)).astype(np.int64)
        pid = rng.integers(0, 20, n).astype(np.int64)
    return Activations(
        layers=tuple(arrays), arrays=arrays, sentence_ids=sid, position_ids=pid,
        meta={"model": "test", "pooling": "all" if token_level else "mean", "input_hash": "abc"},
    )


def test_round_trip_is_exact(tmp_path, rng):
    acts = _acts(rng)
    store = ActivationStore(tmp_path / "s").write(acts, chunk_rows=8)
    assert store.is_complete and store.n_rows == 37 and store.layers == acts.layers
    for name in acts.layers:
        got = store.read(name)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, acts.arrays[name])
        np.testing.assert_array_equal(store.read(name, as_dask=True).compute(), acts.arrays[name])
    back = ActivationStore(tmp_path / "s").to_activations()
    assert back.meta["input_hash"] == "abc" and back.meta["model"] == "test"
    assert back.sentence_ids is None
    man = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert man["version"] and man["complete"] is True and man["chunk_rows"] == 8
    # chunked along N: one chunk holds 8 rows of full width
    import zarr

    assert zarr.open_group(str(tmp_path / "s"), mode="r")["layer_0"].chunks == (8, 5)


def test_token_level_and_float16(tmp_path, rng):
    acts = _acts(rng, token_level=True)
    store = ActivationStore(tmp_path / "h").write(acts, dtype="float16")
    back = store.to_activations()
    np.testing.assert_array_equal(back.sentence_ids, acts.sentence_ids)
    np.testing.assert_array_equal(back.position_ids, acts.position_ids)
    for name in acts.layers:
        assert back.arrays[name].dtype == np.float16
        np.testing.assert_array_equal(back.arrays[name], acts.arrays[name].astype(np.float16))


@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=6),
    chunk_rows=st.integers(1, 10),
    seed=st.integers(0, 2**16),
)
def test_streamed_appends_equal_concatenation(tmp_path_factory, sizes, chunk_rows, seed):
    r = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp("stream")
    store = ActivationStore(path / "s")
    assert store.begin(["a", "b"], meta={"model": "m"}, chunk_rows=chunk_rows) == 0
    parts = []
    for n in sizes:
        batch = {"a": r.standard_normal((n, 4)).astype(np.float32),
                 "b": r.standard_normal((n, 2)).astype(np.float32)}
        parts.append(batch)
        store.append(batch, n_inputs=n)
    store.complete()
    for name in ("a", "b"):
        np.testing.assert_array_equal(store.read(name), np.concatenate([p[name] for p in parts]))
    assert store.n_inputs == sum(sizes)


# --------------------------------------------------------------- capture into a store
class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.emb = torch.nn.Embedding(20, 6)
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(6, 6) for _ in range(2))

    def forward(self, tokens):
        x = self.emb(tokens)
        for b in self.blocks:
            x = x + torch.tanh(b(x))
        return x


TOKENS = torch.as_tensor(np.random.default_rng(7).integers(0, 20, (23, 5)))


def _batches(bs, fail_after=None):
    for i, s in enumerate(range(0, len(TOKENS), bs)):
        if fail_after is not None and i == fail_after:
            raise KeyboardInterrupt("simulated interruption")
        yield TOKENS[s : s + bs]


def _capture(model, batches, store=None, pooling="mean"):
    from manifold_probe.capture import capture_modules

    return capture_modules(
        model, batches, ["emb", "blocks.0", "blocks.1"], pooling=pooling,
        layer_names=["embeddings", "layer_1", "layer_2"], store=store, chunk_rows=4,
    )


@pytest.mark.parametrize("pooling", ["mean", "all"])
def test_capture_streams_into_store(tmp_path, pooling):
    model = _Tiny()
    mem = _capture(model, _batches(4), pooling=pooling)
    disk = _capture(model, _batches(4), store=tmp_path / "c", pooling=pooling)
    for name in mem.layers:
        np.testing.assert_array_equal(disk.arrays[name], mem.arrays[name])
    if pooling == "all":
        np.testing.assert_array_equal(disk.sentence_ids, mem.sentence_ids)
        np.testing.assert_array_equal(disk.position_ids, mem.position_ids)
    assert ActivationStore(tmp_path / "c").meta["n_inputs"] == len(TOKENS)


@pytest.mark.parametrize("resume_batch", [4, 3, 7])
def test_interrupted_capture_resumes_without_duplicates_or_loss(tmp_path, resume_batch):
    model = _Tiny()
    full = _capture(model, _batches(4))
    path = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        _capture(model, _batches(4, fail_after=3), store=path)
    partial = ActivationStore(path)
    assert not partial.is_complete and partial.n_inputs == 12 and partial.n_rows == 12
    with pytest.raises(InputError, match="incomplete"):
        partial.read("layer_1")
    assert partial.read("layer_1", allow_incomplete=True).shape == (12, 6)
    # resume, possibly with another batch size (the first batch is then cut mid-way)
    resumed = _capture(model, _batches(resume_batch), store=path)
    assert ActivationStore(path).is_complete
    for name in full.layers:
        assert resumed.arrays[name].shape == full.arrays[name].shape
        # same inputs, per-row independent model: equal up to float32 rounding across batch shapes
        np.testing.assert_allclose(resumed.arrays[name], full.arrays[name], rtol=0, atol=1e-6)


def test_crash_between_write_and_commit_drops_the_uncommitted_rows(tmp_path, monkeypatch):
    model = _Tiny()
    full = _capture(model, _batches(5))
    path = tmp_path / "crash"
    calls = {"n": 0}
    real = ActivationStore._write_manifest

    def flaky(self, man):
        calls["n"] += 1
        if calls["n"] == 4:  # begin=1, then batches 1, 2 commit; batch 3 dies after its rows
            raise OSError("disk vanished")
        real(self, man)

    monkeypatch.setattr(ActivationStore, "_write_manifest", flaky)
    with pytest.raises(OSError):
        _capture(model, _batches(5), store=path)
    monkeypatch.setattr(ActivationStore, "_write_manifest", real)
    import zarr

    assert zarr.open_group(str(path), mode="r")["layer_1"].shape[0] == 15  # rows beyond the commit
    assert ActivationStore(path).n_rows == 10
    assert ActivationStore(path).resume() == 10  # cuts the uncommitted rows
    assert zarr.open_group(str(path), mode="r")["layer_1"].shape[0] == 10
    resumed = _capture(model, _batches(5), store=path)
    for name in full.layers:
        np.testing.assert_array_equal(resumed.arrays[name], full.arrays[name])


def test_resume_refuses_other_inputs_and_other_captures(tmp_path):
    model = _Tiny()
    path = tmp_path / "x"
    with pytest.raises(KeyboardInterrupt):
        _capture(model, _batches(4, fail_after=2), store=path)
    other = (TOKENS.flip(0)[s : s + 4] for s in range(0, len(TOKENS), 4))
    with pytest.raises(InputError, match="inputs differ"):
        _capture(model, other, store=path)
    with pytest.raises(InputError, match="different capture"):
        _capture(model, _batches(4), store=path, pooling="last")
    # overwrite starts afresh
    out = _capture(model, _batches(4), store=ActivationStore(path, overwrite=True), pooling="last")
    assert out.arrays["layer_2"].shape == (len(TOKENS), 6)
    # a complete store is returned as it is, without running the model
    again = _capture(model, iter(()), store=path, pooling="last")
    np.testing.assert_array_equal(again.arrays["layer_2"], out.arrays["layer_2"])


def test_store_errors(tmp_path, rng):
    s = ActivationStore(tmp_path / "e")
    with pytest.raises(InputError, match="no activation store"):
        s.read("a")
    with pytest.raises(InputError, match="to resume"):
        s.resume()
    with pytest.raises(InputError, match="begin"):
        s.append({"a": np.zeros((1, 2))}, n_inputs=1)
    with pytest.raises(InputError, match="cannot name"):
        s.begin(["a/b"])
    with pytest.raises(InputError, match="cannot name"):
        s.begin(["_sentence_ids"])
    with pytest.raises(InputError, match="dtype"):
        s.begin(["a"], dtype="int8")
    s.begin(["a"])
    with pytest.raises(InputError, match="exactly the store's layers"):
        s.append({"b": np.zeros((1, 2))}, n_inputs=1)
    with pytest.raises(InputError, match="2-D"):
        s.append({"a": np.zeros(3)}, n_inputs=3)
    s.append({"a": np.zeros((2, 2))}, n_inputs=2)
    with pytest.raises(InputError, match="width"):
        s.append({"a": np.zeros((2, 3))}, n_inputs=2)
    with pytest.raises(InputError, match="token-level"):
        s.append({"a": np.zeros((1, 2))}, n_inputs=1, sentence_ids=[0], position_ids=[0])
    s.complete()
    with pytest.raises(InputError, match="complete"):
        s.append({"a": np.zeros((1, 2))}, n_inputs=1)
    with pytest.raises(InputError, match="not in the store"):
        s.read("zzz")
    with pytest.raises(InputError, match="partial"):
        t = ActivationStore(tmp_path / "p")
        t.begin(["layer_0", "layer_1"], meta={"model": "test", "pooling": "mean"})
        t.append({"layer_0": np.zeros((1, 5)), "layer_1": np.zeros((1, 3))}, n_inputs=1)
        t.write(_acts(rng))
