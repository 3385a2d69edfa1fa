"""Every reading against its null, per measure and layer, as a table generated from a run.

``python -m manifold_probe.report.nulls DIR`` prints the Markdown table (the README's table of
the default run is this output for ``runs/default``); :func:`null_table_html` is the same table
in the report page. Each cell is the call of the profile column ``<measure>_vs_null``
(``above`` / ``within`` / ``below`` the null; ``undecided`` where seeds disagree or a test
cannot reach its multiple-testing threshold), with the reading and the null's value (a warp
measure: also its family-wise p over the run's layer pairs, Westfall–Young max-T over the
Monte Carlo draws, ``<name>_p_fwer_<suffix>``, whose floor is 1/(B+1) = 0.05, the call being
above/below where it is ≤ 0.05; a run written before the family-wise p shows its
per-reading Monte Carlo p, marked ``p``).
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["NULL_MEASURES", "null_rows", "null_table", "null_table_html", "null_table_markdown"]

#: (label, reading column, null column, call column) of every measure with a null
NULL_MEASURES = (
    ("intrinsic dimension, TwoNN", "id_twonn", "id_twonn_null", "id_twonn_vs_null"),
    ("intrinsic dimension, MLE", "id_mle", "id_mle_null", "id_mle_vs_null"),
    ("scalar curvature, median", "curvature_median", "curvature_median_null",
     "curvature_median_vs_null"),
    ("number of regions", "n_regions", "n_regions_null", "n_regions_vs_null"),
    ("trajectory curvature (°)", "trajectory_curvature", "trajectory_curvature_shuffled",
     "trajectory_curvature_vs_null"),
    *((f"{label} from the previous layer", f"{key}_prev", f"{key}_null_prev",
       f"{key}_vs_null_prev") for label, key in (
        ("geodesic distortion", "geodesic_distortion"), ("kNN overlap", "knn_overlap"),
        ("trustworthiness", "trustworthiness"), ("continuity", "continuity"))),
)


def _structures(columns: Sequence[str]) -> list[tuple[str, str, str, str]]:
    names = [m[1] for c in columns if (m := re.fullmatch(r"structure_(.+)_vs_null", c))]
    return [(f"structure '{n}', effect (null sd)", f"structure_{n}_effect",
             f"structure_{n}_p_holm", f"structure_{n}_vs_null") for n in names]


def _fmt(v: Any) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(x):
        return "–"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.1e}"


_WARP_CALL = re.compile(r"(\w+)_vs_null_(prev|input)")


def null_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[dict]:
    """One dict per measure with a null in the profile: ``measure`` and, per layer, the cell
    ``"<call> (<reading> vs <null>)"`` (for a structure: the effect size and Holm's p; for a
    warp measure also its family-wise p over the layer pairs, ``FWER p``, and as the reading the one the null was compared
    with, ``<name>_compared_<suffix>``, where the null ran on a subsample)."""
    out = []
    for label, value, null, call in (*NULL_MEASURES, *_structures(columns)):
        if call not in columns:
            continue
        warp = _WARP_CALL.fullmatch(call)
        cells = []
        for r in rows:
            word = r.get(call) or "–"
            sep = ", Holm p " if null.endswith("_p_holm") else " vs "
            v, extra = r.get(value), ""
            if warp:
                key, sfx = warp.groups()
                compared = r.get(f"{key}_compared_{sfx}")
                v = v if compared is None else compared
                fwer = f"{key}_p_fwer_{sfx}" in columns
                p = r.get(f"{key}_p_fwer_{sfx}" if fwer else f"{key}_p_{sfx}")
                extra = "" if p is None else f", {'FWER p' if fwer else 'p'} {_fmt(p)}"
            cells.append(f"{word} ({_fmt(v)}{sep}{_fmt(r.get(null))}{extra})"
                         if word != "–" else "–")
        out.append({"measure": label, "cells": cells})
    return out


def null_table_markdown(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The Markdown table: measures as rows, layers as columns."""
    names = [str(r.get("layer_name", r.get("layer"))) for r in rows]
    lines = ["| measure | " + " | ".join(f"`{n}`" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for m in null_rows(rows, columns):
        lines.append(f"| {m['measure']} | " + " | ".join(m["cells"]) + " |")
    return "\n".join(lines)


def null_table_html(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The same table as HTML (cells within their null in grey)."""
    names = [str(r.get("layer_name", r.get("layer"))) for r in rows]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in ["measure", *names])
    body = []
    for m in null_rows(rows, columns):
        cells = "".join(
            f"<td style='color:{'#222' if c.startswith(('above', 'below')) else '#999'}'>"
            f"{html.escape(c)}</td>" for c in m["cells"])
        body.append(f"<tr><td>{html.escape(m['measure'])}</td>{cells}</tr>")
    return (f"<div class='table-wrap'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def null_table(out: str | Path) -> str:
    """The Markdown table of the run in directory ``out`` (read from its ``profile.json``)."""
    data = json.loads((Path(out) / "profile.json").read_text(encoding="utf-8"))
    return null_table_markdown(data["rows"], data["columns"])


if __name__ == "__main__":  # pragma: no cover - a command-line entry
    print(null_table(sys.argv[1] if len(sys.argv) > 1 else "runs/default"))
