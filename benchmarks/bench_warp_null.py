"""What the warp null costs and reads on one real layer pair (MiniLM mean-pooled, layer 2 -> 3).

The pair measures (geodesic distortion, kNN overlap, trustworthiness, continuity) with nulls
off and on (3 jointly Gaussian pairs with the layers' joint mean and covariance), on the
default run's 2000 corpus sentences (cached by ``bench_regions_truth.py`` under
``benchmarks/cache/``). Wall seconds on a shared machine, with the load average beside them.

Run: ``PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_warp_null.py``
Writes ``benchmarks/results/bench_warp_null.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine  # noqa: E402
from bench_regions_truth import minilm_layers  # noqa: E402


def main() -> None:
    from manifold_probe.analysis import measures
    from manifold_probe.analysis.settings import EstimatorSettings
    from manifold_probe.neighbors import knn

    layers, _ = minilm_layers("corpus")
    X, Y = layers["layer_2"], layers["layer_3"]
    out: dict = {"pair": "MiniLM layer_2 -> layer_3, 2000 sentences", "runs": {}}
    for on in (False, True):
        est = EstimatorSettings.from_mapping({"nulls": {"enabled": on}})
        nx, ny = knn(X, est.graph_k()), knn(Y, est.graph_k())
        t0 = time.perf_counter()
        cols = measures.measure_pair(X, Y, nx, ny, est, seed=0)
        out["runs"]["nulls_on" if on else "nulls_off"] = dict(
            wall_s=round(time.perf_counter() - t0, 2), loadavg=os.getloadavg(),
            columns={k: v for k, v in cols.items()})
        print(on, out["runs"]["nulls_on" if on else "nulls_off"], flush=True)
    out["machine"] = machine()
    out["timing_note"] = "wall seconds on a shared, loaded machine (loadavg beside them)"
    out["command"] = "PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_warp_null.py"
    (RESULTS / "bench_warp_null.json").write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
