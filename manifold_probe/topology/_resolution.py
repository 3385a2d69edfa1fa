r"""The resolution report of the significant Betti numbers (homology over Z/2): the
interleaving band of the sparse filtration, the critical ratio a feature needs, the smallest
feature the sample resolves, and the flag (and warning) when an answer could differ in the
exact Rips filtration of the same net."""

from __future__ import annotations

import numpy as np

from manifold_probe.topology._components import MIN_COMPONENT, MIN_COMPONENT_POINTS, h0_pvalues
from manifold_probe.topology._noise_law import FEW_BARS_RATIO, MIN_BELOW

__all__ = ["BettiNumbers", "ResolutionWarning", "resolution_report", "warn_near_resolution",
           "h0_critical_ratio", "rips_ratio_bounds", "exact_range", "SPARSE_EPS", "INTERLEAVING",
           "NSW_DENSITY"]

# Approximation factor of the sparse Rips filtration. A choice, not measured: no benchmark
# compares values of eps (docs/validation.md#constants-not-yet-measured).
SPARSE_EPS = 0.5
# From SPARSE_EPS by theory (the sparse filtration is (1 + eps)-interleaved with the Rips
# filtration of the net): a sparse Rips bar with d/b <= 1 + eps may be diagonal noise.
INTERLEAVING = 1 + SPARSE_EPS

# From theory (Niyogi, Smale & Weinberger 2008, Prop. 7.1): the union of balls of radius r
# around a (r/2)-dense sample of a manifold of reach tau deformation retracts onto it when
# r < sqrt(3/5) tau, so a net of covering radius delta recovers the homology of shapes whose
# reach exceeds delta / NSW_DENSITY (= 2.58 delta). The density condition of the validation
# (docs/validation.md#resolution-and-its-limits), not a tuned value.
NSW_DENSITY = float(np.sqrt(3.0 / 5.0) / 2.0)


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
        Per dimension, a bar that could fall on the other side of the test's cut in the exact
        Rips filtration of the same net (:func:`rips_ratio_bounds`) in at least two of the
        three landmark nets (only then could their median change), or the nets disagree
        (``net_agreement`` < 1): the answer there is below resolution (a
        ``ResolutionWarning`` is issued). For :math:`H_0` (exact on each net) only the latter.
    below_resolution : bool
        ``any(near_resolution)``.
    min_feature_radius : tuple of float
        Per dimension, the density condition in the data's units: the covering radius of the
        net the dimension was read on (over the distinct points; when the net is every point,
        its last insertion radius, the sample's own spacing) divided by ``NSW_DENSITY`` (:math:`\sqrt{3/5}/2`;
        Niyogi, Smale & Weinberger 2008). A shape whose features (and reach) are at least this
        large is sampled densely enough for its homology to be recoverable from the net; below
        it, a missing feature is below resolution and nothing in the bars can say so.
    net_agreement : tuple of float
        Per dimension, the share of the landmark nets (three, grown from points fixed by the
        cloud) that read the reported number; below 1 the dimension is near resolution (the
        answer depends on the landmark set).
    """

    def __new__(cls, betti=(), resolution=(), critical_ratio=(), near_resolution=(),
                min_feature_radius=(), net_agreement=()):
        obj = super().__new__(cls, (int(b) for b in betti))
        obj.resolution = tuple(float(r) for r in resolution)
        obj.critical_ratio = tuple(float(r) for r in critical_ratio)
        obj.near_resolution = tuple(bool(x) for x in near_resolution)
        obj.min_feature_radius = tuple(float(r) for r in min_feature_radius)
        obj.net_agreement = tuple(float(a) for a in net_agreement)
        return obj

    def __getnewargs__(self):
        return (tuple(self), self.resolution, self.critical_ratio, self.near_resolution,
                self.min_feature_radius, self.net_agreement)

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


def exact_range(radius: float, D: np.ndarray, sparse: float | None) -> float:
    r"""Scale up to which the sparse Rips filtration of a net (``D``, rows in greedy order)
    equals its Rips filtration (so its diagrams, over :math:`\mathbb{Z}/2`, are exact there): :math:`T = 2\lambda/\epsilon`, with :math:`\lambda \le` every
    insertion radius of the net: ``radius``, the net's covering radius (the next point's
    insertion radius in the greedy order), or when that is 0 (the net is every point) its
    last point's. An edge of length :math:`D_{ij} \le 2\lambda_j/\epsilon` enters at its
    length (:func:`~manifold_probe.topology._persistence.sparse_rips_edges`). Infinite
    without sparsification.

    >>> D = np.abs(np.subtract.outer([0.0, 4.0, 2.0, 1.0], [0.0, 4.0, 2.0, 1.0]))
    >>> exact_range(0.0, D, 0.5), exact_range(0.5, D, 0.5)
    (4.0, 2.0)
    """
    if sparse is None or len(D) < 2:
        return float("inf")
    lam = radius if radius > 0 else float(D[len(D) - 1, : len(D) - 1].min())
    return 2.0 * lam / sparse


def rips_ratio_bounds(bars, exact_below: float, eps: float = SPARSE_EPS):
    r"""Bounds on the death/birth ratio that each sparse Rips bar ``bars`` (rows (b, d); any
    homology dimension, coefficients :math:`\mathbb{Z}/2`) has in the exact Rips filtration
    of the same net: ``(lo, hi)``, arrays.

    The sparse filtration :math:`S` (Cavanna, Jahanseir & Sheehy 2015) enters an edge at its
    length whenever :math:`\epsilon D_{ij} \le 2\lambda_j`, so with
    :math:`\lambda_{\min}` the smallest insertion radius of the net, :math:`S_t = R_t` for
    :math:`t \le T = 2\lambda_{\min}/\epsilon` (``exact_below``), and above it
    :math:`S_t \subseteq R_t \subseteq S_{(1+\epsilon)t}` up to homotopy. A bar's ends at or
    below :math:`T` are therefore exact, and an end above :math:`T` is at most
    :math:`1+\epsilon` later than in :math:`R` and not below :math:`T`:

    .. math::

        b_R \in [\max(T, b/(1+\epsilon)), b],\qquad d_R \in [\max(T, d/(1+\epsilon)), d]

    (an end :math:`\le T` exact), so :math:`d_R/b_R \in [d_R^{lo}/b,\ d/b_R^{lo}]`. A bar
    with an end above :math:`T` and :math:`d/b \le 1+\epsilon` may have no partner in
    :math:`R` (``lo`` = 1).

    >>> lo, hi = rips_ratio_bounds(np.array([[1.0, 2.0], [1.0, 9.0], [6.0, 12.0]]), 4.0)
    >>> [round(float(x), 3) for x in lo], [round(float(x), 3) for x in hi]
    ([2.0, 6.0, 1.333], [2.0, 9.0, 3.0])
    """
    bars = np.asarray(bars, dtype=np.float64).reshape(-1, 2)
    b, d = bars[:, 0], bars[:, 1]
    c = 1.0 + eps
    d_lo = np.where(d <= exact_below, d, np.maximum(exact_below, d / c))
    b_lo = np.where(b <= exact_below, b, np.maximum(exact_below, b / c))
    lo = np.where((d > exact_below) & (d / b <= c), 1.0, d_lo / b)
    return lo, d / b_lo


def resolution_report(tested, pvals, crit, alpha, n_points, scale, cut, exact_below,
                      eps=SPARSE_EPS):
    r"""Per dimension (homology over :math:`\mathbb{Z}/2`), the smallest feature the test can
    count at this sample (relative to ``scale``) and whether the answer is near it (see :func:`betti_numbers`, Resolution).

    A dimension :math:`k \ge 1` is near resolution when a bar could fall on the other side of
    the test's cut ``cut[k]`` (the ratio a new largest bar needs by the test alone, the band
    left out) in the exact Rips filtration of the same net (:func:`rips_ratio_bounds`, with
    the sparse filtration's exact range ``exact_below[k]``): a counted bar whose lower bound
    is at or below the cut, or an uncounted bar whose upper bound is above it (among them a
    bar the test finds significant but the interleaving band keeps out). Where the test cannot
    run (at most ``MIN_BELOW`` bars below ``FEW_BARS_RATIO``), a counted bar is near when its
    lower bound is at or below the ratio rule's ``FEW_BARS_RATIO``, and an uncounted bar with
    :math:`d/b` above the band :math:`1+\epsilon` is near: untested, so undecided. :math:`H_0` is single linkage on the net, an exact filtration: never near."""
    resolution, near = [], []
    for k, (t, p, c) in enumerate(zip(tested, pvals, crit, strict=True)):
        close = False
        if k == 0:
            min_size = max(MIN_COMPONENT_POINTS, MIN_COMPONENT * n_points)
            cand = t[t[:, 2] >= min_size] if len(t) else t
            b_ref = float(np.median(cand[:, 0])) if len(cand) else float("nan")
        else:
            b_ref = float(np.median(t[:, 0])) if len(t) else float("nan")
            if len(t):
                lo, hi = rips_ratio_bounds(t[:, :2], exact_below[k], eps)
                counted = np.asarray(p) < alpha
                r = t[:, 1] / t[:, 0]
                # too few bars below the ratio rule's for the test to run: a bar there is
                # counted by the rule (cut FEW_BARS_RATIO) and an uncounted one above the
                # band is untested, so undecided
                if len(r) - int(np.sum(r > FEW_BARS_RATIO)) > MIN_BELOW:
                    close = bool(np.any(counted & (lo <= cut[k]))
                                 or np.any(~counted & (hi > cut[k])))
                else:
                    close = bool(np.any(counted & (lo <= FEW_BARS_RATIO))
                                 or np.any(~counted & (r > 1.0 + eps)))
        size = c * b_ref / scale if scale > 0 and np.isfinite(c) else float("nan")
        resolution.append(float(size))
        near.append(close)
    return tuple(resolution), tuple(near)


def warn_near_resolution(f, what: str) -> None:
    """Issue a :class:`ResolutionWarning` naming the dimensions read near resolution."""
    dims = [k for k, x in enumerate(f.near) if x]
    if not dims:
        return
    import warnings

    agree = getattr(f, "agreement", ()) or (1.0,) * len(f.betti)
    detail = ", ".join(f"H{k}: {f.betti[k]} (features need death/birth >= "
                       f"{f.critical_ratio[k]:.3g}, about {f.resolution[k]:.3g} of the cloud's "
                       "scale" + (f"; read by {agree[k]:.0%} of the landmark nets"
                                  if agree[k] < 1.0 else "") + ")" for k in dims)
    warnings.warn(
        f"{what}: {detail}; the landmark nets read it differently, or a bar could fall on the "
        "other side of the test's cut in the exact Rips filtration of the net (the sparse "
        f"filtration is within a factor {INTERLEAVING:g} of it above its exact range), so this "
        "answer is below resolution (more points, less noise, or n_landmarks may resolve it)",
        ResolutionWarning, stacklevel=3)

