"""TwoNN: intrinsic dimension from the ratio of the two nearest-neighbour distances."""

from __future__ import annotations

import warnings
from dataclasses import replace
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
    DistinctGraph,
    distinct_graph,
    lattice_message,
    repeated_ratio_share,
    seed_int,
)
from manifold_probe.dimension._correction import correct
from manifold_probe.dimension._near import NEAR_DUPLICATES, collapse_near_duplicates, widen
from manifold_probe.dimension._scale_check import SCALE_CHECK_K, ScaleCheck, scale_dependence
from manifold_probe.neighbors import Neighbors

__all__ = ["TWONN_PARAMS", "twonn"]

FITS = ("linear", "mle")
# Share of exactly repeated ratios that makes TwoNN refuse (see _check_lattice), and the share
# from which it warns (1% of ties cannot be chance for a continuous density, and they bias the
# estimate upwards by roughly that fraction).
LATTICE_ERROR_SHARE = 0.5
# A choice, not measured: no benchmark measures the bias that ties add or the rate of false
# warnings (docs/validation.md#constants-not-yet-measured).
LATTICE_WARN_SHARE = 0.01


def _log_ratios(dist: np.ndarray) -> np.ndarray:
    r1, r2 = dist[:, 0], dist[:, 1]
    # r1 > 0 on distinct rows; the guard keeps a degenerate metric from producing inf
    return np.log(r2[r1 > 0] / r1[r1 > 0])


def _twonn_from_log_mu(
    log_mu: np.ndarray, discard_fraction: float, fit: str
) -> tuple[float, float]:
    """(estimate, censored total T) from the log-ratios."""
    n = len(log_mu)
    n_keep = max(2, int(n * (1.0 - discard_fraction)))
    x = np.sort(log_mu)[:n_keep]
    total = float(x.sum() + (n - n_keep) * x[-1])  # total time on test (Type-II censoring)
    if fit == "mle":
        est = (n_keep - 1) / total if total > 0 else np.inf
    else:
        y = -np.log1p(-np.arange(1, n_keep + 1) / n)
        sxx = float(x @ x)
        est = float(x @ y) / sxx if sxx > 0 else np.inf
    return float(est), total


def _raw_twonn(dist: np.ndarray, discard_fraction: float, fit: str) -> float:
    return _twonn_from_log_mu(_log_ratios(dist), discard_fraction, fit)[0]


def _check_lattice(log_mu: np.ndarray) -> None:
    """InputError when at least half of the ratios are one repeated value; warning from 1%.

    Half is where the data contradict the Pareto law for every finite n: its median ratio is
    2^(1/n) > 1, while the sample median is then a repeated value (1 for a lattice: the two
    nearest neighbours at the same distance).
    """
    share, value = repeated_ratio_share(log_mu)
    if share >= LATTICE_ERROR_SHARE:
        raise InputError(lattice_message("TwoNN", share, value))
    if share >= LATTICE_WARN_SHARE:
        warnings.warn(
            lattice_message("TwoNN", share, value).replace("would return", "may return")
            + "; the estimate is biased upwards",
            RuntimeWarning,
            stacklevel=3,
        )


def _interval(est: float, n_keep: int) -> tuple[float, float]:
    """95% interval: the exact Gamma(K, 1) relative spread of the censored MLE, centred on the
    reported estimate (so that it contains it, whichever fit produced it)."""
    from scipy.special import gammaincinv

    if not np.isfinite(est):
        return (float(est), float(est))
    scale = est / (n_keep - 1) if n_keep > 1 else np.inf
    return (float(gammaincinv(n_keep, 0.025) * scale), float(gammaincinv(n_keep, 0.975) * scale))


def _clip(est: float, interval, ambient: int | None) -> tuple[float, tuple[float, float], dict]:
    """The estimate and its interval clipped to the ambient dimension (raw estimate in
    ``details["unclipped"]``), the interval so that it still contains the estimate."""
    lo, hi = float(interval[0]), float(interval[1])
    if ambient is not None:  # no dimension above D: neither the estimate nor its interval
        lo, hi = min(lo, float(ambient)), min(hi, float(ambient))
    clipped, unclipped = clip_dimension(float(est), ambient)
    if unclipped is None:
        return float(est), (lo, hi), {}
    return clipped, (min(lo, clipped), clipped), {"unclipped": unclipped}


#: The settings of :func:`twonn` (and :class:`~manifold_probe.dimension.TwoNN`): one home for
#: their defaults and bounds (see :mod:`manifold_probe._params`).
TWONN_PARAMS = Schema(
    "twonn",
    Param("discard_fraction", float, 0.1, "share of the largest ratios left out of the fit",
          ge=0.0, lt=1.0),
    Param("fit_by", str, "linear", "slope of the empirical law (Facco et al.) or censored "
          "maximum likelihood", choices=FITS),
    CORRECT_BIAS,
    REFERENCE,
    SEED,
    METRIC,
    NEAR_DUPLICATES,
    Param("scale_check", bool, True, "run the noise diagnostic (a graph of up to 64 neighbours)"),
)


def twonn(
    X: Any = None,
    *,
    neighbors: Neighbors | None = None,
    discard_fraction: float = 0.1,
    fit_by: str = "linear",
    correct_bias: bool = False,
    reference: str = "ball",
    seed: int | None = 0,
    metric: str = "euclidean",
    near_duplicates: str = "collapse",
    scale_check: bool = True,
) -> DimensionEstimate:
    r"""TwoNN estimate of the intrinsic dimension (Facco et al. 2017).

    For every point let :math:`\mu = r_2/r_1`, the ratio of the distances to its second and
    first nearest neighbours. If the density is locally constant on an :math:`n`-dimensional
    manifold, :math:`\mu` follows the Pareto law

    .. math:: F(\mu) = 1 - \mu^{-n}, \qquad \mu \ge 1,

    so :math:`-\log(1 - F(\mu)) = n \log\mu`. With the :math:`N` ratios sorted,
    :math:`\hat F(\mu_{(i)}) = i/N`, the largest ``discard_fraction`` of them dropped (they come
    from outliers and low-density regions), ``fit_by="linear"`` returns the slope through the origin
    of :math:`-\log(1-\hat F)` against :math:`\log\mu` (Facco et al.); ``fit_by="mle"`` returns the
    unbiased maximum-likelihood estimate that treats the discarded ratios as censored,

    .. math:: \hat n = \frac{K-1}{T}, \qquad
              T = \sum_{i\le K} \log\mu_{(i)} + (N-K)\log\mu_{(K)},

    with :math:`K = \lfloor N(1-\text{discard\_fraction})\rfloor` kept ratios. Under the Pareto
    law :math:`nT \sim \mathrm{Gamma}(K, 1)`, which gives the exact 95% ``interval``
    :math:`[g_{0.025}/T,\ g_{0.975}/T]` (:math:`g_q` the Gamma(K, 1) quantiles).

    **Interval.** Under the Pareto law :math:`nT \sim \mathrm{Gamma}(K, 1)`; the reported 95%
    interval is :math:`\hat n\,[g_{0.025},\ g_{0.975}]/(K-1)`, the exact interval of the
    censored MLE, centred on the reported estimate whichever fit produced it (so it always
    contains the estimate; the linear fit's own spread is somewhat wider).

    **Finite-sample bias correction** (``correct_bias=True``; off by default). At a finite
    number of points the ratio law is distorted by boundaries, and on a uniformly filled ball
    or cube the raw estimate falls below :math:`n` as :math:`n` grows (about half of it for a
    70-dimensional cube at N = 2500). The correction replaces the raw value by
    :math:`f^{-1}(\hat n_{\mathrm{raw}})`, where :math:`f(m)` is the mean raw estimate on a
    uniform sample of the unit :math:`m`-ball (``reference="ball"``) or cube with the same
    number of distinct points (see :func:`manifold_probe.dimension.correct`: fixed internal
    seed, monotone-checked, its Monte-Carlo spread folded into the interval).

    **Which to use.** The default stays uncorrected: it equals scikit-dimension's and dadapy's
    TwoNN to 1e-9 and is the value the literature reports. The Hein–Audibert accuracy target
    (mean relative error at most 8%) applies to ``correct_bias=True``, which meets it; the
    measurements, and where the correction over-corrects (closed manifolds, noise), are in
    ``docs/validation.md#twonn-bias-correction``.
    ``raw`` keeps the uncorrected value; ``details["correction_applied"]`` is False when the
    reference curve was not monotone (raw value kept, with a ``RuntimeWarning``).

    **Scale check (noise diagnostic)** (``scale_check=True``, the default). TwoNN reads the
    smallest scale, which is where noise lives: isotropic noise in :math:`D` ambient dimensions
    makes the nearest neighbours look :math:`D`-dimensional (a 3-torus in R^200 with
    sigma = 0.05 reads 27 while GRIDE at n1 = 32 reads 6). The check reads GRIDE's curve on
    the 64-neighbour graph (:func:`manifold_probe.dimension.scale_dependence`); when it falls
    significantly from n1 = 1 on, ``scale_dependent`` is True, a ``RuntimeWarning`` says so,
    and ``interval`` is widened to the range of the curve's 95% bounds from n1 = 1 to the end
    of its stable range (all scales when it has none: the estimate is then at most an upper
    bound); ``details["scale_check"]`` holds the curve. Without a plateau even the lowest
    reading may lie above the truth. ``scale_dependent`` is None when the check did not run
    (``scale_check=False``, or a graph ``neighbors=`` with fewer than 4 columns). Swept in
    ``benchmarks/sweep_dimension_scale.py`` (``docs/validation.md#twonn-scale-check``).

    **Lattices.** Ratios that repeat exactly (two neighbours at the same distance: lattices,
    grids, rounded data) have probability 0 under the law above and push the estimate towards
    infinity. When at least half of the ratios share one value an ``InputError`` is raised
    (the sample median then contradicts the Pareto law for every :math:`n`); from 1% a
    ``RuntimeWarning`` says the estimate is biased upwards.

    **Ambient bound.** A cloud in :math:`\mathbb{R}^D` has dimension at most :math:`D`; on
    few points the estimate can exceed it (12 points on a line can read 2.2), and is then
    reported as :math:`D` with the raw value in ``details["unclipped"]``.

    **Duplicates.** Exact duplicate rows are collapsed before the ratios are taken (the
    estimate is computed on the distinct rows, so neither ``r1 = 0`` nor a duplicated pair of
    neighbours, which would give :math:`\mu = 1`, can bias it).

    **Near-duplicates.** Points that come in near-coincident pairs or groups (the same input in
    two orders mapped almost to one vector, jittered copies) have a first neighbour far closer
    than the second: their ratios :math:`\mu` are huge and drive the estimate below 1. They are
    detected by a level-:math:`10^{-3}` test of the ratios against the Pareto tail
    :math:`t^{-n_{\mathrm{ref}}}`, with :math:`n_{\mathrm{ref}} \ge 1` a lower confidence bound
    read from the lower half of the ratios (:mod:`manifold_probe.dimension._near`:
    :math:`\sup_t(\hat S(t) - t^{-n_{\mathrm{ref}}})` against the DKW bound; no line, circle
    or manifold of ``benchmarks/sweep_near_duplicates.py`` is flagged). When it fires, a
    ``NearDuplicateWarning`` says so, ``near_duplicates`` is True, each near-coincident group is
    merged into one point and the estimate is made on that decimated cloud (the reading on the
    full cloud is kept in ``details["near_duplicates"]["full_cloud_dimension"]``). With
    ``near_duplicates="keep"``, or when the decimated cloud still fails the test, the estimate
    is a lower bound and its interval runs up to the ambient dimension.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features), optional
        The points. May be omitted when ``neighbors`` is given.
    neighbors : Neighbors, optional
        A precomputed graph (``mp.knn(X, k)`` with ``k >= 2``); no other graph is computed.
    discard_fraction : float, default=0.1
        Fraction of the largest ratios dropped, in ``[0, 1)``.
    fit_by : {"linear", "mle"}, default="linear"
        Slope of the empirical law (Facco et al.) or censored maximum likelihood.
    correct_bias : bool, default=False
        Apply the finite-sample correction described above (see the table).
    reference : {"ball", "cube"}, default="ball"
        Reference family of the correction.
    seed : int or None, default=0
        Accepted for compatibility and validated; the result does not depend on it (the
        reference simulations use a fixed internal seed).
    metric : {"euclidean", "cosine"}, default="euclidean"
        Metric of the graph when it is computed here.
    near_duplicates : {"collapse", "keep"}, default="collapse"
        What to do when near-coincident points drive the ratios (see above): estimate on the
        decimated cloud, or on the cloud as it is (flagged, interval widened).
    scale_check : bool, default=True
        Run the noise diagnostic above (it needs a graph of up to 64 neighbours; with
        ``neighbors=`` it uses the columns given). Not applied when near-coincident points
        were found: the diagnostic would read the twins' scale.

    Returns
    -------
    DimensionEstimate
        ``dimension``, ``interval`` (95%, contains ``dimension``; widened to the scale range
        when ``scale_dependent``), ``scale_dependent``, ``raw`` (uncorrected, when
        corrected), ``pointwise`` None; when corrected, ``details["correction_applied"]`` and
        ``details["correction_mc_se"]`` (Monte-Carlo standard error, included in the interval).

    Raises
    ------
    InputError
        Bad input, or at least half of the distance ratios repeat exactly (a lattice).

    Warns
    -----
    RuntimeWarning
        The estimate depends on the neighbourhood scale (scale check), or some ratios repeat.

    References
    ----------
    Facco, d'Errico, Rodriguez & Laio (2017), "Estimating the intrinsic dimension of datasets
    by a minimal neighborhood information", Sci. Rep. 7:12140.
    Ceruti, Bassis, Rozza, Lombardi, Casiraghi & Campadelli (2014), "DANCo: an intrinsic
    dimensionality estimator exploiting angle and norm concentration", Pattern Recognition 47.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((2000, 3))
    >>> round(twonn(X).dimension)
    3
    """
    discard_fraction, fit_by, correct_bias, reference, metric, near_duplicates, scale_check = \
        TWONN_PARAMS.check(discard_fraction=discard_fraction, fit_by=fit_by,
                           correct_bias=correct_bias, reference=reference, metric=metric,
                           near_duplicates=near_duplicates, scale_check=scale_check).values()
    seed_int(seed)  # validated for compatibility; the correction never depends on it
    check, U, g = _scale_check(X, neighbors, metric) if scale_check else (None, None, None)
    if g is None:
        U, g = distinct_graph(X, 2, neighbors=neighbors, metric=metric, what="TwoNN (k=2)")
    else:  # one graph: TwoNN reads the first two columns of the check's
        g = DistinctGraph(g.neighbors.truncate(2), g.inverse, g.ambient_dim)
    full = g.neighbors.distances
    _, g, near = collapse_near_duplicates(U, g, 2, graph=neighbors, option=near_duplicates,
                                          what="TwoNN")
    if near is not None:
        check = None  # the curve was read on the twins; the near-duplicate interval stands
    log_mu = _log_ratios(g.neighbors.distances)
    _check_lattice(log_mu)
    est, _ = _twonn_from_log_mu(log_mu, discard_fraction, fit_by)
    n_keep = max(2, int(len(log_mu) * (1.0 - discard_fraction)))
    interval = widen(_interval(est, n_keep), near, g.ambient_dim)
    extra = {}
    if near is not None:
        near["full_cloud_dimension"] = _raw_twonn(full, discard_fraction, fit_by)
        extra = {"near_duplicates": near}
    if not correct_bias:
        est, interval, details = _clip(est, interval, g.ambient_dim)
        return _with_scale_check(DimensionEstimate(
            dimension=float(est), interval=interval, method="twonn", n_distinct=g.n_distinct,
            near_duplicates=near is not None, details={**details, **extra},
        ), check)
    c = correct(
        est,
        interval,
        ("twonn", discard_fraction, fit_by),
        lambda d: _raw_twonn(d, discard_fraction, fit_by),
        g.n_distinct,
        2,
        max_dim=g.ambient_dim,
        family=reference,
    )
    dim, interval, details = _clip(float(c.estimate), c.interval, g.ambient_dim)
    return _with_scale_check(DimensionEstimate(
        dimension=float(dim),
        interval=interval,
        method="twonn",
        raw=float(est),
        n_distinct=g.n_distinct,
        near_duplicates=near is not None,
        details={"correction_applied": c.applied, "correction_mc_se": c.mc_se, **details,
                 **extra},
    ), check)


def _scale_check(
    X: Any, neighbors: Neighbors | None, metric: str
) -> tuple[ScaleCheck | None, Any, DistinctGraph | None]:
    """GRIDE's curve on a graph of up to SCALE_CHECK_K distinct neighbours, the distinct rows
    and that graph (all None: too few columns or distinct rows for two scales)."""
    if neighbors is not None:
        if not isinstance(neighbors, Neighbors):
            return None, None, None  # the k=2 preamble raises the error that says what is wrong
        k = min(SCALE_CHECK_K, neighbors.k)
    else:
        try:
            k = min(SCALE_CHECK_K, len(X) - 1)
        except TypeError:  # not a table of points: the k=2 preamble says what is wrong
            return None, None, None
    if k < 4:
        return None, None, None
    try:
        U, g = distinct_graph(X, k, neighbors=neighbors, metric=metric, what="TwoNN scale check")
    except InputError:  # fewer distinct rows than k: the check is skipped, TwoNN is not
        return None, None, None
    return scale_dependence(g.neighbors.distances), U, g


def _with_scale_check(est: DimensionEstimate, check: ScaleCheck | None) -> DimensionEstimate:
    """The estimate with ``scale_dependent`` set and, when True, its interval widened to the
    scale range (and a warning)."""
    if check is None:
        return est
    details = {**est.details, "scale_check": check.as_dict()}
    if not check.dependent:
        return replace(est, scale_dependent=False, details=details)
    lo = min(est.interval[0], check.scale_range[0], est.dimension)
    hi = max(est.interval[1], check.scale_range[1], est.dimension)
    if "unclipped" in details:  # a cloud in R^D has dimension at most D
        hi = min(hi, est.dimension)
    warnings.warn(
        f"TwoNN: the dimension depends on the neighbourhood scale: {est.dimension:.3g} at the "
        f"smallest scale, GRIDE {check.curve[0]:.3g} at n1=1 falling to "
        f"{check.curve[int(np.flatnonzero(check.scale == check.stable_n1)[0])]:.3g} at "
        f"n1={check.stable_n1} ({check.reason}). Noise (or boundaries, or a very uneven density) "
        f"changes the value with the scale; the interval now spans the scales ({lo:.3g}, "
        f"{hi:.3g}). See "
        "method='gride' for the curve",
        RuntimeWarning,
        stacklevel=3,
    )
    return replace(est, interval=(float(lo), float(hi)), scale_dependent=True, details=details)
