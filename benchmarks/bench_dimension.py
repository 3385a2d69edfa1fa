"""Accuracy of the intrinsic-dimension estimators on the Hein–Audibert / Campadelli benchmark.

All 24 sets of scikit-dimension 0.5's ``BenchmarkManifolds`` (``dim`` and ``d`` passed to its
``generate``), N points each; ours and scikit-dimension's estimators run on the SAME arrays in
one run. Prints a table of relative errors |estimate - d| / d and saves everything as JSON.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_dimension.py            # N=2500, seed 0
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_dimension.py --seeds 0 1 2 3 4 \\
        --only ours_default skdim_twonn --out benchmarks/results/bench_dimension_seeds.json

Ours: ``intrinsic_dimension(X)`` (the default: uncorrected TwoNN, one 2-NN graph), TwoNN with
the optional ball-reference correction, MLE (k=20, raw and corrected), GRIDE (scale analysis),
local PCA (k=20, 95% variance) and PH dimension. scikit-dimension: TwoNN(discard_fraction=0.1),
MLE (n_neighbors=20, comb="mle"), lPCA (default "FO"), GRIDE (default n1=1, n2=2),
MiND_ML (ver="MLk", D = number of coordinates so that it is not capped at its default 10).
DANCo is skipped (about 277 s for the suite).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

import manifold_probe as mp
from manifold_probe.dimension import gride, local_pca, mle, ph_dimension, twonn

OURS = {
    "ours_default": lambda X: mp.intrinsic_dimension(X).dimension,
    "ours_twonn_raw": lambda X: twonn(X, correct_bias=False).dimension,
    "ours_twonn_corrected": lambda X: twonn(X, correct_bias=True).dimension,
    "ours_mle_raw": lambda X: mle(X, k=20).dimension,
    "ours_mle_corrected": lambda X: mle(X, k=20, correct_bias=True).dimension,
    "ours_gride": lambda X: gride(X).dimension,
    "ours_lpca": lambda X: local_pca(X, k=20).dimension,
    "ours_phd": lambda X: ph_dimension(X, seed=0).dimension,
}


def skdim_methods():
    import skdim

    return {
        "skdim_twonn": lambda X: skdim.id.TwoNN(discard_fraction=0.1).fit(X).dimension_,
        "skdim_mle": lambda X: skdim.id.MLE().fit(X, n_neighbors=20, comb="mle").dimension_,
        "skdim_lpca": lambda X: skdim.id.lPCA().fit(X).dimension_,
        "skdim_gride": lambda X: skdim.id.GRIDE().fit(X).dimension_,
        "skdim_mind_ml": lambda X: skdim.id.MiND_ML(D=X.shape[1]).fit(X).dimension_,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2500)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", default="benchmarks/results/bench_dimension.json")
    ap.add_argument("--only", nargs="+", help="run only these methods (names as in the table)")
    args = ap.parse_args()

    import torch
    from skdim.datasets import BenchmarkManifolds

    torch.set_num_threads(2)
    methods = {**OURS, **skdim_methods()}
    if args.only:
        methods = {m: fn for m, fn in methods.items() if m in args.only}
    rows = []
    for seed in args.seeds:
        bm = BenchmarkManifolds(random_state=seed)
        for name, (d, dim, _) in bm._dict_truth.items():
            X = bm.generate(name, n=args.n, dim=dim, d=d)
            row = {"set": name, "seed": seed, "true_dim": d, "ambient_dim": dim}
            for m, fn in methods.items():
                t = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est = float(fn(X))
                row[m] = est
                row[m + "_seconds"] = time.perf_counter() - t
            rows.append(row)
            print(
                f"{name:18s} d={d:3d}  "
                + "  ".join(
                    f"{m.replace('ours_', '').replace('skdim_', 'sk:')}={row[m]:.2f}"
                    for m in methods
                ),
                flush=True,
            )

    summary = {}
    for m in methods:
        rel = np.array([abs(r[m] - r["true_dim"]) / r["true_dim"] for r in rows])
        summary[m] = {
            "mean_relative_error": float(rel.mean()),
            "median_relative_error": float(np.median(rel)),
            "within_10_percent": int((rel <= 0.10).sum()),
            "n_sets": len(rel),
            "total_seconds": float(sum(r[m + "_seconds"] for r in rows)),
        }
    print(f"\n{'method':22s} {'mean rel err':>12s} {'within 10%':>11s} {'seconds':>9s}")
    for m, s in summary.items():
        print(
            f"{m:22s} {s['mean_relative_error']:12.3f} "
            f"{s['within_10_percent']:>5d}/{s['n_sets']:<5d} {s['total_seconds']:9.1f}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "benchmark": "skdim 0.5 BenchmarkManifolds, relative error |est - d| / d",
                "n_points": args.n,
                "seeds": args.seeds,
                "machine": platform.platform(),
                "torch_threads": torch.get_num_threads(),
                "summary": summary,
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"saved {out}")


if __name__ == "__main__":
    main()
