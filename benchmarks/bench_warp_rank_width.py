"""Trustworthiness and continuity of the per-token layer pairs: the shared graph's width.

``warp`` (and the profile's ``pair_prev`` tasks) read the ranks of a point's new neighbours
off the given graph where it lists them, and rank the rest from rows of distances; above
``knn.rank_rows`` = 2000 such rows a uniform sample of 2000 is ranked and scaled up (an
unbiased estimate of that part). The shared graph grew from 32 to 48 columns
(``settings.GRIDE_GRAPH_ROOM``), so more ranks are read off exactly and the sampled part is
smaller: the two readings differ within the sample's error. For every consecutive pair of a
per-token run whose layers have no duplicate rows (the profile then hands the whole graphs to
``warp``), this script computes trustworthiness and continuity with the 32-column graphs, with
the 48-column graphs (both with the profile's ``rank_rows`` and seed 0, as ``pair_prev``), and
exactly (every row ranked), and records each estimate's error against the exact value.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_warp_rank_width.py RUN_DIR
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    run = Path(sys.argv[1])
    warnings.simplefilter("ignore")
    import torch

    from manifold_probe.analysis.warping import warp
    from manifold_probe.config import load_config
    from manifold_probe.neighbors import knn, knn_cache

    torch.set_num_threads(1)
    est = load_config(ROOT / "experiments/configs/tokens.toml").estimators.to_settings()
    need, width, k = est.graph_k(room=False), est.graph_k(), est.knn.k
    acts = next((run / "activations").iterdir())
    files = sorted(acts.glob("L*.npy"))
    graphs, clouds = {}, {}
    with knn_cache(enabled=False):
        for i, f in enumerate(files):
            X = np.load(f)
            if len(np.unique(X, axis=0)) < len(X):
                continue  # duplicate rows: the profile hands warp a k-column graph instead
            clouds[i] = X
            graphs[i] = knn(X, width)
    pairs = {}
    for i in sorted(clouds):
        if i - 1 not in clouds:
            continue
        X, Y, gx, gy = clouds[i - 1], clouds[i], graphs[i - 1], graphs[i]
        row = {}
        for name, w, rows in (("graph_32", need, est.knn.rank_rows),
                              ("graph_48", width, est.knn.rank_rows),
                              ("exact", width, None)):
            c = time.thread_time()
            s = warp(X, Y, k=k, neighbors_x=gx.truncate(w), neighbors_y=gy.truncate(w),
                     geodesic=False, dimension=False, seed=0, rank_rows=rows)
            row[name] = {"trustworthiness": s.trustworthiness, "continuity": s.continuity,
                         "cpu_s": time.thread_time() - c}
        for name in ("graph_32", "graph_48"):
            for key in ("trustworthiness", "continuity"):
                row[name][f"{key}_error"] = row[name][key] - row["exact"][key]
        row["loadavg"] = os.getloadavg()
        pairs[f"L{i - 1:02d}-L{i:02d}"] = row
        print(pairs[f"L{i - 1:02d}-L{i:02d}"], flush=True)
    summary = {name: {f"{key}_max_abs_error": max(abs(r[name][f"{key}_error"])
                                                  for r in pairs.values())
                      for key in ("trustworthiness", "continuity")}
               for name in ("graph_32", "graph_48")}
    save("bench_warp_rank_width", {
        "machine": machine(), "run": str(run), "k": k, "rank_rows": est.knn.rank_rows,
        "pairs": pairs, "summary": summary,
        "note": "pair_prev's trustworthiness/continuity with the shared graph of 32 and of 48 "
                "columns (rank_rows sample, seed 0) against every row ranked; CPU seconds of "
                "one thread on a shared machine under the recorded load"})
    print(summary)


if __name__ == "__main__":
    main()
