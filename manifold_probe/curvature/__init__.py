"""Curvature of sampled manifolds and of trajectories.

- :func:`scalar_curvature` — Riemannian scalar curvature per point (second fundamental form,
  or geodesic-ball volume growth).
- :func:`ollivier_ricci` — Ollivier–Ricci curvature of the kNN graph.
- :func:`trajectory_curvature` — mean turning angle of sequences of representations.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CurvatureEstimate": "manifold_probe.curvature._scalar",
    "scalar_curvature": "manifold_probe.curvature._scalar",
    "OllivierRicci": "manifold_probe.curvature._ollivier",
    "ollivier_ricci": "manifold_probe.curvature._ollivier",
    "trajectory_curvature": "manifold_probe.curvature._trajectory",
    # package-public (read by analysis.settings), not in the user API
    "CURVATURE_PARAMS": "manifold_probe.curvature._scalar",
    "OLLIVIER_PARAMS": "manifold_probe.curvature._ollivier",
}
__all__ = [name for name in _EXPORTS if not name.endswith("_PARAMS")]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'manifold_probe.curvature' has no attribute {name!r}")
