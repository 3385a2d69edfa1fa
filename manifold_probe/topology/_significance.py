r"""Significant Betti numbers: full-range sparse Rips on maxmin landmarks, the outward test of
each dimension's bars (:mod:`._noise_law`), H0 on a finer net (:mod:`._components`) and the
resolution report (:mod:`._resolution`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema, warn_ignored
from manifold_probe._validation import (
    CostWarning,
    check_points,
    check_seed,
    normalize_scale,
    unique_rows,
)
from manifold_probe.topology._components import (
    MIN_COMPONENT,
    MIN_COMPONENT_POINTS,
    h0_test,
)
from manifold_probe.topology._nets import (
    SHARED_DISTANCES,
    SignificantFeatures,
    consensus,
    net_starts,
)
from manifold_probe.topology._noise_law import (
    FIT_QUANTILES,
    NOISE_QUANTILES,
    critical_ratio,
    gumbel_pvalues,
    noise_pvalues,
    outward_test,
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
from manifold_probe.topology._resolution import (
    INTERLEAVING,
    NSW_DENSITY,
    SPARSE_EPS,
    BettiNumbers,
    ResolutionWarning,
    exact_range,
    h0_critical_ratio,
    resolution_report,
    warn_near_resolution,
)

__all__ = ["BETTI_PARAMS", "BettiNumbers", "ResolutionWarning", "betti_numbers", "significant_features", "shared_seed",
           "gumbel_pvalues", "noise_pvalues", "h1_landmarks", "FIT_QUANTILES", "NOISE_QUANTILES",
           "h0_critical_ratio", "INTERLEAVING"]

# Landmarks per analysis. They differ from persistence's (1000 / 400 / 300, set by the cost of
# one diagram) because here the net is part of the test: the noise bars' law depends on the
# net (its m/n, see H1_FRACTION), and the test was validated on these nets
# (benchmarks/validate_topology.py, sweep_topology_landmarks.py: exact rate and time for 2000
# points in R^50, H0-H2). A diagram from persistence() is a description, not a test.
# set by `benchmarks/sweep_topology_landmarks.py`, see docs/validation.md#the-nets
DEFAULT_LANDMARKS = {0: 400, 1: 400, 2: 400}
# A choice, not measured: maxdim >= 3, where the flag complex up to dimension 4 grows as m^5;
# no benchmark runs betti_numbers above H2 (docs/validation.md#constants-not-yet-measured).
DEFAULT_LANDMARKS_HIGH = 150
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
# set by `benchmarks/sweep_topology_landmarks.py`, see docs/validation.md#the-nets
H1_FRACTION = 1 / 5
# Cost cap of the finer H1 net: its sparse Rips graph may hold no more edges than the complete
# graph on the default net, C(400, 2) = 79,800 (the size the default net's graph reaches on
# high-dimensional data, where sparsification removes nothing), so H1 on the finer net costs
# at most what H1 on the default net can. Measured (4000 Gaussian points): sparse-graph edges
# per landmark stay 36 in R^2 from 400 to 1000 landmarks (H1 0.09 -> 0.24 s) and 102 -> 129 in
# R^3 (0.27 -> 1.1 s), but grow 199 -> 489 in R^6 (2.2 -> 39 s) and the graph is complete in
# R^10 (400: 13 s; 1000: over MAX_SIMPLICES), where a finer net would also gain little
# resolution (spacing ~ m^(-1/d)). Under the cap the net is the longest prefix that fits.
# checked by `benchmarks/validate_topology.py` (--timing), see docs/validation.md#the-nets
H1_MAX_EDGES = DEFAULT_LANDMARKS[1] * (DEFAULT_LANDMARKS[1] - 1) // 2
# The former rule's fewest bars for a fit; kept for benchmarks/validate_topology.py --calibrate and
# benchmarks/sweep_topology_landmarks.py, which re-run the former test (gumbel_pvalues).
MIN_FIT = 30
H0_MIN_NET = 20  # clouds of fewer than 40 distinct points judge H0 on every point
# H0 net: half the points (the n/2 rule: benchmarks/sweep_topology_h0.py), at most this many.
# A choice, not measured: the cap bounds the net's distance matrix (1250^2 float64: 12.5 MB);
# no benchmark compares caps (docs/validation.md#constants-not-yet-measured).
H0_MAX_NET = 1250


def shared_seed(seed: Any) -> int:
    """The one integer seed that :func:`topology_preserved` hands to both of its analyses.

    ``topology_preserved(X, Y, seed=s)`` analyses ``X`` and ``Y`` with ``shared_seed(s)``;
    ``betti_numbers(X, seed=shared_seed(s))`` therefore returns its ``betti_x`` exactly, so a
    caller can analyse each cloud once and compare the results.

    >>> shared_seed(0) == shared_seed(0)
    True
    """
    return int(check_seed(seed).integers(2**63))


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
    rows ``(b, d, size)`` come from the net's spanning tree (:func:`h0_test`); here a
    placeholder."""
    out = [np.zeros((0, 3))]
    for d in dgms[1:]:
        d = d.copy()
        d[~np.isfinite(d[:, 1]), 1] = threshold
        out.append(d[(d[:, 0] > 0) & (d[:, 1] > d[:, 0])])
    return out


def _significance(
    tested: list[np.ndarray],
    alpha: float,
    n_points: int,
    h0_dist: np.ndarray,
    band: float = INTERLEAVING,
) -> tuple[tuple, tuple, tuple]:
    r"""Adjusted p-values per dimension, the counts below ``alpha`` and the critical ratios.

    H0: :func:`h0_pvalues` on the merges of the net ``h0_dist`` (see :func:`h0_test`; the
    rows ``tested[0]`` are replaced by those of its elder-rule pass); its critical ratio is
    that of the smallest candidate component. A dimension :math:`k \ge 1`:
    :func:`outward_test` on its own bars, whatever their number (each candidate's null is
    fitted to the bars below it; no pooling across dimensions), bars within the interleaving
    ``band`` never counted; its critical ratio against the uncounted bars.
    """
    pvals, betti, crit = [], [], []
    for k, t in enumerate(tested):
        if k == 0:
            tested[0], p = h0_test(h0_dist, alpha, n_points)
            pvals.append(p)
            betti.append(int(np.sum(p < alpha)) + 1)  # beta_0 counts the last component too
            min_size = max(MIN_COMPONENT_POINTS, MIN_COMPONENT * n_points)
            n_cand = int(np.sum(tested[0][:, 2] >= min_size)) if len(tested[0]) else 0
            crit.append(h0_critical_ratio(min_size, n_cand, alpha))
            continue
        r = t[:, 1] / t[:, 0]
        p = outward_test(r, band, alpha)
        pvals.append(p)
        betti.append(int(np.sum(p < alpha)))
        crit.append(critical_ratio(r[p >= alpha], alpha, band))
    return tuple(pvals), tuple(betti), tuple(crit)


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
    check_seed(seed)  # still validated; the nets start at points fixed by the cloud (net_starts)
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
    # up to SHARED_DISTANCES points, one distance matrix serves the three greedy orders
    D = pairwise_distances(U) if len(U) <= SHARED_DISTANCES else None
    nets = [_one_net(U, start, maxdim, m, n_landmarks, thr, thr_n, 1.0 - confidence, D)
            for start in net_starts(U)]
    return consensus(nets, e, thr, 1.0 - confidence)


def _one_net(U, start, maxdim, m, n_landmarks, thr, thr_n, alpha, D=None):
    """The test on the greedy order of ``U`` grown from ``start`` (normalised units): betti,
    diagrams, p-values, tested bars, covering radius, scale, critical ratios, resolution,
    near, net radii, exact ranges, cuts. ``D``: the distance matrix of ``U`` when computed."""
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
    size = min(max(m, m1, m0), n)
    order, eps = (maxmin_landmarks(size, int(start), X=U) if D is None else
                  maxmin_landmarks(size, int(start), dist=D))  # greedy
    eps_order = eps  # covering radius of the whole order
    L = order[:m]
    D_all = pairwise_distances(U[order]) if D is None else D[np.ix_(order, order)]
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
    # covering radius (over the distinct points) of the net each dimension is read on: the
    # next landmark's insertion radius in the greedy order (0 when the net is every point)
    def radius(size):  # when the net is every point: its last insertion radius (its spacing)
        if size < len(order):
            return float(D_all[size, :size].min())
        if len(order) < n or size < 2:
            return eps_order
        return float(D_all[size - 1, : size - 1].min())
    sizes = [m0 if j == 0 else k if j == 1 else len(L) for j in range(maxdim + 1)]
    net_radius = tuple(radius(size) for size in sizes)
    band = INTERLEAVING if sparse is not None else 1.0
    pvals, betti, crit = _significance(tested, alpha, m0, D_all[:m0, :m0], band)
    scale = float(np.median(DL[np.triu_indices(len(L), 1)])) if len(L) > 1 else 0.0
    exact_below = tuple(exact_range(r, D_all[:size, :size], sparse)
                        for r, size in zip(net_radius, sizes, strict=True))
    cut = (np.inf, *(critical_ratio(t[:, 1][p >= alpha] / t[:, 0][p >= alpha], alpha, band,
                                    floor=1.0) for t, p in zip(tested[1:], pvals[1:],
                                                               strict=True)))
    resolution, near = resolution_report(tested, pvals, crit, alpha, m0, scale, cut,
                                         exact_below)
    return (betti, dgms, pvals, tuple(tested[: maxdim + 1]), eps, scale, crit, resolution, near,
            net_radius, exact_below, cut)


def betti_result(f: SignificantFeatures) -> BettiNumbers:
    """The :class:`BettiNumbers` of a :func:`significant_features` result."""
    return BettiNumbers(f.betti, f.resolution, f.critical_ratio, f.near,
                        tuple(r / NSW_DENSITY for r in f.net_radius), f.agreement)


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

    **Filtration.** Exact duplicates are merged; maxmin (farthest-point) landmarks :math:`L`
    are grown greedily from a start point, covering radius :math:`\varepsilon_L = d_H(L, X)`.
    The diagrams are those of the sparse Rips filtration of :math:`L` with
    :math:`\epsilon = 0.5` (Cavanna, Jahanseir & Sheehy 2015) over the whole range. The sparse
    diagrams are :math:`(1+\epsilon)`-multiplicatively interleaved with the Rips diagrams of
    :math:`L`, which lie within bottleneck distance :math:`2\varepsilon_L` of those of
    :math:`X` (Chazal, de Silva & Oudot 2014). :math:`H_0` and :math:`H_2` are read on the
    first 400 landmarks, :math:`H_1` on the first :math:`\max(400, n/5)` (``H1_FRACTION``).

    **Three nets.** The whole analysis below runs on ``N_NETS`` = 3 such nets, grown from
    start points fixed by the cloud (:func:`net_starts`: the point farthest from the
    centroid, and the points a third and two thirds down that ranking). Each Betti number is
    the median of the three counts (the majority's when two agree), ``net_agreement`` the
    share of nets that read it, and a dimension where they disagree is near resolution (a
    different landmark set reads it differently), as is one where at least two nets are near
    resolution (only then could the median change in the nets' exact Rips filtrations). The answer does not depend on ``seed``: a
    random start made bars close to the test's cut or the band fall on either side by seed
    (nested spheres, a torus under a linear map, 6 and 9 circles: the same answer at only
    7-8 of 10 seeds), and a fixed start alone would have hidden that; three nets measure it.
    The diagrams, bars, p-values and resolution are those of the first net that reads the
    reported answer.

    **Coefficients.** Homology over the field :math:`\mathbb{Z}/2` (``coeff=2``): torsion is
    invisible and non-orientable shapes read their mod-2 numbers (:math:`\mathbb{RP}^2`:
    (1, 1, 1); the Klein bottle: (1, 2, 1)).

    **Test** (:math:`H_k, k \ge 1`; :func:`~manifold_probe.topology._noise_law.outward_test`).
    For noise bars, :math:`y = \log\log(d/b) = \mu + \sigma\ell` with :math:`\ell` standard
    left-Gumbel, :math:`P(\ell \ge x) = e^{-e^x}` (Bobrowski & Skraba 2023), :math:`\mu,
    \sigma` unknown. Hypotheses :math:`H_j`: "the :math:`n - j` smallest bars are noise",
    tested in sequence (closed testing of nested hypotheses: family-wise error
    :math:`\le \alpha` per dimension, for any number of features). Each test fits the law
    to the bars *below* each candidate only (leave-out: no feature enters the null it is
    tested against) and compares the smallest tail probability over the candidates with its
    exact null law, simulated on standard samples of the same size (the statistic is
    pivotal). No switch in the number of bars; a bar with :math:`d/b \le 1 + \epsilon` never
    counts (the interleaving band). With fewer than four bars nothing can be fitted and a
    bar counts when :math:`d/b > 4` (``FEW_BARS_RATIO``).

    **H0.** Single linkage on a net of half the points (at most 1250); a merge of a
    component of :math:`s` landmarks at :math:`d`, born at :math:`b` (its longest internal
    spanning-tree edge), has :math:`P(d/b - 1 \ge t) = \Gamma(s)\Gamma(t+1)/\Gamma(s+t)`
    under "no gap" (exponential tails of spanning-tree edges, rate integrated out;
    :func:`h0_pvalues`); Bonferroni over the candidate merges, elder rule.

    **Resolution.** Per dimension, the critical ratio :math:`\pi^*` a new largest bar would
    need against the uncounted bars, and the smallest detectable feature
    :math:`\pi^*\tilde b / s` (:math:`\tilde b` the median birth, :math:`s` the median
    pairwise landmark distance; H0: the gap). A dimension :math:`k \ge 1` is read *near
    resolution* when the answer could differ in the exact Rips filtration of the same net, by
    the sparse filtration's own guarantee: it equals the Rips filtration up to
    :math:`T = 2\lambda/\epsilon` (:math:`\lambda` the net's smallest insertion radius) and
    is :math:`(1+\epsilon)`-interleaved with it above, so each bar's Rips ratio lies in a
    computed range (exact when both ends are below :math:`T`;
    :func:`~manifold_probe.topology._resolution.rips_ratio_bounds`), and a counted bar whose
    range reaches down to the test's cut, or an uncounted one whose range reaches above it
    (a significant bar kept out by the band among them), sets ``near_resolution`` and a
    :class:`ResolutionWarning` names the dimension: the answer is reported, not read. With
    three nets, a dimension is near when at least two nets are, or when the nets read it
    differently (``net_agreement`` < 1); H0 is exact single linkage on each net and is near
    only in the latter case. **Density condition**
    (``min_feature_radius``, per dimension, in the data's units): the covering radius
    :math:`\delta` of the net over the sample divided by :math:`\sqrt{3/5}/2`: a net of
    covering radius :math:`\delta` recovers the homology of a manifold whose reach exceeds
    that (Niyogi, Smale & Weinberger 2008); a feature thinner than it is below resolution, and
    its absence from the bars says nothing.

    Validation (families, seeds, noise, the measured rates, the misses and why): the
    ``## Topology`` section of ``docs/validation.md`` and ``benchmarks/validate_topology.py``.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
        The point cloud; Euclidean distances.
    maxdim : int, default=1
        Highest homology dimension.
    confidence : float, default=0.95
        :math:`1 - \alpha`, family-wise per dimension, in (0, 1).
    seed : None, int or numpy.random.Generator, default=None
        Validated and otherwise unused: the nets start at points fixed by the cloud (see
        Three nets), so the answer is the same for every seed. Kept so that existing calls
        (and :func:`topology_preserved`'s shared seed) keep working.
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
        attributes ``resolution``, ``critical_ratio``, ``near_resolution``,
        ``below_resolution``, ``min_feature_radius`` (see Resolution) and ``net_agreement``
        (see Three nets).

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
    complexes", Geom. Dedicata 173. Niyogi, Smale & Weinberger (2008), "Finding the homology
    of submanifolds with high confidence from random samples", Discrete Comput. Geom. 39.
    Penrose (1997), "The longest edge of the random minimal
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
    return betti_result(f)


