"""Experiment configuration: TOML files validated by pydantic.

A config names the model, the data, the pooling, the layers, every estimator's parameters, the
perturbations, the seeds, the output directory and the executor. Unknown keys are errors
(``extra="forbid"``) and every error is one line that names the key::

    config error at estimators.twonn.k: Input should be greater than or equal to 2 (got 1)

Example files live in ``experiments/configs/``; :data:`DEFAULT_TOML` is the embedded default
used by ``manifold-probe run`` without a config (MiniLM, 2000 sentences, 7 layers, all
measures). A config *file* that is empty (or only comments) is an error, not the default.

Everything that can be known before the model runs is checked here: seeds (non-negative
integers), the output path (not empty), the workers (>= 1), the model spec against the data
source (a text model reads corpus sentences; the toy model offers its own inputs), and that a
``package.module:function`` spec (which is code) comes with ``trust_code``. What needs the
loaded model (a code spec returning a module without a tokenizer, given ``source =
"corpus"``) is checked by the runner after loading, before capture.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from manifold_probe._validation import InputError
from manifold_probe.config_sections import SEED_RULE, EstimatorsConfig, Seed, Strict

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


#: A name the run turns into a file or folder name: no separator, no "." or "..", no
#: leading dot or dash, nothing a shell or another file system reads specially.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+=,-]{0,99}")


def safe_file_name(value: str, what: str = "name") -> str:
    """``value`` when it is a safe file name (it becomes part of a path under the run directory).

    Raises
    ------
    ValueError
        ``value`` holds a path separator, is ``.``/``..``, starts with a dot or dash, or holds
        characters outside letters, digits and ``. _ - + = @ ,`` (or is over 100 characters).
    """
    if not isinstance(value, str) or not _SAFE_NAME.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} becomes a file name in the run directory; use 1-100 letters, "
            "digits or . _ - + = @ , starting with a letter or digit (no '/', no '..')"
        )
    return value



class ModelConfig(Strict):
    """Which network to probe."""

    spec: str = Field(
        "minilm",
        description='"minilm", "toy-modadd", a local Hugging Face model directory, or a Python '
        'entry point "package.module:function" returning a model handle (runs code: needs '
        "trust_code = true)",
    )
    device: str | None = Field(
        None, description='torch device for capture: "cpu", "cuda", "cuda:N" or "mps" (None: '
        "the model's own)",
    )
    trust_code: bool = Field(
        False,
        description='allow a "package.module:function" spec to be imported and run (like Hugging '
        "Face's trust_remote_code); a config is data unless this is true",
    )


    @field_validator("device")
    @classmethod
    def _device_present(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", value):
            raise ValueError(f'device {value!r} is not one of "cpu", "cuda", "cuda:N", "mps"')
        if value.startswith("cuda"):
            import torch  # only when a GPU is asked for

            n = torch.cuda.device_count()
            index = int(value.partition(":")[2] or 0)
            if index >= n:
                raise ValueError(f"device {value!r} is not present ({n} CUDA device(s) here); "
                                 'use device = "cpu" or leave it out')
        return value


class DataConfig(Strict):
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


class CaptureConfig(Strict):
    pooling: Literal["mean", "first", "last", "tokens"] = "mean"
    layers: list[str] | None = Field(None, description="layer names to capture (None: all); "
                                     "also hook points such as 'blocks.0.hook_attn_out', "
                                     "'blocks.0.hook_mlp_out', 'blocks.0.attn.hook_z.3'")
    batch_size: int = Field(64, ge=1)
    metric: Literal["euclidean", "cosine"] = Field(
        "euclidean", description='"cosine": rows projected onto the unit sphere when captured, '
        "so kNN graphs, geodesics and topology follow cosine similarity")


class PerturbationConfig(Strict):
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
    name: str | None = Field(None, description="the perturbation's label, which names its folder "
                             "and task files: a safe file name (letters, digits, . _ - + = @ ,; "
                             "at most 100 characters, starting with a letter or digit)")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        return value if value is None else safe_file_name(value, "name")

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


class ExecutorConfig(Strict):
    workers: int | None = Field(None, ge=1, description="LocalCluster worker processes")
    scheduler: str | None = Field(None, description="address of a dask.distributed scheduler")
    threads: int | None = Field(
        None, ge=1, description="in-process tasks run at once (None: the command line uses one "
        "per available core, run_experiment one)")

    @model_validator(mode="after")
    def _one_of(self) -> ExecutorConfig:
        if self.workers is not None and self.scheduler is not None:
            raise ValueError("give workers or scheduler, not both")
        if self.threads is not None and (self.workers is not None or self.scheduler is not None):
            raise ValueError("threads are for in-process runs; give threads or workers/scheduler")
        return self


class ExperimentConfig(Strict):
    """A whole experiment (see ``experiments/configs/default.toml`` for every key)."""

    name: str = "default"
    seeds: list[Seed] = Field(
        default_factory=lambda: [0], min_length=1,
        description="non-negative integer seeds below 2**31 (numpy's rule; stored as int32); "
        "one profile column set per seed",
    )
    out: str = Field("runs/default", min_length=1, pattern=r"\S",
                     description="output directory (not empty)")
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    capture: CaptureConfig = CaptureConfig()
    estimators: EstimatorsConfig = EstimatorsConfig()
    perturbations: list[PerturbationConfig] = Field(default_factory=list)
    executor: ExecutorConfig = ExecutorConfig()

    @model_validator(mode="after")
    def _model_matches_source(self) -> ExperimentConfig:
        kind = spec_kind(self.model.spec)
        if kind == "code" and not self.model.trust_code:
            raise _KeyError(
                "model.spec",
                f"{self.model.spec!r} is Python code (module:function) and would be imported "
                "and run; set [model] trust_code = true (CLI: --trust-code) only if you trust it",
            )
        if kind == "text" and self.data.source == "model":
            raise _KeyError("data.source", f'model {self.model.spec!r} is a text model with no '
                            'inputs of its own; use source = "corpus"')
        if kind == "toy" and self.data.source == "corpus":
            raise _KeyError("data.source", f'model {self.model.spec!r} reads (a, b) number '
                            'pairs, not sentences; use source = "model" (all its pairs)')
        return self


class _KeyError(ValueError):
    """A cross-field error, reported at ``key`` rather than at the top level."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


_TEXT_SPECS = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2",
               "mpnet", "all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2")
_TOY_SPECS = ("toy-modadd", "toy", "modadd")


#: The environment variable that, set to ``1``, grants a config file's ``trust_code = true``
#: (as ``--trust-code`` does); without one of them a file cannot opt itself into running code.
TRUST_CODE_ENV = "MANIFOLD_PROBE_TRUST_CODE"


def spec_kind(spec: str) -> str | None:
    """What a model spec names, as far as the config alone tells: ``"text"`` (MiniLM or a
    local model directory), ``"toy"``, ``"code"`` (``module:function``) or ``None``."""
    key = spec.lower()
    if key in _TEXT_SPECS:
        return "text"
    if key in _TOY_SPECS:
        return "toy"
    if Path(spec).expanduser().is_dir():
        return "text"
    if ":" in spec and not re.match(r"^[A-Za-z]:[\\/]", spec):
        return "code"
    return None


DEFAULT_TOML = """\
# The embedded default: all-MiniLM-L6-v2 (offline), 2000 corpus sentences, mean pooling,
# all 7 residual states, every measure. Tuned to run in under 3 minutes on 2 CPU cores: the
# values marked below depart from the estimators' defaults (which live in their schemas).
name = "default"
seeds = [0, 1, 2]  # three seeds: every reading is drawn with its spread; a label only where they agree
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
# method = "peak"     # default: each mode against its own bootstrap error bars
# correction = "fdr"  # Benjamini-Hochberg over the modes ("none": DPA's rule; "simultaneous")
# error_bar = "difference"  # bootstrap sd of peak minus saddle ("sum": DPA's bound; with k = 15
#                           # the rule before benchmarks/sweep_regions_rules.py)
max_points = 1000

[estimators.structure]
n_perm = 499  # default 999; p_min = 1/500 is still below Holm's first cut over 21 tests (0.05/21)
"""


def _format_error(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
    msg = err["msg"]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, _KeyError):
        return f"config error at {cause.key}: {cause} [{source}]"
    if loc == "out" and err["type"] in ("string_pattern_mismatch", "string_too_short"):
        msg = "the output directory is empty; give a directory such as \"runs/NAME\""
    if loc.startswith("seeds.") and err["type"] in ("greater_than_equal", "less_than_equal",
                                                     "int_type"):
        msg = f"{SEED_RULE}; use e.g. abs(seed) % 2**31"
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


def load_config(path: str | Path | None = None, *,
                overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """Read and validate a TOML config; ``None`` gives the embedded default.

    Parameters
    ----------
    path : str, Path or None
        A UTF-8 TOML file. A file without any setting (empty, blank or only comments) is an
        error: run without a config for the embedded default.
    overrides : mapping of dotted key -> value, optional
        Set before validation, e.g. ``{"model.trust_code": True}`` for ``--trust-code``, so
        the command-line options are checked with the rest. A file's own ``trust_code =
        true`` for a ``module:function`` spec counts only with this override or the
        environment variable ``MANIFOLD_PROBE_TRUST_CODE=1``.

    Raises
    ------
    ConfigError
        One line naming the file or key and the fix.
    OSError
        The file exists but cannot be read (permissions).
    """
    if path is None:
        data: dict[str, Any] = tomllib.loads(DEFAULT_TOML)
        source = "embedded default"
    else:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            what = "is a directory, not a file:" if path.is_dir() else "no such file"
            raise ConfigError(f"config error: {what} {str(path)!r}; give the path of a TOML file")
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config error: {source} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                f"{exc.start}); save it as UTF-8"
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config error: not valid TOML ({exc}) [{source}]") from None
        if not data:
            raise ConfigError(
                f"config error: {source} has no settings (it is empty or only comments); put "
                "the keys you want in it (see experiments/configs/default.toml), or run "
                "`manifold-probe run` without a config for the embedded default"
            )
    overrides = dict(overrides or {})
    model = data.get("model")
    if (path is not None and isinstance(model, dict) and model.get("trust_code") is True
            and overrides.get("model.trust_code") is not True
            and os.environ.get(TRUST_CODE_ENV) != "1"
            and spec_kind(str(model.get("spec", ""))) == "code"):
        # code in a file someone handed you runs on your say-so, never on the file's own
        raise ConfigError(
            f"config error at model.trust_code: {source} sets trust_code = true for the code spec "
            f"{model.get('spec')!r}, but a config file cannot grant itself that; pass "
            f"--trust-code (or set {TRUST_CODE_ENV}=1) if you trust this code [{source}]"
        )
    for dotted, value in overrides.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break  # a malformed section: validation reports it
        else:
            node[last] = value
    return parse_config(data, source=source)


def default_config() -> ExperimentConfig:
    """The embedded default config (:data:`DEFAULT_TOML`)."""
    return parse_config(DEFAULT_TOML, source="embedded default")


def config_hash(obj: Any) -> str:
    """A short stable hash of a (part of a) config, for naming cached results."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
