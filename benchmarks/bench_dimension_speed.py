"""Speed of TwoNN + MLE: manifold_probe vs scikit-dimension, same points, one run.

A uniform sample of the 10-sphere S^10 (in R^11), rotated into R^384, N = 20,000 rows.
Ours: ONE ``mp.knn(X, k=20)`` graph shared by ``twonn`` and ``mle`` (timed together, graph
included), with the same configuration as scikit-dimension (no bias correction), so that the
estimates must agree; the corrected default TwoNN is timed separately. scikit-dimension:
``TwoNN(discard_fraction=0.1)`` and ``MLE().fit(X, n_neighbors=20, comb="mle")``, each of which
searches neighbours on its own.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_dimension_speed.py
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_dimension_speed.py --n 5000   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

import manifold_probe as mp
from manifold_probe.dimension import mle, twonn


def sample(n: int, ambient: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, 11))
    S = g / np.linalg.norm(g, axis=1, keepdims=True)
    Q = np.linalg.qr(rng.standard_normal((ambient, 11)))[0]
    return S @ Q.T


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--ambient", type=int, default=384)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/bench_dimension_speed.json")
    args = ap.parse_args()

    import skdim
    import torch

    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    torch.set_num_threads(threads)
    X = sample(args.n, args.ambient, args.seed)
    mp.knn(X[:500], k=5)  # warm-up (torch start-up), not part of any timing

    t0 = time.perf_counter()
    nb = mp.knn(X, k=20)
    t_knn = time.perf_counter() - t0
    ours_twonn = twonn(X, neighbors=nb, correct_bias=False).dimension
    ours_mle = mle(X, neighbors=nb, k=20).dimension
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    ours_default = mp.intrinsic_dimension(X)
    t_default = time.perf_counter() - t0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        sk_twonn = skdim.id.TwoNN(discard_fraction=0.1).fit(X).dimension_
        t_sk_twonn = time.perf_counter() - t0
        t0 = time.perf_counter()
        sk_mle = skdim.id.MLE().fit(X, n_neighbors=20, comb="mle").dimension_
        t_sk_mle = time.perf_counter() - t0
    t_sk = t_sk_twonn + t_sk_mle

    result = {
        "data": f"uniform S^10 rotated into R^{args.ambient}, N={args.n}, seed={args.seed}",
        "true_dim": 10,
        "threads": threads,
        "machine": platform.platform(),
        "ours": {
            "twonn": ours_twonn,
            "mle": ours_mle,
            "seconds_total": t_ours,
            "seconds_knn": t_knn,
        },
        "ours_default_corrected_twonn": {
            "dimension": ours_default.dimension,
            "raw": ours_default.raw,
            "seconds": t_default,
        },
        "skdim": {
            "twonn": float(sk_twonn),
            "mle": float(sk_mle),
            "seconds_twonn": t_sk_twonn,
            "seconds_mle": t_sk_mle,
            "seconds_total": t_sk,
        },
        "speedup": t_sk / t_ours,
        "max_relative_difference": max(
            abs(ours_twonn - sk_twonn) / sk_twonn, abs(ours_mle - sk_mle) / sk_mle
        ),
    }
    print(f"data: {result['data']}; {threads} threads")
    print(f"{'':24s} {'TwoNN':>9s} {'MLE':>9s} {'seconds':>9s}")
    print(f"{'manifold_probe':24s} {ours_twonn:9.4f} {ours_mle:9.4f} {t_ours:9.2f}")
    print(f"{'scikit-dimension':24s} {sk_twonn:9.4f} {sk_mle:9.4f} {t_sk:9.2f}")
    print(
        f"speed-up {result['speedup']:.1f}x; max relative difference of the estimates "
        f"{result['max_relative_difference']:.1e}"
    )
    print(
        f"default (bias-corrected TwoNN): {ours_default.dimension:.3f} "
        f"(raw {ours_default.raw:.3f}) in {t_default:.2f} s"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
