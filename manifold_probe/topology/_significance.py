r"""Significant Betti numbers: full-range sparse Rips on maxmin landmarks and a multiplicative
persistence test (a left-Gumbel null for :math:`\log\log(\text{death}/\text{birth})`).

Longer than 500 lines: the noise-law fit, the step-down test, the resolution report and the
H0 net are one calibration; they are split by concept once its validation settles."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema, warn_ignored
from manifold_probe._validation import (
    CostWarning,
    check_int,
    check_points,
    check_seed,
    normalize_scale,
    rescale,
    unique_rows,
)
from manifold_probe.topology._components import (
    MIN_COMPONENT,
    MIN_COMPONENT_POINTS,
    _h0_test,
)
from manifold_probe.topology._persistence import (
    MAX_DENSE_POINTS,
    MAXDIM,
    ComplexTooLarge,
    check_threshold,
    maxmin_landmarks,
    pairwise_distances,
    rips_diagrams,
    sparse_rips_edges,
)

__all__ = ["BETTI_PARAMS", "BettiNumbers", "ResolutionWarning", "betti_numbers", "significant_features", "shared_seed",
           "gumbel_pvalues", "noise_pvalues", "h1_landmarks"]

# Landmarks per analysis and the sparse-Rips approximation factor: set by the sweep in
# benchmarks/validate_topology.py (exact rate and time for 2000 points in R^50, H0-H2).
DEFAULT_LANDMARKS = {0: 400, 1: 400, 2: 400}
DEFAULT_LANDMARKS_HIGH = 150  # maxdim >= 3: the flag complex up to dimension 4 grows as m^5
# H1 is read on a finer net of its own: the first max(DEFAULT_LANDMARKS[1], n * H1_FRACTION)
# landmarks of the same greedy order (H0 and H2 keep the first DEFAULT_LANDMARKS). A loop's
# ratio on a net grows as the spacing shrinks (~m^(1/d) on a d-manifold), while the noise
# ratios depend on how regular the net is, which is set by m/n rather than m: the fat torus's
# largest noise ratio was 2.0-2.2 at m/n = 0.25-0.27 both at n = 1500 (400 landmarks) and
# n = 4000 (1000), and on feature-free clouds it grows steadily with m/n (S2: 1.89 at 0.2,
# 2.09 at 1/3, 2.38 at 1/2, 2.81 at 0.89; no knee). The rule keeps m/n, for larger clouds, at
# the value at which the 400-landmark default was validated at n = 2000 (400/2000 = 1/5), so
# the net is no less regular than there while the resolution grows with n; nothing at
# n <= 2000 changes. Measured (benchmarks/sweep_topology_landmarks.py, results/
# sweep_topology_landmarks*.json: 20 families x 5 seeds x noise 0, 1%; 96 feature-free nets;
# H1 re-read, H0 and H2 as computed): main grid 139/150 exact for 400 landmarks, max(400, n/5)
# and max(400, n/4) alike (max(400, n/3): 138, max(400, n/2): 134); held-out 45/50 -> 49/50
# (the fat torus at 4000 points: H1 found at 10/10 runs, 800 landmarks; 5/10 on 400); no false
# H1 on the 96 feature-free nets with any of these rules. max(400, n/4) was tried first: it
# also refines n = 2000, and there cost seed independence (noise-free data, 20 analysis seeds,
# sweep_topology_landmarks_stability.json: torus R=2 r=0.7 18/20 exact against 20/20, its
# second loop's p 0.035 -> 0.062 at one seed), for higher median margins over data seeds.
H1_FRACTION = 1 / 5
# Cost cap of the finer H1 net: its sparse Rips graph may hold no more edges than the complete
# graph on the default net, C(400, 2) = 79,800 (the size the default net's graph reaches on
# high-dimensional data, where sparsification removes nothing), so H1 on the finer net costs
# at most what H1 on the default net can. Measured (4000 Gaussian points): sparse-graph edges
# per landmark stay 36 in R^2 from 400 to 1000 landmarks (H1 0.09 -> 0.24 s) and 102 -> 129 in
# R^3 (0.27 -> 1.1 s), but grow 199 -> 489 in R^6 (2.2 -> 39 s) and the graph is complete in
# R^10 (400: 13 s; 1000: over MAX_SIMPLICES), where a finer net would also gain little
# resolution (spacing ~ m^(-1/d)). Under the cap the net is the longest prefix that fits.
H1_MAX_EDGES = DEFAULT_LANDMARKS[1] * (DEFAULT_LANDMARKS[1] - 1) // 2
SPARSE_EPS = 0.5
# The former rule's fewest bars for a fit (fewer: pooled, then d/b > 4); kept for the
# calibration of gumbel_pvalues in benchmarks/validate_topology.py --calibrate only.
MIN_FIT = 30
RIPS_CECH = 2.0  # Čech_r ⊆ Rips_2r ⊆ Čech_2r (edge length 2r vs ball radius r)
H0_MIN_NET = 20  # clouds of fewer than 40 distinct points judge H0 on every point
H0_MAX_NET = 1250  # H0 net: half the points, at most this many (1250^2 distances: 12.5 MB)
# Quantiles of the standard left-Gumbel law, P(l <= x) = 1 - exp(-e^x): log(-log(1 - q)).
# Quantiles of log log(pi) matched to the law: the median and the 90th percentile. Measured
# under the null (benchmarks/validate_topology.py --calibrate, results/
# validate_topology_null.json: 139 feature-free H1/H2 diagrams of landmark nets of a cube,
# square, swiss roll, Gaussian blob, S2 and S3, 8 seeds, noise 0 and 1%): family-wise false
# features at alpha = 0.05 are 0/139 with (0.5, 0.9) and with the quartiles, 6/139 with
# (0.75, 0.95), 7 with (0.8, 0.97), 8 with (0.9, 0.98). So this fit is conservative on nets
# (a maxmin net is more regular than the i.i.d. samples of Bobrowski & Skraba, and its noise
# tail is lighter than the fitted law's), while the tail fits sit at the nominal level.
# (0.5, 0.9) is kept because a Betti vector with a false feature is as wrong as one with a
# missing feature: (0.75, 0.95) put a false feature in 6 of the 139 feature-free diagrams,
# and gained only marginal features: 57/60 feature runs exact in H1.. against 56/60 (a false
# H2 of the fat torus at 4000 points, seed 2; same file, "feature_runs_wrong_h1_up"; before H1
# had its own net, H1_FRACTION, 56/60 against 54/60: two fat-torus-at-4000 loops). Against
# the quartiles, (0.5, 0.9) read 139/150 runs exact at noise <= 1% instead of 137
# (results/validate_topology.json).
FIT_QUANTILES = (0.5, 0.9)  # gumbel_pvalues (the fit on all bars, kept for reference)
# The outward test's fit: least squares on the 50th, 75th and 90th percentiles of a dimension's
# bars. Lower quantiles resist more features but extrapolate further into the tail, where the
# fit's error (which the pivot charges honestly) then costs power: with the quartiles the
# second loop of a torus R = 3, r = 1 at 2000 points (ratio 3.26 against noise <= 1.8) went
# unread (Bonferroni-free step-down p about 0.1), with these it is read. Features more than
# about a tenth of a dimension's bars can move the 90th percentile; where they are clear
# (d/b > 4) the certified rule counts them regardless.
NOISE_QUANTILES = (0.5, 0.75, 0.9)


# Monte Carlo draws behind the noise pivot (see noise_pvalues): each draw contributes an exact
# conditional probability, so the tail is resolved far below 1 / N_PIVOT.
N_PIVOT = 4000
INTERLEAVING = 1 + SPARSE_EPS  # a sparse Rips bar with d/b <= 1 + eps may be diagonal noise
# An answer is "near resolution" when a bar's ratio lies within this factor of the critical
# ratio: the sparse filtration moves each ratio by up to 1 + eps, so such a bar could fall on
# the other side of the cut in the exact Rips filtration of the same net.
NEAR_FACTOR = INTERLEAVING


def _std_quantiles(quantiles):
    return np.array([np.log(-np.log(1.0 - q)) for q in quantiles])


def _positions(n: int, quantiles) -> list[tuple[int, int, float]]:
    """np.quantile's linear rule on n sorted values: per level, the two 1-based order
    statistics it reads and the weight of the second."""
    out = []
    for q in quantiles:
        h = (n - 1) * q
        a, f = int(np.floor(h)) + 1, float(h - np.floor(h))
        out.append((a, min(a + 1, n) if f > 0 else a, f))
    return out


def _ls(qs, quantiles):
    """Least squares of the values' quantiles ``qs`` on the standard law's: (mu, sigma)."""
    z = _std_quantiles(quantiles)
    zc = z - z.mean()
    qs = np.asarray(qs)
    sigma = np.maximum(np.tensordot(zc, qs - qs.mean(axis=0), axes=1) / np.sum(zc**2), 1e-12)
    return qs.mean(axis=0) - sigma * z.mean(), sigma


def _fit(y_sorted: np.ndarray, quantiles=NOISE_QUANTILES) -> tuple[float, float, float, int]:
    """Noise law of one dimension from quantiles of its y = log log(d/b): (mu, sigma),
    the largest value the fit reads, u, and its 1-based rank i_u."""
    n = len(y_sorted)
    pos = _positions(n, quantiles)
    qs = [y_sorted[a - 1] + f * (y_sorted[b - 1] - y_sorted[a - 1]) for a, b, f in pos]
    mu, sigma = _ls(np.array(qs), quantiles)
    i_u = max(b for _, b, _ in pos)
    return float(mu), float(sigma), float(y_sorted[i_u - 1]), i_u


@lru_cache(maxsize=256)
def _pivot_draws(n: int, quantiles: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    r"""Fits (mu, sigma) and boundary value u of ``N_PIVOT`` standard samples of ``n``
    left-Gumbel draws, by the same rule as :func:`_fit`.

    Only the order statistics the fit reads are drawn, by the Markov chain of uniform order
    statistics: given :math:`U_{(i)}`, :math:`U_{(j)} = U_{(i)} + (1 - U_{(i)})\,B`,
    :math:`B \sim \mathrm{Beta}(j - i, n - j + 1)`; then :math:`y = \log(-\log(1 - U))`.
    Seeded by ``n`` alone: the same law for every call."""
    rng = np.random.default_rng([20251204, n])
    pos = _positions(n, quantiles)
    idx = sorted({i for a, b, _ in pos for i in (a, b)})
    y, prev, val = {}, 0, np.zeros(N_PIVOT)
    for i in idx:
        val = val + (1.0 - val) * rng.beta(i - prev, n - i + 1, N_PIVOT)
        y[i], prev = np.log(-np.log1p(-np.minimum(val, 1 - 1e-16))), i
    qs = np.array([y[a] + f * (y[b] - y[a]) for a, b, f in pos])
    mu, sigma = _ls(qs, quantiles)
    return mu, sigma, y[max(idx)]


def noise_pvalues(t: Any, n: int, above: int | None = None,
                  quantiles: tuple[float, ...] = NOISE_QUANTILES) -> np.ndarray:
    r"""P-value of a standardised bar :math:`t`: the chance that the largest of ``above``
    noise bars above the fit's boundary reaches it, in a dimension of ``n`` bars.

    Model (Bobrowski & Skraba 2023): for noise bars, :math:`y = \log\log(d/b)` is
    :math:`\mu + \sigma\ell`, :math:`\ell` standard left-Gumbel,
    :math:`P(\ell \ge x) = S(x) = e^{-e^{x}}`, with :math:`\mu, \sigma` unknown. They are
    fitted by least squares on quantiles of the :math:`n` values (``NOISE_QUANTILES``:
    real features, the largest bars, barely move them while fewer than a quarter), and :math:`t = (y - \hat\mu)/\hat\sigma`. The family is location-scale, so
    :math:`t` is pivotal: its law under the null depends on :math:`n` only. Given the order
    statistics up to the fit's boundary :math:`u` (rank :math:`i_u`), the values above it
    are i.i.d., the law truncated to :math:`[u, \infty)` (Markov property of order
    statistics), so with :math:`m` of them (``above``, default :math:`n - i_u`)

    .. math::

        p(t) = E\Big[1 - \Big(1 - \min\Big(1, \frac{S(\hat\mu_0 + \hat\sigma_0 t)}
        {S(u_0)}\Big)\Big)^{m}\Big],

    the expectation over standard samples (Rao-Blackwellised Monte Carlo, ``N_PIVOT``
    draws, each an exact conditional probability): exact under the model, the error of the
    fit included, for every :math:`n` (no asymptotics, no switch in the number of bars).

    >>> p = noise_pvalues([0.0, 2.0, 4.0], 100)
    >>> bool(p[0] > 0.5), bool(p[2] < 1e-3 < p[1])
    (True, True)
    """
    n = check_int(n, name="n", minimum=4)
    quantiles = tuple(float(q) for q in quantiles)
    mu, sigma, u = _pivot_draws(n, quantiles)
    m = n - max(b for _, b, _ in _positions(n, quantiles)) if above is None else int(above)
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if m <= 0:  # no bar above the fit's boundary: nothing can be tested
        return np.ones(len(t))
    a = mu[None, :] + sigma[None, :] * t[:, None]
    with np.errstate(over="ignore"):
        q = np.minimum(1.0, np.exp(-(np.exp(a) - np.exp(u)[None, :])))
    with np.errstate(divide="ignore"):
        return (-np.expm1(m * np.log1p(-q))).mean(axis=1)


def _outward_test(ratios: np.ndarray, band: float, quantiles=NOISE_QUANTILES):
    """Adjusted p-values of the bars (in the given order): counted bars are those below alpha.

    One noise law per dimension, fitted to the 50th, 75th and 90th percentiles of its bars
    (:func:`_fit`), which features, the largest few bars, barely move. Then a step-down from the
    largest bar: step j asks whether the (j+1)-th largest is the largest of the noise bars
    above the fit's boundary, assuming the j above it real (``above`` = those bars less j),
    with :func:`noise_pvalues`; bar j counts when steps 0..j all reject (adjusted p-value
    :math:`\\max_{j' \\le j} p_{j'}`). Under any number k of true features a false one needs
    step k to reject, which tests the largest noise bar: family-wise error at most alpha
    per dimension. Bars with :math:`d/b \\le` ``band`` are never counted (p = 1); a bar
    with :math:`d/b > 4` always is (``RIPS_CECH``, p = 0). With fewer than four bars nothing
    is fitted and only that rule decides.
    """
    r = np.asarray(ratios, dtype=np.float64)
    n = len(r)
    order = np.argsort(-r, kind="stable")
    adj = np.ones(n)
    if n >= 4:
        y_asc = np.sort(np.log(np.log(r)))
        mu, sigma, _, i_u = _fit(y_asc, quantiles)
        steps = min(n - i_u, int(np.sum(r > band)))
        if steps > 0:
            y_desc = y_asc[::-1][:steps]
            t = (y_desc - mu) / sigma
            raw = np.array([noise_pvalues(t[j], n, n - i_u - j, quantiles)[0]
                            for j in range(steps)])
            adj[:steps] = np.maximum.accumulate(raw)
    adj = np.where(r[order] > band, adj, 1.0)
    adj = np.where(r[order] > RIPS_CECH**2, 0.0, adj)
    out = np.ones(n)
    out[order] = adj
    return out


def shared_seed(seed: Any) -> int:
    """The one integer seed that :func:`topology_preserved` hands to both of its analyses.

    ``topology_preserved(X, Y, seed=s)`` analyses ``X`` and ``Y`` with ``shared_seed(s)``;
    ``betti_numbers(X, seed=shared_seed(s))`` therefore returns its ``betti_x`` exactly, so a
    caller can analyse each cloud once and compare the results.

    >>> shared_seed(0) == shared_seed(0)
    True
    """
    return int(check_seed(seed).integers(2**63))


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


@dataclass(frozen=True)
class SignificantFeatures:
    """Internal result of :func:`significant_features` (shared by the verdict)."""

    betti: tuple[int, ...]
    diagrams: list  # landmark diagrams (sparse Rips, full range; H0 exact on the landmarks)
    pvalues: tuple  # per dimension: Bonferroni-adjusted p-value of each tested bar
    tested: tuple  # per dimension: the (birth, death) rows that were tested
    threshold: float
    covering_radius: float
    scale: float  # median pairwise distance of the landmarks: the cloud's size
    critical_ratio: tuple = ()  # per dimension: d/b a feature needs to count (see _resolution)
    resolution: tuple = ()  # per dimension: smallest detectable death (H0: gap) / scale
    near: tuple = ()  # per dimension: a bar within NEAR_FACTOR of the critical ratio


def gumbel_pvalues(
    ratios: np.ndarray,
    reference: np.ndarray | None = None,
    quantiles: tuple[float, float] = FIT_QUANTILES,
) -> np.ndarray:
    r"""p-values of multiplicative persistences :math:`\pi = d/b > 1` under a left-Gumbel null.

    Bobrowski & Skraba (2023) show that for noise bars of random Rips/Čech complexes
    :math:`\ell = A \log\log \pi + B` follows the left-Gumbel law
    :math:`P(\ell \le x) = 1 - e^{-e^{x}}`, so a bar's p-value is
    :math:`p = e^{-e^{\ell}}`. Here :math:`A, B` are fitted to ``reference`` (default:
    ``ratios``) by matching two ``quantiles`` of :math:`\log\log\pi` (default the median
    and the 90th percentile) to those of the law (robust: the few real features barely move them).
    Their universal :math:`A = 1` read the second loop of a noise-free torus as noise
    (Bonferroni p = 0.98 among 544 bars, while the largest noise ratio was 3.3 against 6.4),
    hence the fitted scale (benchmarks/validate_topology.py).

    >>> p = gumbel_pvalues(np.r_[np.linspace(1.05, 1.5, 40), 20.0])
    >>> bool(p[-1] < 0.05 / 41), bool(p[0] > 0.5)
    (True, True)
    """
    ll = np.log(np.log(ratios))
    ref = ll if reference is None else np.log(np.log(reference))
    qlo, qhi = (float(np.log(-np.log(1.0 - q))) for q in quantiles)
    lo, hi = np.quantile(ref, quantiles)
    a = (qhi - qlo) / max(hi - lo, 1e-12)
    return np.exp(-np.exp(a * (ll - lo) + qlo))


def h1_landmarks(n: int) -> int:
    """Landmarks of the H1 net for ``n`` distinct points (see ``H1_FRACTION``); at most n.

    >>> h1_landmarks(900), h1_landmarks(4000)
    (400, 800)
    """
    return min(n, max(DEFAULT_LANDMARKS[1], int(round(n * H1_FRACTION))))


def _fitting_prefix(D: np.ndarray, floor: int) -> int:
    """Largest m in [floor, len(D)] whose sparse Rips graph on the first m rows of ``D`` (a
    greedy order) holds at most ``H1_MAX_EDGES`` edges (counted on the graph of all rows,
    restricted to the first m: the same insertion radii)."""
    if len(D) <= floor:
        return len(D)
    _, last, _ = sparse_rips_edges(D, SPARSE_EPS)  # rows < cols: an edge's later end
    per = np.cumsum(np.bincount(last, minlength=len(D)))  # edges among the first m: per[m - 1]
    fits = np.flatnonzero(per <= H1_MAX_EDGES)
    return max(floor, int(fits[-1]) + 1 if len(fits) else floor)


def _net_diagrams(DL: np.ndarray, maxdim: int, thr: float, sparse: float | None,
                  shrink: bool) -> list[np.ndarray]:
    """Diagrams of the net ``DL``. When its complex is too large even for ripser (H2 and up
    of a 3- or 4-manifold: 400 landmarks of S^4 are estimated at 8e8 simplices) and the net
    is the default one (``shrink``), H2 and up are read on the longest prefix of the greedy
    order, in steps of 0.8, that fits, with a warning; H0 and H1 stay on the whole net."""
    try:
        return rips_diagrams(DL, maxdim, thr, sparse=sparse)
    except ComplexTooLarge:
        if not shrink or maxdim < 2:
            raise
    m = len(DL)
    while True:
        m = int(0.8 * m)
        try:
            high = rips_diagrams(DL[:m, :m], maxdim, thr, sparse=sparse)
            break
        except ComplexTooLarge:
            if m <= 4 * (maxdim + 1):
                raise
    import warnings

    warnings.warn(
        f"betti_numbers: H2 and up were read on the first {m} of the {len(DL)} landmarks (the "
        "Rips complex of all of them would be too large); pass n_landmarks to choose",
        CostWarning, stacklevel=4)
    return [*rips_diagrams(DL, 1, thr, sparse=sparse), *high[2:]]


def _tested_bars(dgms: list, threshold: float) -> list[np.ndarray]:
    """Per dimension k >= 1, the bars the test looks at: finite birth > 0, death > birth (an
    infinite death, alive at a user's threshold, is read as the threshold: conservative). H0's
    rows ``(b, d, size)`` come from the net's spanning tree (:func:`_h0_test`); here a
    placeholder."""
    out = [np.zeros((0, 3))]
    for d in dgms[1:]:
        d = d.copy()
        d[~np.isfinite(d[:, 1]), 1] = threshold
        out.append(d[(d[:, 0] > 0) & (d[:, 1] > d[:, 0])])
    return out


def critical_ratio(ratios: np.ndarray, alpha: float, band: float,
                   quantiles=NOISE_QUANTILES) -> float:
    """Smallest death/birth ratio at which the largest of a dimension's bars (``ratios``)
    counts: step 0 of :func:`_outward_test`; at least ``band``, at most 4 (``RIPS_CECH``^2)."""
    r = np.asarray(ratios, dtype=np.float64)
    cap = RIPS_CECH**2
    if len(r) < 4:
        return cap
    mu, sigma, _, i_u = _fit(np.sort(np.log(np.log(r))), quantiles)
    grid = np.linspace(-4.0, 60.0, 1281)
    p = noise_pvalues(grid, len(r), len(r) - i_u, quantiles)
    hit = np.flatnonzero(p < alpha)
    if not len(hit):
        return cap
    y = mu + sigma * grid[hit[0]]
    return float(min(cap, max(band, np.exp(np.exp(min(y, 5.0))))))


def h0_critical_ratio(size: float, n_candidates: int, alpha: float) -> float:
    """Smallest merge ratio d/b at which a component of ``size`` landmarks counts
    (:func:`h0_pvalues`, Bonferroni over ``n_candidates``)."""
    from manifold_probe.topology._components import h0_pvalues

    grid = 1.0 + np.geomspace(1e-3, 1e3, 2000)
    p = h0_pvalues(1.0, grid, size) * max(n_candidates, 1)
    hit = np.flatnonzero(p < alpha)
    return float(grid[hit[0]]) if len(hit) else float("inf")


def _significance(
    tested: list[np.ndarray],
    alpha: float,
    n_points: int,
    h0_dist: np.ndarray,
    band: float = INTERLEAVING,
) -> tuple[tuple, tuple, tuple]:
    r"""Adjusted p-values per dimension, the counts below ``alpha`` and the critical ratios.

    H0: :func:`h0_pvalues` on the merges of the net ``h0_dist`` (see :func:`_h0_test`; the
    rows ``tested[0]`` are replaced by those of its elder-rule pass); its critical ratio is
    that of the smallest candidate component. A dimension :math:`k \ge 1`: the outward test
    of :func:`_outward_test` on its own bars, whatever their number (the null of a step is
    fitted to the bars below the candidate; no pooling across dimensions), bars within the
    interleaving ``band`` never counted.
    """
    pvals, betti, crit = [], [], []
    for k, t in enumerate(tested):
        if k == 0:
            tested[0], p = _h0_test(h0_dist, alpha, n_points)
            pvals.append(p)
            betti.append(int(np.sum(p < alpha)) + 1)  # beta_0 counts the last component too
            min_size = max(MIN_COMPONENT_POINTS, MIN_COMPONENT * n_points)
            n_cand = int(np.sum(tested[0][:, 2] >= min_size)) if len(tested[0]) else 0
            crit.append(h0_critical_ratio(min_size, n_cand, alpha))
            continue
        r = t[:, 1] / t[:, 0]
        p = _outward_test(r, band)
        pvals.append(p)
        betti.append(int(np.sum(p < alpha)))
        crit.append(critical_ratio(r, alpha, band))
    return tuple(pvals), tuple(betti), tuple(crit)


def _resolution(tested, pvals, crit, alpha, band, n_points, scale):
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


#: The settings of :func:`betti_numbers` (and :func:`~manifold_probe.topology_preserved`) that
#: the layer profile exposes (see :mod:`manifold_probe._params`).
BETTI_PARAMS = Schema(
    "betti_numbers",
    MAXDIM,
    Param("confidence", float, 0.95, "level of the significance test", gt=0.0, lt=1.0),
    Param("n_landmarks", int, None, "maxmin landmarks of the Rips complex (None: 400 for "
          "dimensions 0-2, 150 above; max(400, n/5) for H1)", ge=1, nullable=True),
)


def significant_features(
    X: Any,
    maxdim: int = 1,
    confidence: float = 0.95,
    seed: Any = None,
    n_landmarks: int | None = None,
    n_bootstrap: int | None = None,
    threshold: float | str | None = "auto",
) -> SignificantFeatures:
    """The computation behind :func:`betti_numbers`, with everything it found."""
    # magnitude: computed on the cloud rescaled by an exact power of two (Rips filtrations of
    # points near 1e-300 lose every edge to underflow); lengths are scaled back at the end
    X, e = normalize_scale(check_points(X, min_points=1, what="betti_numbers"))
    maxdim, confidence, n_landmarks = BETTI_PARAMS.check(
        maxdim=maxdim, confidence=confidence, n_landmarks=n_landmarks).values()
    m = DEFAULT_LANDMARKS.get(maxdim, DEFAULT_LANDMARKS_HIGH) if n_landmarks is None else n_landmarks
    warn_ignored("n_bootstrap", n_bootstrap, where="betti_numbers", stacklevel=4)
    auto = threshold is None or (isinstance(threshold, str) and threshold == "auto")
    thr = np.inf if auto else check_threshold(threshold)
    thr_n = float(np.ldexp(thr, -e))
    rng = check_seed(seed)

    if n_landmarks is not None and min(m, len(X)) > MAX_DENSE_POINTS:
        # cost guard, before the landmarks: their full distance matrix is m^2 float64
        raise ComplexTooLarge(
            f"betti_numbers with n_landmarks={m} would hold a {min(m, len(X))}^2 distance matrix "
            f"({8 * min(m, len(X)) ** 2 / 2**30:.1f} GiB; limit {MAX_DENSE_POINTS} points) and "
            f"a Rips complex beyond reach; pass n_landmarks={MAX_DENSE_POINTS // 4} or fewer "
            "(maxmin landmarks keep the diagrams within 2 x their covering radius)"
        )
    first, _, _ = unique_rows(X)
    U = X[first]
    n = len(U)
    # H1 on its own, finer net (the first m1 landmarks of the same greedy order, so the first
    # m are the net of H0 and H2): see H1_FRACTION and H1_MAX_EDGES
    m1 = h1_landmarks(n) if n_landmarks is None and maxdim >= 1 else m
    # H0 is judged on a net: the first m0 landmarks of the same order, half the points (so
    # that the spacing of the net, not of the raw sample, sets the noise merges; see
    # _h0_bars), at most H0_MAX_NET. Coarser nets lose small clusters: n/2, n/3, n/4, n/5
    # read 205, 194, 183, 168 of the 230 cluster runs of benchmarks/sweep_topology_h0.py
    # exact, with every family H0 and no false split
    m0 = min(m, n) if n < 2 * H0_MIN_NET else min(n // 2, max(m, H0_MAX_NET))
    if n_landmarks is not None:
        m0 = min(m0, m)
    order, eps = maxmin_landmarks(min(max(m, m1, m0), n), int(rng.integers(n)), X=U)  # greedy
    L = order[:m]
    D_all = pairwise_distances(U[order])
    DL = D_all[: len(L), : len(L)]
    sparse = SPARSE_EPS if len(L) > 3 else None
    # the H1 net: the longest prefix of the greedy order within m1 and the cost cap
    n1 = min(m1, len(order))
    k = _fitting_prefix(D_all[:n1, :n1], len(L)) if n1 > len(L) else len(L)
    dgms = _net_diagrams(DL, maxdim if k == len(L) or maxdim >= 2 else 0, thr_n, sparse,
                         shrink=n_landmarks is None)
    cut = thr_n if np.isfinite(thr) else float(DL.max(initial=0.0))
    tested = _tested_bars(dgms, cut)
    if len(order) > len(L):
        eps = float(D_all[len(L), : len(L)].min())  # covering radius of the first m landmarks
    if k > len(L):
        D1 = D_all[:k, :k]
        h1 = rips_diagrams(D1, 1, thr_n, sparse=SPARSE_EPS)[1]
        cut1 = thr_n if np.isfinite(thr) else float(D1.max())
        dgms = [dgms[0], h1, *dgms[2:]]
        tested = [tested[0], _tested_bars([None, h1], cut1)[1], *tested[2:]]
    tested = tested[: maxdim + 1]
    alpha = 1.0 - confidence
    band = INTERLEAVING if sparse is not None else 1.0
    pvals, betti, crit = _significance(tested, alpha, m0, D_all[:m0, :m0], band)
    scale = float(np.median(DL[np.triu_indices(len(L), 1)])) if len(L) > 1 else 0.0
    resolution, near = _resolution(tested, pvals, crit, alpha, band, m0, scale)
    dgms = [rescale(d, e, what="a persistence diagram", unit_power=1) for d in dgms]
    tested = [np.c_[rescale(t[:, :2], e, what="a bar", unit_power=1), t[:, 2:]] for t in tested]
    return SignificantFeatures(betti, dgms, pvals, tuple(tested[: maxdim + 1]), float(thr),
                               float(np.ldexp(eps, e)), float(np.ldexp(scale, e)), crit,
                               resolution, near)


def betti_numbers(
    X: Any,
    maxdim: int = 1,
    confidence: float = 0.95,
    seed: Any = None,
    *,
    n_landmarks: int | None = None,
    n_bootstrap: int | None = None,
    threshold: float | str | None = "auto",
) -> BettiNumbers:
    r"""Betti numbers (coefficients :math:`\mathbb{Z}/2`) counting only the statistically
    significant features, with the sample's resolution.

    **Filtration.** Exact duplicates are merged; ``n_landmarks`` maxmin (farthest-point)
    landmarks :math:`L` are drawn (first one from ``seed``), with covering radius
    :math:`\varepsilon_L = d_H(L, X)`; all points when there are no more than that. The
    diagrams are those of the sparse Rips filtration of :math:`L` with
    :math:`\epsilon = 0.5` (Cavanna, Jahanseir & Sheehy 2015), over the whole range: up to the
    cone radius :math:`\min_i \max_j \|l_i - l_j\|`, past which the complex is contractible.
    Guarantees: the sparse diagrams are :math:`(1+\epsilon)`-multiplicatively interleaved with
    the Rips diagrams of :math:`L`, which lie within bottleneck distance
    :math:`2\varepsilon_L` of those of :math:`X` (Chazal, de Silva & Oudot 2014). By default
    :math:`H_1` is read on a finer net of its own, the first :math:`\max(400, n/5)` landmarks
    of the same greedy order (:math:`H_0` and :math:`H_2` on the first 400): a loop's ratio
    grows as the net gets finer, while the net's noise is set by :math:`m/n`, which this rule
    holds at the value where the default was validated (``H1_FRACTION``).

    **Coefficients.** Homology is taken with coefficients in the field :math:`\mathbb{Z}/2`
    (gudhi's and ripser's ``coeff=2``): the numbers are the ranks over :math:`\mathbb{Z}/2`, so
    torsion is invisible and non-orientable shapes read their mod-2 numbers
    (:math:`\mathbb{RP}^2`: (1, 1, 1); the Klein bottle: (1, 2, 1)).

    **Test** (:math:`H_k, k \ge 1`). A bar :math:`(b, d)` has multiplicative persistence
    :math:`\pi = d/b`. Under the null "noise", Bobrowski & Skraba (2023) find
    :math:`y = \log\log\pi` distributed as :math:`\mu + \sigma\ell`, :math:`\ell`
    left-Gumbel, :math:`P(\ell \ge x) = e^{-e^x}`, :math:`\mu, \sigma` unknown. They are
    fitted per dimension by least squares on the 50th, 75th and 90th percentiles of its
    :math:`y` (the few real features, the largest bars, barely move them), and the
    standardised :math:`t = (y - \hat\mu)/\hat\sigma` is pivotal (location-scale family), so
    its p-value is exact under the model for every number of bars, the error of the fit
    included (:func:`noise_pvalues`: the values above the fit's largest order statistic are
    i.i.d. truncated draws, Rao-Blackwellised Monte Carlo). Step-down from the largest bar:
    step :math:`j` asks whether the :math:`(j+1)`-th largest bar is the largest of the noise
    bars above the fit's boundary, the :math:`j` above it taken as real; bar :math:`j` counts
    when steps :math:`0 \dots j` all have :math:`p < \alpha`. Under any number :math:`k` of
    real features a false one needs step :math:`k` to reject, which tests the largest noise
    bar: family-wise error per dimension at most :math:`\alpha`. A bar with
    :math:`d/b \le 1 + \epsilon` (the sparse filtration's interleaving factor, 1.5) is never
    counted: it may be diagonal noise by the method's own guarantee; a bar with
    :math:`d/b > 4` always is (Rips and Čech filtrations are 2-interleaved, so it carries a
    class of the union of balls over a range of radii), which
    also decides dimensions with fewer than four bars, where nothing can be fitted. There is
    no pooling across dimensions and no switch in the number of bars.

    **H0.** Clusters are components at the scale of their separation: single linkage on the
    landmarks; when a component of :math:`s \ge 2` landmarks merges at :math:`d`, its birth
    :math:`b` is its longest internal minimum-spanning-tree edge (the scale from which it was
    one piece). Under the null "no gap" the tree's edges have exponential tails, as
    nearest-neighbour distances of a Poisson sample do, and the merge edge is one more edge
    conditioned to exceed :math:`b`; with the tail's unknown rate integrated out, the ratio's
    excess :math:`t = d/b - 1` has :math:`P(T \ge t) = \Gamma(s)\Gamma(t+1)/\Gamma(s+t)`,
    exact for spacings on a curve and a bound for supports of any dimension
    (:func:`h0_pvalues`). :math:`\beta_0` = 1 + the significant merges (Bonferroni over the
    candidate merges, whose smaller side holds at least 2% of the net and 3 landmarks). Elder
    rule: after a significant merge the larger side carries on with its own :math:`b`, not the
    merge edge, so that pieces joined pairwise at nearly one scale each count (four circles
    1.0 apart read three without it: the last merge joined two pairs that were "one piece"
    only from 1.0). Two Gaussian blobs 12 standard deviations apart read
    :math:`\beta_0 = 2`; a lone outlier is never a component of its own. Measured
    (``benchmarks/sweep_topology_h0.py``): every H0 of the validation families exact (300/300
    runs, noise up to 3%), no split of 96 connected clouds, at most 1 of 200 seeds split on
    connected clouds (segments, a square, Gaussians, a circle), and on 230 runs of small,
    uneven and elongated clusters written as held-out cases 205 exact (the fitted ratio test
    used before: 176). Misses: three circles of 50 points each (their gap is about twice the
    largest sampling gap, p ~ 0.05 under the null, so two or one are read), and five Gaussian
    blobs in :math:`R^{10}` (the bound is loose in high dimension: their merges at
    :math:`d/b \approx 1.5` are not significant).

    **Resolution.** The answer comes with, per dimension, the critical ratio :math:`\pi^*`
    a new largest bar would need (step 0 against the fit to the uncounted bars, at least
    :math:`1 + \epsilon`, at most 4; for :math:`H_0` the merge ratio a component of the
    smallest tested size needs), and the smallest detectable feature relative to the cloud's
    scale :math:`s` (median pairwise landmark distance): :math:`\pi^* \tilde b / s`, with
    :math:`\tilde b` the median birth of the dimension's bars (the net's spacing, where
    classes are born); for :math:`H_0` the gap. **Density condition**: every bar of
    dimension :math:`k` (every tested merge of :math:`H_0`) lies outside
    :math:`[\pi^*/(1+\epsilon),\ \pi^*(1+\epsilon)]`, so that no bar's reading could cross
    the cut within the sparse filtration's own interleaving. Where it fails, the dimension is
    *near resolution*: ``near_resolution`` is set, ``below_resolution`` is true and a
    :class:`ResolutionWarning` names the dimension; such an answer is reported, not read.

    Assumptions: the cloud samples a compact set (or a few well-separated ones) densely at the
    landmark scale, with noise small against the features. **Resolution** (measured): a
    class of :math:`H_k, k \ge 1` is born at about the landmark spacing (a few
    :math:`\varepsilon_L`), so its ratio is about its death over that spacing, and it counts
    only when that ratio stands clear of the net's noise ratios: on a 2-manifold at 400
    landmarks the largest noise ratio is about 2, and a loop with a ratio twice that reads
    p = 0.006-0.07. More landmarks help only while the net stays much coarser than the sample:
    as their number nears the number of points the net is no more regular than the i.i.d.
    sample, and its noise ratios grow with the feature's (fat torus R = 1.5, r = 1 at 1500
    points: its inner loop, radius 0.5, has ratio 2.2-2.4 against noise 1.9-2.1 on 400
    landmarks, 2.9-3.2 against 2.2-2.5 on 750 and 3.5-3.9 against 2.5-3.1 on 1333, Bonferroni
    p >= 0.13 from 375 landmarks up; at 4000 points with 800 landmarks, the default H1 net,
    3.2-3.4 against 1.8-2.0, found; the Čech filtration, exact through the alpha complex in
    R^3, separates no better: 2.5-2.7 against 2.0-2.2 on 400 landmarks, 3.9-4.3 against
    2.6-3.1 on all points, ``benchmarks/fat_torus_filtrations.py``). That torus's 1500 points
    cover it to 0.72 of its reach (0.5), outside the Niyogi-Smale-Weinberger condition (0.39);
    the other tori of the validation read 0.41-0.42 (``benchmarks/sweep_topology_landmarks.py``).
    Measured (``benchmarks/validate_topology.py``, 3 seeds x noise 0 and 1%, D = 20-400,
    rotated): inside the density condition 38/38 runs exact on the 15 original families, 12/12
    on the 5 held-out ones, 24/36 on 16 families with many features or linear maps (k circles,
    k blobs, genus 2 and 3, nested spheres, a von Mises circle, a torus and a 2-sphere under
    maps of condition number up to 10); in all runs 84/90, 26/30 and 52/96, with 52, 18 and 60
    runs reported below resolution. The unflagged misses are features far below the cut (the
    void of a 2-sphere squashed by a condition-5 or -10 map), which no bar near the cut
    betrays. No false feature on 42 feature-free runs. The resolution falls with the sample
    size (``--sizes``). Outside the assumptions: under large noise features fill in and read as
    absent; a feature below the resolution above is invisible. The result is
    deterministic given ``seed`` and, for a well-sampled shape, the same for every seed.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
        The point cloud; Euclidean distances.
    maxdim : int, default=1
        Highest homology dimension.
    confidence : float, default=0.95
        :math:`1 - \alpha`, family-wise per dimension, in (0, 1).
    seed : None, int or numpy.random.Generator, default=None
        Chooses the first landmark.
    n_landmarks : int or None, default=None
        Landmarks for every dimension (``None``: 400, or 150 when ``maxdim`` >= 3, and
        :math:`\max(400, n/5)` for :math:`H_1`, n the number of distinct points). With the
        default, a complex too large to compute (H2 of a 4-manifold's 400 landmarks: about 8e8
        simplices) is read on the longest prefix of the net that fits, with a
        :class:`~manifold_probe._validation.CostWarning`; a number given here is used as is.
    n_bootstrap : None
        Ignored (the test needs no resampling); a value other than None raises a
        ``FutureWarning``: the parameter is removed in version 0.2.0.
    threshold : "auto", float or None, default="auto"
        ``"auto"`` and ``None``: the whole filtration. A number cuts it there (bars alive at
        the cut are read as dying at it).

    Returns
    -------
    BettiNumbers
        A tuple of int, length maxdim + 1 (equal to, and printed as, the plain tuple), with the
        attributes ``resolution``, ``critical_ratio``, ``near_resolution`` and
        ``below_resolution`` (see Resolution).

    Warns
    -----
    ResolutionWarning
        When a dimension is near resolution.

    Raises
    ------
    InputError
        Bad points or parameters, or a complex too large (see :func:`persistence`).

    References
    ----------
    Bobrowski & Skraba (2023), "A universal null-distribution for topological data analysis",
    Sci. Rep. 13:12274. Cavanna, Jahanseir & Sheehy (2015), "A geometric perspective on sparse
    filtrations", CCCG. Chazal, de Silva & Oudot (2014), "Persistence stability for geometric
    complexes", Geom. Dedicata 173. Penrose (1997), "The longest edge of the random minimal
    spanning tree", Ann. Appl. Probab. 7(2).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.random.default_rng(0).uniform(0, 2 * np.pi, 200)
    >>> betti_numbers(np.c_[np.cos(t), np.sin(t)], maxdim=1, seed=0)
    (1, 1)
    """
    f = significant_features(X, maxdim, confidence, seed, n_landmarks, n_bootstrap, threshold)
    warn_near_resolution(f, "betti_numbers")
    return BettiNumbers(f.betti, f.resolution, f.critical_ratio, f.near)


def warn_near_resolution(f: SignificantFeatures, what: str) -> None:
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
