"""The bias of the quadratic method's chosen fit, from its neighbours in the Lepski ladder.

Private helpers of :func:`manifold_probe.curvature.scalar_curvature`: the order of the bias
of a local polynomial fit and the Richardson step that estimates it (the bias-aware interval).
"""

from __future__ import annotations

import numpy as np

__all__ = ["bias_exponent", "bias_noise", "interval", "richardson"]


def bias_exponent(degree: int) -> int:
    r"""Order :math:`\beta` of the leading bias :math:`c\rho^\beta` of the fitted curvature.

    The curvature is read from the quadratic coefficients. Terms of the surface of odd degree
    are odd in :math:`u` and, on a neighbourhood symmetric about the base point, leave them
    unbiased; the first even degree not fitted aliases into them with a factor
    :math:`\rho^{\text{that degree} - 2}`: degree 4 for the quadratic and cubic fits
    (:math:`\beta = 2`), degree 6 for the quartic fit (:math:`\beta = 4`).
    """
    return 2 * (degree // 2)


def richardson(S: np.ndarray, se: np.ndarray, rho: np.ndarray, choice: np.ndarray,
                beta: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Bias of the chosen level and the standard deviation of the bias-corrected value.

    With bias :math:`c\rho^\beta`, two nested levels :math:`a \subset b` (the chosen one and
    the next smaller, or the next larger when the smallest is chosen) give
    :math:`S_b - S_a = c(\rho_b^\beta - \rho_a^\beta)`, so with
    :math:`q = (\rho_a/\rho_b)^\beta` the extrapolated value is
    :math:`R = (S_a - qS_b)/(1-q)` and the chosen level's bias :math:`S_{chosen} - R`. For
    nested least-squares fits :math:`\operatorname{Cov}(S_a, S_b) \approx \operatorname{Var}
    S_b`, so :math:`\operatorname{Var} R = \mathrm{se}_b^2 + (\mathrm{se}_a^2 -
    \mathrm{se}_b^2)/(1-q)^2`. Where the other level is not finite the bias is 0 and the
    chosen level's error is kept.
    """
    B, L = S.shape
    rows = np.arange(B)
    a = np.where(choice > 0, choice - 1, 0)
    b = np.where(choice > 0, choice, min(1, L - 1))
    Sa, Sb, sa, sb = S[rows, a], S[rows, b], se[rows, a], se[rows, b]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = (rho[rows, a] / rho[rows, b]) ** beta
        R = (Sa - q * Sb) / (1.0 - q)
        var = sb**2 + np.maximum(sa**2 - sb**2, 0.0) / (1.0 - q) ** 2
    ok = (a != b) & np.isfinite(R) & np.isfinite(var) & (q < 1.0)
    S_c, se_c = S[rows, choice], se[rows, choice]
    bias = np.where(ok, S_c - R, 0.0)
    sd = np.where(ok, np.sqrt(var), se_c)
    return bias, sd


def bias_noise(se: np.ndarray, rho: np.ndarray, choice: np.ndarray, beta: int) -> np.ndarray:
    r"""Standard deviation of the noise in :func:`richardson`'s bias estimate.

    The chosen level's bias is :math:`(S_b - S_a)/(1-q)` (chosen :math:`b`) or
    :math:`q(S_b - S_a)/(1-q)` (chosen :math:`a`, the smallest level), and for nested fits
    :math:`\operatorname{Var}(S_b - S_a) \approx \mathrm{se}_a^2 - \mathrm{se}_b^2`. 0 where
    :func:`richardson` sets no bias.
    """
    B, L = se.shape
    rows = np.arange(B)
    a = np.where(choice > 0, choice - 1, 0)
    b = np.where(choice > 0, choice, min(1, L - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        q = (rho[rows, a] / rho[rows, b]) ** beta
        gain = np.where(choice > 0, 1.0, q) / (1.0 - q)
        sd = np.sqrt(np.maximum(se[rows, a] ** 2 - se[rows, b] ** 2, 0.0)) * gain
    ok = (a != b) & np.isfinite(sd) & (q < 1.0)
    return np.where(ok, sd, 0.0)


def interval(S: np.ndarray, bias: np.ndarray, sd: np.ndarray, sd_bias: np.ndarray,
             z: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Bias-aware interval: the extrapolated value, its noise, and the resolved bias.

    .. math:: R \pm \bigl(z\,\mathrm{sd}_R + (|\hat b| - z\,\mathrm{sd}_{\hat b})_+\bigr),
              \qquad R = S - \hat b.

    :math:`R \pm z\,\mathrm{sd}_R` is the robust bias-corrected interval (Calonico, Cattaneo
    & Farrell 2018): the variance of the corrected value includes that of the bias estimate.
    The Richardson step removes only the leading order of the bias (and the noise-free fits'
    residual error understates their spread), so the correction is trusted to no better than
    its own size: the part of :math:`\hat b` that its noise cannot explain,
    :math:`(|\hat b| - z\,\mathrm{sd}_{\hat b})_+`, widens both sides. The noise of
    :math:`\hat b` enters once, through :math:`\mathrm{sd}_R`; counting it again as spread
    between :math:`S` and :math:`R` is what made 1% noise cover 99.9-100%. Since
    :math:`\mathrm{sd}_R \ge \mathrm{sd}_{\hat b}`, the half-width is at least
    :math:`|\hat b|`: the interval holds both :math:`S` and :math:`R`.

    References
    ----------
    Calonico, Cattaneo & Farrell (2018), "On the effect of bias estimation on coverage
    accuracy in nonparametric inference", J. Amer. Statist. Assoc. 113(522), 767-779.
    """
    R = S - bias
    half = z * sd + np.maximum(np.abs(bias) - z * sd_bias, 0.0)
    return R - half, R + half
