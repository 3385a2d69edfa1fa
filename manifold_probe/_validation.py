"""The one input gate of manifold_probe.

Every public entry point calls :func:`check_points` (and, where it has a neighbourhood size,
:func:`check_k`) before doing any work, so that bad input is refused in one place with one
kind of message: what was wrong, the value or shape seen, and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "InputError",
    "check_points",
    "check_k",
    "check_int",
    "check_float",
    "check_option",
    "check_seed",
    "to_numpy",
    "unique_rows",
]


class InputError(ValueError):
    """Bad input to a manifold_probe function.

    A subclass of :class:`ValueError`, so ``except ValueError`` keeps working. The message says
    what was wrong, shows what was seen, and names the fix.
    """


def to_numpy(X: Any) -> np.ndarray:
    """Return ``X`` as a numpy array without copying when possible (torch tensors included)."""
    if isinstance(X, np.ndarray):
        return X
    mod = type(X).__module__
    if mod.startswith("torch"):
        return X.detach().cpu().numpy()
    if hasattr(X, "__array__") or isinstance(X, (list, tuple)):
        try:
            return np.asarray(X)
        except (ValueError, TypeError) as exc:  # ragged lists
            raise InputError(
                f"could not turn the input into an array ({exc}); pass a 2-D array of shape "
                "(n_points, n_features) with rows of equal length"
            ) from None
    raise InputError(
        f"expected an array of points (numpy array or torch tensor), got {type(X).__name__}"
    )


def check_points(
    X: Any,
    *,
    min_points: int = 2,
    name: str = "X",
    what: str = "this method",
    dtype: type | None = np.float64,
    allow_1d: bool = False,
) -> np.ndarray:
    """Validate a point cloud and return it as a C-contiguous float numpy array.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
        Points as rows; numpy array, torch tensor or nested sequence.
    min_points : int, default=2
        Fewest rows the calling method can work with.
    name : str, default="X"
        The argument's name, used in messages.
    what : str, default="this method"
        The caller, used in messages ("TwoNN needs at least 3 points").
    dtype : numpy dtype or None, default=numpy.float64
        Output dtype. ``None`` keeps float32/float64 inputs as they are (and turns integers
        into float64).
    allow_1d : bool, default=False
        Accept a 1-D array as one feature per point (reshaped to ``(n, 1)``).

    Returns
    -------
    ndarray of shape (n_points, n_features)

    Raises
    ------
    InputError
        Not 2-D, complex, non-numeric, empty, too few rows, or non-finite values.
    """
    A = to_numpy(X)
    if A.dtype == object or A.dtype.kind in "USV":
        raise InputError(
            f"{name} has non-numeric dtype {A.dtype}; pass numbers, for example "
            f"np.asarray({name}, dtype=float)"
        )
    if A.dtype.kind == "c":
        raise InputError(
            f"{name} is complex ({A.dtype}); point clouds are real: pass {name}.real, "
            f"np.abs({name}), or stack real and imaginary parts as separate columns"
        )
    if A.dtype.kind == "b":
        A = A.astype(np.float64)
    if A.ndim == 1 and allow_1d:
        A = A.reshape(-1, 1)
    if A.ndim != 2:
        hint = ""
        if A.ndim == 1:
            hint = (
                f"; reshape with {name}.reshape(-1, 1) if each value is a point, or "
                f"{name}.reshape(1, -1) if it is one point"
            )
        elif A.ndim > 2:
            hint = (
                f"; flatten the leading axes, e.g. {name}.reshape(-1, {name}.shape[-1]), "
                "to treat every vector as a point"
            )
        raise InputError(
            f"{name} must be 2-D (n_points, n_features); got shape {tuple(A.shape)}{hint}"
        )
    n, d = A.shape
    if d == 0:
        raise InputError(f"{name} has shape {A.shape}: no features; each point needs coordinates")
    if n < min_points:
        raise InputError(
            f"{what} needs at least {min_points} points; {name} has {n}. "
            "Pass more points or choose a smaller neighbourhood"
        )
    out_dtype = dtype
    if out_dtype is None:
        out_dtype = A.dtype if A.dtype in (np.float32, np.float64) else np.float64
    A = np.ascontiguousarray(A, dtype=out_dtype)
    finite = np.isfinite(A)
    if not finite.all():
        bad = ~finite.all(axis=1)
        rows = np.flatnonzero(bad)
        n_nan = int(np.isnan(A[rows]).any(axis=1).sum())
        kinds = "NaN" if n_nan == len(rows) else ("inf" if n_nan == 0 else "NaN or inf")
        raise InputError(
            f"{len(rows)} row(s) of {name} contain {kinds} (first: row {int(rows[0])}); "
            f"drop them (e.g. {name}[np.isfinite({name}).all(axis=1)]) or impute them"
        )
    return A


def check_k(k: Any, n_points: int, *, name: str = "k", min_k: int = 1, what: str = "") -> int:
    """Validate a neighbourhood size: an integer with ``min_k <= k < n_points``."""
    k = check_int(k, name=name, minimum=min_k)
    if k >= n_points:
        who = f" for {what}" if what else ""
        raise InputError(
            f"{name}={k} is too large{who}: there are only {n_points} points, so at most "
            f"{n_points - 1} neighbours (self excluded). Use {name} < {n_points} or pass more points"
        )
    return k


def check_int(value: Any, *, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """Validate an integer parameter (numpy integers accepted, bools and floats refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InputError(f"{name} must be >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise InputError(f"{name} must be <= {maximum}; got {value}")
    return value


def check_float(
    value: Any,
    *,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Validate a real parameter within optional bounds (open or closed)."""
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be a number; got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number; got {value!r}") from None
    if not np.isfinite(v):
        raise InputError(f"{name} must be finite; got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        raise InputError(f"{name} must be {'>' if low_open else '>='} {low}; got {v}")
    if high is not None and (v > high or (high_open and v == high)):
        raise InputError(f"{name} must be {'<' if high_open else '<='} {high}; got {v}")
    return v


def check_option(value: Any, options: Iterable[str], *, name: str) -> str:
    """Validate a string option against the allowed values (case-insensitive)."""
    options = list(options)
    if not isinstance(value, str) or value.lower() not in options:
        raise InputError(f"{name}={value!r} is not supported; choose one of {options}")
    return value.lower()


def check_seed(seed: Any) -> np.random.Generator:
    """Turn ``None``, an int or a :class:`numpy.random.Generator` into a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(seed)
    raise InputError(f"seed must be None, an int or a numpy Generator; got {seed!r}")


def unique_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact duplicate rows of ``X`` collapsed.

    Returns
    -------
    first : ndarray of int, shape (n_unique,)
        Index of the first occurrence of each distinct row, in increasing order.
    inverse : ndarray of int, shape (n_points,)
        For each row, the position in ``first`` of its distinct row.
    counts : ndarray of int, shape (n_unique,)
        How many rows share each distinct row.
    """
    X = np.ascontiguousarray(X)
    _, first, inverse, counts = np.unique(
        X, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.reshape(-1)], counts[order]
