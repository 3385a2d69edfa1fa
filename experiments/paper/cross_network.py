"""Results: two networks side by side, and published claims checked on both.

MiniLM (all-MiniLM-L6-v2: 6 blocks, width 384) and MPNet (all-mpnet-base-v2: 12 blocks, width
768) are profiled with the same corpus, the same estimators and the same settings (one config
template, written to the results folder with the network's name in it), then put on a common
depth axis, the relative depth ``l / L``. Three runs per network:

- ``pooled``: mean-pooled sentences of the shipped corpus (days, months, numbers, categories);
- ``wordnet``: mean-pooled glosses of the shipped WordNet subset (the tree of word senses);
- ``tokens``: one point per token of a smaller set of sentences (trajectories through depth).

Each finding is decided per network by a rule fixed before looking at the data, from the
uncertainty the run reports (TwoNN's interval, the permutation p-values with their
multiple-testing cut); a finding "holds in both" only when both networks support it; a reading
whose uncertainty does not decide it is "undecided", never counted as support.

MPNet is fetched once with ``manifold-probe models get mpnet``; without it the experiment is
skipped with that reason.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from experiments.paper.common import (
    CLI,
    RESULTS,
    ROOT,
    Skip,
    fmt,
    num,
    pyplot,
    read_csv,
    require,
    save_figure,
    tex_escape,
    write_table,
)

NAME = "cross_network"
FIGURES = ("cross_network.pdf",)
TABLES = ("cross_network.tex", "literature.tex")
MACROS = {
    "CrossNetworksBoth": "number of findings that hold in both networks",
    "CrossNetworksFindings": "number of findings compared",
    "LiteratureAgree": "number of literature claims that agree in both networks",
    "LiteratureClaims": "number of literature claims checked",
}

NETWORKS = (("minilm", "MiniLM", "minilm"), ("mpnet", "MPNet", "mpnet"))


TEMPLATE = """\
# written by experiments/paper/cross_network.py: the same settings for every network
name = "{name}"
seeds = {seeds}
out = "runs/{name}"

[model]
spec = "{spec}"

[data]
source = "corpus"
corpus = "{corpus}"
n = {n}

[capture]
pooling = "{pooling}"
batch_size = 32

[estimators.knn]
k = 10

[estimators.mle]
k = 10

[estimators.curvature]
max_points = {curvature_points}

[estimators.geodesic]
n_sources = {n_sources}

[estimators.topology]
maxdim = 1
max_points = {topology_points}

[estimators.regions]
label = "category"
max_points = {region_points}
"""


def _config(params: dict[str, Any], spec: str, run: str) -> str:
    corpus = "wordnet" if run == "wordnet" else "templates"
    pooling = "tokens" if run == "tokens" else "mean"
    n = int(params[f"{run}_n"])
    return TEMPLATE.format(
        name=f"cross_{spec}_{run}", seeds=list(params["seeds"]), spec=spec, corpus=corpus, n=n,
        pooling=pooling, curvature_points=int(params["curvature_points"]),
        n_sources=int(params["n_sources"]), topology_points=int(params["topology_points"]),
        region_points=int(params["region_points"]))




def _mpnet_available() -> str | None:
    try:
        from manifold_probe.capture.packaged import model_path

        model_path("mpnet", verify=False)
    except Exception as exc:  # noqa: BLE001 - the reason is shown in the paper
        return str(exc)
    return None


def compute(params: dict[str, Any]) -> dict[str, Any]:
    require("manifold_probe.capture.packaged", "get_model")
    missing = _mpnet_available()
    if missing:
        raise Skip(missing)
    base = RESULTS / params["scale"] / "cross_network"
    base.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"runs": {}}
    for spec, _, _ in NETWORKS:
        for run in params["runs"]:
            config = base / f"{spec}_{run}.toml"
            config.write_text(_config(params, spec, run))
            out = base / f"{spec}_{run}"
            cmd = [sys.executable, "-c", CLI, "run", str(config), "--out", str(out), "--quiet",
                   "--no-report"]
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0 or not (out / "profile.csv").exists():
                lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
                raise Skip(f"`manifold-probe run` on {spec} ({run}) failed (exit "
                           f"{proc.returncode}): {lines[-1].strip() if lines else ''}")
            result["runs"][f"{spec}_{run}"] = read_csv(out / "profile.csv")
    return result


def relative_depth(rows: list[dict[str, str]]) -> np.ndarray:
    """``l / L`` for the residual layers (``embeddings`` = 0, ``layer_L`` = 1)."""
    layers = np.array([num(r, "layer") for r in rows])
    return layers / max(layers.max(), 1.0)


# -- findings: one rule each, fixed in advance ------------------------------------------

def id_rise_fall(rows) -> tuple[str, str]:
    """TwoNN peaks at an interior layer whose interval lies above both ends' intervals."""
    ids = np.array([num(r, "id_twonn") for r in rows])
    lo = np.array([num(r, "id_twonn_lo") for r in rows])
    hi = np.array([num(r, "id_twonn_hi") for r in rows])
    if not np.isfinite(ids).any():
        return "n/a", "no TwoNN column"
    p = int(np.nanargmax(ids))
    text = (f"peak {fmt(ids[p], 1)} [{fmt(lo[p], 1)}, {fmt(hi[p], 1)}] at l/L = "
            f"{fmt(relative_depth(rows)[p], 2)}; ends {fmt(ids[0], 1)}, {fmt(ids[-1], 1)}")
    if p in (0, len(ids) - 1):
        return "no", text
    if lo[p] > hi[0] and lo[p] > hi[-1]:
        return "yes", text
    return "undecided", text


def _structure(rows, name: str, alpha: float, where: str = "last") -> tuple[str, str]:
    """The known-structure test of ``name`` passes the Bonferroni cut over the layers.

    ``where="last"``: at the last layer; ``"best"``: at the layer of smallest p (the
    Bonferroni cut over the layers pays for choosing it). "undecided"
    when the smallest p the test can reach (``_p_min`` when the run reports it, else
    ``1 / (n_perm + 1)`` is not known and the p-value is at or above the cut) lies above the
    cut: such a test cannot pass, so failing it says nothing.
    """
    key = f"structure_{name}_p"
    ps = np.array([num(r, key) for r in rows])
    if not np.isfinite(ps).any():
        return "n/a", "not measured (labels absent)"
    cut = alpha / np.isfinite(ps).sum()
    i = len(ps) - 1 if where == "last" else int(np.nanargmin(ps))
    floor = num(rows[i], f"structure_{name}_p_min")
    text = f"p = {fmt(ps[i], 4)} (cut {fmt(cut, 4)}) at l/L = {fmt(relative_depth(rows)[i], 2)}"
    if ps[i] < cut:
        return "yes", text
    if np.isfinite(floor) and floor >= cut:
        return "undecided", text + f"; smallest reachable p {fmt(floor, 4)}"
    return "no", text


def trajectories_straighten(rows) -> tuple[str, str]:
    """Token trajectories' mean turning angle is lower at some interior layer than at the first
    measured layer, by more than the range of its shuffled-order baseline at that layer
    (``trajectory_curvature_null_hi - _null_lo``, 39 shufflings; 2 degrees when absent)."""
    ang = np.array([num(r, "trajectory_curvature") for r in rows])
    ok = np.flatnonzero(np.isfinite(ang))
    if ok.size < 3:
        return "n/a", "needs a per-token run with at least 3 layers"
    first, inner = ok[0], ok[1:-1]
    j = inner[int(np.argmin(ang[inner]))]
    spread = (num(rows[j], "trajectory_curvature_null_hi")
              - num(rows[j], "trajectory_curvature_null_lo"))
    margin = spread if np.isfinite(spread) else 2.0
    text = (f"{fmt(ang[first], 1)}° at l/L = {fmt(relative_depth(rows)[first], 2)} → "
            f"{fmt(ang[j], 1)}° at l/L = {fmt(relative_depth(rows)[j], 2)}")
    if ang[first] - ang[j] > margin:
        return "yes", text
    return "no", text


def regions_match_labels(rows) -> tuple[str, str]:
    """At the last layer the significant regions agree with the corpus categories (ARI > 0.3)."""
    ari = num(rows[-1], "regions_ari")
    if not np.isfinite(ari):
        return "n/a", "regions not measured"
    return ("yes" if ari > 0.3 else "no"), f"ARI {fmt(ari, 2)} at the last layer"


def topology_kept(rows) -> tuple[str, str]:
    """Every consecutive pair of layers keeps the significant Betti numbers."""
    vals = [r.get("topology_preserved_prev", "") for r in rows[1:]]
    known = [v for v in vals if v.lower() in ("true", "false", "1", "0", "1.0", "0.0")]
    if not known:
        return "n/a", "no verdicts"
    broken = sum(v.lower() in ("false", "0", "0.0") for v in known)
    text = f"{len(known) - broken}/{len(vals)} pairs kept"
    if len(known) < len(vals):
        return ("no" if broken else "undecided"), text + f", {len(vals) - len(known)} undecided"
    return ("yes" if broken == 0 else "no"), text


FINDINGS = (
    ("ID rises then falls across depth", "pooled", id_rise_fall),
    ("ID rises then falls across depth (per token)", "tokens", id_rise_fall),
    ("days-of-week cycle at its clearest layer", "pooled", lambda r, a: _structure(r, "days", a, "best")),
    ("months cycle at its clearest layer", "pooled", lambda r, a: _structure(r, "months", a, "best")),
    ("number line at its clearest layer", "pooled", lambda r, a: _structure(r, "numbers", a, "best")),
    ("WordNet tree at its clearest layer", "wordnet", lambda r, a: _structure(r, "wordnet_tree", a, "best")),
    ("regions match the categories", "pooled", regions_match_labels),
    ("topology kept layer to layer", "pooled", topology_kept),
    ("token trajectories straighten", "tokens", trajectories_straighten),
)

LITERATURE = (
    ("The intrinsic dimension of representations rises then falls across depth "
     r"\cite{ansuini2019,valeriani2023}", "ID rises then falls across depth"),
    (r"Days of the week and months lie on circles in a low-dimensional subspace \cite{engels2025}",
     ("days-of-week cycle at its clearest layer", "months cycle at its clearest layer")),
    (r"Hierarchical concepts (WordNet) are organised as a tree \cite{park2025}",
     "WordNet tree at its clearest layer"),
    (r"Token trajectories straighten across depth \cite{hosseini2023}",
     "token trajectories straighten"),
)


def _decide(rule, rows, alpha):
    try:
        return rule(rows, alpha)
    except TypeError:
        return rule(rows)


def combine(a: str, b: str) -> str:
    """Both / one / neither from two per-network decisions."""
    if a == "yes" and b == "yes":
        return "both"
    if "n/a" in (a, b):
        return "not testable"
    if "yes" in (a, b):
        return "one"
    if "undecided" in (a, b):
        return "undecided"
    return "neither"


def _plain(cell: str) -> str:
    """A table cell from TeX to Markdown (escapes and citations)."""
    import re

    text = re.sub(r"\\cite\{([^}]*)\}", lambda m: "(" + m.group(1).replace(",", ", ") + ")", cell)
    return text.replace("\\", "").replace("|", "/")


def _write_markdown(params: dict[str, Any], body: list, lit_body: list) -> Path:
    """docs/cross_network.md: both tables for the README, with the command that made them."""
    scale = params["scale"]
    command = ("python experiments/paper/make_all.py" + (" --quick" if scale == "quick" else "")
               + " --only cross_network")
    lines = [f"<!-- written by experiments/paper/cross_network.py ({scale} scale); do not edit -->",
             f"Made by `{command}` ({scale} scale: {params.get('pooled_n')} pooled sentences, "
             f"{params.get('wordnet_n')} WordNet glosses and {params.get('tokens_n')} sentences "
             "token by token, per network).", "",
             "| finding | run | MiniLM | MPNet | holds in |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(_plain(c) for c in row) + " |" for row in body]
    lines += ["", "| claim | MiniLM | MPNet | finding(s) used |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(_plain(c) for c in row) + " |" for row in lit_body]
    text = "\n".join(lines) + "\n"
    path = ROOT / "docs" / "cross_network.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    _update_readme(ROOT / "README.md", text)
    return path


README_BEGIN = "<!-- cross_network: begin (written by experiments/paper/cross_network.py) -->"
README_END = "<!-- cross_network: end -->"


def _update_readme(readme: Path, text: str) -> bool:
    """Replace the README's block between the cross_network markers (if it has them)."""
    if not readme.exists():
        return False
    old = readme.read_text(encoding="utf-8")
    if README_BEGIN not in old or README_END not in old:
        return False
    head, rest = old.split(README_BEGIN, 1)
    tail = rest.split(README_END, 1)[1]
    body = "\n".join(line for line in text.splitlines() if not line.startswith("<!--"))
    new = f"{head}{README_BEGIN}\n{body}\n{README_END}{tail}"
    if new != old:
        readme.write_text(new, encoding="utf-8")
    return True


def render(result: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    runs = result["runs"]
    alpha = float(params.get("alpha", 0.05))
    decided: dict[str, dict[str, tuple[str, str]]] = {}
    body = []
    for title, run, rule in FINDINGS:
        cells = [tex_escape(title), run]
        per = {}
        for spec, _, _ in NETWORKS:
            rows = runs.get(f"{spec}_{run}")
            per[spec] = ("n/a", "run not made") if not rows else _decide(rule, rows, alpha)
            cells.append(f"{per[spec][0]}: {tex_escape(per[spec][1])}")
        decided[title] = per
        cells.append(combine(per["minilm"][0], per["mpnet"][0]))
        body.append(cells)
    write_table(TABLES[0], ["finding", "run", "MiniLM", "MPNet", "holds in"], body,
                align="llp{0.3\\linewidth}p{0.3\\linewidth}l")

    lit_body, agree = [], 0
    for claim, keys in LITERATURE:
        keys = (keys,) if isinstance(keys, str) else keys
        words = []
        for spec, _, _ in NETWORKS:
            states = [decided[k][spec][0] for k in keys]
            if all(s == "yes" for s in states):
                w = "agree"
            elif "n/a" in states:
                w = "not testable"
            elif "undecided" in states:
                w = "undecided"
            else:
                w = "disagree"
            words.append(w)
        agree += all(w == "agree" for w in words)
        lit_body.append([claim, *words, "; ".join(tex_escape(k) for k in keys)])
    write_table(TABLES[1], ["claim", "MiniLM", "MPNet", "finding(s) used"], lit_body,
                align="p{0.34\\linewidth}llp{0.3\\linewidth}")

    plt = pyplot()
    panels = (("id_twonn", "TwoNN dimension", "pooled"),
              ("curvature_median", "median scalar curvature", "pooled"),
              ("knn_overlap_prev", "kNN overlap with previous layer", "pooled"),
              ("regions_ari", "ARI regions vs categories", "pooled"),
              ("structure_days_p", "days cycle p-value", "pooled"),
              ("trajectory_curvature", "trajectory turning angle (deg)", "tokens"))
    fig, axes = plt.subplots(2, 3, figsize=(10, 5.2))
    for ax, (key, label, run) in zip(axes.ravel(), panels, strict=True):
        for (spec, name, _), marker in zip(NETWORKS, "os", strict=True):
            rows = runs.get(f"{spec}_{run}") or []
            if not rows:
                continue
            x = relative_depth(rows)
            y = np.array([num(r, key) for r in rows])
            line = ax.plot(x, y, marker=marker, label=name)[0]
            if key == "id_twonn":
                lo = np.array([num(r, "id_twonn_lo") for r in rows])
                hi = np.array([num(r, "id_twonn_hi") for r in rows])
                ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
            if key == "curvature_median":
                lo = np.array([num(r, "curvature_q25") for r in rows])
                hi = np.array([num(r, "curvature_q75") for r in rows])
                ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        if key.endswith("_p"):
            ax.set_yscale("log")
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("relative depth l/L", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    save_figure(fig, FIGURES[0])
    _write_markdown(params, body, lit_body)
    both = sum(row[-1] == "both" for row in body)
    return {"CrossNetworksBoth": fmt(both), "CrossNetworksFindings": fmt(len(body)),
            "LiteratureAgree": fmt(agree), "LiteratureClaims": fmt(len(lit_body))}
