"""The HTML page: interactive plotly figures (plotly.js inlined, nothing fetched), their static
PNG/SVG copies, readable captions, a scrolling table and a glossary of the columns."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from manifold_probe.analysis.columns import PROFILE, describe
from manifold_probe.report.data import RunData
from manifold_probe.report.figure_model import Figure

__all__ = ["COLUMN_HELP", "column_help", "page"]

#: column (or column pattern, e.g. ``id_gride_<n1>``) -> its meaning and units, from the one
#: schema of the written columns (:mod:`manifold_probe.analysis.columns`)
COLUMN_HELP = {c.name: describe(c.name) for c in PROFILE}

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


def column_help(column: str, table: str = "profile") -> str | None:
    """The glossary entry of a column (``id_gride_8`` -> ``id_gride_<n1>``'s, and so on)."""
    return describe(column, table)


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


def _table(columns: list[str], rows: list[dict], table: str = "profile") -> str:
    head = "".join(f"<th title='{html.escape(column_help(c, table) or '')}'>{html.escape(c)}</th>"
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
                  "reading and the null's value; undecided where seeds disagree. The warp "
                  "calls are family-wise over the run's layer pairs (FWER p: Westfall–Young "
                  "max-T over the null draws, at most a 5% chance of any false call per "
                  "seed). Only readings above or below their null are findings.</p>",
                  null_table_html(run.rows, run.columns)]
    parts += ["<h2>Profile table</h2><p>One row per layer; hover a column name for its "
              "meaning (also listed below). The table scrolls inside its box.</p>",
              _table(run.columns, run.rows)]
    if run.perturbations:
        parts += ["<h2>Perturbations</h2>",
                  _table(list(run.perturbations[0]), run.perturbations, "perturbations")]
    parts.append("<h2>Columns</h2><dl>")
    for c in run.columns:
        if (text := column_help(c)) is not None:
            parts.append(f"<dt>{html.escape(c)}</dt><dd>{html.escape(text)}</dd>")
    parts.append("</dl>")
    if run.perturbations:
        parts.append("<h3>Perturbation columns</h3><dl>")
        for c in run.perturbations[0]:
            if (text := column_help(c, "perturbations")) is not None:
                parts.append(f"<dt>{html.escape(c)}</dt><dd>{html.escape(text)}</dd>")
        parts.append("</dl>")
    parts += [ f"<script>{_JS}</script>", "</body></html>"]
    return "\n".join(parts)
