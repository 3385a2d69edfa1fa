"""The description of a report figure: a :class:`Figure` of :class:`Panel` of :class:`Trace`.

Built by :mod:`manifold_probe.report.figures` (what each figure of a run shows) and drawn by
:mod:`manifold_probe.report.render` (plotly for the page, matplotlib for a paper).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Figure", "Panel", "Trace"]


@dataclass
class Trace:
    """One series. ``lo``/``hi``: its uncertainty, drawn as a band or as error bars."""

    name: str
    x: np.ndarray
    y: np.ndarray
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    band: bool = False
    kind: str = "line"  # line | bar | marker | heatmap
    dash: bool = False
    marker: str = "circle"
    color: str | None = None
    text: list | None = None  # per-point labels (marker) or cell labels (heatmap)
    z: np.ndarray | None = None  # heatmap values
    width: float = 0.8  # bar width
    hollow: np.ndarray | None = None  # per point: True where the reading is within its null

    @property
    def has_uncertainty(self) -> bool:
        return self.lo is not None and bool(np.isfinite(self.lo).any())


@dataclass
class Panel:
    title: str
    ylabel: str = ""
    xlabel: str = "layer"
    traces: list[Trace] = field(default_factory=list)
    xticks: tuple[list, list[str]] | None = None
    yticks: tuple[list, list[str]] | None = None
    xlog: bool = False
    ylog: bool = False
    ylim: tuple[float, float] | None = None
    xlim: tuple[float, float] | None = None
    hlines: list[tuple[float, str]] = field(default_factory=list)
    height: float = 1.0
    yhide: bool = False


@dataclass
class Figure:
    stem: str
    title: str
    caption: str  # HTML
    uncertainty: str  # HTML: what the bars and bands are
    panels: list[Panel]
    ncols: int = 1
