"""The family-wise rule of the warp calls over a run's layer pairs: its error and its power.

The warp null gives each reading ``B = 19`` Monte Carlo draws (floor 1/20 = 0.05). Over the
family of a run's warp readings (4 measures × 11 layer pairs for MiniLM's 6 blocks: m = 44)
this measures, on synthetic families whose truth is known (each pair its own centre and
scale; the reading one more draw of its null, or shifted by ``delta`` of its null's standard
deviations):

- ``fwer``: the chance of at least one call among true nulls, for the per-reading rule
  (p <= 0.05), Holm over the Monte Carlo p-values, and Westfall–Young max-T
  standardised by each pair's median and standard deviation (``analysis.nulls.max_t_adjust``,
  ``max_t_sd``) or median and MAD (``max_t_mad``),
  for m = 1, 4, 12, 44 and readings equicorrelated at rho = 0, 0.3, 0.6, 0.9 (the pairs share
  layers; the draws of each pair are independent of the others', as in the profile);
- ``power``: the chance that one shifted pair among m = 44 is called, at delta = 2, 3, 4, 6,
  10, 40 null standard deviations, for the same rules;
- both with Gaussian nulls and with heavy-tailed ones (Student t, 3 degrees of freedom: a
  null whose draws have outliers; FWER at m = 44, rho = 0 and 0.6).

::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_warp_fwer.py [--reps 4000]

Writes ``benchmarks/results/bench_warp_fwer.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from manifold_probe.analysis.nulls import holm, max_t_adjust, monte_carlo_p

B, ALPHA = 19, 0.05


def _max_t_mad(t, v):
    """max-T with the spread of each pair's values by their MAD (the alternative to the
    standard deviation of ``max_t_adjust``), the same centre."""
    x = np.column_stack([t, v])
    dev = np.abs(x - np.median(x, axis=1, keepdims=True))
    z = dev / (1.4826 * np.median(dev, axis=1, keepdims=True))
    big = z[:, 1:].max(axis=0)
    return (1 + (big[None, :] >= z[:, :1]).sum(axis=1)) / (B + 1)


def _raw(t, v):
    return np.array([monte_carlo_p(a, b)[0] for a, b in zip(t, v, strict=True)])


RULES = {"per_reading": _raw, "holm": lambda t, v: holm(_raw(t, v)),
         "max_t_mad": _max_t_mad, "max_t_sd": max_t_adjust}


def _family(rng, m, rho=0.0, delta=0.0, tails="normal"):
    """m pairs: reading and B draws of each pair's null (centre and scale its own); the
    readings equicorrelated at rho; pair 0's reading shifted by delta null sd. ``tails``:
    ``normal``, or ``t3`` (Student t with 3 degrees of freedom, scaled to unit sd: a null
    with outlying draws; the readings of a family then also share one chi-square, a
    dependence on top of rho)."""
    centre = rng.uniform(-5, 5, size=(m, 1))
    scale = rng.uniform(0.01, 10, size=(m, 1))
    z = np.sqrt(rho) * rng.standard_normal() + np.sqrt(1 - rho) * rng.standard_normal(m)
    e = rng.standard_normal((m, B))
    if tails == "t3":
        z = z / np.sqrt(rng.chisquare(3) / 3) / np.sqrt(3.0)
        e = e / np.sqrt(rng.chisquare(3, size=(m, B)) / 3) / np.sqrt(3.0)
    z[0] += delta
    return centre[:, 0] + scale[:, 0] * z, centre + scale * e


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=4000)
    args = ap.parse_args()
    rng = np.random.default_rng(2024)
    fwer, power = [], []
    for tails in ("normal", "t3"):
        for m in (1, 4, 12, 44):
            for rho in (0.0, 0.3, 0.6, 0.9):
                if tails == "t3" and (m != 44 or rho not in (0.0, 0.6)):
                    continue
                hits = dict.fromkeys(RULES, 0)
                for _ in range(args.reps):
                    t, v = _family(rng, m, rho, tails=tails)
                    for name, rule in RULES.items():
                        hits[name] += bool(np.any(rule(t, v) <= ALPHA))
                fwer.append({"tails": tails, "m": m, "rho": rho,
                             **{k: h / args.reps for k, h in hits.items()}})
                print(fwer[-1])
        for delta in (2.0, 3.0, 4.0, 6.0, 10.0, 40.0):
            hits = dict.fromkeys(RULES, 0)
            for _ in range(args.reps // 4):
                t, v = _family(rng, 44, 0.0, delta, tails=tails)
                for name, rule in RULES.items():
                    hits[name] += bool(rule(t, v)[0] <= ALPHA)
            power.append({"tails": tails, "m": 44, "delta_null_sd": delta,
                          **{k: h / (args.reps // 4) for k, h in hits.items()}})
            print(power[-1])
    out = Path(__file__).parent / "results" / "bench_warp_fwer.json"
    out.write_text(json.dumps({
        "alpha": ALPHA, "draws": B, "reps_fwer": args.reps, "reps_power": args.reps // 4,
        "fwer_se": float(np.sqrt(ALPHA * (1 - ALPHA) / args.reps)),
        "loadavg": os.getloadavg(), "note": "no timings: rates only",
        "fwer": fwer, "power": power}, indent=1) + "\n")


if __name__ == "__main__":
    main()
