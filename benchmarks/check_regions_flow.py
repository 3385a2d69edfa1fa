"""After round 7 of ``sweep_regions_rules.py``: fresh featureless draws and the cost of ``peak="flow"``.

Measured after the round's summary, to report, never to choose:

1. **Fresh featureless clouds**: the seven shapes of the sweep's ``unimodal`` family
   (``bench_regions_truth.unimodal``) at seeds 100-119, none of them one of the sweep's 35
   clouds: how many read more than one region with ``peak="flow"`` (the default chosen by
   round 7) and ``peak="sample"`` (the round-2 default). At the nominal 5% per cloud, 20 clouds
   of a shape hold about 1 false reading and more than 3 with probability 0.016.
2. **Cost**: wall time of ``regions()`` with each ``peak`` on the sweep's development mixtures
   and featureless clouds at seed 0 and the MiniLM layers at subsample 0, each timed after a
   call that fills the graph cache (so neither pays the kNN search), best of 3.

Run: ``PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/check_regions_flow.py``
Writes ``benchmarks/results/check_regions_flow.json`` (a few minutes, one thread).

Round 8 (``peak="step"``): ``--peak step`` makes the same two measurements with ``peak="step"``
beside ``"sample"`` and writes ``check_regions_step.json``; the fresh clouds are there part of
the rule (admissibility over 35 + 140 featureless clouds, read by the sweep's ``fresh``
family), so this file only cross-checks their counts and gives the cost.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine  # noqa: E402
from bench_regions_truth import clouds, unimodal  # noqa: E402

SHAPES = ("gaussian-5", "gaussian-20", "ball-5", "anisotropic-10", "sphere2-in-10",
          "circle-in-2", "circle-in-10")
FRESH_SEEDS = range(100, 120)
CANDIDATE = sys.argv[sys.argv.index("--peak") + 1] if "--peak" in sys.argv else "flow"
PEAKS = (CANDIDATE, "sample")


def fresh() -> dict:
    from manifold_probe.analysis.regions import regions

    out: dict = {}
    for shape in SHAPES:
        counts: dict = {p: [] for p in PEAKS}
        for s in FRESH_SEEDS:
            X = unimodal(shape, 500, s)
            for p in PEAKS:
                counts[p].append(int(regions(X, seed=s, peak=p).n_regions))
        out[shape] = {p: dict(counts=c, false=sum(x > 1 for x in c)) for p, c in counts.items()}
        print(shape, {p: out[shape][p]["false"] for p in PEAKS}, flush=True)
    out["total"] = {p: dict(false=sum(out[sh][p]["false"] for sh in SHAPES),
                            clouds=len(SHAPES) * len(FRESH_SEEDS)) for p in PEAKS}
    return out


def cost() -> dict:
    from manifold_probe.analysis.regions import regions

    tot = {p: 0.0 for p in PEAKS}
    n = 0
    for family in ("mixture", "unimodal", "minilm"):
        for _group, seed, X, _ in clouds(family):
            if seed != 0:
                continue
            regions(X, seed=0)  # fills the graph cache
            for p in PEAKS:
                best = np.inf
                for _ in range(3):
                    t = time.perf_counter()
                    regions(X, seed=0, peak=p)
                    best = min(best, time.perf_counter() - t)
                tot[p] += best
            n += 1
    return dict(clouds=n, total_s={p: round(v, 2) for p, v in tot.items()},
                **{f"ratio_{CANDIDATE}_to_sample": round(tot[CANDIDATE] / tot["sample"], 2)})


def main() -> None:
    out = dict(fresh=fresh(), cost=cost())
    print(out["fresh"]["total"], out["cost"], flush=True)
    out["loadavg"] = os.getloadavg()
    out["machine"] = machine()
    out["timing_note"] = ("wall seconds, single thread on a shared, loaded machine (loadavg "
                          "above): a ratio, not a speed benchmark")
    out["command"] = ("PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/check_regions_flow.py"
                      + ("" if CANDIDATE == "flow" else f" --peak {CANDIDATE}"))
    (RESULTS / f"check_regions_{CANDIDATE}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
