"""Exact kNN on a GPU beside a plain float32 brute force written here, in one run (issue 21).

    python benchmarks/bench_knn_gpu.py                       # GPU half, then a CPU half
    python benchmarks/bench_knn_gpu.py --sizes 20000,100000 --budget-s 240

The reference is the plain brute force of the issue: float32, ``||x||^2 - 2 X Y^T + ||y||^2``
on blocks of 8192 rows against all points, ``topk`` of k + 1 (self dropped), TF32 off. It is
not exact (float32 distances and ties) and certifies nothing; ``mp.knn`` returns the exact
graph (float64 distances, certified candidates). Both start from the same float32 CUDA tensor
(activations as a model leaves them), and the clock stops after ``torch.cuda.synchronize()``.
Ratio = ours / reference (the issue's target: at most 2 at 100k and 300k x 768).

GPU half (when torch sees CUDA): n x 768 for n in 20k, 100k, 300k, 1M, and 100k x 4096;
each configuration once after a warm-up, skipped when the time spent passes ``--budget-s``
(the script says so). At 20k, ours on CUDA is compared with ours on the CPU (the same graph,
bit for bit) and with the reference (rows whose neighbour sets differ, which must be float32
near-ties). CPU half: the same two on the CPU at small sizes (``--cpu-sizes``), threads as
set. On a machine without CUDA the GPU half is skipped and the JSON says so.

Results: benchmarks/results/bench_knn_gpu.json (GPU name, driver, torch and CUDA versions,
load averages).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import numpy as np
import torch
from _common import save

import manifold_probe as mp
from manifold_probe._knn_search import _knn


def reference(X, k: int, block: int = 8192):
    """Plain float32 brute force: the k nearest of every row (self excluded), not certified."""
    n = X.shape[0]
    sq = (X * X).sum(dim=1)
    idx = torch.empty((n, k), dtype=torch.int64, device=X.device)
    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        D = sq[r0:r1, None] - 2.0 * (X[r0:r1] @ X.T) + sq[None, :]
        rows = torch.arange(r1 - r0, device=X.device)
        D[rows, rows + r0] = float("inf")
        idx[r0:r1] = torch.topk(D, k, dim=1, largest=False).indices
    return idx


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn, dev, *args, **kwargs):
    """(result, wall seconds); the process's CPU seconds go to ``timed.cpu``."""
    sync(dev)
    c, t = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    sync(dev)
    timed.cpu = time.process_time() - c
    return out, time.perf_counter() - t


def gpu_info() -> dict | None:
    if not torch.cuda.is_available():
        return None
    info = {"name": torch.cuda.get_device_name(0), "torch": torch.__version__,
            "cuda": torch.version.cuda, "driver": None}
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
        info["driver"] = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def cloud(n: int, d: int, seed: int = 0) -> np.ndarray:
    """A 10-dimensional manifold (tanh of a random linear map) plus 1% noise, float32."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 10)).astype(np.float32)
    W = (rng.normal(size=(10, d)) / np.sqrt(10)).astype(np.float32)
    return np.tanh(Z @ W) + np.float32(0.01) * rng.normal(size=(n, d)).astype(np.float32)


def run_config(n: int, d: int, k: int, dev: torch.device, check_cpu: bool) -> dict:
    X = torch.from_numpy(cloud(n, d)).to(dev)
    load0 = os.getloadavg()[0]
    ref_idx, t_ref = timed(reference, dev, X, k)
    c_ref = timed.cpu
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    (ours, stats), t_ours = timed(_knn, dev, X, k, device=dev)
    rec = {"n": n, "d": d, "k": k, "device": str(dev), "reference_s": t_ref, "ours_s": t_ours,
           "ratio": t_ours / t_ref, "reference_cpu_s": c_ref, "ours_cpu_s": timed.cpu,
           "cpu_ratio": timed.cpu / max(c_ref, 1e-9), "rows": stats, "load_1min_before": load0,
           "load_1min_after": os.getloadavg()[0]}
    if dev.type == "cuda":
        rec["ours_peak_gpu_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    ref = np.sort(ref_idx.cpu().numpy(), axis=1)
    rec["rows_with_other_neighbour_set_than_reference"] = int(
        np.any(np.sort(ours.indices, axis=1) != ref, axis=1).sum())
    if check_cpu:
        cpu, t_cpu = timed(mp.knn, torch.device("cpu"), X.cpu(), k, device="cpu")
        rec["ours_on_cpu_s"] = t_cpu
        rec["cuda_equals_cpu_bitwise"] = bool(np.array_equal(cpu.indices, ours.indices)
                                              and np.array_equal(cpu.distances, ours.distances))
    print(f"{str(dev):5s} {n:>9,d} x {d:<5d} ours {t_ours:8.2f} s  reference {t_ref:8.2f} s  "
          f"ratio {rec['ratio']:5.2f} (CPU seconds: {rec['cpu_ratio']:5.2f})  uncertified {stats['uncertified']}"
          + (f"  cuda==cpu {rec['cuda_equals_cpu_bitwise']}" if check_cpu else ""), flush=True)
    del X
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="20000,100000,300000,1000000")
    ap.add_argument("--wide", default="100000", help="sizes at d=4096 (GPU)")
    ap.add_argument("--cpu-sizes", default="5000,20000")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--budget-s", type=float, default=360.0,
                    help="skip the remaining GPU configurations once this much time is spent")
    ap.add_argument("--out", default="bench_knn_gpu")
    args = ap.parse_args()
    start = time.perf_counter()
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # the reference in full float32 (no TF32)
    gpu = gpu_info()
    runs, skipped = [], []
    if gpu is None:
        print("GPU half skipped: torch.cuda.is_available() is False on this machine")
    else:
        dev = torch.device("cuda")
        print(f"GPU: {gpu}")
        run_config(4096, 768, args.k, dev, check_cpu=False)  # warm-up: CUDA context, kernels
        # the largest size last, so that a spent time budget skips it rather than d=4096
        narrow = sorted(int(n) for n in args.sizes.split(",") if n)
        configs = [(n, 768) for n in narrow[:-1]]
        configs += [(int(n), 4096) for n in args.wide.split(",") if n] + [(narrow[-1], 768)]
        for n, d in configs:
            if time.perf_counter() - start > args.budget_s:
                skipped.append(f"{n}x{d}")
                print(f"skipped {n:,d} x {d}: {args.budget_s:.0f} s budget spent")
                continue
            runs.append(run_config(n, d, args.k, dev, check_cpu=(n <= 20000)))
            torch.cuda.empty_cache()
    run_config(2000, 768, args.k, torch.device("cpu"), check_cpu=False)  # warm-up
    cpu_runs = [run_config(int(n), 768, args.k, torch.device("cpu"), check_cpu=False)
                for n in args.cpu_sizes.split(",") if n]
    torch.set_float32_matmul_precision(previous)
    save(args.out, {
        "gpu": gpu, "gpu_half": "skipped: no CUDA device" if gpu is None else "run",
        "gpu_runs": runs, "gpu_skipped_for_time": skipped, "cpu_runs": cpu_runs,
        "torch_threads": torch.get_num_threads(),
        "note": "ratio = mp.knn / plain float32 brute force, same process, same data; load "
                "averages recorded beside every run (shared machines)",
    })


if __name__ == "__main__":
    main()
