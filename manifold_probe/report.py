"""Figures (PNG and SVG) and a self-contained HTML report of a run directory.

:func:`write_report` reads ``DIR/profile.json`` (and ``DIR/perturbations.csv`` when present),
draws the figures into ``DIR/figures/`` with matplotlib's Agg backend, and writes
``DIR/report.html`` with every image embedded as base64, so the file opens without a server.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._io import atomic_write_bytes

__all__ = ["COLUMN_HELP", "FIGURES", "make_figures", "write_report"]

#: figure file stems (each saved as .png and .svg under DIR/figures/)
FIGURES = ("profile_dimension", "profile_gride", "profile_curvature", "profile_warp",
           "profile_topology", "perturbations")

COLUMN_HELP = {
    "layer": "index of the residual state (0 = token embeddings, l = after block l)",
    "layer_name": "the captured module's name",
    "n_points": "number of inputs (one point per sentence, or per token)",
    "dim_ambient": "width of the layer: the dimension D of the space the points live in",
    "id_twonn": "intrinsic dimension by TwoNN (Facco et al. 2017), from the ratio of "
                "second- to first-neighbour distances",
    "id_twonn_lo": "lower end of TwoNN's 95% interval",
    "id_twonn_hi": "upper end of TwoNN's 95% interval",
    "id_mle": "intrinsic dimension by maximum likelihood over k neighbours (Levina & Bickel 2004)",
    "id_gride_n1": "GRIDE dimension at neighbour rank n1 (Denti et al. 2022); larger n1 = coarser scale",
    "curvature_median": "median Riemannian scalar curvature over points (sphere of radius r in n "
                        "dimensions: n(n-1)/r^2; flat: 0), in squared inverse units of the layer",
    "curvature_q25": "first quartile of the scalar curvature",
    "curvature_q75": "third quartile of the scalar curvature",
    "geodesic_distortion_prev": "spread of log(d_l / d_{l-1}) over pairs, d = geodesic distance "
                                "along the point cloud; 0 when the block is a scaled isometry",
    "geodesic_log_ratio_prev": "median log(d_l / d_{l-1}): the overall change of scale",
    "knn_overlap_prev": "mean Jaccard overlap of each point's k nearest neighbours in layers "
                        "l-1 and l (1 = all neighbourhoods kept)",
    "trustworthiness_prev": "Venna & Kaski trustworthiness: 1 when layer l creates no "
                            "false neighbours",
    "continuity_prev": "Venna & Kaski continuity: 1 when layer l loses no neighbours",
    "geodesic_distortion_input": "as geodesic_distortion_prev, from layer 0 to layer l",
    "geodesic_log_ratio_input": "as geodesic_log_ratio_prev, from layer 0 to layer l",
    "knn_overlap_input": "as knn_overlap_prev, from layer 0 to layer l",
    "trustworthiness_input": "as trustworthiness_prev, from layer 0 to layer l",
    "continuity_input": "as continuity_prev, from layer 0 to layer l",
    "betti_0": "number of significant connected components (persistent homology, "
               "bootstrap confidence band of Fasy et al. 2014)",
    "betti_1": "number of significant independent loops",
    "betti_2": "number of significant enclosed cavities",
    "topology_preserved_prev": "true when the significant Betti numbers of layers l-1 and l agree",
    "diagram_distance_prev": "largest scale-normalised distance between the persistence "
                             "diagrams of layers l-1 and l",
    "trajectory_curvature": "median over inputs of the mean turning angle (degrees) of the "
                            "sequence of token vectors (0 = straight line)",
}


def _load_profile(out: Path) -> tuple[list[str], list[dict]]:
    data = json.loads((out / "profile.json").read_text(encoding="utf-8"))
    return data["columns"], data["rows"]


def _load_perturbations(out: Path) -> list[dict] | None:
    path = out / "perturbations.csv"
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _col(rows: list[dict], key: str) -> np.ndarray:
    vals = []
    for r in rows:
        v = r.get(key)
        if isinstance(v, bool):
            v = float(v)
        vals.append(np.nan if v is None or v == "" else float(v))
    return np.asarray(vals, dtype=np.float64)


def make_figures(out: str | Path) -> dict[str, Path]:
    """Draw the profile figures (PNG + SVG) into ``out/figures``; returns stem -> PNG path."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out = Path(out)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    columns, rows = _load_profile(out)
    layers = np.arange(len(rows))
    names = [str(r.get("layer_name", r["layer"])) for r in rows]
    made: dict[str, Path] = {}

    def save(fig, stem):
        fig.tight_layout()
        for ext in ("png", "svg"):
            buf = io.BytesIO()
            fig.savefig(buf, format=ext, dpi=110 if ext == "png" else None)
            atomic_write_bytes(figdir / f"{stem}.{ext}", buf.getvalue())
        plt.close(fig)
        made[stem] = figdir / f"{stem}.png"

    def axis(ax, ylabel):
        ax.set_xticks(layers)
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_xlabel("layer")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)

    fig, ax = plt.subplots(figsize=(6, 3.6))
    tw, lo, hi = _col(rows, "id_twonn"), _col(rows, "id_twonn_lo"), _col(rows, "id_twonn_hi")
    ax.plot(layers, tw, "o-", label="TwoNN")
    if np.isfinite(lo).any():
        ax.fill_between(layers, lo, hi, alpha=0.2, label="TwoNN 95% interval")
    ax.plot(layers, _col(rows, "id_mle"), "s--", label="MLE")
    axis(ax, "intrinsic dimension")
    ax.set_title("Intrinsic dimension by layer")
    ax.legend(fontsize=8)
    save(fig, "profile_dimension")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    gride = sorted((c for c in columns if c.startswith("id_gride_")), key=lambda c: int(c.split("_")[-1]))
    scales = [int(c.split("_")[-1]) for c in gride]
    cmap = plt.get_cmap("viridis")
    for i, r in enumerate(rows):
        ax.plot(scales, [np.nan if r.get(c) is None else r[c] for c in gride], "o-",
                color=cmap(i / max(1, len(rows) - 1)), label=names[i])
    if scales:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("neighbour rank n1 (scale)")
    ax.set_ylabel("GRIDE dimension")
    ax.set_title("Intrinsic dimension across scales")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    save(fig, "profile_gride")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    med, q25, q75 = _col(rows, "curvature_median"), _col(rows, "curvature_q25"), _col(rows, "curvature_q75")
    ax.plot(layers, med, "o-", label="median")
    ax.fill_between(layers, q25, q75, alpha=0.2, label="quartiles")
    ax.axhline(0, color="k", lw=0.8)
    axis(ax, "scalar curvature")
    ax.set_title("Scalar curvature by layer")
    ax.legend(fontsize=8)
    save(fig, "profile_curvature")

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.6))
    a1.plot(layers, _col(rows, "geodesic_distortion_prev"), "o-", label="vs previous layer")
    a1.plot(layers, _col(rows, "geodesic_distortion_input"), "s--", label="vs input layer")
    axis(a1, "geodesic distortion (spread of log-ratio)")
    a1.set_title("How far from an isometry")
    a1.legend(fontsize=8)
    for key, style, label in (("knn_overlap_prev", "o-", "kNN overlap, prev"),
                              ("knn_overlap_input", "s--", "kNN overlap, input"),
                              ("trustworthiness_prev", "^:", "trustworthiness, prev"),
                              ("continuity_prev", "v:", "continuity, prev")):
        a2.plot(layers, _col(rows, key), style, label=label)
    a2.set_ylim(0, 1.05)
    axis(a2, "neighbourhood preservation")
    a2.set_title("Which neighbourhoods survive")
    a2.legend(fontsize=7)
    save(fig, "profile_warp")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    bettis = [c for c in columns if c.startswith("betti_") and c[6:].isdigit()]
    width = 0.8 / max(1, len(bettis))
    for j, c in enumerate(bettis):
        ax.bar(layers + (j - (len(bettis) - 1) / 2) * width, _col(rows, c), width, label=c)
    kept = _col(rows, "topology_preserved_prev")
    top = np.nanmax([_col(rows, c) for c in bettis]) if bettis else 1.0
    for i, v in enumerate(kept):
        if np.isfinite(v):
            ax.text(i, (top if np.isfinite(top) else 1) * 1.05 + 0.1, "kept" if v else "changed",
                    ha="center", fontsize=7, color="green" if v else "red")
    axis(ax, "significant Betti number")
    ax.set_title("Topology by layer (label: vs previous layer)")
    ax.legend(fontsize=8)
    save(fig, "profile_topology")

    prow = _load_perturbations(out)
    if prow:
        labels = sorted({r["perturbation"] for r in prow})
        lay = sorted({int(r["layer"]) for r in prow})
        grid = np.full((len(labels), len(lay)), np.nan)
        ov = np.full_like(grid, np.nan)
        for r in prow:
            i, j = labels.index(r["perturbation"]), lay.index(int(r["layer"]))
            grid[i, j] = 1.0 if r["topology_preserved"] == "true" else 0.0
            ov[i, j] = float(r["knn_overlap"]) if r.get("knn_overlap") else np.nan
        fig, ax = plt.subplots(figsize=(1.6 + 0.9 * len(lay), 1.2 + 0.5 * len(labels)))
        ax.imshow(grid, cmap="RdYlGn", vmin=-1.5, vmax=2.5, aspect="auto")  # pale colours: text stays legible
        for i in range(len(labels)):
            for j in range(len(lay)):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{'kept' if grid[i, j] else 'changed'}\nJ={ov[i, j]:.2f}",
                            ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(lay)))
        ax.set_xticklabels([names[j] if j < len(names) else str(j) for j in lay], rotation=30,
                           ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_title("Perturbations: topology kept? (J = kNN overlap)", fontsize=9)
        save(fig, "perturbations")
    return made


def _table(columns: list[str], rows: list[dict]) -> str:
    def cell(v: Any) -> str:
        if v is None or v == "":
            return ""
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th title='{html.escape(COLUMN_HELP.get(c, ''))}'>{html.escape(c)}</th>"
                   for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(out: str | Path) -> dict[str, str]:
    """Figures plus ``out/report.html`` (self-contained); returns their paths."""
    out = Path(out)
    figures = make_figures(out)
    columns, rows = _load_profile(out)
    config = {}
    if (out / "config.json").exists():
        config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>manifold_probe report: {html.escape(str(config.get('name', out.name)))}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 5px}"
        "img{max-width:100%;display:block;margin:1em 0}dt{font-weight:bold}</style></head><body>",
        f"<h1>Layer profile: {html.escape(str(config.get('model', {}).get('spec', '')))}</h1>",
        f"<p>{rows[0]['n_points'] if rows else 0} inputs, {len(rows)} layers.</p>",
    ]
    for stem, png in figures.items():
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(f"<figure><img class='figure' alt='{stem}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{stem}</figcaption></figure>")
    parts.append("<h2>Profile</h2>")
    parts.append(_table(columns, rows))
    prow = _load_perturbations(out)
    if prow:
        parts.append("<h2>Perturbations: which changes keep topology</h2>")
        parts.append(_table(list(prow[0]), prow))
    parts.append("<h2>Columns</h2><dl>")
    for c in columns:
        key = "id_gride_n1" if c.startswith("id_gride_") else c
        if key in COLUMN_HELP:
            parts.append(f"<dt>{html.escape(c)}</dt><dd>{html.escape(COLUMN_HELP[key])}</dd>")
    parts.append("</dl>")
    parts.append(
        "<script>window.addEventListener('load',function(){var im=document.images,n=0;"
        "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)n++;}"
        "document.body.setAttribute('data-images-loaded',n+'/'+im.length);});</script>"
    )
    parts.append("</body></html>")
    atomic_write_bytes(out / "report.html", "\n".join(parts).encode("utf-8"))
    return {"report": str(out / "report.html"), **{f"figure_{k}": str(v) for k, v in figures.items()}}
