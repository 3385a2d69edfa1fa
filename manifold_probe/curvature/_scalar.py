"""Riemannian scalar curvature of a sampled submanifold, per point.

Longer than 500 lines: about half is the public docstring of :func:`scalar_curvature`, which
states the maths of both methods, the bias-aware interval and the fold of the tangent chart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from manifold_probe._device import torch_device
from manifold_probe._params import Param, Schema
from manifold_probe._validation import (
    InputError,
    check_distinct,
    check_n_jobs,
    check_points,
    check_seed,
    normalize_scale,
    rescale,
)
from manifold_probe.curvature._interval import bias_exponent, bias_noise, interval, richardson
from manifold_probe.curvature._quadratic import ladder_fit, n_coefficients, run_batches
from manifold_probe.curvature._tangent import estimate_dim, tangent_basis
from manifold_probe.neighbors import Neighbors, resolve_neighbors

__all__ = ["CURVATURE_PARAMS", "CurvatureEstimate", "scalar_curvature"]

METHODS = ("quadratic", "ball_volume")
_MAX_QUARTIC_COEFFICIENTS = 126  # C(5+4, 4): the quartic fit is used up to dimension 5
#: Working memory of one batch of quadratic fits (bytes; results do not depend on it, beyond
#: float rounding).
# set by `benchmarks/bench_curvature_batch.py`, see docs/validation.md#fit-batch-memory
BATCH_BYTES = 96 * 2**20
Z95 = 1.959963984540054  # two-sided 95% normal quantile
#: Lepski's threshold: a nested fit is kept while it agrees with every smaller one within
#: ``kappa`` standard errors of the smaller fit (the default of ``scalar_curvature(kappa=)``).
#: The intervals' coverage was measured at this value only; no other kappa was compared. The
#: form of the test (``kappa * se_i``, not the nested difference's own deviation) was compared
#: on 12 shapes x noise 0 and 1%, and kept because the other form worsens the noisy estimates.
# checked by `benchmarks/validate_curvature_intervals.py`, see docs/validation.md#curvature-intervals
# checked by `benchmarks/compare_curvature_lepski_rules.py`, see docs/validation.md#lepski-test-form
LEPSKI_KAPPA = 2.0
#: Growth of the nested neighbourhood sizes of the Lepski ladder. Measured at this value only,
#: within the estimator; no other ratio was compared.
# checked by `benchmarks/validate_curvature_intervals.py`, see docs/validation.md#curvature-intervals
LADDER_RATIO = 1.4


@dataclass(frozen=True)
class CurvatureEstimate:
    """Scalar curvature per point with its standard error.

    Attributes
    ----------
    curvature : ndarray of float64, shape (n_points,)
        Riemannian scalar curvature (S^n of radius r: n(n-1)/r^2; flat: 0).
    standard_error : ndarray of float64, shape (n_points,)
        Standard error of each value (from the regression, or the ball-volume fit).
    dim : int
        Intrinsic dimension used (given or estimated).
    method : str
        ``"quadratic"`` or ``"ball_volume"``.
    neighborhood_size : ndarray of int64, shape (n_points,)
        Number of neighbours in each point's chosen neighbourhood (``"quadratic"``), or of
        points within the largest ball radius used (``"ball_volume"``).
    degree : int or None
        Degree of the local polynomial (``"quadratic"``), None otherwise.
    interval : ndarray of float64, shape (n_points, 2), or None
        ``"quadratic"``: a 95% interval per point that includes the estimator's bias: the
        extrapolated value ``S - bias`` +- (1.96 of its standard errors + the part of
        ``|bias|`` beyond 1.96 standard errors of the bias estimate); it always holds ``S``
        (see :func:`scalar_curvature`). None for ``"ball_volume"``.
    bias : ndarray of float64, shape (n_points,), or None
        ``"quadratic"``: the estimated bias of each value (Richardson step of the chosen
        nested fit and its neighbour).
    n_folded : int
        ``"quadratic"``: points whose neighbour graph reached past the fold of the tangent
        chart (their fits stop before it).
    """

    curvature: np.ndarray
    standard_error: np.ndarray
    dim: int
    method: str
    neighborhood_size: np.ndarray
    degree: int | None = None
    interval: np.ndarray | None = None
    bias: np.ndarray | None = None
    n_folded: int = 0


def _default_k(n: int, degree: int, n_points: int) -> int:
    """Largest neighbourhood considered: room for several nested fits above the minimum."""
    p = n_coefficients(n, degree)
    return min(n_points - 1, max(300, 4 * p))


def _levels(p: int, k_top: int, ratio: float = LADDER_RATIO) -> np.ndarray:
    """Nested neighbourhood sizes from about 2p (well-posed fit) up to ``k_top``."""
    k0 = min(k_top, p + max(10, p // 2))
    out = [k0]
    while out[-1] < k_top:
        out.append(min(k_top, int(math.ceil(out[-1] * ratio))))
    return np.unique(np.array(out, dtype=np.int64))


def _lepski(S: np.ndarray, se: np.ndarray, kappa: float) -> np.ndarray:
    """Index of the largest level whose estimate agrees with every smaller level's.

    Level ``l`` is admissible when ``|S_l - S_i| <= kappa * se_i`` for all ``i < l``
    (Lepski's balancing principle: take the least variance that bias has not yet spoilt).
    The threshold is the smaller fit's own error, not that of the nested difference
    (``sqrt(se_i^2 - se_l^2)``, stricter): the stricter test picks smaller neighbourhoods,
    where the noise in the tangent coordinates attenuates the fit more (S^2(1.5) x S^1 with 1%
    noise: median -10.2% against -8.9%; docs/validation.md#lepski-test-form).
    """
    B, L = S.shape
    finite = np.isfinite(S) & np.isfinite(se)
    choice = np.zeros(B, dtype=np.int64)
    for lev in range(1, L):
        ok = finite[:, lev].copy()
        for i in range(lev):
            ok &= ~finite[:, i] | (np.abs(S[:, lev] - S[:, i]) <= kappa * se[:, i])
        choice[ok] = lev
    return choice


def _quadratic(
    A: np.ndarray,
    nb: Neighbors,
    n: int,
    degree: int,
    kappa: float,
    batch_size: int | None,
    n_jobs: int = 1,
    device=None,
) -> CurvatureEstimate:
    N, D = A.shape
    p = n_coefficients(n, degree)
    k_graph = nb.k
    # the outermost ambient-ball neighbours are biased by normal noise: fit inside discs of
    # the tangent plane that the graph's ball contains
    k_top = max(p + 1, int(0.75 * k_graph)) if k_graph > 2 * p else k_graph
    levels = _levels(p, k_top)
    if levels[-1] <= p:
        raise InputError(
            f"the degree-{degree} fit in dimension {n} has {p} coefficients per normal "
            f"coordinate; the neighbour graph has k={k_graph}. Use k >= {2 * p + 1} "
            "(more neighbours) or degree=2"
        )
    k_pca = int(levels[min(len(levels) - 1, 1)]) if len(levels) > 1 else int(levels[0])
    if batch_size is None:
        per_point = 8 * k_graph * (p + 2 * D + 4) + 8 * (p * (p + D) + n**4) * 4
        batch_size = int(max(1, min(2048, BATCH_BYTES // per_point)))
    S = np.empty(N)
    se = np.empty(N)
    bias = np.empty(N)
    sd_c = np.empty(N)
    sd_b = np.empty(N)
    one_level = np.zeros(N, dtype=bool)
    ksel = np.empty(N, dtype=np.int64)
    folded = np.zeros(N, dtype=bool)
    beta = bias_exponent(degree)

    def fit(s: int) -> None:
        e = min(N, s + batch_size)
        idx = nb.indices[s:e]
        Y = A[idx]  # (B, k, D), relative to the base points (in place: one allocation)
        Y -= A[s:e, None, :]
        T = tangent_basis(Y[:, :k_pca], n, device)
        Sl, sel, rho = ladder_fit(Y, T, levels, degree, fold_from=int(levels[0]), device=device)
        folded[s:e] = ~np.isfinite(Sl[:, -1])
        choice = _lepski(Sl, sel, kappa)
        rows = np.arange(e - s)
        S[s:e] = Sl[rows, choice]
        se[s:e] = sel[rows, choice]
        ksel[s:e] = levels[choice]
        bias[s:e], sd_c[s:e] = richardson(Sl, sel, rho, choice, beta)
        sd_b[s:e] = bias_noise(sel, rho, choice, beta)
        one_level[s:e] = np.isfinite(Sl).sum(axis=1) < 2

    run_batches(fit, range(0, N, batch_size), n_jobs)
    lo, hi = interval(S, bias, sd_c, sd_b, Z95)
    if one_level.any():  # no second level before the fold: no bias estimate at all
        import warnings

        warnings.warn(
            f"scalar curvature: at {int(one_level.sum())} of {N} points only the smallest "
            f"neighbourhood ({int(levels[0])} neighbours) lies before the fold of the tangent "
            "chart or is well posed, so the bias cannot be estimated and the interval is the "
            "regression error alone; at this sample size the estimate is known to collapse "
            "(S^2 from 30-80 points reads -1.3 to 0.5 for 2). Pass more points",
            RuntimeWarning,
            stacklevel=3,
        )
    return CurvatureEstimate(
        curvature=S,
        standard_error=se,
        dim=n,
        method="quadratic",
        neighborhood_size=ksel,
        degree=degree,
        interval=np.column_stack([lo, hi]),
        bias=bias,
        n_folded=int(folded.sum()),
    )


def _scaled_graph(nb: Neighbors | None, e: int) -> Neighbors | None:
    """A Euclidean graph's distances in the units of the points rescaled by ``2**-e``."""
    if nb is None or e == 0 or nb.metric != "euclidean":
        return nb
    return Neighbors(np.ldexp(nb.distances, -e), nb.indices, nb.metric)


def _ball_volume(X, dim, k, neighbors, distances, return_se, options, device=None):
    from manifold_probe.curvature._ball_volume import (
        ball_volume_curvature,
        check_distance_matrix,
    )

    # the estimate is in units**-2: compute at magnitude ~1, rescale exactly at the end
    e = 0
    if X is not None:
        A = check_points(X, min_points=3, what="scalar_curvature")
        check_distinct(A, 3, what="scalar_curvature")
        if dim is not None and dim > A.shape[1]:
            raise InputError(
                f"dim={dim} exceeds the ambient dimension {A.shape[1]} of X; an intrinsic "
                "dimension is at most the number of coordinates"
            )
        # translation-invariant: centred first, so a cloud far from the origin (+1e7) is
        # rescaled by its own extent, not the offset's
        B, e0 = normalize_scale(A)  # scaled first: a mean of x1e300 values would overflow
        X, e = normalize_scale(B - B.mean(axis=0))
        e += e0
        neighbors = _scaled_graph(neighbors, e)
    if distances is not None:
        Dm = check_distance_matrix(distances)
        if X is None:
            finite = Dm[np.isfinite(Dm)]
            e = int(np.frexp(finite.max())[1]) if finite.size and finite.max() > 0 else 0
        distances = np.ldexp(Dm, -e) if e else Dm
    nb = neighbors
    if dim is None:
        if X is None:
            raise InputError(
                "with distances= alone the dimension cannot be estimated; pass dim="
            )
        A = check_points(X, min_points=3, what="scalar_curvature")
        k_graph = max(50 if k is None else k, options.get("density_k", 10))
        A, nb = resolve_neighbors(
            A, min(k_graph, A.shape[0] - 1), neighbors=neighbors, what="scalar_curvature"
        )
        dim = estimate_dim(A, nb)
        X = A
    S, se, size, _ = ball_volume_curvature(
        X, dim=dim, k=k, neighbors=nb, distances=distances, device=device, **options
    )
    S = rescale(S, e, what="the scalar curvature", unit_power=-2)
    se = rescale(se, e, what="the scalar curvature", unit_power=-2)
    est = CurvatureEstimate(
        curvature=S, standard_error=se, dim=int(dim), method="ball_volume",
        neighborhood_size=size, degree=None,
    )
    return est if return_se else est.curvature


#: The settings of :func:`scalar_curvature` (one home for their defaults and bounds, see
#: :mod:`manifold_probe._params`); the layer profile exposes ``method`` and ``dim``. ``k``
#: (its default and bound depend on the method and the cloud), ``n_jobs`` (scikit-learn's
#: convention, -1 for every CPU) and ``device`` are checked where they are resolved.
CURVATURE_PARAMS = Schema(
    "scalar_curvature",
    Param("method", str, "quadratic", "second fundamental form from local quadratic fits, or "
          "the volume of small geodesic balls", choices=METHODS),
    Param("dim", int, None, "intrinsic dimension of the fit (None: estimated)", ge=1,
          nullable=True),
    Param("degree", int, "auto", 'polynomial degree of the quadratic method ("auto": 4 up to '
          "126 coefficients, else 2)", ge=2, le=4, also=("auto",)),
    Param("kappa", float, LEPSKI_KAPPA, "agreement threshold, in standard errors, of the "
          "neighbourhood choice", gt=0.0),
    Param("batch_size", int, None, "points fitted together (None: from the memory budget)",
          ge=1, nullable=True),
    Param("return_se", bool, False, "return a CurvatureEstimate instead of the bare array"),
)


def scalar_curvature(
    X: Any = None,
    dim: int | None = None,
    k: int | None = None,
    method: str = "quadratic",
    *,
    neighbors: Neighbors | None = None,
    distances: Any = None,
    return_se: bool = False,
    seed: Any = None,
    degree: int | str = "auto",
    kappa: float = LEPSKI_KAPPA,
    batch_size: int | None = None,
    n_jobs: int | None = None,
    device: Any = None,
    **ball_options: Any,
) -> np.ndarray | CurvatureEstimate:
    r"""Riemannian scalar curvature of a sampled manifold at every point.

    Conventions: the scalar curvature is the full trace of the Riemann tensor,
    :math:`S = g^{ik} g^{jl} R_{ijkl}`, so the sphere :math:`S^n` of radius :math:`r` has
    :math:`S = n(n-1)/r^2`, flat space :math:`0`, and hyperbolic space of sectional curvature
    :math:`-1/r^2` has :math:`-n(n-1)/r^2`. A surface has :math:`S = 2K` (twice its Gaussian
    curvature). Units: inverse squared units of ``X``.

    ``method="quadratic"`` (default; Sritharan, Wang & Hormoz 2021). At each point :math:`p`
    the tangent space comes from local PCA; every normal coordinate :math:`v_\alpha` is
    regressed on the tangent coordinates :math:`u` by a polynomial of degree 4 (degree 2 when
    :math:`n > 5`),

    .. math:: v_\alpha(u) \approx c_\alpha + b_\alpha\cdot u + \tfrac12 u^\top H_\alpha u
              + \text{cubic} + \text{quartic},

    and the Gauss equation gives :math:`S = \sum_\alpha (\operatorname{tr} H_\alpha)^2
    - \lVert H_\alpha \rVert_F^2` (with the metric :math:`g = I + b^\top b` and the projection
    of :math:`H` off the fitted tangent plane when the PCA plane is tilted). Three corrections
    make it accurate where the fixed-k quadratic fit is not:

    - *higher-order bias*: the quadratic fit absorbs the quartic terms of the surface into
      :math:`H` (relative bias :math:`\approx \rho^2/(2r^2)` on a sphere); fitting the cubic
      and quartic terms too leaves :math:`O(\rho^4)`;
    - *noise bias*: writing :math:`S = \sum_\alpha h_\alpha^\top Q h_\alpha` in the
      quadratic coefficients :math:`h_\alpha`, noise adds
      :math:`\operatorname{tr}\Sigma\,\operatorname{tr}(QM)` on average (:math:`M = (A^\top
      A)^{-1}` of the design, :math:`\Sigma` the residual covariance); this is subtracted;
    - *neighbourhood size*: each point is fitted on nested discs of its tangent plane (sizes
      growing by 1.4 from about twice the number of coefficients up to 3/4 of ``k``; the
      discs ignore the normal noise that biases ambient balls), and the largest disc whose
      estimate agrees with all smaller ones within ``kappa`` standard errors is kept
      (Lepski's balancing of bias and variance, decided by the data at each point).

    The standard error is the delta-method error of the fit plus the second-order noise term.
    It ignores the bias left by the terms the polynomial does not fit, which on clean data is
    the whole error (S^3 of radius 2 from 4000 points: median 1.4937 against 1.5 with median
    standard error 0.0007, so ``curvature`` :math:`\pm 1.96` SE covered no point). The
    ``interval`` of ``return_se=True`` includes it. The bias of a degree-:math:`d` fit grows as
    :math:`c\rho^\beta` (:math:`\beta = 4` for the quartic fit, 2 for the quadratic and
    cubic ones: the first even degree not fitted, less two), so the chosen level and its
    neighbour in the Lepski ladder (radii :math:`\rho_a < \rho_b`,
    :math:`q = (\rho_a/\rho_b)^\beta`) give the Richardson extrapolation
    :math:`R = (S_a - qS_b)/(1-q)`, the estimated ``bias`` :math:`S - R`, and
    :math:`\operatorname{Var} R = \mathrm{se}_b^2 + (\mathrm{se}_a^2 - \mathrm{se}_b^2)/(1-q)^2`
    (nested least squares: :math:`\operatorname{Cov}(S_a, S_b) \approx \operatorname{Var}
    S_b`). The interval is the extrapolated value with its own error, widened by the part of
    the estimated bias that its noise cannot explain,

    .. math:: R \pm \bigl(1.96\sqrt{\operatorname{Var} R} + (|S - R| - 1.96\,
              \mathrm{sd}_{S-R})_+\bigr), \qquad \mathrm{sd}_{S-R} =
              \sqrt{\mathrm{se}_a^2 - \mathrm{se}_b^2}\,/(1-q)

    (with the factor :math:`q` when the smallest level is chosen). :math:`R \pm
    1.96\sqrt{\operatorname{Var} R}` is the robust bias-corrected interval of Calonico,
    Cattaneo & Farrell (2018); the Richardson step removes only the leading order of the
    bias, so the correction is trusted to no better than its resolved size. The interval
    always holds :math:`S` (:math:`\operatorname{Var} R \ge \mathrm{sd}_{S-R}^2`).
    Coverage of the true curvature over points: ``benchmarks/validate_curvature_intervals.py``,
    target 90-97% (``docs/validation.md#curvature-intervals``). Under noise the per-point
    Lepski test cannot see a bias smaller than the noise, so where the largest neighbourhoods
    reach a curvature radius the fits go there: with 1% noise the ellipsoid (1, 1.5, 2) from
    2000 points reads -21% (coverage 87%), S^2(1) x S^1(2) from 3000 points -96% (85%)
    (``docs/validation.md#lepski-test-form``). A smaller neighbour graph bounds the ladder:
    ``k=100`` reads -4.5% (coverage 98%) and -24% (97%) there, but +8% on the pseudosphere
    with 1% noise, so it is not the default. Stopping each point's ladder where
    :math:`\rho\,|\kappa|_{\max}` of its fit passes 1/2 covers both (99-100%; the
    product -17%, the ellipsoid still -14 to -23%) but stops noisy ladders at their smallest
    fit (flat T^2 with 1% noise -15%) and leaves one level on sparse shapes (S^4 from 3000
    points noise-free: coverage 0%), so it was not adopted either (``docs/validation.md#curvature-radius-stop``).
    Below about 100 points on
    S^2 only the smallest fit lies before the fold, no bias can be estimated and a
    ``RuntimeWarning`` says that the estimate is known to collapse.

    *The fold of the tangent chart.* The fit needs neighbours that form a graph over the
    tangent plane. When the neighbour graph reaches past that region (a compact manifold
    sampled sparsely for ``k``: the default 299 neighbours of 300 points on S^2 are the whole
    sphere), the far side projects into the middle of the tangent discs and the fit collapses
    (S^2 from 300 points read 0.141 for 2). A neighbour whose normal offset exceeds its own
    tangent offset and every tangent offset in the graph (:math:`|v_j| > |u_j|` and
    :math:`|v_j| > \max_i |u_i|`; on a sphere, past the equator; normal noise smaller than the
    neighbourhood, which the fit assumes anyway, reaches neither) marks the fold: from the
    first such neighbour (at ambient rank beyond the smallest fit) on, the neighbours are left
    out and the larger levels are not fitted, with a ``RuntimeWarning`` (``n_folded`` counts
    the points; S^2 from 300 points now reads 1.965). The smallest level is always fitted, so a sample too sparse for even that
    (a few dozen points on S^2) is not rescued.

    ``method="ball_volume"`` (Hickok & Blumberg 2023): an intrinsic second estimate from how
    the volume of geodesic balls grows,

    .. math:: \frac{\operatorname{vol} B(x,\rho)}{\omega_n \rho^n}
              = 1 - \frac{S(x)}{6(n+2)}\rho^2 + O(\rho^4),

    with volumes from density-weighted counts of points (leave-one-out kNN density, the centre
    not counted) at 12 radii up to the median radius of a ball holding ``ball_fraction`` of the
    sample, fitted as :math:`a - b\rho^2` with a free intercept: :math:`\hat S = 6(n+2)b/a`.
    Distances are ``mp.geodesic_distances(X, k)`` (default ``k=20``) or the given
    ``distances`` matrix. It is much noisier per point than the quadratic method and needs
    balls of a tenth of the sample, so balls cut by the edge of a sampled region read as
    positive curvature. Measured in ``docs/validation.md#ball-volume``.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features), optional
        The points. Needed for ``"quadratic"``; for ``"ball_volume"`` either ``X`` or
        ``distances``.
    dim : int, optional
        Intrinsic dimension :math:`n`. ``None`` estimates it by local PCA of 25-neighbourhoods
        (largest eigengap, median over points) on the same neighbour graph; pass it when
        known.
    k : int, optional
        ``"quadratic"``: size of the neighbour graph, the largest neighbourhood considered
        (default ``max(300, 4p)`` capped at ``n_points - 1``, :math:`p` the number of
        polynomial coefficients). ``"ball_volume"``: neighbours of the geodesic graph
        (default 20).
    method : {"quadratic", "ball_volume"}, default="quadratic"
    neighbors : Neighbors, optional
        A precomputed ``mp.knn(X, k)`` graph; no other graph is computed.
    distances : array-like of shape (n_points, n_points), optional
        ``"ball_volume"`` only: precomputed geodesic distances (e.g. exact ones).
    return_se : bool, default=False
        Return a :class:`CurvatureEstimate` (values, standard errors, bias-aware intervals,
        neighbourhood sizes) instead of the bare array.
    seed : None, int or numpy.random.Generator
        Accepted for API uniformity; both methods are deterministic.
    degree : {"auto", 2, 3, 4}, default="auto"
        Polynomial degree of the quadratic method; ``"auto"`` is 4 when it has at most 126
        coefficients (:math:`n \le 5`), else 2.
    kappa : float, default=2.0
        Agreement threshold, in standard errors, of the neighbourhood choice.
    batch_size : int, optional
        Points fitted together (memory bound); results do not depend on it beyond float
        rounding (torch's batched products round a point's sums differently in batches of
        other sizes: relative differences of order 1e-16 in the standard errors).
    n_jobs : int, optional
        ``"quadratic"`` only: threads fitting batches of points at once, each with one BLAS
        thread (``None``: 1, the batches in turn with the BLAS threads as they are; ``-1``: one
        per CPU). The batches are independent, so the result is the same, bit for bit, at any
        count.
    device : str or torch.device, optional
        ``"quadratic"``: where the batched local PCA (eigendecompositions), the normal
        equations' products and their inverses run, in float64; the rest is numpy on the CPU.
        ``"ball_volume"``: where the weighted ball volumes are summed (the graph geodesics
        stay on the CPU; on the CPU the numpy path runs).
        Default: CUDA when present, else the CPU (the package's ``device=None``). A GPU
        changes a result only by float64 round-off (the same operations, summed in another
        order: relative differences of order 1e-10 on S², checked in
        ``tests/test_cuda_measures.py``).
    **ball_options
        ``"ball_volume"`` only: ``ball_fraction`` (default 0.1, share of the sample in the
        largest ball), ``n_radii`` (default 12), ``density_k`` (default 10, neighbour used for
        the density weights).

    Returns
    -------
    ndarray of float64, shape (n_points,), or CurvatureEstimate when ``return_se``.

    Raises
    ------
    InputError
        Bad points, fewer distinct points than the fit needs (e.g. all rows identical),
        unknown method or degree, ``dim`` not below (quadratic) or above (ball volume) the
        ambient dimension, ``k`` too small for the fit or too large for the sample, a
        malformed distance matrix, or a result whose magnitude in the units of ``X`` lies
        beyond float64 (curvature of points of order 1e±160 and beyond).

    Warns
    -----
    RuntimeWarning
        ``"quadratic"``: neighbour graphs that reach past the fold of the tangent chart (see
        above; ``n_folded`` counts the points); points where only the smallest fit lies
        before the fold (no bias estimate: the estimate is known to collapse).
        Points whose value cannot be estimated get NaN, with this warning saying how many:
        ``"ball_volume"``, points whose balls hold no other point; ``"quadratic"``, points
        where every nested fit is degenerate. These are the only NaN.
    CostWarning
        ``"ball_volume"`` without ``distances``: the all-pairs geodesics are estimated to take
        minutes or more.

    Notes
    -----
    Contract: every value is finite, except the NaN announced by a ``RuntimeWarning``. The
    points are rescaled by an exact power of two before the fit and the result rescaled back
    exactly (units of ``X``\ :sup:`-2`).

    Assumptions: a smooth embedded manifold of dimension :math:`n` without boundary near the
    point (points on a boundary get one-sided fits), sampled densely enough that a few
    hundred neighbours lie within a fraction of the curvature radius, with noise much smaller
    than that radius. With ``degree=4`` the remaining bias on :math:`S^n` is a few percent
    where the chosen discs reach :math:`\rho \approx 0.7 r` (e.g. :math:`S^5` from 10,000
    points). Sign and magnitude are meaningful per point only within the standard error;
    summaries (median over a region) are far more precise.

    References
    ----------
    Sritharan, Wang & Hormoz (2021), "Computing the Riemannian curvature of image patch and
    single-cell RNA sequencing data manifolds using extrinsic differential geometry", PNAS 118,
    e2100473118 (Gauss equation, their eq. 4; scalar curvature as its trace).
    Lepski (1991), "Asymptotically minimax adaptive estimation I", Theory Probab. Appl. 36.
    Calonico, Cattaneo & Farrell (2018), "On the effect of bias estimation on coverage
    accuracy in nonparametric inference", J. Amer. Statist. Assoc. 113(522), 767-779.
    Hickok & Blumberg (2023), "An intrinsic approach to scalar-curvature estimation for point
    clouds", arXiv:2308.02615.

    Examples
    --------
    >>> import numpy as np, manifold_probe as mp
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((2000, 3))
    >>> X = 2.0 * X / np.linalg.norm(X, axis=1, keepdims=True)   # sphere of radius 2
    >>> S = mp.scalar_curvature(X, dim=2)                         # truth 2 / 2**2 = 0.5
    >>> bool(abs(np.median(S) - 0.5) < 0.025)
    True
    """
    method, dim, kappa, return_se, batch_size = CURVATURE_PARAMS.check(
        method=method, dim=dim, kappa=kappa, return_se=return_se, batch_size=batch_size
    ).values()
    check_seed(seed)  # accepted for uniformity; both methods are deterministic
    n_jobs = check_n_jobs(n_jobs)  # checked before any work
    fit_device = torch_device(device)
    unknown = set(ball_options) - {"ball_fraction", "n_radii", "density_k"}
    if unknown or (ball_options and method != "ball_volume"):
        raise InputError(
            f"unexpected keyword argument(s) {sorted(ball_options)}; ball_fraction, n_radii and "
            "density_k apply to method='ball_volume' only"
        )
    if method == "ball_volume":
        return _ball_volume(X, dim, k, neighbors, distances, return_se, ball_options,
                            fit_device)

    if distances is not None:
        raise InputError(
            "distances= is used by method='ball_volume' only; the quadratic method needs the "
            "coordinates X"
        )
    if X is None:
        raise InputError(
            "method='quadratic' needs the coordinates X (a neighbour graph alone has no "
            "tangent planes); pass X, optionally with neighbors=mp.knn(X, k)"
        )
    A = check_points(X, min_points=3, what="scalar_curvature")
    n_distinct = check_distinct(A, 3, what="scalar_curvature")
    # the curvature is in units**-2: fit at magnitude ~1, rescale exactly at the end (squared
    # coordinates of points near 1e±200 would overflow or underflow)
    A, e = normalize_scale(A)
    N, D = A.shape
    if dim is not None and dim >= D:
        raise InputError(
            f"dim={dim} must be below the ambient dimension {D}: a manifold of full "
            "dimension has no normal directions, so its curvature is not seen extrinsically"
        )
    # checked here, as before: method="ball_volume" never reads degree
    degree = CURVATURE_PARAMS["degree"].check(degree)

    def choose_degree(n: int) -> int:
        if degree != "auto":
            return int(degree)
        return 4 if n_coefficients(n, 4) <= _MAX_QUARTIC_COEFFICIENTS else 2

    A, nb, n = _graph_and_dim(A, dim, k, neighbors, choose_degree)
    deg = choose_degree(n)
    p = n_coefficients(n, deg)
    if n_distinct <= p + 1:
        raise InputError(
            f"scalar_curvature needs more than {p + 1} distinct points for a degree-{deg} fit "
            f"in dimension {n}; X has {n_distinct} distinct rows. Pass more distinct points "
            "or degree=2"
        )
    est = _quadratic(A, nb, n, deg, kappa, batch_size, n_jobs, fit_device)
    if est.n_folded:
        import warnings

        warnings.warn(
            f"scalar curvature: at {est.n_folded} of {N} points the neighbour graph (k={nb.k}) "
            "reaches past the fold of the tangent chart (neighbours whose normal offset exceeds "
            "every tangent offset: the far side of a sparsely sampled closed manifold, or data "
            f"that are not a {n}-manifold at this scale); their fits stop before the fold "
            "(smaller neighbourhoods, wider intervals). Pass a smaller k or more points",
            RuntimeWarning,
            stacklevel=2,
        )
    est = _flag_and_rescale(est, e)
    return est if return_se else est.curvature


def _graph_and_dim(A, dim, k, neighbors, choose_degree):
    """The neighbour graph and the fit dimension: ``dim``, or estimated by local PCA."""
    N, D = A.shape
    if dim is None:
        if k is not None:
            k_graph = k
        else:
            k_graph = neighbors.k if neighbors is not None else min(N - 1, 300)
        A, nb = resolve_neighbors(A, k_graph, neighbors=neighbors, what="scalar_curvature")
        n = estimate_dim(A, nb)
        if n >= D:
            raise InputError(
                f"the estimated intrinsic dimension {n} is not below the ambient dimension "
                f"{D}; the data look full-dimensional here. Pass dim= explicitly"
            )
    else:
        n = dim
        if k is None:
            k_graph = _default_k(n, choose_degree(n), N)
            if neighbors is not None:
                k_graph = min(k_graph, neighbors.k)
        else:
            k_graph = k
        A, nb = resolve_neighbors(A, k_graph, neighbors=neighbors, what="scalar_curvature")
    return A, nb, n


def _flag_and_rescale(est: CurvatureEstimate, e: int) -> CurvatureEstimate:
    """NaN (with one warning) where every nested fit is degenerate; units back by ``2**-2e``."""
    N = len(est.curvature)
    bad = ~np.isfinite(est.curvature)
    if bad.any():  # every nested fit degenerate at these points: say so, never silently
        import warnings

        nan = np.where(bad, np.nan, 0.0)
        est = replace(est, curvature=est.curvature + nan, standard_error=est.standard_error + nan)
        warnings.warn(
            f"scalar curvature is NaN at {int(bad.sum())} of {N} points where every local fit "
            "is degenerate (neighbours on a lower-dimensional set); pass dim= or a larger k",
            RuntimeWarning,
            stacklevel=3,
        )
    def back(a):
        return None if a is None else rescale(a, e, what="the scalar curvature", unit_power=-2)

    est = replace(
        est,
        curvature=back(est.curvature),
        standard_error=back(est.standard_error),
        interval=back(est.interval),
        bias=back(est.bias),
    )
    return est
