"""Sweep of TwoNN's scale check (noise diagnostic) across families, seeds and noise levels.

For every sample: the default ``intrinsic_dimension(X)`` (TwoNN with ``scale_check=True``),
whether it is flagged ``scale_dependent``, its interval (widened to the scale range when
flagged) and whether that interval contains the true dimension; GRIDE's reported value beside
it. Families: those of ``benchmarks/validate_dimension.py`` (clean and noisy, same generator),
plus high-dimensional balls and cubes, tori and spheres at noise sigma in {0, 0.005, 0.01, 0.02,
0.05} per ambient coordinate, and the 24 Hein-Audibert sets (``mp.datasets.benchmark``; clean,
with strongly non-uniform densities). Nothing here was used to choose the rule, which is
GRIDE's own stable-range test (see ``mp.dimension.scale_dependence``).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/sweep_dimension_scale.py [--seeds 0 1 2]

Writes benchmarks/results/sweep_dimension_scale.json and prints a summary: the false-alarm
rate on clean closed manifolds, the flag rate per noise level, and interval coverage with and
without the check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate_dimension as vd  # noqa: E402

import manifold_probe as mp  # noqa: E402
from manifold_probe.dimension import gride, twonn  # noqa: E402

CLOSED = ("sphere", "torus")


def grid() -> list[tuple[str, str, int, float, str]]:
    """(label, generator, d, sigma, group)."""
    out = []
    for label, kind, d, sigma in vd.families():
        group = ("clean closed" if kind in CLOSED else "clean other") if sigma == 0 else "noisy"
        out.append((label, kind, d, sigma, group))
    for kind, d in (("sphere", 2), ("torus", 3), ("sphere", 5)):
        for sigma in (0.005, 0.02, 0.05):
            label = f"{'S' if kind == 'sphere' else 'T'}^{d} s={sigma}"
            out.append((label, kind, d, sigma, "noisy"))
    for kind, d in (("ball", 20), ("cube", 20), ("gauss", 20)):
        out.append((f"{kind}{d}", kind, d, 0.0, "clean other"))
    return out


def run(X: np.ndarray, truth: float) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = mp.intrinsic_dimension(X)
    plain = twonn(X, scale_check=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = gride(X)
    return {
        "twonn": e.dimension,
        "flag": bool(e.scale_dependent),
        "warned": any("neighbourhood scale" in str(w.message) for w in caught),
        "interval": list(e.interval),
        "interval_plain": list(plain.interval),
        "covers": bool(e.interval[0] <= truth <= e.interval[1]),
        "covers_plain": bool(plain.interval[0] <= truth <= plain.interval[1]),
        "gride": g.dimension,
        "curve": e.details["scale_check"]["curve"],
        "error_twonn": abs(e.dimension - truth),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default="benchmarks/results/sweep_dimension_scale.json")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows = []
    for label, kind, d, sigma, group in grid():
        for i, seed in enumerate(args.seeds):
            D = max(vd.AMBIENT[i % len(vd.AMBIENT)], 2 * d + 2)
            X = vd.sample(kind, d, sigma, args.n, D, seed)
            truth = vd.GENERATORS[kind][1](d)
            r = {"family": label, "group": group, "sigma": sigma, "true_dim": truth,
                 "ambient_dim": D, "seed": seed, **run(X, truth)}
            rows.append(r)
            print(f"{label:14s} D={D:3d} seed={seed} twonn={r['twonn']:6.2f} "
                  f"flag={int(r['flag'])} interval=({r['interval'][0]:.2f}, "
                  f"{r['interval'][1]:.2f}) gride={r['gride']:.2f}", flush=True)
    for name in mp.datasets.benchmark_names():
        for seed in args.seeds[:2]:
            s = mp.datasets.benchmark(name, args.n, seed=seed)
            r = {"family": name, "group": "Hein-Audibert (clean)", "sigma": 0.0,
                 "true_dim": s.intrinsic_dim, "ambient_dim": s.points.shape[1], "seed": seed,
                 **run(s.points, s.intrinsic_dim)}
            rows.append(r)
            print(f"{name:14s} seed={seed} twonn={r['twonn']:6.2f} flag={int(r['flag'])} "
                  f"gride={r['gride']:.2f}", flush=True)
    summary = {}
    for group in dict.fromkeys(r["group"] for r in rows):
        rs = [r for r in rows if r["group"] == group]
        summary[group] = {
            "runs": len(rs),
            "flagged": sum(r["flag"] for r in rs),
            "flagged_families": sorted({r["family"] for r in rs if r["flag"]}),
            "interval_covers_truth": sum(r["covers"] for r in rs),
            "interval_covers_truth_without_check": sum(r["covers_plain"] for r in rs),
        }
    noisy = [r for r in rows if r["group"] == "noisy"]
    big = [r for r in noisy if r["error_twonn"] > 0.1 * r["true_dim"]]
    summary["noisy, TwoNN off by more than 10%"] = {
        "runs": len(big), "flagged": sum(r["flag"] for r in big),
        "missed": sorted({f"{r['family']} D={r['ambient_dim']}" for r in big if not r["flag"]}),
    }
    for k, v in summary.items():
        print(k, v)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "what": "TwoNN scale check (noise diagnostic): flags and interval coverage per run",
        "n_points": args.n, "seeds": args.seeds, "machine": platform.platform(),
        "loadavg": os.getloadavg(), "seconds": time.perf_counter() - t0,
        "summary": summary, "rows": rows,
    }, indent=1))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
