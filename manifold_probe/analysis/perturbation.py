"""The verdict on one perturbation of a model at one layer: clean vs perturbed activations.

Row ``i`` of ``X`` (clean) and ``Y`` (perturbed) is the same input. The verdict is
:func:`manifold_probe.topology_preserved` on a paired subsample, beside how the perturbation
moves the points (median relative change) and how it warps the cloud (:func:`~manifold_probe.warp`).
The model hooks that make the perturbed activations are in :mod:`manifold_probe.capture.perturb`.
"""

from __future__ import annotations

import numpy as np

from manifold_probe.analysis.measures import compare_topology, warp_with
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.neighbors import Neighbors

__all__ = ["measure_perturbation"]


def measure_perturbation(X: np.ndarray, nbx: Neighbors, Y: np.ndarray, est: EstimatorSettings,
                         seed: int) -> dict:
    """One row of the perturbation table for one layer.

    Returns
    -------
    dict
        ``topology_preserved``, the Betti numbers clean and perturbed (``"1-1"``), the largest
        diagram distance, the median relative change :math:`|y_i - x_i| / |x_i|`, kNN overlap,
        trustworthiness, continuity, geodesic distortion and log-ratio, and the TwoNN
        dimensions clean and perturbed.
    """
    s = warp_with(X, Y, nbx, None, est, seed, dimension=True)
    cmp = compare_topology(X, Y, est, seed)
    rel = np.linalg.norm(Y - X, axis=1) / np.maximum(np.linalg.norm(X, axis=1), 1e-300)
    return {
        "topology_preserved": bool(cmp.preserved),
        "betti_clean": "-".join(map(str, cmp.betti_x)),
        "betti_perturbed": "-".join(map(str, cmp.betti_y)),
        "diagram_distance": float(max(cmp.distances)) if len(cmp.distances) else float("nan"),
        "relative_change": float(np.median(rel)),
        "knn_overlap": s.knn_overlap,
        "trustworthiness": s.trustworthiness,
        "continuity": s.continuity,
        "geodesic_distortion": s.geodesic_distortion,
        "geodesic_log_ratio": s.geodesic_log_ratio_median,
        "id_clean": s.id_x,
        "id_perturbed": s.id_y,
    }
