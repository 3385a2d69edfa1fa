"""TwoNN: intrinsic dimension from the ratio of the two nearest-neighbour distances."""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._validation import check_float, check_option
from manifold_probe.dimension._base import (
    DimensionEstimate,
    calibrate,
    distinct_graph,
    seed_int,
)
from manifold_probe.neighbors import Neighbors

__all__ = ["twonn"]

FITS = ("linear", "mle")


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


def twonn(
    X: Any = None,
    *,
    neighbors: Neighbors | None = None,
    discard_fraction: float = 0.1,
    fit_by: str = "linear",
    correct_bias: bool = True,
    reference: str = "ball",
    seed: int | None = 0,
    metric: str = "euclidean",
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

    **Finite-sample bias correction** (``correct_bias=True``, the default). At a finite number
    of points the ratio law is distorted by boundaries and by the curvature of the density at
    the scale :math:`r_2`, and the raw estimate falls below :math:`n` as :math:`n` grows (about
    half of it for a 70-dimensional cube at N = 2500). The correction replaces the raw value by
    :math:`f^{-1}(\hat n_{\mathrm{raw}})`, where :math:`f(m)` is the mean raw estimate on a
    uniform sample of the unit :math:`m`-ball (``reference="ball"``) or cube with the same
    number of distinct points, computed by seeded simulation and cached (see
    :func:`manifold_probe.dimension.calibrate`); the result is capped at the number of
    coordinates. ``raw`` in the result keeps the uncorrected value; the interval is mapped
    through the same monotone correction. No parameter is tuned per data set.

    **Duplicates.** Exact duplicate rows are collapsed before the ratios are taken (the
    estimate is computed on the distinct rows, so neither ``r1 = 0`` nor a duplicated pair of
    neighbours, which would give :math:`\mu = 1`, can bias it). Near-duplicates are kept: the
    graph's distances are exact in float64, so their ratios are finite.

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
    correct_bias : bool, default=True
        Apply the finite-sample correction described above.
    reference : {"ball", "cube"}, default="ball"
        Reference family of the correction.
    seed : int or None, default=0
        Seed of the reference simulations (``None`` means 0: results are reproducible).
    metric : {"euclidean", "cosine"}, default="euclidean"
        Metric of the graph when it is computed here.

    Returns
    -------
    DimensionEstimate
        ``dimension``, ``interval`` (95%), ``raw`` (uncorrected, when corrected), ``pointwise``
        None.

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
    >>> round(twonn(X, correct_bias=False).dimension)
    3
    """
    from scipy.special import gammaincinv

    discard_fraction = check_float(
        discard_fraction, name="discard_fraction", low=0.0, high=1.0, high_open=True
    )
    fit_by = check_option(fit_by, FITS, name="fit_by")
    reference = check_option(reference, ("ball", "cube"), name="reference")
    seed = seed_int(seed)
    _, g = distinct_graph(X, 2, neighbors=neighbors, metric=metric, what="TwoNN (k=2)")
    log_mu = _log_ratios(g.neighbors.distances)
    est, total = _twonn_from_log_mu(log_mu, discard_fraction, fit_by)
    n_keep = max(2, int(len(log_mu) * (1.0 - discard_fraction)))
    if total > 0:
        interval = (
            float(gammaincinv(n_keep, 0.025) / total),
            float(gammaincinv(n_keep, 0.975) / total),
        )
    else:
        interval = (np.inf, np.inf)
    raw = None
    if correct_bias:
        raw = est
        est, lo, hi = calibrate(
            [est, *interval],
            ("twonn", discard_fraction, fit_by),
            lambda d: _raw_twonn(d, discard_fraction, fit_by),
            g.n_distinct,
            2,
            max_dim=g.ambient_dim,
            family=reference,
            seed=seed,
        )
        interval = (lo, hi)
    return DimensionEstimate(
        dimension=float(est),
        interval=(float(interval[0]), float(interval[1])),
        method="twonn",
        raw=raw,
        n_distinct=g.n_distinct,
    )
