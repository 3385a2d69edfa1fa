"""Per-token capture of a randomly initialised Llama into the activation store, against the bare
forward pass: tokens per second, GB per million tokens, memory against tokens streamed.

The model is built from a ``transformers.LlamaConfig`` (random weights, nothing downloaded);
the inputs are random token ids, ``--batch`` sequences of ``--seq-len`` tokens per batch. In one
run:

- ``forward``: the bare forward pass (``torch.no_grad``, no hooks) over the same batches: the
  token rate capture is compared with;
- ``capture``: :func:`manifold_probe.capture.capture_modules` with ``pooling="all"`` (one row per
  token) streaming every batch into an :class:`~manifold_probe.store.ActivationStore` (zarr,
  checksummed), ``load=False`` (the result stays on disk, read lazily).

Memory: resident memory is sampled after every batch; the capture holds one batch at a time, so
it must not grow with the number of tokens (``rss_growth_mb`` between the first quarter of the
batches and the end). GB per million tokens = bytes of the store on disk / tokens * 1e6
(layers x width x bytes per value, plus ids and compression).

Modes:

- CPU (default when CUDA is absent): hidden 256, 4 blocks, every residual state, float32
  store; ``--tokens`` 65,536 by default.
- GPU (``--device cuda``; default when CUDA is present): hidden 2048, 16 blocks (about 1.1 B
  parameters with the embeddings), 1,000,000 tokens; the store keeps every 4th block's output
  in float16 (1M tokens of all 17 states in float32 would be 139 GB). Without CUDA this mode is
  not run: the output and JSON say so.

Usage::

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_capture_llm.py [--device cpu|cuda]
        [--tokens N] [--hidden H] [--blocks L] [--seq-len T] [--batch B] [--out NAME]

Writes ``benchmarks/results/<out>.json`` (default ``bench_capture_llm_<device>``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

MODES = {
    "cpu": {"hidden": 256, "blocks": 4, "heads": 4, "tokens": 65_536, "seq_len": 256,
            "batch": 8, "every": 1, "dtype": "float32", "vocab": 32_000},
    "cuda": {"hidden": 2048, "blocks": 16, "heads": 16, "tokens": 1_000_000, "seq_len": 1024,
             "batch": 16, "every": 4, "dtype": "float16", "vocab": 32_000},
}


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def build_model(cfg: dict, device: str):
    import torch
    from transformers import LlamaConfig, LlamaModel

    config = LlamaConfig(
        hidden_size=cfg["hidden"], intermediate_size=int(cfg["hidden"] * 8 / 3 // 64 * 64),
        num_hidden_layers=cfg["blocks"], num_attention_heads=cfg["heads"],
        num_key_value_heads=cfg["heads"], vocab_size=cfg["vocab"],
        max_position_embeddings=max(2048, cfg["seq_len"]),
    )
    torch.manual_seed(0)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = LlamaModel(config).to(device=device, dtype=dtype).eval()
    n_params = sum(p.numel() for p in model.parameters())
    return model, config, n_params


def batches(cfg: dict, n_batches: int, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    for _ in range(n_batches):
        yield torch.randint(0, cfg["vocab"], (cfg["batch"], cfg["seq_len"]), generator=g)


def bare_forward(model, cfg: dict, n_batches: int, device: str) -> float:
    """Seconds for the forward passes alone over the same batches (ids moved to the device)."""
    import torch

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    with torch.no_grad():
        for ids in batches(cfg, 2, seed=1):  # warm-up
            model(ids.to(device))
        sync()
        t0 = time.perf_counter()
        for ids in batches(cfg, n_batches):
            model(ids.to(device))
        sync()
    return time.perf_counter() - t0


def capture(model, cfg: dict, n_batches: int, device: str, folder: Path) -> dict:
    from manifold_probe.capture import capture_modules
    from manifold_probe.store import ActivationStore

    blocks = cfg["blocks"]
    chosen = [i for i in range(1, blocks + 1) if i % cfg["every"] == 0]
    modules = ["embed_tokens"] * (cfg["every"] == 1) + [f"layers.{i - 1}" for i in chosen]
    names = ["embeddings"] * (cfg["every"] == 1) + [f"layer_{i}" for i in chosen]
    rss = []
    stamps = []

    def progress(done: int) -> None:
        rss.append(_rss_mb())
        stamps.append(time.perf_counter())

    store = ActivationStore(folder, overwrite=True)
    t0 = time.perf_counter()
    acts = capture_modules(model, batches(cfg, n_batches), modules, pooling="all",
                           layer_names=names, device=device, store=store, load=False,
                           progress=progress, dtype=cfg["dtype"], chunk_rows=8192)
    t_end = time.perf_counter()
    # capture_modules returns once every batch is committed, after opening the lazy result
    # (one pass verifying every chunk's checksum): that pass, timed again, is taken out
    t1 = time.perf_counter()
    ActivationStore(folder).to_activations(load=False)
    verify = time.perf_counter() - t1
    streamed = t_end - t0 - verify
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    quarter = max(0, len(rss) // 4 - 1)
    return {
        "layers": names, "rows": int(acts.n_rows), "streaming_s": streamed,
        "final_verify_s": verify,
        "store_bytes": size,
        "rss_mb_after_quarter": rss[quarter], "rss_mb_end": rss[-1],
        "rss_growth_mb": rss[-1] - rss[quarter],
        "rss_mb_per_batch": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    for key in ("tokens", "hidden", "blocks", "seq_len", "batch"):
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    parser.add_argument("--dir", type=Path, default=None, help="where the store is written")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import torch

    has_cuda = torch.cuda.is_available()
    device = args.device or ("cuda" if has_cuda else "cpu")
    out_name = args.out or f"bench_capture_llm_{device}"
    load0 = os.getloadavg()
    if device == "cuda" and not has_cuda:
        msg = ("GPU mode not run: CUDA is not available on this machine (torch "
               f"{torch.__version__}); run this script with --device cuda on a GPU machine")
        print(msg)
        save(out_name, {"device": "cuda", "ran": False, "note": msg,
                        "config": MODES["cuda"], "loadavg": load0})
        return
    cfg = dict(MODES["cuda" if device == "cuda" else "cpu"])
    for key in ("tokens", "hidden", "blocks", "seq_len", "batch"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    per_batch = cfg["batch"] * cfg["seq_len"]
    n_batches = max(1, cfg["tokens"] // per_batch)
    tokens = n_batches * per_batch
    model, config, n_params = build_model(cfg, device)
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else None
    print(f"{device}{' (' + gpu + ')' if gpu else ''}: Llama hidden {cfg['hidden']}, "
          f"{cfg['blocks']} blocks, {n_params / 1e6:.1f} M parameters; {tokens} tokens in "
          f"{n_batches} batches of {cfg['batch']} x {cfg['seq_len']}; "
          f"torch threads {torch.get_num_threads()}")
    folder = Path(args.dir or tempfile.mkdtemp(prefix="mp_capture_llm_")) / "store"
    try:
        # warm-up of the capture path (zarr, dask and the hooks' first use), not timed
        capture(model, {**cfg, "batch": 1}, 1, device, folder)
        t_fwd = bare_forward(model, cfg, n_batches, device)
        cap = capture(model, cfg, n_batches, device, folder)
        t_fwd2 = bare_forward(model, cfg, n_batches, device)  # the load may change: bracket it
    finally:
        shutil.rmtree(folder.parent if args.dir is None else folder, ignore_errors=True)
    fwd_rate = tokens / min(t_fwd, t_fwd2)
    cap_rate = tokens / cap["streaming_s"]
    gb_per_m = cap["store_bytes"] / tokens * 1e6 / 1e9
    print(f"bare forward: {fwd_rate:,.0f} tokens/s (best of the runs before and after)")
    print(f"capture to the store: {cap_rate:,.0f} tokens/s = {cap_rate / fwd_rate:.0%} of the "
          f"bare forward pass ({cap['streaming_s']:.1f} s; then {cap['final_verify_s']:.1f} s "
          "verifying every chunk's checksum once when the lazy result is opened)")
    print(f"store: {gb_per_m:.2f} GB per million tokens ({len(cap['layers'])} layers x "
          f"{cfg['hidden']} x {cfg['dtype']}); resident memory {cap['rss_mb_after_quarter']:.0f} "
          f"MB after a quarter of the batches, {cap['rss_mb_end']:.0f} MB at the end "
          f"(growth {cap['rss_growth_mb']:+.0f} MB)")
    save(out_name, {
        "device": device, "gpu": gpu, "ran": True, "config": cfg, "n_params": n_params,
        "tokens": tokens, "forward_s": [t_fwd, t_fwd2], "forward_tokens_per_s": fwd_rate,
        "capture_tokens_per_s": cap_rate, "capture_over_forward": cap_rate / fwd_rate,
        "gb_per_million_tokens": gb_per_m, **cap,
        "gpu_mode": "not run here: CUDA is not available" if not has_cuda else "available",
        "loadavg_before": load0, "loadavg_after": os.getloadavg(),
        "threads": {"torch": torch.get_num_threads(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
    })
    if device == "cpu" and not has_cuda:
        print("GPU mode (hidden 2048, 16 blocks, 1M tokens) not run: CUDA is not available")


if __name__ == "__main__":
    main()
