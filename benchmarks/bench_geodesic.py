"""Geodesic distances: ours (chord-shortcut kNN graph) vs scikit-learn Isomap graph distances.

Same data in one run: uniform samples of the unit spheres S^2 and S^3 (N = 8000, seeded), k = 10
and 20. Accuracy is the median relative error against the exact distances r * arccos(<x, y>)
over the rows of ``--sources`` random source points (all N columns). scikit-learn's Isomap
always computes all N^2 graph distances (and then an embedding, included in its time); ours is
timed on the source rows only, and its per-row time is reported so that the all-pairs cost can
be read off (``all_pairs_s_estimate``).

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_geodesic.py [--n 8000] [--sources 400]
Writes benchmarks/results/bench_geodesic.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def _sphere(n: int, dim: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((n, dim + 1))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _median_rel_error(D: np.ndarray, true: np.ndarray) -> float:
    m = true > 1e-9
    return float(np.median(np.abs(D[m] - true[m]) / true[m]))


def main() -> None:
    import sklearn
    import torch
    from sklearn.manifold import Isomap

    import manifold_probe as mp

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--sources", type=int, default=400)
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--ks", type=int, nargs="+", default=[10, 20])
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_geodesic.json"))
    args = ap.parse_args()

    rows = []
    for dim in args.dims:
        X = _sphere(args.n, dim, seed=dim)
        src = np.sort(np.random.default_rng(100 + dim).choice(args.n, args.sources, replace=False))
        true = np.arccos(np.clip(X[src] @ X.T, -1.0, 1.0))
        for k in args.ks:
            row = {"manifold": f"S^{dim}", "n": args.n, "k": k, "sources": args.sources}
            t = time.perf_counter()
            nb = mp.knn(X, k)
            row["knn_s"] = time.perf_counter() - t
            for method in ("shortcut", "graph"):
                t = time.perf_counter()
                D = mp.geodesic_distances(X, k, sources=src, neighbors=nb, method=method)
                el = time.perf_counter() - t
                row[f"ours_{method}_error"] = _median_rel_error(D, true)
                row[f"ours_{method}_s"] = el
                row[f"ours_{method}_all_pairs_s_estimate"] = el * args.n / args.sources
            if not args.skip_sklearn:
                t = time.perf_counter()
                iso = Isomap(n_neighbors=k, n_components=2, eigen_solver="arpack").fit(X)
                row["sklearn_isomap_fit_s"] = time.perf_counter() - t
                row["sklearn_isomap_error"] = _median_rel_error(iso.dist_matrix_[src], true)
                row["sklearn_vs_ours_graph_max_abs_diff"] = float(
                    np.abs(
                        iso.dist_matrix_[src]
                        - mp.geodesic_distances(X, k, sources=src, neighbors=nb, method="graph")
                    ).max()
                )
                del iso
            rows.append(row)
            print(
                f"{row['manifold']:4s} k={k:2d}  ours(shortcut) {row['ours_shortcut_error']:.2%} "
                f"in {row['ours_shortcut_s']:.1f}s ({args.sources} rows)  ours(graph) "
                f"{row['ours_graph_error']:.2%}  sklearn Isomap "
                + (
                    f"{row['sklearn_isomap_error']:.2%} in {row['sklearn_isomap_fit_s']:.1f}s "
                    "(all pairs + embedding)"
                    if "sklearn_isomap_error" in row
                    else "skipped"
                ),
                flush=True,
            )

    out = {
        "benchmark": "geodesic distances on unit spheres vs exact arccos distances",
        "metric": "median relative error over source rows x all columns (diagonal excluded)",
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "machine": platform.machine(),
        "threads": 1,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
