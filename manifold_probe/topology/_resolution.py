r"""The resolution report of the significant Betti numbers: the interleaving band of the
sparse filtration, the critical ratio a feature needs, the smallest feature the sample
resolves, and the flag (and warning) when an answer lies near it."""

from __future__ import annotations

import numpy as np

from manifold_probe.topology._components import MIN_COMPONENT, MIN_COMPONENT_POINTS, h0_pvalues

__all__ = ["BettiNumbers", "ResolutionWarning", "resolution_report", "warn_near_resolution",
           "h0_critical_ratio", "SPARSE_EPS", "INTERLEAVING", "NEAR_FACTOR"]

# Approximation factor of the sparse Rips filtration. A choice, not measured: no benchmark
# compares values of eps (docs/validation.md#constants-not-yet-measured).
SPARSE_EPS = 0.5
# From SPARSE_EPS by theory (the sparse filtration is (1 + eps)-interleaved with the Rips
# filtration of the net): a sparse Rips bar with d/b <= 1 + eps may be diagonal noise.
INTERLEAVING = 1 + SPARSE_EPS
# An answer is "near resolution" when a bar's ratio lies within this factor of the critical
# ratio: the sparse filtration moves each ratio by up to 1 + eps, so such a bar could fall on
# the other side of the cut in the exact Rips filtration of the same net.
NEAR_FACTOR = INTERLEAVING


class ResolutionWarning(UserWarning):
    """A Betti number is near the smallest feature the sample resolves (see
    :func:`betti_numbers`, Resolution): another sample or seed may read it differently."""


class BettiNumbers(tuple):
    r"""The significant Betti numbers (a tuple of int, compared and printed as one) with the
    resolution report of :func:`betti_numbers` as attributes.

    Attributes
    ----------
    resolution : tuple of float, length maxdim + 1
        Per dimension, the smallest feature the test can count in this sample, relative to
        the cloud's scale (median pairwise landmark distance): for :math:`H_k, k \ge 1` the
        death (edge length) a class born at the net's typical birth needs, for :math:`H_0`
        the gap a component of the smallest tested size needs.
    critical_ratio : tuple of float
        The same as a death/birth (H0: merge/birth) ratio.
    near_resolution : tuple of bool
        Per dimension, a bar within the interleaving factor :math:`1+\epsilon` of the critical
        ratio: the answer there is below resolution (a ``ResolutionWarning`` is issued).
    below_resolution : bool
        ``any(near_resolution)``.
    """

    def __new__(cls, betti=(), resolution=(), critical_ratio=(), near_resolution=()):
        obj = super().__new__(cls, (int(b) for b in betti))
        obj.resolution = tuple(float(r) for r in resolution)
        obj.critical_ratio = tuple(float(r) for r in critical_ratio)
        obj.near_resolution = tuple(bool(x) for x in near_resolution)
        return obj

    def __getnewargs__(self):
        return (tuple(self), self.resolution, self.critical_ratio, self.near_resolution)

    @property
    def below_resolution(self) -> bool:
        return any(self.near_resolution)



def h0_critical_ratio(size: float, n_candidates: int, alpha: float) -> float:
    """Smallest merge ratio d/b at which a component of ``size`` landmarks counts
    (:func:`h0_pvalues`, Bonferroni over ``n_candidates``)."""
    grid = 1.0 + np.geomspace(1e-3, 1e3, 2000)
    p = h0_pvalues(1.0, grid, size) * max(n_candidates, 1)
    hit = np.flatnonzero(p < alpha)
    return float(grid[hit[0]]) if len(hit) else float("inf")


def resolution_report(tested, pvals, crit, alpha, band, n_points, scale):
    """Per dimension, the smallest feature the test can count at this sample (relative to
    ``scale``) and whether the answer is near it (see :func:`betti_numbers`, Resolution)."""
    resolution, near = [], []
    for k, (t, p, c) in enumerate(zip(tested, pvals, crit, strict=True)):
        if k == 0:
            min_size = max(MIN_COMPONENT_POINTS, MIN_COMPONENT * n_points)
            cand = t[t[:, 2] >= min_size] if len(t) else t
            b_ref = float(np.median(cand[:, 0])) if len(cand) else float("nan")
            n_cand = max(len(cand), 1)
            ratios = cand[:, 1] / cand[:, 0] if len(cand) else np.zeros(0)
            per = np.array([h0_critical_ratio(s, n_cand, alpha) for s in cand[:, 2]]) if len(
                cand) else np.zeros(0)
            close = np.any((ratios > per / NEAR_FACTOR) & (ratios < per * NEAR_FACTOR))
        else:
            b_ref = float(np.median(t[:, 0])) if len(t) else float("nan")
            r = t[:, 1] / t[:, 0] if len(t) else np.zeros(0)
            counted = p < alpha
            close = np.any(counted & (r < c * NEAR_FACTOR)) or np.any(
                ~counted & (r > max(band, c / NEAR_FACTOR)))
        size = c * b_ref / scale if scale > 0 and np.isfinite(c) else float("nan")
        resolution.append(float(size))
        near.append(bool(close))
    return tuple(resolution), tuple(near)



def warn_near_resolution(f, what: str) -> None:
    """Issue a :class:`ResolutionWarning` naming the dimensions read near resolution."""
    dims = [k for k, x in enumerate(f.near) if x]
    if not dims:
        return
    import warnings

    detail = ", ".join(f"H{k}: {f.betti[k]} (features need death/birth >= "
                       f"{f.critical_ratio[k]:.3g}, about {f.resolution[k]:.3g} of the cloud's "
                       "scale)" for k in dims)
    warnings.warn(
        f"{what}: {detail}; a bar lies within the sparse filtration's factor "
        f"{INTERLEAVING:g} of that cut, so this answer is below resolution (more points, "
        "less noise, or n_landmarks may resolve it)", ResolutionWarning, stacklevel=3)

