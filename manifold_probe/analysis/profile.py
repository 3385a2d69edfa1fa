"""The layer profile of point clouds held in memory.

For every layer l (row ``i`` of every layer is the same input):

- intrinsic dimension: TwoNN (with its 95% interval), MLE, and the GRIDE scale curve;
- scalar curvature: median and quartiles over points;
- how the map from the previous layer (and from the input layer) warps the cloud:
  geodesic distortion, kNN overlap, trustworthiness and continuity (:func:`manifold_probe.warp`);
- significant Betti numbers, and whether topology is preserved from the previous layer;
- for token-level capture, the trajectory curvature of each input's token sequence.

Each layer's kNN graph is computed once and shared by every measure of that layer. The tasks
are those of :func:`manifold_probe.analysis.tasks.schedule`, the same table the experiment
runner (``manifold-probe run``) sends through its executor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_points
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.analysis.table import assemble_rows, column_order
from manifold_probe.analysis.tasks import run_task, schedule
from manifold_probe.neighbors import Neighbors, knn

__all__ = ["profile_layers"]


class _InMemory:
    """A :class:`~manifold_probe.analysis.tasks.LayerSource` over arrays."""

    def __init__(self, clouds: list[np.ndarray], graphs: list[Neighbors], sentence_ids: Any):
        self.clouds, self.graphs = clouds, graphs
        self.sid = None if sentence_ids is None else np.asarray(sentence_ids)

    def cloud(self, i: int) -> np.ndarray:
        return self.clouds[i]

    def graph(self, i: int) -> Neighbors:
        return self.graphs[i]

    def sentence_ids(self) -> np.ndarray | None:
        return self.sid

    def perturbed_cloud(self, i: int) -> np.ndarray:  # pragma: no cover - not scheduled here
        raise InputError("an in-memory profile has no perturbed activations")


def profile_layers(
    layers: Mapping[str, Any] | Sequence[Any],
    *,
    estimators: Any = None,
    seeds: Sequence[int] = (0,),
    sentence_ids: Any = None,
) -> list[dict]:
    """The layer profile of point clouds held in memory.

    Parameters
    ----------
    layers : mapping of layer name to array (n_points, d_l), or a sequence of arrays
        Row ``i`` of every layer is the same input; widths may differ.
    estimators : EstimatorSettings or nested dict, optional
        Estimator settings (:class:`manifold_probe.analysis.EstimatorSettings`; a dict such as
        ``{"topology": {"enabled": False}}`` overrides the defaults it names).
    seeds : sequence of int, default=(0,)
        Seeds of the randomised measures (geodesic sources, subsamples, bootstrap); results
        over seeds are combined column by column.
    sentence_ids : array-like of int, optional
        For token-level rows: the input each row comes from (enables trajectory curvature).

    Returns
    -------
    list of dict, one per layer, with the columns of
    :data:`~manifold_probe.analysis.table.PROFILE_COLUMNS` (NaN or None where a measure is
    disabled or undefined, e.g. ``*_prev`` at layer 0).

    Notes
    -----
    Each layer's kNN graph is computed once (with as many neighbours as the largest estimator
    needs) and shared by every measure.
    """
    if isinstance(layers, Mapping):
        names = [str(n) for n in layers]
        arrays = list(layers.values())
    else:
        arrays = list(layers)
        names = [f"layer_{i}" for i in range(len(arrays))]
    if not arrays:
        raise InputError("profile_layers needs at least one layer")
    est = EstimatorSettings.from_mapping(estimators)
    k_graph = est.graph_k_needed()
    clouds = [check_points(A, min_points=k_graph + 2, name=f"layer {n}", what="the layer profile")
              for n, A in zip(names, arrays, strict=True)]
    n = clouds[0].shape[0]
    for name, A in zip(names, clouds, strict=True):
        if A.shape[0] != n:
            raise InputError(
                f"layer {name!r} has {A.shape[0]} rows but layer {names[0]!r} has {n}; row i must "
                "be the same input in every layer"
            )
    source = _InMemory(clouds, [knn(A, k_graph) for A in clouds], sentence_ids)
    results: dict[int, list[dict]] = {}
    for task in schedule(len(clouds), est, list(seeds), has_sentence_ids=sentence_ids is not None):
        results.setdefault(task.layer, []).append(run_task(source, task, est))
    base = [{"n_points": int(A.shape[0]), "dim_ambient": int(A.shape[1])} for A in clouds]
    rows = assemble_rows(names, base, results)
    columns = column_order(rows)
    return [{c: row.get(c) for c in columns} for row in rows]
