"""GRIDE: generalised-ratio estimator, intrinsic dimension as a function of scale."""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_int, check_option
from manifold_probe.dimension._base import (
    DimensionEstimate,
    calibrate,
    distinct_graph,
    seed_int,
)
from manifold_probe.neighbors import Neighbors

__all__ = ["gride"]


def _gride_mle(log_mu: np.ndarray, n1: int, n2: int) -> tuple[float, float]:
    """Maximum-likelihood ID and its standard error from log(r_n2 / r_n1)."""
    from scipy.optimize import brentq

    x = log_mu[log_mu > 0]  # ties (mu = 1) carry no scale information
    n = len(x)
    if n < 2:
        return np.inf, np.inf
    sx = float(x.sum())
    a = n2 - n1 - 1

    def score(d: float) -> float:
        # d/dd of (N-1) log d + a sum log(mu^d - 1) - (n2 - 1) d sum log mu
        return (n - 1) / d + a * float(np.sum(x / -np.expm1(-d * x))) - (n2 - 1) * sx

    hi = 1.0
    while score(hi) > 0:
        hi *= 2.0
        if hi > 1e6:
            return np.inf, np.inf
    d = brentq(score, 1e-10, hi, xtol=1e-12, rtol=1e-12)
    info = (n - 1) / d**2 + a * float(np.sum((x / (2.0 * np.sinh(d * x / 2.0))) ** 2))
    return float(d), float(1.0 / np.sqrt(info))


def _scales(k: int) -> np.ndarray:
    """n1 = 1, 2, 4, ... with n2 = 2 n1 <= k."""
    return 2 ** np.arange(int(np.floor(np.log2(k))))


def _curve(d: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    est, err = [], []
    for n1 in scales:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_mu = np.log(d[:, 2 * n1 - 1] / d[:, n1 - 1])
        e, s = _gride_mle(log_mu[np.isfinite(log_mu)], int(n1), int(2 * n1))
        est.append(e)
        err.append(s)
    return np.asarray(est), np.asarray(err)


def _select_scale(curve: np.ndarray) -> int:
    """Index of the flattest stretch of the curve: the smaller scale of the consecutive pair
    with the smallest relative change (the first such pair on ties)."""
    if len(curve) < 2:
        return 0
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.abs(np.diff(np.log(curve)))
    change[~np.isfinite(change)] = np.inf
    return int(np.argmin(change))


def gride(
    X: Any = None,
    *,
    neighbors: Neighbors | None = None,
    n1: int | None = None,
    range_max: int = 64,
    correct_bias: bool = True,
    reference: str = "ball",
    seed: int | None = 0,
    metric: str = "euclidean",
) -> DimensionEstimate:
    r"""GRIDE estimate of the intrinsic dimension, as a function of scale (Denti et al. 2022).

    For neighbour ranks :math:`n_1 < n_2` let :math:`\mu = r_{n_2}/r_{n_1}`. Under a locally
    constant density on an :math:`n`-dimensional manifold,

    .. math:: f(\mu) = \frac{n\,(\mu^n - 1)^{n_2-n_1-1}}
              {B(n_2-n_1,\ n_1)\ \mu^{n(n_2-1)+1}}, \qquad \mu > 1,

    and the estimate maximises the likelihood of the :math:`N` ratios (with :math:`(N-1)\log n`
    in place of :math:`N\log n`, so that :math:`n_1 = 1, n_2 = 2` gives the unbiased TwoNN
    maximum-likelihood estimate :math:`(N-1)/\sum\log\mu`). The log-likelihood is concave in
    :math:`n`; its standard error is the inverse square root of the observed information, and
    the ``interval`` is :math:`\hat n \pm 1.96\,\mathrm{se}`.

    **Scale analysis.** ``curve`` holds the estimate at ``scale`` :math:`n_1 = 1, 2, 4, \dots`
    with :math:`n_2 = 2n_1 \le` ``range_max``. Small scales see noise (the estimate rises
    towards the ambient dimension), large ones see curvature and boundaries (it falls). With
    ``correct_bias=True`` each point of the curve is first corrected for its finite-sample bias
    with reference simulations at the same :math:`(N, n_1, n_2)` (as in :func:`twonn`), so that
    a flat curve means a scale-free estimate. Unless ``n1`` is given, the reported scale is the
    smaller one of the consecutive pair with the smallest relative change of the (corrected)
    curve, i.e. its flattest stretch.

    **Duplicates.** Exact duplicate rows are collapsed first (the estimate is computed on the
    distinct rows); ratios with :math:`\mu = 1` (ties) are dropped.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features), optional
        The points; may be omitted when ``neighbors`` is given.
    neighbors : Neighbors, optional
        A precomputed graph with at least ``range_max`` (or ``2 * n1``) neighbours.
    n1 : int, optional
        Report the estimate at this rank (:math:`n_2 = 2n_1`) instead of selecting a scale.
    range_max : int, default=64
        Largest neighbour rank :math:`n_2` of the scale analysis (the graph's k).
    correct_bias : bool, default=True
        Correct each scale's estimate for its finite-sample bias.
    reference : {"ball", "cube"}, default="ball"
        Reference family of the correction.
    seed : int or None, default=0
        Seed of the reference simulations.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Metric of the graph when it is computed here.

    Returns
    -------
    DimensionEstimate
        ``dimension`` at the selected scale, ``interval``, ``scale`` (the :math:`n_1` values),
        ``curve`` (estimate per scale, corrected when ``correct_bias``), ``raw`` (uncorrected
        value at the selected scale when corrected), ``details["raw_curve"]`` and
        ``details["error"]`` (standard error per scale, uncorrected).

    References
    ----------
    Denti, Doimo, Laio & Mira (2022), "The generalized ratios intrinsic dimension estimator",
    Sci. Rep. 12:20005.
    """
    range_max = check_int(range_max, name="range_max", minimum=2)
    reference = check_option(reference, ("ball", "cube"), name="reference")
    seed = seed_int(seed)
    if n1 is not None:
        n1 = check_int(n1, name="n1", minimum=1)
        if 2 * n1 > range_max:
            range_max = 2 * n1
    k = range_max
    _, g = distinct_graph(X, k, neighbors=neighbors, metric=metric, what=f"GRIDE (k={k})")
    scales = _scales(k)
    if n1 is not None and n1 not in scales:
        scales = np.unique(np.append(scales[scales < 2 * n1], n1))
        scales = scales[2 * scales <= k]
    raw_curve, err = _curve(g.neighbors.distances, scales)
    curve = raw_curve.copy()
    if correct_bias:
        key = ("gride", tuple(int(s) for s in scales))
        for i in range(len(scales)):
            (curve[i],) = calibrate(
                [raw_curve[i]],
                key,
                lambda d: _curve(d, scales)[0],
                g.n_distinct,
                k,
                max_dim=g.ambient_dim,
                family=reference,
                seed=seed,
                component=i,
            )
    if n1 is not None:
        idx = int(np.flatnonzero(scales == n1)[0])
    else:
        idx = _select_scale(curve)
    if not np.isfinite(raw_curve[idx]):
        raise InputError(
            "GRIDE could not estimate the dimension: too few distinct neighbour distances "
            "(ties everywhere); check the data for a lattice or heavy rounding"
        )
    half = 1.96 * err[idx]
    lo, hi = max(raw_curve[idx] - half, 0.0), raw_curve[idx] + half
    if correct_bias:
        lo, hi = calibrate(
            [lo, hi],
            key,
            lambda d: _curve(d, scales)[0],
            g.n_distinct,
            k,
            max_dim=g.ambient_dim,
            family=reference,
            seed=seed,
            component=idx,
        )
    return DimensionEstimate(
        dimension=float(curve[idx]),
        interval=(float(lo), float(hi)),
        method="gride",
        raw=float(raw_curve[idx]) if correct_bias else None,
        scale=scales.astype(np.float64),
        curve=curve,
        n_distinct=g.n_distinct,
        details={"raw_curve": raw_curve, "error": err, "selected_n1": int(scales[idx])},
    )
