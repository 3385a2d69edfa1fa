"""What profiling a subsample of the rows costs against all rows, on MiniLM token layers.

``mp.profile_layers`` measures a paired subsample of whole inputs above ``PROFILE_MAX_ROWS``
(20,000) rows. The largest per-token clouds on which the full profile still runs here are the
default corpus's MiniLM token layers (19,296 rows): this benchmark measures layers 2 and 3
(dimension of layer 3, the warp 2 → 3) on all rows and on subsamples of whole inputs of at most
``--sizes`` rows (default 10,000 and 4,000: a half, and the 5× reduction that 100,000 → 20,000
is), with the profile's own row choice (:func:`manifold_probe.analysis.profile.profile_rows`)
and the settings of ``experiments/configs/tokens.toml``, nulls off.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_profile_subsample.py \\
        --tokens runs/tokens/activations/HASH

Writes ``benchmarks/results/bench_profile_subsample.json``.
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

KEYS = ("id_twonn", "id_twonn_lo", "id_twonn_hi", "id_mle", "id_gride_4", "id_gride_16",
        "graph_components", "knn_overlap_prev", "trustworthiness_prev", "continuity_prev",
        "geodesic_distortion_prev")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=Path, required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 4_000])
    args = ap.parse_args()

    import tomllib

    from manifold_probe.analysis import EstimatorSettings
    from manifold_probe.analysis.measures import measure_dimension, measure_pair
    from manifold_probe.analysis.profile import profile_rows
    from manifold_probe.neighbors import knn, knn_cache

    root = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / "experiments/configs/tokens.toml").read_text())
    est = EstimatorSettings.from_mapping({**cfg["estimators"], "nulls": {"enabled": False}})
    X = np.load(args.tokens / "L02.npy").astype(np.float64)
    Y = np.load(args.tokens / "L03.npy").astype(np.float64)
    sid = np.load(args.tokens / "sentence_ids.npy")
    out = []
    for size in [None, *args.sizes]:
        rows = profile_rows(len(X), size, sid)
        rows = np.arange(len(X)) if rows is None else rows
        c0 = time.process_time()
        with knn_cache(enabled=False):
            nbx, nby = knn(X[rows], est.graph_k_needed()), knn(Y[rows], est.graph_k_needed())
            vals = {**measure_dimension(Y[rows], nby, est),
                    **measure_pair(X[rows], Y[rows], nbx, nby, est, 0)}
        r = {"max_rows": size, "rows": int(len(rows)), "cpu_s": time.process_time() - c0,
             **{k: vals.get(k) for k in KEYS}, "loadavg": list(os.getloadavg())}
        print(r, flush=True)
        out.append(r)
    full = out[0]
    for r in out[1:]:
        r["difference_from_all_rows"] = {k: (None if r[k] is None or full[k] is None
                                             else float(r[k]) - float(full[k])) for k in KEYS}
    save("bench_profile_subsample", {"data": str(args.tokens), "layers": "L02 -> L03",
                                     "results": out,
                                     "note": "CPU seconds of one thread on a shared machine"})


if __name__ == "__main__":
    main()
