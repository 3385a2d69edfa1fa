"""Parameter schemas: each estimator's settings declared once, beside its function.

A :class:`Param` holds one setting's name, type, bounds, default and meaning; a
:class:`Schema` holds an estimator's params. From the schema come

- the checks the function runs on its arguments (:meth:`Schema.check`),
- the defaults of the scikit-learn style classes (:meth:`Schema.defaults`),
- the pydantic fields of the config's ``[estimators.*]`` sections and the defaults of
  :class:`~manifold_probe.analysis.settings.EstimatorSettings`
  (:mod:`manifold_probe.analysis.settings_schema`),
- the README's settings table (:func:`manifold_probe.analysis.settings_schema.markdown_table`),

and ``tests/test_settings_schema.py`` checks that the function's signature and docstring say
the same. So a bound or a default has one home, and the Python API refuses exactly what a
config file refuses (scikit-learn's ``_parameter_constraints``, checked once).

>>> K = Param("k", int, 20, "neighbours per point", ge=2)
>>> K.check(5)
5
>>> K.check(1)
Traceback (most recent call last):
...
manifold_probe._validation.InputError: k must be >= 2; got 1
>>> K.rule()
'int >= 2'
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_float, check_int, check_option

__all__ = ["REMOVAL_VERSION", "Param", "Schema", "warn_ignored"]

#: The release in which parameters that are accepted and ignored go away (the package is 0.1.x).
REMOVAL_VERSION = "0.2.0"


@dataclass(frozen=True)
class Param:
    """One setting: ``name``, ``type`` (int, float, bool, str, or tuple of ``item``),
    ``default``, ``meaning``; bounds ``ge``/``gt``/``le``/``lt`` for numbers (for a tuple: of
    each item, which must be at least ``min_length``), ``choices`` for strings, ``nullable``
    when ``None`` is allowed (its meaning is said in ``meaning``), ``also``: strings accepted
    beside the typed values (``degree``: an int in [2, 4] or ``"auto"``).

    >>> D = Param("degree", int, "auto", "polynomial degree", ge=2, le=4, also=("auto",))
    >>> D.check("auto"), D.check(3), D.rule()
    ('auto', 3, 'int in [2, 4] or "auto"')
    """

    name: str
    type: type
    default: Any
    meaning: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    item: type | None = None
    min_length: int = 0
    also: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.default is not None or not self.nullable:
            self.check(self.default)  # a default outside its own bounds is a bug

    def check(self, value: Any) -> Any:
        """``value`` checked against the type and bounds (numpy scalars become Python ones).

        Raises
        ------
        InputError
            Wrong type (a bool or float for an int, a string for a number), out of bounds,
            or not one of ``choices``; the message names the parameter and its rule.
        """
        if value is None and self.nullable:
            return None
        if self.also and isinstance(value, str):
            if value in self.also:
                return value
            raise InputError(f"{self.name} must be {self.rule()}; got {value!r}")
        if self.type is tuple:
            return self._check_tuple(value)
        return self._check_scalar(value, self.type)

    def _check_scalar(self, value: Any, kind: type) -> Any:
        if kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise InputError(f"{self.name} must be True or False; got {value!r}")
            return bool(value)
        if kind is str:
            return check_option(value, self.choices or (), name=self.name) if self.choices \
                else _check_str(value, self.name)
        if kind is int:
            value = check_int(value, name=self.name)
        else:
            if isinstance(value, (str, bytes)):
                raise InputError(f"{self.name} must be a number; got {value!r}")
            value = check_float(value, name=self.name)
        low = self.ge if self.ge is not None else self.gt
        high = self.le if self.le is not None else self.lt
        if low is not None and (value < low or (self.gt is not None and value == low)):
            raise InputError(f"{self.name} must be {'>' if self.gt is not None else '>='} "
                             f"{_num(low)}; got {value}")
        if high is not None and (value > high or (self.lt is not None and value == high)):
            raise InputError(f"{self.name} must be {'<' if self.lt is not None else '<='} "
                             f"{_num(high)}; got {value}")
        return value

    def _check_tuple(self, value: Any) -> tuple:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
            raise InputError(f"{self.name} must be a list; got {value!r}")
        if len(value) < self.min_length:
            raise InputError(f"{self.name} needs at least {self.min_length} value(s); got "
                             f"{list(value)!r}")
        return tuple(self._check_scalar(v, self.item or int) for v in value)

    def bounds(self) -> dict[str, float]:
        """The numeric bounds as keyword arguments (``pydantic.Field(**p.bounds())``)."""
        return {k: v for k in ("ge", "gt", "le", "lt") if (v := getattr(self, k)) is not None}

    def rule(self) -> str:
        """The type and bounds in words, e.g. ``'int >= 2'``, ``'float in (0, 1)'``."""
        if self.choices:
            text = " or ".join(f'"{c}"' for c in self.choices)
        else:
            text = self.type.__name__ if self.type is not tuple else \
                f"list of {(self.item or int).__name__}"
            b = self.bounds()
            lo = ("(" if "gt" in b else "[", b.get("gt", b.get("ge")))
            hi = (")" if "lt" in b else "]", b.get("lt", b.get("le")))
            if lo[1] is not None and hi[1] is not None:
                text += f" in {lo[0]}{_num(lo[1])}, {_num(hi[1])}{hi[0]}"
            elif lo[1] is not None:
                text += f" {'>' if 'gt' in b else '>='} {_num(lo[1])}"
            elif hi[1] is not None:
                text += f" {'<' if 'lt' in b else '<='} {_num(hi[1])}"
        text += "".join(f' or "{a}"' for a in self.also)
        return text + (" or None" if self.nullable else "")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _check_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string; got {value!r}")
    return value


class Schema:
    """The params of one estimator function (``function``: its public name, for messages).

    >>> S = Schema("mle", Param("k", int, 20, "neighbours", ge=2))
    >>> S.defaults()
    {'k': 20}
    >>> S.check(k=7)
    {'k': 7}
    >>> S["k"].default
    20
    """

    def __init__(self, function: str, *params: Param) -> None:
        self.function = function
        self._params = {p.name: p for p in params}

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[Param]:
        return iter(self._params.values())

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __repr__(self) -> str:
        return f"Schema({self.function!r}, {', '.join(self._params)})"

    def defaults(self) -> dict[str, Any]:
        """Every param's default, by name."""
        return {p.name: p.default for p in self}

    def check(self, **values: Any) -> dict[str, Any]:
        """The given values, each checked by its param (see :meth:`Param.check`)."""
        return {name: self._params[name].check(v) for name, v in values.items()}


def warn_ignored(name: str, value: Any, *, where: str, stacklevel: int = 3) -> None:
    """A ``FutureWarning`` for a parameter that is accepted and ignored (when it is not None):
    it goes away in :data:`REMOVAL_VERSION`."""
    if value is None:
        return
    warnings.warn(
        f"{where}: {name}={value!r} is ignored and the parameter will be removed in "
        f"manifold_probe {REMOVAL_VERSION}; drop it",
        FutureWarning,
        stacklevel=stacklevel,
    )
