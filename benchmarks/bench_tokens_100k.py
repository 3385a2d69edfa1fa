"""A per-token profile at decoder scale: 100,000 tokens × 768 × 13 layers, subsampled.

The layers are synthetic and per-token-like (no model download): 64 clusters on a
16-dimensional latent, lifted linearly into R^768 with noise, each later layer the previous one
moved by a smooth random residual map ``X + 0.5 tanh(X W_l)`` (``W_l`` Gaussian, scale
1/sqrt(d)), stored in float32 (4 GB for 13 layers); inputs are runs of 50 consecutive tokens.
The profile is :func:`manifold_probe.profile_layers`' own task table with the settings of
``experiments/configs/tokens.toml``: above :data:`~manifold_probe.analysis.profile.PROFILE_MAX_ROWS`
(20,000) rows every measure runs on one paired subsample of whole inputs, and the nulls of the
dimension and trajectory measures above :data:`~manifold_probe.analysis.nulls.NULL_MAX_ROWS`.

Each stage is timed as the profile runs it, ``--threads`` tasks side by side: the subsample,
the kNN graphs (one per layer), then every task; per task kind the summed CPU seconds of the
threads that ran it (``time.thread_time``: with tasks side by side each counts its own) and
the stage's wall time. On a shared machine the wall time follows the load; the CPU seconds are
the estimate to read, and the idle 2-core wall time is estimated as their sum over two cores.

With ``--layers L`` (< 13) only the first L layers run and the 13-layer cost is extrapolated
from the per-layer cost of each stage (kNN graphs and per-layer tasks × 13; pair tasks × 12 and
11), which the JSON says.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_tokens_100k.py [--n 100000]
        [--d 768] [--layers 13] [--threads 2] [--out bench_tokens_100k]
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

TOKENS_PER_INPUT = 50


def synthetic_layers(n: int, d: int, n_layers: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(64, 16))
    Z = centres[rng.integers(0, 64, size=n)] + rng.normal(size=(n, 16))
    X = (Z @ rng.normal(size=(16, d)) / 4.0).astype(np.float32)
    X += 0.05 * rng.standard_normal((n, d), dtype=np.float32)
    layers = [X]
    for _ in range(n_layers - 1):
        W = (rng.normal(size=(d, d)) / np.sqrt(d)).astype(np.float32)
        layers.append(layers[-1] + 0.5 * np.tanh(layers[-1] @ W))
    return layers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--layers", type=int, default=13)
    ap.add_argument("--total-layers", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench_tokens_100k")
    args = ap.parse_args()

    import tomllib

    from manifold_probe._threads import run_side_by_side
    from manifold_probe.analysis.profile import PROFILE_MAX_ROWS, _InMemory, profile_rows
    from manifold_probe.analysis.settings_schema import validate_settings
    from manifold_probe.analysis.tasks import preload, run_task, schedule
    from manifold_probe.neighbors import knn, knn_cache

    root = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / "experiments/configs/tokens.toml").read_text())
    est = validate_settings(cfg["estimators"])
    preload()
    t0 = time.perf_counter()
    layers = synthetic_layers(args.n, args.d, args.layers)
    sid = np.arange(args.n) // TOKENS_PER_INPUT
    t_make = time.perf_counter() - t0
    stages: dict = {"make_layers": {"wall_s": t_make, "note": "synthetic data, not the profile"}}

    t0, c0 = time.perf_counter(), time.process_time()
    kept = profile_rows(args.n, PROFILE_MAX_ROWS, sid)
    kept = np.arange(args.n) if kept is None else kept
    clouds = [np.asarray(A[kept], dtype=np.float64) for A in layers]
    sub_sid = sid[kept]
    del layers
    stages["subsample"] = {"wall_s": time.perf_counter() - t0,
                           "cpu_s": time.process_time() - c0, "rows": int(len(kept))}
    print("subsample", stages["subsample"], flush=True)

    def timed(fn):
        def run(item):
            w, c = time.perf_counter(), time.thread_time()
            value = fn(item)
            return value, time.perf_counter() - w, time.thread_time() - c
        return run

    k_graph = est.graph_k_needed()
    with knn_cache(enabled=False):
        t0 = time.perf_counter()
        res = dict(run_side_by_side(timed(lambda i: knn(clouds[i], k_graph)),
                                    list(range(len(clouds))), args.threads))
        graphs = [res[i][0] for i in range(len(clouds))]
        stages["knn"] = {"wall_s": time.perf_counter() - t0,
                         "cpu_s": sum(r[2] for r in res.values()), "tasks": len(clouds)}
        print("knn", stages["knn"], flush=True)
        source = _InMemory(clouds, graphs, sub_sid, None)
        tasks = schedule(len(clouds), est, [0], has_sentence_ids=True, labels=None)
        t0 = time.perf_counter()
        done = list(run_side_by_side(timed(lambda t: run_task(source, t, est)), tasks,
                                     args.threads))
        wall_measures = time.perf_counter() - t0
    per_kind: dict = {}
    for task, (_, wall, cpu) in done:
        k = per_kind.setdefault(task.kind, {"cpu_s": 0.0, "wall_s": 0.0, "tasks": 0})
        k["cpu_s"] += cpu
        k["wall_s"] += wall
        k["tasks"] += 1
    stages["measures"] = {"wall_s": wall_measures, "by_kind": per_kind}
    print("measures", wall_measures, per_kind, flush=True)

    # the 13-layer cost from the per-layer cost of each kind (a task count per kind)
    L, T = args.layers, args.total_layers
    count13 = {t.kind: 0 for t in tasks}
    for t in schedule(T, est, [0], has_sentence_ids=True, labels=None):
        count13[t.kind] = count13.get(t.kind, 0) + 1
    cpu13 = stages["knn"]["cpu_s"] / L * T + stages["subsample"]["cpu_s"] / L * T
    for kind, v in per_kind.items():
        cpu13 += v["cpu_s"] / v["tasks"] * count13.get(kind, 0)
    cpu_here = stages["knn"]["cpu_s"] + stages["subsample"]["cpu_s"] + sum(
        v["cpu_s"] for v in per_kind.values())
    summary = {
        "layers_run": L, "layers_total": T, "extrapolated": L != T,
        "cpu_s_run": cpu_here, "cpu_s_total": cpu13,
        "idle_2core_wall_estimate_s": cpu13 / 2.0,
        "note": ("idle 2-core wall estimate = summed thread CPU seconds / 2 (tasks side by side "
                 "on both cores; the last tasks of each stage leave one core idle, so this is "
                 "a lower bound by a few tasks' time)"),
    }
    print(summary, flush=True)
    save(args.out, {"n": args.n, "d": args.d, "rows_profiled": int(len(kept)),
                    "threads": args.threads, "profile_max_rows": PROFILE_MAX_ROWS,
                    "stages": stages, "summary": summary, "loadavg": list(os.getloadavg()),
                    "load_note": "timed on a shared 2-core machine; wall times follow its load"})


if __name__ == "__main__":
    main()
