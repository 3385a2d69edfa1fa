"""An estimate of the per-token MiniLM run's wall time on an idle 2-core machine.

``manifold-probe run experiments/configs/tokens.toml`` could not be timed end to end on the
shared machine this was written on (load 5–14). This script puts the estimate together from
parts measured in CPU seconds, which the load inflates far less than wall time:

- the seven kNN graphs (k = 32, 19,296 × 384 each), timed here one after another on one
  thread (``time.thread_time``);
- dimension and trajectory with their nulls, from ``bench_null_subsample.json`` (one thread);
- the other measures from ``bench_token_profile.json`` (the measures stage with the graphs
  given, two tasks side by side at load 2.0, summed per kind) and, for ``structure`` (labels),
  from the last whole run (``--run``'s ``run.json``, two side by side, summed);
- capture and report: the last whole run's total minus its profile step.

The estimate is the sum over two cores: the kNN stage and the measures stage each take their
summed task seconds / 2, plus the capture and the report. Writes
``benchmarks/results/tokens_run_estimate.json``.

With ``--tasks`` (a ``benchmarks/bench_tokens_task_cpu.py`` result: every task of the run
one after another on one thread, in CPU seconds) the kNN graphs and the measures are taken
from it instead, and ``--before`` (the same benchmark on the code of the last idle timing,
``--idle-s`` its wall time) calibrates the sum of parts: the estimate is also given scaled by
the ratio of that run's idle wall time to its own sum of parts (what the sum leaves out: tasks
side by side sharing the memory bandwidth, the last tasks of a stage leaving a core idle).

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/estimate_tokens_run.py \\
        --tokens runs/tokens/activations/HASH --run runs/tokens [--total-s 254]
    python benchmarks/estimate_tokens_run.py --tasks benchmarks/results/tokens_task_cpu_after.json \\
        --before benchmarks/results/tokens_task_cpu_before.json --idle-s 145.1 --capture-report-s 14
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, save  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=Path)
    ap.add_argument("--run", type=Path)
    ap.add_argument("--total-s", type=float, default=254.0,
                    help="wall seconds of the last whole run (the run's own log)")
    ap.add_argument("--tasks", type=Path, help="a bench_tokens_task_cpu.py result")
    ap.add_argument("--before", type=Path, help="the same on the code of the last idle run")
    ap.add_argument("--idle-s", type=float, help="that run's idle wall time")
    ap.add_argument("--capture-report-s", type=float, default=14.0)
    args = ap.parse_args()
    if args.tasks is not None:
        from_tasks(args)
        return

    import torch

    from manifold_probe.neighbors import knn, knn_cache

    torch.set_num_threads(1)
    graphs = []
    with knn_cache(enabled=False):
        for f in sorted(args.tokens.glob("L*.npy")):
            X = np.load(f)
            c = time.thread_time()
            knn(X, 32)
            graphs.append(time.thread_time() - c)
            print(f.name, round(graphs[-1], 2), flush=True)
    nulls = json.loads((RESULTS / "bench_null_subsample.json").read_text())
    prof = json.loads((RESULTS / "bench_token_profile.json").read_text())
    run = json.loads((args.run / "run.json").read_text())
    dim = sum(r["subsample"]["dimension_cpu_s"] for r in nulls["layers"])
    traj = sum(r["subsample"]["trajectory_cpu_s"] for r in nulls["layers"])
    kinds = {k: v for k, v in prof["summed_by_kind_s"].items()
             if k not in ("dimension", "trajectory")}
    measures = {**kinds, "dimension": dim, "trajectory": traj,
                "structure": run.get("time_structure_s", 0.0)}
    capture_report = args.total_s - run["time_profile_step_s"]
    knn_stage = sum(graphs) / 2
    measures_stage = sum(measures.values()) / 2
    total = capture_report + knn_stage + measures_stage
    out = {"knn_cpu_s_per_graph": graphs, "measures_task_s": measures,
           "capture_and_report_s": capture_report, "knn_stage_s": knn_stage,
           "measures_stage_s": measures_stage, "idle_2core_estimate_s": total,
           "loadavg": list(os.getloadavg()),
           "note": "sum of parts over two cores; the last tasks of a stage leave a core idle, "
                   "so the true wall time is somewhat above this"}
    print(json.dumps({k: v for k, v in out.items() if k != "knn_cpu_s_per_graph"}, indent=1))
    save("tokens_run_estimate", out)


def from_tasks(args) -> None:
    """The estimate from per-task CPU seconds (``--tasks``), calibrated by ``--before``."""

    def parts(path: Path) -> tuple[dict, float]:
        d = json.loads(path.read_text())
        by_kind = d["cpu_s_by_kind"]
        return by_kind, sum(by_kind.values()) / 2 + args.capture_report_s

    by_kind, total = parts(args.tasks)
    out = {"tasks": str(args.tasks), "cpu_s_by_kind": by_kind,
           "capture_and_report_s": args.capture_report_s,
           "knn_stage_s": by_kind["knn"] / 2,
           "measures_stage_s": sum(v for k, v in by_kind.items() if k != "knn") / 2,
           "idle_2core_estimate_s": total, "loadavg": list(os.getloadavg()),
           "note": "sum of parts over two cores (CPU seconds of one thread per task, measured "
                   "under load); the calibrated figure scales it by the last idle run's wall "
                   "time over its own sum of parts"}
    if args.before is not None and args.idle_s is not None:
        before_kind, before_total = parts(args.before)
        ratio = args.idle_s / before_total
        out.update(before=str(args.before), before_cpu_s_by_kind=before_kind,
                   before_estimate_s=before_total, before_idle_wall_s=args.idle_s,
                   calibration=ratio, idle_2core_estimate_calibrated_s=total * ratio)
    print(json.dumps({k: v for k, v in out.items() if not isinstance(v, dict)}, indent=1))
    save("tokens_run_estimate", out)


if __name__ == "__main__":
    main()
