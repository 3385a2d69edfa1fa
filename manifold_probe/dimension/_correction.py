"""Finite-sample bias correction of the ratio estimators by simulation on reference shapes.

Split from :mod:`manifold_probe.dimension._base`; see :func:`correct` for the maths.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._validation import (
    check_option,
)
from manifold_probe.dimension._base import REFERENCE_FAMILIES

# ----------------------------------------------------------------------------------------------
# Finite-sample bias correction by simulation


_REFERENCE_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_MAX_DIM = 1024
# Reference estimates are means over query points, so they need the neighbours of a subset of
# the points only (among ALL N points: the bias depends on N). Their spread falls as
# 1/sqrt(queries): 2500 queries give about 2% of the dimension for TwoNN.
# set by `benchmarks/bench_dimension_reference.py`, see docs/validation.md#finite-sample-reference
REFERENCE_QUERIES = 2500
# Independent reference samples per dimension: at least REFERENCE_MIN_REPEATS, and enough for
# REFERENCE_TOTAL_QUERIES query points in all (small N needs more samples for the same spread).
# Their standard error is the Monte-Carlo spread that enters the corrected interval.
# set by `benchmarks/bench_dimension_reference.py`, see docs/validation.md#finite-sample-reference
REFERENCE_MIN_REPEATS = 4
# set by `benchmarks/bench_dimension_reference.py`, see docs/validation.md#finite-sample-reference
REFERENCE_TOTAL_QUERIES = 10_000
# The reference simulations use this fixed seed, never the caller's: a corrected value is a
# function of the data alone (same data, same correction, whatever ``seed`` the caller passes).
REFERENCE_SEED = 20170912
# Reference dimensions simulated: all integers up to 10, then a geometric grid (see
# _next_reference_dim).
# set by `benchmarks/bench_dimension_reference.py`, see docs/validation.md#finite-sample-reference
REFERENCE_GRID_DENSE = 10
# set by `benchmarks/bench_dimension_reference.py`, see docs/validation.md#finite-sample-reference
REFERENCE_GRID_GROWTH = 1.2


def reference_sample(family: str, n_points: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform sample of the unit ``dim``-ball or of the unit ``dim``-cube."""
    if family == "cube":
        return rng.random((n_points, dim))
    g = rng.standard_normal((n_points, dim))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    return g * rng.random((n_points, 1)) ** (1.0 / dim)


def reference_distances(Y: np.ndarray, k: int, n_queries: int = REFERENCE_QUERIES) -> np.ndarray:
    """Sorted distances to the k nearest neighbours among all rows of ``Y`` (self excluded),
    for the first ``min(n, n_queries)`` rows (i.i.d. samples, so any subset is a fair one).

    Blocked ``|q|^2 + |y|^2 - 2 q.y`` in float64 (torch): reference samples are random, so there
    are no near-duplicates for the shortcut to lose.
    """
    import torch

    n = Y.shape[0]
    q = min(n, n_queries)
    Yt = torch.from_numpy(np.ascontiguousarray(Y, dtype=np.float64))
    sq = (Yt * Yt).sum(dim=1)
    out = np.empty((q, k))
    block = max(1, min(q, (64 * 2**20) // (8 * n)))
    for s in range(0, q, block):
        e = min(q, s + block)
        # |y|^2 - 2 q.y; the row constant |q|^2 is added after the selection
        D2 = torch.addmm(sq[None, :], Yt[s:e], Yt.T, beta=1.0, alpha=-2.0)
        rows = torch.arange(e - s, device=D2.device)
        D2[rows, rows + s] = float("inf")
        v = torch.topk(D2, k, dim=1, largest=False, sorted=True).values + sq[s:e, None]
        out[s:e] = v.clamp_min_(0.0).sqrt_().numpy()
    return out


def reference_repeats(n_points: int) -> int:
    """Number of independent reference samples per dimension for ``n_points`` points."""
    per = min(n_points, REFERENCE_QUERIES)
    return max(REFERENCE_MIN_REPEATS, int(np.ceil(REFERENCE_TOTAL_QUERIES / per)))


def reference_value(
    key: tuple,
    raw_fn: Callable[[np.ndarray], Any],
    n_points: int,
    k: int,
    dim: int,
    *,
    family: str = "ball",
    seed: int = 0,
    repeats: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean raw estimate(s) on uniform samples of a ``dim``-dimensional reference, and the
    standard error of that mean over the ``repeats`` independent samples (cached).

    ``raw_fn`` maps sorted neighbour distances ``(n_queries, k)`` to one value or to a vector
    of values (e.g. one per scale). The samples are drawn with the fixed ``REFERENCE_SEED``;
    ``seed`` is accepted for compatibility and ignored.
    """
    del seed  # the reference never depends on the caller's seed
    repeats = reference_repeats(n_points) if repeats is None else int(repeats)
    ck = (key, family, n_points, k, dim, repeats)
    if ck not in _REFERENCE_CACHE:
        vals = []
        fam = REFERENCE_FAMILIES.index(family)
        for r in range(repeats):
            rng = np.random.default_rng([REFERENCE_SEED, n_points, dim, r, fam])
            d = reference_distances(reference_sample(family, n_points, dim, rng), k)
            vals.append(np.atleast_1d(np.asarray(raw_fn(d), dtype=np.float64)))
        v = np.asarray(vals)
        se = v.std(axis=0, ddof=1) / np.sqrt(repeats) if repeats > 1 else np.zeros(v.shape[1])
        _REFERENCE_CACHE[ck] = (v.mean(axis=0), se)
    return _REFERENCE_CACHE[ck]


@dataclass(frozen=True)
class Correction:
    """A finite-sample correction of one estimate and its interval (see :func:`correct`).

    ``applied`` is False when the reference curve was not monotone and the raw values were
    kept (with a warning); ``mc_se`` is the Monte-Carlo standard error of the corrected
    estimate (already folded into ``interval``); ``curve`` holds the reference dimensions
    and mean raw estimates used.
    """

    estimate: float
    interval: tuple[float, float]
    applied: bool
    mc_se: float
    curve: tuple[np.ndarray, np.ndarray]


def _next_reference_dim(m: int) -> int:
    """Reference grid: every integer up to ``REFERENCE_GRID_DENSE``, then steps of ~20%.

    Above ~10 dimensions f(m) rises by less than its Monte-Carlo error per dimension, so a
    mean curve on all integers would be out of order by noise and the monotonicity check would
    test the noise; f is smooth enough for linear interpolation between the grid points
    (measured: ``docs/validation.md#finite-sample-reference``).
    """
    return m + 1 if m < REFERENCE_GRID_DENSE else int(np.ceil(m * REFERENCE_GRID_GROWTH))


def _reference_curve(
    f: Callable[[int], tuple[float, float]], upto: float, cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """f evaluated on the reference grid until two consecutive values exceed ``upto`` (or the
    grid reaches ``cap``): one point past the crossing, so that a dip right after it is seen."""
    ms, means, ses = [], [], []
    m = 1
    while True:
        mean, se = f(m)
        ms.append(m)
        means.append(mean)
        ses.append(se)
        if (len(means) > 1 and min(means[-2:]) > upto) or m >= cap:
            break
        m = min(cap, _next_reference_dim(m))
    return np.asarray(ms, float), np.asarray(means), np.asarray(ses)


def _invert_curve(raw: float, ms: np.ndarray, means: np.ndarray, cap: int) -> float:
    """Solve f(m) = raw on an increasing curve, linear between grid points; proportional below
    f(1); capped at ``cap``."""
    if not np.isfinite(raw):
        return float(cap) if raw > 0 else float(raw)
    if raw < means[0]:
        return float(raw / means[0])
    if raw >= means[-1]:
        return float(cap) if ms[-1] >= cap else float(ms[-1])
    return float(min(cap, np.interp(raw, means, ms)))


def correct(
    raw: float,
    interval: tuple[float, float],
    key: tuple,
    raw_fn: Callable[[np.ndarray], Any],
    n_points: int,
    k: int,
    *,
    max_dim: int | None = None,
    family: str = "ball",
    component: int = 0,
) -> Correction:
    r"""Correct the finite-sample bias of an estimate by inverting its reference curve.

    For a reference family of known dimension :math:`m` (uniform samples of the unit
    :math:`m`-ball, or cube) with the same number of points :math:`N` and the same neighbour
    count :math:`k`, let :math:`f(m) = \mathbb{E}[\hat n]` be the mean raw estimate, simulated
    at :math:`m = 1, 2, \dots, 10` and then in steps of about 20% (``reference_repeats(N)``
    independent samples each, fixed seed, cached) until two consecutive values pass the
    largest value to invert. The corrected estimate is
    :math:`\hat m = f^{-1}(\hat n_{\mathrm{raw}})`, linear between grid points, capped at
    ``max_dim`` (the number of coordinates). This is the calibration idea of DANCo and MiND
    (Ceruti et al. 2014; Rozza et al. 2012).

    **Checks and uncertainty.** The simulated curve must increase strictly over the range used;
    otherwise no inverse exists, the raw values are returned unchanged with a
    ``RuntimeWarning`` and ``applied=False``. The Monte-Carlo error of :math:`f` gives
    :math:`\mathrm{se}(\hat m) = \mathrm{se}_f(\hat m)/f'(\hat m)`; each side of the interval
    is :math:`\sqrt{(\hat m - f^{-1}(\text{end}))^2 + (1.96\,\mathrm{se}(\hat m))^2}` away
    from :math:`\hat m`, so the interval always contains the estimate.
    """
    family = check_option(family, REFERENCE_FAMILIES, name="reference")
    cap = _MAX_DIM if max_dim is None else max(1, min(int(max_dim), _MAX_DIM))

    def f(m: int) -> tuple[float, float]:
        mean, se = reference_value(key, raw_fn, n_points, k, m, family=family)
        return float(mean[component]), float(se[component])

    finite = [v for v in (raw, *interval) if np.isfinite(v)]
    ms, means, ses = _reference_curve(f, max(finite, default=1.0), cap)
    if len(means) > 1 and not np.all(np.diff(means) > 0):
        bad = int(np.flatnonzero(np.diff(means) <= 0)[0])
        warnings.warn(
            f"the finite-sample reference curve is not monotone at N={n_points} "
            f"(f({bad + 1})={means[bad]:.3f}, f({bad + 2})={means[bad + 1]:.3f}); the "
            "correction cannot be inverted and the uncorrected value is reported",
            RuntimeWarning,
            stacklevel=3,
        )
        lo, hi = min(interval[0], raw), max(interval[1], raw)
        return Correction(float(raw), (float(lo), float(hi)), False, 0.0, (ms, means))
    est = _invert_curve(raw, ms, means, cap)
    lo_c, hi_c = (_invert_curve(v, ms, means, cap) for v in interval)
    mc = _mc_se(est, ms, means, ses)
    lo = est - float(np.hypot(max(est - lo_c, 0.0), 1.96 * mc))
    hi = est + float(np.hypot(max(hi_c - est, 0.0), 1.96 * mc))
    return Correction(est, (max(lo, 0.0), min(hi, float(cap))), True, mc, (ms, means))


def _mc_se(est: float, ms: np.ndarray, means: np.ndarray, ses: np.ndarray) -> float:
    """Monte-Carlo standard error of f^{-1} at ``est``: se_f / slope of f there."""
    if len(ms) < 2 or not np.isfinite(est):
        return 0.0
    i = int(np.clip(np.searchsorted(ms, est) - 1, 0, len(ms) - 2))
    slope = (means[i + 1] - means[i]) / (ms[i + 1] - ms[i])
    return float(np.interp(est, ms, ses) / slope) if slope > 0 else 0.0


def calibrate(
    raw_values: list[float],
    key: tuple,
    raw_fn: Callable[[np.ndarray], Any],
    n_points: int,
    k: int,
    *,
    max_dim: int | None = None,
    family: str = "ball",
    seed: int = 0,
    repeats: int | None = None,
    component: int = 0,
) -> list[float]:
    r"""Corrected values :math:`f^{-1}(v)` of several raw values (see :func:`correct`).

    Kept for callers that correct point values only. ``seed`` and ``repeats`` are accepted for
    compatibility and ignored: the reference uses a fixed seed and ``reference_repeats(N)``
    samples per dimension. When the reference curve is not monotone the raw values are
    returned unchanged, with a ``RuntimeWarning``.
    """
    del seed, repeats
    finite = [v for v in raw_values if np.isfinite(v)]
    top = max(finite, default=1.0)
    c = correct(
        top,
        (top, top),
        key,
        raw_fn,
        n_points,
        k,
        max_dim=max_dim,
        family=family,
        component=component,
    )
    if not c.applied:
        return [float(v) for v in raw_values]
    ms, means = c.curve
    cap = _MAX_DIM if max_dim is None else max(1, min(int(max_dim), _MAX_DIM))
    return [_invert_curve(float(v), ms, means, cap) for v in raw_values]


# ----------------------------------------------------------------------------------------------
# sklearn-style parameter handling without importing scikit-learn
