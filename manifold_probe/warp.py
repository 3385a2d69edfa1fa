"""Compatibility shim: the implementation lives in :mod:`manifold_probe._warp`.

A submodule named ``manifold_probe.warp`` shadows the function ``manifold_probe.warp`` once it
is imported, so the package exports ``warp`` from ``manifold_probe._warp``; import from there
(or use ``mp.warp``).
"""

from manifold_probe._warp import (  # noqa: F401
    WarpSummary,
    continuity,
    knn_overlap,
    local_stretch,
    trustworthiness,
    warp,
)
