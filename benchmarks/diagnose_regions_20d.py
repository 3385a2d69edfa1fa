"""Why the region finder merges 5 unit Gaussians 6 sd apart in 20 dimensions.

The one clear development mixture the default misses (``c=5 sep=6 d=20`` of
``bench_regions_truth.py``: 100 points per component; k-means told k = 5 reaches ARI 1.0).
Three questions, each answered by a measurement:

1. **Found, then merged?** Per seed (0-4): the modes of the default (``regions(X, seed=s)``),
   the component holding each peak, prominence, the prominence it needed and its p-value.
2. **A saddle through a few cross edges?** Edges of the symmetrised and of the mutual 20-NN
   graph (:func:`manifold_probe.analysis._modes.adjacency`) whose ends lie in two components,
   and the share of each point's 20 and 60 nearest neighbours in its own component.
3. **Are the error bars of the density right in 20-d, and is k = 60 too large for 100 points
   per component?** At four fixed points (a component's centre, points 3 and 4.5 sd from it —
   a sample point lies about sqrt(20) = 4.5 sd out — and the midpoint of two centres), the
   standard deviation of ``g = -log DTM_k`` over 200 fresh samples against the multinomial
   bootstrap sd within one sample (mean over 10 samples, 200 replicates), and the contrast
   g(centre) - g(4.5 sd) over its Monte Carlo sd, at k = 10, 20, 30, 60.

Run: ``PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/diagnose_regions_20d.py``
Writes ``benchmarks/results/diagnose_regions_20d.json`` (about a minute).
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
from bench_regions_truth import mixture  # noqa: E402


def modes_and_edges() -> list[dict]:
    from manifold_probe.analysis._modes import adjacency
    from manifold_probe.analysis.regions import regions
    from manifold_probe.neighbors import knn

    out = []
    for s in range(5):
        X, y = mixture(5, 6.0, 20, 500, s)
        r = regions(X, seed=s)
        nb = knn(X, 60)
        row = dict(seed=s, n_regions=r.n_regions, n_modes=len(r.peaks),
                   peak_component=y[r.peaks].tolist(),
                   prominence=np.round(r.prominences, 4).tolist(),
                   needed=np.round(r.thresholds, 4).tolist(),
                   p_value=np.round(r.p_values, 4).tolist(),
                   own_share_20nn=round(float((y[nb.indices[:, :20]] == y[:, None]).mean()), 3),
                   own_share_60nn=round(float((y[nb.indices] == y[:, None]).mean()), 3))
        for name, mutual in (("symmetric", False), ("mutual", True)):
            adj = adjacency(nb.truncate(20), mutual=mutual)
            row[f"edges_{name}"] = sum(len(a) for a in adj) // 2
            row[f"cross_edges_{name}"] = int(sum((y[a] != y[i]).sum()
                                                 for i, a in enumerate(adj)) // 2)
        out.append(row)
        print(row, flush=True)
    return out


def error_bars() -> list[dict]:
    from scipy.spatial.distance import cdist

    from manifold_probe.analysis._modes import dtm_log

    d, c, sep, n = 20, 5, 6.0, 500
    centres = np.zeros((c, d))
    centres[np.arange(c), np.arange(c)] = sep / np.sqrt(2.0)
    y = np.arange(n) % c
    u = np.random.default_rng(99).normal(size=d)
    u /= np.linalg.norm(u)
    Q = np.vstack([centres[0], centres[0] + 3.0 * u, centres[0] + 4.5 * u,
                   (centres[0] + centres[1]) / 2])
    where = ["centre", "3 sd out", "4.5 sd out", "midpoint of two centres"]
    out = []
    for k in (10, 20, 30, 60):
        fresh, boot_sd, boot_sd_diff = [], [], []
        for rep in range(200):
            X = centres[y] + np.random.default_rng(rep).normal(size=(n, d))
            D = cdist(Q, X)
            fresh.append(-dtm_log(np.sort(D, axis=1), None, k))
            if rep < 10:
                order = np.argsort(D, axis=1)[:, : 2 * k + 10]
                Ds = np.take_along_axis(D, order, 1)
                w = np.random.default_rng(1000 + rep).multinomial(
                    n, np.full(n, 1.0 / n), size=200).astype(np.float64)
                gb = -dtm_log(Ds[None], w[:, order], k)
                boot_sd.append(gb.std(axis=0, ddof=1))
                boot_sd_diff.append(float((gb[:, 0] - gb[:, 2]).std(ddof=1)))
        fresh = np.array(fresh)
        contrast = fresh[:, 0] - fresh[:, 2]
        out.append(dict(
            k=k, where=where, mean_g=np.round(fresh.mean(0), 4).tolist(),
            sd_fresh_samples=np.round(fresh.std(0, ddof=1), 4).tolist(),
            sd_bootstrap=np.round(np.mean(boot_sd, axis=0), 4).tolist(),
            contrast_centre_minus_4_5sd=round(float(contrast.mean()), 4),
            contrast_sd_fresh=round(float(contrast.std(ddof=1)), 4),
            contrast_sd_bootstrap=round(float(np.mean(boot_sd_diff)), 4),
            contrast_over_sd=round(float(contrast.mean() / contrast.std(ddof=1)), 1)))
        print(out[-1], flush=True)
    return out


def main() -> None:
    t0 = time.perf_counter()
    res = dict(modes=modes_and_edges(), error_bars=error_bars())
    res["machine"] = machine()
    res["elapsed_s"] = round(time.perf_counter() - t0, 1)
    res["loadavg"] = os.getloadavg()
    res["timing_note"] = "wall seconds on a shared, loaded machine; not a speed benchmark"
    res["command"] = "PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/diagnose_regions_20d.py"
    (RESULTS / "diagnose_regions_20d.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
