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


# --------------------------------------------------------------- integrity (corruption matrix)
from manifold_probe.store import IntegrityError  # noqa: E402


def _chunk_files(path, layer):
    root = path / layer / "c"
    return sorted(p for p in root.rglob("*") if p.is_file())


def _written(tmp_path, rng, name="s", token_level=False):
    acts = _acts(rng, n=37, token_level=token_level)
    ActivationStore(tmp_path / name).write(acts, chunk_rows=8)
    return tmp_path / name, acts


def _delete(path, rng):
    _chunk_files(path, "layer_0")[1].unlink()


def _truncate(path, rng):
    f = _chunk_files(path, "layer_0")[2]
    f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])


def _bitflip(path, rng):
    f = _chunk_files(path, "layer_0")[0]
    b = bytearray(f.read_bytes())
    b[len(b) // 2] ^= 0x10
    f.write_bytes(bytes(b))


def _swap(path, rng):
    a, b = _chunk_files(path, "layer_0")[:2]
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)


def _foreign(path, rng):
    # a chunk of the same shape and dtype from another store
    other = path.parent / "other"
    acts = _acts(np.random.default_rng(99), n=37)
    ActivationStore(other).write(acts, chunk_rows=8)
    src = _chunk_files(other, "layer_0")[3]
    dst = _chunk_files(path, "layer_0")[3]
    dst.write_bytes(src.read_bytes())


def _edit_dtype(path, rng):
    f = path / "layer_0" / "zarr.json"
    meta = json.loads(f.read_text())
    meta["data_type"] = "float16"
    f.write_text(json.dumps(meta))


def _edit_shape(path, rng):
    f = path / "layer_0" / "zarr.json"
    meta = json.loads(f.read_text())
    meta["shape"] = [20, meta["shape"][1]]
    f.write_text(json.dumps(meta))


def _edit_chunk_grid(path, rng):
    f = path / "layer_0" / "zarr.json"
    meta = json.loads(f.read_text())
    meta["chunk_grid"]["configuration"]["chunk_shape"] = [4, 5]
    f.write_text(json.dumps(meta))


def _edit_manifest_rows(path, rng):
    f = path / "manifest.json"
    man = json.loads(f.read_text())
    man["n_rows"] = 30
    f.write_text(json.dumps(man))


def _garble_manifest(path, rng):
    f = path / "manifest.json"
    f.write_bytes(b"\xff\xfe" + f.read_bytes()[5:])


def _delete_array(path, rng):
    import shutil

    shutil.rmtree(path / "layer_1")


def _empty_chunk(path, rng):
    _chunk_files(path, "layer_1")[-1].write_bytes(b"")


CORRUPTIONS = {
    "delete chunk": _delete,
    "truncate chunk": _truncate,
    "bit-flip chunk": _bitflip,
    "swap chunks": _swap,
    "foreign chunk": _foreign,
    "edit dtype": _edit_dtype,
    "edit shape": _edit_shape,
    "edit chunk grid": _edit_chunk_grid,
    "edit manifest rows": _edit_manifest_rows,
    "garble manifest": _garble_manifest,
    "delete array": _delete_array,
    "empty last chunk": _empty_chunk,
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_every_corruption_is_detected_on_read(tmp_path, rng, corruption):
    path, acts = _written(tmp_path, rng)
    # the untouched store reads back exactly
    np.testing.assert_array_equal(ActivationStore(path).read("layer_0"), acts.arrays["layer_0"])
    CORRUPTIONS[corruption](path, rng)
    with pytest.raises(IntegrityError):
        store = ActivationStore(path)
        store.to_activations()
    # IntegrityError is an InputError (and a ValueError): one exception family
    assert issubclass(IntegrityError, InputError)


@pytest.mark.parametrize("corruption", ["delete chunk", "bit-flip chunk", "swap chunks"])
def test_corruption_of_token_ids_is_detected(tmp_path, rng, corruption):
    path, _ = _written(tmp_path, rng, token_level=True)
    files = _chunk_files(path, "_sentence_ids")
    if corruption == "delete chunk":
        files[1].unlink()
    elif corruption == "bit-flip chunk":
        b = bytearray(files[0].read_bytes())
        b[len(b) // 2] ^= 0x01
        files[0].write_bytes(bytes(b))
    else:
        a, c = files[:2]
        da, dc = a.read_bytes(), c.read_bytes()
        a.write_bytes(dc)
        c.write_bytes(da)
    with pytest.raises(IntegrityError, match="_sentence_ids"):
        ActivationStore(path).read_ids()


@pytest.mark.parametrize("corruption", ["delete chunk", "truncate chunk", "bit-flip chunk",
                                        "swap chunks", "foreign chunk", "edit dtype"])
def test_resume_never_counts_rows_of_a_corrupted_chunk(tmp_path, rng, corruption):
    path = tmp_path / "partial"
    store = ActivationStore(path)
    store.begin(["layer_0", "layer_1"], meta={"model": "m"}, chunk_rows=8)
    for _ in range(5):  # 35 committed rows, 5 chunks
        store.append({"layer_0": rng.standard_normal((7, 5)).astype(np.float32),
                      "layer_1": rng.standard_normal((7, 3)).astype(np.float32)}, n_inputs=7)
    store.close()  # the writer stops (as a crashed process would release its lock)
    reader = ActivationStore(path)
    assert reader.resume() == 35  # intact: resumes at its committed count
    reader.close()
    CORRUPTIONS[corruption](path, rng)
    with pytest.raises(IntegrityError, match="overwrite=True"):
        ActivationStore(path).resume()
    with pytest.raises(IntegrityError):
        ActivationStore(path).begin(["layer_0", "layer_1"], meta={"model": "m"}, chunk_rows=8)
    # the documented recovery starts afresh
    fresh = ActivationStore(path, overwrite=True)
    assert fresh.begin(["layer_0", "layer_1"], meta={"model": "m"}, chunk_rows=8) == 0


def test_uncommitted_rows_in_a_partial_chunk_do_not_fail_the_check(tmp_path, rng, monkeypatch):
    # a crash after writing rows into the last, partly filled chunk but before the commit
    path = tmp_path / "crash"
    store = ActivationStore(path)
    store.begin(["a"], chunk_rows=8)
    first = rng.standard_normal((5, 2)).astype(np.float32)
    store.append({"a": first}, n_inputs=5)

    def die(self, man):
        raise OSError("crash before commit")

    monkeypatch.setattr(ActivationStore, "_write_manifest", die)
    with pytest.raises(OSError):
        store.append({"a": rng.standard_normal((2, 2)).astype(np.float32)}, n_inputs=2)
    monkeypatch.undo()
    again = ActivationStore(path)
    assert again.resume() == 5
    np.testing.assert_array_equal(again.read("a", allow_incomplete=True), first)


def test_verify_can_be_skipped_and_old_stores_still_read(tmp_path, rng):
    path, acts = _written(tmp_path, rng)
    _bitflip(path, rng)
    # opt-out reads what is on disk (documented as unchecked)
    try:
        ActivationStore(path).read("layer_1", verify=False)
    except Exception as exc:  # pragma: no cover - the flipped chunk is in layer_0
        pytest.fail(f"layer_1 is intact: {exc}")
    # a store of the previous format (no checksums) is read only when asked to be unchecked
    path2, acts2 = _written(tmp_path, rng, name="old")
    f = path2 / "manifest.json"
    man = json.loads(f.read_text())
    man["format"] = "manifold_probe.activations/1"
    man.pop("checksums")
    man.pop("manifest_checksum")
    f.write_text(json.dumps(man))
    with pytest.raises(IntegrityError, match="without checksums"):
        ActivationStore(path2).read("layer_0")
    np.testing.assert_array_equal(ActivationStore(path2).read("layer_0", verify=False),
                                  acts2.arrays["layer_0"])


def test_capture_refuses_to_resume_over_a_corrupted_chunk(tmp_path):
    model = _Tiny()
    path = tmp_path / "cap"
    with pytest.raises(KeyboardInterrupt):
        _capture(model, _batches(4, fail_after=3), store=path)  # 12 inputs in 3 chunks of 4
    _chunk_files(path, "layer_1")[1].unlink()  # zarr alone would read these rows as zeros
    with pytest.raises(IntegrityError, match="chunk 1"):
        _capture(model, _batches(4), store=path)
    assert ActivationStore(path).n_inputs == 12  # nothing was counted or appended
    full = _capture(model, _batches(4))
    again = _capture(model, _batches(4), store=ActivationStore(path, overwrite=True))
    for name in full.layers:
        np.testing.assert_array_equal(again.arrays[name], full.arrays[name])
