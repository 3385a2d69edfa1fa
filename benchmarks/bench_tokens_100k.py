"""A per-token profile at decoder scale: 100,000 tokens × 768 × 13 layers, subsampled.

The layers are synthetic and per-token-like (no model download): 64 clusters on a
16-dimensional latent, lifted linearly into R^768 with noise, each later layer the previous one
moved by a smooth random residual map ``X + 0.5 tanh(X W_l)`` (``W_l`` Gaussian, scale
1/sqrt(d)), stored in float32 (4 GB for 13 layers, in memory-mapped files so that the profile
reads only the rows it measures); inputs are runs of 50 consecutive tokens.

The profile is what a user runs: :func:`manifold_probe.profile_layers` with the estimator
settings and seeds of ``experiments/configs/tokens.toml``, ``sentence_ids`` and the default
``max_rows`` (:data:`~manifold_probe.analysis.profile.PROFILE_MAX_ROWS`, 20,000: above it every
measure runs on one paired subsample of whole inputs; the nulls of the dimension and trajectory
measures above :data:`~manifold_probe.analysis.nulls.NULL_MAX_ROWS`), ``--threads`` tasks side
by side. Timed end to end, every layer (no extrapolation): the wall time, the CPU time of the
process and its children (``os.times``: user + system, every thread), and the load average
sampled every 15 s while it runs. On a shared machine the wall time follows the load; the CPU
seconds over the cores are the idle estimate.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_tokens_100k.py [--n 100000]
        [--d 768] [--layers 13] [--threads 2] [--out bench_tokens_100k]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

TOKENS_PER_INPUT = 50


def synthetic_layers(n: int, d: int, n_layers: int, folder: Path, seed: int = 0
                     ) -> list[np.ndarray]:
    """The layers as read-only float32 memory maps in ``folder`` (made one at a time)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(64, 16))
    Z = centres[rng.integers(0, 64, size=n)] + rng.normal(size=(n, 16))
    X = (Z @ rng.normal(size=(16, d)) / 4.0).astype(np.float32)
    X += 0.05 * rng.standard_normal((n, d), dtype=np.float32)
    paths = []
    for i in range(n_layers):
        if i:
            W = (rng.normal(size=(d, d)) / np.sqrt(d)).astype(np.float32)
            X = X + 0.5 * np.tanh(X @ W)
        paths.append(folder / f"L{i:02d}.npy")
        np.save(paths[-1], X)
    del X
    return [np.load(p, mmap_mode="r") for p in paths]


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (every thread) and its children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class LoadSampler:
    """Samples ``os.getloadavg()`` every ``interval`` seconds in a daemon thread."""

    def __init__(self, interval: float = 15.0):
        self.interval, self.samples = interval, [os.getloadavg()]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            self.samples.append(os.getloadavg())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--layers", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench_tokens_100k")
    args = ap.parse_args()

    import tomllib

    import manifold_probe as mp
    from manifold_probe.analysis.profile import PROFILE_MAX_ROWS

    root = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / "experiments/configs/tokens.toml").read_text())
    with tempfile.TemporaryDirectory(prefix="bench_tokens_100k_") as tmp:
        t0 = time.perf_counter()
        layers = synthetic_layers(args.n, args.d, args.layers, Path(tmp))
        sid = np.arange(args.n) // TOKENS_PER_INPUT
        t_make = time.perf_counter() - t0
        print(f"made {args.layers} layers in {t_make:.1f} s", flush=True)
        with LoadSampler() as load:
            t0, c0 = time.perf_counter(), cpu_seconds()
            rows = mp.profile_layers({f"layer_{i}": A for i, A in enumerate(layers)},
                                     estimators=cfg["estimators"], seeds=cfg["seeds"],
                                     sentence_ids=sid, threads=args.threads,
                                     max_rows=PROFILE_MAX_ROWS, as_rows=True)
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    mean_load = [float(np.mean([s[i] for s in load.samples])) for i in range(3)]
    summary = {"layers": args.layers, "wall_s": wall, "cpu_s": cpu,
               "idle_wall_estimate_s": cpu / args.threads,
               "target_s": 600.0, "loadavg_mean_while_running": mean_load,
               "note": ("wall: profile_layers end to end (subsample, float64 copy, kNN graphs, "
                        "every task), the synthetic layers made before and not counted; cpu: "
                        "os.times user + system of the process and its children; idle wall "
                        "estimate = cpu / threads (the machine is shared: the wall time "
                        "follows its load)")}
    print(summary, flush=True)
    keep = ("layer_name", "n_points", "n_profiled", "id_twonn", "id_mle", "curvature_median",
            "knn_overlap_prev", "betti_0", "betti_1", "trajectory_curvature")
    save(args.out, {"n": args.n, "d": args.d, "threads": args.threads,
                    "profile_max_rows": PROFILE_MAX_ROWS, "make_layers_s": t_make,
                    "summary": summary, "load_samples": load.samples,
                    "loadavg": list(os.getloadavg()),
                    "load_note": "timed on a shared 2-core machine; wall times follow its load",
                    "profile": [{c: r.get(c) for c in keep if c in r} for r in rows]})


if __name__ == "__main__":
    main()
