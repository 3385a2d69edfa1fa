"""The shared graph's room beyond GRIDE's need: rows it leaves short, what it costs, what it spares.

Where a layer's distinct rows hold near-coincident points (per-token clouds), the dimension
task's estimators merge them (:mod:`manifold_probe.dimension._near`) and GRIDE needs the graph
of the merged cloud at ``2 max(scales)`` = 32 neighbours. It is read off the shared graph
(:func:`manifold_probe.neighbors.graph_on`) when at most 5% of the kept rows list fewer than
32 kept neighbours, and the merged cloud is searched again otherwise. For every layer of a
per-token run this script measures, on the layer's distinct rows with the shared graph of
``K`` columns:

- the share of kept rows with fewer than 32 kept neighbours, for K = 32 ... 48;
- the CPU seconds of the shared graph's search at K = 32 and at K = 48
  (``settings.GRIDE_GRAPH_ROOM`` = 1.5);
- the CPU seconds of the dimension task with each graph, and whether its values (every
  column, the pointwise MLE included) are the same, bit for bit.

One thread, ``time.thread_time``, on a shared machine under the recorded load.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_gride_graph_room.py RUN_DIR
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (32, 36, 40, 44, 48)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def main() -> None:
    run = Path(sys.argv[1])
    warnings.simplefilter("ignore")
    import torch

    from manifold_probe.analysis.distinct import distinct_layer
    from manifold_probe.analysis.measures import measure_dimension
    from manifold_probe.config import load_config
    from manifold_probe.dimension._near import (
        _groups,
        _representatives,
        near_duplicate_test,
    )
    from manifold_probe.neighbors import knn, knn_cache

    torch.set_num_threads(1)
    est = load_config(ROOT / "experiments/configs/tokens.toml").estimators.to_settings()
    need, width = est.graph_k(room=False), est.graph_k()
    acts = next((run / "activations").iterdir())
    layers = {}
    for path in sorted(acts.glob("L*.npy")):
        X = np.load(path)
        with knn_cache(enabled=False):
            c = time.thread_time()
            g_need = knn(X, need)
            knn_need = time.thread_time() - c
            c = time.thread_time()
            g_wide = knn(X, width)
            knn_wide = time.thread_time() - c
        U, g, _ = distinct_layer(X, g_wide)
        test = near_duplicate_test(g.distances[:, :2])
        short = {}
        if test.detected:
            keep, _ = _representatives(_groups(test.flagged, g.indices[:, 0]))
            new_id = np.full(g.n_points, -1)
            new_id[keep] = np.arange(len(keep))
            listed = new_id[g.indices[keep]] >= 0
            short = {K: float(np.mean(listed[:, :K].sum(axis=1) < need)) for K in WIDTHS}
        dims = {}
        for name, nb in (("need", g_need), ("wide", g_wide)):
            with knn_cache(clear=True):
                c = time.thread_time()
                v = measure_dimension(X, nb, est)
                dims[name] = (time.thread_time() - c, v)
        same = (dims["need"][1].keys() == dims["wide"][1].keys()
                and all(_same(dims["need"][1][k], dims["wide"][1][k]) for k in dims["need"][1]))
        layers[path.stem] = {
            "n_distinct": int(U.shape[0]), "near_duplicates": bool(test.detected),
            "short_share_by_width": short, "knn_cpu_s": {need: knn_need, width: knn_wide},
            "dimension_cpu_s": {need: dims["need"][0], width: dims["wide"][0]},
            "dimension_values_identical": bool(same), "loadavg": os.getloadavg(),
        }
        print(path.stem, layers[path.stem], flush=True)
    total = {f"{k}_{w}": sum(r[k][w] for r in layers.values())
             for k in ("knn_cpu_s", "dimension_cpu_s") for w in (need, width)}
    save("bench_gride_graph_room", {
        "machine": machine(), "run": str(run), "need": need, "width": width,
        "layers": layers, "totals": total,
        "all_identical": all(r["dimension_values_identical"] for r in layers.values()),
        "note": "CPU seconds of one thread (time.thread_time) on a shared 2-core machine under "
                "the recorded load; short share: kept rows (after merging near-coincident "
                "points) listing fewer than `need` kept neighbours among the first K columns"})
    print(total)


if __name__ == "__main__":
    main()
