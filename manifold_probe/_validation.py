"""The one input gate of manifold_probe.

Every public entry point calls :func:`check_points` (and, where it has a neighbourhood size,
:func:`check_k`) before doing any work, so that bad input is refused in one place with one
kind of message: what was wrong, the value or shape seen, and how to fix it.

The contract of every public function (tested by ``tests/test_fuzz.py`` over arrays of every
shape, dtype, magnitude, duplicate pattern and lattice): it either returns a finite result as
documented or raises :class:`InputError`. NaN or ``inf`` appear only where the function's
docstring says so (``inf`` geodesic distances between disconnected components, ``inf`` deaths
of essential persistence classes, NaN ball-volume curvature of isolated points with a
``RuntimeWarning``, ...). No intrinsic dimension exceeds the ambient dimension.

What the gate decides, once for all callers:

- **dtypes**: numpy or torch; booleans, integers, float16, bfloat16 and longdouble become
  float64; complex, object and string arrays are refused.
- **magnitude**: :func:`normalize_scale` rescales a cloud by an exact power of two so that its
  largest coordinate is about 1. Scale-invariant results (dimensions) are computed on the
  rescaled points; scale-equivariant ones are rescaled back exactly by :func:`rescale`, which
  refuses a result that float64 cannot hold (e.g. the curvature ``2e-600`` of a sphere of
  radius ``1e300``).
- **seeds**: ``None``, a non-negative int (any size, Python or numpy) or a
  :class:`numpy.random.Generator`; negative ints are refused (numpy's rule).
- **parameters**: integers must be integers (``k='5'`` and ``k=5.0`` are refused).
- **cost**: :func:`check_memory` refuses, before allocating, a result above the memory budget
  (half the physical memory); :func:`warn_cost` warns before work estimated above
  :data:`SLOW_OPERATIONS`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "InputError",
    "IntegrityError",
    "MissingExtraError",
    "CostWarning",
    "check_memory",
    "guard_cost",
    "warn_cost",
    "memory_budget",
    "scale_exponent",
    "normalize_scale",
    "normalize_cloud",
    "check_distinct",
    "clip_dimension",
    "rescale",
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


class IntegrityError(InputError):
    """Stored data failed its checksum: a file was deleted, truncated, altered or swapped.

    Raised instead of returning the data, so that corrupted results are never used silently.
    """


class MissingExtraError(InputError):
    """An option needs an optional dependency that is missing (the message names the extra)."""


class CostWarning(ResourceWarning):
    """A call is predicted to take long (the estimate and the remedy are in the message)."""


def to_numpy(X: Any) -> np.ndarray:
    """Return ``X`` as a numpy array without copying when possible (torch tensors included).

    Torch dtypes that numpy lacks (``bfloat16``) and float16 tensors are upcast to float64;
    a complex or non-numeric tensor is left to :func:`check_points` to refuse.
    """
    if isinstance(X, np.ndarray):
        return X
    mod = type(X).__module__
    if mod.startswith("torch"):
        import torch

        if not isinstance(X, torch.Tensor):
            raise InputError(f"expected an array of points, got {type(X).__name__}")
        T = X.detach()
        if T.device.type != "cpu":
            T = T.cpu()
        if T.dtype in (torch.bfloat16, torch.float16):
            T = T.to(torch.float64)
        try:
            return T.numpy()
        except (TypeError, RuntimeError) as exc:
            raise InputError(
                f"cannot read a torch tensor of dtype {X.dtype} as numbers ({exc}); pass a "
                "float tensor, e.g. X.float()"
            ) from None
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
        Output dtype. ``None`` keeps float32/float64 inputs as they are and turns every other
        real dtype (integers, booleans, float16, torch bfloat16, longdouble) into float64.
    allow_1d : bool, default=False
        Accept a 1-D array as one feature per point (reshaped to ``(n, 1)``).

    Returns
    -------
    ndarray of shape (n_points, n_features)

    Raises
    ------
    InputError
        Not 2-D, complex, non-numeric, empty, too few rows, or non-finite values (also
        values that are finite in a wider input dtype, e.g. longdouble, but overflow float64).

    Notes
    -----
    Magnitude is not changed here (``knn`` distances are in the units of ``X``); the methods
    whose results are scale-invariant or scale-equivariant call :func:`normalize_scale`
    next, which rescales by an exact power of two.
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
    with np.errstate(over="ignore", invalid="ignore"):
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


def check_n_jobs(n_jobs: Any) -> int:
    """Threads asked for by ``n_jobs`` (scikit-learn's convention: ``None`` is 1, ``-1`` one
    per CPU), checked."""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, (int, np.integer)) and not isinstance(n_jobs, bool) and n_jobs == -1:
        return max(1, os.cpu_count() or 1)
    return check_int(n_jobs, name="n_jobs", minimum=1)


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
    """Turn ``None``, a non-negative int or a :class:`numpy.random.Generator` into a Generator.

    Seeds follow numpy's rule: any non-negative Python or numpy integer (of any size) is a
    seed, the same one giving the same stream in every process. A negative integer is refused
    with :class:`InputError` (numpy would raise a bare ``ValueError``); pass ``abs(seed)`` or
    ``seed % 2**32`` if a negative value comes from elsewhere.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        if int(seed) < 0:
            raise InputError(
                f"seed must be a non-negative integer; got {int(seed)}. Pass abs(seed) or "
                "seed % 2**32 to map it to a valid seed"
            )
        return np.random.default_rng(int(seed))
    raise InputError(f"seed must be None, an int >= 0 or a numpy Generator; got {seed!r}")


# ---------------------------------------------------------------------------- magnitude
def scale_exponent(A: np.ndarray) -> int:
    """The power of two ``e`` with ``max|A| * 2**-e`` in ``[0.5, 1)`` (0 for an all-zero array).

    Multiplying by a power of two is exact in binary floating point (no rounding) as long as
    the result stays a normal number, so ``A * 2.0**-e`` has the same geometry as ``A`` up to
    an exactly known scale.
    """
    top = float(np.max(np.abs(A))) if A.size else 0.0
    if top == 0.0 or not np.isfinite(top):
        return 0
    return int(np.frexp(top)[1])


def normalize_scale(A: np.ndarray) -> tuple[np.ndarray, int]:
    """Rescale a point cloud by an exact power of two so that its largest coordinate is ~1.

    Returns ``(A * 2.0**-e, e)``. Scale-invariant results (intrinsic dimension, angles,
    Ollivier–Ricci curvature) are computed on the rescaled points and returned as they are;
    scale-equivariant ones are rescaled back exactly with :func:`numpy.ldexp` (distances by
    ``2**e``, curvature by ``2**-2e``). Without this, squared distances of points near
    ``1e±200`` overflow to ``inf`` or underflow to ``0`` and every downstream estimate breaks.

    Points whose spread is below float64 resolution relative to their magnitude (e.g. two
    points ``1e300`` and ``1e300 + 1``) are identical in float64 whatever the scale; they are
    handled as duplicates by the callers.
    """
    e = scale_exponent(A)
    if e == 0:
        return A, 0
    return np.ldexp(A, -e), e


def normalize_cloud(A: np.ndarray | None, neighbors: Any = None) -> tuple[Any, Any, int]:
    """:func:`normalize_scale` for a cloud and its precomputed kNN graph together.

    Returns ``(A * 2.0**-e, neighbors', e)``: ``e`` is the exponent of ``A`` (of the graph's
    largest finite distance when ``A`` is None), and a Euclidean graph gets its distances
    multiplied by the same ``2.0**-e``, so that points and graph stay consistent. Cosine
    graphs (``1 - cos``, scale-free) and ``None`` are returned unchanged; anything that is not
    a graph is left for the caller's validation to refuse. Lengths computed from the result are
    in units of ``2**e`` and go back with :func:`rescale` (``unit_power=1``).
    """
    import dataclasses

    # duck-typed (a Neighbors dataclass), so that the gate imports nothing of the package
    graph = dataclasses.is_dataclass(neighbors) and getattr(neighbors, "metric", None) == "euclidean"
    if A is not None:
        A, e = normalize_scale(A)
    else:
        dist = np.asarray(neighbors.distances, dtype=np.float64) if graph else np.zeros(0)
        e = scale_exponent(dist[np.isfinite(dist)])
    if graph and e:
        neighbors = dataclasses.replace(neighbors, distances=np.ldexp(neighbors.distances, -e))
    return A, neighbors, e


def rescale(values: Any, exponent: int, *, what: str, unit_power: int) -> Any:
    """Undo :func:`normalize_scale` on a result measured in ``units**unit_power``.

    Raises :class:`InputError` when the result in the input's units cannot be held in float64:
    when a value would overflow (beyond ~1.8e308), or when even the largest value would fall
    below the normal range (~2.2e-308), so that every value would be lost to underflow.
    Values far smaller than the largest one may become subnormal or zero, as in any float
    arithmetic at that scale.
    """
    shift = exponent * unit_power
    if shift == 0:
        return values
    arr = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(arr) & (arr != 0)
    if finite.any():
        top = int(np.frexp(np.max(np.abs(arr[finite])))[1]) + shift
        if top > 1024 or top < -1021:
            raise InputError(
                f"{what} of these points is of order 2**{top} in the units of X, beyond the "
                "range of float64; divide X by a constant (e.g. X / X.std()) and rescale the "
                f"result by that constant to the power {unit_power}"
            )
    return np.ldexp(arr, shift)


def check_distinct(A: np.ndarray, minimum: int, *, what: str) -> int:
    """Refuse a cloud with fewer than ``minimum`` distinct rows; return the distinct count."""
    n_distinct = len(unique_rows(A)[0])
    if n_distinct < minimum:
        raise InputError(
            f"{what} needs at least {minimum} distinct points; X has {A.shape[0]} rows but "
            f"only {n_distinct} distinct one(s). Pass more distinct points (exact copies of a "
            "row carry no geometric information)"
        )
    return n_distinct


def clip_dimension(value: float, ambient: int | None) -> tuple[float, float | None]:
    r"""Clip a dimension estimate to the ambient dimension.

    Returns ``(clipped, unclipped_or_None)``. A point cloud in :math:`\mathbb{R}^D` has
    intrinsic dimension at most :math:`D`; finite-sample estimators (MLE, PH dimension) can
    exceed it on full-dimensional data, and such a value is reported as :math:`D` with the
    raw value kept beside it (``details["unclipped"]``).
    """
    if ambient is None or not value > ambient:
        return value, None
    return float(ambient), float(value)


# ---------------------------------------------------------------------------- cost guards
def memory_budget() -> int:
    """Bytes one call may allocate for its result: half of this machine's physical memory.

    Read from the operating system (``os.sysconf``); 8 GiB where it cannot be read.
    """
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def check_memory(nbytes: float, *, what: str, fix: str, budget: int | None = None) -> None:
    """Refuse, before allocating, a result larger than the memory budget.

    ``budget`` defaults to :func:`memory_budget` (half the physical memory).
    """
    budget = memory_budget() if budget is None else int(budget)
    if nbytes > budget:
        raise InputError(
            f"{what} would need about {nbytes / 2**30:.1f} GiB, above the memory budget of "
            f"{budget / 2**30:.1f} GiB (half of this machine's memory); {fix}"
        )


def unique_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact duplicate rows of ``X`` collapsed.

    A large ``X`` seen again (the same bits) is answered from the last few results
    (:func:`~manifold_probe._unique_kept.unique_rows_kept`).

    Returns
    -------
    first : ndarray of int, shape (n_unique,)
        Index of the first occurrence of each distinct row, in increasing order.
    inverse : ndarray of int, shape (n_points,)
        For each row, the position in ``first`` of its distinct row.
    counts : ndarray of int, shape (n_unique,)
        How many rows share each distinct row.
    """
    from manifold_probe._unique_kept import unique_rows_kept

    return unique_rows_kept(np.ascontiguousarray(X))


# a stated order of magnitude, not a tuned constant: ~1e8 simple operations per second on one
# core, so 1e10 operations is minutes of work
SLOW_OPERATIONS = 1e10


def warn_cost(operations: float, *, what: str, fix: str) -> None:
    """Warn (:class:`CostWarning`) before work estimated above :data:`SLOW_OPERATIONS`."""
    if operations > SLOW_OPERATIONS:
        import warnings

        warnings.warn(
            f"{what} needs about {operations:.1e} elementary operations (minutes to hours on one "
            f"core); {fix}",
            CostWarning,
            stacklevel=3,
        )


def guard_cost(*, operations: float = 0.0, nbytes: float = 0.0, what: str, fix: str) -> None:
    """Before a public function's work: refuse an allocation above the memory budget
    (:func:`check_memory`); warn (:class:`CostWarning`) when the work passes
    :data:`SLOW_OPERATIONS` or the allocation a quarter of the budget (an eighth of memory)."""
    check_memory(nbytes, what=what, fix=fix)
    if nbytes > memory_budget() / 4:
        import warnings

        warnings.warn(
            f"{what} needs about {nbytes / 2**30:.1f} GiB of memory (over an eighth of this "
            f"machine's); {fix}", CostWarning, stacklevel=3)
    warn_cost(operations, what=what, fix=fix)
