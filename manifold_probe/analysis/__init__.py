"""Analysis: what the maths says about a network's layers (arrays and frozen settings in).

- :mod:`~manifold_probe.analysis.warping` — :func:`warp`: how the map from one layer to the
  next bends the cloud (neighbourhoods kept, geodesic distortion, local stretch);
- :mod:`~manifold_probe.analysis.measures` — the per-layer measures of the profile;
- :mod:`~manifold_probe.analysis.perturbation` — the verdict on a perturbed model, per layer;
- :mod:`~manifold_probe.analysis.table` — the profile's columns, seeds combined into rows;
- :mod:`~manifold_probe.analysis.tasks` — the one task table (``{kind: function}``) run by
  :func:`profile_layers` in memory and by the experiment runner through an executor;
- :mod:`~manifold_probe.analysis.settings` — estimator settings as frozen dataclasses.

This layer never imports the interfaces (config, executor, report, the experiment runner, the
CLI); ``tests/test_architecture.py`` checks it.
"""

from __future__ import annotations

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
