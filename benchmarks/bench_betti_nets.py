"""Cost of betti_numbers' three landmark nets against the former single net, on the same clouds.

    python benchmarks/bench_betti_nets.py --before /path/to/former/checkout [--rounds 2]

Each round times, in a fresh process per version (the former checkout on PYTHONPATH, then
this one), ``mp.betti_numbers`` on the ``--timing`` clouds of validate_topology.py (torus
R = 3, r = 1, S2 and the Klein bottle: 2000 points in R^50, H0-H2) and on the four families
whose answer depended on the analysis seed (noise-free, R^50): one warm-up call on data seed
0, then the median of three calls on data seeds 1-3 (new clouds, so that neither version
reuses a cached null law or, for the nets fixed by the cloud, a repeated computation). Versions alternate, so both see
the same load; CPU time of the process (one BLAS thread) is the measure, wall time is saved
beside it with the load average (the machine is shared, so wall time varies with the load).
Saves benchmarks/results/bench_betti_nets.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CLOUDS = ["timing torus R=3 r=1", "timing S2", "timing Klein bottle", "* nested spheres",
          "* torus R=2 r=1 kappa 2", "# 6 circles", "# 9 circles"]


def _cloud(name, seed=0):
    import manifold_probe as mp

    if name.startswith("timing "):
        family, options = {"timing torus R=3 r=1": ("torus", {"R": 3.0, "r": 1.0}),
                           "timing S2": ("sphere", {"dim": 2}),
                           "timing Klein bottle": ("klein_bottle", {})}[name]
        return mp.datasets.homology_shape(family, 2000, seed=seed, ambient_dim=50,
                                          **options).points, 2
    sys.path.insert(0, str(HERE))
    import validate_topology as vt

    _, family, options, n, maxdim = {f[0]: f for f in vt.FAMILIES}[name]
    return vt.sample(family, options, n, seed, 0.0, 50).points, maxdim


def worker():
    import manifold_probe as mp

    out = {"package": mp.__file__}
    for name in CLOUDS:
        X, maxdim = _cloud(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            b = mp.betti_numbers(X, maxdim=maxdim, seed=0)
            first = time.perf_counter() - t
            secs, cpu = [], []
            for seed in (1, 2, 3):  # a new cloud each time: no cached null law is reused
                Y, _ = _cloud(name, seed)
                t, c = time.perf_counter(), time.process_time()
                mp.betti_numbers(Y, maxdim=maxdim, seed=seed)
                secs.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
        out[name] = {"betti": list(b), "first_seconds": first,
                     "median_seconds": float(np.median(secs)),
                     "median_cpu_seconds": float(np.median(cpu)), "loadavg": os.getloadavg()[0]}
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before", required=False, help="checkout of the former version")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker()
        return
    from _common import save

    env = dict(os.environ, OMP_NUM_THREADS="1")
    versions = {"after": str(HERE.parent)}
    if args.before:
        versions = {"before": args.before, **versions}
    rounds = []
    for r in range(args.rounds):
        for label, path in versions.items():
            res = subprocess.run([sys.executable, __file__, "--worker"], capture_output=True,
                                 text=True, check=True, env=dict(env, PYTHONPATH=path))
            rounds.append({"round": r, "version": label, **json.loads(res.stdout)})
            print(label, r, {k: round(v["median_cpu_seconds"], 2) for k, v in rounds[-1].items()
                             if isinstance(v, dict)}, flush=True)
    summary = {}
    for name in CLOUDS:
        row = {}
        for key in ("median_cpu_seconds", "median_seconds"):
            med = {v: float(np.median([x[name][key] for x in rounds if x["version"] == v]))
                   for v in versions}
            unit = "cpu_seconds" if "cpu" in key else "wall_seconds"
            row.update({f"{v}_{unit}": s for v, s in med.items()})
            if "before" in med:
                row[f"ratio_{unit}"] = med["after"] / med["before"]
        summary[name] = row
    save("bench_betti_nets", {"rounds": rounds, "summary": summary,
                              "note": "shared machine: timings under load (loadavg per cloud)"})
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
