"""The measures stage of the per-token MiniLM profile, task by task, with the graphs given.

Reads a capture made with ``pooling = "tokens"`` (``manifold-probe capture CONFIG --out DIR``
with the default config's ``[capture] pooling = "tokens"``: 2000 sentences, 19,296 tokens per
layer, 7 layers), takes each layer's exact kNN graph (k = 32) from ``--graphs`` (``g<i>.npz``
with arrays ``d`` and ``i``) or computes it with :func:`manifold_probe.knn`, and runs every task
of the default profile two at a time (one BLAS thread each, as ``manifold-probe run`` does on 2
cores). Prints and saves the wall time of the measures stage and the time summed per kind,
with the columns that describe the token graphs (components, share of geodesic pairs).

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_token_profile.py ACTS_DIR
        [--graphs DIR] [--threads 2] [--out bench_token_profile]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("acts", type=Path)
    parser.add_argument("--graphs", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="bench_token_profile")
    args = parser.parse_args()

    from manifold_probe._threads import run_side_by_side
    from manifold_probe.analysis import EstimatorSettings
    from manifold_probe.analysis.profile import _InMemory
    from manifold_probe.analysis.tasks import preload, run_task, schedule
    from manifold_probe.neighbors import Neighbors, knn

    files = sorted(args.acts.glob("L*.npy"))
    clouds = [np.load(f).astype(np.float64) for f in files]
    est = EstimatorSettings.from_mapping({"mle": {"k": 10},
                                          "geodesic": {"method": "graph", "n_sources": 200}})
    graphs = []
    t0 = time.perf_counter()
    for i, X in enumerate(clouds):
        path = args.graphs / f"g{i}.npz" if args.graphs else None
        if path is not None and path.exists():
            g = np.load(path)
            graphs.append(Neighbors(g["d"][:, : est.graph_k()],
                                    g["i"][:, : est.graph_k()], "euclidean"))
        else:
            graphs.append(knn(X, est.graph_k()))
    t_graphs = time.perf_counter() - t0
    sid = np.load(args.acts / "sentence_ids.npy")
    source = _InMemory(clouds, graphs, sid)
    tasks = schedule(len(clouds), est, [0], has_sentence_ids=True)
    preload()

    def one(task):
        t = time.perf_counter()
        values = run_task(source, task, est)
        return values, time.perf_counter() - t

    load0 = os.getloadavg()
    t0 = time.perf_counter()
    by_kind: dict[str, float] = {}
    rows: dict[int, dict] = {}
    for task, (values, dt) in run_side_by_side(one, tasks, args.threads):
        by_kind[task.kind] = by_kind.get(task.kind, 0.0) + dt
        rows.setdefault(task.layer, {}).update(
            {k: v for k, v in values.items() if not k.startswith("point_")})
    wall = time.perf_counter() - t0
    keep = ("n_distinct", "graph_components", "geodesic_pairs_prev", "geodesic_distortion_prev",
            "trustworthiness_prev", "continuity_prev", "curvature_median", "betti_0", "betti_1")
    table = {int(i): {c: rows[i].get(c) for c in keep} for i in sorted(rows)}
    print(f"{len(tasks)} tasks on {args.threads} threads: {wall:.1f} s wall "
          f"(load {load0[0]:.1f}); summed per kind: "
          + ", ".join(f"{k} {v:.1f}" for k, v in sorted(by_kind.items())))
    for i, r in table.items():
        print(i, r)
    save(args.out, {"acts": str(args.acts), "n_points": int(len(clouds[0])),
                    "layers": len(clouds), "graphs_s": t_graphs,
                    "graphs_from": str(args.graphs) if args.graphs else "mp.knn",
                    "measures_wall_s": wall, "summed_by_kind_s": by_kind, "threads": args.threads,
                    "rows": table, "loadavg_before": load0, "loadavg_after": os.getloadavg(),
                    "note": "measures stage only (the kNN graphs are given or timed apart); "
                            "timings on a shared 2-core machine under the recorded load"})


if __name__ == "__main__":
    main()
