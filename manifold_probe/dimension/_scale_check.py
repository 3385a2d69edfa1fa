"""Does a dimension estimate depend on the neighbourhood scale? (noise diagnostic)"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ScaleCheck", "scale_dependence", "SCALE_CHECK_K"]

#: Largest neighbour rank of the check: GRIDE's default ``range_max`` (scales n1 = 1 .. 32).
# checked by `benchmarks/sweep_dimension_scale.py`, see docs/validation.md#twonn-scale-check
SCALE_CHECK_K = 64
#: A fall counts when it is also material: more than the +-10% within which an estimate is
#: counted as right in the Hein-Audibert comparison (README, benchmarks/bench_dimension.py).
# set by `benchmarks/bench_dimension.py`, see docs/validation.md#twonn-scale-check
MATERIAL_FALL = 0.10


@dataclass(frozen=True)
class ScaleCheck:
    """GRIDE's curve read as a diagnostic of a small-scale (TwoNN) estimate.

    Attributes
    ----------
    dependent : bool
        The curve falls significantly and materially from the smallest scale on (see
        :func:`scale_dependence`).
    scale : ndarray of float64, shape (n_scales,)
        Neighbour ranks n1 = 1, 2, 4, ... of the curve.
    curve, error : ndarray of float64, shape (n_scales,)
        GRIDE estimate and its standard error at each scale.
    stable_n1 : int
        First scale after the significant fall (the largest scale when it falls everywhere).
    scale_range : (float, float)
        Lowest and highest 95% bound of the curve from n1 = 1 to the end of the stable range.
    reason : str
    """

    dependent: bool
    scale: np.ndarray
    curve: np.ndarray
    error: np.ndarray
    stable_n1: int
    scale_range: tuple[float, float]
    reason: str

    def as_dict(self) -> dict:
        return {
            "dependent": self.dependent,
            "scale": self.scale.astype(int).tolist(),
            "curve": self.curve.tolist(),
            "error": self.error.tolist(),
            "stable_n1": self.stable_n1,
            "scale_range": self.scale_range,
            "reason": self.reason,
        }


def scale_dependence(distances: np.ndarray) -> ScaleCheck | None:
    r"""Whether the intrinsic dimension read at the smallest scale depends on the scale.

    GRIDE (Denti et al. 2022) estimates the dimension from :math:`r_{2n_1}/r_{n_1}` at
    :math:`n_1 = 1, 2, 4, \dots` (:math:`n_1 = 1` is TwoNN's maximum-likelihood estimate).
    Two consecutive scales disagree when their estimates differ by more than
    :math:`1.96\sqrt{\mathrm{se}_i^2 + \mathrm{se}_{i+1}^2}` (GRIDE's own stable-range rule,
    no constant of ours). Isotropic noise of size :math:`\sigma` in :math:`D` ambient
    dimensions makes the nearest neighbours look :math:`D`-dimensional, so the curve *falls*
    from :math:`n_1 = 1` until the neighbourhoods are larger than the noise. The estimate is
    called scale-dependent when the curve falls significantly between :math:`n_1 = 1` and
    :math:`n_1 = 2` (and then possibly further) and the fall, from :math:`n_1 = 1` to the first
    scale after it, exceeds 10% of the value there (``MATERIAL_FALL``: the ±10% within which
    an estimate counts as right in the Hein–Audibert comparison; smaller falls are within the
    estimator's own accuracy, e.g. a segment with a triangular density, 1.04 to 0.99): the
    small-scale value reads the noise, not the manifold. A rising curve (curvature and boundaries at large scales, flat tori) is not
    flagged. The check also fires on a clean sample whose density is so uneven that the
    small-scale value changes with the scale (the Hein–Audibert paraboloids); there too no
    single-scale interval describes the data.

    Parameters
    ----------
    distances : ndarray of shape (n_points, k)
        Ascending distances to the ``k`` nearest distinct neighbours (``k >= 4``).

    Returns
    -------
    ScaleCheck, or None when ``k < 4`` (fewer than two scales).

    References
    ----------
    Denti, Doimo, Laio & Mira (2022), "The generalized ratios intrinsic dimension estimator",
    Sci. Rep. 12:20005.
    """
    from manifold_probe.dimension._gride import gride_curve, gride_scales, stable_range

    d = np.asarray(distances, dtype=np.float64)
    k = d.shape[1]
    if k < 4:
        return None
    scales = gride_scales(k)
    curve, err = gride_curve(d, scales)
    first, last, why = stable_range(curve, err)
    if first < 0:
        return None
    falls = first > 0 or ("falls significantly at every scale" in why and len(scales) > 1)
    material = curve[0] - curve[first] > MATERIAL_FALL * curve[first]
    dependent = bool(falls and material)
    end = max(last, first)
    sel = np.arange(len(scales)) <= end
    ok = sel & np.isfinite(curve) & np.isfinite(err)
    lo = float(np.min(curve[ok] - 1.96 * err[ok]))
    hi = float(np.max(curve[ok] + 1.96 * err[ok]))
    return ScaleCheck(
        dependent=bool(dependent),
        scale=scales.astype(np.float64),
        curve=curve,
        error=err,
        stable_n1=int(scales[first]),
        scale_range=(max(lo, 0.0), hi),
        reason=why,
    )
