"""Analysis: what the maths says about a network's layers (arrays and frozen settings in).

- :mod:`~manifold_probe.analysis.warping` — :func:`warp`: how the map from one layer to the
  next bends the cloud (neighbourhoods kept, geodesic distortion, local stretch);
- :mod:`~manifold_probe.analysis.measures` — the per-layer measures of the profile;
- :mod:`~manifold_probe.analysis.perturbation` — the verdict on a perturbed model, per layer;
- :mod:`~manifold_probe.analysis.table` — the profile's columns, seeds combined into rows;
- :mod:`~manifold_probe.analysis.tasks` — the one task table (``{kind: function}``) run by
  :func:`profile_layers` in memory and by the experiment runner through an executor;
- :mod:`~manifold_probe.analysis.settings` — estimator settings as frozen dataclasses;
- :mod:`~manifold_probe.analysis.regions` / :mod:`~manifold_probe.analysis.labels` — semantic
  regions of a layer, their agreement with labels, merges and splits between layers;
- :mod:`~manifold_probe.analysis.structure` — a known structure of the inputs (cycle, line,
  tree) tested in the subspace where it is clearest;
- :mod:`~manifold_probe.analysis.nulls` — the null of every reading (matched Gaussian cloud,
  median intervals, the above/within/below call, Holm over the structure tests).

This layer never imports the interfaces (config, executor, report, the experiment runner, the
CLI); ``tests/test_architecture.py`` checks it.
"""

from __future__ import annotations

import importlib
from typing import Any

from manifold_probe.analysis.profile import profile_layers
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.analysis.table import PROFILE_COLUMNS, REQUIRED_COLUMNS
from manifold_probe.analysis.warping import WarpSummary, warp

__all__ = [
    "PROFILE_COLUMNS",
    "REQUIRED_COLUMNS",
    "EstimatorSettings",
    "WarpSummary",
    "profile_layers",
    "warp",
]

_SUBMODULES = ("regions", "labels", "structure", "nulls")


def __getattr__(name: str) -> Any:
    # the region and structure analyses load on first use (they pull in scikit-learn)
    if name in _SUBMODULES:
        module = importlib.import_module(f"manifold_probe.analysis.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'manifold_probe.analysis' has no attribute {name!r}")
