"""GRIDE: generalised-ratio estimator, intrinsic dimension as a function of scale."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema
from manifold_probe._validation import InputError, clip_dimension
from manifold_probe.dimension._base import (
    CORRECT_BIAS,
    METRIC,
    REFERENCE,
    SEED,
    DimensionEstimate,
    distinct_graph,
    repeated_ratio_share,
    seed_int,
)
from manifold_probe.dimension._correction import correct
from manifold_probe.dimension._near import NEAR_DUPLICATES, collapse_near_duplicates, widen
from manifold_probe.neighbors import Neighbors

__all__ = ["GRIDE_PARAMS", "gride"]


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


# Share of exactly repeated ratios at which a scale is dropped as a lattice (NaN, warning); the
# same rule as TwoNN's (at half, the sample median ratio is a repeated value, which the
# continuous GRIDE law gives with probability 0).
LATTICE_SHARE = 0.5


def gride_scales(k: int) -> np.ndarray:
    """n1 = 1, 2, 4, ... with n2 = 2 n1 <= k."""
    return 2 ** np.arange(int(np.floor(np.log2(k))))


def gride_curve(d: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    est, err = [], []
    for n1 in scales:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_mu = np.log(d[:, 2 * n1 - 1] / d[:, n1 - 1])
        e, s = _gride_mle(log_mu[np.isfinite(log_mu)], int(n1), int(2 * n1))
        est.append(e)
        err.append(s)
    return np.asarray(est), np.asarray(err)


def _curve_lattice(d: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Per scale, True where at least half of the ratios r_2n1 / r_n1 are one repeated value."""
    bad = np.zeros(len(scales), dtype=bool)
    for i, n1 in enumerate(scales):
        with np.errstate(divide="ignore", invalid="ignore"):
            log_mu = np.log(d[:, 2 * n1 - 1] / d[:, n1 - 1])
        bad[i] = repeated_ratio_share(log_mu)[0] >= LATTICE_SHARE
    return bad


def stable_range(curve: np.ndarray, err: np.ndarray) -> tuple[int, int, str]:
    """(first, last) index of the stable range of the curve and why it was chosen.

    Two consecutive scales agree when their estimates differ by at most
    ``1.96 sqrt(se_i^2 + se_j^2)``. The noise-dominated end is the leading run of steps where
    the curve FALLS significantly (noise inflates the small-scale estimates); the stable range
    starts at the first scale after it and extends while consecutive scales agree.
    """
    ok = np.flatnonzero(np.isfinite(curve) & np.isfinite(err))
    if len(ok) == 0:
        return -1, -1, "no finite estimate at any scale"
    if len(ok) == 1:
        return int(ok[0]), int(ok[0]), "only one scale has a finite estimate"
    c, e = curve[ok], err[ok]
    tol = 1.96 * np.hypot(e[:-1], e[1:])
    falls = np.diff(c) < -tol
    first = int(np.argmin(falls)) if not falls.all() else len(c) - 1
    last = first
    while last + 1 < len(c) and abs(c[last + 1] - c[last]) <= tol[last]:
        last += 1
    if falls.all():
        why = (
            "the curve falls significantly at every scale (noise dominates the small "
            "scales): the largest scale is reported and is an upper bound"
        )
    elif first == 0:
        why = "no significant fall at small scales: the smallest stable scale is reported"
    else:
        why = (
            f"the curve falls significantly up to n1={2 ** int(ok[first])} (noise at "
            "small scales): the first scale after the fall is reported"
        )
    return int(ok[first]), int(ok[last]), why


#: The settings of :func:`gride` (and :class:`~manifold_probe.dimension.GRIDE`).
GRIDE_PARAMS = Schema(
    "gride",
    Param("n1", int, None, "report the estimate at this rank (n2 = 2 n1; None: select a scale)",
          ge=1, nullable=True),
    Param("range_max", int, 64, "largest neighbour rank n2 of the scale analysis (the graph's k)",
          ge=2),
    CORRECT_BIAS,
    REFERENCE,
    SEED,
    METRIC,
    NEAR_DUPLICATES,
)


def gride(
    X: Any = None,
    *,
    neighbors: Neighbors | None = None,
    n1: int | None = None,
    range_max: int = 64,
    correct_bias: bool = False,
    reference: str = "ball",
    seed: int | None = 0,
    metric: str = "euclidean",
    near_duplicates: str = "collapse",
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
    towards the ambient dimension), large ones see curvature and boundaries. Unless ``n1`` is
    given, the reported scale is the start of the *stable range*: two consecutive scales agree
    when their estimates differ by at most :math:`1.96\sqrt{\mathrm{se}_i^2+\mathrm{se}_j^2}`;
    the leading run of significant falls is the noise-dominated end and is skipped; the stable
    range starts at the first scale after it and extends while consecutive scales agree. If the
    curve falls significantly at every scale (noise everywhere) the largest scale is reported,
    as an upper bound. ``details`` says which scale was chosen and why: ``selected_n1``,
    ``plateau_n1`` (first and last :math:`n_1` of the stable range), ``plateau_range`` (lowest
    and highest 95% bound over it) and ``scale_reason``. The scale is chosen on the
    uncorrected curve, whose standard errors are exact.

    *Limit:* a curve that falls at every scale for another reason than noise (a strongly
    non-uniform density or curvature) is read as noise, so the reported value is then too
    low; pass ``n1=1`` for the small-scale value. Measured in
    ``docs/validation.md#gride-scale-selection``.

    **Finite-sample correction** (``correct_bias=True``, off by default): each scale's
    estimate is mapped through the inverse of its mean on uniform balls (or cubes) with the
    same :math:`(N, n_1, n_2)`, exactly as in :func:`twonn` (fixed internal seed,
    monotone-checked, Monte-Carlo spread in the interval). It shares TwoNN's correction's
    limits: it helps on bounded uniform sets and hurts on closed manifolds and noisy data.

    **Lattices.** A scale where at least half of the ratios repeat exactly is set to NaN with
    a ``RuntimeWarning`` and never selected; if every scale is such, ``InputError``.

    **Duplicates.** Exact duplicate rows are collapsed first (the estimate is computed on the
    distinct rows); ratios with :math:`\mu = 1` (ties) are dropped. Near-coincident points
    (the test of :func:`twonn`) make the curve read about 0 at :math:`n_1 = 1` and jump at
    :math:`n_1 = 2`; by default each near-coincident group is merged into one point first
    (``NearDuplicateWarning``, ``near_duplicates`` True), so every scale reads the cloud the
    groups sit on.

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
    correct_bias : bool, default=False
        Correct each scale's estimate for its finite-sample bias (see above).
    reference : {"ball", "cube"}, default="ball"
        Reference family of the correction.
    seed : int or None, default=0
        Accepted for compatibility; the result does not depend on it.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Metric of the graph when it is computed here.
    near_duplicates : {"collapse", "keep"}, default="collapse"
        Estimate on the cloud with near-coincident groups merged, or on the cloud as it is
        (flagged; the interval then runs up to the ambient dimension).

    Returns
    -------
    DimensionEstimate
        ``dimension`` at the selected scale, ``interval`` (95%, contains ``dimension``),
        ``scale`` (the :math:`n_1` values), ``curve`` (estimate per scale, corrected when
        ``correct_bias``), ``raw`` (uncorrected value at the selected scale when corrected),
        ``details``: ``raw_curve``, ``error`` (standard error per scale, uncorrected),
        ``selected_n1``, ``plateau_n1``, ``plateau_range``, ``scale_reason``,
        ``lattice_scales``.

    **Range.** When the points are given, ``dimension``, both ends of ``interval`` and every
    point of ``curve`` are clipped to the ambient dimension :math:`D` (a cloud in
    :math:`\mathbb{R}^D` has dimension at most :math:`D`); the unclipped estimate is kept in
    ``details["unclipped"]`` and the raw per-scale values in ``details["raw_curve"]``.

    References
    ----------
    Denti, Doimo, Laio & Mira (2022), "The generalized ratios intrinsic dimension estimator",
    Sci. Rep. 12:20005.
    """
    n1, range_max, correct_bias, reference, metric, near_duplicates = GRIDE_PARAMS.check(
        n1=n1, range_max=range_max, correct_bias=correct_bias, reference=reference,
        metric=metric, near_duplicates=near_duplicates).values()
    seed_int(seed)  # validated for compatibility; the correction never depends on it
    if n1 is not None:
        range_max = max(range_max, 2 * n1)
    k = range_max
    U, g = distinct_graph(X, k, neighbors=neighbors, metric=metric, what=f"GRIDE (k={k})")
    _, g, near = collapse_near_duplicates(U, g, k, graph=neighbors, option=near_duplicates,
                                          what=f"GRIDE (k={k})")
    scales = gride_scales(k)
    if n1 is not None and n1 not in scales:
        scales = np.unique(np.append(scales[scales < 2 * n1], n1))
        scales = scales[2 * scales <= k]
    d = g.neighbors.distances
    raw_curve, err = gride_curve(d, scales)
    lattice = _curve_lattice(d, scales)
    _drop_lattice_scales(raw_curve, err, lattice, scales)
    idx, plateau, why = _choose(raw_curve, err, scales, n1)
    half = 1.96 * err[idx]
    interval = widen((max(raw_curve[idx] - half, 0.0), raw_curve[idx] + half), near,
                     g.ambient_dim)
    est, raw, curve, extra = float(raw_curve[idx]), None, raw_curve, {}
    if correct_bias:
        est, interval, curve, extra = _correct_gride(
            raw_curve, err, idx, interval, scales, g, reference
        )
        raw = float(raw_curve[idx])
    details = {
        "raw_curve": raw_curve,
        "error": err,
        "selected_n1": int(scales[idx]),
        "plateau_n1": plateau,
        "plateau_range": _plateau_range(raw_curve, err, scales, plateau),
        "scale_reason": why,
        "lattice_scales": scales[lattice].astype(int).tolist(),
        **extra,
        **({} if near is None else {"near_duplicates": near}),
    }
    est, unclipped = clip_dimension(float(est), g.ambient_dim)
    if unclipped is not None:
        # a cloud in R^D has dimension at most D (see clip_dimension); the curve keeps raw values
        details["unclipped"] = unclipped
        interval = (min(float(interval[0]), est), min(max(float(interval[1]), est), est))
    if g.ambient_dim is not None:  # like .dimension: no interval end or curve point above D
        interval = tuple(min(float(v), float(g.ambient_dim)) for v in interval)
        curve = np.minimum(curve, float(g.ambient_dim))
    return DimensionEstimate(
        dimension=float(est),
        interval=(float(interval[0]), float(interval[1])),
        method="gride",
        raw=raw,
        scale=scales.astype(np.float64),
        curve=curve,
        n_distinct=g.n_distinct,
        near_duplicates=near is not None,
        details=details,
    )


def _drop_lattice_scales(curve, err, lattice, scales) -> None:
    """NaN (with a warning) at the scales whose ratios repeat; InputError if all do."""
    if not lattice.any():
        return
    if lattice.all():
        raise InputError(
            f"GRIDE: at every scale n1 = {scales.astype(int).tolist()} at least half of the "
            "points have the same distance ratio r_2n1/r_n1, which a continuous density gives "
            "with probability 0: the points look like a lattice, a grid or heavily rounded "
            "data. Add a small jitter that reflects the measurement precision, or use another "
            "method (e.g. method='lpca')"
        )
    curve[lattice] = np.nan
    err[lattice] = np.nan
    warnings.warn(
        f"GRIDE: exactly repeated distance ratios (a lattice or rounded data) at n1 = "
        f"{scales[lattice].astype(int).tolist()}; those scales are NaN and not selected",
        RuntimeWarning,
        stacklevel=3,
    )


def _choose(curve, err, scales, n1) -> tuple[int, tuple[int, int], str]:
    """Index of the reported scale, the plateau (n1 first, n1 last) and the reason."""
    first, last, why = stable_range(curve, err)
    if first < 0:
        raise InputError(
            "GRIDE could not estimate the dimension at any scale: too few distinct neighbour "
            "distances; check the data for a lattice or heavy rounding"
        )
    plateau = (int(scales[first]), int(scales[last]))
    if n1 is None:
        return first, plateau, why
    idx = int(np.flatnonzero(scales == n1)[0])
    if not np.isfinite(curve[idx]):
        raise InputError(f"GRIDE has no estimate at n1={n1} (repeated ratios); choose another n1")
    return idx, plateau, f"n1={n1} was requested"


def _plateau_range(curve, err, scales, plateau) -> tuple[float, float]:
    """Lowest and highest 95% bound of the estimates over the stable range of scales."""
    sel = (scales >= plateau[0]) & (scales <= plateau[1])
    return (
        float(np.nanmin(curve[sel] - 1.96 * err[sel])),
        float(np.nanmax(curve[sel] + 1.96 * err[sel])),
    )


def _correct_gride(raw_curve, err, idx, interval, scales, g, reference):
    """Finite-sample correction of every finite scale; the interval of the chosen one."""
    key = ("gride", tuple(int(s) for s in scales))

    def fn(d):
        return gride_curve(d, scales)[0]

    curve = raw_curve.copy()
    applied = True
    for i in np.flatnonzero(np.isfinite(raw_curve)):
        c = correct(
            raw_curve[i],
            (raw_curve[i], raw_curve[i]),
            key,
            fn,
            g.n_distinct,
            int(2 * scales[-1]),
            max_dim=g.ambient_dim,
            family=reference,
            component=i,
        )
        curve[i] = c.estimate
        applied &= c.applied
    c = correct(
        raw_curve[idx],
        interval,
        key,
        fn,
        g.n_distinct,
        int(2 * scales[-1]),
        max_dim=g.ambient_dim,
        family=reference,
        component=int(idx),
    )
    extra = {"correction_applied": bool(applied and c.applied), "correction_mc_se": c.mc_se}
    return c.estimate, c.interval, curve, extra
