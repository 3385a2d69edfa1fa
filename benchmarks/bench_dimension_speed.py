"""Speed of TwoNN + MLE: manifold_probe vs scikit-dimension, same points, one run.

A uniform sample of the 10-sphere S^10 (in R^11), rotated into R^384, N = 20,000 rows, both
libraries configured alike (TwoNN discarding the 10% largest ratios, no bias correction; MLE
with k = 20, ``comb="mle"``), so the estimates must agree.

- ``user_path``: what a user writes, no ``neighbors=``:
  ``mp.intrinsic_dimension(X, "twonn", correct_bias=False)`` then
  ``mp.intrinsic_dimension(X, "mle")``; the estimators' graph cache (``mp.knn_cache``) searches
  the neighbours once (k = 20, then truncated to k = 2 for TwoNN). Timed from a cleared cache,
  and again with the cache off (two searches) for comparison.
- ``shared_graph``: ONE explicit ``mp.knn(X, k=20)`` passed to both as ``neighbors=``.
- scikit-dimension: ``TwoNN(discard_fraction=0.1)`` and ``MLE().fit(X, n_neighbors=20,
  comb="mle")``, each of which searches neighbours on its own.

Each timing records wall and CPU seconds and the 1-minute load average (a busy machine slows
every library, not always alike: compare runs at low load). The user path and
scikit-dimension run interleaved, ``--repeats`` times each (default 3), and the fastest run of
each is compared.

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
    ap.add_argument("--repeats", type=int, default=3, help="interleaved runs; the best is kept")
    ap.add_argument("--out", default="benchmarks/results/bench_dimension_speed.json")
    args = ap.parse_args()

    import skdim
    import torch

    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    torch.set_num_threads(threads)
    X = sample(args.n, args.ambient, args.seed)
    # warm-up (torch start-up, first imports), not part of any timing
    mp.intrinsic_dimension(X[:500], "twonn", correct_bias=False)
    mp.intrinsic_dimension(X[:500], "mle")

    def timed(fn):
        load = os.getloadavg()[0]
        c, t = time.process_time(), time.perf_counter()
        out = fn()
        return out, {
            "seconds": time.perf_counter() - t,
            "cpu_seconds": time.process_time() - c,
            "load_1min_before": load,
        }

    def user_path():
        a = mp.intrinsic_dimension(X, "twonn", correct_bias=False).dimension
        b = mp.intrinsic_dimension(X, "mle").dimension
        return a, b

    def skdim_path():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a, r_a = timed(lambda: float(skdim.id.TwoNN(discard_fraction=0.1).fit(X).dimension_))
            b, r_b = timed(
                lambda: float(skdim.id.MLE().fit(X, n_neighbors=20, comb="mle").dimension_)
            )
        return (a, b), r_a, r_b

    # ours (from a cleared graph cache) and scikit-dimension interleaved, the fastest run of
    # each kept, so that a change of load on a shared machine hits both
    runs_user, runs_sk = [], []
    for _ in range(args.repeats):
        mp.knn_cache(True, clear=True)
        (u_twonn, u_mle), r = timed(user_path)
        r["graph_builds"] = mp.knn_cache().builds
        runs_user.append(r)
        (sk_twonn, sk_mle), r_a, r_b = skdim_path()
        runs_sk.append((r_a, r_b))
    r_user = min(runs_user, key=lambda r: r["seconds"])
    r_user["all_seconds"] = [r["seconds"] for r in runs_user]
    r_sk_twonn, r_sk_mle = min(runs_sk, key=lambda r: r[0]["seconds"] + r[1]["seconds"])
    with mp.knn_cache(False):
        (_, _), r_user_off = timed(user_path)
    from manifold_probe.neighbors import _GRAPHS

    _, r_hash = timed(lambda: _GRAPHS.key(X, "euclidean"))  # the cache's price per request

    def shared():
        nb = mp.knn(X, k=20)
        return (
            twonn(X, neighbors=nb, correct_bias=False).dimension,
            mle(X, neighbors=nb, k=20).dimension,
        )

    (ours_twonn, ours_mle), r_shared = timed(shared)

    t_sk = r_sk_twonn["seconds"] + r_sk_mle["seconds"]

    def rel(a, b):
        return abs(a - b) / abs(b)

    result = {
        "data": f"uniform S^10 rotated into R^{args.ambient}, N={args.n}, seed={args.seed}",
        "true_dim": 10,
        "threads": threads,
        "machine": platform.platform(),
        "user_path": {"twonn": u_twonn, "mle": u_mle, **r_user},
        "user_path_cache_off": r_user_off,
        "cache_key_seconds": r_hash["seconds"],
        "shared_graph": {"twonn": ours_twonn, "mle": ours_mle, **r_shared},
        "skdim": {
            "twonn": sk_twonn,
            "mle": sk_mle,
            "twonn_timing": r_sk_twonn,
            "mle_timing": r_sk_mle,
            "seconds_total": t_sk,
            "all_seconds_total": [a["seconds"] + b["seconds"] for a, b in runs_sk],
        },
        "repeats": args.repeats,
        "speedup_user_path": t_sk / r_user["seconds"],
        "speedup_user_path_cache_off": t_sk / r_user_off["seconds"],
        "speedup_shared_graph": t_sk / r_shared["seconds"],
        "max_relative_difference": max(
            rel(u_twonn, sk_twonn),
            rel(u_mle, sk_mle),
            rel(ours_twonn, sk_twonn),
            rel(ours_mle, sk_mle),
        ),
    }
    print(f"data: {result['data']}; {threads} threads; load {os.getloadavg()[0]:.1f}")
    print(f"{'':34s} {'TwoNN':>9s} {'MLE':>9s} {'seconds':>9s} {'speed-up':>9s}")
    rows = [
        ("manifold_probe user path (cache)", u_twonn, u_mle, r_user["seconds"]),
        ("manifold_probe user path, no cache", u_twonn, u_mle, r_user_off["seconds"]),
        ("manifold_probe shared graph", ours_twonn, ours_mle, r_shared["seconds"]),
        ("scikit-dimension", sk_twonn, sk_mle, t_sk),
    ]
    for name, a, b, t in rows:
        print(f"{name:34s} {a:9.4f} {b:9.4f} {t:9.2f} {t_sk / t:8.1f}x")
    print(
        f"graph searches on the user path: {r_user['graph_builds']}; cache key (SHA-256 of X): "
        f"{r_hash['seconds']:.3f} s; max relative difference of the estimates "
        f"{result['max_relative_difference']:.1e}"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
