"""Drawing a :class:`~manifold_probe.report.figures.Figure`: static (matplotlib) and plotly JSON."""

from __future__ import annotations

import io
import math

import numpy as np

from manifold_probe.report.figure_model import Figure, Panel, Trace

__all__ = ["plotly_figure", "static_figure"]

_MPL_MARKERS = {"circle": "o", "square": "s", "star": "*", "triangle-up": "^",
                "triangle-down": "v", "diamond": "D", "x": "x", "none": ""}
_HEAT = [[0.0, "#f4a6a0"], [0.5, "#d9d9d9"], [1.0, "#a6dba0"]]  # broken, undecided, kept


def _grid(fig: Figure) -> tuple[int, int, list[float]]:
    ncols = max(1, fig.ncols)
    nrows = math.ceil(len(fig.panels) / ncols)
    heights = [max(p.height for p in fig.panels[r * ncols:(r + 1) * ncols]) for r in range(nrows)]
    return nrows, ncols, heights


def _finite(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------- matplotlib
def static_figure(fig: Figure) -> dict[str, bytes]:
    """PNG (150 dpi) and SVG bytes of the figure, drawn with matplotlib's Agg backend.

    The constrained layout is solved once, when the PNG is drawn; the SVG is drawn with the
    axes where that layout put them (solving it again for the SVG renderer cost about a third
    of the drawing and moves the axes by fractions of a point)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    nrows, ncols, heights = _grid(fig)
    mfig = plt.figure(figsize=(6.4 * ncols, 0.6 + 3.8 * sum(heights)), layout="constrained")
    gs = mfig.add_gridspec(nrows, ncols, height_ratios=heights)
    for k, panel in enumerate(fig.panels):
        ax = mfig.add_subplot(gs[k // ncols, k % ncols])
        _mpl_panel(ax, panel)
    mfig.suptitle(fig.title, fontsize=12)
    out = {}
    for ext in ("png", "svg"):
        buf = io.BytesIO()
        mfig.savefig(buf, format=ext, dpi=150 if ext == "png" else None)
        out[ext] = buf.getvalue()
        mfig.set_layout_engine("none")  # the positions of the first drawing are kept
    plt.close(mfig)
    return out


def _mpl_panel(ax, panel: Panel) -> None:
    for t in panel.traces:
        _mpl_trace(ax, t, panel)
    for y, label in panel.hlines:
        ax.axhline(y, color="k", lw=0.8, ls=":" if y else "-")
        ax.annotate(label, (1, y), xycoords=("axes fraction", "data"), xytext=(-3, 2),
                    textcoords="offset points", ha="right", va="bottom", fontsize=7)
    if panel.title:
        ax.set_title(panel.title, fontsize=10)
    if panel.xlog:
        ax.set_xscale("log", base=2)
    if panel.ylog:
        ax.set_yscale("log")
    if panel.xticks:
        ax.set_xticks(panel.xticks[0])
        ax.set_xticklabels(panel.xticks[1], rotation=30 if len(panel.xticks[0]) > 4 else 0,
                           ha="right" if len(panel.xticks[0]) > 4 else "center", fontsize=8)
    if panel.yticks:
        ax.set_yticks(panel.yticks[0])
        ax.set_yticklabels(panel.yticks[1], fontsize=8)
    if panel.ylim:
        ax.set_ylim(*panel.ylim)
    if panel.xlim:
        ax.set_xlim(*panel.xlim)
    ax.set_xlabel(panel.xlabel)
    if panel.yhide:
        ax.set_yticks([])
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
    else:
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3)
    if any(t.kind != "heatmap" for t in panel.traces) and not panel.yhide:
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))  # one entry per name
        ax.legend(unique.values(), unique.keys(), fontsize=7, framealpha=0.85,
                  ncol=2 if len(unique) > 6 else 1)


def _mpl_trace(ax, t: Trace, panel: Panel) -> None:
    lo, hi = _finite(t.lo), _finite(t.hi)
    y = np.asarray(t.y, dtype=np.float64)
    if t.kind == "heatmap":
        ax.imshow(t.z, cmap=_heat_cmap(), vmin=0, vmax=1, aspect="auto")
        for i, row in enumerate(t.text or []):
            for j, s in enumerate(row):
                ax.text(j, i, s.replace("<br>", "\n"), ha="center", va="center", fontsize=7)
        return
    if t.kind == "bar":
        err = None if lo is None else np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
        ax.bar(t.x, y, width=t.width,
               yerr=err, capsize=3, label=t.name, color=t.color)
        return
    if t.band and lo is not None:
        ax.fill_between(t.x, lo, hi, alpha=0.2, color=t.color,
                        label=t.name if t.marker == "none" else None)
        if t.marker == "none":
            return
    marker = _MPL_MARKERS.get(t.marker, "o")
    style = "" if t.kind == "marker" else ("--" if t.dash else "-")
    if lo is not None and not t.band:
        ax.errorbar(t.x, y, yerr=np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)]),
                    fmt=marker + style, capsize=3, color=t.color, label=t.name,
                    ms=12 if t.marker == "star" else 5)
    else:
        ax.plot(t.x, y, marker + style, color=t.color, label=t.name,
                ms=12 if t.marker == "star" else 5)
    if t.hollow is not None and np.any(t.hollow) and marker:
        h = np.asarray(t.hollow, dtype=bool)
        # readings within their null: drawn over in white with a grey rim, never as findings
        ax.plot(np.asarray(t.x)[h], y[h], marker, ls="", mfc="white", mec="#9a9a9a", mew=1.2,
                ms=7, zorder=5)
    for xi, s in zip(t.x, t.text or [], strict=False):
        ax.annotate(s, (xi, 0), textcoords="offset points", xytext=(0, 9), ha="center",
                    fontsize=8, color=t.color)


def _heat_cmap():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("verdict", [(p, c) for p, c in _HEAT])


# --------------------------------------------------------------------------- plotly
def _js(a) -> list:
    """A JSON-able list with NaN/inf as None (plotly leaves a gap)."""
    arr = np.asarray(a, dtype=object)
    return [_js(v) if isinstance(v, (list, np.ndarray)) else
            (None if v is None or (isinstance(v, float) and not math.isfinite(v)) else
             (float(v) if isinstance(v, (float, np.floating)) else v)) for v in arr.tolist()]


def plotly_figure(fig: Figure) -> dict:
    """The figure as a plotly.js ``{data, layout}`` object (drawn in the page, no server)."""
    nrows, ncols, heights = _grid(fig)
    gap_x, gap_y = 0.1, 0.16
    total = sum(heights)
    # the page's heading is the title; the panel titles sit above each panel
    layout: dict = {"margin": {"t": 40, "b": 60, "l": 70, "r": 20}, "height": int(120 + 330 * total),
                    "template": "plotly_white", "hovermode": "closest",
                    "legend": {"orientation": "h", "y": -0.18, "yanchor": "top", "x": 0},
                    "annotations": [], "shapes": []}
    data: list[dict] = []
    seen: set[str] = set()
    for k, panel in enumerate(fig.panels):
        r, c = divmod(k, ncols)
        w = (1 - gap_x * (ncols - 1)) / ncols
        x0 = c * (w + gap_x)
        usable = 1 - gap_y * (nrows - 1)
        y1 = 1 - sum(heights[:r]) / total * usable - gap_y * r
        y0 = y1 - heights[r] / total * usable
        sfx = "" if k == 0 else str(k + 1)
        xa: dict = {"domain": [x0, x0 + w], "anchor": f"y{sfx}", "title": {"text": panel.xlabel},
                    "automargin": True, "zeroline": False}
        if panel.xlim:
            xa["range"] = list(panel.xlim)
        ya: dict = {"domain": [max(0.0, y0), y1], "anchor": f"x{sfx}",
                    "title": {"text": panel.ylabel}, "automargin": True}
        if panel.xlog:
            xa["type"] = "log"
        if panel.ylog:
            ya["type"] = "log"
        if panel.xticks:
            xa.update(tickmode="array", tickvals=_js(panel.xticks[0]), ticktext=panel.xticks[1])
        if panel.yticks:
            ya.update(tickmode="array", tickvals=_js(panel.yticks[0]), ticktext=panel.yticks[1])
        if panel.ylim:
            ya["range"] = list(panel.ylim)
        if panel.yhide:
            ya.update(visible=False, fixedrange=True)
        layout[f"xaxis{sfx}"], layout[f"yaxis{sfx}"] = xa, ya
        if panel.title:
            layout["annotations"].append({
                "text": f"<b>{panel.title}</b>", "showarrow": False, "xref": "paper",
                "yref": "paper", "x": x0 + w / 2, "y": y1, "yanchor": "bottom", "yshift": 4,
                "font": {"size": 12}})
        for y, label in panel.hlines:
            layout["shapes"].append({"type": "line", "xref": f"x{sfx} domain", "x0": 0, "x1": 1,
                                     "yref": f"y{sfx}", "y0": y, "y1": y,
                                     "line": {"width": 1, "dash": "dot" if y else "solid"},
                                     "label": {"text": label, "textposition": "end",
                                               "font": {"size": 10}}})
        for t in panel.traces:
            data += _plotly_traces(t, f"x{sfx}", f"y{sfx}", seen)
    return {"data": data, "layout": layout}


def _plotly_traces(t: Trace, xax: str, yax: str, seen: set[str]) -> list[dict]:
    base = {"xaxis": xax, "yaxis": yax, "name": t.name, "legendgroup": t.name,
            "showlegend": t.name not in seen and t.kind != "heatmap"}
    seen.add(t.name)
    y, lo, hi = np.asarray(t.y, dtype=np.float64), _finite(t.lo), _finite(t.hi)
    if t.kind == "heatmap":
        return [{**base, "type": "heatmap", "z": _js(t.z), "x": _js(t.x), "y": _js(t.y),
                 "text": t.text, "texttemplate": "%{text}", "colorscale": _HEAT, "zmin": 0,
                 "zmax": 1, "showscale": False, "hoverinfo": "text", "xgap": 2, "ygap": 2}]
    line = {"color": t.color, "dash": "dash" if t.dash else "solid"} if t.color else \
        {"dash": "dash" if t.dash else "solid"}
    out = []
    if t.band and lo is not None:
        fill = _rgba(t.color, 0.2)
        out.append({**base, "type": "scatter", "x": _js(t.x), "y": _js(hi), "mode": "lines",
                    "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"})
        out.append({**base, "type": "scatter", "x": _js(t.x), "y": _js(lo), "mode": "lines",
                    "line": {"width": 0}, "fill": "tonexty", "fillcolor": fill,
                    "name": t.name + " (band)", "showlegend": t.marker == "none",
                    "hoverinfo": "skip"})
        if t.marker == "none":
            return out
    err = {}
    if lo is not None and not t.band:
        err = {"error_y": {"type": "data", "symmetric": False, "array": _js(hi - y),
                           "arrayminus": _js(y - lo), "visible": True, "thickness": 1.2,
                           "width": 4}}
    if t.kind == "bar":
        return out + [{**base, **err, "type": "bar", "x": _js(t.x), "y": _js(y),
                       "width": t.width}]
    mode = "markers" if t.kind == "marker" else "lines+markers"
    if t.marker == "none" and t.kind != "marker":
        mode = "lines"
    symbol: str | list = t.marker if t.marker != "none" else "circle"
    colour: str | list | None = t.color
    if t.hollow is not None and np.any(t.hollow):
        # readings within their null: open grey markers, never drawn as findings
        h = np.asarray(t.hollow, dtype=bool).tolist()
        symbol = [f"{symbol}-open" if w else symbol for w in h]
        colour = ["#9a9a9a" if w else (t.color or "#1f77b4") for w in h]
    trace = {**base, **err, "type": "scatter", "x": _js(t.x), "y": _js(y), "mode": mode,
             "line": line, "marker": {"symbol": symbol,
                                      "size": 16 if t.marker == "star" else 8,
                                      **({"color": colour} if colour else {})}}
    if t.text:
        trace.update(mode="markers+text", text=t.text, textposition="top center",
                     textfont={"color": t.color})
    return out + [trace]


def _rgba(colour: str | None, alpha: float) -> str:
    if not colour:
        return f"rgba(31,119,180,{alpha})"
    h = colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"
