"""The ``[estimators.*]`` sections of an experiment config (see :mod:`manifold_probe.config`).

Every default is read from :class:`~manifold_probe.analysis.settings.EstimatorSettings`,
which reads the estimators' signatures: one home per default.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from manifold_probe.analysis.settings import EstimatorSettings

__all__ = ["EstimatorsConfig"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Defaults are read from the analysis settings, which read the estimators' signatures: one
# home per default.
_D = EstimatorSettings()


class KnnConfig(_Strict):
    k: int = Field(_D.knn.k, ge=2, description="neighbourhood size of the warp measures' kNN graphs")
    rank_rows: int | None = Field(
        _D.knn.rank_rows, ge=1,
        description="trustworthiness/continuity rank at most this many rows from all distances "
        "(a uniform sample above it; None: all)",
    )


class TwoNNConfig(_Strict):
    enabled: bool = _D.twonn.enabled
    k: int = Field(_D.twonn.k, ge=2)


class MLEConfig(_Strict):
    enabled: bool = _D.mle.enabled
    k: int = Field(_D.mle.k, ge=3)


class GrideConfig(_Strict):
    enabled: bool = True
    scales: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: list(_D.gride.scales),
        description="n1 values; GRIDE uses n2 = 2 n1, so the graph needs k >= 2 max(n1)",
    )


class CurvatureConfig(_Strict):
    enabled: bool = True
    method: Literal["quadratic", "ball_volume"] = _D.curvature.method
    max_points: int | None = Field(
        _D.curvature.max_points, ge=20, description="estimate on this many points drawn with the seed (None: all)"
    )
    dim: int | None = Field(
        None, ge=1, description="intrinsic dimension of the fit (None: the layer's rounded TwoNN)"
    )


class GeodesicConfig(_Strict):
    enabled: bool = True
    n_sources: int = Field(_D.geodesic.n_sources, ge=2, description="geodesic sources drawn with the seed")
    method: Literal["graph", "shortcut"] = Field(
        _D.geodesic.method, description="mp.geodesic_distances method: plain kNN-graph paths (fast) or "
        "chord-shortcut paths (less biased, slower)"
    )


class TopologyConfig(_Strict):
    enabled: bool = True
    maxdim: int = Field(_D.topology.maxdim, ge=0, le=2)
    max_points: int = Field(_D.topology.max_points, ge=20, description="subsample for persistent homology")
    confidence: float = Field(_D.topology.confidence, gt=0, lt=1)
    n_landmarks: int | None = Field(
        _D.topology.n_landmarks, ge=10, description="maxmin landmarks of the Rips complex"
    )
    n_bootstrap: int | None = Field(
        _D.topology.n_bootstrap, ge=2,
        description="ignored: the significance test needs no bootstrap (kept so older configs load)"
    )
    diagram_distances: bool = Field(
        _D.topology.diagram_distances, description="also compare the diagrams of consecutive layers (bottleneck "
        "distance; runs mp.topology_preserved, about twice the cost)"
    )


class TrajectoryConfig(_Strict):
    enabled: bool = True


class RegionsConfig(_Strict):
    enabled: bool = _D.regions.enabled
    k: int = Field(_D.regions.k, ge=2, description="neighbours of the density (distance to measure) and graph")
    alpha: float = Field(_D.regions.alpha, gt=0, lt=1, description="level of the bootstrap band")
    n_boot: int = Field(_D.regions.n_boot, ge=10, description="bootstrap replicates of the band")
    band: Literal["sup", "bottleneck"] = Field(
        _D.regions.band, description='"sup": sup-norm density band (Fasy et al. 2014, guaranteed); '
        '"bottleneck": H0 bottleneck bootstrap (Chazal et al. 2018, more power)')
    max_points: int | None = Field(_D.regions.max_points, ge=20, description="subsample (None: all)")
    label: str = Field(_D.regions.label, description="input label compared with the regions")


class StructureConfig(_Strict):
    enabled: bool = _D.structure.enabled
    probe: Literal["pca", "lda"] = _D.structure.probe
    n_perm: int = Field(_D.structure.n_perm, ge=19, description="permutations of the null")
    alpha: float = Field(_D.structure.alpha, gt=0, lt=1,
                         description="level at which a structure counts as present (verdicts)")


class VerdictConfig(_Strict):
    seeds: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: list(_D.verdict.seeds), min_length=1,
        description="seed offsets at which every verdict is repeated")
    sizes: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: list(_D.verdict.sizes), min_length=1,
        description="subsample sizes, as fractions of topology.max_points")
    layer_pairs: bool = Field(_D.verdict.layer_pairs, description="also give each consecutive "
                              "layer pair a verdict (topology_verdict_prev)")


class EstimatorsConfig(_Strict):
    knn: KnnConfig = KnnConfig()
    twonn: TwoNNConfig = TwoNNConfig()
    mle: MLEConfig = MLEConfig()
    gride: GrideConfig = GrideConfig()
    curvature: CurvatureConfig = CurvatureConfig()
    geodesic: GeodesicConfig = GeodesicConfig()
    topology: TopologyConfig = TopologyConfig()
    trajectory: TrajectoryConfig = TrajectoryConfig()
    regions: RegionsConfig = RegionsConfig()
    structure: StructureConfig = StructureConfig()
    verdict: VerdictConfig = VerdictConfig()

    def to_settings(self) -> EstimatorSettings:
        """The same settings as the analysis layer's frozen dataclasses."""
        return EstimatorSettings.from_mapping(self.model_dump())

    def graph_k_needed(self) -> int:
        """Columns of the one shared kNN graph (see :meth:`EstimatorSettings.graph_k_needed`)."""
        return self.to_settings().graph_k_needed()
