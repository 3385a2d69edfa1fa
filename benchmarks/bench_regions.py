"""Sweep of the significance rule of :func:`manifold_probe.analysis.regions.regions`.

The rule (prominence > 2 c_alpha, c_alpha the bootstrap sup-norm quantile of the log-DTM,
alpha = 0.05) has no tuned constant; this sweep records what it does:

* Gaussian mixtures with ``c`` equal components at equal pairwise centre distance ``sep``
  (in units of the component standard deviation), in ``d`` dimensions, several seeds: the
  number of regions found, and the adjusted Rand index with the true components;
* one-cluster shapes that must read 1 region: a Gaussian, a uniform ball, a noisy circle.

Run: ``PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_regions.py [--quick]``
Writes ``benchmarks/results/bench_regions.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine  # noqa: E402

from manifold_probe.analysis.regions import regions  # noqa: E402


def mixture(c: int, sep: float, d: int, n: int, seed: int):
    """``c`` unit Gaussians, centres at the vertices of a regular simplex of edge ``sep``."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((c, d))
    centres[np.arange(c), np.arange(c)] = sep / np.sqrt(2.0)
    rot, _ = np.linalg.qr(rng.normal(size=(d, d)))
    y = np.arange(n) % c
    return (centres[y] + rng.normal(size=(n, d))) @ rot, y


def one_cluster(shape: str, d: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    if shape == "gaussian":
        return rng.normal(size=(n, d))
    if shape == "ball":
        u = rng.normal(size=(n, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        return u * rng.uniform(size=(n, 1)) ** (1.0 / d)
    if shape == "circle":
        t = rng.uniform(0, 2 * np.pi, n)
        X = np.zeros((n, d))
        X[:, 0], X[:, 1] = np.cos(t), np.sin(t)
        return X + 0.05 * rng.normal(size=(n, d))
    raise ValueError(shape)


def main() -> None:
    from sklearn.metrics import adjusted_rand_score

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 600
    seeds = range(2) if args.quick else range(3)
    rows = []
    t0 = time.perf_counter()
    for d in (5, 20):
        for c in (2, 3, 5):
            for sep in (4.0, 6.0, 8.0, 12.0):
                for seed in seeds:
                    X, y = mixture(c, sep, d, n, seed)
                    r = regions(X, seed=seed)
                    rows.append(dict(kind="mixture", c=c, sep=sep, d=d, n=n, seed=seed,
                                     found=r.n_regions,
                                     ari=float(adjusted_rand_score(y, r.labels)),
                                     threshold=r.threshold,
                                     prominences=[round(float(p), 4) for p in r.prominences[:8]]))
    for shape, dims in (("gaussian", (2, 5, 20, 100)), ("ball", (2, 5, 20)), ("circle", (2, 10))):
        for d in dims:
            for seed in range(5 if not args.quick else 3):
                r = regions(one_cluster(shape, d, n, seed), seed=seed)
                rows.append(dict(kind="one", shape=shape, d=d, n=n, seed=seed, found=r.n_regions,
                                 threshold=r.threshold,
                                 prominences=[round(float(p), 4) for p in r.prominences[:8]]))
    elapsed = time.perf_counter() - t0

    summary = {}
    for d in (5, 20):
        for c in (2, 3, 5):
            for sep in (4.0, 6.0, 8.0, 12.0):
                sel = [r for r in rows if r["kind"] == "mixture" and (r["c"], r["d"], r["sep"]) == (c, d, sep)]
                summary[f"mixture c={c} d={d} sep={sep:g}"] = dict(
                    correct=sum(r["found"] == c for r in sel), runs=len(sel),
                    found=[r["found"] for r in sel],
                    mean_ari=round(float(np.mean([r["ari"] for r in sel])), 3),
                    over=sum(r["found"] > c for r in sel))
    ones = [r for r in rows if r["kind"] == "one"]
    summary["one-cluster shapes read 1"] = dict(correct=sum(r["found"] == 1 for r in ones), runs=len(ones))
    mixes = [r for r in rows if r["kind"] == "mixture"]
    summary["mixtures: more regions than components (false regions)"] = dict(
        runs=len(mixes), over=sum(r["found"] > r["c"] for r in mixes))
    for key, val in summary.items():
        print(f"{key:45s} {val}")
    out = dict(rule="prominence > 2 c_alpha (bootstrap sup-norm of -log DTM), alpha=0.05, k=15, n_boot=200",
               elapsed_s=round(elapsed, 1), machine=machine(), summary=summary, rows=rows)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "bench_regions.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path} ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
