"""The region finder against labelled truth, beside dadapy's density-peak clustering and k-means.

Methods, run on the same clouds in one run:

* ``peak``, ``peak-fdr``, ``peak-sim``: :func:`manifold_probe.analysis.regions.regions` with
  ``method="peak"`` (the per-mode statistical merge criterion; its defaults ``k=60``,
  ``graph_k=20`` and ``error_bar="difference"``, chosen by ``sweep_regions_rules.py``) and ``correction="none"``
  (each mode tested at level alpha, as in DPA), ``"fdr"`` (Benjamini–Hochberg over the
  modes; the default) and ``"simultaneous"`` (a studentised bootstrap band over the peaks
  and saddles);
* ``peak-fdr-k40``: the previous default (``k=40``, the modes on the same 40-NN graph);
* ``peak-fdr-sum15``: the earlier default (``correction="fdr"``, ``error_bar="sum"``, ``k=15``);
* ``tomato-sup`` and ``tomato-bottleneck``: the same function with ``method="tomato"``, ``k=15`` (the
  rule of earlier versions: prominence above twice a bootstrap band; ``band="sup"`` is the
  function's default band, ``"bottleneck"`` the band of the shipped configs). The bottleneck
  band is run on the real layers only (it is the slow one);
* ``dadapy``: dadapy's density-peak clustering (d'Errico et al. 2021, ``compute_clustering_ADP``
  with its default ``Z=1.65``, after ``compute_id_2NN`` and ``compute_density_PAk``). dadapy
  needs numpy < 2, so it runs in a separate environment (``--ref-python``, default
  ``/work/venv_ref/bin/python``) as a subprocess; skipped with a message when that is absent;
* ``kmeans``: k-means told the true number of classes (10 restarts): a ceiling on the ARI a
  partition into the right number of convex groups reaches; it has no count to be stable.

Families of clouds (5 seeds each; a seed draws a new sample, or a new subsample of a real
layer, and seeds the method):

* ``mixture``: ``c`` unit Gaussians at the vertices of a regular simplex of edge ``sep``
  standard deviations, randomly rotated, in ``d`` dimensions (truth: the component);
* ``heldout``: mixtures never used to choose a rule (:data:`HELDOUT`): anisotropic components,
  unequal weights, centres on a line at unequal gaps, dimensions 4 to 50, n = 400 to 900;
* ``unimodal``: featureless clouds that must read one region — a Gaussian (d = 5, 20), a
  uniform ball (d = 5), an anisotropic Gaussian (d = 10, standard deviations 1 ... 10), a
  round 2-sphere in R^10 and a noisy circle in R^2 and in R^10 (curved manifolds, uniform
  density);
* ``minilm``: MiniLM mean-pooled layers of the default run's corpus (2000 sentences of the
  shipped corpus, seed 0, as the runner loads it), a 1000-point subsample per seed (the
  runner's ``max_points``); truth: the 7 corpus categories;
* ``wordnet``: MiniLM layers (embeddings, 3 and 6) of 1000 WordNet glosses (nouns and verbs), an 800-point
  subsample per seed; truth: the lexicographer file (41 of them here).

Per group of 5 seeds: mean ARI with the truth, the counts, whether the modal count is found
at >= 4 of 5 seeds (stable), and on unimodal clouds the share of clouds read as more than one
region (false-region rate). "Truth clear": groups where k-means with the known k reaches a
mean ARI >= 0.9 (a property of the data, not of the region finder).

Run: ``PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_regions_truth.py``
(``--families mixture unimodal`` for part; the parts are merged into the JSON). The MiniLM
activations are captured once and cached under ``benchmarks/cache/`` (gitignored).
Writes ``benchmarks/results/bench_regions_truth.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine  # noqa: E402

CACHE = Path(__file__).resolve().parent / "cache"
SEEDS = range(5)
LAYERS = ("embeddings", "layer_1", "layer_2", "layer_3", "layer_4", "layer_5", "layer_6")

_DADAPY = r"""
import sys, numpy as np
from dadapy import Data
src = np.load(sys.argv[1])
out = {}
for key in src.files:
    X = np.asarray(src[key], dtype=np.float64)
    try:
        d = Data(X, verbose=False)
        d.compute_id_2NN()
        d.compute_density_PAk()
        d.compute_clustering_ADP()
        out[key] = np.asarray(d.cluster_assignment, dtype=np.int64)
    except Exception as exc:  # recorded, not fatal: the row says why
        print(f"dadapy failed on {key}: {exc!r}", file=sys.stderr)
np.savez(sys.argv[2], **out)
"""


def mixture(c: int, sep: float, d: int, n: int, seed: int):
    """``c`` unit Gaussians at the vertices of a regular simplex of edge ``sep``, rotated."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((c, d))
    centres[np.arange(c), np.arange(c)] = sep / np.sqrt(2.0)
    rot, _ = np.linalg.qr(rng.normal(size=(d, d)))
    y = np.arange(n) % c
    return (centres[y] + rng.normal(size=(n, d))) @ rot, y


# Held-out mixtures: fixed before any rule was compared on them, and never used to choose one.
# Each is (c, d, n, edge of the simplex of centres or the gaps along a line, weights, anisotropy)
HELDOUT = {
    "aniso c=4 d=10 sep=8": dict(c=4, d=10, n=600, sep=8.0, aniso=(0.5, 2.0)),
    "unequal sizes c=3 d=10 sep=7": dict(c=3, d=10, n=500, sep=7.0, weights=(0.6, 0.3, 0.1)),
    "line gaps 5,8,12 c=4 d=8": dict(c=4, d=8, n=400, gaps=(5.0, 8.0, 12.0)),
    "c=3 d=50 sep=8": dict(c=3, d=50, n=600, sep=8.0),
    "c=4 d=4 sep=5": dict(c=4, d=4, n=800, sep=5.0),
    "aniso unequal c=5 d=30 sep=9": dict(c=5, d=30, n=900, sep=9.0, aniso=(0.3, 1.5),
                                         weights=(0.35, 0.25, 0.2, 0.12, 0.08)),
}


def heldout(name: str, seed: int):
    """A held-out mixture: anisotropic components (per-component random rotation of standard
    deviations spaced geometrically over ``aniso``), unequal weights, or centres on a line at
    unequal gaps; randomly rotated as a whole."""
    spec = HELDOUT[name]
    c, d, n = spec["c"], spec["d"], spec["n"]
    rng = np.random.default_rng(1000 + seed)
    if "gaps" in spec:
        centres = np.zeros((c, d))
        centres[1:, 0] = np.cumsum(spec["gaps"])
    else:
        centres = np.zeros((c, d))
        centres[np.arange(c), np.arange(c)] = spec["sep"] / np.sqrt(2.0)
    w = np.asarray(spec.get("weights", np.full(c, 1.0 / c)))
    y = np.sort(rng.choice(c, size=n, p=w / w.sum()))
    Z = rng.normal(size=(n, d))
    if "aniso" in spec:
        sds = np.geomspace(*spec["aniso"], d)
        for j in range(c):
            rot, _ = np.linalg.qr(rng.normal(size=(d, d)))
            Z[y == j] = (Z[y == j] * rng.permutation(sds)) @ rot
    rot, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (centres[y] + Z) @ rot, y


def unimodal(shape: str, n: int, seed: int) -> np.ndarray:
    import manifold_probe as mp

    rng = np.random.default_rng(seed)
    if shape.startswith("gaussian"):
        return rng.normal(size=(n, int(shape.split("-")[1])))
    if shape == "ball-5":
        u = rng.normal(size=(n, 5))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        return u * rng.uniform(size=(n, 1)) ** (1.0 / 5)
    if shape == "anisotropic-10":
        return rng.normal(size=(n, 10)) * np.geomspace(1.0, 10.0, 10)
    if shape == "sphere2-in-10":
        return mp.datasets.sphere(n, 2, ambient_dim=10, noise=0.02, seed=seed).points
    if shape == "circle-in-2":
        t = rng.uniform(0, 2 * np.pi, n)
        return np.c_[np.cos(t), np.sin(t)] + 0.05 * rng.normal(size=(n, 2))
    if shape == "circle-in-10":
        t = rng.uniform(0, 2 * np.pi, n)
        X = np.zeros((n, 10))
        X[:, 0], X[:, 1] = np.cos(t), np.sin(t)
        return X + 0.05 * rng.normal(size=(n, 10))
    raise ValueError(shape)


def minilm_layers(kind: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Mean-pooled MiniLM layers and their labels, captured once and cached."""
    path = CACHE / {"corpus": "minilm_corpus2000.npz", "wordnet": "minilm_wordnet1000.npz"}[kind]
    if not path.exists():
        import manifold_probe as mp

        handle = mp.capture.load_model("minilm")
        if kind == "corpus":
            from manifold_probe.datasets.corpus import load_corpus

            src = load_corpus(labels=None, n=2000, seed=0)  # the default run's inputs
        else:
            from manifold_probe.datasets.wordnet import load_wordnet

            src = load_wordnet(["noun", "verb"], n=1000, seed=0, kind="gloss")
        acts = handle.capture(list(src.sentences), pooling="mean")
        CACHE.mkdir(exist_ok=True)
        np.savez_compressed(path, categories=np.asarray(src.categories).astype(str),
                            **{la: np.asarray(acts[la], dtype=np.float32) for la in acts.layers})
    with np.load(path) as z:
        return {la: z[la].astype(np.float64) for la in LAYERS}, z["categories"]


def clouds(family: str):
    """Yield ``(group, seed, X, y)``; ``y`` is None for featureless clouds."""
    if family == "mixture":
        for d in (5, 20):
            for c in (3, 5):
                for sep in (4.0, 6.0, 10.0):
                    for s in SEEDS:
                        X, y = mixture(c, sep, d, 500, s)
                        yield f"c={c} sep={sep:g} d={d}", s, X, y
    elif family == "heldout":
        for name in HELDOUT:
            for s in SEEDS:
                X, y = heldout(name, s)
                yield name, s, X, y
    elif family == "fresh":
        # the featureless shapes at seeds 100-119, none of them one of the 35 above
        # (check_regions_flow.py; the admissibility of round 8 of sweep_regions_rules.py on)
        for shape in ("gaussian-5", "gaussian-20", "ball-5", "anisotropic-10", "sphere2-in-10",
                      "circle-in-2", "circle-in-10"):
            for s in range(100, 120):
                yield shape, s, unimodal(shape, 500, s), None
    elif family == "unimodal":
        for shape in ("gaussian-5", "gaussian-20", "ball-5", "anisotropic-10", "sphere2-in-10",
                      "circle-in-2", "circle-in-10"):
            for s in SEEDS:
                yield shape, s, unimodal(shape, 500, s), None
    else:
        layers, y = minilm_layers("corpus" if family == "minilm" else "wordnet")
        m = 1000 if family == "minilm" else 800
        for la in layers if family == "minilm" else ("embeddings", "layer_3", "layer_6"):
            X = layers[la]
            for s in SEEDS:
                idx = np.sort(np.random.default_rng(s).choice(len(X), min(m, len(X)),
                                                              replace=False))
                yield la, s, X[idx], y[idx]


def run_dadapy(batch: dict[str, np.ndarray], ref_python: str) -> tuple[dict, str | None]:
    if not Path(ref_python).exists():
        return {}, f"dadapy skipped: {ref_python} not found (a venv with numpy<2 and dadapy)"
    with tempfile.TemporaryDirectory() as tmp:
        src, dst, script = (os.path.join(tmp, f) for f in ("in.npz", "out.npz", "run.py"))
        np.savez(src, **batch)
        Path(script).write_text(_DADAPY)
        t0 = time.perf_counter()
        proc = subprocess.run([ref_python, script, src, dst], capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0 or not Path(dst).exists():
            return {}, f"dadapy failed: {proc.stderr[-500:]}"
        with np.load(dst) as z:
            out = {k: z[k] for k in z.files}
    note = proc.stderr.strip()[-500:] or None
    return {"labels": out, "elapsed_s": elapsed}, note


def main() -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from manifold_probe.analysis.regions import regions

    ap = argparse.ArgumentParser()
    ap.add_argument("--families", nargs="+",
                    default=["mixture", "heldout", "unimodal", "minilm", "wordnet"])
    ap.add_argument("--ref-python", default="/work/venv_ref/bin/python")
    ap.add_argument("--table", action="store_true",
                    help="print the README's markdown table from the saved JSON and stop")
    args = ap.parse_args()
    path = RESULTS / "bench_regions_truth.json"
    if args.table:
        print(markdown(json.loads(path.read_text())))
        return
    out = json.loads(path.read_text()) if path.exists() else {}
    out.setdefault("families", {})
    for family in args.families:
        rows, batch, timing, ys = [], {}, {}, []
        for group, seed, X, y in clouds(family):
            methods = {"peak": dict(method="peak", correction="none"),
                       "peak-fdr": dict(method="peak", correction="fdr"),
                       "peak-sim": dict(method="peak", correction="simultaneous"),
                       "peak-fdr-k40": dict(method="peak", correction="fdr", k=40, graph_k=40),
                       "peak-fdr-sum15": dict(method="peak", correction="fdr",
                                              error_bar="sum", k=15, graph_k=15),
                       "tomato-sup": dict(method="tomato", k=15, graph_k=15)}
            if family in ("minilm", "wordnet"):
                methods["tomato-bottleneck"] = dict(method="tomato", band="bottleneck", k=15,
                                                    graph_k=15)
            row = dict(group=group, seed=seed, n=len(X), dim=X.shape[1])
            for name, kw in methods.items():
                t0 = time.perf_counter()
                r = regions(X, seed=seed, **kw)
                timing[name] = timing.get(name, 0.0) + time.perf_counter() - t0
                row[name] = dict(n_regions=r.n_regions,
                                 ari=None if y is None else adjusted_rand_score(y, r.labels))
            if y is not None:
                k_true = len(np.unique(y))
                km = KMeans(k_true, n_init=10, random_state=seed).fit_predict(X)
                row["kmeans"] = dict(n_regions=k_true, ari=adjusted_rand_score(y, km))
            row["truth"] = None if y is None else int(len(np.unique(y)))
            rows.append(row)
            batch[f"{len(rows) - 1}"] = X
            ys.append(y)
            print(family, group, seed, {m: row[m] for m in row if isinstance(row[m], dict)},
                  flush=True)
        ref, note = run_dadapy(batch, args.ref_python)
        if note:
            print(note)
        for i, row in enumerate(rows):
            lab = ref.get("labels", {}).get(str(i)) if ref else None
            if lab is not None:
                row["dadapy"] = dict(n_regions=int(len(np.unique(lab))),
                                     ari=None if ys[i] is None else adjusted_rand_score(ys[i], lab))
        if ref:
            timing["dadapy"] = ref["elapsed_s"]
        out["families"][family] = dict(rows=rows, summary=summarise(family, rows),
                                       dadapy_note=note,
                                       elapsed_s={m: round(t, 1) for m, t in timing.items()},
                                       loadavg=os.getloadavg())
        for line in table(family, out["families"][family]["summary"]):
            print(line)
    out["machine"] = machine()
    out["timing_note"] = ("elapsed_s are wall seconds on a shared, loaded machine (loadavg "
                          "recorded beside them); they are not a speed benchmark")
    out["command"] = "PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_regions_truth.py"
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=float))
    print(f"wrote {path}")


METHODS = ("peak", "peak-fdr", "peak-sim", "peak-fdr-k40", "peak-fdr-sum15", "tomato-sup",
           "tomato-bottleneck",
           "dadapy", "kmeans")


def summarise(family: str, rows: list[dict]) -> dict:
    """Per method: mean ARI, the share of groups whose modal count holds at >= 4/5 seeds,
    the share of clouds with the true count, and (unimodal) the false-region rate."""
    groups = sorted({r["group"] for r in rows}, key=[r["group"] for r in rows].index)
    summary: dict = {"groups": {}}
    for g in groups:
        sel = [r for r in rows if r["group"] == g]
        entry = {}
        for m in METHODS:
            if not all(m in r for r in sel):
                continue
            counts = [r[m]["n_regions"] for r in sel]
            modal = max(set(counts), key=counts.count)
            aris = [r[m]["ari"] for r in sel if r[m]["ari"] is not None]
            entry[m] = dict(counts=counts, stable=counts.count(modal) >= 4,
                            mean_ari=round(float(np.mean(aris)), 3) if aris else None,
                            right_count=sum(c == sel[0]["truth"] for c in counts)
                            if sel[0]["truth"] else None)
        if "kmeans" in entry:
            entry["truth_clear"] = entry["kmeans"]["mean_ari"] >= 0.9
        summary["groups"][g] = entry
    for m in METHODS:
        ents = [e[m] for e in summary["groups"].values() if m in e]
        if not ents:
            continue
        clear = [e[m] for e in summary["groups"].values() if m in e and e.get("truth_clear")]
        s = dict(groups=len(ents), stable_groups=sum(e["stable"] for e in ents))
        aris = [e["mean_ari"] for e in ents if e["mean_ari"] is not None]
        if aris:
            s["mean_ari"] = round(float(np.mean(aris)), 3)
        if clear:
            s["clear_groups"] = len(clear)
            s["clear_stable"] = sum(e["stable"] for e in clear)
            s["clear_right_count_4of5"] = sum(e["right_count"] >= 4 for e in clear)
            s["clear_mean_ari"] = round(float(np.mean([e["mean_ari"] for e in clear])), 3)
        if family == "unimodal":
            counts = [c for e in ents for c in e["counts"]]
            s["false_region_rate"] = round(sum(c > 1 for c in counts) / len(counts), 3)
            s["clouds"] = len(counts)
        summary[m] = s
    return summary


def markdown(out: dict) -> str:
    """The README's table: one row per family and figure, one column per method."""
    fam = out["families"]
    cols = [m for m in METHODS if any(m in f["summary"] for f in fam.values())]
    names = {"peak": "peak, none", "peak-fdr": "peak, fdr (default)", "peak-sim":
             "peak, simultaneous",
             "peak-fdr-k40": "previous default: peak, fdr, k=40 on its own graph",
             "peak-fdr-sum15": "earlier default: peak, fdr, sum bar, k=15",
             "tomato-sup": "old: tomato, sup", "tomato-bottleneck":
             "old: tomato, bottleneck", "dadapy": "dadapy DPA", "kmeans": "k-means, known k"}
    head = "| clouds | figure | " + " | ".join(names[m] for m in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]

    def row(label: str, figure: str, cell) -> None:
        cells = [cell(m) for m in cols]
        lines.append(f"| {label} | {figure} | " + " | ".join(cells) + " |")

    def get(f: str, m: str, key: str, fmt: str = "{}") -> str:
        s = fam.get(f, {}).get("summary", {}).get(m, {})
        return fmt.format(s[key]) if key in s else "–"

    def counts(f: str, m: str) -> str:
        groups = fam.get(f, {}).get("summary", {}).get("groups", {})
        cs = [c for e in groups.values() if m in e for c in e[m]["counts"]]
        return f"{min(cs)}–{max(cs)}" if cs else "–"

    if "mixture" in fam:
        n = fam["mixture"]["summary"]["kmeans"]
        label = f"Gaussian mixtures, {n['groups']} groups × 5 seeds"
        row(label, "mean ARI", lambda m: get("mixture", m, "mean_ari"))
        row(label, f"right count at ≥ 4/5 seeds, of {n.get('clear_groups', 0)} with clear truth",
            lambda m: "–" if m == "kmeans" else get("mixture", m, "clear_right_count_4of5"))
        row(label, "same count at ≥ 4/5 seeds (all groups)",
            lambda m: "–" if m == "kmeans" else get("mixture", m, "stable_groups"))
    if "heldout" in fam:
        n = fam["heldout"]["summary"]["kmeans"]
        label = f"held-out mixtures, {n['groups']} groups × 5 seeds"
        row(label, "mean ARI", lambda m: get("heldout", m, "mean_ari"))
        row(label, f"right count at ≥ 4/5 seeds, of {n.get('clear_groups', 0)} with clear truth",
            lambda m: "–" if m == "kmeans" else get("heldout", m, "clear_right_count_4of5"))
    if "unimodal" in fam:
        n = fam["unimodal"]["summary"]["peak"]["clouds"]
        label = f"featureless clouds ({n}: {n // 5} shapes × 5 seeds)"
        row(label, "false-region rate", lambda m: get("unimodal", m, "false_region_rate"))
        groups = fam["unimodal"]["summary"]["groups"]
        row(label, "of which on noisy circles",
            lambda m: "–" if m not in fam["unimodal"]["summary"] else str(sum(
                c > 1 for g, e in groups.items() if g.startswith("circle") and m in e
                for c in e[m]["counts"])) + " of " + str(5 * sum(g.startswith("circle")
                                                             for g in groups)))
    for f, label in (("minilm", "MiniLM corpus, 7 layers × 5 subsamples of 1000"),
                     ("wordnet", "MiniLM WordNet glosses, 3 layers × 5 subsamples of 800")):
        if f in fam:
            row(label, "mean ARI with the labels", lambda m, f=f: get(f, m, "mean_ari"))
            row(label, "layers with the same count at ≥ 4/5 subsamples",
                lambda m, f=f: "–" if m == "kmeans" else get(f, m, "stable_groups"))
            row(label, "counts seen", lambda m, f=f: "–" if m == "kmeans" else counts(f, m))
    return "\n".join(lines)


def table(family: str, summary: dict) -> list[str]:
    lines = [f"== {family}"]
    for g, e in summary["groups"].items():
        cells = [f"{m}: {e[m]['counts']} ari={e[m]['mean_ari']}" for m in METHODS if m in e]
        lines.append(f"{g:22s} " + " | ".join(cells))
    for m in METHODS:
        if m in summary:
            lines.append(f"  {m:18s} {summary[m]}")
    return lines


if __name__ == "__main__":
    main()
