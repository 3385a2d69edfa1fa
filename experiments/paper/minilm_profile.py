"""Results: the layer profile of MiniLM and the perturbation table.

Runs ``manifold-probe run <config> --out experiments/paper/results/<scale>/minilm_run`` (the CLI
of the layer-profile issue; it resumes finished tasks itself), then reads ``profile.csv`` and
``perturbations.csv``. Whether the intrinsic dimension follows the rise-and-fall across depth of
Ansuini et al. (2019) and Valeriani et al. (2023) is decided by a rule fixed before looking at
the data: the TwoNN profile peaks at an interior layer and the peak exceeds both the first and
the last layer by more than ``rise_fall_margin`` (relative).
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
    fmt_pct,
    num,
    pyplot,
    read_csv,
    require,
    save_figure,
    tex_escape,
    write_missing_table,
    write_table,
)

NAME = "minilm_profile"
FIGURES = ("minilm_profile.pdf",)
TABLES = ("minilm_profile.tex", "perturbations.tex")
MACROS = {
    "MiniLMConfig": "config file of the run",
    "MiniLMBlocks": "number of blocks",
    "MiniLMWidth": "width d of the residual stream",
    "MiniLMSentences": "number of sentences",
    "MiniLMIDFirst": "TwoNN ID at the embeddings",
    "MiniLMIDPeak": "largest TwoNN ID",
    "MiniLMIDPeakLayer": "layer of the largest TwoNN ID",
    "MiniLMIDLast": "TwoNN ID at the last layer",
    "MiniLMIDMin": "smallest TwoNN ID",
    "MiniLMIDMinLayer": "layer of the smallest TwoNN ID",
    "IDRiseFallVerdict": "verdict sentence on the rise-and-fall",
    "PerturbVerdict": "verdict sentence on the perturbations",
}




def compute(params: dict[str, Any]) -> dict[str, Any]:
    require("manifold_probe.cli", "main")
    require("manifold_probe.experiment", "run_experiment")
    config = ROOT / params["config"]
    out = RESULTS / params["scale"] / "minilm_run"
    cmd = [sys.executable, "-c", CLI, "run", str(config), "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0 or not (out / "profile.csv").exists():
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if "Error" in ln or "error" in ln] or lines[-1:]
        raise Skip(f"`manifold-probe run` failed (exit {proc.returncode}): {errors[-1].strip() if errors else ''}")
    profile = read_csv(out / "profile.csv")
    pert_path = out / "perturbations.csv"
    perturbations = read_csv(pert_path) if pert_path.exists() else []
    return {"config": params["config"], "profile": profile, "perturbations": perturbations,
            "spread": _seed_spread(out)}


def _seed_spread(out: Path) -> dict[str, dict[str, list]]:
    """Smallest and largest value over the run's seeds of every seeded column (from the task
    files, as the report reads them): ``{column: {"lo": [...], "hi": [...]}}`` per layer."""
    from manifold_probe.report.data import load_run

    run = load_run(out)
    return {k: {"lo": [None if not np.isfinite(v) else float(v) for v in s.lo],
                "hi": [None if not np.isfinite(v) else float(v) for v in s.hi]}
            for k, s in run.spread.items()}


def _band(result: dict[str, Any], key: str) -> tuple[np.ndarray, np.ndarray] | None:
    s = result.get("spread", {}).get(key)
    if not s:
        return None
    return (np.array([np.nan if v is None else v for v in s["lo"]], dtype=float),
            np.array([np.nan if v is None else v for v in s["hi"]], dtype=float))


def _draw(ax, x, y, *, spread=None, null=None, within=None, marker="o", label=None, colour=None):
    """A per-layer curve with its seed spread (error bars), its null (grey band and dashed
    line) and hollow grey markers where the reading is within its null (not a finding)."""
    y = np.asarray(y, dtype=float)
    if null is not None:
        nv, nlo, nhi = null
        if nlo is not None:
            ax.fill_between(x, nlo, nhi, color="0.6", alpha=0.3, lw=0)
        ax.plot(x, nv, "--", color="0.5", lw=1, label="null" if label == "TwoNN" or
                label is None else None)
    if spread is not None:
        lo, hi = spread
        err = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
        err = np.where(np.isfinite(err), err, 0.0)
        line = ax.errorbar(x, y, yerr=err, fmt=marker + "-", capsize=2, ms=4, label=label,
                           color=colour)[0]
    else:
        (line,) = ax.plot(x, y, marker + "-", ms=4, label=label, color=colour)
    if within is not None and np.any(within):
        ax.plot(np.asarray(x)[within], y[within], marker, ls="", mfc="white", mec="0.55",
                ms=5, zorder=5)
    return line


def _calls(prof: list[dict[str, str]], key: str) -> np.ndarray | None:
    if key not in prof[0]:
        return None
    return np.array([r.get(key, "") in ("within", "undecided") for r in prof])


def _nulls(prof: list[dict[str, str]], key: str):
    if key not in prof[0]:
        return None
    lo, hi = f"{key}_lo", f"{key}_hi"
    return (np.array([num(r, key) for r in prof]),
            np.array([num(r, lo) for r in prof]) if lo in prof[0] else None,
            np.array([num(r, hi) for r in prof]) if hi in prof[0] else None)



def rise_fall(ids: np.ndarray, margin: float) -> tuple[str, int]:
    """Classify an ID profile: ``"rise-fall"``, ``"interior-small"``, ``"first"`` or ``"last"``."""
    p = int(np.nanargmax(ids))
    if p == 0:
        return "first", p
    if p == len(ids) - 1:
        return "last", p
    if ids[p] > (1 + margin) * ids[0] and ids[p] > (1 + margin) * ids[-1]:
        return "rise-fall", p
    return "interior-small", p


def _verdict(kind: str, margin: float, layer: str, mle_kind: str | None) -> str:
    m = fmt_pct(margin, 0)
    if kind == "rise-fall":
        s = (
            "The dimension therefore follows the rise-and-fall across depth reported for other "
            "transformers~\\cite{ansuini2019,valeriani2023}: it peaks at an intermediate layer "
            f"({tex_escape(layer)}) and exceeds both the first and the last layer by more than {m}."
        )
    elif kind == "interior-small":
        s = (
            f"The dimension peaks at an intermediate layer ({tex_escape(layer)}), but by no more than "
            f"{m} above the first or the last layer, so by our rule fixed in advance it does not "
            "show the rise-and-fall reported for other transformers~\\cite{ansuini2019,valeriani2023}."
        )
    else:
        where = "embeddings" if kind == "first" else "last layer"
        s = (
            f"The dimension is largest at the {where}, so it does not follow the rise-and-fall "
            "across depth reported for other transformers~\\cite{ansuini2019,valeriani2023}."
        )
    if mle_kind is not None:
        s += (
            " The MLE profile gives the same classification."
            if mle_kind == kind
            else " The MLE profile is classified differently, so the shape depends on the estimator."
        )
    return s


def _perturbation_summary(rows: list[dict[str, str]]) -> tuple[list[list[str]], str]:
    """Table rows and a sentence from ``perturbations.csv``: the scale-aware verdict per later
    layer (kept / broken / undecided; older tables without ``verdict`` read
    ``topology_preserved``)."""
    by: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by.setdefault(r["perturbation"], []).append(r)
    body, kept, broken_any, undecided_only = [], [], [], []

    def word(r: dict[str, str]) -> str:
        w = r.get("verdict", "")
        if w in ("kept", "broken", "undecided"):
            return w
        return "kept" if r.get("topology_preserved", "").lower() == "true" else "broken"

    for label, rs in by.items():
        rs = sorted(rs, key=lambda r: int(r["layer"]))
        words = [word(r) for r in rs]
        broken = [r["layer_name"] for r, w in zip(rs, words, strict=True) if w == "broken"]
        undecided = [r["layer_name"] for r, w in zip(rs, words, strict=True) if w == "undecided"]
        last = rs[-1]
        body.append(
            [
                r"\texttt{" + tex_escape(label) + "}",
                tex_escape(rs[0]["layer_name"]) + "--" + tex_escape(last["layer_name"]),
                tex_escape(", ".join(broken)) if broken else "--",
                tex_escape(", ".join(undecided)) if undecided else "--",
                tex_escape(last.get("betti_clean", "")) + r" $\to$ " + tex_escape(last.get("betti_perturbed", "")),
                fmt(num(last, "knn_overlap"), 2),
                fmt(num(last, "diagram_distance"), 3),
            ]
        )
        name = r"\texttt{" + tex_escape(label) + "}"
        (broken_any if broken else undecided_only if undecided else kept).append(name)
    if not by:
        return body, "No perturbation was run."
    parts = []
    if kept:
        parts.append(f"kept at every later layer under {', '.join(kept)}")
    if broken_any:
        parts.append(f"broken at some later layer under {', '.join(broken_any)}")
    if undecided_only:
        parts.append(f"undecided (the answer depends on the seed or subsample size) at some "
                     f"later layer, and never broken, under {', '.join(undecided_only)}")
    verdict = "The verdict was " + "; ".join(parts) + "."
    return body, verdict


def render(result: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    prof = result["profile"]
    layers = [r.get("layer_name") or r["layer"] for r in prof]
    ids = np.array([num(r, "id_twonn") for r in prof])
    mle = np.array([num(r, "id_mle") for r in prof])
    margin = float(params.get("rise_fall_margin", 0.1))

    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.6))
    x = np.arange(len(layers))
    def col(key: str) -> np.ndarray:
        return np.array([num(r, key) for r in prof])

    interval = (col("id_twonn_lo"), col("id_twonn_hi")) if "id_twonn_lo" in prof[0] else None
    _draw(axes[0], x, ids, spread=interval, null=_nulls(prof, "id_twonn_null"),
          within=_calls(prof, "id_twonn_vs_null"), label="TwoNN")
    if np.isfinite(mle).any():
        _draw(axes[0], x, mle, null=_nulls(prof, "id_mle_null"),
              within=_calls(prof, "id_mle_vs_null"), marker="s", label="MLE")
    axes[0].set_ylabel("intrinsic dimension")
    axes[0].legend(fontsize=7, frameon=False)
    _draw(axes[1], x, col("curvature_median"), spread=_band(result, "curvature_median"),
          null=_nulls(prof, "curvature_median_null"),
          within=_calls(prof, "curvature_median_vs_null"))
    axes[1].set_ylabel("median scalar curvature")
    _draw(axes[2], x, col("geodesic_distortion_prev"),
          spread=_band(result, "geodesic_distortion_prev"), label="distortion")
    _draw(axes[2], x, col("knn_overlap_prev"), spread=_band(result, "knn_overlap_prev"),
          marker="s", label="kNN overlap")
    axes[2].set_ylabel("vs previous layer")
    axes[2].legend(fontsize=7, frameon=False)
    _draw(axes[3], x, col("betti_0"), spread=_band(result, "betti_0"), label=r"$\beta_0$")
    _draw(axes[3], x, col("betti_1"), spread=_band(result, "betti_1"), marker="s",
          label=r"$\beta_1$")
    axes[3].set_ylabel("significant Betti numbers")
    axes[3].legend(fontsize=7, frameon=False)
    for ax in axes:
        ax.set_xticks(x, [lab.replace("layer_", "L").replace("embeddings", "emb") for lab in layers], fontsize=7)
    fig.tight_layout()
    save_figure(fig, FIGURES[0])

    cols = [
        ("id_twonn", "TwoNN", 1),
        ("id_mle", "MLE", 1),
        ("curvature_median", "$\\tilde S$", 2),
        ("geodesic_distortion_prev", "distortion", 3),
        ("knn_overlap_prev", "kNN overlap", 2),
        ("betti_0", "$\\beta_0$", 0),
        ("betti_1", "$\\beta_1$", 0),
        ("topology_preserved_prev", "kept", None),
    ]
    body = []
    split = _band(result, "topology_preserved_prev")
    for i, r in enumerate(prof):
        cells = [tex_escape(r.get("layer_name") or r["layer"])]
        for key, _, digits in cols:
            v = r.get(key, "")
            if digits is None:
                # a label only where every seed gives it
                if split is not None and np.isfinite(split[0][i]) and split[0][i] != split[1][i]:
                    v = "undecided"
                cells.append(tex_escape(v) if v else "--")
            elif digits == 0:
                cells.append(str(int(num(r, key))) if np.isfinite(num(r, key)) else "--")
            else:
                cells.append(fmt(num(r, key), digits))
        body.append(cells)
    write_table(TABLES[0], ["layer"] + [c[1] for c in cols], body, align="l" + "r" * len(cols))

    pert_body, pert_verdict = _perturbation_summary(result["perturbations"])
    if pert_body:
        write_table(
            TABLES[1],
            ["perturbation", "layers", "broken at", "undecided at", "$\\beta$ last layer",
             "kNN overlap", "bottleneck"],
            pert_body,
            align="llllrrr",
        )
    else:
        write_missing_table(TABLES[1], "the run produced no perturbations.csv")

    kind, peak = rise_fall(ids, margin)
    mle_kind = rise_fall(mle, margin)[0] if np.isfinite(mle).all() else None
    return {
        "MiniLMConfig": r"\config{" + tex_escape(Path(result["config"]).name) + "}",
        "MiniLMBlocks": fmt(len(layers) - 1),
        "MiniLMWidth": fmt(int(num(prof[0], "dim_ambient"))),
        "MiniLMSentences": fmt(int(num(prof[0], "n_points"))),
        "MiniLMIDFirst": fmt(ids[0], 1),
        "MiniLMIDPeak": fmt(ids[peak], 1),
        "MiniLMIDPeakLayer": r"\texttt{" + tex_escape(layers[peak]) + "}",
        "MiniLMIDLast": fmt(ids[-1], 1),
        "MiniLMIDMin": fmt(ids[int(np.nanargmin(ids))], 1),
        "MiniLMIDMinLayer": r"\texttt{" + tex_escape(layers[int(np.nanargmin(ids))]) + "}",
        "IDRiseFallVerdict": _verdict(kind, margin, layers[peak], mle_kind),
        "PerturbVerdict": pert_verdict,
    }
