"""What running the nulls of a large cloud on ``NULL_MAX_ROWS`` rows costs, against all rows.

Above :data:`manifold_probe.analysis.nulls.NULL_MAX_ROWS` (5000) rows the profile's
matched-Gaussian dimension null is a Gaussian of 5000 rows (not of the layer's size) and the
trajectory null shuffles a random set of whole inputs of at most 5000 tokens. This benchmark
runs both nulls both ways on every layer of a per-token capture (the default corpus through
MiniLM: 19,296 tokens per layer, the largest n at which the full nulls still run in minutes)
and records, per layer: the null values, their intervals, the calls, and the CPU seconds of
the dimension and trajectory measures each way.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_null_subsample.py \\
        --tokens runs/tokens/activations/HASH [--graphs runs/tokens/graphs/HASH-k32]

(``manifold-probe run experiments/configs/tokens.toml`` writes both folders.) Writes
``benchmarks/results/bench_null_subsample.json``; CPU seconds are ``time.process_time`` of
one thread, and the load average is recorded beside them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

DIM_KEYS = ("id_twonn", "id_twonn_null", "id_twonn_null_lo", "id_twonn_null_hi",
            "id_twonn_vs_null", "id_mle", "id_mle_null", "id_mle_null_lo", "id_mle_null_hi",
            "id_mle_vs_null", "id_null_rows")
TRAJ_KEYS = ("trajectory_curvature", "trajectory_curvature_shuffled",
             "trajectory_curvature_null_lo", "trajectory_curvature_null_hi",
             "trajectory_curvature_gaussian", "trajectory_curvature_vs_null",
             "trajectory_null_rows")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=Path, required=True)
    ap.add_argument("--graphs", type=Path, default=None)
    ap.add_argument("--layers", type=int, nargs="*", default=None)
    args = ap.parse_args()

    import tomllib

    import torch
    from threadpoolctl import threadpool_limits

    import manifold_probe.analysis.nulls as nulls
    from manifold_probe.analysis import EstimatorSettings
    from manifold_probe.analysis.measures import measure_dimension, measure_trajectory
    from manifold_probe.neighbors import Neighbors, knn

    torch.set_num_threads(1)
    root = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / "experiments/configs/tokens.toml").read_text())
    est = EstimatorSettings.from_mapping(cfg["estimators"])
    sid = np.load(args.tokens / "sentence_ids.npy")
    files = sorted(args.tokens.glob("L*.npy"))
    layers = args.layers if args.layers else list(range(len(files)))
    cap = nulls.NULL_MAX_ROWS
    rows = []
    for i in layers:
        X = np.load(files[i]).astype(np.float64)
        gfile = args.graphs / f"L{i:02d}.npz" if args.graphs else None
        if gfile is not None and gfile.exists():
            g = np.load(gfile)
            nb = Neighbors(distances=g["distances"], indices=g["indices"])
        else:
            nb = knn(X, est.graph_k_needed())
        row = {"layer": i, "n": int(len(X))}
        # once without nulls first: what both ways share (the layer's distinct rows and graph,
        # first imports) is then paid before either is timed
        quiet = EstimatorSettings.from_mapping({**cfg["estimators"], "nulls": {"enabled": False}})
        with threadpool_limits(limits=1):
            measure_dimension(X, nb, quiet)
        for label, limit in (("subsample", cap), ("full", 10**12)):
            nulls.NULL_MAX_ROWS = limit
            try:
                with threadpool_limits(limits=1):
                    c0 = time.process_time()
                    dim = measure_dimension(X, nb, est)
                    c1 = time.process_time()
                    traj = measure_trajectory(X, sid)
                    c2 = time.process_time()
            finally:
                nulls.NULL_MAX_ROWS = cap
            row[label] = {"dimension_cpu_s": c1 - c0, "trajectory_cpu_s": c2 - c1,
                          **{k: dim.get(k) for k in DIM_KEYS},
                          **{k: traj.get(k) for k in TRAJ_KEYS}}
        row["loadavg"] = list(os.getloadavg())
        print(i, {k: (row["subsample"][k], row["full"][k]) for k in (
            "id_twonn_null", "id_twonn_vs_null", "id_mle_null", "id_mle_vs_null",
            "trajectory_curvature_vs_null", "dimension_cpu_s", "trajectory_cpu_s")}, flush=True)
        rows.append(row)

    def shift(key):
        out = []
        for r in rows:
            a, b = r["subsample"][key], r["full"][key]
            if a is None or b is None:
                continue
            out.append(float(a) - float(b))
        return out

    summary = {
        "null_max_rows": cap,
        "twonn_null_shift": shift("id_twonn_null"),
        "mle_null_shift": shift("id_mle_null"),
        "trajectory_shuffled_shift": shift("trajectory_curvature_shuffled"),
        "calls_changed": sum(r["subsample"][k] != r["full"][k] for r in rows for k in (
            "id_twonn_vs_null", "id_mle_vs_null", "trajectory_curvature_vs_null")),
        "calls_compared": 3 * len(rows),
        "cpu_s_subsample": sum(r["subsample"]["dimension_cpu_s"] + r["subsample"][
            "trajectory_cpu_s"] for r in rows),
        "cpu_s_full": sum(r["full"]["dimension_cpu_s"] + r["full"]["trajectory_cpu_s"]
                          for r in rows),
    }
    print(summary)
    save("bench_null_subsample", {"data": str(args.tokens), "layers": rows, "summary": summary,
                                  "note": "CPU seconds of one thread on a shared machine "
                                          "(load average per layer)"})


if __name__ == "__main__":
    main()
