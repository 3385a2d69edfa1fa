"""Sweep of the near-duplicate test of the ratio estimators (manifold_probe.dimension._near).

The test flags a cloud when the share of its points with r2/r1 > t exceeds t^(-n_ref) (the
Pareto tail of the reference dimension n_ref >= 1, a lower confidence bound read from the lower
half of the ratios) by more than the one-sided DKW bound (level 1e-3 in all, N_eff = N/2).
Nothing here tunes it; the sweep records

1. false alarms where the bound is tight: uniform segments, circles and a 1-d Gaussian (a line
   with a non-uniform density), 200 seeds at each of N = 200, 500, 2000, 5000;
2. false alarms on ordinary clouds: the 26 families of benchmarks/validate_dimension.py
   (spheres, tori, Gaussians, cubes, balls, swiss roll, noisy variants; rotated into D = 20,
   100, 400) at 3 seeds, the 24 Hein-Audibert benchmark sets at 3 seeds, and clouds the other
   benchmarks do not have (tight Gaussian blobs, Student-t with 3 degrees of freedom, a
   dense core with a sparse halo), 3 seeds each;
3. power and repair: Gaussians and spheres of dimension 2, 5, 10 (N = 2000) in which a share f
   of the points gets a twin at distance rho x the median nearest-neighbour spacing: detection
   rate (2 seeds), TwoNN on the cloud as it is, TwoNN with the default collapse, and the truth;
4. the modular-addition toy model (all 59^2 pairs, both captured layers): TwoNN, MLE and GRIDE
   on the full capture (default: collapse), as it is (near_duplicates="keep") and on the pairs
   a <= b (each input without its twin (b, a)).

    OMP_NUM_THREADS=1 python benchmarks/sweep_near_duplicates.py          # ~ 10 minutes
    OMP_NUM_THREADS=1 python benchmarks/sweep_near_duplicates.py --quick  # fewer seeds

Writes benchmarks/results/sweep_near_duplicates.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, machine  # noqa: E402
from validate_dimension import AMBIENT, families, sample  # noqa: E402

import manifold_probe as mp  # noqa: E402
from manifold_probe.dimension import twonn  # noqa: E402
from manifold_probe.dimension._base import distinct_graph  # noqa: E402
from manifold_probe.dimension._near import NEAR_ALPHA, near_duplicate_test  # noqa: E402


def flagged(X: np.ndarray) -> tuple[bool, float, float]:
    _, g = distinct_graph(X, 2)
    t = near_duplicate_test(g.neighbors.distances)
    return t.detected, t.excess, t.bound


def lines(n_seeds: int) -> dict:
    out = {}
    gens = {
        "segment": lambda n, rng: np.c_[rng.random(n), np.zeros(n)],
        "circle": lambda n, rng: (lambda t: np.c_[np.cos(t), np.sin(t)])(rng.uniform(0, 2 * np.pi, n)),
        "gauss1": lambda n, rng: np.c_[rng.standard_normal(n), np.zeros(n)],
    }
    for name, gen in gens.items():
        for n in (200, 500, 2000, 5000):
            res = [flagged(gen(n, np.random.default_rng([seed, n]))) for seed in range(n_seeds)]
            out[f"{name} N={n}"] = {"runs": n_seeds, "false_alarms": int(sum(r[0] for r in res)),
                                    "max_excess_over_bound": float(max(r[1] / r[2] for r in res))}
    return out


def ordinary(n_seeds: int) -> dict:
    out = {}
    for label, kind, d, sigma in families():
        res = [flagged(sample(kind, d, sigma, 2000, D, seed))
               for seed in range(n_seeds) for D in AMBIENT]
        out[label] = {"runs": len(res), "false_alarms": int(sum(r[0] for r in res)),
                      "max_excess_over_bound": float(max(r[1] / r[2] for r in res))}
    for name in mp.datasets.benchmark_names() if hasattr(mp.datasets, "benchmark_names") else []:
        res = []
        for seed in range(min(n_seeds, 3)):
            X = np.asarray(mp.datasets.benchmark(name, 2500, seed=seed).points)
            res.append(flagged(X))
        out[f"HA {name}"] = {"runs": len(res), "false_alarms": int(sum(r[0] for r in res)),
                             "max_excess_over_bound": float(max(r[1] / r[2] for r in res))}
    extra = {
        "blobs 5x3d tight": lambda rng: np.concatenate(
            [rng.standard_normal((400, 3)) * 0.01 + 10 * rng.standard_normal(3) for _ in range(5)]),
        "student-t3 5d": lambda rng: rng.standard_t(3, (2000, 5)),
        "core+halo 4d": lambda rng: np.r_[0.05 * rng.standard_normal((1800, 4)),
                                          rng.standard_normal((200, 4))],
    }
    for name, gen in extra.items():
        res = [flagged(gen(np.random.default_rng(seed))) for seed in range(n_seeds)]
        out[name] = {"runs": len(res), "false_alarms": int(sum(r[0] for r in res)),
                     "max_excess_over_bound": float(max(r[1] / r[2] for r in res))}
    return out


def twinned(kind: str, d: int, f: float, rho: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, d, int(1e3 * f), int(-np.log10(rho))])
    n = 2000
    Y = rng.standard_normal((n, d + (kind == "sphere")))
    if kind == "sphere":
        Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    spacing = float(np.median(mp.knn(Y, 1).distances[:, 0]))
    m = int(round(f * n))
    idx = rng.choice(n, m, replace=False)
    step = rng.standard_normal((m, Y.shape[1]))
    step *= rho * spacing / np.linalg.norm(step, axis=1, keepdims=True)
    return np.r_[Y, Y[idx] + step]


def power(n_seeds: int) -> list[dict]:
    rows = []
    for kind in ("gauss", "sphere"):
        for d in (2, 5, 10):
            for rho in (1e-1, 1e-2, 1e-4):
                for f in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0):
                    det, keep, coll = [], [], []
                    for seed in range(n_seeds):
                        X = twinned(kind, d, f, rho, seed)
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            a = twonn(X, near_duplicates="keep")
                            b = twonn(X)
                        det.append(a.near_duplicates)
                        keep.append(a.dimension)
                        coll.append(b.dimension)
                    rows.append({"family": kind, "d": d, "rho": rho, "twin_share": f,
                                 "detected": float(np.mean(det)),
                                 "twonn_as_is": float(np.median(keep)),
                                 "twonn_default": float(np.median(coll))})
    return rows


def toy() -> dict:
    from manifold_probe.capture import load_model
    from manifold_probe.dimension import gride, mle

    h = load_model("toy-modadd")
    pairs = np.asarray(h.inputs_for(None))
    acts = h.capture(pairs, layers=["layer_1_mid", "layer_1"], pooling="last")
    out = {}
    single = pairs[:, 0] <= pairs[:, 1]
    for name in ("layer_1_mid", "layer_1"):
        X = np.asarray(acts[name], dtype=np.float64)
        row = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for m, fn in (("twonn", twonn), ("mle", mle), ("gride", gride)):
                full = fn(X)
                row[m] = {"default": full.dimension, "interval": full.interval,
                          "near_duplicates": full.near_duplicates,
                          "n_used": full.n_distinct,
                          "as_is": fn(X, near_duplicates="keep").dimension,
                          "a_le_b": fn(X[single]).dimension}
            row["test"] = {k: v for k, v in twonn(X).details["near_duplicates"].items()}
        out[name] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    n_line, n_ord, n_pow = (40, 2, 1) if args.quick else (200, 3, 2)
    result = {
        "alpha": NEAR_ALPHA,
        "lines": lines(n_line),
        "ordinary": ordinary(n_ord),
        "power": power(n_pow),
        "toy_modadd": toy(),
    }
    fa_lines = sum(v["false_alarms"] for v in result["lines"].values())
    runs_lines = sum(v["runs"] for v in result["lines"].values())
    fa_ord = sum(v["false_alarms"] for v in result["ordinary"].values())
    runs_ord = sum(v["runs"] for v in result["ordinary"].values())
    result["summary"] = {"line_false_alarms": f"{fa_lines}/{runs_lines}",
                         "ordinary_false_alarms": f"{fa_ord}/{runs_ord}"}
    result["seconds"] = time.time() - t0
    result["loadavg"] = os.getloadavg()
    result["timing_note"] = "wall time on a shared machine (load average beside it)"
    result["machine"] = machine()
    print(json.dumps(result["summary"]))
    for name, v in result["lines"].items():
        print(f"{name:18s} false alarms {v['false_alarms']}/{v['runs']}  "
              f"max D/eps {v['max_excess_over_bound']:.2f}")
    for name, v in result["ordinary"].items():
        if v["false_alarms"]:
            print(f"FALSE ALARM {name}: {v['false_alarms']}/{v['runs']}")
    print("family d rho share detected as_is default")
    for r in result["power"]:
        print(f"{r['family']:6s} {r['d']:2d} {r['rho']:.0e} {r['twin_share']:.2f} "
              f"{r['detected']:.2f} {r['twonn_as_is']:6.2f} {r['twonn_default']:6.2f}")
    for name, row in result["toy_modadd"].items():
        for m in ("twonn", "mle", "gride"):
            r = row[m]
            print(f"toy {name} {m}: default {r['default']:.2f} {r['interval']} as-is "
                  f"{r['as_is']:.2f} a<=b {r['a_le_b']:.2f} (n {r['n_used']})")
    path = RESULTS / ("sweep_near_duplicates_quick.json" if args.quick else "sweep_near_duplicates.json")
    path.write_text(json.dumps(result, indent=1, default=float))
    print("wrote", path)


if __name__ == "__main__":
    main()
