"""Sweep of the significance rule of :func:`manifold_probe.analysis.regions.regions`.

The rule (prominence > 2 c_alpha, c_alpha a bootstrap quantile for the log-DTM,
alpha = 0.05) has no tuned constant; this sweep records what it does:

* Gaussian mixtures with ``c`` equal components at equal pairwise centre distance ``sep``
  (in units of the component standard deviation), in ``d`` dimensions, several seeds: the
  number of regions found, and the adjusted Rand index with the true components;
* one-cluster shapes that must read 1 region: a Gaussian, a uniform ball, a noisy circle;

each with both bootstrap statistics for c_alpha: the sup-norm deviation of the density
(default, conservative) and the bottleneck distance between the H0 diagrams (more power).

Run: ``PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_regions.py [--quick]``
Writes ``benchmarks/results/bench_regions.json``. With ``--minilm``: the sanity check on the
seven MiniLM layers (shipped corpus, days of the week, WordNet glosses), written to
``benchmarks/results/bench_regions_minilm.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine  # noqa: E402
from bench_regions_truth import mixture  # noqa: E402  (simplex mixtures, the same draws)

from manifold_probe.analysis.regions import regions  # noqa: E402

BANDS = ("sup", "bottleneck")


def one_cluster(shape: str, d: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    if shape == "gaussian":
        return rng.normal(size=(n, d))
    if shape == "ball":
        u = rng.normal(size=(n, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        return u * rng.uniform(size=(n, 1)) ** (1.0 / d)
    if shape == "circle":
        t = rng.uniform(0, 2 * np.pi, n)
        X = np.zeros((n, d))
        X[:, 0], X[:, 1] = np.cos(t), np.sin(t)
        return X + 0.05 * rng.normal(size=(n, d))
    raise ValueError(shape)


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def minilm_sanity(n: int = 300, n_days: int = 280, n_large: int = 1200) -> dict:
    """Regions and known structure on MiniLM mean-pooled layers (the shipped corpus, WordNet).

    * ``corpus_n{n}``, ``corpus_n{n_large}``: sentences of the six labelled categories of the
      shipped corpus; regions per layer (both bootstrap bands), their agreement with the
      categories, kNN purity, merges/splits between consecutive layers;
    * ``days``: ``n_days`` day-of-week sentences; the cycle test per layer (PCA and LDA
      probes, class-identity null; PCA with the point-label null);
    * ``months``: the same for the months (cycle of 12), PCA probe;
    * ``numbers``: number sentences grouped by decade (0-9, 10-19, ...), the line test;
    * ``wordnet``: ``n`` WordNet noun and verb glosses; regions vs lexicographer category and
      part of speech; the hypernym-tree test on the nouns.
    """
    import manifold_probe as mp
    from manifold_probe.analysis.regions import compare_regions, label_agreement
    from manifold_probe.analysis.structure import known_structure
    from manifold_probe.datasets.corpus import LABELS, load_corpus
    from manifold_probe.datasets.wordnet import hypernym_tree, load_wordnet

    handle = mp.capture.load_model("minilm")
    out: dict = {"days": {}, "wordnet": {}}
    for size in (n, n_large):
        corpus = load_corpus(labels=list(LABELS), n=size, seed=0)
        acts = handle.capture(list(corpus.sentences))
        key = f"corpus_n{size}"
        out[key] = {}
        for band in ("sup", "bottleneck"):
            prev = None
            for layer in acts.layers:
                X = np.asarray(acts[layer], dtype=np.float64)
                r = regions(X, seed=0, band=band, method="tomato")
                a = label_agreement(r.labels, corpus.categories, X, k=10)
                t = compare_regions(prev, r.labels) if prev is not None else None
                prev = r.labels
                out[key][f"{band} {layer}"] = dict(
                    n_regions=r.n_regions, threshold=_r(r.threshold),
                    prominences=[_r(p) for p in r.prominences[:8]],
                    p_values=[_r(p) for p in r.p_values[:8]],
                    region_sizes=np.bincount(r.labels).tolist(),
                    ari=_r(a.ari, 3), nmi=_r(a.nmi, 3), mean_purity=_r(a.mean_purity, 3),
                    purity={k: _r(v, 3) for k, v in a.purity.items()},
                    merges=t.merges if t else None, splits=t.splits if t else None)  # fmt: skip
                print(key, band, layer, out[key][f"{band} {layer}"])
    days = load_corpus(labels="day", n=n_days, seed=0)
    acts = handle.capture(list(days.sentences))
    for layer in acts.layers:
        X = np.asarray(acts[layer], dtype=np.float64)
        res = {}
        for probe in ("pca", "lda"):
            s = known_structure(X, days.labels["day"], "cycle", probe=probe, n_perm=999, seed=0)
            res[probe] = dict(R=_r(s.statistic, 3), p=_r(s.p_value), in_order=s.in_order,
                              variance_share=_r(s.variance_share),
                              between_share=_r(s.between_share, 3))  # fmt: skip
        s = known_structure(X, days.labels["day"], "cycle", null="points", n_perm=199, seed=0)
        res["pca_points_null_p"] = _r(s.p_value)
        out["days"][layer] = res
        print("days", layer, res)
    out["months"], out["numbers"] = {}, {}
    months = load_corpus(labels="month", n=n_days, seed=0)
    acts = handle.capture(list(months.sentences))
    for layer in acts.layers:
        X = np.asarray(acts[layer], dtype=np.float64)
        s = known_structure(X, months.labels["month"], "cycle", n_perm=999, seed=0)
        out["months"][layer] = dict(R=_r(s.statistic, 3), p=_r(s.p_value), in_order=s.in_order,
                                    variance_share=_r(s.variance_share))  # fmt: skip
        print("months", layer, out["months"][layer])
    numbers = load_corpus(labels="number", n=n_days, seed=0)
    acts = handle.capture(list(numbers.sentences))
    for layer in acts.layers:
        X = np.asarray(acts[layer], dtype=np.float64)
        s = known_structure(X, numbers.labels["number"] // 10, "line", n_perm=999, seed=0)
        out["numbers"][layer] = dict(rho=_r(s.statistic, 3), p=_r(s.p_value),
                                     monotone=s.in_order, variance_share=_r(s.variance_share))  # fmt: skip
        print("numbers (decades)", layer, out["numbers"][layer])
    wn = load_wordnet(["noun", "verb"], n=n, seed=0, kind="gloss")
    acts = handle.capture(list(wn.sentences))
    _, parents, node_of_row = hypernym_tree(wn)
    pos = np.array([c.split(".")[0] for c in wn.categories])
    nouns = np.flatnonzero(pos == "noun")
    for layer in acts.layers:
        X = np.asarray(acts[layer], dtype=np.float64)
        r = regions(X, seed=0, method="tomato")
        rb = regions(X, seed=0, band="bottleneck", method="tomato")
        a = label_agreement(r.labels, wn.categories, X, k=10)
        ab = label_agreement(rb.labels, wn.categories, X, k=10)
        ap = label_agreement(r.labels, pos, X, k=10)
        s = known_structure(X[nouns], node_of_row[nouns], "tree", parents=parents,
                            n_perm=199, seed=0)  # fmt: skip
        out["wordnet"][layer] = dict(
            n_regions=r.n_regions, threshold=_r(r.threshold),
            prominences=[_r(p) for p in r.prominences[:6]],
            bottleneck_n_regions=rb.n_regions, bottleneck_threshold=_r(rb.threshold),
            bottleneck_ari_lexname=_r(ab.ari, 3), bottleneck_nmi_lexname=_r(ab.nmi, 3),
            ari_lexname=_r(a.ari, 3), nmi_lexname=_r(a.nmi, 3),
            mean_purity_lexname=_r(a.mean_purity, 3), ari_pos=_r(ap.ari, 3),
            mean_purity_pos=_r(ap.mean_purity, 3), tree_rho=_r(s.statistic, 3),
            tree_p=_r(s.p_value), tree_dims=s.dims, tree_variance_share=_r(s.variance_share, 3),
            n_nouns=len(nouns))  # fmt: skip
        print("wordnet", layer, out["wordnet"][layer])
    return out


def main() -> None:
    from sklearn.metrics import adjusted_rand_score

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--minilm", action="store_true",
                    help="instead of the sweep: the sanity check on MiniLM layers")  # fmt: skip
    args = ap.parse_args()
    if args.minilm:
        t0 = time.perf_counter()
        out = minilm_sanity()
        out["elapsed_s"] = round(time.perf_counter() - t0, 1)
        out["machine"] = machine()
        path = RESULTS / "bench_regions_minilm.json"
        path.write_text(json.dumps(out, indent=1, default=str))
        print(f"wrote {path}")
        return
    n = 600
    seeds = range(2) if args.quick else range(3)
    rows = []
    t0 = time.perf_counter()
    for d in (5, 20):
        for c in (2, 3, 5):
            for sep in (4.0, 6.0, 8.0, 12.0):
                for seed in seeds:
                    X, y = mixture(c, sep, d, n, seed)
                    for band in BANDS:
                        r = regions(X, seed=seed, band=band, method="tomato")
                        rows.append(dict(kind="mixture", band=band, c=c, sep=sep, d=d, n=n,
                                         seed=seed, found=r.n_regions,
                                         ari=float(adjusted_rand_score(y, r.labels)),
                                         threshold=r.threshold,
                                         prominences=[round(float(p), 4) for p in r.prominences[:8]]))
    for shape, dims in (("gaussian", (2, 5, 20, 100)), ("ball", (2, 5, 20)), ("circle", (2, 10))):
        for d in dims:
            for seed in range(5 if not args.quick else 3):
                X = one_cluster(shape, d, n, seed)
                for band in BANDS:
                    r = regions(X, seed=seed, band=band, method="tomato")
                    rows.append(dict(kind="one", band=band, shape=shape, d=d, n=n, seed=seed,
                                     found=r.n_regions, threshold=r.threshold,
                                     prominences=[round(float(p), 4) for p in r.prominences[:8]]))
    elapsed = time.perf_counter() - t0

    summary = {}
    for band in BANDS:
        for d in (5, 20):
            for c in (2, 3, 5):
                for sep in (4.0, 6.0, 8.0, 12.0):
                    sel = [r for r in rows if r["kind"] == "mixture" and r["band"] == band
                           and (r["c"], r["d"], r["sep"]) == (c, d, sep)]  # fmt: skip
                    summary[f"{band}: mixture c={c} d={d} sep={sep:g}"] = dict(
                        correct=sum(r["found"] == c for r in sel), runs=len(sel),
                        found=[r["found"] for r in sel],
                        mean_ari=round(float(np.mean([r["ari"] for r in sel])), 3),
                        over=sum(r["found"] > c for r in sel))
        ones = [r for r in rows if r["kind"] == "one" and r["band"] == band]
        summary[f"{band}: one-cluster shapes read 1"] = dict(
            correct=sum(r["found"] == 1 for r in ones), runs=len(ones),
            wrong=[(r["shape"], r["d"], r["seed"], r["found"]) for r in ones if r["found"] != 1])
        mixes = [r for r in rows if r["kind"] == "mixture" and r["band"] == band]
        summary[f"{band}: mixtures, all components found"] = dict(
            runs=len(mixes), correct=sum(r["found"] == r["c"] for r in mixes),
            over=sum(r["found"] > r["c"] for r in mixes))
    for key, val in summary.items():
        print(f"{key:45s} {val}")
    out = dict(rule="prominence of -log DTM > 2 c_alpha, alpha=0.05, k=15, n_boot=200; c_alpha from "
               "the sup-norm bootstrap band (default) or the bottleneck bootstrap",
               elapsed_s=round(elapsed, 1), machine=machine(), summary=summary, rows=rows)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "bench_regions.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path} ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
