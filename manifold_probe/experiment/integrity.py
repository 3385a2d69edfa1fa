"""Integrity of a run directory: which saved files can be reused, and recording new ones.

Used by :mod:`manifold_probe.experiment.runner`; the checksums live in
:class:`~manifold_probe.experiment.layout.RunManifest`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._io import (
    atomic_write_bytes,
    json_bytes,
    read_json,
    write_if_changed,
)
from manifold_probe._validation import InputError, IntegrityError
from manifold_probe.experiment.layout import (
    capture_files,
    graph_folders,
    layer_file,
    read_checked,
    read_labels,
    task_done,
    task_path,
)
from manifold_probe.experiment.tables import write_tables


def _report(progress, problems: list[str]) -> None:
    """One line per unusable file (the first ten, then a count)."""
    for line in problems[:10]:
        progress.message(line)
    if len(problems) > 10:
        progress.message(f"... and {len(problems) - 10} more files to recompute")


def capture_ok(manifest, folder: Path, progress) -> bool:
    """Whether a capture folder is complete and every file matches its checksum (else report)."""
    meta_path = folder / "meta.json"
    problem = manifest.problem(meta_path)
    meta = read_json(meta_path) if problem is None else None
    if problem is None and not (isinstance(meta, dict) and "layers" in meta):
        problem = "not a capture's meta.json"
    bad = [] if problem is None else [(meta_path, problem)]
    if meta is not None and not bad:
        bad = [(f, p) for f in capture_files(folder, meta) if (p := manifest.problem(f))]
    if not bad:
        return True
    if bad != [(meta_path, "missing")]:
        _report(progress, [f"run directory: {f}: {p}; capturing again" for f, p in bad])
    manifest.forget(under=folder)
    return False


def record_capture(manifest, folder: Path, meta: Mapping[str, Any], old: Mapping[str, str],
                    progress) -> None:
    """Record a fresh capture; if it differs from the files it replaced (a capture that is not
    bit-reproducible), forget every graph and task result computed from those."""
    for f in capture_files(folder, meta):
        manifest.record(f)
    new = manifest.folder_digests(folder)
    if any(new.get(name) not in (None, digest) for name, digest in old.items()):
        progress.message(f"run directory: the new capture in {folder} differs from the one it "
                         "replaces; its kNN graphs and task results are recomputed")
        manifest.forget(under=manifest.out / "tasks")
        for g in graph_folders(manifest.out, folder.name):
            manifest.forget(under=g)
    manifest.save()


def output_file(spec: Mapping[str, Any]) -> Path:
    if spec["kind"] == "knn":
        return layer_file(spec["graphs"], spec["layer"], "npz")
    return task_path(spec)


def pending_tasks(manifest, specs: list, progress) -> list:
    """The specs whose result is missing or unusable, each given the checksums of its inputs,
    in the order they should start: the costliest kinds first
    (:func:`~manifold_probe.analysis.tasks.longest_first`; a result never depends on it)."""
    from manifold_probe.analysis.tasks import longest_first

    todo, problems, sums = [], [], {}
    for s in specs:
        problem = manifest.problem(output_file(s))
        if problem is None and s["kind"] != "knn" and not task_done(s):
            problem = "not this task's result"
        if problem is None:
            continue
        if problem != "missing":
            problems.append(f"run directory: {output_file(s)}: {problem}; recomputing")
            manifest.forget([output_file(s)])
        checks = {}
        for role in ("activations", "graphs", "perturbed"):
            if role in s:
                if s[role] not in sums:
                    sums[s[role]] = manifest.folder_digests(s[role])
                checks[role] = sums[s[role]]
        todo.append({**s, "checksums": checks})
    _report(progress, problems)
    return [todo[i] for i in longest_first([s["kind"] for s in todo])]


def write_tables_and_config(config, out: Path, meta, stage2, manifest) -> dict:
    """Check every task result, then write the tables and (after them) ``config.json``."""
    bad = [f"{task_path(s)}: {p}" for s in stage2 if (p := manifest.problem(task_path(s)))]
    if bad:
        raise IntegrityError(f"run directory changed during the run: {bad[0]}; rerun to recompute it")
    config_json = json_bytes(config.model_dump(mode="json"))
    config_path = out / "config.json"
    if config_path.exists() and config_path.read_bytes() != config_json:
        config_path.unlink()  # the tables about to be replaced no longer match it
    paths = write_tables(out, meta, stage2)
    write_if_changed(config_path, config_json)
    for p in (config_path, *(Path(v) for v in paths.values())):
        manifest.record(p)
    if "perturbations_csv" not in paths:
        manifest.forget([out / "perturbations.csv"])
    manifest.save()
    return paths


def load_labels(acts, digest: str | None) -> dict[str, np.ndarray]:
    """The labels saved beside a capture, checked against ``digest`` (empty when ``None``:
    a labels file without a recorded checksum is never read)."""
    if digest is None:
        return {}
    return read_labels(Path(acts) / "labels.npz", digest)


def save_labels(config, acts: Path, state, manifest, progress, experiment_labels) -> None:
    """Write ``labels.npz`` beside the capture unless a file matching its checksum is there."""
    path = acts / "labels.npz"
    problem = manifest.problem(path)
    if problem is None:
        return
    if problem != "missing":
        progress.message(f"run directory: {path}: {problem}; recomputing")
    labels = experiment_labels(config, state)
    sid_path = acts / "sentence_ids.npy"
    if sid_path.exists():  # token rows: each row takes its input's label
        sid = np.load(io.BytesIO(read_checked(sid_path, manifest.digest(sid_path))),
                      allow_pickle=False)
        labels = {k: v if k.endswith(("_order", "_parents")) else v[sid] for k, v in labels.items()}
    buf = io.BytesIO()
    np.savez(buf, **labels)
    atomic_write_bytes(path, buf.getvalue())
    manifest.record(path)
    manifest.save()


def inside_run(out: Path, path: Path) -> Path:
    """``path``, after checking that it lies inside the run directory ``out``."""
    root = Path(out).resolve()
    if not Path(path).resolve().is_relative_to(root):
        raise InputError(f"{path} lies outside the run directory {out}; a name in the config "
                         "becomes a path there: use a plain file name")
    return path
