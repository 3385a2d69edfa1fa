"""CPU time of the main job's profile step (``manifold-probe run`` with the default config).

The activations of the default experiment (MiniLM, 2000 corpus sentences, 7 layers) are
captured once into ``--cache`` and reused; each call then runs the profile step alone — the
per-layer kNN graphs and every measure task, in process, exactly as the runner does
(:func:`manifold_probe.experiment.runner.plan_tasks` / ``run_task``) — in a fresh run
directory, and prints the CPU and wall time of each measure kind. CPU time
(``time.process_time``) is the number to compare on a shared machine; wall time and
``os.getloadavg()`` are recorded beside it.

Usage::

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_main_job.py --label after  # -> JSON
    python benchmarks/bench_main_job.py --save-profile /tmp/after.csv              # keep profile.csv
    python benchmarks/bench_main_job.py --compare /tmp/before.csv /tmp/after.csv   # max |diff|/column
    python benchmarks/bench_main_job.py --compare B.csv A.csv --label x  # ... also kept in the JSON
    python benchmarks/bench_main_job.py --cprofile /tmp/main_job.prof              # cProfile dump
    python benchmarks/bench_main_job.py --threads 2   # tasks side by side, as `manifold-probe run`
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine  # noqa: E402

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "mp_bench_main_job"


def captured(cache: Path, config):
    """The activation folder of the default config under ``cache`` (captured on first use)."""
    from manifold_probe._io import read_json
    from manifold_probe.experiment.layout import activations_complete
    from manifold_probe.experiment.runner import (
        capture_hash,
        capture_to_folder,
        experiment_inputs,
        load_handle,
    )

    marker = cache / "capture_hash.txt"
    if marker.exists() and activations_complete(cache / "activations" / marker.read_text()) \
            and (cache / "activations" / marker.read_text() / "labels.npz").exists():
        acts = cache / "activations" / marker.read_text()
        return acts, read_json(acts / "meta.json")
    handle = load_handle(config)
    inputs = experiment_inputs(config, handle)
    chash = capture_hash(config, handle, inputs)
    acts = cache / "activations" / chash
    if not activations_complete(acts):
        print(f"capturing activations into {acts} ...", flush=True)
        capture_to_folder(config, handle, acts, inputs)
    if not (acts / "labels.npz").exists():  # the inputs' labels, as the runner saves them
        import numpy as np

        from manifold_probe.experiment.runner import experiment_labels

        np.savez(acts / "labels.npz", **experiment_labels(config, lambda: (handle, inputs)))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(chash)
    return acts, read_json(acts / "meta.json")


def run_profile_step(config, acts, meta, out: Path, threads: int = 1) -> dict:
    """Run the kNN and measure tasks in process (``threads`` at once, as the runner's
    :class:`~manifold_probe.executor.InProcessExecutor`); CPU/wall seconds per kind.

    With one thread the CPU time of each task is its own; with several, a task's wall time
    is its own but ``time.process_time`` counts every thread, so per-kind CPU is left out.
    """
    from manifold_probe.executor import InProcessExecutor
    from manifold_probe.experiment.runner import plan_tasks, run_task
    from manifold_probe.experiment.tables import write_tables

    stage1, stage2 = plan_tasks(config, out, acts, meta, {})
    per_kind: dict[str, dict[str, float]] = {}
    values = {}

    def timed(spec):
        c0, w0 = time.process_time(), time.perf_counter()
        result = run_task(spec)
        return result, time.process_time() - c0, time.perf_counter() - w0

    stages = {}
    for name, specs in (("knn", stage1), ("measures", stage2)):
        w0 = time.perf_counter()
        for spec, (result, cpu, wall) in InProcessExecutor(threads).map_unordered(timed, specs):
            if spec["kind"] != "knn":  # full-precision values (profile.csv rounds), for --compare
                values[spec["id"].rsplit("-", 1)[0]] = result
            entry = per_kind.setdefault(spec["kind"], {"cpu_s": 0.0, "wall_s": 0.0, "tasks": 0})
            entry["cpu_s"] += cpu if threads == 1 else float("nan")
            entry["wall_s"] += wall
            entry["tasks"] += 1
        stages[name] = time.perf_counter() - w0
    write_tables(out, meta, stage2)
    return per_kind, values, stages


def compare(before: Path, after: Path) -> dict[str, float | str]:
    """Max absolute difference per column of two saved profiles (text columns: equal?).

    Compares the full-precision task values saved beside each profile.csv
    (``<name>.tasks.json``) when both exist, else the CSV files themselves.
    """
    def rows(path):
        tasks = path.with_suffix(".tasks.json")
        if tasks.exists() and before.with_suffix(".tasks.json").exists() \
                and after.with_suffix(".tasks.json").exists():
            data = json.loads(tasks.read_text())
            return [{k: v for k, v in vals.items() if not isinstance(v, list)}
                    for _, vals in sorted(data.items())]
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh))

    a, b = rows(before), rows(after)
    if len(a) != len(b):
        raise SystemExit(f"{before} has {len(a)} rows, {after} has {len(b)}")
    out: dict[str, float | str] = {}
    for col in sorted({c for r in a + b for c in r}):
        diffs, text_equal = [], True
        for ra, rb in zip(a, b, strict=True):
            va, vb = ra.get(col, ""), rb.get(col, "")
            va, vb = ("" if va is None else va), ("" if vb is None else vb)
            try:
                fa, fb = float(va), float(vb)
            except ValueError:
                text_equal &= va == vb
                continue
            if math.isnan(fa) and math.isnan(fb):
                continue
            diffs.append(abs(fa - fb))
        out[col] = max(diffs) if diffs else ("equal" if text_equal else "DIFFERENT")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                    help="folder of the captured activations (reused between calls)")
    ap.add_argument("--save-profile", type=Path, help="copy the run's profile.csv here")
    ap.add_argument("--cprofile", type=Path, help="write a cProfile dump of the profile step")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                    help="only compare two profile.csv files and print max |diff| per column")
    ap.add_argument("--label", default="current", help="key of this run in the results JSON")
    ap.add_argument("--threads", type=int, default=1,
                    help="tasks at once, as `manifold-probe run --threads` (its default: cores)")
    ap.add_argument("--no-write", action="store_true", help="do not update the results JSON")
    args = ap.parse_args(argv)
    if args.compare:
        diffs = compare(*args.compare)
        print(json.dumps(diffs, indent=1))
        if not args.no_write and args.label != "current":  # record it under "comparisons"
            path = RESULTS / "bench_main_job.json"
            data = json.loads(path.read_text()) if path.exists() else {}
            data.setdefault("comparisons", {})[args.label] = {
                "before": str(args.compare[0]), "after": str(args.compare[1]),
                "columns": len(diffs),
                "identical": sorted(c for c, v in diffs.items() if v in (0.0, "equal")),
                "max_abs_diff": {c: v for c, v in diffs.items() if v not in (0.0, "equal")},
            }
            path.write_text(json.dumps(data, indent=1) + "\n")
            print(f"wrote {path}")
        return

    from manifold_probe.config import default_config

    config = default_config()
    acts, meta = captured(args.cache, config)
    out = Path(tempfile.mkdtemp(prefix="mp_main_job_"))
    load0 = os.getloadavg()
    c0, w0 = time.process_time(), time.perf_counter()
    try:
        if args.cprofile:
            import cProfile

            prof = cProfile.Profile()
            per_kind, values, stages = prof.runcall(run_profile_step, config, acts, meta, out,
                                                    args.threads)
            prof.dump_stats(str(args.cprofile))
        else:
            per_kind, values, stages = run_profile_step(config, acts, meta, out, args.threads)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        if args.save_profile:
            shutil.copyfile(out / "profile.csv", args.save_profile)
            args.save_profile.with_suffix(".tasks.json").write_text(json.dumps(values))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    load1 = os.getloadavg()
    print(f"{'kind':<14}{'tasks':>6}{'cpu s':>9}{'wall s':>9}")
    for kind, e in per_kind.items():
        print(f"{kind:<14}{e['tasks']:>6}{e['cpu_s']:>9.2f}{e['wall_s']:>9.2f}")
    print(f"{'total':<14}{'':>6}{cpu:>9.2f}{wall:>9.2f}   loadavg {load0[0]:.2f} -> {load1[0]:.2f}")
    print(f"profile step {sum(stages.values()):.2f} s wall (kNN {stages['knn']:.2f} s, measures "
          f"{stages['measures']:.2f} s; {args.threads} task(s) at once)")
    if args.no_write:
        return
    record = {
        "per_kind": {k: {kk: round(v, 3) if isinstance(v, float) else v for kk, v in e.items()}
                     for k, e in per_kind.items()},
        "total_cpu_s": round(cpu, 3), "total_wall_s": round(wall, 3), "threads": args.threads,
        "stage_wall_s": {k: round(v, 3) for k, v in stages.items()},
        "loadavg_start": [round(x, 2) for x in load0], "loadavg_end": [round(x, 2) for x in load1],
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "n_points": meta["n_points"], "layers": meta["layers"], "dims": meta["dims"],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = RESULTS / "bench_main_job.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("machine", machine())
    data.setdefault("runs", {})[args.label] = record
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
