"""Cost of each profile measure against the number of rows n, and the error its subsample costs.

For every n (default 2,000 → 16,000; ``--sizes`` for more, e.g. ``--sizes 2000 20000 50000
200000``) and width d (``--dims 384 768``), a pair of clouds X (one layer) and Y (the next) is
built — per-token-like: 64 clusters on a 16-dimensional latent, lifted linearly into R^d with
noise, and Y a smooth nonlinear map of X — or read from a per-token MiniLM capture
(``--tokens DIR``: layers 2 and 3 of ``manifold-probe capture`` with ``pooling = "tokens"``,
rows subsampled to n, d = 384). Each measure of the layer profile runs once on it, as the
profile's tasks do, with the shared kNN graphs computed first:

- ``knn``: the exact graph (k = 32, what the default profile needs), X and Y;
- ``dimension``: TwoNN, MLE, GRIDE from the graph (linear in n);
- ``curvature``: quadratic fits at ``curvature.max_points`` = 400 rows (constant in n past 400);
- ``topology``: significant Betti numbers of ``topology.max_points`` = 400 rows (constant);
- ``regions``: density modes of ``regions.max_points`` = 1,000 rows (constant);
- ``pair``: the warp X → Y (geodesic distortion from 200 sources, kNN overlap,
  trustworthiness and continuity with ``knn.rank_rows`` = 2,000).

Time (wall seconds, and CPU seconds of the measuring thread, ``time.thread_time``, which a
shared machine's load does not inflate) and peak resident memory above the start of each measure
(``benchmarks/_common.PeakRSS``, sampled every 20 ms; includes torch) are recorded; the growth
exponent is the least-squares slope of log(time) on log(n) over the sizes. The error of the
subsampled trustworthiness/continuity (``rank_rows``) is measured against the exact sums
(``rank_rows=None``) at every n where the exact computation runs (``--exact-max``), the
largest being the one to quote. Curvature's 400-row subsample is compared with the fit at every
row at the smallest n (the median's shift in units of its interquartile range).

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_scaling.py [--sizes 2000 4000 8000 16000]
        [--dims 384] [--tokens runs/tokens/activations/HASH] [--exact-max 16000] [--out NAME]

Writes ``benchmarks/results/<out>.json`` (default ``bench_scaling``) and, with ``--figure``,
``docs/figures/bench_scaling.png``. Timings on a shared machine carry its load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PeakRSS, save  # noqa: E402

MEASURES = ("knn", "dimension", "curvature", "topology", "regions", "pair")


def synthetic_pair(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A per-token-like layer pair: clusters on a 16-d latent, lifted into R^d, then warped."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(64, 16))
    Z = centres[rng.integers(0, 64, size=n)] + rng.normal(size=(n, 16))
    X = Z @ rng.normal(size=(16, d)) / 4.0 + 0.05 * rng.normal(size=(n, d))
    W = rng.normal(size=(d, d)) / np.sqrt(d)
    Y = X + np.tanh(X @ W)
    return X, Y


def token_pair(folder: Path, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X = np.load(folder / "L02.npy").astype(np.float64)
    Y = np.load(folder / "L03.npy").astype(np.float64)
    rows = np.sort(np.random.default_rng(seed).choice(len(X), size=min(n, len(X)), replace=False))
    return X[rows], Y[rows]


def run_one(X: np.ndarray, Y: np.ndarray, exact: bool, skip: tuple = ()) -> dict:
    from manifold_probe.analysis import EstimatorSettings
    from manifold_probe.analysis._reuse import clear_geodesic_cache
    from manifold_probe.analysis.measures import (
        measure_curvature,
        measure_dimension,
        measure_pair,
        measure_topology,
    )
    from manifold_probe.analysis.semantic import measure_regions
    from manifold_probe.neighbors import knn, knn_cache

    est = EstimatorSettings.from_mapping({"geodesic": {"method": "graph"}, "mle": {"k": 10}})
    graph_k = est.graph_k()
    out: dict = {}

    def timed(name, fn):
        t0, c0 = time.perf_counter(), time.thread_time()
        with PeakRSS() as mem:
            value = fn()
        out[name] = {"time_s": time.perf_counter() - t0, "cpu_s": time.thread_time() - c0,
                     "peak_mb": mem.peak_mb}
        return value

    with knn_cache(enabled=False):
        nbx, nby = timed("knn", lambda: (knn(X, graph_k), knn(Y, graph_k)))
        out["knn"]["note"] = "two graphs (X and Y)"
        dim = timed("dimension", lambda: measure_dimension(Y, nby, est))
        curv = ({} if "curvature" in skip
                else timed("curvature", lambda: measure_curvature(Y, nby, est, 0)))
        if "topology" not in skip:
            timed("topology", lambda: measure_topology(Y, est, 0))
        if "regions" not in skip:
            timed("regions", lambda: measure_regions(Y, None, None, est, 0))
        clear_geodesic_cache()
        pair = timed("pair", lambda: measure_pair(X, Y, nbx, nby, est, 0))
        out["values"] = {"curvature_median": curv.get("curvature_median"),
                         "trustworthiness": pair["trustworthiness_prev"],
                         "continuity": pair["continuity_prev"],
                         "geodesic_distortion": pair["geodesic_distortion_prev"],
                         "graph_components": dim["graph_components"]}
        if exact:
            clear_geodesic_cache()
            full = EstimatorSettings.from_mapping({"geodesic": {"method": "graph"},
                                                   "knn": {"rank_rows": None}})
            ex = timed("pair_exact", lambda: measure_pair(X, Y, nbx, nby, full, 0))
            out["values"]["trustworthiness_exact"] = ex["trustworthiness_prev"]
            out["values"]["continuity_exact"] = ex["continuity_prev"]
    return out


def curvature_subsample_error(Y: np.ndarray) -> dict:
    """Median curvature of the 400-row subsample against the fit at every row, same cloud."""
    from manifold_probe.analysis import EstimatorSettings
    from manifold_probe.analysis.measures import measure_curvature
    from manifold_probe.neighbors import knn

    nb = knn(Y, 2)
    sub = measure_curvature(Y, nb, EstimatorSettings(), 0)
    t0 = time.perf_counter()
    full = measure_curvature(Y, nb, EstimatorSettings.from_mapping(
        {"curvature": {"max_points": None}}), 0)
    iqr = full["curvature_q75"] - full["curvature_q25"]
    return {"n": int(len(Y)), "median_subsample": sub["curvature_median"],
            "median_all_rows": full["curvature_median"], "iqr_all_rows": iqr,
            "shift_in_iqr": (sub["curvature_median"] - full["curvature_median"]) / iqr,
            "time_all_rows_s": time.perf_counter() - t0}


def exponent(ns, ts) -> float:
    ns, ts = np.asarray(ns, float), np.asarray(ts, float)
    ok = ts > 0
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(ns[ok]), np.log(ts[ok]), 1)[0])


def figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for d, rows in results.items():
        ns = [r["n"] for r in rows]
        for name in MEASURES:
            if not all(name in r for r in rows):
                continue
            ts = [r[name].get("cpu_s", r[name]["time_s"]) for r in rows]
            ax.loglog(ns, ts, marker="o", label=f"{name} (d={d}, slope {exponent(ns, ts):.2f})")
    ax.set_xlabel("rows n")
    ax.set_ylabel("CPU time of one thread (s; wall where not recorded)")
    ax.set_title("Profile measures against n (one layer pair)")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000, 8000, 16000])
    parser.add_argument("--dims", type=int, nargs="+", default=[384])
    parser.add_argument("--tokens", type=Path, default=None)
    parser.add_argument("--exact-max", type=int, default=16000)
    parser.add_argument("--curvature-n", type=int, default=2000,
                        help="rows of the curvature subsample-error check (0: skip it)")
    parser.add_argument("--figure", action="store_true")
    parser.add_argument("--skip", nargs="*", default=[], choices=["curvature", "topology",
                                                                  "regions"],
                        help="measures left out (constant in n: they run on fixed subsamples)")
    parser.add_argument("--out", default="bench_scaling")
    args = parser.parse_args()

    results: dict = {}
    load_before = os.getloadavg()
    dims = [384] if args.tokens else args.dims
    # warm-up (imports, torch and BLAS start-up) so that the smallest size is not charged
    Xw, Yw = synthetic_pair(300, dims[0])
    run_one(Xw, Yw, exact=False)
    for d in dims:
        rows = []
        for n in args.sizes:
            X, Y = token_pair(args.tokens, n) if args.tokens else synthetic_pair(n, d)
            n = len(X)
            r = {"n": n, "d": d, **run_one(X, Y, exact=n <= args.exact_max,
                                           skip=tuple(args.skip)),
                 "loadavg": os.getloadavg()}
            rows.append(r)
            # what has run so far, in case a long run is stopped
            save(args.out, {"partial": True, "results": {**{str(k): v for k, v in
                                                            results.items()}, str(d): rows}})
            line = "  ".join(f"{m} {r[m]['time_s']:7.2f}s {r[m]['cpu_s']:7.2f}cpu "
                             f"{r[m]['peak_mb']:6.0f}MB" for m in MEASURES if m in r)
            print(f"d={d} n={n:7d}  {line}", flush=True)
            if "pair_exact" in r:
                v = r["values"]
                print(f"    trustworthiness {v['trustworthiness']:.6f} (exact "
                      f"{v['trustworthiness_exact']:.6f}), continuity {v['continuity']:.6f} "
                      f"(exact {v['continuity_exact']:.6f}); exact pair "
                      f"{r['pair_exact']['time_s']:.1f}s", flush=True)
        results[d] = rows
    fits = {d: {m: exponent([r["n"] for r in rows], [r[m]["time_s"] for r in rows])
                for m in (*MEASURES, "pair_exact") if all(m in r for r in rows)}
            for d, rows in results.items()}
    # CPU seconds of the measuring thread: what a loaded machine's wall time cannot show
    fits_cpu = {d: {m: exponent([r["n"] for r in rows], [r[m]["cpu_s"] for r in rows])
                    for m in (*MEASURES, "pair_exact") if all(m in r for r in rows)}
                for d, rows in results.items()}
    for d, f in fits.items():
        print(f"d={d} growth exponents: " + ", ".join(f"{m} {e:.2f}" for m, e in f.items()))
    d0 = dims[0]
    X, Y = token_pair(args.tokens, max(args.curvature_n, 3)) if args.tokens else \
        synthetic_pair(max(args.curvature_n, 3), d0)
    curv = curvature_subsample_error(Y) if args.curvature_n > 0 else None
    if curv is not None:
        print(f"curvature: 400-row median vs all {curv['n']} rows: shift "
              f"{curv['shift_in_iqr']:+.3f} IQR")
    payload = {
        "data": f"tokens from {args.tokens}" if args.tokens else
        "synthetic: 64 clusters on a 16-d latent lifted to R^d with noise; Y = X + tanh(X W)",
        "sizes": args.sizes, "dims": dims, "results": {str(d): v for d, v in results.items()},
        "growth_exponents": {str(d): v for d, v in fits.items()},
        "growth_exponents_cpu": {str(d): v for d, v in fits_cpu.items()},
        "curvature_subsample": curv,
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "threads": {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "note": "one process, one layer pair per size; timings on a shared machine (load "
                "averages recorded) vary by tens of percent; peak_mb is resident memory above "
                "the measure's start (sampled every 20 ms)",
    }
    path = save(args.out, payload)
    print(f"wrote {path}")
    if args.figure:
        fig = Path(__file__).resolve().parents[1] / "docs" / "figures" / f"{args.out}.png"
        figure(results, fig)
        print(f"wrote {fig}")


if __name__ == "__main__":
    main()
