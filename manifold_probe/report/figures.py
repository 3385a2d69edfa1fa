"""What each figure of the report shows: its traces, their uncertainty, and its caption.

A figure is described once (:class:`Figure` of :class:`Panel` of :class:`Trace`, in
:mod:`manifold_probe.report.figure_model`, re-exported here) and drawn twice by
:mod:`manifold_probe.report.render`: interactive (plotly) for the page, static (matplotlib
PNG/SVG) for a paper.
"""

from __future__ import annotations

import html
import re

import numpy as np

from manifold_probe.report.data import RunData, SeedSpread
from manifold_probe.report.figure_model import Figure, Panel, Trace

__all__ = ["FIGURES", "Figure", "Panel", "Trace", "build_figures"]

#: every figure stem the report can draw (regions, structure and perturbations only when the
#: run has those columns or tables)
FIGURES = ("profile_dimension", "profile_gride", "profile_curvature", "profile_warp",
           "profile_topology", "profile_regions", "profile_structure", "perturbations")

VERDICT_COLOURS = {"kept": "#1a9850", "broken": "#d73027", "undecided": "#7f7f7f"}


def _spread(run: RunData, key: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    s: SeedSpread | None = run.spread.get(key)
    return (s.lo, s.hi) if s is not None else (None, None)


def _line(run: RunData, key: str, name: str, **kw) -> Trace:
    lo, hi = _spread(run, key)
    return Trace(name, np.arange(len(run.rows)), run.col(key), lo, hi, **kw)


NULL_COLOUR = "#9a9a9a"


def _within(run: RunData, call: str) -> np.ndarray | None:
    """Per layer: True where the reading is not a finding (within its null, or undecided)."""
    if call not in run.columns:
        return None
    return np.array([r.get(call) in ("within", "undecided") for r in run.rows])


def _null_band(run: RunData, key: str, lo: str | None, hi: str | None, name: str,
               scale: np.ndarray | float = 1.0) -> list[Trace]:
    """The null drawn beside a reading: its value (grey, dashed) and its interval (grey band)."""
    if not run.has(key):
        return []
    x = np.arange(len(run.rows))
    y = run.col(key) * scale
    if lo and hi and run.has(lo):
        return [Trace(name, x, y, run.col(lo) * scale, run.col(hi) * scale, band=True,
                      dash=True, marker="none", color=NULL_COLOUR),
                Trace(name, x, y, dash=True, marker="none", color=NULL_COLOUR)]
    return [Trace(name, x, y, dash=True, marker="x", color=NULL_COLOUR)]


_NULL_TEXT = ("; grey: the null, the same estimate on a Gaussian cloud with the layer's mean, "
              "covariance and size (band: its interval); hollow markers: readings within their "
              "null (or undecided across seeds), which are not findings")


def _seeds_text(run: RunData, keys: list[str], why: str = "") -> str:
    """What the seed error bars of columns ``keys`` are (or that there is one seed)."""
    n = [int(np.nanmax(run.spread[k].n)) for k in keys if k in run.spread]
    if n:
        return f"error bars: smallest to largest value over the {max(n)} seeds{why}"
    return "one seed for these columns, so no seed spread is drawn"


def _layers(run: RunData) -> tuple[list, list[str]]:
    return list(range(len(run.rows))), run.names


def dimension(run: RunData) -> Figure:
    x = np.arange(len(run.rows))
    tw = Trace("TwoNN", x, run.col("id_twonn"), run.col("id_twonn_lo"), run.col("id_twonn_hi"),
               band=True, color="#1f77b4", hollow=_within(run, "id_twonn_vs_null"))
    lo, hi = run.mle_band if run.mle_band else (None, None)
    ml = Trace("MLE", x, run.col("id_mle"), lo, hi, dash=True, marker="square", color="#ff7f0e",
               hollow=_within(run, "id_mle_vs_null"))
    nulls = (_null_band(run, "id_twonn_null", "id_twonn_null_lo", "id_twonn_null_hi",
                        "null: TwoNN of matched Gaussian")
             + _null_band(run, "id_mle_null", None, None, "null: MLE of matched Gaussian"))
    mle_k = run.config.get("estimators", {}).get("mle", {}).get("k", "k")
    ratio = run.col("id_mle") / run.col("id_twonn")
    ratio = ratio[np.isfinite(ratio)]
    here = ""
    if len(ratio):
        below = int((ratio < 1).sum())
        here = (f" In this run MLE is below TwoNN in {below} of {len(ratio)} layers (median "
                f"MLE/TwoNN = {np.median(ratio):.2f}).")
    merged = run.col("id_near_duplicates") if "id_near_duplicates" in run.columns else None
    if merged is not None and np.nansum(merged) > 0:
        at = ", ".join(n for n, m in zip(run.names, merged, strict=True) if m > 0)
        here += (f" <b>Near-coincident inputs</b> at {html.escape(at)}: more inputs have a "
                 "first neighbour far closer than the second than any manifold gives (e.g. the "
                 "same input in two orders mapped to almost one point), so both estimates are "
                 "made with each such group merged (<code>id_near_duplicates</code> rows); on "
                 "the cloud as it is TwoNN reads the pairs, a dimension near 0, not the "
                 "geometry.")
    return Figure(
        "profile_dimension", "Intrinsic dimension by layer",
        "How many directions the points actually use in each layer (the ambient width is "
        "<code>dim_ambient</code>). Look for where the dimension drops (the layer compresses) or "
        "rises (it spreads the inputs out). <b>Why MLE and TwoNN differ:</b> they read different "
        "scales. TwoNN uses only the ratio of each point's 2nd to 1st neighbour distance (the "
        f"finest scale); MLE (Levina-Bickel) averages over the {mle_k} nearest neighbours. MLE "
        "below TwoNN: the coarser neighbourhoods look lower-dimensional (curvature, boundaries, "
        "uneven density; MLE is also biased low when the dimension is high for the number of "
        "points), or noise inflates TwoNN's finest scale. MLE above TwoNN: the cloud spreads into "
        "more directions at the coarser scale (e.g. thin clusters that fan out). A TwoNN reading "
        "below 1 is not geometry but near-coincident points, which the estimators merge and "
        "report (<code>id_near_duplicates</code>)." + here
        + " The GRIDE figure below shows the dimension scale by scale.",
        "TwoNN: shaded band, its 95% interval; MLE: error bars, 95% bootstrap interval over points "
        "(neighbourhoods overlap, so it is a lower bound on the uncertainty)"
        + ("" if run.mle_band else " &mdash; not drawn: the run's kNN graphs were not found")
        + (_NULL_TEXT if nulls else "; no null in this run"),
        [Panel("", "intrinsic dimension", traces=[tw, ml, *nulls], xticks=_layers(run))])


def gride(run: RunData) -> Figure | None:
    scales = run.gride_scales()
    if not scales:
        return None
    traces = []
    colours = _palette(len(run.rows))
    sx = np.asarray(scales, dtype=np.float64)
    for i, name in enumerate(run.names):
        y = np.array([run.col(f"id_gride_{s}")[i] for s in scales])
        err = np.array([run.gride_error[s][i] for s in scales]) if run.gride_error else None
        traces.append(Trace(name, sx, y, None if err is None else y - err,
                            None if err is None else y + err, color=colours[i]))
        sel = run.gride_selected[i] if run.gride_selected is not None else np.nan
        if np.isfinite(sel) and int(sel) in scales:
            traces.append(Trace("chosen scale (star)", np.array([sel]),
                                np.array([y[scales.index(int(sel))]]), kind="marker",
                                marker="star", color=colours[i]))
    return Figure(
        "profile_gride", "Intrinsic dimension across scales (GRIDE)",
        "Each line is one layer; the column <code>id_gride_&lt;n1&gt;</code> is GRIDE's estimate "
        "(Denti et al. 2022) from the ratio of each point's 2n1-th to n1-th neighbour distance, "
        "so n1 sets the scale: n1 = 1 is TwoNN's scale, larger n1 looks at coarser neighbourhoods. "
        "A flat line means the dimension is well defined; a fall from small to large n1 means "
        "noise inflates the smallest scale; a rise means curvature or several clusters. The star "
        "marks the scale GRIDE's own scale analysis picks (the first scale after the curve stops "
        "falling significantly).",
        "error bars: 95% interval (1.96 standard errors of the GRIDE likelihood), recomputed "
        "from the run's saved kNN graph"
        + ("" if run.gride_error else " &mdash; not drawn: the kNN graphs were not found"),
        [Panel("", "GRIDE dimension", "neighbour rank n1 (scale)", traces, xlog=True,
               xticks=(scales, [str(s) for s in scales]))])


def curvature(run: RunData) -> Figure | None:
    if not run.has("curvature_median"):
        return None
    x = np.arange(len(run.rows))
    med, q25, q75 = run.col("curvature_median"), run.col("curvature_q25"), run.col("curvature_q75")
    lo, hi = _spread(run, "curvature_median")
    within = _within(run, "curvature_median_vs_null")
    raw = [Trace("median over points", x, med, lo, hi, color="#1f77b4", hollow=within),
           Trace("quartiles over points", x, (q25 + q75) / 2, q25, q75, band=True, kind="marker",
                 color="#1f77b4", marker="none"),
           *_null_band(run, "curvature_median_null", "curvature_median_null_lo",
                       "curvature_median_null_hi", "null: matched Gaussian")]
    panels = [Panel("raw", "scalar curvature [1/(activation units)²]", traces=raw,
                    xticks=_layers(run), hlines=[(0.0, "flat")])]
    r = run.radius
    if r is not None and np.isfinite(r).any():
        r2 = r**2
        scaled = [Trace("median × r²", x, med * r2, None if lo is None else lo * r2,
                        None if hi is None else hi * r2, color="#9467bd", hollow=within),
                  Trace("quartiles × r²", x, (q25 + q75) / 2 * r2, q25 * r2, q75 * r2, band=True,
                        kind="marker", color="#9467bd", marker="none"),
                  *_null_band(run, "curvature_median_null", "curvature_median_null_lo",
                              "curvature_median_null_hi", "null × r²", scale=r2)]
        n = run.col("curvature_dim")
        if np.isfinite(n).any():
            scaled.append(Trace("round sphere: n(n−1)", x, n * (n - 1), kind="marker",
                                marker="x", color="#555555"))
        panels.append(Panel("scale-free: κ·r², r = RMS radius of the layer", "κ·r² (no units)",
                            traces=scaled, xticks=_layers(run), hlines=[(0.0, "flat")]))
    radius_note = (" r is the layer's RMS radius, the root-mean-square distance of the points "
                   "from their mean (in activation units), so κ·r² does not change when a layer "
                   "is rescaled and compares layers of different norm; for points on a round "
                   "n-sphere it equals n(n−1) (grey crosses)." if len(panels) > 1 else
                   " (The scale-free form κ·r² needs the saved activations, not found here.)")
    return Figure(
        "profile_curvature", "Scalar curvature by layer",
        "Riemannian scalar curvature κ of the point cloud, fitted at each point by a quadratic "
        "patch of dimension n = <code>curvature_dim</code> (the layer's rounded TwoNN dimension) "
        "and summarised over points. κ has units 1/(activation units)²: it shrinks 100× when the "
        "layer is scaled up 10×, so raw values of layers with different norms do not compare."
        + radius_note + " Look for the sign (positive: sphere-like, negative: saddle-like) and "
        "for layers where the band leaves zero.",
        "band: first to third quartile over points; "
        + _seeds_text(run, ["curvature_median"]) + " of the median"
        + (_NULL_TEXT if run.has("curvature_median_null") else "; no null in this run"),
        panels, ncols=len(panels))


def warp(run: RunData) -> Figure:
    a = [_line(run, "geodesic_distortion_prev", "vs previous layer", color="#1f77b4",
               hollow=_within(run, "geodesic_distortion_vs_null_prev")),
         _line(run, "geodesic_distortion_input", "vs first layer", dash=True, marker="square",
               color="#ff7f0e"),
         *_null_band(run, "geodesic_distortion_null_prev", "geodesic_distortion_null_lo_prev",
                     "geodesic_distortion_null_hi_prev", "null: matched Gaussian pair")]
    b = [_line(run, k, label, dash=dash, marker=m, color=c,
               hollow=_within(run, k.replace("_prev", "_vs_null_prev")))
         for k, label, dash, m, c in (
        ("knn_overlap_prev", "kNN overlap, prev", False, "circle", "#2ca02c"),
        ("knn_overlap_input", "kNN overlap, first", True, "square", "#98df8a"),
        ("trustworthiness_prev", "trustworthiness, prev", True, "triangle-up", "#d62728"),
        ("continuity_prev", "continuity, prev", True, "triangle-down", "#9467bd"))]
    b += _null_band(run, "knn_overlap_null_prev", "knn_overlap_null_lo_prev",
                    "knn_overlap_null_hi_prev", "null: kNN overlap, matched Gaussian pair")
    # above the warp null's row cap its band is at fewer rows than the reading: the reading
    # re-measured there is the one the band (and the call) is compared with
    sub = run.has("knn_overlap_compared_prev")
    if sub:
        a.append(_line(run, "geodesic_distortion_compared_prev", "vs previous, null's rows",
                       dash=True, marker="x", color="#1f77b4"))
        b.append(_line(run, "knn_overlap_compared_prev", "kNN overlap, null's rows", dash=True,
                       marker="x", color="#2ca02c"))
    has_null = run.has("knn_overlap_null_prev")
    fwer = any(c.startswith("knn_overlap_p_fwer") for c in run.columns)
    p_min = run.col("warp_p_min_prev") if run.has("warp_p_min_prev") else np.array([np.nan])
    floor = f"{np.nanmin(p_min):.2g}" if np.isfinite(p_min).any() else "1/(B+1)"
    rows = (run.col("warp_null_rows_prev") if run.has("warp_null_rows_prev")
            else np.array([np.nan]))
    at = f"{int(np.nanmax(rows))}" if np.isfinite(rows).any() else "fewer"
    return Figure(
        "profile_warp", "How each block warps the geometry",
        "Left: the spread of log(d_l / d_prev) over pairs of inputs, with d the geodesic distance "
        "along the point cloud: 0 when the block only rescales distances (an isometry up to "
        "scale), larger when it stretches some pairs and squeezes others. Right: how many of each "
        "point's nearest neighbours survive the block (Jaccard overlap), and trustworthiness / "
        "continuity (Venna &amp; Kaski: 1 when the block creates no false neighbours / loses none). "
        "Look for blocks where distortion jumps and overlap falls: they rearrange the inputs.",
        _seeds_text(run, ["geodesic_distortion_prev", "knn_overlap_prev"],
                    " (geodesic sources and subsamples are drawn with the seed)")
        + ("; grey: the null, the same measure between jointly Gaussian pairs with the two "
           "layers' joint mean and covariance (the block reduced to its linear part plus "
           "noise; band: the range of its draws); hollow markers: readings within their null "
           + ("(family-wise p over the run's layer pairs > 0.05, Westfall–Young max-T over "
              "the null draws, " if fwer else "(p > 0.05 per reading, not corrected over the "
              "layer pairs: a run written before the family-wise calls, ")
           + f"the smallest p being {floor}) or undecided across seeds"
           + (f"; crosses: the reading on the {at} rows of the null's draws, the one the band "
              "and the call compare (the warp readings change with the number of rows)"
              if sub else "") if has_null else "; no null in this run"),
        [Panel("distance distortion", "spread of log-ratio", traces=a, xticks=_layers(run)),
         Panel("neighbourhoods kept", "fraction (1 = all kept)", traces=b, xticks=_layers(run),
               ylim=(0, 1.05))], ncols=2)


def _disagree(run: RunData, key: str) -> np.ndarray:
    """Per layer: True where the seeds give different values of ``key``."""
    s = run.spread.get(key)
    if s is None:
        return np.zeros(len(run.rows), dtype=bool)
    return np.isfinite(s.lo) & np.isfinite(s.hi) & (s.lo != s.hi)


def _verdicts(run: RunData) -> list[str | None]:
    """kept / broken per layer pair, printed only where every seed agrees (else undecided)."""
    if "topology_verdict_prev" in run.columns:
        words = [r.get("topology_verdict_prev") or None for r in run.rows]
        split = _disagree(run, "topology_verdict_prev")
    else:
        kept = run.col("topology_preserved_prev")
        words = [None if not np.isfinite(v) else ("kept" if v else "broken") for v in kept]
        split = _disagree(run, "topology_preserved_prev")
        # derived from the layers' Betti numbers: undecided where either layer's vary by seed
        for c in (c for c in run.columns if re.fullmatch(r"betti_\d+", c)):
            varies = _disagree(run, c)
            split[1:] |= varies[1:] | varies[:-1]
    return [("undecided" if split[i] and i > 0 else w) for i, w in enumerate(words)]


def topology(run: RunData) -> Figure | None:
    bettis = [c for c in run.columns if re.fullmatch(r"betti_\d+", c) and run.has(c)]
    if not bettis:
        return None
    x = np.arange(len(run.rows))
    width = 0.8 / len(bettis)
    bars = [Trace(f"β{c[6:]}", x + (j - (len(bettis) - 1) / 2) * width, run.col(c),
                  *_spread(run, c), kind="bar", width=width) for j, c in enumerate(bettis)]
    verdicts = _verdicts(run)
    strip = []
    agree = run.spread.get("topology_preserved_prev")
    for word, colour in VERDICT_COLOURS.items():
        idx = [i for i, v in enumerate(verdicts) if v == word]
        if idx:
            text = [word + (f" ({int(agree.n[i])} seeds)" if agree is not None
                            and np.isfinite(agree.n[i]) else "") for i in idx]
            strip.append(Trace(word, np.asarray(idx, dtype=float), np.zeros(len(idx)),
                               kind="marker", marker="square", color=colour, text=text))
    xlim = (-0.5, len(run.rows) - 0.5)
    panels = [Panel("Betti numbers", "significant Betti number", traces=bars, xticks=_layers(run),
                    xlim=xlim)]
    if strip:
        panels[0].xlabel = ""  # the strip below carries the layer axis
        panels.append(Panel("verdict: topology vs previous layer", "", traces=strip,
                            xticks=_layers(run), height=0.35, yhide=True, ylim=(-1, 1.5),
                            xlim=xlim))
    return Figure(
        "profile_topology", "Topology by layer: Betti numbers and the verdict per layer pair",
        "β0 counts the significant connected components, β1 the independent loops (β2 cavities) "
        "of the point cloud, from persistent homology with a significance test: a loop counts when "
        "its persistence (death/birth) stands out against the diagram's noise (Bobrowski & "
        "Skraba 2023), a component when its gap to the rest is long against its own internal "
        "gaps. The strip below says, for each layer, whether its Betti numbers agree with the "
        "previous layer's (kept), differ "
        "(broken), or the test could not tell (undecided). Look for the first broken pair: "
        "that block changes the shape of the data.",
        _seeds_text(run, bettis, " (each seed draws its own subsample and landmarks)"),
        panels)


def regions(run: RunData) -> Figure | None:
    keys = [k for k in ("regions_ari", "regions_nmi", "label_purity") if run.has(k)]
    if not keys and not run.has("n_regions"):
        return None
    panels = []
    if run.has("n_regions"):
        traces = [_line(run, "n_regions", "regions", color="#8c564b",
                        hollow=_within(run, "n_regions_vs_null")),
                  *_null_band(run, "n_regions_null", None, None,
                              "null: regions of a matched Gaussian")]
        undecided = np.zeros(len(run.rows), dtype=bool)
        for key, word, colour in (("regions_merged_prev", "merged", "#1f77b4"),
                                  ("regions_split_prev", "split", "#d62728")):
            if key not in run.columns:
                continue
            split = _disagree(run, key)
            undecided |= split
            # a merge/split is printed only where every seed agrees
            at = np.flatnonzero((run.col(key) == 1) & ~split)
            if len(at):
                traces.append(Trace(f"block {word} regions", at.astype(float),
                                    run.col("n_regions")[at], kind="marker",
                                    marker="triangle-down" if word == "merged" else "triangle-up",
                                    color=colour, text=[word] * len(at)))
        at = np.flatnonzero(undecided)
        if len(at):
            traces.append(Trace("seeds disagree", at.astype(float), run.col("n_regions")[at],
                                kind="marker", marker="x", color=NULL_COLOUR,
                                text=["undecided"] * len(at)))
        panels.append(Panel("regions found", "number of regions", traces=traces,
                            xticks=_layers(run)))
    if keys:
        labels = {"regions_ari": "ARI vs labels", "regions_nmi": "NMI vs labels",
                  "label_purity": "kNN label purity"}
        panels.append(Panel("agreement with the input labels", "score (1 = perfect)",
                            traces=[_line(run, k, labels[k], marker=m) for k, m in
                                    zip(keys, ("circle", "square", "diamond"), strict=False)],
                            xticks=_layers(run), ylim=(0, 1.05)))
    return Figure(
        "profile_regions", "Semantic regions by layer",
        "Left: how many regions (clusters of the point cloud) each layer splits the inputs into "
        "(marked where the block merged or split the previous layer's regions). "
        "Grey: the regions the same finder reports on a Gaussian cloud of the subsample's "
        "mean and covariance (one mode: anything above 1 is a false region); a count not "
        "above it is drawn hollow. "
        "Right: how well those regions match the inputs' labels (adjusted Rand index and "
        "normalised mutual information: 0 = chance, 1 = identical) and the mean share of each "
        "point's nearest neighbours with its own label. Look for the layer where the scores "
        "rise: the labels become separable there.",
        _seeds_text(run, ["n_regions", *keys]) + "; merged/split printed only where every seed "
        "agrees (grey x: undecided)", panels, ncols=len(panels))


def structure(run: RunData) -> Figure | None:
    names = sorted({m[1] for c in run.columns
                    if (m := re.fullmatch(r"structure_(.+)_p", c)) and run.has(c)})
    if not names:
        return None
    x = np.arange(len(run.rows))
    p_tr, v_tr, e_tr = [], [], []
    for k, name in enumerate(names):
        colour = _palette(len(names))[k]
        p = np.clip(run.col(f"structure_{name}_p"), 1e-12, 1)
        lo, hi = _spread(run, f"structure_{name}_p")
        calls = [r.get(f"structure_{name}_vs_null") for r in run.rows]
        hollow = np.array([c != "above" for c in calls]) if any(calls) else None
        p_tr.append(Trace(name, x, p, lo, hi, color=colour, hollow=hollow))
        if run.has(f"structure_{name}_effect"):
            e_tr.append(_line(run, f"structure_{name}_effect", name, color=colour,
                              hollow=hollow))
        if run.has(f"structure_{name}_variance"):
            v_tr.append(_line(run, f"structure_{name}_variance", name, color=colour))
    tests = sum(int(np.isfinite(run.col(f"structure_{n}_p")).sum()) for n in names)
    alpha = run.config.get("estimators", {}).get("structure", {}).get("alpha", 0.05)
    lines = [(0.05, "p = 0.05")]
    if tests > 1:
        lines.append((alpha / tests, f"Holm's first cut α/{tests}"))
    floor = [run.col(f"structure_{n}_p_min") for n in names if run.has(f"structure_{n}_p_min")]
    if floor:
        lines.append((float(np.nanmax(np.concatenate(floor))), "smallest attainable p"))
    panels = [Panel("is the structure there?", "p-value (permutation null)", traces=p_tr,
                    xticks=_layers(run), ylog=True, hlines=lines)]
    if e_tr:
        panels.append(Panel("how clear it is", "effect (null standard deviations)",
                            traces=e_tr, xticks=_layers(run), hlines=[(0.0, "null mean")]))
    if v_tr:
        panels.append(Panel("how much of the layer it explains", "variance share",
                            traces=v_tr, xticks=_layers(run), ylim=(0, 1.05)))
    return Figure(
        "profile_structure", "Known input structure by layer",
        "For each known structure of the inputs (e.g. the cycle of days or months, the number "
        "line, the WordNet tree), a test in the subspace of the class means: the p-value says "
        "how often labels shuffled at random fit as well (below the dashed line at 0.05: the "
        "structure is there), and the variance share how much of that subspace it explains. "
        "Look for where the p-value drops and the share rises. The null relabels the inputs "
        "across classes, so p is limited only by the number of permutations (the line "
        "'smallest attainable p'); a structure counts as present where its Holm-adjusted p "
        "over all the tests drawn here is at most α (filled markers; hollow: not a finding). "
        "Where p sits at its floor, the effect size (statistic minus its null mean, in null "
        "standard deviations) still says at which layer the structure is clearest.",
        "the p-value is the uncertainty statement of the permutation test; "
        + _seeds_text(run, [f"structure_{n}_p" for n in names]),
        panels, ncols=len(panels))


def perturbations(run: RunData) -> Figure | None:
    prow = run.perturbations
    if not prow:
        return None
    labels = sorted({r["perturbation"] for r in prow})
    lay = sorted({int(r["layer"]) for r in prow})
    z = np.full((len(labels), len(lay)), np.nan)
    text = [["" for _ in lay] for _ in labels]
    ov = run.pert_spread.get("knn_overlap")
    for n, r in enumerate(prow):
        i, j = labels.index(r["perturbation"]), lay.index(int(r["layer"]))
        verdict = r.get("verdict") or ("kept" if r.get("topology_preserved") == "true" else
                                       "broken" if r.get("topology_preserved") == "false" else "")
        z[i, j] = {"kept": 1.0, "undecided": 0.5, "broken": 0.0}.get(verdict, np.nan)
        j_txt = f"J={float(r['knn_overlap']):.2f}" if r.get("knn_overlap") else ""
        if ov is not None and np.isfinite(ov.lo[n]):
            j_txt += f" [{ov.lo[n]:.2f}–{ov.hi[n]:.2f}]"
        text[i][j] = f"{verdict}<br>{j_txt}"
    names = run.names
    heat = Trace("verdict", np.arange(len(lay)), np.arange(len(labels)), kind="heatmap", z=z,
                 text=text)
    return Figure(
        "perturbations", "Perturbations: which changes keep the topology",
        "Each row is a change made to the model (ablating a block, zeroing a head, adding noise, "
        "rescaling), each column a layer after it. The cell says whether that layer's topology "
        "survives the change (green kept, red broken, grey undecided) and J, the share of each "
        "point's nearest neighbours kept. Look for changes that break topology early: the model "
        "relies on what they removed.",
        "in brackets: smallest to largest J over the seeds" if run.pert_spread
        else "one seed per cell, so no seed spread is shown",
        [Panel("", "perturbation", traces=[heat],
               xticks=(list(range(len(lay))), [names[j] if j < len(names) else str(j) for j in lay]),
               yticks=(list(range(len(labels))), labels), height=0.4 + 0.15 * len(labels))])


def _palette(n: int) -> list[str]:
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [matplotlib.colors.to_hex(cmap(0.9 * i / max(1, n - 1))) for i in range(n)]


def build_figures(run: RunData) -> list[Figure]:
    """Every figure the run has data for, in page order."""
    made = [f(run) for f in (dimension, gride, curvature, warp, topology, regions, structure,
                             perturbations)]
    return [f for f in made if f is not None]
