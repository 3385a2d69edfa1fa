"""The config's models of the ``[estimators.*]`` sections, built from the one settings schema.

The config (:mod:`manifold_probe.config`, through :mod:`manifold_probe.config_sections`) and
the Python API (:func:`~manifold_probe.analysis.profile_layers`'s ``estimators=`` and
``seeds=``) validate through these same models, so a setting refused in a TOML file is refused
from Python with the same message, and none reaches an estimator unchecked. Integers are
strict (``True`` or ``"5"`` is not a ``k``). Each model is built from
:data:`~manifold_probe.analysis.settings.SETTINGS`, whose params are the estimators' own
(declared beside each function, :mod:`manifold_probe._params`): one home per default and
bound. The README's settings table is generated here too (:func:`write_readme_table`).

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
    create_model,
    model_validator,
)

from manifold_probe._io import replace_between, rewrite_text
from manifold_probe._params import Param, warn_ignored
from manifold_probe._validation import InputError
from manifold_probe.analysis.settings import (
    MAX_SEED,
    ORIGIN,
    REMOVED,
    SETTINGS,
    EstimatorSettings,
)

__all__ = ["MAX_SEED", "EstimatorsConfig", "Seed", "check_seeds", "markdown_table",
           "estimator_schemas", "validate_settings", "write_readme_table"]

#: A seed: a non-negative int that fits int32; bools and floats are refused (strict).
Seed = Annotated[int, Field(ge=0, le=MAX_SEED, strict=True)]

SEED_RULE = (f"a seed must be a non-negative integer up to {MAX_SEED} (numpy's rule; stored as "
              "int32), not a bool or a float")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _annotation(p: Param) -> Any:
    """The pydantic type of a param: its type, ``Literal`` of its choices, a list of bounded
    items; ``| None`` when nullable."""
    if p.type is tuple:
        kind: Any = list[Annotated[p.item or int, Field(**p.bounds())]]
    elif p.choices:
        kind = Literal[p.choices]  # type: ignore[valid-type]
    else:
        kind = p.type
    return kind | None if p.nullable else kind


def _field(p: Param) -> tuple[Any, Any]:
    """``(annotation, Field)`` of a param: its default, bounds and meaning."""
    if p.type is tuple:
        default = p.default
        return (_annotation(p), Field(default_factory=lambda: list(default),
                                      min_length=p.min_length or None, description=p.meaning))
    bounds = {} if p.type is tuple else p.bounds()
    return _annotation(p), Field(p.default, **bounds, description=p.meaning)


def _warn_removed(section: str):
    def check(self):
        for key in REMOVED.get(section, ()):
            warn_ignored(f"estimators.{section}.{key}", getattr(self, key), where="config",
                         stacklevel=2)
        return self
    return model_validator(mode="after")(check)


def _section_model(section: str) -> type[Strict]:
    fields = {name: _field(p) for name, p in SETTINGS[section].items()}
    # removed settings: still accepted (older configs load), ignored with a FutureWarning
    fields.update({key: (int | None, Field(None, description="ignored; removed in 0.2.0"))
                   for key in REMOVED.get(section, ())})
    validators = {"warn_removed": _warn_removed(section)} if section in REMOVED else None
    name = "".join(w.capitalize() for w in section.split("_")) + "Config"
    return create_model(name, __base__=Strict, __validators__=validators, **fields)


#: One pydantic model per ``[estimators.<section>]`` table, built from
#: :data:`~manifold_probe.analysis.settings.SETTINGS`.
SECTION_MODELS: dict[str, type[Strict]] = {name: _section_model(name) for name in SETTINGS}

_EstimatorsBase = create_model(
    "_EstimatorsBase", __base__=Strict,
    **{name: (model, Field(default_factory=model)) for name, model in SECTION_MODELS.items()},
)


class EstimatorsConfig(_EstimatorsBase):  # type: ignore[misc, valid-type]
    """The ``[estimators]`` table: one section per estimator (see :data:`SECTION_MODELS`)."""

    def to_settings(self) -> EstimatorSettings:
        """The same settings as the analysis layer's frozen dataclasses (removed settings,
        already warned about, left out)."""
        return EstimatorSettings.from_mapping(_dump(self))

    def graph_k(self) -> int:
        """``graph_k``, the columns of the one shared kNN graph
        (:meth:`EstimatorSettings.graph_k`)."""
        return self.to_settings().graph_k()


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude={s: set(keys) for s, keys in REMOVED.items()})


# ----------------------------------------------------------------------- README table
_MARKERS = ("<!-- settings (generated by manifold_probe.analysis.settings_schema) -->",
            "<!-- /settings -->")


def markdown_table() -> str:
    """The README's table of every ``[estimators.*]`` setting: key, type and bounds, default,
    the estimator parameter it is, meaning (one row per setting of :data:`SETTINGS`)."""
    from manifold_probe._params import REMOVAL_VERSION

    lines = ["| setting | type | default | estimator | meaning |", "|---|---|---|---|---|"]
    for section, params in SETTINGS.items():
        for name, p in params.items():
            default = (str(list(p.default)) if isinstance(p.default, tuple) else
                       str(p.default).lower() if isinstance(p.default, bool) else
                       f'"{p.default}"' if isinstance(p.default, str) else str(p.default))
            owner = "profile"
            if (section, name) in ORIGIN:
                schema, key = ORIGIN[section, name]
                owner = f"`{schema.function}({key})`"
                if schema[key].default != p.default:
                    owner += f", default `{schema[key].default}` there"
            meaning = p.meaning.replace("|", "\\|")
            lines.append(f"| `{section}.{name}` | {p.rule()} | `{default}` | {owner} | {meaning} |")
    for section, keys in REMOVED.items():
        for key in keys:
            lines.append(f"| `{section}.{key}` | | | | ignored; removed in {REMOVAL_VERSION} "
                         "(a `FutureWarning` when set) |")
    return "\n".join(lines)


def estimator_schemas() -> list:
    """Every estimator schema (:class:`~manifold_probe._params.Schema`), one per function."""
    from manifold_probe.analysis.regions import REGIONS_PARAMS
    from manifold_probe.analysis.structure import STRUCTURE_PARAMS
    from manifold_probe.analysis.warping import WARP_PARAMS
    from manifold_probe.curvature import CURVATURE_PARAMS, OLLIVIER_PARAMS
    from manifold_probe.dimension import SCHEMAS
    from manifold_probe.geodesic import GEODESIC_PARAMS
    from manifold_probe.topology import BETTI_PARAMS, PERSISTENCE_PARAMS

    return [*SCHEMAS.values(), CURVATURE_PARAMS, OLLIVIER_PARAMS, GEODESIC_PARAMS, WARP_PARAMS,
            BETTI_PARAMS, PERSISTENCE_PARAMS, REGIONS_PARAMS, STRUCTURE_PARAMS]


def readme_table(text: str) -> str:
    """``text`` with the settings table between its markers replaced by the current one."""
    return replace_between(text, *_MARKERS, markdown_table())


def write_readme_table(path: Any) -> bool:
    """Rewrite the settings table of a README in place; True when it changed."""
    return rewrite_text(path, readme_table)


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
    return EstimatorSettings.from_mapping(_dump(checked))


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
            raise InputError(f"seeds[{i}]: {SEED_RULE}; got {s!r}")
        out.append(s)
    return out
