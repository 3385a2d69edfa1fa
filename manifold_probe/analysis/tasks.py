"""The task table of the layer profile: which measures run, on which layers, with which seeds.

A profile is a set of independent tasks (layer × measure × seed). :func:`schedule` lists them
once; :data:`TASKS` maps each task's ``kind`` to the function that computes it from a
:class:`LayerSource` (whatever hands out the layers' point clouds and kNN graphs: arrays in
memory for :func:`~manifold_probe.analysis.profile_layers`, files in a run directory for the
experiment runner, in process or on Dask workers). Both paths run the same table.

>>> est = EstimatorSettings.from_mapping({"curvature": {"enabled": False},
...                                       "topology": {"enabled": False},
...                                       "regions": {"enabled": False}})
>>> [(t.kind, t.layer, t.other) for t in schedule(3, est, seeds=[0])]  # doctest: +NORMALIZE_WHITESPACE
[('dimension', 0, None), ('dimension', 1, None), ('pair_prev', 1, 0),
 ('dimension', 2, None), ('pair_prev', 2, 1), ('pair_input', 2, 0)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from manifold_probe.analysis.measures import (
    measure_curvature,
    measure_dimension,
    measure_pair,
    measure_topology,
    measure_topology_pair,
    measure_trajectory,
)
from manifold_probe.analysis.perturbation import measure_perturbation, measure_verdict_pair
from manifold_probe.analysis.semantic import input_structures, measure_regions, measure_structures
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.neighbors import Neighbors, graphs_built_here

__all__ = [
    "TASKS",
    "TASK_COST",
    "TASK_GRAPH",
    "TASK_REVISION",
    "TASK_SETTINGS",
    "UndeclaredSettingError",
    "LayerSource",
    "Task",
    "longest_first",
    "perturbation_schedule",
    "run_task",
    "schedule",
    "settings_view",
]


@dataclass(frozen=True)
class Task:
    """One unit of work: ``kind`` at ``layer`` (against layer ``other``) with ``seed``."""

    kind: str
    layer: int
    seed: int = 0
    other: int | None = None


class LayerSource(Protocol):
    """Hands out the layers of one set of activations (row ``i`` the same input in each).

    ``graph(i)`` is the exact kNN graph that :func:`~manifold_probe.neighbors.knn` computed
    from ``cloud(i)``: :func:`run_task` hands it to the estimators without checking it again
    (see there).
    """

    def cloud(self, i: int) -> np.ndarray: ...

    def graph(self, i: int) -> Neighbors: ...

    def sentence_ids(self) -> np.ndarray | None: ...

    def perturbed_cloud(self, i: int) -> np.ndarray: ...

    # optional: ``labels() -> dict[str, ndarray] | None``, the inputs' labels (see
    # :mod:`manifold_probe.analysis.semantic`); a source without it has no labels


def _labels(src: LayerSource) -> dict | None:
    get = getattr(src, "labels", None)
    return get() if callable(get) else None


def _dimension(src: LayerSource, t: Task, est: EstimatorSettings) -> dict:
    return measure_dimension(src.cloud(t.layer), src.graph(t.layer), est)


def _trajectory(src: LayerSource, t: Task, est: EstimatorSettings) -> dict:
    return measure_trajectory(src.cloud(t.layer), src.sentence_ids(), nulls=est.nulls.enabled)


def _curvature(src: LayerSource, t: Task, est: EstimatorSettings) -> dict:
    return measure_curvature(src.cloud(t.layer), src.graph(t.layer), est, t.seed)


def _topology(src: LayerSource, t: Task, est: EstimatorSettings) -> dict:
    return measure_topology(src.cloud(t.layer), est, t.seed)


def _pair(suffix: str) -> Callable[[LayerSource, Task, EstimatorSettings], dict]:
    def pair(src: LayerSource, t: Task, est: EstimatorSettings) -> dict:
        return measure_pair(src.cloud(t.other), src.cloud(t.layer), src.graph(t.other),
                            src.graph(t.layer), est, t.seed, suffix)

    return pair


def _topology_prev(src: LayerSource, t: Task, est: EstimatorSettings) -> dict:
    return measure_topology_pair(src.cloud(t.other), src.cloud(t.layer), est, t.seed)


def _perturb(src: LayerSource, t: Task, est: EstimatorSettings) -> dict:
    return measure_perturbation(src.cloud(t.layer), src.graph(t.layer),
                                src.perturbed_cloud(t.layer), est, t.seed, _labels(src))


def _regions(src: LayerSource, t: Task, est: EstimatorSettings) -> dict:
    prev = src.cloud(t.layer - 1) if t.layer >= 1 else None
    return measure_regions(src.cloud(t.layer), prev, _labels(src), est, t.seed)


def _structure(src: LayerSource, t: Task, est: EstimatorSettings) -> dict:
    return measure_structures(src.cloud(t.layer), _labels(src), est, t.seed)


def _verdict_prev(src: LayerSource, t: Task, est: EstimatorSettings) -> dict:
    return measure_verdict_pair(src.cloud(t.other), src.cloud(t.layer), est, t.seed, _labels(src))


#: kind -> the function computing it (``fn(source, task, settings) -> dict of columns``).
TASKS: dict[str, Callable[[LayerSource, Task, EstimatorSettings], dict]] = {
    "dimension": _dimension,
    "trajectory": _trajectory,
    "curvature": _curvature,
    "topology": _topology,
    "pair_prev": _pair("prev"),
    "topology_prev": _topology_prev,
    "pair_input": _pair("input"),
    "perturb": _perturb,
    "regions": _regions,
    "structure": _structure,
    "verdict_prev": _verdict_prev,
}

#: kind -> the settings sections its result depends on (what a cached result is keyed by).
#: A task sees only these (:func:`settings_view`): reading any other section raises, so a
#: cache key cannot leave out a setting its task reads.
TASK_SETTINGS: dict[str, tuple[str, ...]] = {
    "dimension": ("knn", "twonn", "mle", "gride", "nulls"),
    "trajectory": ("trajectory", "nulls"),
    "curvature": ("curvature", "nulls"),
    "topology": ("topology",),
    "pair_prev": ("knn", "geodesic", "nulls"),
    "topology_prev": ("topology",),
    "pair_input": ("knn", "geodesic", "nulls"),
    "perturb": ("knn", "geodesic", "topology", "regions", "structure", "verdict"),
    "regions": ("knn", "regions", "nulls"),
    "structure": ("structure",),
    "verdict_prev": ("knn", "topology", "regions", "structure", "verdict"),
}

#: Kinds whose result gained values a later step reads, with the revision of their result,
#: merged into their cache key: a run resumed over older results recomputes them instead of
#: reading results without those values (revision 2 of the pair tasks: the warp null's draws,
#: which the family-wise calls need, :func:`~manifold_probe.analysis.warp_null.warp_family_calls`).
TASK_REVISION: dict[str, dict[str, int]] = {"pair_prev": {"rev": 2}, "pair_input": {"rev": 2}}

#: The kinds that read a layer's kNN graph (whose size, the largest k any estimator needs,
#: is then part of their key); the others see a source without graphs.
TASK_GRAPH: frozenset[str] = frozenset({"dimension", "curvature", "pair_prev", "pair_input",
                                        "perturb"})


#: The cost of one task of each kind relative to the others, for the order tasks start in
#: (:func:`longest_first`; results never depend on it): the kinds' one-thread CPU seconds per
#: task in the per-token MiniLM run, rounded (pair_prev 5.4-9.0 s, pair_input ~5.5 s,
#: curvature 4.1-4.9 s but 19 s at the embedding layer's 17-dimensional fit; dimension and
#: structure 1.3-3.0 s, trajectory ~1.2 s, regions ~0.65 s, topology ~0.3 s;
#: ``benchmarks/results/tokens_task_cpu_after_report_reuse.json``). Kinds that do not run there
#: (perturb, verdict_prev: a warp or verdicts at several sizes; topology_prev: two diagrams
#: and their distances) are placed by what they compute. The kNN graphs of the runner's first
#: stage are all of one kind.
TASK_COST: dict[str, float] = {
    "pair_prev": 8.0, "perturb": 8.0, "verdict_prev": 8.0, "pair_input": 5.5,
    "curvature": 5.0, "dimension": 2.5, "structure": 2.5, "trajectory": 1.2,
    "topology_prev": 1.0, "regions": 0.7, "topology": 0.3, "knn": 7.0,
}


def longest_first(kinds: Sequence[str]) -> list[int]:
    """The positions of tasks of these ``kinds`` in the order they should start: costliest
    kind first (:data:`TASK_COST`), the schedule's order within a kind.

    With tasks side by side on ``c`` cores, the last to finish then are short ones, so no core
    idles long at the end (longest processing time first: the finish is within
    :math:`4/3 - 1/(3c)` of the best possible, Graham 1969, "Bounds on multiprocessing timing
    anomalies", SIAM J. Appl. Math. 17(2), Theorem 2, for costs known exactly). Only the
    order changes: every task's result is its own, whatever ran beside or before it.

    >>> longest_first(["topology", "pair_prev", "dimension", "pair_prev", "curvature"])
    [1, 3, 4, 2, 0]
    """
    return sorted(range(len(kinds)), key=lambda i: -TASK_COST.get(kinds[i], 1.0))


class UndeclaredSettingError(RuntimeError):
    """A task read a setting (or the kNN graph) that its entry in :data:`TASK_SETTINGS`
    (:data:`TASK_GRAPH`) does not declare: its cached result could go stale. A bug in the task
    table, never bad input."""


class _Undeclared:
    """Stands in for a settings section a task did not declare; any attribute read raises."""

    def __init__(self, kind: str, section: str) -> None:
        object.__setattr__(self, "_where", (kind, section))

    def __getattr__(self, name: str):
        kind, section = object.__getattribute__(self, "_where")
        raise UndeclaredSettingError(
            f"task {kind!r} read {section}.{name}, but TASK_SETTINGS[{kind!r}] does not list "
            f"{section!r}; add it there (its cache key must cover every setting it reads)"
        )

    def __repr__(self) -> str:
        kind, section = object.__getattribute__(self, "_where")
        return f"<{section}: not visible to task {kind!r}>"


def settings_view(est: EstimatorSettings, kind: str) -> EstimatorSettings:
    """``est`` with every section outside ``TASK_SETTINGS[kind]`` replaced by a stand-in that
    raises :class:`UndeclaredSettingError` when read.

    >>> view = settings_view(EstimatorSettings(), "topology")
    >>> view.topology.maxdim
    1
    >>> view.mle.k
    Traceback (most recent call last):
    ...
    manifold_probe.analysis.tasks.UndeclaredSettingError: task 'topology' read mle.k, but TASK_SETTINGS['topology'] does not list 'mle'; add it there (its cache key must cover every setting it reads)
    """
    import dataclasses

    allowed = TASK_SETTINGS[kind]
    hidden = {f.name: _Undeclared(kind, f.name) for f in dataclasses.fields(est)
              if f.name not in allowed}
    return dataclasses.replace(est, **hidden)


class _SourceView:
    """A :class:`LayerSource` whose ``graph`` raises for a kind outside :data:`TASK_GRAPH`."""

    def __init__(self, source: LayerSource, kind: str) -> None:
        self._source, self._kind = source, kind

    def graph(self, i: int) -> Neighbors:
        if self._kind not in TASK_GRAPH:
            raise UndeclaredSettingError(
                f"task {self._kind!r} read a kNN graph, but it is not in TASK_GRAPH; add it "
                "there (its cache key must cover the graph's size)"
            )
        return self._source.graph(i)

    def __getattr__(self, name: str):
        return getattr(self._source, name)


def schedule(n_layers: int, est: EstimatorSettings, seeds: Sequence[int], *,
             has_sentence_ids: bool = False, labels: Mapping | None = None) -> list[Task]:
    """Every task of a profile of ``n_layers`` layers, in a fixed order.

    ``regions`` runs on every layer; ``structure`` only when ``labels`` (the inputs' labels)
    carry a known structure; ``verdict_prev`` only when ``verdict.layer_pairs`` is set.
    """
    structures = est.structure.enabled and bool(input_structures(labels))
    tasks = []
    for i in range(n_layers):
        if est.dimension_enabled:
            tasks.append(Task("dimension", i))
        if est.trajectory.enabled and has_sentence_ids:
            tasks.append(Task("trajectory", i))
        for seed in seeds:
            if est.curvature.enabled:
                tasks.append(Task("curvature", i, seed))
            if est.topology.enabled:
                tasks.append(Task("topology", i, seed))
            if est.regions.enabled:
                tasks.append(Task("regions", i, seed))
            if structures:
                tasks.append(Task("structure", i, seed))
            if i >= 1:
                tasks.append(Task("pair_prev", i, seed, i - 1))
                if est.topology.enabled and est.topology.diagram_distances:
                    tasks.append(Task("topology_prev", i, seed, i - 1))
                if est.verdict.layer_pairs:
                    tasks.append(Task("verdict_prev", i, seed, i - 1))
            if i >= 2:
                tasks.append(Task("pair_input", i, seed, 0))
    return tasks


def perturbation_schedule(changed_layers: Sequence[int], seeds: Sequence[int]) -> list[Task]:
    """The ``perturb`` tasks of one perturbation: every changed layer × seed."""
    return [Task("perturb", i, seed) for i in changed_layers for seed in seeds]


#: What the task functions import on first use (inside functions, to keep ``import
#: manifold_probe`` light): our estimator packages and the libraries they call. (No task
#: computes Wasserstein diagram distances or Ollivier-Ricci curvature, so POT and
#: gudhi.wasserstein, 2.5 s to import, are not listed.)
TASK_IMPORTS = (
    "manifold_probe.curvature", "manifold_probe.dimension", "manifold_probe.topology",
    "manifold_probe.geodesic", "manifold_probe.datasets",
    "torch", "threadpoolctl", "gudhi", "ripser",
    "scipy.sparse", "scipy.sparse.csgraph", "scipy.spatial", "scipy.spatial.distance",
    "scipy.stats", "scipy.optimize", "scipy.special", "sklearn.covariance", "sklearn.metrics",
)


def preload() -> None:
    """Import, in this thread, every module the task functions import on first use.

    Tasks that run side by side on threads (``InProcessExecutor(threads=...)``) would
    otherwise import these concurrently, and two threads importing a package with circular
    imports (scipy's, for one) can see it half initialised ("cannot import name ... from
    partially initialized module"). Optional libraries that are missing are skipped (the task
    needing one reports that when it runs).
    """
    import importlib
    import pkgutil
    from pathlib import Path

    names = list(TASK_IMPORTS)
    root = str(Path(__file__).resolve().parents[1])  # the manifold_probe package folder
    for info in pkgutil.walk_packages([root], "manifold_probe."):
        if info.name.startswith(("manifold_probe.analysis", "manifold_probe.curvature",
                                 "manifold_probe.dimension", "manifold_probe.topology")):
            names.append(info.name)
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def run_task(source: LayerSource, task: Task, est: EstimatorSettings) -> dict:
    """The columns of one task (looked up in :data:`TASKS`), computed on a view of ``est``
    and ``source`` limited to what the task declares (:func:`settings_view`).

    Every graph a task hands an estimator is a layer's graph from ``source`` (built by
    :func:`~manifold_probe.neighbors.knn` from that very cloud: in memory by
    :func:`~manifold_probe.analysis.profile_layers`, or by the runner's first stage and read
    back under its recorded checksum), one read off it for the distinct rows
    (:func:`~manifold_probe.neighbors.graph_on`, exact) or one the task has just built with
    ``knn``. So the estimators skip their array checks of a precomputed graph
    (:func:`~manifold_probe.neighbors.graphs_built_here`: O(n k) plus a few rows of distances
    per graph and estimator: about 0.1 s a check of a layer of the per-token MiniLM run, a
    few CPU seconds of its measures, ``benchmarks/bench_tokens_shortcuts.py``), which could
    only pass; the shape and ``k`` checks stay, and every column is the same, bit for bit
    (``tests/test_profile.py``).
    """
    with graphs_built_here():
        return TASKS[task.kind](_SourceView(source, task.kind), task,
                                settings_view(est, task.kind))
