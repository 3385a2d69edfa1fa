"""Exact kNN: manifold_probe vs faiss-cpu (exact IndexFlatL2) vs scikit-learn, same data/threads.

    OMP_NUM_THREADS=2 python benchmarks/bench_knn.py             # 20,000 x 384 and x 768 (~2 min)
    OMP_NUM_THREADS=2 python benchmarks/bench_knn.py --large     # 100,000 x 384 / 768 instead
    OMP_NUM_THREADS=2 python benchmarks/bench_knn.py --k-cost    # cost of k (CACHE_MIN_K)
    OMP_NUM_THREADS=1 python benchmarks/bench_knn.py --phases --before b6c0f8c   # where time goes
    OMP_NUM_THREADS=2 python benchmarks/bench_knn.py --before 7a6a235   # an older knn beside

Data: a 10-dimensional manifold (tanh of a random linear map) plus 1% noise in R^D, k=20
(self excluded), every library on the same number of threads (``--threads``, default 2).
Ours and faiss run interleaved, ``--repeats`` times each (default 3), and the fastest run of
each is compared (``speedup_vs_faiss``), so that a change of load on a shared machine hits both.
faiss's exact flat index searches float32 data and returns float32 squared distances; its
neighbours are compared with ours row by row (``identical_rows``: same neighbour list in the
same order; ``identical_sets``: same set). Rows where faiss's list differs from ours are
checked to be float32 near-ties: the exact float64 distances of faiss's neighbours must equal
ours to within float32 rounding (``differences_are_float32_ties``). scikit-learn's brute force
(float64) runs once, at 20,000 only.

Every measurement records wall seconds, CPU seconds of the process (less sensitive to other
load on the machine), the resident-memory peak above the start (sampled, MB) and the 1-minute
load average before and after, so runs on a busy machine can be told apart from idle ones.
Results: benchmarks/results/bench_knn.json (``--large``: bench_knn_large.json; ``--k-cost``:
bench_knn_k_cost.json; ``--phases``: bench_knn_phases.json, the CPU seconds of the engine's
phases on one thread: float32 GEMM, candidate selection, float64 recomputation, the rest).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import PeakRSS, save

import manifold_probe as mp


def manifold_cloud(n: int, d: int, intrinsic: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, intrinsic))
    W = rng.normal(size=(intrinsic, d)) / np.sqrt(intrinsic)
    return np.tanh(Z @ W) + 0.01 * rng.normal(size=(n, d))


def gemm_gflops(n: int = 2048, repeats: int = 3) -> float:
    """Measured float32 GEMM speed of this machine in GFLOP/s (the peak kNN can approach)."""
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    a @ b
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def measure(fn, *args, **kwargs) -> tuple:
    """Run ``fn`` once: (result, record with seconds, cpu_seconds, peak_extra_mb, load)."""
    load0 = os.getloadavg()[0]
    with PeakRSS() as mem:
        c = time.process_time()
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        wall = time.perf_counter() - t
        cpu = time.process_time() - c
    return out, {
        "seconds": wall,
        "cpu_seconds": cpu,
        "peak_extra_mb": mem.peak_mb,
        "load_1min_before": load0,
        "load_1min_after": os.getloadavg()[0],
    }


def faiss_knn(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact kNN with faiss.IndexFlatL2 (float32), self removed: (distances, indices)."""
    import faiss

    Xf = np.ascontiguousarray(X, dtype=np.float32)
    index = faiss.IndexFlatL2(Xf.shape[1])
    index.add(Xf)
    D2, idx = index.search(Xf, k + 1)
    keep = idx != np.arange(len(Xf))[:, None]
    # a row whose self is not among its k+1 results (ties at distance 0) keeps its first k
    keep[keep.sum(axis=1) > k, k] = False
    idx = idx[keep].reshape(len(Xf), k)
    D = np.sqrt(np.maximum(D2[keep].reshape(len(Xf), k), 0))
    return D, idx


def sklearn_knn(X: np.ndarray, k: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.neighbors import NearestNeighbors

    dist, idx = (
        NearestNeighbors(n_neighbors=k + 1, algorithm="brute", n_jobs=threads).fit(X).kneighbors(X)
    )
    return dist[:, 1:], idx[:, 1:]


def agreement(ours: mp.Neighbors, idx: np.ndarray, dist: np.ndarray) -> dict:
    return {
        "identical_rows": float(np.mean(np.all(idx == ours.indices, axis=1))),
        "identical_sets": float(
            np.mean(np.all(np.sort(idx, axis=1) == np.sort(ours.indices, axis=1), axis=1))
        ),
        "max_abs_distance_difference": float(np.max(np.abs(dist - ours.distances))),
    }


def load_before(rev: str):
    """``knn`` at git revision ``rev`` (for before/after): from ``manifold_probe/_knn_search.py``,
    or ``manifold_probe/neighbors.py`` at revisions before the engine had its own module."""
    root = Path(__file__).resolve().parent.parent
    for name in ("_knn_search.py", "neighbors.py"):
        shown = subprocess.run(
            ["git", "show", f"{rev}:manifold_probe/{name}"], cwd=root, capture_output=True, text=True
        )
        if shown.returncode == 0:
            src = shown.stdout
            break
    else:
        raise SystemExit(f"no kNN engine at revision {rev}")
    path = Path(tempfile.mkdtemp()) / "neighbors_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("neighbors_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["neighbors_before"] = module
    spec.loader.exec_module(module)
    return module.knn


def float32_ties(X: np.ndarray, ours: mp.Neighbors, idx: np.ndarray) -> dict:
    """Do the rows where ``idx`` differs from ours differ only by float32 near-ties?

    For each such row, the exact float64 distances of the other library's neighbours, sorted,
    must equal ours up to the float32 error of ||x||^2 + ||y||^2 - 2 x.y (a relative 1e-5 of
    the squared norms, generous); the neighbour lists are then both exact answers up to ties
    that float32 cannot resolve.
    """
    rows = np.flatnonzero(np.any(idx != ours.indices, axis=1))
    worst = 0.0
    for i in rows:
        d = np.sort(np.linalg.norm(X[idx[i]] - X[i], axis=1))
        scale = np.sqrt(np.sum(X[i] ** 2) + np.max(np.sum(X[idx[i]] ** 2, axis=1)))
        worst = max(worst, float(np.max(np.abs(d - ours.distances[i])) / scale))
    return {
        "rows_differing": len(rows),
        "max_distance_difference_over_norm": worst,
        "differences_are_float32_ties": bool(worst < 1e-5 * 2**0.5),
    }


def compare(
    sizes, k: int, threads: int, sklearn_max: int, before_rev: str | None, repeats: int
) -> list[dict]:
    knn_before = load_before(before_rev) if before_rev else None
    rows = []
    for n, d in sizes:
        X = manifold_cloud(n, d)
        mp.knn(X[:500], 5)  # warm-up
        faiss_knn(X[:500], 5)
        runs_ours, runs_faiss, runs_old = [], [], []
        for _ in range(repeats):  # interleaved
            ours, r = measure(mp.knn, X, k)
            runs_ours.append(r)
            (fd, fi), r = measure(faiss_knn, X, k)
            runs_faiss.append(r)
            if knn_before is not None:
                old, r = measure(knn_before, X, k)
                runs_old.append(r)
        r_ours = min(runs_ours, key=lambda r: r["seconds"])
        r_faiss = min(runs_faiss, key=lambda r: r["seconds"])
        row = {
            "n": n,
            "d": d,
            "k": k,
            "threads": threads,
            "repeats": repeats,
            "ours": {**r_ours, "all_seconds": [r["seconds"] for r in runs_ours]},
            "faiss": {
                **r_faiss,
                "all_seconds": [r["seconds"] for r in runs_faiss],
                **agreement(ours, fi, fd),
                **float32_ties(X, ours, fi),
            },
            "speedup_vs_faiss": r_faiss["seconds"] / r_ours["seconds"],
            "gflops_equiv_ours": 2 * n * n * d / r_ours["seconds"] / 1e9,
        }
        if knn_before is not None:
            r_old = min(runs_old, key=lambda r: r["seconds"])
            row["before"] = {
                "rev": before_rev,
                **r_old,
                "all_seconds": [r["seconds"] for r in runs_old],
                "identical_indices": bool(np.array_equal(old.indices, ours.indices)),
                "max_relative_distance_difference": float(
                    np.max(
                        np.abs(old.distances - ours.distances) / np.maximum(ours.distances, 1e-300)
                    )
                ),
            }
            row["speedup_vs_before"] = r_old["seconds"] / r_ours["seconds"]
        if n <= sklearn_max:
            (sd, si), r_sk = measure(sklearn_knn, X, k, threads)
            row["sklearn"] = {**r_sk, **agreement(ours, si, sd)}
            row["speedup_vs_sklearn"] = r_sk["seconds"] / r_ours["seconds"]
        rows.append(row)
        line = (
            f"N={n:>7} D={d:>4}: ours {r_ours['seconds']:7.2f}s ({r_ours['peak_extra_mb']:6.0f} MB)"
            f"  faiss {r_faiss['seconds']:7.2f}s ({r_faiss['peak_extra_mb']:6.0f} MB, "
            f"{row['faiss']['identical_rows']:.4f} identical, other rows float32 ties: "
            f"{row['faiss']['differences_are_float32_ties']})  x{row['speedup_vs_faiss']:.2f}"
        )
        if "sklearn" in row:
            line += (
                f"  sklearn {row['sklearn']['seconds']:7.2f}s "
                f"({row['sklearn']['identical_rows']:.4f} identical)"
            )
        if "before" in row:
            line += f"  before {row['before']['seconds']:7.2f}s"
        print(line + f"  load {os.getloadavg()[0]:.1f}", flush=True)
    return rows


def k_cost(n: int, d: int, ks=(2, 10, 20, 30, 50), repeats: int = 2) -> list[dict]:
    """CPU and wall time of one search for several k (the price of CACHE_MIN_K)."""
    X = manifold_cloud(n, d)
    mp.knn(X[:500], 5)
    out = {k: [] for k in ks}
    for _ in range(repeats):  # interleaved, so that a change of load hits every k alike
        for k in ks:
            out[k].append(measure(mp.knn, X, k)[1])
    rows = []
    for k in ks:
        best = min(out[k], key=lambda r: r["cpu_seconds"])
        rows.append({"n": n, "d": d, "k": k, **best})
    base = rows[0]["cpu_seconds"]
    for r in rows:
        r["cpu_relative_to_first"] = r["cpu_seconds"] / base
        print(f"k={r['k']:>3}: cpu {r['cpu_seconds']:.2f}s ({r['cpu_relative_to_first']:.2f}x)")
    return rows


def phases(n: int, d: int, k: int, before_rev: str | None, repeats: int = 3) -> dict:
    """CPU seconds of the engine's phases on one thread (ours and an older revision, interleaved).

    GEMM = ``torch.addmm``; selection = the rest of the float32 candidate pass; recompute = the
    float64 distances of the candidates; rest = preparation, sorting and the certificate.
    """
    import manifold_probe._knn_search as engine

    modules = {"ours": engine}
    if before_rev:
        load_before(before_rev)
        modules["before"] = sys.modules["neighbors_before"]
    spent: dict[str, float] = {}

    def clock(name, fn):
        def timed(*a, **kw):
            t = time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - t

        return timed

    addmm = torch.addmm
    torch.addmm = clock("gemm", addmm)
    # the float64 recomputation: _recompute since issue 21, _exact_sq_dists before; both lost
    # their underscore with issue 26 (an older revision keeps its own names)
    def first_name(m, *names):
        return next(name for name in names if hasattr(m, name))

    rec = {m: first_name(m, "recompute", "_recompute", "exact_sq_dists", "_exact_sq_dists")
           for m in modules.values()}
    cand = {m: first_name(m, "self_candidates", "_self_candidates") for m in modules.values()}
    saved = {m: (getattr(m, cand[m]), getattr(m, rec[m])) for m in modules.values()}
    for m in modules.values():
        setattr(m, cand[m], clock("candidates", getattr(m, cand[m])))
        setattr(m, rec[m], clock("recompute", getattr(m, rec[m])))
    X = manifold_cloud(n, d)
    best: dict[str, dict] = {}
    try:
        for m in modules.values():
            m.knn(X[:500], 5)
        for _ in range(repeats):
            for name, m in modules.items():
                spent.clear()
                load = os.getloadavg()[0]
                c = time.process_time()
                m.knn(X, k)
                total = time.process_time() - c
                row = {
                    "gemm": spent["gemm"],
                    "selection": spent["candidates"] - spent["gemm"],
                    "float64_recompute": spent["recompute"],
                    "rest": total - spent["candidates"] - spent["recompute"],
                    "total": total,
                    "load_1min_before": load,
                }
                if name not in best or total < best[name]["total"]:
                    best[name] = row
    finally:
        torch.addmm = addmm
        for m, (sc, ex) in saved.items():
            setattr(m, cand[m], sc)
            setattr(m, rec[m], ex)
    for name, row in best.items():
        print(f"{name:7s}", "  ".join(f"{key} {v:.2f}" for key, v in row.items()))
    return {"n": n, "d": d, "k": k, "threads": 1, "before_rev": before_rev, "best_cpu_seconds": best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=20_000, help="size of the default runs")
    ap.add_argument("--large", action="store_true", help="100,000 points instead (one run each)")
    ap.add_argument("--k-cost", action="store_true", help="only the cost of k, one thread")
    ap.add_argument("--phases", action="store_true", help="only the engine's phases, one thread")
    ap.add_argument("--before", default=None, help="git revision of an older knn to time beside")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved runs, best kept (3; 1 with --large)")
    ap.add_argument("--dims", default="384,768", help="ambient dimensions, comma-separated")
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    args = ap.parse_args()

    if args.k_cost:
        torch.set_num_threads(1)
        rows = k_cost(min(args.n, 10_000), 384)
        print("saved", save("bench_knn_k_cost", {"threads": 1, "runs": rows}))
        return

    if args.phases:
        torch.set_num_threads(1)
        out = phases(args.n, int(args.dims.split(",")[0]), args.k, args.before)
        print("saved", save("bench_knn_phases", out))
        return

    torch.set_num_threads(args.threads)
    import faiss

    faiss.omp_set_num_threads(args.threads)
    gemm = gemm_gflops()
    print(f"float32 GEMM on {args.threads} threads: {gemm:.1f} GFLOP/s (2048^2)")
    n = 100_000 if args.large else args.n
    sizes = [(n, int(d)) for d in args.dims.split(",")]
    repeats = args.repeats or (1 if args.large else 3)
    rows = compare(sizes, args.k, args.threads, 20_000, args.before, repeats)
    name = ("bench_knn_large" if args.large else "bench_knn") + (f"_{args.tag}" if args.tag else "")
    payload = {
        "gemm_gflops": gemm,
        "threads": args.threads,
        "faiss_version": faiss.__version__,
        "runs": rows,
    }
    print("saved", save(name, payload))


if __name__ == "__main__":
    main()
