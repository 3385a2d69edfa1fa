"""The HTML page: interactive plotly figures (plotly.js inlined, nothing fetched), their static
PNG/SVG copies, readable captions, a scrolling table and a glossary of the columns."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

from manifold_probe.report.data import RunData
from manifold_probe.report.figures import Figure

__all__ = ["COLUMN_HELP", "column_help", "page"]

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
    "curvature_median": "median Riemannian scalar curvature over points (sphere of radius r in n "
                        "dimensions: n(n-1)/r^2; flat: 0), in 1/(activation units)^2",
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
    "betti_0": "number of significant connected components (single linkage on a landmark "
               "net; each merge tested against exponential edge tails)",
    "betti_1": "number of significant independent loops",
    "betti_2": "number of significant enclosed cavities",
    "topology_preserved_prev": "true when the significant Betti numbers of layers l-1 and l agree",
    "diagram_distance_prev": "largest scale-normalised distance between the persistence "
                             "diagrams of layers l-1 and l",
    "trajectory_curvature": "median over inputs of the mean turning angle (degrees) of the "
                            "sequence of token vectors (0 = straight line)",
    "id_gride_n1": "GRIDE dimension (Denti et al. 2022) at neighbour rank n1, from the ratio "
                   "of each point's 2n1-th to n1-th neighbour distance; n1 = 1 is TwoNN's "
                   "scale, larger n1 = coarser scale",
    "curvature_dim": "dimension n of the quadratic patches fitted for the curvature (the "
                     "layer's rounded TwoNN dimension unless the config sets it)",
    "curvature_note": "why the curvature could not be computed on this layer",
    "dimension_note": "why a dimension estimator could not run on this layer",
    "topology_note": "why the Betti numbers could not be computed on this layer",
    "topology_verdict_prev": "kept / broken / undecided: whether the topology of layer l "
                             "agrees with layer l-1's",
    "n_regions": "number of semantic regions (clusters) found in the layer",
    "regions_ari": "adjusted Rand index of the regions against the input labels (0 = chance)",
    "regions_nmi": "normalised mutual information of the regions and the input labels",
    "label_purity": "mean share of each point's k nearest neighbours with its own label",
    "regions_merged_prev": "true when the block merged regions of the previous layer",
    "regions_split_prev": "true when the block split regions of the previous layer",
    "structure_stat": "test statistic of a known input structure in the class-mean subspace",
    "structure_p": "permutation p-value of that statistic (small: the structure is there)",
    "structure_variance": "share of the class-mean subspace's variance the structure explains",
    "radius_rms": "RMS distance of the points from their mean (activation units)",
    "id_twonn_null": "TwoNN of a Gaussian cloud with the layer's mean, covariance and size",
    "id_twonn_null_lo": "lower end of the null's TwoNN 95% interval",
    "id_twonn_null_hi": "upper end of the null's TwoNN 95% interval",
    "id_twonn_vs_null": "above / within / below: the layer's TwoNN interval against the null's",
    "id_mle_null": "MLE dimension of the matched Gaussian cloud",
    "id_mle_null_lo": "lower end of the null MLE's 95% bootstrap interval over points",
    "id_mle_null_hi": "upper end of the null MLE's 95% bootstrap interval over points",
    "id_mle_vs_null": "above / within / below: the layer's MLE bootstrap interval against "
                      "the null's",
    "curvature_median_lo": "lower end of the 95% order-statistic interval of the median "
                           "curvature, 1/(activation units)^2",
    "curvature_median_hi": "upper end of that interval, 1/(activation units)^2",
    "curvature_median_null": "median curvature of a Gaussian cloud with the layer's mean and "
                             "covariance (same points, same fit dimension)",
    "curvature_median_null_lo": "lower end of the null median's 95% interval",
    "curvature_median_null_hi": "upper end of the null median's 95% interval",
    "curvature_median_vs_null": "above / within / below: the intervals of the two medians",
    "n_regions_null": "regions found in a Gaussian surrogate of the subsample (same mean, "
                      "covariance and size; more than 1 is a false region)",
    "n_regions_vs_null": "above / within / below: regions of the layer against the surrogate's",
    "trajectory_curvature_shuffled": "median trajectory curvature (degrees) with each input's "
                                     "tokens in a random order (median of 39 shufflings)",
    "trajectory_curvature_null_lo": "smallest of the 39 shuffled medians (degrees)",
    "trajectory_curvature_null_hi": "largest of the 39 shuffled medians (degrees)",
    "trajectory_curvature_gaussian": "median trajectory curvature (degrees) of i.i.d. tokens "
                                     "from a Gaussian with the layer's mean and covariance",
    "trajectory_curvature_vs_null": "above / within / below the shuffled-order range "
                                    "(below: straighter than chance)",
    "structure_p_min": "smallest p-value the permutation test can give, 1/(n_perm+1)",
    "structure_effect": "statistic minus its null mean, in null standard deviations",
    "structure_stat_null": "mean of the statistic over the permutations",
    "structure_p_holm": "Holm-adjusted p over every structure test of the profile",
    "structure_vs_null": "above where the Holm-adjusted p is at most alpha; within otherwise; "
                         "undecided where p_min cannot reach Holm's first cut",
}

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1200px;margin:auto;
 padding:1em 1.5em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin:.2em 0}
.summary{color:#444}.notes{color:#8a5a00}
figure.fig{margin:2em 0;padding:1em;border:1px solid #e3e3e3;border-radius:6px}
.plot{width:100%;min-height:300px}
figcaption{font-size:.95em;max-width:75em}
.unc{background:#f4f7fb;border-left:3px solid #1f77b4;padding:.3em .6em;margin:.5em 0}
details img{max-width:100%;display:block;margin:.5em 0}
.table-wrap{max-width:100%;overflow-x:auto;border:1px solid #ddd;max-height:70vh}
table{border-collapse:collapse;font-size:12px;white-space:nowrap}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{position:sticky;top:0;background:#f2f2f2}
td:first-child,th:first-child{position:sticky;left:0;background:#fafafa}
dl{columns:2 28em}dt{font-weight:bold;font-family:monospace}dd{margin:0 0 .5em 1em;break-inside:avoid}
"""

_JS = """
function mpOverlaps(div){
  // pairs of labels (titles, annotations, legend, point labels, ticks) whose boxes intersect
  var sel='text.annotation-text, text[class*="title"], text.legendtext, g.textpoint text, g.xtick text';
  var el=Array.prototype.slice.call(div.querySelectorAll(sel)).filter(function(e){
    return e.textContent.trim() && e.getBoundingClientRect().width>0;});
  var r=el.map(function(e){return e.getBoundingClientRect();}), out=[];
  for (var i=0;i<r.length;i++) for (var j=i+1;j<r.length;j++){
    var w=Math.min(r[i].right,r[j].right)-Math.max(r[i].left,r[j].left);
    var h=Math.min(r[i].bottom,r[j].bottom)-Math.max(r[i].top,r[j].top);
    if (w>1 && h>1) out.push(el[i].textContent+' / '+el[j].textContent);
  }
  div.setAttribute('data-labels-checked', el.length);
  return out;
}
function mpDraw(){
  var figs=document.querySelectorAll('figure.fig'), drawn=0, withUnc=0, overlaps=0;
  figs.forEach(function(f){
    var spec=JSON.parse(document.getElementById('data-'+f.dataset.figure).textContent);
    var div=f.querySelector('.plot');
    Plotly.newPlot(div, spec.data, spec.layout, {responsive:true, displaylogo:false});
    var n=div.data.filter(function(t){
      return (t.error_y && t.error_y.visible) || t.fill==='tonexty' ||
             (t.type==='heatmap' && JSON.stringify(t.text).indexOf('[')>=0);}).length;
    f.setAttribute('data-uncertainty-traces', n);
    var ov=mpOverlaps(div); overlaps+=ov.length;
    f.setAttribute('data-text-overlaps', ov.length);
    if (ov.length) f.setAttribute('data-overlap-detail', ov.slice(0,5).join(' | '));
    f.setAttribute('data-rendered', div.querySelector('.main-svg') ? 'yes' : 'no');
    if (div.querySelector('.main-svg')) drawn++;
    if (n>0) withUnc++;
  });
  var im=document.images, ok=0;
  for (var i=0;i<im.length;i++){ if(im[i].complete && im[i].naturalWidth>0) ok++; }
  var b=document.body;
  b.setAttribute('data-figures-drawn', drawn+'/'+figs.length);
  b.setAttribute('data-figures-with-uncertainty', withUnc+'/'+figs.length);
  b.setAttribute('data-images-loaded', ok+'/'+im.length);
  b.setAttribute('data-text-overlaps', overlaps);
  b.setAttribute('data-page-overflow', document.documentElement.scrollWidth>window.innerWidth+1 ? 'yes':'no');
}
window.addEventListener('load', mpDraw);
"""


def column_help(column: str) -> str | None:
    """The glossary entry of a column (``id_gride_8`` -> ``id_gride_n1``'s, and so on)."""
    if column in COLUMN_HELP:
        return COLUMN_HELP[column]
    if re.fullmatch(r"id_gride_\d+", column):
        return COLUMN_HELP["id_gride_n1"]
    m = re.fullmatch(r"structure_.+?_(stat_null|p_min|p_holm|vs_null|effect|stat|p|variance)",
                     column)
    return COLUMN_HELP[f"structure_{m[1]}"] if m else None


def _plotly_script() -> str:
    """plotly.js as shipped in the ``plotly`` package, inlined as a ``data:`` URL (never a CDN).

    Base64 keeps the library's own strings (links to its website, unused CDN defaults for map
    plots) out of the page's text; none of the figure types used here fetches anything.
    """
    import plotly

    js = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    return f"<script src='data:text/javascript;base64,{base64.b64encode(js).decode('ascii')}'></script>"


def _cell(v: Any) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _table(columns: list[str], rows: list[dict]) -> str:
    head = "".join(f"<th title='{html.escape(column_help(c) or '')}'>{html.escape(c)}</th>"
                   for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return (f"<div class='table-wrap'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _figure(fig: Figure, spec: dict, png: bytes, stem_path: str) -> str:
    data = json.dumps(spec, allow_nan=False).replace("</", "<\\/")
    b64 = base64.b64encode(png).decode("ascii")
    return (f"<figure class='fig' id='fig-{fig.stem}' data-figure='{fig.stem}'>"
            f"<h2>{html.escape(fig.title)}</h2><div class='plot'></div>"
            f"<script type='application/json' id='data-{fig.stem}'>{data}</script>"
            f"<figcaption><p>{fig.caption}</p><p class='unc'><b>Uncertainty:</b> "
            f"{fig.uncertainty}.</p><details><summary>static copy for a paper "
            f"({html.escape(stem_path)}.png / .svg)</summary><img alt='{fig.stem}' "
            f"src='data:image/png;base64,{b64}'></details></figcaption></figure>")


def page(run: RunData, figures: list[tuple[Figure, dict, bytes]], head: str = "") -> str:
    """The whole report as one HTML string (opens from disk, fetches nothing)."""
    cfg = run.config
    model = cfg.get("model", {}).get("spec", "")
    n_points = run.rows[0].get("n_points") if run.rows else 0
    pooling = cfg.get("capture", {}).get("pooling", "")
    seeds = (f"{run.n_seeds} seeds" if run.n_seeds > 1 else
             f"one seed ({cfg['seeds'][0]})" if cfg.get("seeds") else "one seed")
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{head}",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>manifold_probe report: {html.escape(str(cfg.get('name', run.out.name)))}</title>",
        f"<style>{_CSS}</style>{_plotly_script()}</head><body>",
        f"<h1>Layer profile of {html.escape(str(model or run.out.name))}</h1>",
        f"<p class='summary'>{n_points} inputs"
        + (f" ({html.escape(str(pooling))} pooling)" if pooling else "")
        + f", {len(run.rows)} layers, {seeds}. Each figure is interactive (hover for values, "
        "drag to zoom, double-click to reset); its caption says what to look for and what the "
        "bars and bands mean. Static PNG/SVG copies are in <code>figures/</code>.</p>",
    ]
    if run.notes:
        parts.append("<p class='notes'>" + "; ".join(map(html.escape, run.notes)) + ".</p>")
    for fig, spec, png in figures:
        parts.append(_figure(fig, spec, png, f"figures/{fig.stem}"))
    from manifold_probe.report.nulls import null_rows, null_table_html

    if null_rows(run.rows, run.columns):
        parts += ["<h2>Readings against their nulls</h2><p>Per measure and layer: above, "
                  "within or below the null computed with it (a Gaussian cloud of the layer's "
                  "mean and covariance, shuffled token order, relabelled inputs), with the "
                  "reading and the null's value; undecided where seeds disagree. Only "
                  "readings above or below their null are findings.</p>",
                  null_table_html(run.rows, run.columns)]
    parts += ["<h2>Profile table</h2><p>One row per layer; hover a column name for its "
              "meaning (also listed below). The table scrolls inside its box.</p>",
              _table(run.columns, run.rows)]
    if run.perturbations:
        parts += ["<h2>Perturbations</h2>",
                  _table(list(run.perturbations[0]), run.perturbations)]
    parts.append("<h2>Columns</h2><dl>")
    for c in run.columns:
        if (text := column_help(c)) is not None:
            parts.append(f"<dt>{html.escape(c)}</dt><dd>{html.escape(text)}</dd>")
    parts += ["</dl>", f"<script>{_JS}</script>", "</body></html>"]
    return "\n".join(parts)
