"""Estimator settings of the layer profile: plain frozen dataclasses.

One place per default: where an estimator has a default in its signature
(:func:`manifold_probe.knn`'s ``k``, :func:`~manifold_probe.dimension.mle`'s ``k``,
:func:`~manifold_probe.scalar_curvature`'s ``method``, :func:`~manifold_probe.geodesic_distances`'s
``method``, :func:`~manifold_probe.betti_numbers`'s ``maxdim``, ``confidence`` and
``n_bootstrap``, :func:`~manifold_probe.warp`'s ``n_sources``), the setting reads it from there;
:mod:`manifold_probe.config` reads its defaults from these classes. Settings that belong to the
profile alone (subsample sizes, GRIDE scales, landmarks) are defined here.

>>> est = EstimatorSettings.from_mapping({"gride": {"scales": [1, 2, 4]}, "mle": {"k": 10}})
>>> est.gride.scales, est.mle.k, est.graph_k_needed()
((1, 2, 4), 10, 10)
>>> EstimatorSettings.from_mapping({"mle": {"kk": 3}})
Traceback (most recent call last):
...
manifold_probe._validation.InputError: estimator setting 'mle.kk' is unknown; known: enabled, k
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from manifold_probe._validation import InputError
from manifold_probe.analysis.regions import regions
from manifold_probe.analysis.structure import known_structure
from manifold_probe.analysis.warping import warp
from manifold_probe.curvature import scalar_curvature
from manifold_probe.dimension._mle import mle
from manifold_probe.geodesic import geodesic_distances
from manifold_probe.neighbors import knn
from manifold_probe.topology import betti_numbers

__all__ = [
    "CurvatureSettings",
    "EstimatorSettings",
    "GeodesicSettings",
    "GrideSettings",
    "KnnSettings",
    "MLESettings",
    "NullSettings",
    "RegionsSettings",
    "StructureSettings",
    "TopologySettings",
    "TrajectorySettings",
    "TwoNNSettings",
    "VerdictSettings",
]


def signature_default(fn: Callable[..., Any], name: str) -> Any:
    """The default of parameter ``name`` in ``fn``'s signature (the one home of that default)."""
    return inspect.signature(fn).parameters[name].default


@dataclass(frozen=True)
class KnnSettings:
    """Neighbourhood size of the kNN graphs compared by the warp measures; ``rank_rows``: at
    most this many rows ranked from all distances by trustworthiness and continuity (a
    uniform sample above it, :func:`~manifold_probe.warp`'s ``rank_rows``; ``None``: all).
    Mean-pooled runs of a few thousand inputs never reach it; per-token clouds above about
    10,000 rows do."""

    k: int = signature_default(knn, "k")
    rank_rows: int | None = 2000


@dataclass(frozen=True)
class TwoNNSettings:
    """TwoNN reads the ratio of the 2nd to the 1st neighbour distance: 2 graph columns."""

    enabled: bool = True
    k: int = 2


@dataclass(frozen=True)
class MLESettings:
    enabled: bool = True
    k: int = signature_default(mle, "k")


@dataclass(frozen=True)
class GrideSettings:
    """GRIDE scale curve at ``n1`` in ``scales`` (``n2 = 2 n1``: the graph needs ``2 max(n1)``)."""

    enabled: bool = True
    scales: tuple[int, ...] = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class CurvatureSettings:
    """Scalar curvature at ``max_points`` points drawn with the seed (``None``: all).

    ``dim=None`` fits at the layer's rounded TwoNN dimension.
    """

    enabled: bool = True
    method: str = signature_default(scalar_curvature, "method")
    max_points: int | None = 400
    dim: int | None = None


@dataclass(frozen=True)
class GeodesicSettings:
    """Geodesic distortion from ``n_sources`` sources drawn with the seed."""

    enabled: bool = True
    n_sources: int = signature_default(warp, "n_sources")
    method: str = signature_default(geodesic_distances, "method")


@dataclass(frozen=True)
class TopologySettings:
    """Significant Betti numbers of a ``max_points`` subsample (maxmin landmarks of the Rips complex)."""

    enabled: bool = True
    maxdim: int = signature_default(betti_numbers, "maxdim")
    max_points: int = 400
    confidence: float = signature_default(betti_numbers, "confidence")
    n_landmarks: int | None = signature_default(betti_numbers, "n_landmarks")
    n_bootstrap: int | None = signature_default(betti_numbers, "n_bootstrap")  # ignored
    diagram_distances: bool = False


@dataclass(frozen=True)
class TrajectorySettings:
    enabled: bool = True


@dataclass(frozen=True)
class RegionsSettings:
    """Semantic regions (:func:`~manifold_probe.analysis.regions.regions`) of a ``max_points``
    subsample, and their agreement with the inputs' label ``label`` (when the inputs have it)."""

    enabled: bool = True
    k: int = signature_default(regions, "k")
    alpha: float = signature_default(regions, "alpha")
    n_boot: int = signature_default(regions, "n_boot")
    band: str = signature_default(regions, "band")
    method: str = signature_default(regions, "method")
    correction: str = signature_default(regions, "correction")
    error_bar: str = signature_default(regions, "error_bar")
    max_points: int | None = 1000
    label: str = "category"


@dataclass(frozen=True)
class StructureSettings:
    """Known input structures (:func:`~manifold_probe.analysis.structure.known_structure`):
    days/months cycles, the number line, the toy model's answer cycle, the WordNet tree —
    whichever the inputs' labels carry. ``alpha`` is the level at which a structure counts as
    present (the verdict's "significant before and not after")."""

    enabled: bool = True
    probe: str = signature_default(known_structure, "probe")
    n_perm: int = signature_default(known_structure, "n_perm")
    alpha: float = 0.05


@dataclass(frozen=True)
class NullSettings:
    """Nulls computed with every reading (:mod:`manifold_probe.analysis.nulls`): the same
    estimate on a Gaussian cloud of the layer's mean and covariance (dimension, curvature,
    regions), shuffled-token and Gaussian baselines of trajectory curvature, and an
    above/within/below call per measure. ``enabled = false`` leaves the null columns out."""

    enabled: bool = True


@dataclass(frozen=True)
class VerdictSettings:
    """The scale-aware verdict (:func:`~manifold_probe.analysis.perturbation.verdict`): it is
    repeated at every seed offset in ``seeds`` and every subsample size ``sizes`` (fractions of
    ``topology.max_points``); ``layer_pairs`` also gives each consecutive layer pair a verdict
    (``topology_verdict_prev``)."""

    seeds: tuple[int, ...] = (0, 1)
    sizes: tuple[float, ...] = (0.5, 1.0)
    layer_pairs: bool = False


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

    def graph_k_needed(self) -> int:
        """Columns of the one shared kNN graph: enough for every enabled estimator."""
        ks = [self.knn.k]
        if self.twonn.enabled:
            ks.append(self.twonn.k)
        if self.mle.enabled:
            ks.append(self.mle.k)
        if self.gride.enabled and self.gride.scales:
            ks.append(2 * max(self.gride.scales))
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
    for key in values:
        if key not in known:
            raise InputError(
                f"estimator setting '{name}.{key}' is unknown; known: {', '.join(known)}"
            )
    values = {k: tuple(int(s) for s in v) if k in ("scales", "seeds") else
              tuple(float(s) for s in v) if k == "sizes" else v for k, v in values.items()}
    return kind(**values)
