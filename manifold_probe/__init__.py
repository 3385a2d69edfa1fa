"""manifold_probe: geometry and topology of neural-network activation manifolds.

Intrinsic dimension, curvature, geodesic distances and persistent homology of point clouds —
in particular of a transformer's residual stream, layer by layer.

Heavy dependencies (torch, geomstats, gudhi, transformers, the CLI stack) are imported lazily:
``import manifold_probe`` stays fast, and a public name's module is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from manifold_probe._validation import InputError
from manifold_probe._version import __version__

# public name -> module that defines it (one place per fact)
_EXPORTS: dict[str, str] = {
    "Neighbors": "manifold_probe.neighbors",
    "knn": "manifold_probe.neighbors",
    "knn_cache": "manifold_probe.neighbors",
    "KnnCacheState": "manifold_probe.neighbors",
    "DimensionEstimate": "manifold_probe.dimension",
    "intrinsic_dimension": "manifold_probe.dimension",
    "TwoNN": "manifold_probe.dimension",
    "MLE": "manifold_probe.dimension",
    "GRIDE": "manifold_probe.dimension",
    "LocalPCA": "manifold_probe.dimension",
    "PHDimension": "manifold_probe.dimension",
    "CurvatureEstimate": "manifold_probe.curvature",
    "scalar_curvature": "manifold_probe.curvature",
    "OllivierRicci": "manifold_probe.curvature",
    "ollivier_ricci": "manifold_probe.curvature",
    "trajectory_curvature": "manifold_probe.curvature",
    "geodesic_distances": "manifold_probe.geodesic",
    "geodesic_distortion": "manifold_probe.distortion",
    "GeodesicDistortion": "manifold_probe.distortion",
    "persistence": "manifold_probe.topology",
    "betti_numbers": "manifold_probe.topology",
    "diagram_distance": "manifold_probe.topology",
    "topology_preserved": "manifold_probe.topology",
    "TopologyComparison": "manifold_probe.topology",
    "warp": "manifold_probe.analysis",
    "WarpSummary": "manifold_probe.analysis",
    "profile_layers": "manifold_probe.analysis",
}
_SUBMODULES = ("analysis", "datasets", "capture", "store")

__all__ = ["InputError", "__version__", *_EXPORTS, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"manifold_probe.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'manifold_probe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
