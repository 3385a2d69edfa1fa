"""Train the modular-addition toy model and write the shipped weights.

Reproduce the weights in ``manifold_probe/data/toy_modadd.safetensors`` (and their SHA-256 in
``toy_modadd.json``) with::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/train_toy_modadd.py

Deterministic given the seed on one CPU thread (other thread counts may change the last bits
of floating-point sums, and so the hash, but not the outcome).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from manifold_probe.capture.toy import TOY_WEIGHTS, ToyConfig, save_toy, train_modadd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=ToyConfig.seed)
    parser.add_argument("--max-steps", type=int, default=ToyConfig.max_steps)
    parser.add_argument("--out", type=Path, default=TOY_WEIGHTS)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    config = ToyConfig(seed=args.seed, max_steps=args.max_steps)
    model, history = train_modadd(config)
    digest = save_toy(model, config, history, args.out)
    print(
        f"grokked at step {history['grokked_at']}, stopped at {history['steps'][-1]}, "
        f"final test accuracy {history['test_accuracy'][-1]:.4f}, wall {history['wall_s']:.1f} s"
    )
    print(f"wrote {args.out} sha256={digest}")


if __name__ == "__main__":
    main()
