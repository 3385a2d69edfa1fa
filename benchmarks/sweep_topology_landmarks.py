"""How many landmarks the H1 test should use: a sweep over landmark counts on every family of
benchmarks/validate_topology.py (main + held-out), seeds 0-4, noise 0 and 1%, and on the
feature-free clouds of its null calibration (8 seeds, noise 0 and 1%).

    python benchmarks/sweep_topology_landmarks.py compute [--part main|held|null] [--ms ...]
    python benchmarks/sweep_topology_landmarks.py analyse
    python benchmarks/sweep_topology_landmarks.py stability

``compute`` stores, for each run and landmark count m, the H1 bars (birth, death) of the
sparse Rips filtration (eps = SPARSE_EPS, whole range) of the first m maxmin landmarks (the
landmark order of ``betti_numbers``: the same start, so the first 400 are its default net),
in a cache under $TMPDIR (large; not committed). ``analyse`` reads the cache, applies the test
of ``betti_numbers`` to H1 for each rule and writes results/sweep_topology_landmarks.json:
per m, the H1 exact rate on the feature families, the false H1 features on the null shapes,
the largest noise ratio and the ratio of the weakest true feature; and the whole Betti vector
exact rate when H1 alone is re-read at m (H0 and H2 as in results/validate_topology.json,
which were computed on the 400-landmark net, unchanged by this sweep).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import save
from validate_topology import AMBIENT, FAMILIES, HELD_OUT, NULL_SHAPES, sample

from manifold_probe._validation import check_seed, normalize_scale, unique_rows
from manifold_probe.topology._persistence import maxmin_landmarks, pairwise_distances, rips_diagrams
from manifold_probe.topology._significance import SPARSE_EPS

CACHE = Path(os.environ.get("SWEEP_CACHE", Path(tempfile.gettempdir()) / "sweep_topology_landmarks"))
FIXED = (300, 400, 500, 600, 800, 1000, 1333)
FRACTIONS = (0.25, 1 / 3, 0.5)


def counts(n):
    return sorted({m for m in FIXED if m <= n} | {int(round(f * n)) for f in FRACTIONS})


def h1_bars(X, seed, ms):
    """H1 bars of the sparse Rips of the first m landmarks, for each m (same greedy order)."""
    X, _ = normalize_scale(X)  # ratios are scale-free; the same rescaling as betti_numbers
    rng = check_seed(seed)
    U = X[unique_rows(X)[0]]
    L, _ = maxmin_landmarks(min(max(ms), len(U)), int(rng.integers(len(U))), X=U)
    D = pairwise_distances(U[L])
    out = {}
    for m in ms:
        m = min(m, len(L))
        d = rips_diagrams(D[:m, :m], 1, np.inf, sparse=SPARSE_EPS)[1]
        d = d[np.isfinite(d[:, 1]) & (d[:, 0] > 0) & (d[:, 1] > d[:, 0])]
        # covering radius of the m-net of the sample: the (m+1)-th insertion radius
        eps = float(np.min(D[m, :m])) if m < len(L) else np.nan
        out[m] = (d, eps)
    return out


def jobs(part):
    if part in ("main", "held"):
        held = {f[0] for f in HELD_OUT}
        for label, family, options, n, _maxdim in FAMILIES:
            if (label in held) != (part == "held"):
                continue
            for noise in (0.0, 0.01):
                for seed in range(5):
                    yield label, family, options, n, seed, noise
    else:
        for label, family, options, n, _ in NULL_SHAPES:
            for noise in (0.0, 0.01):
                for seed in range(8):
                    yield label, family, options, n, seed, noise


def compute(part):
    CACHE.mkdir(parents=True, exist_ok=True)
    for label, family, options, n, seed, noise in jobs(part):
        key = f"{part}|{label}|{seed}|{noise}"
        path = CACHE / (key.replace("/", "_").replace(" ", "_").replace("|", "__") + ".npz")
        if path.exists():
            continue
        t = time.perf_counter()
        s = sample(family, options, n, seed, noise, AMBIENT[seed % len(AMBIENT)])
        res = h1_bars(s.points, seed, counts(n))
        np.savez(path, key=key, truth=np.asarray(s.truth(1)), n=n,
                 **{f"bars_{m}": d for m, (d, _) in res.items()},
                 **{f"eps_{m}": e for m, (_, e) in res.items()},
                 **{"ms": np.asarray(sorted(res))})
        print(f"{key} {time.perf_counter() - t:.1f}s", flush=True)


def load():
    runs = []
    for path in sorted(CACHE.glob("*.npz")):
        z = np.load(path)
        part, label, seed, noise = str(z["key"]).split("|")
        runs.append({"part": part, "label": label, "seed": int(seed), "noise": float(noise),
                     "n": int(z["n"]), "beta1": int(z["truth"][1]),
                     "bars": {int(m): z[f"bars_{m}"] for m in z["ms"]},
                     "eps": {int(m): float(z[f"eps_{m}"]) for m in z["ms"]}})
    return runs


def beta1(bars, alpha=0.05, **kw):
    from manifold_probe.topology._significance import MIN_FIT, gumbel_pvalues

    r = bars[:, 1] / bars[:, 0]
    if len(r) < MIN_FIT:  # not reached on these runs (>= 100 bars); kept for completeness
        return int(np.sum(r > 4.0)), r
    p = np.minimum(1.0, gumbel_pvalues(r, **kw) * len(r))
    return int(np.sum(p < alpha)), r


RULES = {f"m={m}": (lambda n, m=m: m) for m in FIXED}
RULES.update({f"m=n/{round(1 / f)}": (lambda n, f=f: int(round(f * n))) for f in FRACTIONS})
RULES["m=max(400,n/3)"] = lambda n: max(400, int(round(n / 3)))
RULES["m=max(400,n/5)"] = lambda n: max(400, int(round(n / 5)))
RULES["m=max(400,n/4)"] = lambda n: max(400, int(round(n / 4)))


def null_laws(runs, alpha=0.05):
    from manifold_probe.topology._significance import MIN_FIT, gumbel_pvalues

    def universal(r, a):
        ll = np.log(np.log(r))
        return np.exp(-np.exp(a * (ll - ll.mean()) - np.euler_gamma))

    laws = {f"fit {q}": (lambda r, q=q: gumbel_pvalues(r, quantiles=q))
            for q in ((0.5, 0.9), (0.25, 0.75), (0.75, 0.95), (0.9, 0.98))}
    laws["universal A=1"] = lambda r: universal(r, 1.0)
    laws["universal A=1/2"] = lambda r: universal(r, 0.5)
    rules = {"m=400": lambda n: 400, "m=max(400,n/4)": lambda n: max(400, n // 4),
             "m=max(400,n/3)": lambda n: max(400, n // 3),
             "m=max(400,n/2)": lambda n: max(400, n // 2)}
    out = []
    for law, pv in laws.items():
        for rule, f in rules.items():
            row = {"law": law, "rule": rule, "h1_exact": 0, "h1_runs": 0, "null_false": 0,
                   "null_runs": 0, "misses": {}}
            for r in runs:
                want = f(r["n"])
                m = min(r["bars"], key=lambda k, want=want: abs(k - want))
                ratio = r["bars"][m][:, 1] / r["bars"][m][:, 0]
                if len(ratio) < MIN_FIT:
                    continue
                k = int(np.sum(np.minimum(1.0, pv(ratio) * len(ratio)) < alpha))
                if r["part"] == "null":
                    row["null_runs"] += 1
                    row["null_false"] += int(k > 0)
                else:
                    row["h1_runs"] += 1
                    row["h1_exact"] += int(k == r["beta1"])
                    if k != r["beta1"]:
                        row["misses"][r["label"]] = row["misses"].get(r["label"], 0) + 1
            out.append(row)
            print(f"{law:18s} {rule:15s} H1 exact {row['h1_exact']}/{row['h1_runs']} null false "
                  f"{row['null_false']}/{row['null_runs']} misses {row['misses']}", flush=True)
    return out


def margins(runs):
    """Where the rule changes the net (n > 1600): Bonferroni p of the weakest true loop
    (median of log10, worst, count above 0.01) at 400 landmarks and at max(400, n/4)."""
    from manifold_probe.topology._significance import gumbel_pvalues

    out = {}
    for name, rule in (("m=400", lambda n: 400), ("m=max(400,n/5)", lambda n: max(400, n // 5)),
                       ("m=max(400,n/4)", lambda n: max(400, n // 4))):
        by = {}
        for r in runs:
            if r["part"] == "null" or r["n"] <= 1600 or not r["beta1"]:
                continue
            want = rule(r["n"])
            m = min(r["bars"], key=lambda k, want=want: abs(k - want))
            ratio = r["bars"][m][:, 1] / r["bars"][m][:, 0]
            p = np.sort(np.minimum(1.0, gumbel_pvalues(ratio) * len(ratio)))
            by.setdefault(r["label"], []).append(float(p[r["beta1"] - 1]))
        out[name] = {k: {"median_log10_p": float(np.median(np.log10(v))), "worst_p": max(v),
                         "runs_p_above_0.01": int(np.sum(np.asarray(v) > 0.01)), "runs": len(v)}
                     for k, v in by.items()}
    return out


def null_tail(runs):
    """Largest and 99th-percentile noise ratio of the feature-free H1 diagrams, per shape
    and landmark fraction m/n (the regularity of the net)."""
    out = {}
    for r in runs:
        if r["part"] != "null":
            continue
        for m, bars in r["bars"].items():
            ratio = bars[:, 1] / bars[:, 0]
            key = f"{r['label']} m/n={m / r['n']:.3f} (m={m})"
            out.setdefault(key, []).append([float(ratio.max()), float(np.quantile(ratio, 0.99))])
    return {k: {"max": float(np.mean([v[0] for v in x])), "q99": float(np.mean([v[1] for v in x])),
                "runs": len(x)} for k, x in sorted(out.items())}


def sampling():
    """How well each torus of the grid is sampled: the covering radius of its n points
    (distance from 2e5 reference points of the surface to the nearest sample point, max),
    over the reach min(r, R - r), against the Niyogi-Smale-Weinberger (2008) condition
    eps < sqrt(3/5) tau / 2 = 0.387 tau (covering radius eps, reach tau) under which the union
    of balls recovers the homology. 5 seeds."""
    from scipy.spatial import cKDTree

    import manifold_probe as mp

    out = []
    for R, r, n in ((3.0, 1.0, 2000), (2.0, 1.0, 1500), (1.5, 1.0, 1500), (2.0, 0.7, 2000),
                    (1.5, 1.0, 3000), (1.5, 1.0, 4000)):
        ref = mp.datasets.torus_shape(200_000, R=R, r=r, seed=99).points
        eps = [float(cKDTree(mp.datasets.torus_shape(n, R=R, r=r, seed=s).points).query(ref)[0]
                     .max()) for s in range(5)]
        tau = min(r, R - r)
        out.append({"R": R, "r": r, "n": n, "reach": tau, "covering_radius": eps,
                    "covering_over_reach": float(np.mean(eps) / tau),
                    "nsw_bound": float(np.sqrt(3 / 5) / 2)})
        print("sampling", out[-1], flush=True)
    return out


def stability(seeds=20):
    """Seed independence of the whole Betti vector for H1 rules that differ at n >= 2000:
    noise-free data (seed 0, R^50), analysis seeds 0..seeds-1, H1_FRACTION set to each value
    (400 landmarks everywhere: n_landmarks=400). Saved to results/
    sweep_topology_landmarks_stability.json."""
    import manifold_probe as mp
    from manifold_probe.topology import _significance as sig

    fam = {f[0]: f for f in FAMILIES}
    out, default = [], sig.H1_FRACTION
    try:
        for label in ("+ torus R=2 r=0.7", "torus R=3 r=1", "Klein bottle R^4",
                      "+ torus R=1.5 r=1 n=4000"):
            _, family, options, n, maxdim = fam[label]
            s = sample(family, options, n, 0, 0.0, 50)
            for frac in (None, 1 / 5, 1 / 4):
                sig.H1_FRACTION = default if frac is None else frac
                got = [mp.betti_numbers(s.points, maxdim, seed=k,
                                        n_landmarks=400 if frac is None else None)
                       for k in range(seeds)]
                ok = sum(g == s.truth(maxdim) for g in got)
                rule = "400 landmarks" if frac is None else f"H1 on max(400, n/{round(1 / frac)})"
                out.append({"family": label, "n": n, "rule": rule, "exact": ok, "seeds": seeds,
                            "answers": sorted({str(g) for g in got})})
                print(out[-1], flush=True)
    finally:
        sig.H1_FRACTION = default
    print(f"saved {save('sweep_topology_landmarks_stability', {'rows': out})}")


def analyse():
    runs = load()
    grid = json.load(open(Path(__file__).parent / "results" / "validate_topology.json"))["grid"]
    old = {(r["family"], r["seed"], r["noise"]): r for r in grid}
    out = {"rules": {}}
    for name, rule in RULES.items():
        row = {"h1_exact": {}, "betti_exact": {}, "null_false": 0, "null_runs": 0,
               "null_max_ratio": [], "misses": []}
        for r in runs:
            m = rule(r["n"])
            if m > r["n"]:
                continue
            m = min(r["bars"], key=lambda k: abs(k - m))  # nearest cached count
            b1, ratio = beta1(r["bars"][m])
            if r["part"] == "null":
                row["null_runs"] += 1
                row["null_false"] += int(b1 > 0)
                row["null_max_ratio"].append(float(ratio.max()))
                continue
            ok1 = b1 == r["beta1"]
            row["h1_exact"].setdefault(r["part"], [0, 0])
            row["h1_exact"][r["part"]][0] += ok1
            row["h1_exact"][r["part"]][1] += 1
            o = old[(r["label"], r["seed"], r["noise"])]
            got = list(o["betti"])
            got[1] = b1
            ok = got == list(o["truth"])
            row["betti_exact"].setdefault(r["part"], [0, 0])
            row["betti_exact"][r["part"]][0] += ok
            row["betti_exact"][r["part"]][1] += 1
            if not ok:
                row["misses"].append([r["label"], r["seed"], r["noise"], m, got])
        row["null_max_ratio"] = float(np.max(row["null_max_ratio"] or [np.nan]))
        out["rules"][name] = row
        print(f"{name:16s} betti {row['betti_exact']} h1 {row['h1_exact']} null false "
              f"{row['null_false']}/{row['null_runs']} (max ratio {row['null_max_ratio']:.2f})",
              flush=True)
    # the null law: the fitted left-Gumbel at several quantile pairs, and Bobrowski & Skraba's
    # universal law (A = 1, and A = 1/2; B = -gamma - A mean(loglog pi)), on the runs whose H1
    # has >= MIN_FIT bars (the others use the pooled / certified rules, the same for all)
    out["null_law"] = null_laws(runs)
    # per family and m: the weakest true H1 feature's ratio against the largest noise ratio
    per = {}
    for r in runs:
        for m, bars in r["bars"].items():
            ratio = np.sort(bars[:, 1] / bars[:, 0])[::-1]
            k = r["beta1"]
            feat = float(ratio[k - 1]) if k and len(ratio) >= k else None
            noise = float(ratio[k]) if len(ratio) > k else None
            per.setdefault(r["label"], {}).setdefault(str(m), []).append(
                {"seed": r["seed"], "noise": r["noise"], "weakest_feature": feat,
                 "largest_noise": noise, "bars": len(ratio), "covering_radius": r["eps"][m]})
    out["per_family"] = per
    out["null_tail"] = null_tail(runs)
    out["margins"] = margins(runs)
    out["sampling_vs_reach"] = sampling()
    print(f"saved {save('sweep_topology_landmarks', out)}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=["compute", "analyse", "stability"])
    ap.add_argument("--part", default="main", choices=["main", "held", "null"])
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.what == "stability":
        sys.exit(stability())
    sys.exit(compute(args.part) if args.what == "compute" else analyse())
