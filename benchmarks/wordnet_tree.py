"""Is WordNet's hypernym tree visible in MiniLM's layers, and does it look negatively curved?

Captures MiniLM (mean pooling, all residual states) on ``--n`` sentences of the shipped WordNet
subset (``experiments/configs/wordnet.toml``'s model and corpus; captured once into ``--out``
and reused) and reports per layer the profile columns of the known structure ``wordnet_tree``
(:func:`manifold_probe.analysis.semantic.measure_structures`): the Spearman correlation of tree
and class-mean distances in the best class-mean subspace against the null that relabels the
inputs across classes (``_stat``, ``_p``, its floor ``_p_min``, the effect size ``_effect`` in
null standard deviations, which grades layers where p sits at its floor), the share of variance in that subspace (``_variance``), and the relative
Gromov delta of the class means against Gaussian clouds of the same covariance (``_delta``,
``_delta_p``; small p = more tree-like, i.e. more negatively curved, than flat data).

    python benchmarks/wordnet_tree.py [--n 1000] [--out /tmp/wordnet_capture]

Writes ``benchmarks/results/wordnet_tree.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._common import RESULTS, machine  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    from manifold_probe.analysis.semantic import measure_structures
    from manifold_probe.analysis.settings import EstimatorSettings
    from manifold_probe.config import load_config, parse_config
    from manifold_probe.experiment import runner

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", default="/tmp/wordnet_capture")
    ap.add_argument("--n-perm", type=int, default=999)
    ap.add_argument("--json", default=str(RESULTS / "wordnet_tree.json"))
    args = ap.parse_args(argv)

    cfg = load_config(ROOT / "experiments/configs/wordnet.toml").model_dump()
    cfg["estimators"]["topology"].pop("n_bootstrap", None)
    cfg["data"]["n"] = args.n
    config = parse_config(cfg)
    t0 = time.perf_counter()
    folder, meta, _ = runner.capture_only(config, args.out)
    t_capture = time.perf_counter() - t0
    labels = runner.experiment_labels(config, lambda: None)
    est = EstimatorSettings.from_mapping({"structure": {"n_perm": args.n_perm}})
    y = labels["wordnet_node"]
    rows = []
    for i, name in enumerate(meta["layers"]):
        X = np.load(Path(folder) / f"L{i:02d}.npy").astype(np.float64)
        t = time.perf_counter()
        cols = measure_structures(X, labels, est, 0)
        rows.append({"layer": name, **cols, "seconds": round(time.perf_counter() - t, 2)})
        print(name, {k.replace("structure_wordnet_tree_", ""): round(v, 3) for k, v in cols.items()
                     if isinstance(v, float)}, flush=True)
    result = {"n": args.n, "n_classes": int(len(np.unique(y[y >= 0]))),
              "n_labelled": int((y >= 0).sum()), "n_perm": args.n_perm,
              "capture_seconds": round(t_capture, 1), "rows": rows, "machine": machine()}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
