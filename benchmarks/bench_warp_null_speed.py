"""CPU cost of the warp null per pair task, for two versions of the code, and whether their
columns are bit-identical.

The warp null (``analysis.warp_null.warp_null``) reads 19 jointly Gaussian pairs of 1000 rows
and the layers' own 1000-row subsample through ``warp``. This script times, on token layer
pairs of the per-token capture of the default corpus (19,296 rows x 384), ``measure_pair``
(the pair task's warp with its null) and ``warp_null`` alone, in one thread, for each code
directory given (``--code``, e.g. a checkout of the code before a change, then this one), in
alternating subprocesses (``--rounds`` rounds), so both see the same machine load. Every
column of ``measure_pair`` of every version is compared bit for bit with the first version's.

    git archive COMMIT manifold_probe | tar -x -C /tmp/before
    OMP_NUM_THREADS=1 python benchmarks/bench_warp_null_speed.py \\
        --tokens runs/tokens/activations/HASH --code /tmp/before . [--rounds 2]

Writes ``benchmarks/results/bench_warp_null_speed.json``: per version and pair the CPU
seconds of each round (``time.process_time``), the load average beside each, and
``identical`` (every column's bits equal to the first version's).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

NAME = "bench_warp_null_speed"
PAIRS = ((2, 3), (3, 4))


def child(tokens: Path, out: Path) -> None:
    """One version's timings (run with that version first on ``sys.path``)."""
    import tomllib

    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    import manifold_probe
    from manifold_probe.analysis.measures import measure_pair
    from manifold_probe.analysis.settings import EstimatorSettings
    from manifold_probe.analysis.warp_null import warp_null
    from manifold_probe.neighbors import knn

    torch.set_num_threads(1)
    root = Path(__file__).resolve().parents[1]
    est = EstimatorSettings.from_mapping(
        tomllib.loads((root / "experiments/configs/tokens.toml").read_text())["estimators"])
    rows = {"code": str(Path(manifold_probe.__file__).parent), "pairs": {}}
    with threadpool_limits(limits=1):
        for i, j in PAIRS:
            X, Y = np.load(tokens / f"L{i:02d}.npy"), np.load(tokens / f"L{j:02d}.npy")
            gx, gy = knn(X, est.graph_k()), knn(Y, est.graph_k())
            c0 = time.process_time()
            cols = measure_pair(X, Y, gx, gy, est, seed=0)
            c1 = time.process_time()
            warp_null(X, Y, est, 0, "prev", {})
            c2 = time.process_time()
            rows["pairs"][f"L{i}->L{j}"] = {
                "measure_pair_cpu_s": c1 - c0, "warp_null_cpu_s": c2 - c1,
                "loadavg": list(os.getloadavg()), "columns": cols}
            print(rows["code"], i, j, round(c1 - c0, 2), round(c2 - c1, 2), flush=True)
    out.write_bytes(pickle.dumps(rows))


def same_bits(a, b) -> bool:
    import numpy as np

    if isinstance(a, float) and isinstance(b, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    return a == b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=Path, required=True)
    ap.add_argument("--code", nargs="+", required=True,
                    help="directories holding a manifold_probe package, first the reference")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.tokens, args.child)
        return
    runs: dict[str, list] = {c: [] for c in args.code}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for c in args.code:
                out = Path(tmp) / f"{r}_{len(runs[c])}_{abs(hash(c))}.pkl"
                env = {**os.environ, "PYTHONPATH": str(Path(c).resolve()),
                       "OMP_NUM_THREADS": "1"}
                subprocess.run([sys.executable, __file__, "--tokens", str(args.tokens),
                                "--code", c, "--child", str(out)], env=env, check=True)
                runs[c].append(pickle.loads(out.read_bytes()))
    ref = runs[args.code[0]][0]["pairs"]
    result = {"versions": [], "pairs": [f"L{i}->L{j}" for i, j in PAIRS],
              "data": str(args.tokens), "rows": "19,296 x 384 per layer",
              "note": ("CPU seconds of one thread (time.process_time) on a shared machine of 2 "
                       "cores, versions run alternately; load average beside each timing")}
    for c in args.code:
        v = {"code": runs[c][0]["code"], "per_pair": {}}
        identical = True
        for pair in result["pairs"]:
            rounds = [run["pairs"][pair] for run in runs[c]]
            v["per_pair"][pair] = {
                "measure_pair_cpu_s": [x["measure_pair_cpu_s"] for x in rounds],
                "warp_null_cpu_s": [x["warp_null_cpu_s"] for x in rounds],
                "loadavg": [x["loadavg"] for x in rounds]}
            for x in rounds:
                cols, want = x["columns"], ref[pair]["columns"]
                identical &= cols.keys() == want.keys() and all(
                    same_bits(cols[k], want[k]) for k in want)
        v["identical_to_first"] = bool(identical)
        v["warp_null_cpu_s_mean_per_pair"] = sum(
            sum(p["warp_null_cpu_s"]) / len(p["warp_null_cpu_s"])
            for p in v["per_pair"].values()) / len(PAIRS)
        v["measure_pair_cpu_s_mean_per_pair"] = sum(
            sum(p["measure_pair_cpu_s"]) / len(p["measure_pair_cpu_s"])
            for p in v["per_pair"].values()) / len(PAIRS)
        result["versions"].append(v)
    result["command"] = ("OMP_NUM_THREADS=1 python benchmarks/bench_warp_null_speed.py "
                         "--tokens DIR --code BEFORE_DIR . --rounds " + str(args.rounds))
    save(NAME, result)
    print(json.dumps({v["code"]: (round(v["warp_null_cpu_s_mean_per_pair"], 2),
                                  round(v["measure_pair_cpu_s_mean_per_pair"], 2),
                                  v["identical_to_first"]) for v in result["versions"]}))


if __name__ == "__main__":
    main()
