"""Why a per-token cloud made the exact kNN ~10x slower than a Gaussian cloud of its shape.

    OMP_NUM_THREADS=2 python benchmarks/bench_knn_tokens.py                 # 2000 sentences
    OMP_NUM_THREADS=2 python benchmarks/bench_knn_tokens.py --sentences 500 # a subset

The cloud: MiniLM's layer 3, every token of the default corpus (2000 sentences, 19,296 tokens
x 384), ``mp.knn(X, k=32)``, beside a standard Gaussian cloud of the same shape, with the
engine at ``--before`` (default baf06b1, before issue 21) and the current one, interleaved.

The cause, measured here (``diagnosis``): the first token ([CLS]) of every sentence lies in a
tight cluster (pairwise distances ~0.01 at norms ~10, squared distances ~1e-6 of the squared
norms), below the float32 error bound of ||x||^2 + ||y||^2 - 2 x.y (4 (d+2) eps32 ~ 2e-4 of
the squared norms), so none of those rows certifies from its float32 candidates: every one
went to an exact float64 comparison with all points, one row at a time. Now those rows are
searched again in float64 (a GEMM of the uncertified rows against all points, whose bound is
2**29 times smaller), where they certify.

Records wall and CPU seconds of the process, the 1-minute load average before and after each
run (the machine is shared: compare runs of similar load), how the rows were resolved, and
that both engines return the same graph. Results: benchmarks/results/bench_knn_tokens.json.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from _common import save
from bench_knn import load_before

import manifold_probe as mp
from manifold_probe._knn_search import _knn


def token_cloud(n_sentences: int, layer: str = "layer_3"):
    from manifold_probe.capture import load_model
    from manifold_probe.datasets import load_corpus

    sentences = list(load_corpus(n=n_sentences, seed=0).sentences)
    acts = load_model("minilm").capture(sentences, pooling="all")
    return np.asarray(acts[layer], dtype=np.float64), np.asarray(acts.position_ids)


def timed(fn, *args, **kwargs):
    load0 = os.getloadavg()[0]
    c, t = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    rec = {"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c,
           "load_1min_before": load0, "load_1min_after": os.getloadavg()[0]}
    return out, rec


def diagnose(X: np.ndarray, pos: np.ndarray, k: int, stats_rows: np.ndarray) -> dict:
    """Where the uncertified rows are: token positions, and the float32 bound beside the
    squared k-th distances of [CLS] rows and of other rows."""
    C = X - X.mean(axis=0)
    sq = np.einsum("ij,ij->i", C, C)
    bound = 4 * (X.shape[1] + 2) * float(np.finfo(np.float32).eps) * (sq + sq.max())
    nb = mp.knn(X, k)
    kth = nb.distances[:, -1] ** 2
    first = pos == 0
    return {
        "rows_first_token": int(first.sum()),
        "uncertified_rows": len(stats_rows),
        "uncertified_at_first_token": int(first[stats_rows].sum()),
        "median_kth_sq_distance_first_token": float(np.median(kth[first])),
        "median_kth_sq_distance_other_tokens": float(np.median(kth[~first])),
        "median_float32_bound": float(np.median(bound)),
        "exact_duplicate_rows": int(len(X) - len(np.unique(X, axis=0))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sentences", type=int, default=2000)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--before", default="baf06b1")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="", help="an .npz with X and pos (skips the capture)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.cache and os.path.exists(args.cache):
        z = np.load(args.cache)
        X, pos = z["X"], z["pos"]
    else:
        X, pos = token_cloud(args.sentences)
        if args.cache:
            np.savez(args.cache, X=X, pos=pos)
    G = np.random.default_rng(0).normal(size=X.shape)
    before = load_before(args.before)
    rows = {}
    for name, Y in (("tokens", X), ("gaussian", G)):
        (ours, stats), t_ours = timed(_knn, Y, args.k)
        old, t_old = timed(before, Y, args.k)
        same = bool(np.array_equal(ours.indices, old.indices))
        rows[name] = {"ours": {**t_ours, "rows": stats}, "before": t_old,
                      "identical_indices": same,
                      "max_distance_difference": float(np.max(np.abs(ours.distances
                                                                      - old.distances)))}
        print(f"{name:9s} ours {t_ours['seconds']:7.1f} s ({t_ours['cpu_seconds']:.1f} cpu) "
              f"before {t_old['seconds']:7.1f} s ({t_old['cpu_seconds']:.1f} cpu)  "
              f"load {t_ours['load_1min_before']:.1f}  same graph {same}  {stats}", flush=True)
    import manifold_probe._knn_search as engine

    unc = []
    real = engine.certified

    def spy(far, sq, sq_max, kth, c, unit, d):  # the float32 pass's verdict per row
        ok = real(far, sq, sq_max, kth, c, unit, d)
        if not unc:
            unc.append(np.flatnonzero(~ok.cpu().numpy()))
        return ok

    engine.certified = spy
    try:
        _knn(X, args.k)
    finally:
        engine.certified = real
    diag = diagnose(X, pos, args.k, unc[0])
    print(diag)
    save("bench_knn_tokens" + ("" if args.sentences == 2000 else f"_{args.sentences}"), {
        "cloud": f"MiniLM layer_3, pooling='all', {args.sentences} corpus sentences",
        "shape": list(X.shape), "k": args.k, "threads": args.threads,
        "before_rev": args.before, "runs": rows, "diagnosis": diag,
        "note": "shared machine: load averages recorded beside every timing",
    })


if __name__ == "__main__":
    main()
