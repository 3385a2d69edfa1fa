"""The curvature task on each layer of a saved per-token run, timed (CPU seconds) with its values.

Runs :func:`manifold_probe.analysis.measures.measure_curvature` on every layer of a run folder
(its captured activations and saved kNN graphs), with the settings of
``experiments/configs/tokens.toml`` and seed 0, one process, one BLAS thread, and writes each
layer's CPU and wall seconds, load average and values. Run it once per commit compared (the
package on ``PYTHONPATH``) and compare the JSON files: ``benchmarks/results/
bench_tokens_curvature.json`` holds the run before (dcbb7dd: the fit dimension's TwoNN searched
the merged cloud again) and after (read off the layer's graph): the same values, bit for bit.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_tokens_curvature.py RUN_DIR OUT.json
"""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
import warnings
from pathlib import Path

import numpy as np


def main() -> None:
    run, out_path = Path(sys.argv[1]), sys.argv[2]
    warnings.simplefilter("ignore")
    import manifold_probe
    from manifold_probe.analysis.measures import measure_curvature
    from manifold_probe.analysis.settings_schema import validate_settings
    from manifold_probe.neighbors import Neighbors

    root = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / "experiments/configs/tokens.toml").read_text())
    est = validate_settings(cfg["estimators"])
    acts = next((run / "activations").iterdir())
    graphs = next((run / "graphs").iterdir())
    out = {"code": manifold_probe.__file__, "layers": {}}
    for path in sorted(acts.glob("L*.npy")):
        X = np.load(path)
        z = np.load(graphs / f"{path.stem}.npz")
        nb = Neighbors(z["distances"], z["indices"], "euclidean")
        t0, c0 = time.perf_counter(), time.process_time()
        r = measure_curvature(X, nb, est, 0)
        out["layers"][path.stem] = {"wall_s": time.perf_counter() - t0,
                                    "cpu_s": time.process_time() - c0,
                                    "loadavg": os.getloadavg(), "values": r}
        print(path.stem, round(out["layers"][path.stem]["cpu_s"], 2), r.get("curvature_dim"),
              flush=True)
    Path(out_path).write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
