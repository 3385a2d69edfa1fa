"""Figures (interactive, PNG and SVG) and a self-contained HTML report of a run directory.

:func:`write_report` reads ``DIR/profile.json`` (and, when present, ``perturbations.csv``,
``config.json``, the per-seed task results under ``tasks/``, the saved activations and kNN
graphs), draws every figure twice -- interactive with plotly.js for the page and static with
matplotlib (``DIR/figures/<stem>.png`` and ``.svg``) for a paper -- and writes
``DIR/report.html``: plotly.js and the images are inlined, so the file opens without a server or
a network. Every figure carries its uncertainty (TwoNN's and GRIDE's intervals, a bootstrap band
for the MLE, curvature quartiles, the spread over seeds) and a caption saying what to look for.

Modules: :mod:`~manifold_probe.report.data` (reading the run),
:mod:`~manifold_probe.report.figures` (what each figure shows),
:mod:`~manifold_probe.report.render` (matplotlib and plotly drawing),
:mod:`~manifold_probe.report.html` (the page).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from manifold_probe._io import atomic_write_bytes
from manifold_probe.report.data import RunData, load_run
from manifold_probe.report.figures import FIGURES, build_figures
from manifold_probe.report.html import COLUMN_HELP, page
from manifold_probe.report.render import plotly_figure, static_figure

__all__ = ["COLUMN_HELP", "FIGURES", "RunData", "load_run", "make_figures", "report_is_current",
           "write_report"]

#: the inputs of a report besides ``tasks/`` and the saved arrays, which change only with them
_SHOWN = ("profile.json", "perturbations.csv", "config.json")


def code_fingerprint() -> str:
    """Hash of the code that draws the report (this package and the plotly.js it inlines)."""
    from importlib.metadata import version

    h = hashlib.sha256(version("plotly").encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def report_is_current(out: str | Path) -> bool:
    """Whether ``out/report.html`` would be redrawn identically (then a rerun keeps it).

    True only when the page is newer than every table it shows, was drawn by this very code
    (its fingerprint is in the page) and every figure it lists is still in ``out/figures``.
    """
    out = Path(out)
    page = out / "report.html"
    if not page.exists():
        return False
    newest = max((out / t).stat().st_mtime_ns for t in _SHOWN if (out / t).exists())
    if page.stat().st_mtime_ns < newest:
        return False
    with page.open("rb") as fh:
        head = fh.read(4096).decode("utf-8", "replace")
    code = re.search(r"<meta name='report-code' content='([0-9a-f]+)'>", head)
    stems = re.search(r"<meta name='report-figures' content='([a-z_,]*)'>", head)
    return bool(code and stems and code[1] == code_fingerprint() and all(
        (out / "figures" / f"{s}.{ext}").exists() for s in stems[1].split(",") if s
        for ext in ("png", "svg")))


def _draw(run: RunData) -> list[tuple]:
    figdir = run.out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    drawn = []
    for fig in build_figures(run):
        static = static_figure(fig)
        for ext, data in static.items():
            atomic_write_bytes(figdir / f"{fig.stem}.{ext}", data)
        drawn.append((fig, plotly_figure(fig), static["png"]))
    return drawn


def make_figures(out: str | Path) -> dict[str, Path]:
    """Draw the figures (PNG + SVG) into ``out/figures``; returns stem -> PNG path."""
    run = load_run(out)
    return {fig.stem: run.out / "figures" / f"{fig.stem}.png" for fig, _, _ in _draw(run)}


def write_report(out: str | Path) -> dict[str, str]:
    """Figures plus ``out/report.html`` (self-contained), always redrawn; returns their paths."""
    run = load_run(out)
    drawn = _draw(run)
    stamp = (f"<meta name='report-code' content='{code_fingerprint()}'>"
             f"<meta name='report-figures' content='{','.join(f.stem for f, _, _ in drawn)}'>")
    atomic_write_bytes(run.out / "report.html", page(run, drawn, stamp).encode("utf-8"))
    return {"report": str(run.out / "report.html"),
            **{f"figure_{fig.stem}": str(run.out / "figures" / f"{fig.stem}.png")
               for fig, _, _ in drawn}}
