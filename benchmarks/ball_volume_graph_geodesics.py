"""Ball-volume curvature of the unit sphere on graph geodesics (k = 20), the reading quoted in
``docs/validation.md#ball-volume`` ("With our graph geodesics (k = 20) the unit sphere
reads ...", truth 2), with the current code and, for comparison, the code of a given commit.

    OMP_NUM_THREADS=1 python benchmarks/ball_volume_graph_geodesics.py [--before REV]

N = 2000 points of S^2 (radius 1, in R^3), seeds 0-3 (the paragraph's other readings use
N = 2000 over seeds 0-3), ``scalar_curvature(X, dim=2, k=20, method="ball_volume")``, median
over the points. ``--before REV`` also runs the same cases on the package as of ``REV``
(``git archive``; default ``0f613ee^``, the code before the leave-one-out weight was read
from neighbour indices). Writes ``results/ball_volume_graph_geodesics.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = range(4)


def measure() -> dict:
    import numpy as np

    import manifold_probe as mp

    out = {}
    for seed in SEEDS:
        X = mp.datasets.sphere(2000, 2, radius=1.0, seed=seed).points
        S = mp.scalar_curvature(X, dim=2, k=20, method="ball_volume")
        out[str(seed)] = round(float(np.nanmedian(S)), 4)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before", default="0f613ee^")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure()))
        return
    sys.path.insert(0, HERE)
    from _common import save

    start, load = time.time(), os.getloadavg()
    now = measure()
    root = subprocess.check_output(["git", "rev-parse", "--show-toplevel"], cwd=HERE,
                                   text=True).strip()
    rev = subprocess.check_output(["git", "rev-parse", args.before], cwd=root, text=True).strip()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.check_output(["git", "archive", rev, "manifold_probe"], cwd=root)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": tmp}
        res = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"], env=env,
                             cwd=tmp, capture_output=True, text=True, check=True)
        before = json.loads(res.stdout.strip().splitlines()[-1])
    med = sorted(now.values())
    print("now", now, "before", rev[:7], before)
    save("ball_volume_graph_geodesics", {
        "case": "S^2 radius 1 in R^3, N = 2000, k = 20 graph geodesics, median; truth 2",
        "now": now, "before": {"commit": rev, "medians": before},
        "range_now": [med[0], med[-1]], "seconds": round(time.time() - start, 1),
        "loadavg_at_start": load, "threads": 1,
        "note": "readings are deterministic; seconds under a shared machine's load"})


if __name__ == "__main__":
    main()
