"""CPU time of the quadratic scalar-curvature fit against the working memory of one batch.

``scalar_curvature`` fits its points in batches whose working memory is
``manifold_probe.curvature._scalar.BATCH_BYTES``; the results do not depend on it (this script
checks that too), only the time does. Two shapes: a MiniLM layer of the default profile (400
points of a 384-dimensional cloud, fitted at dimension 8, degree 2: the profile's curvature
task) and a noisy 2-sphere in R^3 (2000 points, degree 4). CPU time (``time.process_time``,
one BLAS thread), the minimum over repeats, since the machine is shared.

Usage::

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_curvature_batch.py
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

BUDGETS_MIB = (32, 64, 96, 128, 256)
DEFAULT_ACTS = Path("/work/main/runs/default/activations/258c4f50a782")


def shapes(acts: Path) -> dict:
    import manifold_probe as mp

    out = {}
    layer = acts / "L00.npy"
    if layer.exists():
        X = np.load(layer).astype(np.float64)
        rows = np.random.default_rng(0).choice(len(X), 400, replace=False)
        out["minilm_L00_400x384_dim8"] = (X[rows], 8)
    S = mp.datasets.sphere(2000, 2, ambient_dim=3, noise=0.01, seed=0).points
    out["sphere2_2000x3_dim2"] = (np.asarray(S), 2)
    return out


def main() -> None:
    from threadpoolctl import threadpool_limits

    import manifold_probe.curvature._scalar as scalar
    from manifold_probe.curvature import scalar_curvature

    acts = Path(os.environ.get("MP_BENCH_ACTS", DEFAULT_ACTS))
    repeats = int(os.environ.get("MP_BENCH_REPEATS", "3"))
    record: dict = {}
    default = scalar.BATCH_BYTES
    try:
        with threadpool_limits(limits=1):
            for name, (X, dim) in shapes(acts).items():
                times = {b: [] for b in BUDGETS_MIB}
                ref, maxdiff = None, 0.0
                scalar_curvature(X[:300], dim=dim)  # warm-up
                for _ in range(repeats):
                    for b in BUDGETS_MIB:  # interleaved: load changes hit every budget alike
                        scalar.BATCH_BYTES = b * 2**20
                        c0 = time.process_time()
                        S = scalar_curvature(X, dim=dim)
                        times[b].append(time.process_time() - c0)
                        ref = S if ref is None else ref
                        maxdiff = max(maxdiff, float(np.nanmax(np.abs(S - ref))))
                record[name] = {"cpu_s_min": {str(b): round(min(t), 3) for b, t in times.items()},
                                "max_abs_diff_between_budgets": maxdiff,
                                "median_curvature": float(np.nanmedian(ref))}
                print(name, record[name], flush=True)
    finally:
        scalar.BATCH_BYTES = default
    path = RESULTS / "bench_curvature_batch.json"
    path.write_text(json.dumps({"machine": machine(), "budgets_mib": list(BUDGETS_MIB),
                                "repeats": repeats, "loadavg_end": os.getloadavg(),
                                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "results": record}, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
