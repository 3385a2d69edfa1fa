"""Every task of the per-token MiniLM run, one after another on one thread, in CPU seconds.

``manifold-probe run experiments/configs/tokens.toml`` runs two tasks side by side, and its
``cpu_time_*`` columns count the process's CPU (both tasks), so they cannot say what one task
costs; on a shared machine its wall times say even less. This script reads the capture of such
a run (``RUN/activations/<hash>``), computes each layer's shared kNN graph with the run's
``graph_k`` and then runs every task of the run's schedule (the settings of the config, seed 0)
one at a time, one BLAS thread, timing each with ``time.thread_time``: CPU seconds of this
thread, which the machine's load inflates far less than wall time. It saves the CPU seconds per
task and summed per kind, and every task's values (lists left out), so two commits can be
compared value for value (``--compare OTHER.json``).

An idle 2-core estimate of the whole run: (the kNN stage's CPU + the measures stage's CPU) / 2
plus the capture and the report (``--capture-report-s``, from an idle run's log: its total
minus its profile step; 14 s on the run of 651968f). Tasks side by side share the memory
bandwidth and the last ones leave a core idle, so the true wall time is somewhat above it.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_tokens_task_cpu.py RUN_DIR \\
        --out NAME [--compare benchmarks/results/OTHER.json] [--kinds curvature,dimension]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _plain(v):
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def compare(a: dict, b: dict) -> dict:
    """Per task and column: equal, equal to 1e-9 relative, or different (with both values)."""
    out = {"identical": 0, "close": 0, "different": []}
    for tid, va in a.items():
        vb = b.get(tid)
        if vb is None:
            continue
        for col in sorted(set(va) | set(vb)):
            x, y = va.get(col), vb.get(col)
            if x == y or (isinstance(x, float) and isinstance(y, float)
                          and math.isnan(x) and math.isnan(y)):
                out["identical"] += 1
            elif (isinstance(x, (int, float)) and isinstance(y, (int, float))
                  and not isinstance(x, bool) and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)):
                out["close"] += 1
            else:
                out["different"].append([tid, col, x, y])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", required=True)
    ap.add_argument("--compare", type=Path, default=None)
    ap.add_argument("--kinds", default=None, help="only these task kinds (comma separated)")
    ap.add_argument("--capture-report-s", type=float, default=14.0)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    import torch

    from manifold_probe.analysis.tasks import preload, run_task, schedule
    from manifold_probe.config import load_config
    from manifold_probe.experiment.layout import read_labels
    from manifold_probe.neighbors import knn, knn_cache

    torch.set_num_threads(1)
    config = load_config(ROOT / "experiments/configs/tokens.toml")
    est = config.estimators.to_settings()
    acts = next((args.run / "activations").iterdir())
    files = sorted(acts.glob("L*.npy"))
    clouds = [np.load(f) for f in files]
    labels = read_labels(acts / "labels.npz", None)
    sid = np.load(acts / "sentence_ids.npy")
    preload()
    knn_s = []
    graphs = []
    with knn_cache(enabled=False):
        for X in clouds:
            c = time.thread_time()
            graphs.append(knn(X, est.graph_k()))
            knn_s.append(time.thread_time() - c)
    print("graphs", [round(s, 2) for s in knn_s], flush=True)

    class Source:
        def cloud(self, i):
            return clouds[i]

        def graph(self, i):
            return graphs[i]

        def sentence_ids(self):
            return sid

        def labels(self):
            return labels

    kinds = None if args.kinds is None else set(args.kinds.split(","))
    tasks = [t for t in schedule(len(clouds), est, config.seeds, has_sentence_ids=True,
                                 labels=labels) if kinds is None or t.kind in kinds]
    per_task, values, by_kind = {}, {}, {"knn": sum(knn_s)}
    load0 = os.getloadavg()
    for t in tasks:
        tid = f"{t.kind}-L{t.layer:02d}" + (f"-L{t.other:02d}" if t.other is not None else "")
        c = time.thread_time()
        v = run_task(Source(), t, est)
        per_task[tid] = time.thread_time() - c
        by_kind[t.kind] = by_kind.get(t.kind, 0.0) + per_task[tid]
        values[tid] = {k: _plain(x) for k, x in v.items() if not isinstance(x, list)}
        print(tid, round(per_task[tid], 2), flush=True)
    measures = sum(v for k, v in by_kind.items() if k != "knn")
    out = {"machine": machine(), "run": str(args.run), "graph_k": est.graph_k(),
           "cpu_s_by_kind": by_kind, "cpu_s_per_task": per_task,
           "knn_cpu_s_per_graph": knn_s, "measures_cpu_s": measures,
           "loadavg_before": load0, "loadavg_after": os.getloadavg(),
           "idle_2core_estimate_s": (sum(knn_s) + measures) / 2 + args.capture_report_s
           if kinds is None else None,
           "note": "CPU seconds of one thread (time.thread_time), tasks one at a time, on a "
                   "shared machine under the recorded load", "values": values}
    if args.compare is not None:
        other = json.loads(args.compare.read_text())
        out["compared_with"] = str(args.compare)
        out["comparison"] = compare(other["values"], values)
        c = out["comparison"]
        print(f"compared: {c['identical']} identical, {c['close']} close, "
              f"{len(c['different'])} different", flush=True)
        for row in c["different"][:40]:
            print("  ", row)
    print(json.dumps({k: round(v, 2) for k, v in by_kind.items()}), flush=True)
    save(args.out, out)
    print("saved", RESULTS / f"{args.out}.json")


if __name__ == "__main__":
    main()
