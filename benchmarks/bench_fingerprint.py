"""Cost of ``ModelHandle.fingerprint()`` (SHA-256 over every weight, the config and the
tokenizer) for the packaged all-MiniLM-L6-v2, beside the cost of loading the model and of one
mean-pooled capture of 256 corpus sentences, so the cache key's price can be judged.

    OMP_NUM_THREADS=1 python benchmarks/bench_fingerprint.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time

from _common import RESULTS, machine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import torch

    from manifold_probe.capture import load_model
    from manifold_probe.datasets.corpus import load_corpus

    torch.set_num_threads(1)
    t = time.perf_counter()
    handle = load_model("minilm")
    load_s = time.perf_counter() - t
    n_bytes = sum(v.numel() * v.element_size() for v in handle.model.state_dict().values())
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        fp = handle.fingerprint()
        times.append(time.perf_counter() - t)
    sentences = list(load_corpus(n=256, seed=0).sentences)
    t = time.perf_counter()
    handle.capture(sentences, pooling="mean")
    capture_s = time.perf_counter() - t
    out = {
        "model": handle.name,
        "state_dict_mb": n_bytes / 2**20,
        "fingerprint_s": times,
        "fingerprint_min_s": min(times),
        "fingerprint_mb_per_s": n_bytes / 2**20 / min(times),
        "load_s": load_s,
        "capture_256_mean_s": capture_s,
        "fingerprint": fp,
        "machine": machine(),
    }
    print(json.dumps({k: v for k, v in out.items() if k != "machine"}, indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_fingerprint.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
