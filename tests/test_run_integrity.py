"""Integrity of the run directory: every file the runner writes and reads back is checked
against the manifest; a corrupted file is reported on one line and recomputed, never used.

The corruption matrix (issue 13): delete, truncate, bit-flip, swap (another layer's or task's
file), foreign file (well-formed, of the right kind, not written by this run) — for a layer
array, a perturbed capture's layer, a kNN graph and a task result. Every case must be detected
(a report line naming the file) and the rerun must give the reference profile exactly (same
process, same seeds: the recomputed files are bit-identical).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from manifold_probe._validation import IntegrityError
from manifold_probe.config import load_config
from manifold_probe.experiment import ProgressSink, run_experiment
from manifold_probe.experiment.layout import (
    LockHeldError,
    RunLock,
    RunManifest,
    load_graph,
    load_layer,
    shared_layer,
)

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "experiments" / "configs" / "tiny.toml"


class Recorder(ProgressSink):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def message(self, text: str) -> None:
        self.lines.append(text)


def _run(out, config=None, **kwargs):
    progress = Recorder()
    result = run_experiment(config or load_config(TINY), out, progress=progress,
                            make_report=False, **kwargs)
    return result, progress.lines


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    result, _ = _run(out)
    assert result["run"] > 0
    return out


def _targets(out: Path) -> dict[str, tuple[Path, Path]]:
    """kind -> (file to corrupt, a sibling of the same kind to swap in)."""
    acts = next((out / "activations").iterdir())
    graphs = next((out / "graphs").iterdir())
    pert = next(next((out / "perturbed").iterdir()).iterdir())
    tasks = sorted((out / "tasks").glob("*.json"))
    return {
        "layer": (acts / "L01.npy", acts / "L00.npy"),
        "perturbed": (pert / "L01.npy", pert / "L00.npy"),
        "graph": (graphs / "L00.npz", graphs / "L01.npz"),
        "task": (tasks[0], tasks[1]),
        # the inputs' labels (issue 23): a swap brings in another npz of the run
        "labels": (acts / "labels.npz", graphs / "L01.npz"),
    }


def _foreign(path: Path) -> bytes:
    """A well-formed file of the same kind and shape that this run did not write."""
    rng = np.random.default_rng(7)
    buf = io.BytesIO()
    if path.name == "labels.npz":  # the same labels, permuted: well formed, silently wrong
        with np.load(path) as lab:
            np.savez(buf, **{k: rng.permutation(lab[k]) for k in lab.files})
    elif path.suffix == ".npy":
        np.save(buf, rng.normal(size=np.load(path).shape).astype(np.float32))
    elif path.suffix == ".npz":
        with np.load(path) as g:
            np.savez(buf, distances=np.sort(rng.random(g["distances"].shape), 1),
                     indices=g["indices"][::-1].copy())
    else:  # a result with this task's own id (it passes the id check; only the checksum fails)
        data = json.loads(path.read_text())
        data["values"] = {k: 1.0 for k in data["values"]}
        return json.dumps(data).encode()
    return buf.getvalue()


def _corrupt(path: Path, sibling: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "bitflip":
        flipped = bytearray(data)
        flipped[len(data) * 3 // 4] ^= 0x10
        path.write_bytes(bytes(flipped))
    elif how == "swap":
        path.write_bytes(sibling.read_bytes())
        sibling.write_bytes(data)
    elif how == "foreign":
        path.write_bytes(_foreign(path))


@pytest.mark.parametrize("how", ["delete", "truncate", "bitflip", "swap", "foreign"])
@pytest.mark.parametrize("kind", ["layer", "perturbed", "graph", "task", "labels"])
def test_corruption_matrix_detected_and_recomputed(reference, tmp_path, kind, how):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    path, sibling = _targets(out)[kind]
    _corrupt(path, sibling, how)
    _, lines = _run(out)
    named = [line for line in lines if path.name in line and "run directory" in line]
    assert named, lines  # detected and reported, on one line
    assert all("\n" not in line for line in lines)
    if how == "swap":
        assert any(sibling.name in line for line in lines), lines
    # recomputed, not used: the profile is the reference's, bit for bit
    assert (out / "profile.csv").read_bytes() == (reference / "profile.csv").read_bytes()
    assert (out / "perturbations.csv").read_bytes() == (reference / "perturbations.csv").read_bytes()
    # and the directory is whole again: a second rerun finds nothing to redo
    result, lines = _run(out)
    assert result["run"] == 0 and lines == []


def test_clean_rerun_reports_nothing(reference, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    _, lines = _run(out)
    assert lines == []  # (perturbation task ids hold the perturbed folder's absolute path,
    result, lines = _run(out)  # so a copied directory reruns those; nothing else)
    assert result["run"] == 0 and lines == []


def test_edited_manifest_recomputes_everything(reference, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    man = json.loads((out / "manifest.json").read_text())
    key = next(k for k in man["files"] if k.startswith("tasks/"))
    man["files"][key]["blake2b"] = "0" * 32  # bless a file by editing its record
    (out / "manifest.json").write_text(json.dumps(man))
    result, lines = _run(out)
    assert any("manifest.json is corrupted or edited" in line for line in lines)
    assert result["skipped"] == 0
    assert (out / "profile.csv").read_bytes() == (reference / "profile.csv").read_bytes()


@pytest.mark.parametrize("fmt", ["manifold_probe.run/0", "manifold_probe.run/2", None])
def test_manifest_format_field_cannot_bless_a_directory(reference, tmp_path, fmt):
    # the version field is covered like the rest: any other value voids the whole manifest
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    man = json.loads((out / "manifest.json").read_text())
    man["format"] = fmt
    (out / "manifest.json").write_text(json.dumps(man))
    result, lines = _run(out)
    assert any("manifest.json is corrupted or edited" in line for line in lines)
    assert result["skipped"] == 0
    assert (out / "profile.csv").read_bytes() == (reference / "profile.csv").read_bytes()


@pytest.mark.parametrize("name", ["profile.nc", "profile.csv", "config.json", "labels",
                                  "task", "graph", "layer"])
def test_report_checks_every_file_it_reads(reference, tmp_path, name):
    from manifold_probe.experiment.runner import check_tables

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    check_tables(out)  # intact
    path = _targets(out)[name][0] if name in _targets(out) else out / name
    data = bytearray(path.read_bytes())
    data[len(data) * 3 // 4] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=path.name):
        check_tables(out)


def test_labels_without_a_record_are_not_read(reference, tmp_path):
    from manifold_probe.experiment.layout import DiskSource

    acts = next((reference / "activations").iterdir())
    spec = {"activations": str(acts), "checksums": {"activations": {}}}
    with pytest.raises(IntegrityError, match="no recorded checksum"):
        DiskSource(spec).labels()


def test_unrecorded_files_from_a_killed_run_are_recomputed(reference, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    (out / "manifest.json").unlink()  # as if killed before its records were written
    result, lines = _run(out)
    assert result["skipped"] == 0
    assert any("not in the manifest" in line for line in lines)
    assert (out / "profile.csv").read_bytes() == (reference / "profile.csv").read_bytes()


def test_readers_check_before_parsing(reference, tmp_path):
    acts = next((reference / "activations").iterdir())
    graphs = next((reference / "graphs").iterdir())
    man = RunManifest.load(reference)
    good = man.digest(acts / "L00.npy")
    np.testing.assert_array_equal(load_layer(acts, 0, good), load_layer(acts, 0))
    with pytest.raises(IntegrityError, match="does not match its recorded checksum"):
        load_layer(acts, 1, good)  # another layer's checksum: a swapped file
    # a file checked once is not hashed again by this process, unless it is written since
    copy = tmp_path / "a"
    shutil.copytree(acts, copy)
    load_layer(copy, 0, good)
    with open(copy / "L00.npy", "r+b") as fh:
        fh.seek(-3, 2)
        byte = fh.read(1)[0]
        fh.seek(-3, 2)
        fh.write(bytes([byte ^ 0x01]))
    with pytest.raises(IntegrityError, match="does not match its recorded checksum"):
        load_layer(copy, 0, good)
    cut = tmp_path / "g"
    cut.mkdir()
    data = (graphs / "L00.npz").read_bytes()
    (cut / "L00.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(IntegrityError, match="unreadable"):  # not a BadZipFile traceback
        load_graph(cut, 0)


def test_a_shared_layer_is_read_once_read_only_and_never_after_its_file_changed(reference,
                                                                               tmp_path):
    # the tasks of one process share a checked layer: the same read-only array while the file
    # is unchanged; a file written since is read (and checked) again
    acts = next((reference / "activations").iterdir())
    man = RunManifest.load(reference)
    copy = tmp_path / "a"
    shutil.copytree(acts, copy)
    good = man.digest(acts / "L00.npy")
    X = shared_layer(copy, 0, good)
    np.testing.assert_array_equal(X, load_layer(acts, 0))
    assert X.dtype == np.float64 and not X.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        X[0, 0] = 1.0
    assert shared_layer(copy, 0, good) is X
    with pytest.raises(IntegrityError, match="does not match its recorded checksum"):
        shared_layer(copy, 1, good)  # another layer's checksum: a swapped file
    time.sleep(0.01)  # a later modification time
    with open(copy / "L00.npy", "r+b") as fh:
        fh.seek(-3, 2)
        byte = fh.read(1)[0]
        fh.seek(-3, 2)
        fh.write(bytes([byte ^ 0x01]))
    with pytest.raises(IntegrityError, match="does not match its recorded checksum"):
        shared_layer(copy, 0, good)
    (copy / "L00.npy").unlink()
    with pytest.raises(IntegrityError, match="missing"):
        shared_layer(copy, 0, good)


def test_config_json_always_describes_the_tables(reference, tmp_path, interrupt_runner):
    """A second run with another config, interrupted, leaves the first run's config and
    tables together; finished, it replaces both."""
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    other = load_config(TINY, overrides={"seeds": [1, 2]})
    interrupt_runner(3)
    with pytest.raises(KeyboardInterrupt):
        _run(out, other)
    assert json.loads((out / "config.json").read_text())["seeds"] == [0]
    assert (out / "profile.csv").read_bytes() == (reference / "profile.csv").read_bytes()
    interrupt_runner(None)
    _run(out, other)
    assert json.loads((out / "config.json").read_text())["seeds"] == [1, 2]
    assert (out / "profile.csv").read_bytes() != (reference / "profile.csv").read_bytes()
    man = RunManifest.load(out)
    assert man.problem(out / "config.json") is None and man.problem(out / "profile.csv") is None


def test_second_writer_fails_fast_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from manifold_probe.experiment.layout import RunLock\n"
         f"with RunLock({str(out)!r}):\n    print('locked', flush=True); sys.stdin.read()"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeldError, match=f"pid {holder.pid} on"):
            with RunLock(out):
                pass
        second = subprocess.run(
            [sys.executable, "-m", "manifold_probe.cli", "run", str(TINY), "--out", str(out), "-q"],
            env=env, capture_output=True, text=True, timeout=120,
        )
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert second.returncode == 6, second.stderr
        assert len(lines) == 1 and lines[0].startswith("error:")
        assert f"pid {holder.pid}" in lines[0] and "another run" in lines[0]
        assert not (out / "activations").exists()  # it failed before capturing anything
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with RunLock(out):  # released when its holder exits
        pass


def test_lock_released_when_the_holder_is_killed(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from manifold_probe.experiment.layout import RunLock\n"
         f"with RunLock({str(tmp_path)!r}):\n    print('locked', flush=True); time.sleep(600)"],
        env=env, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    deadline = time.monotonic() + 10
    while True:  # no stale lock: the kernel drops a flock with its process
        try:
            with RunLock(tmp_path):
                break
        except LockHeldError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
