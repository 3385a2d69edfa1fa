"""The experiment runner: config → capture → tasks → files, with resume and cache keys.

:func:`run_experiment` (what ``manifold-probe run`` calls) captures the activations (once per
capture hash), captures each perturbed model, computes each layer's kNN graph once, then runs
the tasks of :func:`manifold_probe.analysis.tasks.schedule` through an executor — each task's
result written atomically to ``DIR/tasks/`` so that a rerun skips it — and writes the tables
and the report.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._io import (
    atomic_save_npy,
    atomic_write_bytes,
    atomic_write_json,
    read_json,
)
from manifold_probe._validation import InputError, IntegrityError
from manifold_probe.analysis.measures import subsample_indices
from manifold_probe.analysis.metric import apply_metric
from manifold_probe.analysis.tasks import (
    TASK_GRAPH,
    TASK_REVISION,
    TASK_SETTINGS,
    Task,
    perturbation_schedule,
    schedule,
)
from manifold_probe.analysis.tasks import run_task as run_analysis_task
from manifold_probe.config import ConfigError, config_hash
from manifold_probe.experiment.integrity import (
    capture_ok,
    inside_run,
    load_labels,
    output_file,
    pending_tasks,
    record_capture,
    save_labels,
    write_tables_and_config,
)
from manifold_probe.experiment.layout import (
    DiskSource,
    RunLock,
    RunManifest,
    changed_layers,
    graph_folder,
    layer_file,
    load_layer,
    subsample_spec,
    task_path,
)
from manifold_probe.neighbors import knn

__all__ = [
    "ProgressSink",
    "capture_hash",
    "capture_only",
    "capture_to_folder",
    "check_tables",
    "experiment_inputs",
    "experiment_labels",
    "inputs_hash",
    "load_handle",
    "plan_tasks",
    "run_experiment",
    "run_task",
    "task_times",
]


class ProgressSink:
    """Receives progress; the CLI's rich bars implement it. The default does nothing."""

    def begin(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, n: int = 1) -> None:
        pass

    def end(self, stage: str) -> None:
        pass

    def message(self, text: str) -> None:
        pass


# --------------------------------------------------------------------------- capture
def capture_hash(config, handle=None, inputs=None) -> str:
    """The cache key of a config's activations; it cannot go stale.

    It hashes the model spec, data, capture settings and first seed **and** what the model and
    inputs are: :meth:`~manifold_probe.capture.ModelHandle.fingerprint` (SHA-256 of every
    weight, the model config and the tokenizer) and :func:`inputs_hash` of the inputs. A
    changed weight file or corpus gives a new key, so every capture and task of the old model
    is recomputed rather than reused. ``handle``/``inputs`` default to loading them from the
    config (pass them when already loaded: loading and fingerprinting cost one pass over the
    weights).
    """
    if handle is None:
        handle = load_handle(config)
    if inputs is None:
        inputs = experiment_inputs(config, handle)
    fingerprint = handle.fingerprint() if hasattr(handle, "fingerprint") else None
    capture = config.capture.model_dump(mode="json")
    if capture.get("metric") == "euclidean":
        del capture["metric"]  # the default keeps the keys of captures made before the option
    return config_hash({"model": config.model.model_dump(mode="json"),
                        "data": config.data.model_dump(mode="json"),
                        "capture": capture,
                        "seed": config.seeds[0],
                        "weights": fingerprint,
                        "inputs": inputs_hash(inputs),
                        # perturbation layers became 1-based (layer l = block l) with this key
                        "layers": "1-based"})


def inputs_hash(inputs: Any) -> str:
    """SHA-256 of an experiment's inputs: a list of sentences, or an array of token ids."""
    import hashlib

    from manifold_probe.capture.core import hash_sentences

    if isinstance(inputs, (list, tuple)) and all(isinstance(s, str) for s in inputs):
        return hash_sentences(inputs)
    if hasattr(inputs, "detach"):  # a torch tensor
        inputs = inputs.detach().cpu().numpy()
    arr = np.ascontiguousarray(np.asarray(inputs))
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def load_handle(config):
    """The model handle a config names."""
    from manifold_probe.capture import load_model

    return load_model(config.model.spec, trust_code=config.model.trust_code)


def experiment_inputs(config, handle) -> Any:
    """The inputs of an experiment: corpus sentences, or the inputs the model handle offers."""
    if config.data.source == "corpus":
        from manifold_probe.datasets import load_corpus

        if getattr(handle, "tokenizer", None) is None and getattr(handle, "kind", "hf") != "hf":
            raise ConfigError(
                f"config error at data.source: model {config.model.spec!r} has no tokenizer, so "
                "it cannot read corpus sentences; return (model, tokenizer) from the spec's "
                'function, or use source = "model" with a ModelHandle that offers inputs'
            )

        corpus = load_corpus(labels=config.data.labels, n=config.data.n, seed=config.seeds[0],
                             source=config.data.corpus)
        return list(corpus.sentences)
    for attr in ("default_inputs", "inputs"):
        value = getattr(handle, attr, None)
        if callable(value):
            value = value()
        if value is not None:
            if config.data.n is not None and len(value) > config.data.n:
                idx = subsample_indices(len(value), config.data.n, config.seeds[0])
                value = value[idx] if hasattr(value, "shape") else [value[i] for i in idx]
            return value
    raise InputError(
        f"config error at data.source: model {config.model.spec!r} offers no inputs of its own; "
        'use source = "corpus"'
    )


def experiment_labels(config, state) -> dict[str, np.ndarray]:
    """The inputs' labels (see :mod:`manifold_probe.analysis.semantic`), one value per input.

    Corpus: ``category`` and the corpus's label columns (``day``, ``month``, ...). The
    modular-addition model: ``answer`` = (a + b) mod p, ``a``, ``b`` and ``answer_order``, the
    answer classes in the cyclic order of the unembedding's strongest Fourier frequency.
    ``state()`` returns the model handle and inputs (called only when the model is needed).
    """
    if config.data.source == "corpus":
        from manifold_probe.datasets import load_corpus

        corpus = load_corpus(labels=config.data.labels, n=config.data.n, seed=config.seeds[0],
                             source=config.data.corpus)
        return {"category": np.asarray(corpus.categories).astype(str),
                **{k: np.asarray(v) for k, v in corpus.labels.items()}}
    handle, inputs = state()
    p = (getattr(handle, "extra", None) or {}).get("p")
    if getattr(handle, "kind", None) != "toy" or p is None:
        return {}
    from manifold_probe.capture.toy import fourier_key_frequencies

    pairs = np.asarray(inputs)
    f = int(fourier_key_frequencies(handle.model.unembed.weight.detach().cpu().numpy(), n=1)[0])
    return {"answer": (pairs[:, 0] + pairs[:, 1]) % p, "a": pairs[:, 0], "b": pairs[:, 1],
            "answer_order": (np.arange(p) * pow(f, -1, p)) % p}


def capture_to_folder(config, handle, folder, inputs) -> dict:
    """Capture every layer of ``inputs`` and save them to ``folder`` (meta.json written last)."""
    pooling = "all" if config.capture.pooling == "tokens" else config.capture.pooling
    acts = handle.capture(inputs, pooling=pooling, layers=config.capture.layers,
                          batch_size=config.capture.batch_size, device=config.model.device)
    folder = Path(folder)
    for i, name in enumerate(acts.layers):
        rows = apply_metric(np.asarray(acts.arrays[name], dtype=np.float32),
                            config.capture.metric, name=f"layer {name}")
        atomic_save_npy(layer_file(folder, i), rows)
    has_sid = acts.sentence_ids is not None
    if has_sid:
        atomic_save_npy(folder / "sentence_ids.npy", np.asarray(acts.sentence_ids, dtype=np.int64))
    first = np.asarray(acts.arrays[acts.layers[0]])
    meta = {"layers": list(acts.layers), "n_points": int(first.shape[0]),
            "dims": [int(np.asarray(acts.arrays[n]).shape[1]) for n in acts.layers],
            "has_sentence_ids": has_sid, "model": config.model.spec}
    atomic_write_json(folder / "meta.json", meta)
    return meta


def capture_only(config, out) -> tuple[Path, dict, bool]:
    """Capture a config's activations into ``out`` (``manifold-probe capture``), under the
    directory's lock and with checksums; ``(folder, meta, captured now)``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    handle = load_handle(config)
    inputs = experiment_inputs(config, handle)
    folder = out / "activations" / capture_hash(config, handle, inputs)
    with RunLock(out):
        manifest = RunManifest.load(out)
        old = manifest.folder_digests(folder)
        if capture_ok(manifest, folder, ProgressSink()):
            return folder, read_json(folder / "meta.json"), False
        meta = capture_to_folder(config, handle, folder, inputs)
        record_capture(manifest, folder, meta, old, ProgressSink())
        return folder, meta, True


def check_tables(out) -> None:
    """Check a run directory's tables, ``config.json`` and every other file the report reads
    (task results, activations, graphs, labels) against its manifest.

    Raises
    ------
    IntegrityError
        One of them is missing, altered or unrecorded (a directory written before manifests
        existed, without ``manifest.json``, is not checked).
    """
    out = Path(out)
    if not (out / "manifest.json").exists():
        return
    manifest = RunManifest.load(out)
    fix = f"rerun `manifold-probe run CONFIG --out {out}` to rebuild the tables"
    if manifest.note:
        raise IntegrityError(f"{manifest.note.split(';')[0]}; {fix}")
    names = ["profile.json", "profile.csv", "config.json"]
    for extra in ("perturbations.csv", "profile.nc"):
        if (out / extra).exists() or manifest.digest(out / extra):
            names.append(extra)
    # and every other file the report reads: task results, activations, graphs, labels
    names += sorted({*manifest.files, *(manifest.rel(p) for p in (out / "tasks").glob("*.json"))}
                    - set(names))
    for name in names:
        problem = manifest.problem(out / name)
        if problem is not None:
            raise IntegrityError(f"{out / name}: {problem}; {fix}")


# --------------------------------------------------------------------------- tasks
def plan_tasks(config, out, acts, meta, pert_folders: Mapping[str, Any], *,
               labels_digest: str | None = None) -> tuple[list, list]:
    """The knn tasks (stage 1) and measure tasks (stage 2) of a run, as picklable dicts.

    The measure tasks are :func:`~manifold_probe.analysis.tasks.schedule`'s, each keyed by the
    capture, the graph size and the settings sections its result depends on.
    """
    est = config.estimators.to_settings()
    est_dict, graph_k, n_layers = est.as_dict(), est.graph_k(), len(meta["layers"])
    rows, suffix = subsample_spec(meta, est.profile.max_rows)
    chash = Path(acts).name + suffix  # a subsample's graphs and results are keyed by it
    common = {"dir": str(out), "activations": str(acts), "estimators": est, **rows,
              "graphs": str(graph_folder(out, chash, graph_k)),
              "has_sentence_ids": bool(meta.get("has_sentence_ids"))}
    stage1 = [{**common, "kind": "knn", "layer": i, "graph_k": graph_k, "id": f"knn-L{i:02d}"}
              for i in range(n_layers)]

    def spec(t: Task, **extra) -> dict:
        # the graph's size only where the task reads the graph (TASK_GRAPH), and only the
        # sections it declares: run_task shows it nothing else, so the key cannot go stale
        graph = {"graph_k": graph_k} if t.kind in TASK_GRAPH else {}
        key = config_hash({"c": chash, **graph, **TASK_REVISION.get(t.kind, {}),
                           **{p: est_dict[p] for p in TASK_SETTINGS[t.kind]}, **extra})
        tid = f"{t.kind}-L{t.layer:02d}" + (f"-L{t.other:02d}" if t.other is not None else "") \
            + f"-s{t.seed}" + (f"-{extra['label']}" if "label" in extra else "") + f"-{key}"
        return {**common, "kind": t.kind, "layer": t.layer, "other": t.other, "seed": t.seed,
                "id": tid, **extra}

    stage2 = [spec(t) for t in schedule(n_layers, est, config.seeds,
                                        has_sentence_ids=bool(meta.get("has_sentence_ids")),
                                        labels=load_labels(acts, labels_digest))]
    for label, (folder, changed) in pert_folders.items():
        stage2 += [spec(t, label=label, perturbed=str(folder))
                   for t in perturbation_schedule(changed, config.seeds)]
    return stage1, stage2


def run_task(spec: Mapping[str, Any]) -> dict:
    """Run one task and write its result atomically; returns the values.

    A top-level function of picklable arguments, so dask workers can run it. ``knn`` tasks
    save a layer's graph; every other kind is looked up in
    :data:`manifold_probe.analysis.tasks.TASKS`. Each task's wall time (``seconds``) and CPU
    time of its process (``cpu_seconds``, ``time.process_time``: with several tasks in one
    process at once it counts theirs too) are recorded with its result; a ``knn`` task returns
    them.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    kind, i = spec["kind"], spec["layer"]
    if kind == "knn":
        nb = knn(cloud := DiskSource(spec).cloud(i), min(spec["graph_k"], len(cloud) - 1))
        buf = io.BytesIO()
        np.savez(buf, distances=nb.distances, indices=nb.indices)
        atomic_write_bytes(layer_file(spec["graphs"], i, "npz"), buf.getvalue())
        return {"k": nb.k, "seconds": time.perf_counter() - start,
                "cpu_seconds": time.process_time() - cpu_start}
    task = Task(kind, i, spec.get("seed", 0), spec.get("other"))
    values = run_analysis_task(DiskSource(spec), task, spec["estimators"])
    atomic_write_json(task_path(spec), {"id": spec["id"], "kind": kind, "layer": i,
                                        "seed": task.seed, "values": values,
                                        "seconds": time.perf_counter() - start,
                                        "cpu_seconds": time.process_time() - cpu_start})
    return values


def task_times(specs, knn_results=()) -> dict[str, float]:
    """Time per measure kind: ``time_<kind>_s`` (wall) and ``cpu_time_<kind>_s`` (CPU).

    Sums the ``seconds``/``cpu_seconds`` recorded in the measure tasks' result files (reused
    tasks count with the time they took when they ran) and those of the ``knn`` results given
    (the graphs computed in this call).
    """
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def add(kind, rec):
        if isinstance(rec, dict) and "seconds" in rec:
            wall[kind] = wall.get(kind, 0.0) + float(rec["seconds"])
            cpu[kind] = cpu.get(kind, 0.0) + float(rec.get("cpu_seconds", float("nan")))

    for rec in knn_results:
        add("knn", rec)
    for spec in specs:
        if spec["kind"] != "knn":
            add(spec["kind"], read_json(task_path(spec)))
    out = {f"time_{kind}_s": round(v, 3) for kind, v in wall.items()}
    out.update({f"cpu_time_{kind}_s": round(v, 3) for kind, v in cpu.items()})
    return out


# --------------------------------------------------------------------------- the experiment
def _capture_perturbed(config, out, acts, chash, n_layers, progress, state, manifest) -> dict:
    """Capture each perturbed model (skipped when saved); label -> (folder, changed layers)."""
    from manifold_probe.capture.perturb import perturbed
    from manifold_probe.capture.transforms import TransformContext

    folders: dict[str, tuple[Path, list[int]]] = {}
    names = read_json(acts / "meta.json")["layers"]

    def clean(name: str) -> np.ndarray:
        if name not in names:
            raise InputError(f"a fitted transform reads the clean layer {name!r}, which was not "
                             f"captured ({names}); add it to capture.layers")
        i = names.index(name)
        return load_layer(acts, i, manifest.digest(layer_file(acts, i)))

    context = TransformContext(clean=clean,
                               labels=load_labels(acts, manifest.digest(acts / "labels.npz")))
    progress.begin("perturbed capture", len(config.perturbations))
    for p in config.perturbations:
        folder = inside_run(out, out / "perturbed" / chash / f"{p.label}-{config_hash(p)[:8]}")
        old = manifest.folder_digests(folder)
        if not capture_ok(manifest, folder, progress):
            handle, inputs = state()
            with perturbed(handle, p, seed=config.seeds[0], context=context):
                meta = capture_to_folder(config, handle, folder, inputs)
            record_capture(manifest, folder, meta, old, progress)
        changed = changed_layers(acts, folder, n_layers)
        # one row per later layer, also where a keep control's inverse restores it exactly
        folders[p.label] = (folder, list(range(changed[0], n_layers)) if changed else [])
        progress.advance("perturbed capture")
    progress.end("perturbed capture")
    return folders


def run_experiment(config, out=None, *, executor=None, progress: ProgressSink | None = None,
                   make_report: bool = True) -> dict:
    """Run a whole experiment into a directory; finished work is reused (resume).

    Steps: capture the activations (skipped when saved), capture each perturbed model,
    compute each layer's kNN graph once, run every (layer × measure × seed) task through the
    executor (each writes its own result atomically; finished tasks are skipped), then write
    ``profile.csv``/``profile.json``, ``perturbations.csv``, ``config.json``, ``run.json``
    (tasks run and reused, the wall time of the profile step in this call and of its two
    stages, ``time_profile_step_s``/``time_stage_knn_s``/``time_stage_measures_s``, and the time
    per measure kind of :func:`task_times`), the figures
    and ``report.html``.

    One run writes a directory at a time (:class:`~manifold_probe.experiment.layout.RunLock`;
    a second raises ``LockHeldError`` naming the first). Every file written is recorded in
    ``manifest.json`` and a saved file is reused only when it matches its checksum; any
    other is reported (``progress.message``, one line each) and recomputed. ``config.json``
    is written after the tables, and removed first when the config changed, so it always
    describes the tables beside it.

    Returns
    -------
    dict with the output paths, the numbers of tasks run and skipped, and the
    ``time_<kind>_s``/``cpu_time_<kind>_s`` of :func:`task_times`.
    """
    progress = progress or ProgressSink()
    out = Path(out if out is not None else config.out)
    out.mkdir(parents=True, exist_ok=True)
    with RunLock(out):
        manifest = RunManifest.load(out)
        if manifest.note:
            progress.message(manifest.note)
        try:
            return _run_locked(config, out, manifest, executor, progress, make_report)
        finally:
            manifest.save()


def _run_locked(config, out, manifest, executor, progress, make_report) -> dict:
    """The body of :func:`run_experiment`, run while holding the directory's lock."""
    from manifold_probe.executor import InProcessExecutor

    # tasks side by side only when the config asks (the command line's default: one per core)
    executor = executor or InProcessExecutor(threads=config.executor.threads or 1)
    # the model is always loaded: the cache key holds its weights' fingerprint
    handle = load_handle(config)
    inputs = experiment_inputs(config, handle)
    chash = capture_hash(config, handle, inputs)
    acts = out / "activations" / chash

    def state():
        return handle, inputs

    old = manifest.folder_digests(acts)
    if not capture_ok(manifest, acts, progress):
        handle, inputs = state()
        progress.message(f"capturing activations of {config.model.spec}")
        progress.begin("capture", 1)
        record_capture(manifest, acts, capture_to_folder(config, handle, acts, inputs), old,
                        progress)
        progress.advance("capture")
        progress.end("capture")
    save_labels(config, acts, state, manifest, progress, experiment_labels)
    meta = read_json(acts / "meta.json")
    pert_folders = (_capture_perturbed(config, out, acts, chash, len(meta["layers"]), progress,
                                       state, manifest) if config.perturbations else {})
    stage1, stage2 = plan_tasks(config, out, acts, meta, pert_folders,
                                labels_digest=manifest.digest(acts / "labels.npz"))
    counts = {"run": 0, "skipped": 0}
    knn_results = []
    stage_wall = {}
    for stage, key, specs in (("kNN graphs", "knn", stage1), ("measures", "measures", stage2)):
        stage_start = time.perf_counter()
        todo = pending_tasks(manifest, specs, progress)
        counts["skipped"] += len(specs) - len(todo)
        progress.begin(stage, len(specs))
        progress.advance(stage, len(specs) - len(todo))
        for spec, values in executor.map_unordered(run_task, todo):
            manifest.record(output_file(spec))
            manifest.save(force=False)
            counts["run"] += 1
            if spec["kind"] == "knn":
                knn_results.append(values)
            progress.advance(stage)
        progress.end(stage)
        stage_wall[key] = time.perf_counter() - stage_start
    paths = write_tables_and_config(config, out, meta, stage2, manifest)
    # the profile step's wall time in this call (tasks reused count as nothing), beside the
    # summed time of each measure kind (which, with tasks side by side, exceeds it)
    timing = {"time_profile_step_s": round(sum(stage_wall.values()), 3),
              **{f"time_stage_{k}_s": round(v, 3) for k, v in stage_wall.items()},
              **task_times(stage2, knn_results)}
    atomic_write_json(out / "run.json", {**counts, **timing})
    paths["run_json"] = str(out / "run.json")
    if make_report:
        from manifold_probe.report import report_is_current, write_report

        # redrawn unless identical: same tables, same drawing code, figures all there
        paths.update({"report": str(out / "report.html")} if report_is_current(out)
                     else write_report(out))
    return {**paths, **counts, **timing, "out": str(out)}
