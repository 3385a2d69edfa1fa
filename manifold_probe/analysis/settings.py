"""Estimator settings of the layer profile: plain frozen dataclasses, derived from one schema.

:data:`SETTINGS` lists, section by section, every setting of the profile as a
:class:`~manifold_probe._params.Param`: where the setting is an estimator's parameter it is
that estimator's own ``Param`` (declared beside the function, e.g.
:data:`~manifold_probe.dimension._mle.MLE_PARAMS`), so its type, bounds and default have one
home; settings of the profile alone (``enabled``, subsample sizes, GRIDE scales, the verdict's
repeats) are declared here. :data:`DEPARTURES` names the few profile defaults that differ
from the estimator's. The dataclasses below, the config's pydantic models
(:mod:`manifold_probe.analysis.settings_schema`) and the README's settings table are all
built from :data:`SETTINGS`.

>>> est = EstimatorSettings.from_mapping({"gride": {"scales": [1, 2, 4]}, "mle": {"k": 10}})
>>> est.gride.scales, est.mle.k, est.graph_k()
((1, 2, 4), 10, 12)
>>> EstimatorSettings.from_mapping({"mle": {"kk": 3}})
Traceback (most recent call last):
...
manifold_probe._validation.InputError: estimator setting 'mle.kk' is unknown; known: enabled, k
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from manifold_probe._params import Param, warn_ignored
from manifold_probe._validation import InputError
from manifold_probe.analysis.regions import REGIONS_PARAMS
from manifold_probe.analysis.structure import STRUCTURE_PARAMS
from manifold_probe.analysis.warping import WARP_PARAMS
from manifold_probe.curvature import CURVATURE_PARAMS
from manifold_probe.dimension import GRIDE_PARAMS, MLE_PARAMS
from manifold_probe.geodesic import GEODESIC_PARAMS
from manifold_probe.topology import BETTI_PARAMS

__all__ = [
    "CurvatureSettings",
    "DEPARTURES",
    "EstimatorSettings",
    "GRIDE_GRAPH_ROOM",
    "GeodesicSettings",
    "GrideSettings",
    "KnnSettings",
    "MAX_SEED",
    "MLESettings",
    "ORIGIN",
    "NullSettings",
    "REMOVED",
    "RegionsSettings",
    "SETTINGS",
    "StructureSettings",
    "TopologySettings",
    "TrajectorySettings",
    "TwoNNSettings",
    "VerdictSettings",
]

#: Largest seed: seeds are stored as int32 in the result tables.
MAX_SEED = 2**31 - 1

#: Above this many rows the profile measures a uniform subsample of this many rows
#: (the same rows in every layer; whole inputs when ``sentence_ids`` are given), in Python
#: (:func:`~manifold_probe.analysis.profile_layers`) as in a run (setting ``profile.max_rows``).
#: Every layer's kNN graph is an n² search — 100,000 × 768 takes about 5 min per layer on one
#: core, a 13-layer profile an hour on two — while its readings converge long before: what the
#: subsample costs against all rows is measured in ``benchmarks/bench_profile_subsample.py``.
#: The default per-token run of the shipped corpus (19,296 tokens) and every mean-pooled run
#: stay below it, so their numbers are those of every row.
# checked by `benchmarks/bench_profile_subsample.py`, see docs/validation.md#profile-rows
PROFILE_MAX_ROWS = 20_000


#: The shared graph of a layer holds this many times GRIDE's ``2 max(scales)`` neighbours.
#: Where the estimators merge near-coincident points (per-token clouds:
#: :mod:`manifold_probe.dimension._near`), the graph of the merged cloud is read off the
#: shared one (:func:`~manifold_probe.neighbors.graph_on`, the same graph as a search, bit
#: for bit), which needs ``2 max(scales)`` kept neighbours listed in almost every kept row;
#: otherwise the merged cloud is searched again (about 5 CPU s per per-token MiniLM layer,
#: 19,296 x 384). With exactly ``2 max(scales)`` columns 58-86% of the kept rows of those
#: layers list fewer; with 1.5 times, at most 0.4%, for 0.5 CPU s more per graph.
# set by `benchmarks/bench_gride_graph_room.py`, see docs/validation.md#shared-graph-room
GRIDE_GRAPH_ROOM = 1.5


def _enabled(what: str) -> Param:
    return Param("enabled", bool, True, f"compute {what}")


def _subsample(default: int, what: str, nullable: bool = True) -> Param:
    return Param("max_points", int, default, f"{what} on this many points drawn with the seed"
                 + (" (None: all)" if nullable else ""), ge=20, nullable=nullable)


_MADE_FROM: dict[int, tuple[Any, str]] = {}


def _of(schema: Any, name: str, **changes: Any) -> Param:
    """Estimator ``schema``'s param ``name`` (with ``changes``: a profile default or meaning)."""
    p = dataclasses.replace(schema[name], **changes) if changes else schema[name]
    _MADE_FROM[id(p)] = (schema, name)
    return p


#: Profile defaults that depart from the estimator's own default, and why.
DEPARTURES = {
    ("knn", "rank_rows"): "per-token clouds above ~10,000 rows would rank every row from all "
                          "distances; mean-pooled runs never reach 2000",
}

#: Every setting of the layer profile, by section (the ``[estimators.<section>]`` tables).
SETTINGS: dict[str, dict[str, Param]] = {
    name: {p.name: p for p in params}
    for name, params in {
        "knn": (_of(WARP_PARAMS, "k"), _of(WARP_PARAMS, "rank_rows", default=2000)),
        "twonn": (_enabled("the TwoNN dimension"),
                  Param("k", int, 2, "graph columns TwoNN reads (the ratio of the 2nd to the 1st "
                        "neighbour distance)", ge=2)),
        "mle": (_enabled("the MLE dimension (and each row's local MLE)"), _of(MLE_PARAMS, "k")),
        "gride": (_enabled("the GRIDE scale curve"),
                  Param("scales", tuple, (1, 2, 4, 8, 16), "n1 values; GRIDE uses n2 = 2 n1, so "
                        "the graph needs k >= 2 max(n1)", ge=GRIDE_PARAMS["n1"].ge, item=int)),
        "curvature": (_enabled("scalar curvature"), _of(CURVATURE_PARAMS, "method"),
                      _subsample(400, "estimate"),
                      _of(CURVATURE_PARAMS, "dim", meaning="intrinsic dimension of the fit "
                          "(None: the layer's rounded TwoNN)")),
        "geodesic": (_enabled("geodesic distortion"), _of(WARP_PARAMS, "n_sources"),
                     _of(GEODESIC_PARAMS, "method")),
        "topology": (_enabled("significant Betti numbers"), _of(BETTI_PARAMS, "maxdim"),
                     _subsample(400, "persistent homology", nullable=False),
                     _of(BETTI_PARAMS, "confidence"), _of(BETTI_PARAMS, "n_landmarks"),
                     Param("diagram_distances", bool, False, "also compare the diagrams of "
                           "consecutive layers (bottleneck distance; runs mp.topology_preserved, "
                           "about twice the cost)")),
        "trajectory": (_enabled("trajectory curvature (token-level inputs)"),),
        "regions": (_enabled("semantic regions"),
                    *(_of(REGIONS_PARAMS, p.name) for p in REGIONS_PARAMS), _subsample(1000, "regions"),
                    Param("label", str, "category", "input label compared with the regions")),
        "structure": (_enabled("the known-structure tests"),
                      _of(STRUCTURE_PARAMS, "probe"), _of(STRUCTURE_PARAMS, "n_perm"),
                      Param("alpha", float, 0.05, "level at which a structure counts as present "
                            "(verdicts)", gt=0.0, lt=1.0)),
        "verdict": (Param("seeds", tuple, (0, 1), "seed offsets at which every verdict is "
                          "repeated", ge=0, le=MAX_SEED, item=int, min_length=1),
                    Param("sizes", tuple, (0.5, 1.0), "subsample sizes, as fractions of "
                          "topology.max_points", gt=0.0, le=1.0, item=float, min_length=1),
                    Param("layer_pairs", bool, False, "also give each consecutive layer pair a "
                          "verdict (topology_verdict_prev)")),
        "nulls": (Param("enabled", bool, True, "compute each measure's null (matched Gaussian, "
                        "shuffled tokens) and an above/within/below call"),),
        "profile": (Param("max_rows", int, PROFILE_MAX_ROWS, "above this many rows every "
                          "measure runs on one subsample of the rows, the same in every layer "
                          "(uniform, or whole inputs with per-token capture; None: every row)",
                          ge=3, nullable=True),),
    }.items()
}

#: ``(section, key)`` -> ``(schema, name)``: the estimator parameter a setting is (settings
#: absent here belong to the profile alone).
ORIGIN: dict[tuple[str, str], tuple[Any, str]] = {
    (section, key): _MADE_FROM[id(p)]
    for section, params in SETTINGS.items() for key, p in params.items() if id(p) in _MADE_FROM
}

#: Settings still accepted and ignored (older configs load), with a ``FutureWarning``.
REMOVED: dict[str, tuple[str, ...]] = {"topology": ("n_bootstrap",)}


def _settings_class(name: str, section: str, doc: str) -> type:
    params = SETTINGS[section].values()
    cls = dataclasses.make_dataclass(
        name,
        [(p.name, Any, field(default=p.default)) for p in params],
        frozen=True,
    )
    cls.__module__ = __name__  # so that pickle finds it (dask ships settings to workers)
    cls.__doc__ = doc
    return cls


KnnSettings = _settings_class("KnnSettings", "knn", """Neighbourhood size of the kNN graphs
    compared by the warp measures; ``rank_rows``: at most this many rows ranked from all
    distances by trustworthiness and continuity (a uniform sample above it, ``None``: all).""")
TwoNNSettings = _settings_class("TwoNNSettings", "twonn", """TwoNN reads the ratio of the 2nd
    to the 1st neighbour distance: 2 graph columns.""")
MLESettings = _settings_class("MLESettings", "mle", "MLE dimension with ``k`` neighbours.")
GrideSettings = _settings_class("GrideSettings", "gride", """GRIDE scale curve at ``n1`` in
    ``scales`` (``n2 = 2 n1``: the graph needs ``2 max(n1)``).""")
CurvatureSettings = _settings_class("CurvatureSettings", "curvature", """Scalar curvature at
    ``max_points`` points drawn with the seed (``None``: all); ``dim=None`` fits at the
    layer's rounded TwoNN dimension.""")
GeodesicSettings = _settings_class("GeodesicSettings", "geodesic", """Geodesic distortion from
    ``n_sources`` sources drawn with the seed.""")
TopologySettings = _settings_class("TopologySettings", "topology", """Significant Betti
    numbers of a ``max_points`` subsample (maxmin landmarks of the Rips complex).""")
TrajectorySettings = _settings_class("TrajectorySettings", "trajectory",
                                     "Trajectory curvature of token-level inputs.")
RegionsSettings = _settings_class("RegionsSettings", "regions", """Semantic regions
    (:func:`~manifold_probe.analysis.regions.regions`) of a ``max_points`` subsample, and
    their agreement with the inputs' label ``label`` (when the inputs have it).""")
StructureSettings = _settings_class("StructureSettings", "structure", """Known input
    structures (:func:`~manifold_probe.analysis.structure.known_structure`); ``alpha`` is the
    level at which a structure counts as present (the verdict's "significant before and not
    after").""")
NullSettings = _settings_class("NullSettings", "nulls", """Nulls computed with every reading
    (:mod:`manifold_probe.analysis.nulls`); ``enabled = false`` leaves the null columns out.""")
ProfileSettings = _settings_class("ProfileSettings", "profile", """The rows a profile
    measures: above ``max_rows`` rows a subsample of them (``None``: every row; see
    :func:`~manifold_probe.analysis.profile.profile_rows`).""")
VerdictSettings = _settings_class("VerdictSettings", "verdict", """The scale-aware verdict,
    repeated at every seed offset in ``seeds`` and every subsample size ``sizes`` (fractions
    of ``topology.max_points``); ``layer_pairs`` also gives each consecutive layer pair a
    verdict (``topology_verdict_prev``).""")


_SECTIONS: dict[str, type] = {
    "knn": KnnSettings,
    "twonn": TwoNNSettings,
    "mle": MLESettings,
    "gride": GrideSettings,
    "curvature": CurvatureSettings,
    "geodesic": GeodesicSettings,
    "topology": TopologySettings,
    "trajectory": TrajectorySettings,
    "regions": RegionsSettings,
    "structure": StructureSettings,
    "verdict": VerdictSettings,
    "nulls": NullSettings,
    "profile": ProfileSettings,
}


@dataclass(frozen=True)
class EstimatorSettings:
    """Every estimator's settings for the layer profile (picklable; hashable)."""

    knn: KnnSettings = field(default_factory=KnnSettings)
    twonn: TwoNNSettings = field(default_factory=TwoNNSettings)
    mle: MLESettings = field(default_factory=MLESettings)
    gride: GrideSettings = field(default_factory=GrideSettings)
    curvature: CurvatureSettings = field(default_factory=CurvatureSettings)
    geodesic: GeodesicSettings = field(default_factory=GeodesicSettings)
    topology: TopologySettings = field(default_factory=TopologySettings)
    trajectory: TrajectorySettings = field(default_factory=TrajectorySettings)
    regions: RegionsSettings = field(default_factory=RegionsSettings)
    structure: StructureSettings = field(default_factory=StructureSettings)
    verdict: VerdictSettings = field(default_factory=VerdictSettings)
    nulls: NullSettings = field(default_factory=NullSettings)
    profile: ProfileSettings = field(default_factory=ProfileSettings)

    def graph_k(self, room: bool = True) -> int:
        """``graph_k``: the columns of the one shared kNN graph of a layer, enough for every
        enabled estimator (the warp measures' ``knn.k``, TwoNN's 2, ``mle.k``, GRIDE's
        ``2 max(scales)``, with room: :data:`GRIDE_GRAPH_ROOM` times that). The one
        definition: the runner's graph tasks, their folder name and the cache keys of the
        tasks that read the graph all use it under this name. No result depends on the room
        (every estimator reads the first columns it needs of an exact graph); it only spares
        a second search (see :data:`GRIDE_GRAPH_ROOM`), so a layer of fewer rows gets a graph
        of all its other rows. ``room=False``: the columns the estimators read, without it
        (a layer needs two rows more)."""
        ks = [self.knn.k]
        if self.twonn.enabled:
            ks.append(self.twonn.k)
        if self.mle.enabled:
            ks.append(self.mle.k)
        if self.gride.enabled and self.gride.scales:
            ks.append(math.ceil((GRIDE_GRAPH_ROOM if room else 1) * 2 * max(self.gride.scales)))
        return max(ks)

    @property
    def dimension_enabled(self) -> bool:
        return self.twonn.enabled or self.mle.enabled or self.gride.enabled

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (tuples as lists), e.g. for cache keys."""
        return {name: {k: list(v) if isinstance(v, tuple) else v
                       for k, v in dataclasses.asdict(getattr(self, name)).items()}
                for name in _SECTIONS}

    @classmethod
    def from_mapping(cls, obj: Any = None) -> EstimatorSettings:
        """Settings from ``None`` (the defaults), an instance, an object with ``model_dump``
        (a pydantic config) or a nested mapping ``{section: {key: value}}`` (missing keys
        keep their defaults; unknown keys are an :class:`~manifold_probe.InputError`)."""
        if obj is None:
            return cls()
        if isinstance(obj, cls):
            return obj
        if hasattr(obj, "model_dump"):
            obj = obj.model_dump()
        if not isinstance(obj, Mapping):
            raise InputError(
                f"estimator settings must be an EstimatorSettings or a mapping of sections; got "
                f"{type(obj).__name__}"
            )
        sections = {}
        for name, values in obj.items():
            if name not in _SECTIONS:
                raise InputError(
                    f"estimator section {name!r} is unknown; known: {', '.join(_SECTIONS)}"
                )
            sections[name] = _section(name, values)
        return cls(**sections)


def _section(name: str, values: Any) -> Any:
    kind = _SECTIONS[name]
    if isinstance(values, kind):
        return values
    if not isinstance(values, Mapping):
        raise InputError(f"estimator section {name!r} must be a mapping; got {values!r}")
    known = [f.name for f in dataclasses.fields(kind)]
    values = dict(values)
    for key in REMOVED.get(name, ()):
        warn_ignored(f"{name}.{key}", values.pop(key, None), where="estimator settings",
                     stacklevel=5)
    for key in values:
        if key not in known:
            raise InputError(
                f"estimator setting '{name}.{key}' is unknown; known: {', '.join(known)}"
            )
    values = {k: tuple(SETTINGS[name][k].item(s) for s in v) if SETTINGS[name][k].type is tuple
              else v for k, v in values.items()}
    return kind(**values)
