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

from manifold_probe._threads import default_threads, run_side_by_side
from manifold_probe._validation import InputError, check_int, check_points
from manifold_probe.analysis.metric import apply_metric
from manifold_probe.analysis.settings import PROFILE_MAX_ROWS  # the default of profile.max_rows
from manifold_probe.analysis.table import (
    POINT_PREFIX,
    SEEDED_KINDS,
    assemble_rows,
    column_order,
    profile_dataset,
)
from manifold_probe.analysis.tasks import longest_first, preload, run_task, schedule
from manifold_probe.analysis.warp_null import warp_family_calls
from manifold_probe.neighbors import Neighbors, knn

__all__ = ["PROFILE_MAX_ROWS", "profile_layers", "profile_rows"]

_PROFILE_SUBSAMPLE_SEED = 0  # the rows of a subsampled profile: fixed, so reruns agree
_FROM_SETTINGS = object()  # max_rows not given: the estimators' profile.max_rows


def profile_rows(n: int, max_rows: int | None, sentence_ids: Any = None,
                 seed: int = _PROFILE_SUBSAMPLE_SEED) -> np.ndarray | None:
    """The sorted rows a profile of ``n`` rows measures, or None for all of them.

    Above ``max_rows``: ``max_rows`` rows drawn uniformly without replacement; with
    ``sentence_ids``, whole inputs drawn in a random order while their rows fit in
    ``max_rows`` (so each input's token sequence stays whole for the trajectory measure).

    >>> profile_rows(10, 20) is None, profile_rows(10, 4).tolist()
    (True, [2, 4, 5, 7])
    >>> profile_rows(6, 4, sentence_ids=[0, 0, 1, 1, 2, 2]).tolist()  # two whole inputs
    [0, 1, 4, 5]
    """
    if max_rows is None or n <= max_rows:
        return None
    rng = np.random.default_rng(seed)
    if sentence_ids is None:
        return np.sort(rng.choice(n, size=max_rows, replace=False)).astype(np.int64)
    sid = np.asarray(sentence_ids)
    inputs, first, counts = np.unique(sid, return_index=True, return_counts=True)
    order = rng.permutation(len(inputs))
    fits = np.cumsum(counts[order]) <= max_rows
    keep = np.isin(sid, inputs[order[: max(1, int(fits.sum()))]])
    return np.flatnonzero(keep).astype(np.int64)


def _side_by_side(fn, items: list, threads: int, order: list[int] | None = None) -> list:
    """``[fn(item) for item in items]``, ``threads`` at a time (one BLAS thread each), started
    in ``order`` (positions in ``items``; default: as listed)."""
    if threads == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    preload()  # what the tasks import on first use, imported here before the threads start
    order = list(range(len(items))) if order is None else order
    out = dict(run_side_by_side(lambda i: fn(items[i]), order, threads))
    return [out[i] for i in range(len(items))]


class _InMemory:
    """A :class:`~manifold_probe.analysis.tasks.LayerSource` over arrays."""

    def __init__(self, clouds: list[np.ndarray], graphs: list[Neighbors], sentence_ids: Any,
                 labels: dict[str, np.ndarray] | None = None):
        self.clouds, self.graphs = clouds, graphs
        self.sid = None if sentence_ids is None else np.asarray(sentence_ids)
        self._labels = labels

    def labels(self) -> dict[str, np.ndarray] | None:
        return self._labels

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
    labels: Mapping[str, Any] | None = None,
    as_rows: bool = False,
    metric: str = "euclidean",
    threads: int | None = None,
    max_rows: int | None | object = _FROM_SETTINGS,
):
    """The layer profile of point clouds held in memory, as an :class:`xarray.Dataset`.

    Parameters
    ----------
    layers : mapping of layer name to array (n_points, d_l), or a sequence of arrays
        Row ``i`` of every layer is the same input; widths may differ. Exact duplicate rows
        (per-token clouds: BOS/[CLS]) are allowed: every measure runs on the distinct rows.
    estimators : EstimatorSettings or nested dict, optional
        Estimator settings (:class:`manifold_probe.analysis.EstimatorSettings`; a dict such as
        ``{"topology": {"enabled": False}}`` overrides the defaults it names).
    seeds : sequence of int, default=(0,)
        Seeds of the randomised measures (geodesic sources, subsamples, bootstrap); results
        over seeds are combined column by column (floats averaged, booleans and-ed).
    sentence_ids : array-like of int, optional
        For token-level rows: the input each row comes from (enables trajectory curvature).
    labels : mapping of label name to array-like (n_points,), optional
        The inputs' labels, as the CLI saves them beside a capture (see
        :mod:`manifold_probe.analysis.semantic`): ``category`` (``estimators.regions.label``)
        gives ``regions_ari``, ``regions_nmi`` and ``label_purity``; ``day``, ``month``,
        ``number``, ``answer`` (with ``answer_order``) and ``wordnet_node`` (with
        ``wordnet_parents``) give the ``structure_<name>_*`` columns. Integer labels use ``-1``
        for "none". Keys ending in ``_order`` or ``_parents`` describe classes, not rows, and
        are passed as they are.
    as_rows : bool, default=False
        Return the table as a list of dicts (one per layer, the columns of profile.csv)
        instead of the Dataset.
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"cosine"``: every row is projected onto the unit sphere first, so the kNN graph,
        geodesics and topology are those of cosine similarity (see
        :func:`~manifold_probe.analysis.metric.apply_metric`); config ``[capture] metric``.
    threads : int, optional
        Tasks run at once, side by side on threads, each with one BLAS/OpenMP thread (as
        ``manifold-probe run`` does, :class:`manifold_probe.executor.InProcessExecutor`).
        Default: one per core this process may use. ``1``: one task at a time, each with
        every BLAS thread. The kNN graphs are computed the same way, one layer per thread.
        The numbers do not depend on it beyond the last bits of multi-threaded BLAS sums.
    max_rows : int or None, default: ``estimators``' ``profile.max_rows`` (20,000)
        Above this many rows every measure runs on the same subsample of the rows
        (:func:`profile_rows`: uniform, or whole inputs with ``sentence_ids``); the table then
        has ``n_profiled`` (the rows measured) beside ``n_points`` (all rows), and the
        Dataset's ``point`` dimension and ``attrs["profiled_rows"]`` hold the rows measured.
        None: every row, whatever the cost. The setting of a run's config (``[estimators.profile]
        max_rows``), so that ``manifold-probe run`` measures the same rows.

    Returns
    -------
    xarray.Dataset (or list of dict with ``as_rows=True``)
        Dims ``layer`` (coordinates ``layer`` = 0 … L and ``layer_name``), ``seed`` and
        ``point``: every column of
        :data:`~manifold_probe.analysis.table.PROFILE_COLUMNS` on ``layer`` (NaN where a
        measure is disabled or undefined, e.g. ``*_prev`` at layer 0; ``*_note`` text where an
        estimator could not run); ``<column>_by_seed`` on ``(layer, seed)`` for the seeded
        measures before combining; ``point_id_mle`` (local MLE dimension of every row) on
        ``(layer, point)``; the settings in ``attrs``. See
        :func:`~manifold_probe.analysis.table.profile_dataset`.

        To pandas: ``ds.drop_dims(["seed", "point"], errors="ignore").to_dataframe()`` is the
        table (one row per layer); ``ds["id_twonn"].to_pandas()`` one column;
        ``ds["curvature_median_by_seed"].to_pandas()`` a layer × seed frame.

    Notes
    -----
    Each layer's kNN graph is computed once (with as many neighbours as the largest estimator
    needs) and shared by every measure.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.random.default_rng(0).uniform(0, 2 * np.pi, 200)
    >>> X = np.c_[np.cos(t), np.sin(t), np.zeros(200)]
    >>> ds = profile_layers({"a": X, "b": 2 * X}, estimators={"curvature": {"enabled": False},
    ...                     "topology": {"enabled": False}, "geodesic": {"n_sources": 20}})
    >>> ds.sizes["layer"], list(ds["layer_name"].values), round(float(ds["knn_overlap_prev"][1]), 6)
    (2, ['a', 'b'], 1.0)
    """
    if isinstance(layers, Mapping):
        names = [str(n) for n in layers]
        arrays = list(layers.values())
    else:
        arrays = list(layers)
        names = [f"layer_{i}" for i in range(len(arrays))]
    if not arrays:
        raise InputError("profile_layers needs at least one layer")
    from manifold_probe.analysis.settings_schema import check_seeds, validate_settings

    # the config's own schema: a setting or seed the config refuses is refused here too
    est = validate_settings(estimators)
    seeds = check_seeds(seeds)
    graph_k = est.graph_k()
    # the row counts (a layer that is not 2-D is refused by check_points below)
    counts = [int(np.shape(A)[0]) if np.ndim(A) >= 1 else None for A in arrays]
    n = counts[0]
    for name, m in zip(names, counts, strict=True):
        if m is not None and n is not None and m != n:
            raise InputError(
                f"layer {name!r} has {m} rows but layer {names[0]!r} has {n}; row i must "
                "be the same input in every layer"
            )
    if sentence_ids is not None and n is not None:
        sentence_ids = np.asarray(sentence_ids)
        if sentence_ids.shape != (n,):
            raise InputError(
                f"sentence_ids has shape {sentence_ids.shape}; it needs one entry per row ({n},)"
            )
    labels = _check_labels(labels, n) if n is not None else labels
    if max_rows is _FROM_SETTINGS:
        max_rows = est.profile.max_rows
    if max_rows is not None:
        max_rows = check_int(max_rows, name="max_rows", minimum=est.graph_k(room=False) + 2)
    if max_rows != est.profile.max_rows:  # the settings say which rows were measured
        est = validate_settings({**est.as_dict(), "profile": {"max_rows": max_rows}})
    # the rows measured are chosen before the points are copied to float64, so a large cloud
    # is never held whole in float64
    kept = profile_rows(n, max_rows, sentence_ids) if n is not None else None
    n_all = n
    if kept is not None:
        arrays = [np.asarray(A)[kept] for A in arrays]
        sentence_ids = None if sentence_ids is None else sentence_ids[kept]
        if labels is not None:
            labels = {key: (v if key.endswith(("_order", "_parents")) else v[kept])
                      for key, v in labels.items()}
    clouds = [apply_metric(check_points(A, min_points=est.graph_k(room=False) + 2,
                                        name=f"layer {n}",
                                        what="the layer profile"), metric, name=f"layer {n}")
              for n, A in zip(names, arrays, strict=True)]
    threads = default_threads() if threads is None else check_int(threads, name="threads",
                                                                     minimum=1)
    graphs = _side_by_side(lambda A: knn(A, min(graph_k, A.shape[0] - 1)), clouds, threads)
    source = _InMemory(clouds, graphs, sentence_ids, labels)
    results: dict[int, list[dict]] = {}
    by_seed: dict[tuple[int, int], list[dict]] = {}
    points: dict[int, dict[str, Any]] = {}
    seeds = [int(s) for s in seeds]
    tasks = schedule(len(clouds), est, seeds, has_sentence_ids=sentence_ids is not None,
                     labels=labels)
    # the costliest kinds start first; results are gathered in the schedule's order whatever
    # order the threads finish in
    done = _side_by_side(lambda task: run_task(source, task, est), tasks, threads,
                         longest_first([t.kind for t in tasks]))
    for task, values in zip(tasks, done, strict=True):
        scalars = {k: v for k, v in values.items() if not k.startswith(POINT_PREFIX)}
        points.setdefault(task.layer, {}).update(
            {k: v for k, v in values.items() if k.startswith(POINT_PREFIX)})
        results.setdefault(task.layer, []).append(scalars)
        if task.kind in SEEDED_KINDS:
            by_seed.setdefault((task.layer, task.seed), []).append(scalars)
    base = [{"n_points": n_all, "dim_ambient": int(A.shape[1]),
             **({} if kept is None else {"n_profiled": int(A.shape[0])})} for A in clouds]
    warp_family_calls(by_seed)  # the warp calls, family-wise over the layer pairs
    rows = assemble_rows(names, base, results, alpha=est.structure.alpha)
    columns = column_order(rows)
    rows = [{c: row.get(c) for c in columns} for row in rows]
    if as_rows:
        return rows
    return profile_dataset(rows, columns, by_seed=by_seed, points=points,
                           sentence_ids=sentence_ids,
                           attrs={"estimators": est.as_dict(), "seeds": seeds,
                                  "source": "manifold_probe.profile_layers",
                                  **({} if kept is None else {"profiled_rows": kept})})


def _check_labels(labels: Mapping[str, Any] | None, n: int) -> dict[str, np.ndarray] | None:
    """The labels as arrays, one value per row (``*_order``/``*_parents`` as given)."""
    if labels is None:
        return None
    if not isinstance(labels, Mapping):
        raise InputError(f"labels must be a mapping of label name to one value per row, got "
                         f"{type(labels).__name__}; e.g. labels={{'category': y}}")
    out = {}
    for key, value in labels.items():
        arr = np.asarray(value)
        if not str(key).endswith(("_order", "_parents")) and arr.shape != (n,):
            raise InputError(f"labels[{key!r}] has shape {arr.shape}; it needs one value per "
                             f"row ({n},)")
        out[str(key)] = arr
    return out
