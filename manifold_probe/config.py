"""Experiment configuration: TOML files validated by pydantic.

A config names the model, the data, the pooling, the layers, every estimator's parameters, the
perturbations, the seeds, the output directory and the executor. Unknown keys are errors
(``extra="forbid"``) and every error is one line that names the key::

    config error at estimators.twonn.k: Input should be greater than or equal to 2 (got 1)

Example files live in ``experiments/configs/``; :data:`DEFAULT_TOML` is the embedded default
used by ``manifold-probe run`` without a config (MiniLM, 2000 sentences, 7 layers, all
measures).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from manifold_probe._validation import InputError
from manifold_probe.analysis.settings import EstimatorSettings

__all__ = [
    "DEFAULT_TOML",
    "ConfigError",
    "ExperimentConfig",
    "config_hash",
    "default_config",
    "load_config",
    "parse_config",
]


class ConfigError(InputError):
    """A config that does not validate; the message is one line naming the bad key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    """Which network to probe."""

    spec: str = Field(
        "minilm",
        description='"minilm", "toy-modadd", a local Hugging Face model directory, or a Python '
        'entry point "package.module:function" returning a model handle (runs code: needs '
        "trust_code = true)",
    )
    device: str | None = None
    trust_code: bool = Field(
        False,
        description='allow a "package.module:function" spec to be imported and run (like Hugging '
        "Face's trust_remote_code); a config is data unless this is true",
    )


class DataConfig(_Strict):
    """Which inputs to feed the network."""

    source: Literal["corpus", "model"] = Field(
        "corpus",
        description='"corpus": sentences of the shipped corpus; "model": the inputs the model '
        "handle provides (e.g. all (a, b) pairs of the toy modular-addition model)",
    )
    n: int | None = Field(2000, ge=10, description="number of inputs (None: all)")
    labels: list[str] | None = Field(None, description="corpus categories to keep (None: all)")
    corpus: Literal["templates", "wordnet"] = Field(
        "templates", description='"templates": our labelled sentences; "wordnet": the shipped '
        "WordNet 3.0 subset (glosses and examples; labels name lexicographer categories)")


class CaptureConfig(_Strict):
    pooling: Literal["mean", "first", "last", "tokens"] = "mean"
    layers: list[str] | None = Field(None, description="layer names to capture (None: all)")
    batch_size: int = Field(64, ge=1)


# Defaults are read from the analysis settings, which read the estimators' signatures: one
# home per default.
_D = EstimatorSettings()


class KnnConfig(_Strict):
    k: int = Field(_D.knn.k, ge=2, description="neighbourhood size of the warp measures' kNN graphs")


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
        _D.topology.n_bootstrap, ge=2, description="bootstrap resamples of the confidence band"
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


class PerturbationConfig(_Strict):
    """One change to the model, compared with the unperturbed model at every later layer."""

    kind: Literal["ablate_block", "zero_head", "noise", "scale", "transform"]
    layer: int = Field(ge=1, description="layer l = block l, 1-based like the layer names "
                       "('layer_l' is block l's output); an int or the name 'layer_l'")
    head: int | None = Field(None, ge=0, description="attention head (zero_head only)")
    norm: float | None = Field(None, gt=0, description="noise norm per vector (noise only)")
    factor: float | None = Field(None, description="output scale factor (scale only)")
    transform: Literal["rotate", "rescale", "linear", "warp", "project", "glue", "tear"] | None = \
        Field(None, description="transform only: a keep control (rotate, rescale, linear, warp; "
              "inverted at the next block) or a break control (project, glue, tear; fed forward); "
              "see manifold_probe.capture.transforms")
    amount: float | None = Field(None, description="transform only: rescale factor, linear "
                                 "condition number, warp strength, tear angle factor, or "
                                 "project: number of class-mean planes removed (default: all "
                                 "but the first direction)")
    structure: str | None = Field(None, description="transform only: the input label the fit "
                                  "uses (project, tear: e.g. 'day', 'answer'; glue: 'category')")
    categories: list[str] | None = Field(None, description="glue only: [from, onto] label values")
    name: str | None = None

    @field_validator("layer", mode="before")
    @classmethod
    def _layer_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            m = re.fullmatch(r"layer_(\d+)", value.strip())
            if not m:
                raise ValueError(f"layer {value!r}: use the block number l or the name 'layer_l'")
            return int(m.group(1))
        if isinstance(value, int) and not isinstance(value, bool) and value == 0:
            raise ValueError("layer 0 is the embeddings, which no block produces; layers are "
                             "1-based like their names (layer l = block l, 'layer_l')")
        return value

    @model_validator(mode="after")
    def _fields_match_kind(self) -> PerturbationConfig:
        needed = {"zero_head": "head", "noise": "norm", "scale": "factor",
                  "transform": "transform"}.get(self.kind)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"kind {self.kind!r} needs the key {needed!r}")
        allowed = {needed} | ({"amount", "structure", "categories"}
                              if self.kind == "transform" else set())
        for other in ("head", "norm", "factor", "transform", "amount", "structure", "categories"):
            if other not in allowed and getattr(self, other) is not None:
                raise ValueError(f"key {other!r} does not apply to kind {self.kind!r}")
        if self.transform in ("project", "tear") and self.structure is None:
            raise ValueError(f"transform {self.transform!r} needs the key 'structure' (a label)")
        if self.transform == "glue" and (self.categories is None or len(self.categories) != 2):
            raise ValueError("transform 'glue' needs categories = [from, onto]")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.kind == "zero_head":
            extra = f"h{self.head}"
        elif self.kind == "noise":
            extra = f"n{self.norm:g}"
        elif self.kind == "scale":
            extra = f"x{self.factor:g}"
        elif self.kind == "transform":
            extra = str(self.transform)
        else:
            extra = ""
        return f"{self.kind}@{self.layer}" + (f"-{extra}" if extra else "")


class ExecutorConfig(_Strict):
    workers: int | None = Field(None, ge=1, description="LocalCluster worker processes")
    scheduler: str | None = Field(None, description="address of a dask.distributed scheduler")

    @model_validator(mode="after")
    def _one_of(self) -> ExecutorConfig:
        if self.workers is not None and self.scheduler is not None:
            raise ValueError("give workers or scheduler, not both")
        return self


class ExperimentConfig(_Strict):
    """A whole experiment (see ``experiments/configs/default.toml`` for every key)."""

    name: str = "default"
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    out: str = "runs/default"
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    capture: CaptureConfig = CaptureConfig()
    estimators: EstimatorsConfig = EstimatorsConfig()
    perturbations: list[PerturbationConfig] = Field(default_factory=list)
    executor: ExecutorConfig = ExecutorConfig()


DEFAULT_TOML = """\
# The embedded default: all-MiniLM-L6-v2 (offline), 2000 corpus sentences, mean pooling,
# all 7 residual states, every measure. Tuned to run in under 3 minutes on 2 CPU cores: the
# values marked below depart from the estimators' defaults (which live in their signatures).
name = "default"
seeds = [0]
out = "runs/default"

[model]
spec = "minilm"

[data]
source = "corpus"
n = 2000

[capture]
pooling = "mean"
batch_size = 64

[estimators.knn]
k = 10

[estimators.twonn]
k = 2

[estimators.mle]
k = 10  # estimator default 20; this run trades some bias for time

[estimators.gride]
scales = [1, 2, 4, 8, 16]

[estimators.curvature]
method = "quadratic"
max_points = 400

[estimators.geodesic]
n_sources = 200
method = "graph"  # default "shortcut" (less biased); plain graph paths are faster

[estimators.topology]
maxdim = 1
max_points = 400
confidence = 0.95

[estimators.regions]
label = "category"
band = "bottleneck"  # default "sup" (guaranteed, but reads one region on these clouds)
max_points = 1000
"""


def _format_error(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check its spelling against experiments/configs/default.toml)"
    if err["type"].startswith("value_error"):
        msg = msg.removeprefix("Value error, ")
    got = err.get("input")
    shown = "" if err["type"] in ("missing",) or isinstance(got, dict) else f" (got {got!r})"
    more = len(exc.errors()) - 1
    tail = f"; and {more} more error(s)" if more else ""
    return f"config error at {loc}: {msg}{shown}{tail} [{source}]"


def parse_config(data: dict[str, Any] | str, *, source: str = "config") -> ExperimentConfig:
    """Validate a config given as a dict or as TOML text.

    Raises
    ------
    ConfigError
        One line: ``config error at <dotted.key>: <what is wrong> (got <value>)``.
    """
    if isinstance(data, str):
        try:
            data = tomllib.loads(data)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config error: not valid TOML ({exc}) [{source}]") from None
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from None


def load_config(path: str | Path | None = None) -> ExperimentConfig:
    """Read and validate a TOML config; ``None`` gives the embedded default."""
    if path is None:
        return default_config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config error: no such file {str(path)!r}")
    return parse_config(path.read_text(encoding="utf-8"), source=str(path))


def default_config() -> ExperimentConfig:
    """The embedded default config (:data:`DEFAULT_TOML`)."""
    return parse_config(DEFAULT_TOML, source="embedded default")


def config_hash(obj: Any) -> str:
    """A short stable hash of a (part of a) config, for naming cached results."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
