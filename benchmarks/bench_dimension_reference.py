"""The simulated reference curve f(m) of TwoNN's optional finite-sample correction.

For N points uniform in the unit m-ball, f(m) is the mean raw TwoNN estimate. This script
records f(m) and its Monte-Carlo standard error for N in {300, 2000}, m = 1..70, (a) from ONE
simulation (the former scheme: one sample, seed-dependent) and (b) as the correction now
computes it (``reference_repeats(N)`` samples, fixed internal seed). It measures the two knobs
of the reference: how often adjacent integer dimensions are out of order (why the grid is
geometric above 10), and the spread that enters the corrected interval.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dimension_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from manifold_probe.dimension import _correction as base
from manifold_probe.dimension._twonn import _raw_twonn


def raw_fn(d):
    return _raw_twonn(d, 0.1, "linear")


def one_sim(n: int, m: int, seed: int) -> float:
    rng = np.random.default_rng([seed, n, m])
    return float(raw_fn(base.reference_distances(base.reference_sample("ball", n, m, rng), 2)))


def main() -> None:
    out = {}
    for n in (300, 2000):
        dims = list(range(1, 71))
        single = [one_sim(n, m, 0) for m in dims]
        ref = [base.reference_value(("twonn", 0.1, "linear"), raw_fn, n, 2, m) for m in dims]
        mean = [float(a[0]) for a, _ in ref]
        se = [float(b[0]) for _, b in ref]
        grid, m = [], 1
        while m <= 70:
            grid.append(m)
            m = base._next_reference_dim(m)
        gi = [dims.index(g) for g in grid]
        res = {
            "dims": dims,
            "single_sim": single,
            "mean": list(mean),
            "se": list(se),
            "repeats": base.reference_repeats(n),
            "single_sim_out_of_order": int(np.sum(np.diff(single) <= 0)),
            "mean_out_of_order_integer_grid": int(np.sum(np.diff(mean) <= 0)),
            "geometric_grid": grid,
            "mean_out_of_order_geometric_grid": int(np.sum(np.diff(np.array(mean)[gi]) <= 0)),
        }
        out[str(n)] = res
        print(
            f"N={n}: repeats={res['repeats']}; out-of-order adjacent pairs (m=1..70): "
            f"one simulation {res['single_sim_out_of_order']}, mean on integers "
            f"{res['mean_out_of_order_integer_grid']}, mean on the grid "
            f"{res['mean_out_of_order_geometric_grid']}; f(10)={mean[9]:.2f}+-{se[9]:.2f}, "
            f"f(50)={mean[49]:.2f}+-{se[49]:.2f}, f(51)-f(50)={mean[50] - mean[49]:.2f}"
        )
    p = Path("benchmarks/results/bench_dimension_reference.json")
    p.write_text(json.dumps(out, indent=1))
    print(f"saved {p}")


if __name__ == "__main__":
    main()
