"""The per-token MiniLM run's tasks with and without this branch's result-preserving shortcuts,
paired task by task, in CPU seconds, with every value compared bit for bit.

The shortcuts: (1) ``run_task`` hands the estimators the profile's own kNN graphs without
their array checks (:func:`manifold_probe.neighbors.graphs_built_here`); (2) the matched
Gaussian of a tall cloud takes the SVD of the R factor of the centred cloud
(:func:`manifold_probe.analysis.nulls.matched_gaussian`). "Before" puts the full checks and
the SVD of the whole centred cloud back (monkeypatched in this process). On a machine shared
with other jobs a task's CPU time moves by 10% from one run to the next, so the two variants
of each task run back to back (their order alternating from task to task, after a warm-up
run of the task that is not counted: a task's first run costs up to a second more, whichever
variant it is) and the saving is read from the pairs; both variants of a task start with the caches shared between tasks
emptied (geodesics, regions, kNN graphs), so neither reuses the other's results. The start order of the tasks (``longest_first``) changes no task's CPU
and is not measured here (see ``tests/test_profile.py`` for its bit-for-bit check).

Also times the SVD of each layer's centred cloud both ways (best of 2) and checks that the
singular values and vectors are the same bits.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_tokens_shortcuts.py RUN_DIR \\
        [--out tokens_shortcuts_speed21c]

``RUN_DIR``: a finished ``manifold-probe run experiments/configs/tokens.toml --out RUN_DIR``
(its capture and kNN graphs are read, not recomputed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def plain_matched_gaussian(X, seed=0, n=None):
    """The matched Gaussian from the SVD of the whole centred cloud (the code before)."""
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(seed)
    mean = X.mean(axis=0)
    _, s, Vt = np.linalg.svd(X - mean, full_matrices=False)
    m = len(X) if n is None else int(n)
    Z = rng.standard_normal((m, len(s)))
    return mean + (Z * (s / np.sqrt(max(len(X) - 1, 1)))) @ Vt


def same_bits(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    return a == b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", default="tokens_shortcuts_speed21c")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    import torch

    from manifold_probe.analysis import nulls, tasks
    from manifold_probe.analysis._reuse import clear_geodesic_cache
    from manifold_probe.analysis.tasks import preload, run_task, schedule
    from manifold_probe.config import load_config
    from manifold_probe.experiment.layout import read_labels
    from manifold_probe.neighbors import Neighbors, knn_cache

    torch.set_num_threads(1)
    config = load_config(ROOT / "experiments/configs/tokens.toml")
    est = config.estimators.to_settings()
    acts = next((args.run / "activations").iterdir())
    clouds = [np.load(f).astype(np.float64) for f in sorted(acts.glob("L*.npy"))]
    gdir = next((args.run / "graphs").iterdir())
    graphs = []
    for i in range(len(clouds)):
        with np.load(gdir / f"L{i:02d}.npz") as g:
            graphs.append(Neighbors(g["distances"].copy(), g["indices"].copy()))
    labels = read_labels(acts / "labels.npz", None)
    sid = np.load(acts / "sentence_ids.npy")
    preload()

    svd = []
    for i, X in enumerate(clouds):
        Xc = X - X.mean(axis=0)
        best = [np.inf, np.inf]
        for _ in range(2):
            c = time.thread_time()
            _, s0, V0 = np.linalg.svd(Xc, full_matrices=False)
            best[0] = min(best[0], time.thread_time() - c)
            c = time.thread_time()
            _, s1, V1 = np.linalg.svd(np.linalg.qr(Xc, mode="r"), full_matrices=False)
            best[1] = min(best[1], time.thread_time() - c)
        svd.append({"layer": i, "rows": int(Xc.shape[0]), "svd_cpu_s": best[0],
                    "qr_then_svd_cpu_s": best[1],
                    "same_bits": bool(np.array_equal(s0, s1) and np.array_equal(V0, V1))})
        print(svd[-1], flush=True)

    class Source:
        def cloud(self, i):
            return clouds[i]

        def graph(self, i):
            return graphs[i]

        def sentence_ids(self):
            return sid

        def labels(self):
            return labels

    real_gate, real_gaussian = tasks.graphs_built_here, nulls.matched_gaussian

    def variant(old: bool) -> None:
        tasks.graphs_built_here = contextlib.nullcontext if old else real_gate
        nulls.matched_gaussian = plain_matched_gaussian if old else real_gaussian

    per_task, differ, n_values = {}, [], 0
    load0 = os.getloadavg()
    for j, t in enumerate(schedule(len(clouds), est, config.seeds, has_sentence_ids=True,
                                   labels=labels)):
        tid = f"{t.kind}-L{t.layer:02d}" + (f"-L{t.other:02d}" if t.other is not None else "")
        cpu, values = {}, {}
        # a warm-up run first (not counted): a task's first run in a row costs up to 1 s
        # more (structure: fresh memory for its temporaries), whichever variant it is
        first, second = (True, False) if j % 2 == 0 else (False, True)
        for old in (second, first, second):  # warm-up, then the two counted runs
            variant(old)
            # no result of the other variant (or of an earlier task) is reused: both start
            # with empty caches (so a task that reuses another's geodesics or regions in a
            # run costs more here, in both variants alike)
            clear_geodesic_cache()
            knn_cache(clear=True)
            c = time.thread_time()
            values[old] = run_task(Source(), t, est)
            cpu["before" if old else "after"] = time.thread_time() - c  # the warm-up's: replaced
        variant(False)
        a, b = values[True], values[False]
        n_values += len(a)
        differ += [[tid, key] for key in sorted(set(a) | set(b))
                   if not same_bits(a.get(key), b.get(key))]
        per_task[tid] = cpu
        print(tid, {k: round(v, 2) for k, v in cpu.items()}, flush=True)
    by_kind: dict[str, dict[str, float]] = {}
    for tid, cpu in per_task.items():
        kind = by_kind.setdefault(tid.split("-")[0], {"before": 0.0, "after": 0.0})
        kind["before"] += cpu["before"]
        kind["after"] += cpu["after"]
    total = {v: sum(c[v] for c in per_task.values()) for v in ("before", "after")}
    out = {"machine": machine(), "run": str(args.run), "loadavg_before": load0,
           "loadavg_after": os.getloadavg(),
           "note": "CPU seconds of one thread (time.thread_time), one BLAS thread; the two "
                   "variants of each task back to back on a machine shared with another job "
                   "under the recorded load",
           "measures_cpu_s": total, "saving_cpu_s": total["before"] - total["after"],
           "cpu_s_by_kind": by_kind, "cpu_s_per_task": per_task,
           "values_compared": n_values, "values_differing": differ, "svd": svd}
    print({k: {v: round(x, 2) for v, x in c.items()} for k, c in by_kind.items()})
    print("total", {k: round(v, 2) for k, v in total.items()}, "values differing:", differ)
    save(args.out, out)


if __name__ == "__main__":
    main()
