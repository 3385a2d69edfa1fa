"""Significant Betti numbers (H0-H2) of 2000 points in R^50: ours vs full Rips by ripser.

    python benchmarks/bench_topology.py [--n 2000] [--dim 50] [--noise 0.01] [--ref-n1 400]
                                        [--ref-n2 200] [--shapes circle,sphere,...]

Same clouds (``mp.datasets`` known-homology shapes, noise = rms displacement per point as a
fraction of the feature size), one run:

* **ours**: ``mp.betti_numbers(X, maxdim=2, seed=0)`` on all ``n`` points (400 maxmin
  landmarks, sparse Rips over the whole filtration, left-Gumbel test), timed end to end.
* **ripser (full Rips)**: full Rips of ``n`` points takes minutes (H1 of 2000 points: ~237 s
  measured in issue 4), so it runs on random subsamples: H0-H1 on ``ref_n1`` points, H2 on
  ``ref_n2``, and its bars are judged by the same test as ours.
* **backend**: one Rips computation on the same 300 landmarks, gudhi (ours) vs ripser.

Prints a table and saves benchmarks/results/bench_topology.json. The noise/seed/family sweep
is benchmarks/validate_topology.py.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _common import save
from validate_topology import ripser_betti, sample

from manifold_probe.topology._persistence import maxmin_landmarks, pairwise_distances, rips_diagrams

SHAPES = {
    "circle": ("circle", {}),
    "two_circles": ("circles", {"k": 2}),
    "figure_eight": ("figure_eight", {}),
    "sphere": ("sphere", {"dim": 2}),
    "torus": ("torus", {"R": 2.0, "r": 1.0}),
    "klein_bottle": ("klein_bottle", {}),
    "no_loop": ("cube", {"dim": 3}),
}


def backend_race(X, maxdim):
    import ripser

    L, _ = maxmin_landmarks(300, 0, X=X)
    DL = pairwise_distances(X[L])
    t = time.perf_counter()
    rips_diagrams(DL, maxdim, sparse=0.5)
    tg = time.perf_counter() - t
    t = time.perf_counter()
    ripser.ripser(DL, maxdim=maxdim, distance_matrix=True)
    return {"gudhi_sparse_s": tg, "ripser_full_s": time.perf_counter() - t}


def main() -> None:
    import manifold_probe as mp

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--ref-n1", type=int, default=400)
    ap.add_argument("--ref-n2", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    rows = []
    print(f"{'cloud':13s} {'truth':10s} {'ours':10s} {'t_ours':>7s} {'ripser':10s} {'t_rip':>7s}"
          f" {'gudhi1':>7s} {'ripser1':>7s}")
    for name in args.shapes.split(","):
        family, options = SHAPES[name]
        s = sample(family, options, args.n, 0, args.noise, args.dim)
        truth = s.truth(2)
        t = time.perf_counter()
        betti = mp.betti_numbers(s.points, maxdim=2, seed=0)
        t_ours = time.perf_counter() - t
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        r1 = ripser_betti(s.points, 1, 0.95, rng, args.ref_n1)
        r2 = ripser_betti(s.points, 2, 0.95, rng, args.ref_n2)
        t_ref = time.perf_counter() - t
        ref = tuple(r1[:2]) + (r2[2],)
        race = backend_race(s.points, 2)
        rows.append({"cloud": name, "n": args.n, "dim": args.dim, "noise": args.noise,
                     "truth": truth, "ours": betti, "time_s": t_ours, "ripser_subsample": ref,
                     "ripser_s": t_ref, "backend_one_landmark_rips": race,
                     "ours_correct": betti == truth, "ripser_correct": ref == truth})
        print(f"{name:13s} {truth!s:10s} {betti!s:10s} {t_ours:7.2f} {ref!s:10s} {t_ref:7.2f}"
              f" {race['gudhi_sparse_s']:7.3f} {race['ripser_full_s']:7.3f}", flush=True)
    path = save("bench_topology", {
        "args": vars(args),
        "notes": "ours: all n points; ripser: full Rips of random subsamples (ref_n1 for H0-H1, "
                 "ref_n2 for H2) judged by the same left-Gumbel test; seconds",
        "rows": rows})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
