"""Scalar-curvature error vs sample size: ours vs the fixed-k quadratic fit, same data, one run.

For S^2, S^3, S^4 (radius 1.5, rotated into R^20), S^5 (radius 1) and the pseudosphere
(radius 1), at several N: the median of the per-point scalar curvature, its relative error
against the closed form, and the time, for

- ``ours``: ``mp.scalar_curvature(X, dim)`` (quartic fit, tilt and noise corrections,
  per-point Lepski neighbourhood);
- ``fixed_k``: the plain fixed-k quadratic fit of Sritharan, Wang & Hormoz (2021) — one
  neighbourhood of ``k`` points for every point, degree 2 — on the same kNN graph.

Also S^2 with Gaussian noise of 1% of the radius. Saves
``benchmarks/results/bench_curvature.json`` and the figure ``bench_curvature.{png,svg}``.

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_curvature.py [--quick]
[--cases S5 S4 ...] [--resume]`` (rows are saved as they come; ``--resume`` adds the missing
ones; the figure is drawn from all rows).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, save  # noqa: E402


def fixed_k_quadratic(X: np.ndarray, dim: int, nb, k: int) -> np.ndarray:
    """The baseline: one k-neighbourhood per point, local PCA, degree-2 fit (no bias fix)."""
    from manifold_probe.curvature._quadratic import ladder_fit
    from manifold_probe.curvature._tangent import tangent_basis

    out = np.empty(len(X))
    for s in range(0, len(X), 1024):
        idx = nb.indices[s : s + 1024, :k]
        Y = X[idx] - X[s : s + 1024, None, :]
        T = tangent_basis(Y, dim)
        S, _, _ = ladder_fit(Y, T, np.array([k]), degree=2, sort_tangent=False)
        out[s : s + 1024] = S[:, 0]
    return out


def main() -> None:
    import torch

    import manifold_probe as mp

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small N only (a smoke run)")
    ap.add_argument("--cases", nargs="*", help="manifold names to run (default: all)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the rows already in the JSON and run only the missing ones")
    args = ap.parse_args()
    torch.set_num_threads(2)
    ds = mp.datasets

    cases = [
        ("S2", lambda n, sd: ds.sphere(n, 2, radius=1.5, ambient_dim=20, seed=sd), 2,
         [1000, 2000, 5000, 10000]),
        ("S3", lambda n, sd: ds.sphere(n, 3, radius=1.5, ambient_dim=20, seed=sd), 3,
         [1000, 2000, 5000, 10000]),
        ("S4", lambda n, sd: ds.sphere(n, 4, radius=1.5, ambient_dim=20, seed=sd), 4,
         [2000, 5000, 10000]),
        ("S5", lambda n, sd: ds.sphere(n, 5, radius=1.0, ambient_dim=20, seed=sd), 5, [10000]),
        ("pseudosphere", lambda n, sd: ds.pseudosphere(n, radius=1.0, ambient_dim=20, seed=sd),
         2, [1000, 2000, 5000, 10000]),
        ("S2_noise1%", lambda n, sd: ds.sphere(n, 2, radius=1.0, ambient_dim=20,
                                               noise=0.01, seed=sd), 2, [2000, 5000, 10000]),
    ]
    all_cases = list(cases)
    if args.quick:
        cases = [(a, b, c, [n for n in d if n <= 2000] or d[:1]) for a, b, c, d in cases[:2]]
    if args.cases:
        by_name = {c[0]: c for c in cases}
        cases = [by_name[name] for name in args.cases if name in by_name]  # in the given order
    K_FIXED = 40  # a typical fixed neighbourhood size
    out_name = "bench_curvature_quick" if args.quick else "bench_curvature"
    rows = []
    if args.resume and (RESULTS / f"{out_name}.json").exists():
        rows = json.loads((RESULTS / f"{out_name}.json").read_text())["rows"]
    done = {(r["manifold"], r["n_points"]) for r in rows}
    for name, make, dim, sizes in cases:
        for N in sizes:
            if (name, N) in done:
                continue
            sample = make(N, 0)
            X, truth = sample.points, float(sample.scalar_curvature)
            t = time.perf_counter()
            est = mp.scalar_curvature(X, dim=dim, return_se=True)
            t_ours = time.perf_counter() - t
            nb = mp.knn(X, K_FIXED)
            t = time.perf_counter()
            base = fixed_k_quadratic(X, dim, nb, K_FIXED)
            t_base = time.perf_counter() - t
            med, med_b = float(np.median(est.curvature)), float(np.median(base))
            row = {
                "manifold": name, "dim": dim, "n_points": N, "truth": truth,
                "ours_median": med, "ours_rel_error": med / truth - 1,
                "ours_iqr": [float(q) for q in np.percentile(est.curvature, [25, 75])],
                "ours_median_se": float(np.median(est.standard_error)),
                "ours_median_neighbourhood": float(np.median(est.neighborhood_size)),
                "ours_seconds": t_ours,
                "fixed_k": K_FIXED, "fixed_k_median": med_b, "fixed_k_rel_error": med_b / truth - 1,
                "fixed_k_seconds": t_base,
            }
            rows.append(row)
            print(f"{name:13s} N={N:6d} truth {truth:+7.3f} | ours {med:+8.3f} "
                  f"({row['ours_rel_error']:+6.1%}, {t_ours:6.1f}s) | fixed k={K_FIXED} "
                  f"{med_b:+8.3f} ({row['fixed_k_rel_error']:+6.1%}, {t_base:5.1f}s)", flush=True)
            # saved after every row: a long run that is stopped keeps what it measured
            save(out_name, {"description": __doc__.splitlines()[0], "rows": rows})
    print("saved", RESULTS / f"{out_name}.json")
    if not args.quick:
        order = {c[0]: i for i, c in enumerate(all_cases)}
        figure(sorted(rows, key=lambda r: (order.get(r["manifold"], 99), r["n_points"])))


def figure(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    names = [n for n in dict.fromkeys(r["manifold"] for r in rows)]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, name in zip(colors, names, strict=False):
        rs = [r for r in rows if r["manifold"] == name]
        N = [r["n_points"] for r in rs]
        ax.plot(N, [100 * abs(r["ours_rel_error"]) for r in rs], "o-", color=c,
                label=f"{name} (ours)")
        ax.plot(N, [100 * abs(r["fixed_k_rel_error"]) for r in rs], "x--", color=c, alpha=0.6,
                label=f"{name} (fixed k={rs[0]['fixed_k']})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of points N")
    ax.set_ylabel("|median scalar curvature / truth - 1|  (%)")
    ax.set_title("Scalar curvature error vs sample size")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(RESULTS / f"bench_curvature.{ext}", dpi=150)
    print("figure", RESULTS / "bench_curvature.png")


if __name__ == "__main__":
    main()
