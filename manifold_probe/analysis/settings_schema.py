"""The one schema of the estimator settings: pydantic models of the ``[estimators.*]`` sections.

The config (:mod:`manifold_probe.config`, through :mod:`manifold_probe.config_sections`) and
the Python API (:func:`~manifold_probe.analysis.profile_layers`'s ``estimators=`` and
``seeds=``) validate through these same models, so a setting refused in a TOML file is refused
from Python with the same message, and none reaches an estimator unchecked. Integers are
strict (``True`` or ``"5"`` is not a ``k``). Every default is read from
:class:`~manifold_probe.analysis.settings.EstimatorSettings`, which reads the estimators'
signatures: one home per default.

>>> validate_settings({"knn": {"k": 5}}).knn.k
5
>>> validate_settings({"knn": {"k": "5"}})
Traceback (most recent call last):
...
manifold_probe._validation.InputError: estimator setting knn.k: Input should be a valid integer (got '5')
>>> check_seeds([0, 2**31])
Traceback (most recent call last):
...
manifold_probe._validation.InputError: seeds[1]: a seed must be a non-negative integer up to 2147483647 (numpy's rule; stored as int32), not a bool or a float; got 2147483648
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from manifold_probe._validation import InputError
from manifold_probe.analysis.settings import EstimatorSettings

__all__ = ["MAX_SEED", "EstimatorsConfig", "Seed", "check_seeds", "validate_settings"]

#: Largest seed: seeds are stored as int32 in the result tables.
MAX_SEED = 2**31 - 1

#: A seed: a non-negative int that fits int32; bools and floats are refused (strict).
Seed = Annotated[int, Field(ge=0, le=MAX_SEED, strict=True)]

_SEED_RULE = (f"a seed must be a non-negative integer up to {MAX_SEED} (numpy's rule; stored as "
              "int32), not a bool or a float")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


__all__ = ["EstimatorsConfig"]


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
    method: Literal["peak", "tomato"] = Field(
        _D.regions.method, description='"peak": each mode against its own bootstrap error bars '
        '(the merge criterion of DPA); "tomato": one global bootstrap band (earlier versions)')
    correction: Literal["none", "fdr", "simultaneous"] = Field(
        _D.regions.correction, description='method "peak": "fdr" Benjamini-Hochberg over the modes; '
        '"simultaneous" error bars holding at every peak and saddle; "none" each mode alone')
    error_bar: Literal["difference", "sum"] = Field(
        _D.regions.error_bar, description='method "peak": the error bar of a prominence, the '
        'bootstrap sd of peak minus saddle ("difference") or sd(peak) + sd(saddle) ("sum", DPA)')
    band: Literal["sup", "bottleneck"] = Field(
        _D.regions.band, description='method "tomato": "sup" sup-norm density band (Fasy et al. '
        '2014, guaranteed); "bottleneck" H0 bottleneck bootstrap (Chazal et al. 2018, more power)')
    max_points: int | None = Field(_D.regions.max_points, ge=20, description="subsample (None: all)")
    label: str = Field(_D.regions.label, description="input label compared with the regions")


class StructureConfig(_Strict):
    enabled: bool = _D.structure.enabled
    probe: Literal["pca", "lda"] = _D.structure.probe
    n_perm: int = Field(_D.structure.n_perm, ge=19, description="permutations of the null")
    alpha: float = Field(_D.structure.alpha, gt=0, lt=1,
                         description="level at which a structure counts as present (verdicts)")


class VerdictConfig(_Strict):
    seeds: list[Seed] = Field(
        default_factory=lambda: list(_D.verdict.seeds), min_length=1,
        description="seed offsets at which every verdict is repeated")
    sizes: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: list(_D.verdict.sizes), min_length=1,
        description="subsample sizes, as fractions of topology.max_points")
    layer_pairs: bool = Field(_D.verdict.layer_pairs, description="also give each consecutive "
                              "layer pair a verdict (topology_verdict_prev)")


class NullsConfig(_Strict):
    enabled: bool = Field(_D.nulls.enabled, description="compute each measure's null (matched "
                          "Gaussian, shuffled tokens) and an above/within/below call")


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
    nulls: NullsConfig = NullsConfig()

    def to_settings(self) -> EstimatorSettings:
        """The same settings as the analysis layer's frozen dataclasses."""
        return EstimatorSettings.from_mapping(self.model_dump())

    def graph_k_needed(self) -> int:
        """Columns of the one shared kNN graph (see :meth:`EstimatorSettings.graph_k_needed`)."""
        return self.to_settings().graph_k_needed()


def _message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown setting (check its spelling against experiments/configs/default.toml)"
    got = err.get("input")
    shown = "" if err["type"] == "missing" or isinstance(got, dict) else f" (got {got!r})"
    more = len(exc.errors()) - 1
    return f"estimator setting {loc}: {msg}{shown}" + (f"; and {more} more error(s)" if more else "")


def validate_settings(obj: Any = None) -> EstimatorSettings:
    """Estimator settings checked by the config's own schema (:class:`EstimatorsConfig`).

    Parameters
    ----------
    obj : EstimatorSettings, mapping ``{section: {key: value}}``, pydantic config or None
        Missing keys keep their defaults. An :class:`EstimatorSettings` built by hand is
        checked too (its fields are run through the same models).

    Raises
    ------
    InputError
        An unknown section or key, or a value the config would refuse (wrong type, out of
        range); one line naming the dotted key.
    """
    if obj is None:
        return EstimatorSettings()
    if isinstance(obj, EstimatorSettings):
        data: Any = obj.as_dict()
    elif hasattr(obj, "model_dump"):
        data = obj.model_dump()
    else:
        data = obj
    if not isinstance(data, dict):
        from collections.abc import Mapping

        if not isinstance(data, Mapping):
            raise InputError(
                f"estimator settings must be an EstimatorSettings or a mapping of sections; got "
                f"{type(obj).__name__}"
            )
        data = dict(data)
    data = {name: dict(v) if hasattr(v, "keys") else _section_dict(v) for name, v in data.items()}
    try:
        checked = EstimatorsConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(_message(exc)) from None
    return EstimatorSettings.from_mapping(checked.model_dump())


def _section_dict(value: Any) -> Any:
    """A section given as a settings dataclass (e.g. ``KnnSettings(k=5)``) as a plain dict."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(value).items()}
    return value


def check_seeds(seeds: Any) -> list[int]:
    """Seeds as the config accepts them: a non-empty sequence of ints in ``[0, 2**31 - 1]``.

    Raises
    ------
    InputError
        Empty, not a sequence, or a seed that is negative, too large, a bool or not an int.
    """
    import numpy as np

    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)):
        raise InputError(f"seeds must be a sequence of ints such as [0, 1]; got {seeds!r}")
    if len(seeds) == 0:
        raise InputError("seeds is empty; give at least one seed, e.g. seeds=[0]")
    out = []
    for i, s in enumerate(seeds):
        if isinstance(s, np.integer) and not isinstance(s, np.bool_):
            s = int(s)
        if type(s) is not int or not 0 <= s <= MAX_SEED:
            raise InputError(f"seeds[{i}]: {_SEED_RULE}; got {s!r}")
        out.append(s)
    return out
