"""What the nulls cost: CPU time of each profile measure with and without its null.

Reads the saved activations and labels of a finished run (default ``runs/default``), and for
every layer times, on one thread and one seed, each seeded or null-carrying measure of the
profile with ``[estimators.nulls] enabled`` false, then true (a layer's regions are cached
by content, so the second call pays only for its null; the structure tests: the row
relabelling null at the run's ``n_perm`` against the earlier class-permutation null at 999).
CPU time (``time.process_time``), not wall time, since the machine may be shared; the load
average is recorded beside it.

    OMP_NUM_THREADS=1 python benchmarks/bench_nulls_cost.py runs/default
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from manifold_probe.analysis import measures, semantic
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.config import default_config
from manifold_probe.neighbors import knn


def _cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def main(run_dir: str = "runs/default") -> dict:
    acts = next(Path(run_dir, "activations").glob("*/meta.json")).parent
    labels = dict(np.load(acts / "labels.npz"))
    base = default_config().estimators.to_settings()
    on = EstimatorSettings.from_mapping({**base.as_dict(), "nulls": {"enabled": True}})
    off = EstimatorSettings.from_mapping({**base.as_dict(), "nulls": {"enabled": False}})
    classes = EstimatorSettings.from_mapping({**base.as_dict(), "structure": {
        **base.as_dict()["structure"], "n_perm": 999}})
    rows = []
    load = [os.getloadavg()]
    for path in sorted(acts.glob("L*.npy")):
        X = np.load(path).astype(np.float64)
        nb = knn(X, on.graph_k())
        row = {"layer": path.stem}
        for name, est in (("without_null", off), ("with_null", on)):  # regions are cached: layer first
            row[f"dimension_{name}"] = _cpu(lambda e=est, X=X, nb=nb: measures.measure_dimension(X, nb, e))
            row[f"curvature_{name}"] = _cpu(lambda e=est, X=X, nb=nb: measures.measure_curvature(X, nb, e, 0))
            row[f"regions_{name}"] = _cpu(
                lambda e=est, X=X: semantic.measure_regions(X, None, labels, e, 0))
        row["structure_rows_null"] = _cpu(
            lambda X=X: semantic.measure_structures(X, labels, on, 0))

        def class_null(X=X):
            from manifold_probe.analysis.structure import known_structure

            for s in semantic.input_structures(labels):
                keep = s.labels >= 0
                known_structure(X[keep], s.labels[keep], s.kind, null="classes",
                                n_perm=classes.structure.n_perm, seed=0)
        row["structure_classes_null"] = _cpu(class_null)
        rows.append(row)
        print(json.dumps(row), flush=True)
    load.append(os.getloadavg())
    totals = {k: float(sum(r[k] for r in rows)) for k in rows[0] if k != "layer"}
    without = sum(v for k, v in totals.items() if k.endswith("without_null")) \
        + totals["structure_classes_null"]
    extra = sum(totals[f"{m}_with_null"] - totals[f"{m}_without_null"]
                for m in ("dimension", "curvature", "regions")) \
        + totals["structure_rows_null"] - totals["structure_classes_null"]
    out = {"run": str(run_dir), "rows": rows, "totals_cpu_s": totals,
           "null_extra_cpu_s": extra, "measures_without_null_cpu_s": without,
           "loadavg_start_end": load,
           "note": "CPU seconds on one thread, one seed, measured on a shared machine "
                   "(load average beside); the profile's other measures (warps, topology, "
                   "kNN graphs) have no null and are not timed here"}
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/results/nulls_cost.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}, indent=1))
    return out


if __name__ == "__main__":
    main(*sys.argv[1:])
