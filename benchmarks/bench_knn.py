"""Exact kNN: throughput as a fraction of float32 GEMM speed, bounded memory, vs scikit-learn.

    python benchmarks/bench_knn.py [--n 100000] [--d 384] [--k 20] [--threads 2]

Prints a table and saves benchmarks/results/bench_knn.json. The GEMM-equivalent work of a
brute-force kNN is 2 N^2 D flops (the Gram products); throughput = that / wall time, reported
against the measured float32 GEMM speed of this machine on the same threads: a 2048^2 square
product (the peak) and the (1024 x D) @ (D x N) product that kNN's tiles actually compute.
Peak memory is the process's resident growth: it includes the float64 centred copy and the
float32 copy of X (O(N D)); the N^2 distance tiles stay within ``memory_budget``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import PeakRSS, save, timed

import manifold_probe as mp
from manifold_probe.neighbors import _gemm_gflops


def manifold_cloud(n: int, d: int, intrinsic: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, intrinsic))
    W = rng.normal(size=(intrinsic, d)) / np.sqrt(intrinsic)
    return np.tanh(Z @ W) + 0.01 * rng.normal(size=(n, d))


def same_shape_gemm_gflops(X: np.ndarray, rows: int = 1024, repeats: int = 3) -> float:
    """GEMM speed for the shape kNN's tiles multiply: (rows x D) @ (D x N), float32."""
    Xt = torch.from_numpy(X.astype(np.float32))
    Q = Xt[:rows]
    Q @ Xt.T
    _, t = timed(lambda: [Q @ Xt.T for _ in range(repeats)])
    return repeats * 2 * rows * X.shape[1] * X.shape[0] / t / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sklearn-n", type=int, default=20_000, help="size of the side-by-side run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    gemm = _gemm_gflops()
    rows = []
    X = manifold_cloud(args.n, args.d)
    gemm_shape = same_shape_gemm_gflops(X)
    for budget_mb in (64, 256):  # 64 MiB is the default
        with PeakRSS() as mem:
            nb, t = timed(mp.knn, X, args.k, memory_budget=budget_mb * 2**20)
        gflops = 2 * args.n**2 * args.d / t / 1e9
        rows.append(
            {
                "impl": "manifold_probe.knn",
                "n": args.n,
                "d": args.d,
                "k": args.k,
                "budget_mb": budget_mb,
                "seconds": t,
                "peak_extra_mb": mem.peak_mb,
                "gflops_equiv": gflops,
                "fraction_of_gemm": gflops / gemm,
                "fraction_of_gemm_same_shape": gflops / gemm_shape,
            }
        )
    # side by side with scikit-learn's brute-force search on the same data (a subset)
    from sklearn.neighbors import NearestNeighbors

    Xs = X[: args.sklearn_n]
    ours, t_ours = timed(mp.knn, Xs, args.k)
    with PeakRSS() as mem:
        (dist, idx), t_sk = timed(
            lambda: NearestNeighbors(n_neighbors=args.k + 1, algorithm="brute", n_jobs=args.threads)
            .fit(Xs)
            .kneighbors(Xs)
        )
    agree = float(np.mean(np.sort(idx[:, 1:], axis=1) == np.sort(ours.indices, axis=1)))
    max_dd = float(np.max(np.abs(dist[:, 1:] - ours.distances)))
    side = {
        "n": args.sklearn_n,
        "ours_seconds": t_ours,
        "sklearn_seconds": t_sk,
        "speedup": t_sk / t_ours,
        "index_agreement": agree,
        "max_abs_distance_difference": max_dd,
        "sklearn_peak_extra_mb": mem.peak_mb,
    }
    print(
        f"float32 GEMM on {args.threads} threads: {gemm:.1f} GFLOP/s (2048^2 square), "
        f"{gemm_shape:.1f} GFLOP/s for (1024 x {args.d}) @ ({args.d} x {args.n})"
    )
    print(
        f"{'budget':>8} {'N':>8} {'D':>5} {'sec':>8} {'peak MB':>8} {'GFLOP/s':>8} "
        f"{'of GEMM':>8} {'of same-shape GEMM':>19}"
    )
    for r in rows:
        print(
            f"{r['budget_mb']:>6}MB {r['n']:>8} {r['d']:>5} {r['seconds']:>8.2f} "
            f"{r['peak_extra_mb']:>8.0f} {r['gflops_equiv']:>8.1f} {r['fraction_of_gemm']:>8.0%} "
            f"{r['fraction_of_gemm_same_shape']:>19.0%}"
        )
    print(
        f"side by side at N={side['n']}: ours {t_ours:.2f}s, sklearn brute {t_sk:.2f}s "
        f"({side['speedup']:.1f}x), neighbour agreement {agree:.4f}, max |dd| {max_dd:.2e}"
    )
    path = save(
        "bench_knn",
        {"gemm_gflops": gemm, "gemm_gflops_same_shape": gemm_shape, "runs": rows, "side_by_side": side},
    )
    print("saved", path)


if __name__ == "__main__":
    main()
