"""Why no global Gaussian bandwidth reads the categories of MiniLM or the 20- and 50-d mixtures.

The diagnosis behind round 6 of ``sweep_regions_rules.py`` (``regions(method="meanshift")``):

1. **Scan**: the round-5 kNN bandwidth (``median r_60 / sqrt(TwoNN d)``) times 1, 0.7, 0.5,
   0.35, 0.25 on MiniLM layers 2 and 3 (default corpus, subsample 0 of 1000): regions, modes,
   one-point modes, ARI with the 7 categories. Is there a scale between one mode and spikes?
2. **The data-adaptive bandwidths**: ``bandwidth="lcv"`` and ``"adaptive"`` on the 20-d
   mixture of 5 components 6 sd apart and the held-out 3-component 50-d mixture (seed 0) and
   MiniLM embeddings, layers 2 and 5 (subsample 0): modes, one-point modes, regions, the
   bandwidth (median ``h_i`` for ``"adaptive"``) over the kNN one and over the rms radius.

Run: ``PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/diagnose_regions_bandwidth.py``
Writes ``benchmarks/results/diagnose_regions_bandwidth.json`` (a few minutes, one thread).
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
from bench_regions_truth import clouds, heldout  # noqa: E402

FACTORS = (1.0, 0.7, 0.5, 0.35, 0.25)


def reading(X, y, **kw) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from manifold_probe.analysis.regions import regions

    r = regions(X, seed=0, method="meanshift", **kw)
    return dict(regions=int(r.n_regions), modes=len(r.prominences),
                one_point_modes=int(np.isnan(r.p_values).sum()), bandwidth=float(r.bandwidth),
                ari=None if y is None else float(adjusted_rand_score(y, r.labels)))


def main() -> None:
    import manifold_probe.analysis._meanshift as M

    t0 = time.perf_counter()
    minilm = {g: (X, y) for g, s, X, y in clouds("minilm") if s == 0}
    out: dict = {"scan": {}, "adaptive": {}}
    knn_rule = M.bandwidth
    for layer in ("layer_2", "layer_3"):
        X, y = minilm[layer]
        rows = {}
        for f in FACTORS:
            def scaled(A, dist, k, rule, nb=None, f=f):
                h, text = knn_rule(A, dist, k, "knn", nb)
                return h * f, f"{f} x {text}"

            M.bandwidth = scaled
            try:
                rows[str(f)] = reading(X, y)
            finally:
                M.bandwidth = knn_rule
            print(layer, f, rows[str(f)], flush=True)
        out["scan"][layer] = rows
    X20 = next(X for g, s, X, y in clouds("mixture") if g == "c=5 sep=6 d=20" and s == 0)
    y20 = next(y for g, s, X, y in clouds("mixture") if g == "c=5 sep=6 d=20" and s == 0)
    cases = {"mixture c=5 sep=6 d=20": (X20, y20), "heldout c=3 d=50 sep=8": heldout(
        "c=3 d=50 sep=8", 0)}
    cases.update({f"minilm {g}": minilm[g] for g in ("embeddings", "layer_2", "layer_5")})
    for name, (X, y) in cases.items():
        rms = float(np.sqrt(((X - X.mean(axis=0)) ** 2).sum(axis=1).mean()))
        base = reading(X, y, bandwidth="knn")
        row = {"knn": base, "rms_radius": rms}
        for bw in ("lcv", "adaptive"):
            r = reading(X, y, bandwidth=bw)
            r["over_knn"] = r["bandwidth"] / base["bandwidth"]
            r["over_rms_radius"] = r["bandwidth"] / rms
            row[bw] = r
        out["adaptive"][name] = row
        print(name, row, flush=True)
    out["machine"] = machine()
    out["elapsed_s"] = round(time.perf_counter() - t0, 1)
    out["loadavg"] = os.getloadavg()
    out["timing_note"] = "wall seconds on a shared, loaded machine; not a speed benchmark"
    out["command"] = "PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/diagnose_regions_bandwidth.py"
    (RESULTS / "diagnose_regions_bandwidth.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
