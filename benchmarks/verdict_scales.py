"""Does the verdict on the default config agree between paper-quick scale and full scale?

Issue 11's must-show: "The verdict on the default config agrees between `make paper-quick`
scale and full scale, or reads 'undecided'" — never a confident flip (kept at one scale,
broken at the other).

What is compared, on stored activations (no model run):

* **full scale** — the default run's activations (``runs/default``: MiniLM, 2000 sentences of
  the shipped corpus, mean pooling, 7 residual states) with the default config's estimator
  settings (``config.json`` of the run; topology ``max_points`` 400), one verdict per
  consecutive layer pair (:func:`manifold_probe.analysis.perturbation.verdict`, what
  ``topology_verdict_prev`` reports);
* **quick scale** — ``make paper-quick`` runs ``experiments/configs/paper_minilm_quick.toml``:
  300 sentences drawn at random from the same corpus (``load_corpus(n=300)``, simple random
  sampling without replacement) with topology ``max_points`` 150. A random 300-row subset of
  the 2000 stored rows is a simple random sample of the corpus too, and mean pooling is masked
  (a sentence's activation does not depend on its batch), so subsampling the stored rows with
  several seeds is equivalent to recapturing, without running the model. The quick config's
  estimator settings are used.

A layer pair *agrees* when the full verdict and every quick verdict are equal, and it has *no
confident flip* when "kept" and "broken" do not both occur among them (one side "undecided"
is allowed: the must-show). Usage::

    python benchmarks/verdict_scales.py [--run /work/main/runs/default] [--seeds 5]

Writes ``benchmarks/results/verdict_scales.json``.
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


def _load_run(run: Path):
    acts = next((run / "activations").iterdir())
    meta = json.loads((acts / "meta.json").read_text())
    layers = [np.load(acts / f"L{i:02d}.npy").astype(np.float64) for i in range(len(meta["layers"]))]
    with np.load(acts / "labels.npz") as d:
        labels = {k: d[k] for k in d.files}
    config = json.loads((run / "config.json").read_text())
    return meta["layers"], layers, labels, config


def main(argv: list[str] | None = None) -> dict:
    from manifold_probe.analysis.perturbation import verdict
    from manifold_probe.analysis.settings import EstimatorSettings
    from manifold_probe.config import load_config

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default="/work/main/runs/default")
    ap.add_argument("--quick-config", default=str(ROOT / "experiments/configs/paper_minilm_quick.toml"))
    ap.add_argument("--seeds", type=int, default=5, help="quick-scale subsamples")
    ap.add_argument("--pairs", default="", help="e.g. 0,2: first layers of the pairs (default all)")
    ap.add_argument("--out", default=str(RESULTS / "verdict_scales.json"))
    args = ap.parse_args(argv)

    names, layers, labels, config = _load_run(Path(args.run))
    full_est = EstimatorSettings.from_mapping(config["estimators"])
    quick_cfg = load_config(args.quick_config)
    quick_est = EstimatorSettings.from_mapping(quick_cfg.estimators)
    n_quick = int(quick_cfg.data.n)
    n = layers[0].shape[0]
    pairs = ([int(p) for p in args.pairs.split(",")] if args.pairs
             else list(range(len(layers) - 1)))
    rows = []
    for i in pairs:
        X, Y = layers[i], layers[i + 1]
        t0 = time.perf_counter()
        full = verdict(X, Y, full_est, 0, labels)
        t_full = time.perf_counter() - t0
        quick = []
        for s in range(args.seeds):
            idx = np.sort(np.random.default_rng(1000 + s).choice(n, size=n_quick, replace=False))
            sub = {k: v if k.endswith(("_order", "_parents")) else v[idx] for k, v in labels.items()}
            quick.append(verdict(X[idx], Y[idx], quick_est, 0, sub))
        words = [full["verdict"]] + [q["verdict"] for q in quick]
        row = {
            "pair": f"{names[i]}->{names[i + 1]}",
            "full": {k: full.get(k) for k in ("verdict", "configs_kept", "broken_by", "unstable",
                                               "scales", "betti_clean", "betti_perturbed",
                                               "linear_r2")},
            "quick": [{k: q.get(k) for k in ("verdict", "configs_kept", "broken_by", "unstable",
                                              "scales", "betti_clean", "betti_perturbed")}
                      for q in quick],
            "agree": len(set(words)) == 1,
            "confident_flip": "kept" in words and "broken" in words,
            "seconds_full": round(t_full, 1),
        }
        rows.append(row)
        print(f"{row['pair']:>24}  full {full['verdict']:>9} ({full['configs_kept']})  quick "
              + " ".join(f"{q['verdict']}({q['configs_kept']})" for q in quick)
              + f"  agree={row['agree']} flip={row['confident_flip']}", flush=True)
    result = {
        "run": str(args.run), "n_full": n, "n_quick": n_quick, "quick_subsamples": args.seeds,
        "full_scales": rows[0]["full"]["scales"] if rows else None,
        "quick_scales": rows[0]["quick"][0]["scales"] if rows and rows[0]["quick"] else None,
        "rows": rows,
        "pairs_agree": sum(r["agree"] for r in rows),
        "pairs_confident_flip": sum(r["confident_flip"] for r in rows),
        "machine": machine(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    print(f"{result['pairs_agree']}/{len(rows)} pairs agree, {result['pairs_confident_flip']} "
          f"confident flips; wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
