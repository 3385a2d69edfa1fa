"""The warp null as a Monte Carlo test: its number of draws, its subsample size, its cost and
its level, measured on MiniLM's layer pairs.

The warp null (``analysis.warp_null.warp_null``) reads geodesic distortion, kNN overlap,
trustworthiness and continuity on ``B`` jointly Gaussian pairs with the two layers' joint mean
and covariance, and gives each reading a Monte Carlo p-value (floor ``1/(B + 1)``). Above
``_WARP_NULL_MAX_ROWS`` rows both the draws and the reading are taken on ``m`` rows. This
script measures what fixes ``B`` and ``m``:

- ``sizes``: per layer pair, the readings on seeded subsamples of ``m`` = 500 / 1000 / 2000
  rows (three subsample seeds) and ``B = 19`` null draws at each ``m``: how much the reading
  moves with ``m`` against its distance to the null (in null standard deviations), and
  whether the calls agree across ``m``;
- ``draws``: at the chosen ``m``, 59 null draws per pair: the p-values and calls from the first
  19, the first 39 and all 59 draws;
- ``level``: the test on 20 clouds of 5000 rows that *are* jointly Gaussian (the covariance of
  MiniLM's token layers 2 -> 3): how often it rejects at 0.05 (the nominal rate), and how far
  the null moves when its covariance is estimated from the cloud (as the profile does) or from
  the m-row subsample instead of known (in null standard deviations); ``shift``: the same
  shift with the covariance from 2000 and from 19,296 rows;
- ``cost``: CPU seconds of ``measure_pair`` with the null off and on, on every layer pair of
  the per-token capture (19,296 rows) and of the mean-pooled one (2000 rows); ``--before``
  times the same with the code before this null.

Data: the per-token and the mean-pooled captures of the default corpus (``manifold-probe run``
with ``experiments/configs/tokens.toml`` and with the default config write them under
``DIR/activations/HASH``)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_warp_null.py \\
        --tokens runs/tokens/activations/HASH --pooled runs/default/activations/HASH \\
        [--parts sizes draws level shift cost] [--before]

Writes ``benchmarks/results/bench_warp_null.json`` (each part's results; a part not run keeps
its earlier results). CPU seconds are ``time.process_time`` of one thread on a shared machine,
with the load average beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, save  # noqa: E402

KEYS = ("geodesic_distortion", "knn_overlap", "trustworthiness", "continuity")
NAME = "bench_warp_null"


def settings():
    import tomllib

    from manifold_probe.analysis.settings import EstimatorSettings

    root = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / "experiments/configs/default.toml").read_text())
    return EstimatorSettings.from_mapping(cfg["estimators"])


def layers(folder: Path) -> list[np.ndarray]:
    return [np.load(f).astype(np.float64) for f in sorted(folder.glob("L*.npy"))]


def pairs(clouds: list[np.ndarray]):
    from manifold_probe.analysis.measures import distinct_pair

    for i in range(1, len(clouds)):
        X, Y, _, _, _ = distinct_pair(clouds[i - 1], clouds[i], None, None)
        yield f"L{i - 1}->L{i}", X, Y


def null_draws(X, Y, est, m, count, seed):
    from manifold_probe.analysis.nulls import matched_gaussian_pairs
    from manifold_probe.analysis.warp_null import _pair_readings

    rng = np.random.default_rng(seed)
    out = {key: [] for key in KEYS}
    for Xn, Yn in matched_gaussian_pairs(X, Y, count, seed=rng, n=m):
        for key, v in _pair_readings(Xn, Yn, est, rng).items():
            out[key].append(v)
    return out


def readings(X, Y, est, m, seed):
    from manifold_probe.analysis.warp_null import _pair_readings

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(X), m, replace=False)) if m < len(X) else np.arange(len(X))
    return _pair_readings(X[rows], Y[rows], est, rng)


def call(r, draws, alpha=0.05):
    from manifold_probe.analysis.nulls import monte_carlo_p

    p, side = monte_carlo_p(r, draws, tol=1e-9)
    return p, (side if p <= alpha else "within")


def part_sizes(sources, est, sizes=(500, 1000, 2000), seeds=(0, 1, 2), B=19):
    out = []
    for label, clouds in sources:
        for name, X, Y in pairs(clouds):
            row = {"data": label, "pair": name, "n": len(X), "by_m": {}}
            for m in sizes:
                if m > len(X):
                    continue
                c0 = time.process_time()
                d = null_draws(X, Y, est, m, B, seed=[m, 7])
                c1 = time.process_time()
                reads = [readings(X, Y, est, m, seed=[m, s]) for s in seeds]
                c2 = time.process_time()
                cell = {"null_cpu_s": c1 - c0, "reading_cpu_s": (c2 - c1) / len(seeds),
                        "loadavg": list(os.getloadavg())}
                for key in KEYS:
                    v = np.asarray(d[key])
                    rs = [r[key] for r in reads]
                    cell[key] = {
                        "null_mean": float(v.mean()), "null_sd": float(v.std(ddof=1)),
                        "null_lo": float(v.min()), "null_hi": float(v.max()),
                        "readings": rs,
                        "z": [float((r - v.mean()) / v.std(ddof=1)) for r in rs],
                        "calls": [call(r, v)[1] for r in rs],
                        "p": [call(r, v)[0] for r in rs]}
                row["by_m"][str(m)] = cell
                print(label, name, m, {k: (round(float(np.mean(cell[k]["readings"])), 4),
                                           round(cell[k]["null_mean"], 4),
                                           cell[k]["calls"]) for k in KEYS},
                      round(c1 - c0, 1), flush=True)
            out.append(row)
    return {"rows": out, "summary": sizes_summary(out)}


def sizes_summary(rows):
    """Per (data, m): the reading's move from m to 2000 rows (mean over subsample seeds) in
    units of its distance to the null at m, and calls that differ from those at 2000."""
    summary = {}
    for r in rows:
        ref = r["by_m"].get("2000")
        if ref is None:
            continue
        for m, cell in r["by_m"].items():
            if m == "2000":
                continue
            s = summary.setdefault(f"{r['data']} m={m}", {"moves": [], "calls_differ": 0,
                                                          "calls": 0, "min_abs_z": []})
            for key in KEYS:
                a, b = np.mean(cell[key]["readings"]), np.mean(ref[key]["readings"])
                gap = abs(a - cell[key]["null_mean"])
                s["moves"].append(float(abs(a - b) / gap) if gap > 0 else float("nan"))
                s["calls"] += len(cell[key]["calls"])
                s["calls_differ"] += sum(x != y for x, y in zip(cell[key]["calls"],
                                                                ref[key]["calls"], strict=True))
                s["min_abs_z"].append(float(np.min(np.abs(cell[key]["z"]))))
    for s in summary.values():
        s["largest_move_over_gap"] = float(np.nanmax(s["moves"]))
        s["smallest_abs_z"] = float(np.min(s["min_abs_z"]))
    return summary


def part_draws(sources, est, m=1000, counts=(19, 39, 59)):
    out = []
    for label, clouds in sources:
        for name, X, Y in pairs(clouds):
            d = null_draws(X, Y, est, m, max(counts), seed=[m, 11])
            r = readings(X, Y, est, m, seed=[m, 0])
            row = {"data": label, "pair": name, "m": m}
            for key in KEYS:
                v = np.asarray(d[key])
                row[key] = {"reading": r[key], "null_mean": float(v.mean()),
                            "null_sd": float(v.std(ddof=1)),
                            **{f"B={B}": call(r[key], v[:B]) for B in counts}}
            print(label, name, {k: [row[k][f"B={B}"] for B in counts] for k in KEYS}, flush=True)
            out.append(row)
    differ = sum(row[k][f"B={B}"][1] != row[k][f"B={max(counts)}"][1]
                 for row in out for k in KEYS for B in counts)
    return {"rows": out, "calls_differing_from_B_max": differ,
            "calls_compared": len(out) * len(KEYS) * len(counts)}


def part_level(X, Y, est, m=1000, reps=20, B=19, n_cloud=5000):
    """Gaussian pairs with the covariance of (X, Y): the test's rejection rate at 0.05 (the
    covariance estimated from the cloud, as the profile does), and the null's shift when the
    covariance is estimated from the cloud or from the m-row subsample instead of known."""
    from manifold_probe.analysis.nulls import matched_gaussian_pairs

    n_cloud = n_cloud or len(X)
    rng = np.random.default_rng(5)
    truth = (X, Y)
    rejected = {key: 0 for key in KEYS}
    ps = {key: [] for key in KEYS}
    c0 = time.process_time()
    for rep in range(reps):
        Xg, Yg = next(matched_gaussian_pairs(*truth, 1, seed=rng, n=n_cloud))
        rows = np.sort(rng.choice(n_cloud, m, replace=False)) if m < n_cloud else slice(None)
        from manifold_probe.analysis.warp_null import _pair_readings

        r = _pair_readings(Xg[rows], Yg[rows], est, rng)
        d = null_draws(Xg, Yg, est, m, B, seed=[rep, 3])
        for key in KEYS:
            p, c = call(r[key], d[key])
            ps[key].append(p)
            rejected[key] += c != "within"
        print("level", rep, {k: round(ps[k][-1], 3) for k in KEYS}, flush=True)
    level = {"reps": reps, "B": B, "m": m, "n_cloud": n_cloud, "rejected_at_0.05": rejected,
             "p": ps, "cpu_s": time.process_time() - c0}
    # the null's shift in null standard deviations: covariance known / estimated from
    # n_cloud rows / from m rows
    Xg, Yg = next(matched_gaussian_pairs(*truth, 1, seed=rng, n=n_cloud))
    known = null_draws(X, Y, est, m, B, seed=[1, 9])
    cloud = null_draws(Xg, Yg, est, m, B, seed=[2, 9])
    sub = np.sort(rng.choice(n_cloud, m, replace=False))
    subsample = null_draws(Xg[sub], Yg[sub], est, m, B, seed=[3, 9])
    shift = {}
    for key in KEYS:
        a = np.asarray(known[key])
        shift[key] = {"known_mean": float(a.mean()), "known_sd": float(a.std(ddof=1)),
                      "cloud_shift_sd": float((np.mean(cloud[key]) - a.mean()) / a.std(ddof=1)),
                      "subsample_shift_sd": float((np.mean(subsample[key]) - a.mean())
                                                  / a.std(ddof=1))}
    print("shift", shift, flush=True)
    return {"level": level, "shift": shift}


def part_cost(sources, est_pooled, est_tokens, pairs_at=(1, 2, 3, 4, 5, 6)):
    from threadpoolctl import threadpool_limits

    from manifold_probe.analysis.measures import measure_pair
    from manifold_probe.analysis.settings import EstimatorSettings
    from manifold_probe.neighbors import knn

    out = []
    for label, clouds in sources:
        est = est_tokens if label == "tokens" else est_pooled
        quiet = EstimatorSettings.from_mapping({**est.as_dict(), "nulls": {"enabled": False}})
        graphs = {i: knn(clouds[i], est.graph_k()) for j in pairs_at for i in (j - 1, j)}
        for i in pairs_at:
            args = (clouds[i - 1], clouds[i], graphs[i - 1], graphs[i])
            with threadpool_limits(limits=1):
                c0 = time.process_time()
                measure_pair(*args, quiet, seed=0)
                c1 = time.process_time()
                cols = measure_pair(*args, est, seed=0)
                c2 = time.process_time()
            row = {"data": label, "pair": f"L{i - 1}->L{i}", "off_cpu_s": c1 - c0,
                   "on_cpu_s": c2 - c1, "null_cpu_s": (c2 - c1) - (c1 - c0),
                   "loadavg": list(os.getloadavg()),
                   "columns": {k: v for k, v in cols.items() if k.endswith("_prev")}}
            print(label, row["pair"], round(row["off_cpu_s"], 1), round(row["on_cpu_s"], 1),
                  flush=True)
            out.append(row)
    return {"rows": out,
            "null_cpu_s": {lab: float(sum(r["null_cpu_s"] for r in out if r["data"] == lab))
                           for lab in ("tokens", "pooled")}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=Path, required=True)
    ap.add_argument("--pooled", type=Path, required=True)
    ap.add_argument("--parts", nargs="*", default=["sizes", "draws", "level", "cost"])
    ap.add_argument("--before", action="store_true",
                    help="only the cost part, stored as cost_before: run with PYTHONPATH set "
                         "to a checkout of the code before this warp null (3 draws on 2000 "
                         "rows) to time it the same way")
    args = ap.parse_args()

    import tomllib

    import torch

    from manifold_probe.analysis.settings import EstimatorSettings

    torch.set_num_threads(1)
    root = Path(__file__).resolve().parents[1]
    est = settings()
    est_tokens = EstimatorSettings.from_mapping(
        tomllib.loads((root / "experiments/configs/tokens.toml").read_text())["estimators"])
    sources = [("tokens", layers(args.tokens)), ("pooled", layers(args.pooled))]
    path = RESULTS / f"{NAME}.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    result.pop("machine", None)
    result = {k: v for k, v in result.items()
              if k in ("sizes", "draws", "level", "shift_by_rows", "cost", "cost_before")}
    if args.before:
        result["cost_before"] = part_cost(sources, est, est_tokens)
        result["cost_before"]["code"] = str(Path(sys.modules["manifold_probe"].__file__).parent)
        result.setdefault("commands", {})["cost_before"] = (
            "OMP_NUM_THREADS=1 PYTHONPATH=OLD_CHECKOUT python benchmarks/bench_warp_null.py "
            "--tokens DIR --pooled DIR --before")
        save(NAME, result)
        return
    from manifold_probe.analysis import warp_null

    if "sizes" in args.parts:
        result["sizes"] = part_sizes(sources, est)
    if "draws" in args.parts:
        result["draws"] = part_draws(sources, est, m=warp_null._WARP_NULL_MAX_ROWS)
    if "level" in args.parts:
        X, Y = sources[0][1][2], sources[0][1][3]
        result["level"] = part_level(X, Y, est, m=warp_null._WARP_NULL_MAX_ROWS)
    if "shift" in args.parts:  # the null's shift with the rows its covariance comes from
        X, Y = sources[0][1][2], sources[0][1][3]
        result["shift_by_rows"] = {
            str(n): part_level(X, Y, est, m=warp_null._WARP_NULL_MAX_ROWS, reps=0,
                               n_cloud=n)["shift"] for n in (2000, len(X))}
    if "cost" in args.parts:
        result["cost"] = part_cost(sources, est, est_tokens)
    result["setting"] = {"draws": warp_null._WARP_NULL_DRAWS,
                         "max_rows": warp_null._WARP_NULL_MAX_ROWS,
                         "alpha": warp_null.WARP_NULL_ALPHA}
    result["data"] = {"tokens": str(args.tokens), "pooled": str(args.pooled)}
    result["note"] = ("CPU seconds of one thread (time.process_time) on a shared, loaded "
                      "machine; load average beside each timing")
    command = ("OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_warp_null.py "
               "--tokens DIR --pooled DIR --parts " + " ".join(args.parts))
    result.pop("command", None)
    result.setdefault("commands", {}).update({part: command for part in args.parts})
    save(NAME, result)


if __name__ == "__main__":
    main()
