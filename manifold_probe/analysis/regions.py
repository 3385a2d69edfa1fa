r"""Semantic regions: significant density clusters of a point cloud, and how they meet labels.

Longer than 500 lines: about half is the public docstring of :func:`regions`, which states
the maths of its methods, two density rules, two consensus rules and where the heights are
read (``peak``); the mode, merge and consensus helpers live in
:mod:`manifold_probe.analysis._modes`, the off-sample flow in :mod:`manifold_probe.analysis._flow`.

A *region* is a mode of the sampling density that stands out of the noise of its estimate:
the superlevel sets :math:`\{f \ge t\}` of the density are tracked on the k-nearest-neighbour
graph as :math:`t` falls (persistence-based clustering, ToMATo), every local maximum starts a
component, and a component dies when it merges with one whose peak is higher. Its
*prominence* is peak minus merge (saddle) level. Which modes are regions is a statistical
decision on the prominence, with bootstrap error bars of the density estimate:

* ``method="peak"`` (default): each mode is tested against the error bars at its own peak and
  saddle — the merge criterion of density-peak clustering (DPA; d'Errico et al. 2021) —
  with a ``correction`` for the many candidate modes: Benjamini–Hochberg (default), none
  (DPA's rule), or a studentised bootstrap band holding at every peak and saddle at once;
* ``method="tomato"`` (earlier versions): one global threshold :math:`2c_\alpha`, with
  :math:`c_\alpha` a bootstrap :math:`(1-\alpha)` quantile of the error of the whole density
  estimate (``band="sup"``, Fasy et al. 2014) or of its H0 diagram (``band="bottleneck"``,
  Chazal et al. 2018). With probability about :math:`1-\alpha` no false region, but little
  power in many dimensions.
* ``method="meanshift"``: the per-mode test of ``"peak"`` at the modes of a Gaussian kernel
  density, found off the sample by mean shift (mode clustering; Chen, Genovese & Wasserman
  2016), in :mod:`manifold_probe.analysis._meanshift`. An option, measured in round 5 of
  ``benchmarks/sweep_regions_rules.py``.

``benchmarks/bench_regions_truth.py`` measures the rules against labelled truth (Gaussian
mixtures at known separations, the MiniLM corpus categories, WordNet lexicographer files), on
featureless clouds (false regions), and beside dadapy's DPA and k-means told the true number
of classes; the table is in the README. ``benchmarks/bench_regions.py`` is the earlier sweep
of the global band.

Functions
---------
:func:`regions`           significant clusters (labels, prominences, p-values, threshold)
:func:`label_agreement`   ARI / NMI with given labels and per-label kNN purity
:func:`compare_regions`   region contingency of two layers: which regions merge or split

References
----------
Chazal, Guibas, Oudot & Skraba (2013), "Persistence-based clustering in Riemannian
manifolds", Journal of the ACM 60(6) — ToMATo.
Fasy, Lecci, Rinaldo, Wasserman, Balakrishnan & Singh (2014), "Confidence sets for persistence
diagrams", Annals of Statistics 42(6) — the sup-norm bootstrap band and the :math:`2c_\alpha` rule.
Chazal, Fasy, Lecci, Michel, Rinaldo & Wasserman (2018), "Robust topological inference:
distance to a measure and kernel distance", JMLR 18(159) — the distance to measure and the
bottleneck bootstrap.
d'Errico, Facco, Laio & Rodriguez (2021), "Automatic topography of high-dimensional data sets
by non-parametric density peak clustering", Information Sciences 560 — the per-mode merge
criterion (peak minus saddle against the sum of their error bars).
Benjamini & Hochberg (1995), "Controlling the false discovery rate", JRSS B 57(1).
Rodriguez, d'Errico, Facco & Laio (2018), "Computing the free energy without collective
variables", J. Chem. Theory Comput. 14(3) — the point-adaptive density PAk and its k*.
Maier, Hein & von Luxburg (2009), "Optimal construction of k-nearest-neighbor graphs for
identifying noisy clusters", Theoretical Computer Science 410(19) — the mutual kNN graph.
Radovanović, Nanopoulos & Ivanović (2010), "Hubs in space: popular nearest neighbors in
high-dimensional data", JMLR 11 — hubs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema
from manifold_probe._validation import (
    InputError,
    check_k,
    check_points,
    check_seed,
)
from manifold_probe.analysis._modes import (  # noqa: F401  (tests reach them here)
    adjacency,
    benjamini_hochberg,
    draw_labels,
    dtm_log,
    edge_list,
    forest_edges,
    h0_diagram,
    majority_labels,
    merge_labels,
    merge_test,
    mode_persistence,
)
from manifold_probe.analysis.labels import (  # re-exported here
    LabelAgreement,
    RegionTransition,
    compare_regions,
    label_agreement,
)

__all__ = [
    "REGIONS_PARAMS",
    "Regions",
    "LabelAgreement",
    "RegionTransition",
    "regions",
    "label_agreement",
    "compare_regions",
]


@dataclass(frozen=True)
class Regions:
    """Significant density clusters of a point cloud.

    Attributes
    ----------
    labels : ndarray of int64, shape (n_points,)
        Region of each point, ``0 .. n_regions-1``, numbered by decreasing prominence.
    n_regions : int
        Number of significant regions (at least 1).
    prominences : ndarray of float64, shape (n_modes,)
        Prominence of every mode of the estimated log-density on the graph, descending (a mode
        that never merges — the global one, or one in a separate component of the graph — is
        measured down to the lowest density of the data). Units:
        :math:`-\\log` of the distance to measure, i.e. log-density divided by the intrinsic
        dimension, so they do not depend on an estimate of the dimension.
    p_values : ndarray of float64, shape (n_modes,)
        ``"peak"``: :math:`1 - \\Phi(\\Delta_m / \\sigma_m)` (see :func:`regions`). ``"tomato"``: bootstrap p-value of each mode: :math:`(1 + \\#\\{b: 2 S_b \\ge \\text{prominence}\\})/(B+1)`
        with :math:`S_b` the bootstrap statistic of replicate ``b`` (bottleneck distance or
        sup-norm deviation, per ``band``). The first mode is kept whatever its p-value.
    threshold : float
        ``"tomato"``: :math:`2 c_\\alpha`, modes with prominence above it are regions.
        ``"peak"``: the median of ``thresholds`` (each mode has its own).
    alpha : float
        Confidence level used for ``threshold``.
    k : int
        Neighbours used for the graph and the distance to measure.
    band : str
        ``"sup"`` or ``"bottleneck"``: the bootstrap band of ``method="tomato"`` (kept as passed
        under ``"peak"``, which does not use it).
    n_boot : int
        Bootstrap replicates.
    basis : str
        One sentence stating the significance rule.
    method : str
        ``"peak"`` (per-mode statistical merge criterion) or ``"tomato"`` (global bootstrap
        band); see :func:`regions`.
    thresholds : ndarray of float64, shape (n_modes,)
        The prominence each mode needed to be a region: :math:`z_{1-\\alpha}\\sigma_m` for
        ``"peak"``, :math:`2c_\\alpha` for every mode for ``"tomato"``.
    peaks, saddles : ndarray of int64, shape (n_modes,)
        Row of each mode's peak and of the saddle where it merges into an elder mode (for a
        mode that never merges, the row of the lowest density).
    draw_counts : ndarray of int64, shape (n_draws,) or None
        ``consensus`` other than ``"none"``: the number of regions the finder read on each
        bootstrap draw (then ``labels`` and ``n_regions`` are the consensus, while
        ``prominences``, ``p_values`` and ``thresholds`` are those of the full-sample density).
    bandwidth : float or None
        ``method="meanshift"``: the kernel bandwidth ``h``, in the units of ``X``.
    modes : ndarray of float64, shape (n_modes, n_features), or None
        ``method="meanshift"``: the modes of the kernel density (the mean-shift limits, off the
        sample), in the order of ``prominences``; ``peaks`` are then the rows whose ascent
        founded each mode and ``saddles`` the rows nearest each saddle point. ``peak="flow"``:
        the limits of the k-NN mean-shift flow from each peak vertex (``peaks``; ``saddles``
        stay the saddle vertices, even where the saddle height was read on a segment).
    """

    labels: np.ndarray
    n_regions: int
    prominences: np.ndarray
    p_values: np.ndarray
    threshold: float
    alpha: float
    k: int
    band: str
    n_boot: int
    basis: str
    method: str = "tomato"
    thresholds: np.ndarray | None = None
    peaks: np.ndarray | None = None
    saddles: np.ndarray | None = None
    draw_counts: np.ndarray | None = None
    bandwidth: float | None = None
    modes: np.ndarray | None = None


_BASIS = {
    "peak": (
        "mode prominence of -log DTM on the symmetrised kNN graph, peak minus saddle, > "
        "z_(1-alpha) (sd(peak) + sd(saddle)), sd from the multinomial bootstrap (the merge "
        "criterion of d'Errico et al. 2021)"
    ),
    "peak-difference": (
        "mode prominence of -log DTM on the symmetrised kNN graph, peak minus saddle, > "
        "z_(1-alpha) sd(peak - saddle), sd from the multinomial bootstrap (the merge criterion "
        "of d'Errico et al. 2021 with the bootstrap error of the difference)"
    ),
    "bottleneck": (
        "mode prominence of -log DTM on the symmetrised kNN graph > 2 c_alpha, c_alpha = (1-alpha) "
        "bootstrap quantile of the bottleneck distance between the H0 diagrams of the bootstrap "
        "and sample -log DTM (Chazal et al. 2018, bottleneck bootstrap)"
    ),
    "sup": (
        "mode prominence of -log DTM on the symmetrised kNN graph > 2 c_alpha, c_alpha = (1-alpha) "
        "bootstrap quantile of sup_i |log DTM*(x_i) - log DTM(x_i)| (Fasy et al. 2014)"
    ),
}


_CORRECTION_BASIS = {
    "none": "",
    "fdr": "; Benjamini-Hochberg step-up over the modes at level alpha",
    "simultaneous": "; z replaced by the (1-alpha) bootstrap quantile of the studentised sup "
    "deviation over all peaks and saddles",
}


#: The settings of :func:`regions` (see :mod:`manifold_probe._params`). ``n_boot >= 20``: the
#: bootstrap's (1 - alpha) quantile at alpha = 0.05 needs at least 1/alpha replicates.
REGIONS_PARAMS = Schema(
    "regions",
    # k=60: set by `benchmarks/sweep_regions_rules.py` (--sweep density2), see
    # docs/validation.md#regions
    Param("k", int, 60, "neighbours of the density (distance to measure)", ge=2),
    # graph_k=20: set by `benchmarks/sweep_regions_rules.py` (--sweep density2), see
    # docs/validation.md#regions
    Param("graph_k", int, 20, "neighbours of the symmetrised graph on which modes and saddles "
          'are read (density "dtm")', ge=2),
    Param("graph", str, "symmetric", 'the graph of the modes (density "dtm"): "symmetric" an '
          'edge if either end is among the other\'s graph_k nearest; "mutual" if each is (with '
          'every point\'s edge to its nearest)', choices=("symmetric", "mutual")),
    Param("alpha", float, 0.05, "level of each mode's test (\"peak\") or of the bootstrap band "
          "(\"tomato\")", gt=0.0, lt=1.0),
    Param("n_boot", int, 200, "bootstrap replicates", ge=20),
    Param("band", str, "sup", 'method "tomato": "sup" sup-norm density band (Fasy et al. 2014, '
          'guaranteed); "bottleneck" H0 bottleneck bootstrap (Chazal et al. 2018, more power)',
          choices=("sup", "bottleneck")),
    Param("method", str, "peak", '"peak": each mode against its own bootstrap error bars (the '
          'merge criterion of DPA); "tomato": one global bootstrap band (earlier versions); '
          '"meanshift": the same test at the modes of a kernel density found by mean shift',
          choices=("peak", "tomato", "meanshift")),
    Param("bandwidth", str, "knn", 'method "meanshift": the kernel bandwidth, "knn" the median '
          'k-NN distance over sqrt(TwoNN dimension); "normal" the normal-reference rule for '
          'gradient estimation; "lcv" leave-one-out likelihood cross-validation; "adaptive" '
          'per-point bandwidths by Abramson\'s square-root law, scaled by that cross-validation',
          choices=("knn", "normal", "lcv", "adaptive")),
    Param("correction", str, "fdr", 'method "peak": "fdr" Benjamini-Hochberg over the modes; '
          '"simultaneous" error bars holding at every peak and saddle; "none" each mode alone',
          choices=("none", "fdr", "simultaneous")),
    Param("error_bar", str, "difference", 'method "peak": the error bar of a prominence, the '
          'bootstrap sd of peak minus saddle ("difference") or sd(peak) + sd(saddle) ("sum", DPA)',
          choices=("difference", "sum")),
    Param("density", str, "dtm", 'method "peak": "dtm" distance to measure at k with bootstrap '
          'error bars; "pak" point-adaptive density in the intrinsic dimension (PAk, k* <= 2k + '
          '10) with its likelihood error bars', choices=("dtm", "pak")),
    # peak="sample": kept by rounds 7 and 8 of `benchmarks/sweep_regions_rules.py` (--sweep
    # flow, --sweep step) and benchmarks/check_regions_flow.py, see docs/validation.md#regions
    Param("peak", str, "sample", 'method "peak", density "dtm", no consensus: where a mode\'s '
          'peak and saddle heights are read, "flow" off the sample (the peak at the limit of '
          'the k-NN mean-shift flow from its vertex, the saddle the higher of its vertex and '
          'the lowest point on the segment between the flowed peaks); "step" every height one '
          'flow step off the sample (at the mean of each point\'s k nearest); "sample" at the '
          'vertices', choices=("sample", "flow", "step")),
)


def regions(
    X: Any,
    k: int = 60,
    *,
    alpha: float = 0.05,
    n_boot: int = 200,
    seed: int | np.random.Generator | None = None,
    neighbors: Any = None,
    band: str = "sup",
    method: str = "peak",
    correction: str = "fdr",
    error_bar: str = "difference",
    density: str = "dtm",
    graph_k: int = 20,
    graph: str = "symmetric",
    consensus: str = "none",
    n_draws: int = 25,
    bandwidth: str = "knn",
    peak: str = "sample",
) -> Regions:
    r"""Significant density clusters ("semantic regions") of a point cloud.

    1. Density: :math:`g(x) = -\log \mathrm{DTM}_k(x)`, the distance to the empirical measure
       with mass :math:`k/n` (root mean squared distance to the ``k`` nearest other points).
       For a density :math:`f` on a ``d``-dimensional manifold,
       :math:`\mathrm{DTM}_k(x) \propto f(x)^{-1/d}` to first order, so ``g`` is
       :math:`\log f / d` up to a constant and its superlevel sets are those of ``f``.
    2. Modes and prominences: persistence of the superlevel sets of ``g`` on the symmetrised
       graph of the ``graph_k`` nearest neighbours (ToMATo; Chazal et al. 2013). Mode :math:`m` is born at its peak vertex
       :math:`p_m` and dies at the saddle vertex :math:`s_m` where it meets a higher mode
       (elder rule); its prominence is :math:`\Delta_m = g(p_m) - g(s_m)`. A point is
       attached to the mode reached by repeatedly stepping to its highest neighbour.
    3. Bootstrap: ``n_boot`` multinomial replicates reweight the sample and give
       :math:`g^*_b` at every point (the DTM of the reweighted empirical measure).
    4. Significance, by ``method``:

       * ``"peak"`` (default): a statistical merge criterion for each mode, as in the
         density-peak clustering of d'Errico et al. (2021): mode :math:`m` is a region when

         .. math:: \Delta_m > z_{1-\alpha}\,\sigma_m,

         with :math:`z_{1-\alpha}` the standard normal quantile (1.645 at ``alpha=0.05``) and
         :math:`\sigma_m` the error bar of the prominence, by ``error_bar``:
         ``"difference"`` (default) the bootstrap standard deviation of
         :math:`g^*(p_m) - g^*(s_m)` itself; ``"sum"`` the bound
         :math:`\sigma(p_m) + \sigma(s_m)` of DPA, which holds whatever the correlation of the
         two estimates but overstates the error of two distant, nearly independent ones by up to
         :math:`\sqrt 2`. p-value: :math:`1 - \Phi(\Delta_m / \sigma_m)`. The error bars
         are pointwise; the peak and the saddle are selected (a maximum and a minimax) among
         many candidates, so how often a featureless cloud reads an extra region depends on
         ``correction`` and on ``k``:

         - ``"none"``: each mode tested at level :math:`\alpha` (the rule of DPA). The most
           power, but on a curve (a noisy circle) the density estimate fluctuates along the
           curve and each bump passes on its own;
         - ``"fdr"`` (default): the modes the Benjamini–Hochberg step-up rule keeps at level
           :math:`\alpha` over the :math:`M` candidate modes (the :math:`j`-th smallest
           p-value passes when some :math:`j' \ge j` has :math:`p_{(j')} \le j'\alpha/M`).
           On a featureless cloud every candidate is null, so the chance of any false
           region is at most :math:`\alpha` as far as the p-values are valid. Selection makes
           them optimistic, and the more so the smaller ``k``: the multinomial bootstrap of a
           statistic of ``k`` neighbours understates its sampling error at small ``k`` (a
           resample leaves out about 37% of the points), and on a noisy circle in
           :math:`\mathbb R^{10}` the ``"difference"`` bar read a false region in 6 of 35
           featureless clouds at ``k = 15``, 4 at 25, 1 at 40 and 0 at 60
           (``benchmarks/sweep_regions_rules.py``);
         - ``"simultaneous"``: :math:`z_{1-\alpha}` replaced by :math:`c_\alpha`, the
           :math:`(1-\alpha)` bootstrap quantile of the studentised deviation
           :math:`\max_{x \in C} |g^*_b(x) - \bar g^*(x)| / \sigma(x)` over the set
           :math:`C` of all peaks and saddles, so that the error bars hold at every
           critical point at once (a studentised sup band, as in Fasy et al. 2014, taken
           over the critical points instead of every sample point).

         The defaults (``k=60``, ``graph_k=20``, ``error_bar="difference"``,
         ``correction="fdr"``, ``density="dtm"``) were chosen by
         ``benchmarks/sweep_regions_rules.py`` (its docstring states the rule, declared before
         the candidates were compared): admissible when at most :math:`\alpha` = 5% of 35
         featureless clouds read more than one region; then the most of two targets met —
         every clear development mixture read with the right count at 4 of 5 seeds, and a
         mean ARI on real layers (MiniLM corpus categories, WordNet lexicographer files) at
         least dadapy's — then the most clear mixtures right. Reading the modes on a sparser
         graph than the density's (20 neighbours instead of 60) puts the saddle between two
         groups on the points that really lie between them: on MiniLM the ARI with the corpus
         categories rises from 0.05 (``k = 40`` on its own graph) to 0.28 (dadapy 0.09), with
         0 of 35 featureless clouds read as several regions and 7 of 8 clear mixtures right
         (not the 20-d mixture of 5 components 6 sd apart: 3, 5, 4, 3, 5 over the seeds;
         every component holds a mode, and the test merges those whose prominence at the
         sample stands under 2 error bars: in 20-d the sample lies on shells about
         :math:`\sqrt{20}` sd from each centre, and the modes and valleys of the density
         lie where no point is, ``benchmarks/diagnose_regions_20d.py``). A
         10-NN graph read 3 or 4 false regions (0 or 1 with ``correction="simultaneous"``, at
         6 of 8 clear mixtures), 20 neighbours at ``k = 40`` and 15 at ``k = 60`` read 2, the
         point-adaptive density (``density="pak"``) 5 to 12. ``bench_regions_truth.py``
         measures the default and the other rules on labelled and featureless clouds (table in
         the README).

         ``density="pak"``: instead of the distance to measure, the point-adaptive density of
         DPA (Rodriguez et al. 2018): each point's :math:`k^*_i \le 2k + 10` by the
         likelihood-ratio test of constant density in the TwoNN intrinsic dimension
         :math:`d` (:func:`~manifold_probe.analysis._modes.kstar`), the log-density by the
         PAk likelihood (:func:`~manifold_probe.analysis._modes.pak_log_density`) with its
         error :math:`\varepsilon_i = \sqrt{(4k^*_i+2)/((k^*_i-1)k^*_i)}`, the modes on the
         symmetrised :math:`k^*` graph, and the error bar of a prominence
         :math:`\sqrt{\varepsilon_p^2 + \varepsilon_s^2}` (``"difference"``) or
         :math:`\varepsilon_p + \varepsilon_s` (``"sum"``). Here the exponent matters: the
         volume of a ball of radius :math:`r` is taken as :math:`r^d` with the intrinsic
         :math:`d`, not the ambient dimension (with :math:`k` fixed, as for the distance to
         measure, :math:`d` only scales :math:`g` and the rule does not depend on it).
       * ``"tomato"`` (the rule of earlier versions): modes with prominence
         :math:`> 2c_\alpha` are regions, where :math:`c_\alpha` is the :math:`(1-\alpha)`
         quantile of :math:`S_b`; ``band="sup"``: :math:`S_b = \max_i |g^*_b(x_i) - g(x_i)|`
         (Fasy et al. 2014), a simultaneous band, hence a guarantee on false regions and little
         power in many dimensions; ``band="bottleneck"``: :math:`S_b =
         W_\infty(\mathrm{Dgm}_0(g^*_b), \mathrm{Dgm}_0(g))`, the bottleneck distance of the
         H0 diagrams on the same graph (Chazal et al. 2018, bottleneck bootstrap).

       Every other mode is merged into the elder mode it meets first (ToMATo's merge). Because
       ``g`` is :math:`\log f/d` up to a constant and the bootstrap is taken in the same
       units, both rules are the same whatever the intrinsic dimension ``d`` and the scale of
       ``X``.

    Assumptions: the points are an i.i.d. sample; the kNN graph at ``k`` connects each region
    (points of a region form one graph component at its levels). Regions are modes of the
    density: groups of points that are distinct by direction but not separated by a valley of
    lower density (labels that a nearest-neighbour classifier reads, say) are one region.
    Separated blobs whose kNN graphs do not touch are distinct modes whose prominence runs
    down to the lowest density of the data.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
    k : int, default=60
        Neighbours of the distance to measure (mass ``k/n``); smaller ``k`` resolves smaller
        regions but reads more false ones (see ``correction``).
    alpha : float, default=0.05
        Level of each mode's test (``"peak"``) or of the bootstrap band (``"tomato"``).
    n_boot : int, default=200
        Bootstrap replicates.
    seed : int or Generator, optional
    neighbors : Neighbors, optional
        A precomputed graph of ``X`` with at least ``max(2k + 10, graph_k)`` neighbours (for the bootstrap);
        computed when absent.
    band : {"sup", "bottleneck"}, default="sup"
        ``method="tomato"`` only: the bootstrap statistic for :math:`c_\alpha` (see above).
    method : {"peak", "tomato", "meanshift"}, default="peak"
        The significance rule (see above). ``benchmarks/bench_regions_truth.py`` measures
        ``"peak"`` and ``"tomato"`` against labelled truth, beside dadapy's density-peak
        clustering and k-means. ``"meanshift"``: mode clustering (Chen, Genovese & Wasserman
        2016, "A comprehensive approach to mode clustering", Electron. J. Statist. 10): each
        point ascends the Gaussian kernel density :math:`\hat f_h` by mean shift (Comaniciu &
        Meer 2002) to a mode, read where the estimate peaks rather than at a sample point; the
        saddle between two modes whose basins the ``graph_k`` graph joins is the lowest
        :math:`\log\hat f_h` on the segment between them, the elder rule runs over these pairs,
        and each mode is tested as under ``"peak"`` (prominence
        :math:`\log\hat f_h(m) - \log\hat f_h(s_m)` against the multinomial-bootstrap sd of
        that difference, ``correction`` and ``error_bar`` as there). The maths, the bandwidth
        rules and the references are in :mod:`manifold_probe.analysis._meanshift`. Measured in
        round 5 of ``benchmarks/sweep_regions_rules.py`` (see docs/validation.md#regions).
    correction : {"none", "fdr", "simultaneous"}, default="fdr"
        ``method="peak"`` only: how the per-mode tests allow for the many candidate modes
        (see above).
    error_bar : {"difference", "sum"}, default="difference"
        ``method="peak"`` only: the error bar of a prominence, the bootstrap standard
        deviation of peak minus saddle or the sum of their two standard deviations (DPA's).
    density : {"dtm", "pak"}, default="dtm"
        The density estimate: the distance to measure at ``k`` with bootstrap error bars, or
        the point-adaptive PAk density with its likelihood error bars (see above; it needs
        ``method="peak"`` and ``correction`` ``"fdr"`` or ``"none"``).
    graph_k : int, default=20
        Neighbours of the symmetrised graph on which modes, saddles and the ascent to a mode
        are read (``density="dtm"``; ``"pak"`` uses each point's :math:`k^*`).
    graph : {"symmetric", "mutual"}, default="symmetric"
        ``density="dtm"`` only: the graph of the modes. ``"symmetric"``: an edge when either
        end is among the other's ``graph_k`` nearest; ``"mutual"``: when each is (Maier, Hein
        & von Luxburg 2009, "Optimal construction of k-nearest-neighbor graphs for identifying
        noisy clusters", Theor. Comput. Sci. 410(19)), with every point's edge to its nearest
        neighbour so that none is isolated. In many dimensions points near a group's centre
        are hubs, listed among the nearest of another group's facing rim; the mutual graph
        drops those edges and lowers the saddle (on 5 unit Gaussians 6 sd apart in 20-d: 87
        to 162 edges between groups instead of 361 to 588). Measured in round 4 of
        ``benchmarks/sweep_regions_rules.py`` (``sweep_regions_graph.json``): at
        ``graph_k = 20`` it reads that mixture 4, 5, 4, 4, 5 (default 3, 5, 4, 3, 5; the
        target is 5 at 4 of 5 seeds), 1 false region of 35 (default 0), development-mixture
        ARI 0.706 (0.701), and 9 to 28 regions on MiniLM layers 0-5 (default 2 to 7), so it
        is not the default; at 30 and 40 neighbours it reads no false region, fewer regions
        and a lower ARI (mixtures 0.680, 0.684; MiniLM 0.275, 0.193 against 0.281).
    consensus : {"none", "majority", "modal"}, default="none"
        ``density="dtm"``, ``method="peak"`` only: a consensus over bootstrap draws instead of
        the full-sample partition. The draws are the first ``n_draws`` multinomial replicates
        of step 3: on each, the finder is run on the bootstrap density :math:`g^*_b` (its modes
        on the same graph, each tested by the same merge criterion and error bars).
        ``"majority"``: regions are the connected components of the graph edges whose ends
        share a region in at least half of the draws, components under ``graph_k`` points
        joined to their neighbour of highest co-assignment; ``"modal"``: the modal region
        count over the draws (ties: the smaller) and the partition of the first draw with
        that count. Measured against the default in round 3 of
        ``benchmarks/sweep_regions_rules.py`` (``sweep_regions_consensus.json``): neither
        reads the 20-d mixture of 5 components 6 sd apart at 4 of 5 seeds; ``"majority"``
        merges (an edge needs only half the draws, and the draws merge different pairs):
        development-mixture ARI 0.55 against 0.70; ``"modal"`` reads as the default does
        (ARI 0.70, real clouds 0.19 against 0.20) with 1 false region of 35 instead of 0,
        at about 7 times its cost.
    n_draws : int, default=25
        Bootstrap draws of the consensus (at most ``n_boot``).
    bandwidth : {"knn", "normal", "lcv", "adaptive"}, default="knn"
        ``method="meanshift"`` only: the kernel bandwidth :math:`h`. ``"knn"``:
        :math:`\operatorname{median}_i r_k(x_i)/\sqrt{\hat d}` with :math:`r_k` the distance
        to the ``k``-th neighbour and :math:`\hat d` the TwoNN dimension (a Gaussian kernel's
        mass lies at radius :math:`h\sqrt d`, so it reaches the ``k`` nearest); ``"normal"``:
        :math:`\bar S (4/(D+4))^{1/(D+6)} n^{-1/(D+6)}` (normal reference for the gradient,
        Chacón, Duong & Wand 2011), :math:`\bar S` the root mean coordinate variance;
        ``"lcv"``: the :math:`h` maximising the leave-one-out likelihood; ``"adaptive"``:
        :math:`h_i = h (r_k(x_i)/\bar r)^{\hat d/2}` (Abramson's square-root law with the
        k-NN pilot density, :math:`\bar r` the geometric mean), :math:`h` by the same
        cross-validation (:mod:`manifold_probe.analysis._bandwidth`; the result's
        ``bandwidth`` is then the median :math:`h_i`). Measured in round 6 of
        ``benchmarks/sweep_regions_rules.py``: neither reads the 20-d mixtures or MiniLM's
        categories (docs/validation.md#regions).

    peak : {"sample", "flow", "step"}, default="sample"
        ``method="peak"``, ``density="dtm"``, no consensus: where each mode's heights are read.
        ``"sample"``: at its peak and saddle vertices. ``"flow"``: the distance to measure off
        the sample — the peak at the limit :math:`x^*` of the k-NN mean-shift flow
        :math:`x \leftarrow` mean of its ``k`` nearest sample points, started at the peak vertex
        (a descent of :math:`d_k` that stops at an exact fixed point, a local maximum of
        :math:`g`; :mod:`manifold_probe.analysis._flow`), the saddle the higher of its vertex
        and the lowest :math:`g` on the segment from :math:`x^*` to the flowed peak of the elder
        it merges into; the bootstrap reads the reweighted :math:`d_k` at the same points, and
        the modes (``modes``: the :math:`x^*`) are listed by the flowed prominence. Measured in
        round 7 of ``benchmarks/sweep_regions_rules.py``: it reads the 20-d mixture of 5
        components 6 sd apart 5, 5, 5, 6, 5 and 8 of 8 clear mixtures right, but 14 of 140
        fresh featureless clouds as several regions (the noisy circle in R^10 11 of 20; the
        default 5 of 140), so it is not the default (docs/validation.md#regions).
        ``"step"``: every height, peaks and saddles alike, read one step of the same flow off
        the sample, :math:`g(y_i)` at :math:`y_i` the mean of the ``k`` sample points nearest
        :math:`x_i` (itself included; :math:`g(y_i) \ge g(x_i)`), on the same graph of the
        points, the bootstrap reading the reweighted :math:`d_k` at the same :math:`y_i`
        (:mod:`manifold_probe.analysis._flow`). Measured in round 8 of
        ``benchmarks/sweep_regions_rules.py``: 0 of 175 featureless clouds as several regions,
        but components of 100 points flatten at ``k = 60`` (the 20-d mixture above 1 at every
        seed, 2 of 8 clear mixtures right), so it is not the default.

    Returns
    -------
    Regions

    Raises
    ------
    InputError
        Bad points, ``k`` too large, ``alpha`` outside (0, 1), ``n_boot < 20``, unknown
        ``band``, ``method``, ``correction``, ``error_bar``, ``graph``, ``peak`` or ``consensus``,
        ``peak`` other than ``"sample"`` outside ``method="peak"``, ``density="dtm"`` without consensus, a consensus with
        ``density="pak"`` or ``method="tomato"``, ``n_draws`` outside ``[1, n_boot]``, a
        precomputed graph with too few neighbours.

    References
    ----------
    Chazal et al. (2013) JACM 60(6); Fasy et al. (2014) Ann. Statist. 42(6); Chazal et al.
    (2018) JMLR 18; d'Errico, Facco, Laio & Rodriguez (2021), "Automatic topography of
    high-dimensional data sets by non-parametric density peak clustering", Information
    Sciences 560 — the merge criterion.
    Maier, Hein & von Luxburg (2009), Theor. Comput. Sci. 410(19) — the mutual kNN graph.
    Radovanović, Nanopoulos & Ivanović (2010), "Hubs in space: popular nearest neighbors in
    high-dimensional data", JMLR 11 — hubs.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) + 12])
    >>> regions(X, seed=0).n_regions
    2
    """
    from scipy.stats import norm

    from manifold_probe.neighbors import cached_knn, check_graph

    A = check_points(X, min_points=20, what="regions")
    n = len(A)
    (k, graph_k, graph, alpha, n_boot, band, method, bandwidth, correction, error_bar,
     density, peak) = REGIONS_PARAMS.check(k=k, graph_k=graph_k, graph=graph, alpha=alpha,
                                           n_boot=n_boot, band=band, method=method,
                                           bandwidth=bandwidth, correction=correction,
                                           error_bar=error_bar, density=density,
                                           peak=peak).values()
    if peak != "sample" and (method != "peak" or density != "dtm" or consensus != "none"):
        raise InputError(
            f'peak={peak!r} reads the distance to measure off the sample at the modes of '
            f'method="peak", density="dtm" without a consensus (got method={method!r}, '
            f'density={density!r}, consensus={consensus!r}); leave peak at "sample" otherwise')
    if density == "pak" and (method != "peak" or correction == "simultaneous"):
        raise InputError(
            f'density="pak" has analytic error bars and no bootstrap: it needs method="peak" '
            f'and correction "fdr" or "none" (got method={method!r}, '
            f'correction={correction!r}); use density="dtm" for the bootstrap rules')
    if method == "meanshift" and density != "dtm":
        raise InputError(f'method="meanshift" reads its own kernel density: leave density at '
                         f'"dtm" (got density={density!r})')
    if consensus not in ("none", "majority", "modal"):
        raise InputError(f'consensus must be "none", "majority" or "modal", got {consensus!r}')
    if consensus != "none":
        if density != "dtm" or method != "peak":
            raise InputError(
                f'consensus={consensus!r} draws the bootstrap densities of density="dtm" with '
                f'method="peak" (got density={density!r}, method={method!r})')
        if not isinstance(n_draws, (int, np.integer)) or not 1 <= n_draws <= n_boot:
            raise InputError(f"n_draws must be an integer in [1, n_boot={n_boot}], got "
                             f"{n_draws!r}: the draws are bootstrap replicates of the merge test")
    k = check_k(k, n, what="regions", min_k=2)
    rng = check_seed(seed)
    graph_k = check_k(graph_k, n, what="regions (graph_k)", min_k=2)
    # multinomial weights of 2k + 10 neighbours hold mass >= k w.h.p.; the graph needs graph_k
    K = min(n - 1, max(2 * k + 10, graph_k))
    from manifold_probe._cost_guards import guard_regions
    from manifold_probe._validation import normalize_cloud

    guard_regions(n_boot, n, K, band)
    # prominences and threshold are differences of log DTM: invariant to translation and
    # scale. Centred and rescaled (with a given graph), x1e300 and x1e-300 read as x1
    A, neighbors, exponent = normalize_cloud(A, neighbors)
    centre = A.mean(axis=0)
    A = A - centre  # after the rescaling: the mean of x1e300 values would overflow
    if neighbors is None:
        # through the graph cache: the label purity of the same rows reads this graph too
        nb = cached_knn(A, K)
    else:
        nb = check_graph(neighbors, A, K, what="regions (max(2k + 10, graph_k) neighbours)")
        nb = nb.truncate(K)
    dist, idx = nb.distances, nb.indices
    if density == "pak":
        return _regions_pak(dist, idx, A, nb, k=k, alpha=alpha, n_boot=n_boot, band=band,
                            correction=correction, error_bar=error_bar)
    if method == "meanshift":
        from manifold_probe.analysis._meanshift import regions_meanshift

        ms = regions_meanshift(A, dist, nb, adjacency(nb.truncate(graph_k),
                                                      mutual=graph == "mutual"),
                               k=k, alpha=alpha, n_boot=n_boot, rng=rng, rule=bandwidth,
                               correction=correction, error_bar=error_bar)
        ms.pop("iterations")
        ms["bandwidth"] = float(np.ldexp(ms["bandwidth"], exponent))
        ms["modes"] = np.ldexp(ms["modes"] + centre, exponent)
        return Regions(**ms, alpha=alpha, k=k, band=band, n_boot=n_boot, method=method)
    g = -dtm_log(dist, None, k)
    if peak == "step":
        # every height read one flow step off the sample, at the mean of each point's k
        # nearest (_flow.py); the graph stays that of the points
        from manifold_probe.analysis._flow import step_heights

        g, dist, idx = step_heights(A, k, K, idx)

    adj = adjacency(nb.truncate(graph_k), mutual=graph == "mutual")
    peaks, prom, attach, merged_into, _, saddle_of = mode_persistence(g, adj)
    by_prominence = np.argsort(-prom, kind="stable")
    peaks, prom = peaks[by_prominence], prom[by_prominence]
    lowest = int(np.argmin(g))  # a mode that never merges is measured down to here
    saddles = np.array([saddle_of.get(int(p), lowest) for p in peaks], dtype=np.int64)
    limits = None
    if peak == "flow":
        # each peak read at the limit of the k-NN mean-shift flow from its vertex (_flow.py)
        from manifold_probe.analysis._flow import flowed_peaks, flowed_saddles

        limits, fdist, fidx = flowed_peaks(A, peaks, k, K)
        gs, sdist, sidx, seg = flowed_saddles(A, g, peaks, saddles, merged_into, limits, k, K)
        prom = -dtm_log(fdist, None, k) - gs
        # modes by decreasing prominence read off the sample (the first is kept, as above)
        o = np.argsort(-prom, kind="stable")
        peaks, saddles, prom, limits, fdist, fidx, seg = (
            a[o] for a in (peaks, saddles, prom, limits, fdist, fidx, seg))

    # Bootstrap: multinomial weights and the DTM of the reweighted sample. "tomato" needs the
    # statistic S_b over all points; "peak" needs g* only at the peaks and saddles.
    if method == "peak" and consensus == "none":
        where = np.unique(np.concatenate([peaks, saddles]))
    else:
        where = np.arange(n)
    s1 = np.zeros(len(where))
    s2 = np.zeros(len(where))
    stat = np.empty(n_boot)
    extra = 0 if limits is None else len(peaks) + len(sdist)  # the off-sample columns
    devs = np.empty((n_boot, len(where) + extra)) if method == "peak" else None
    if method == "tomato" and band == "bottleneck":
        forest = forest_edges(edge_list(adj), n)
        ref = h0_diagram(g, forest(g))
    rows_d, rows_i, rows_g = dist[where], idx[where], g[where]
    if limits is not None:  # the flowed peaks, then the segment saddles, after the sample rows
        rows_d, rows_i = np.vstack([rows_d, fdist, sdist]), np.vstack([rows_i, fidx, sidx])
        rows_g = np.concatenate([rows_g, -dtm_log(fdist, None, k), -dtm_log(sdist, None, k)])
        s1, s2 = np.zeros(len(rows_g)), np.zeros(len(rows_g))
    chunk = max(1, int(2e7 // (len(rows_g) * K)))
    for b0 in range(0, n_boot, chunk):
        nbk = min(chunk, n_boot - b0)
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=nbk).astype(np.float64)
        gb = -dtm_log(rows_d[None], w[:, rows_i], k)
        dev = gb - rows_g[None]
        s1 += dev.sum(axis=0)
        s2 += (dev * dev).sum(axis=0)
        if method == "peak":
            devs[b0 : b0 + nbk] = dev
            continue
        if band == "sup":
            stat[b0 : b0 + nbk] = np.abs(dev).max(axis=1)
        else:
            import gudhi

            for j in range(nbk):
                stat[b0 + j] = gudhi.bottleneck_distance(h0_diagram(gb[j], forest(gb[j])), ref)

    if method == "peak":
        sd = np.sqrt(np.maximum(s2 / n_boot - (s1 / n_boot) ** 2, 0.0) * n_boot / (n_boot - 1))
        col = np.searchsorted(where, np.concatenate([peaks, saddles]))
        if limits is not None:
            col[: len(peaks)] = len(where) + np.arange(len(peaks))
            on_seg = np.flatnonzero(seg >= 0)  # saddles read on a segment
            col[len(peaks) + on_seg] = len(where) + len(peaks) + seg[on_seg]
        sd_sum = sd[col[: len(peaks)]] + sd[col[len(peaks) :]]
        if error_bar == "difference":
            # the bootstrap standard deviation of g*(p_m) - g*(s_m) itself (a mode that never
            # merges is measured to the lowest point, which may be its own peak: sd 0, p 0)
            sd_sum = (devs[:, col[: len(peaks)]] - devs[:, col[len(peaks) :]]).std(axis=0, ddof=1)
        z = float(norm.ppf(1.0 - alpha))
        if correction == "simultaneous":
            # studentised sup band over the critical points (peaks and saddles)
            dev_sd = np.abs(devs - devs.mean(axis=0)) / np.where(sd > 0, sd, np.inf)
            z = float(np.quantile(dev_sd.max(axis=1), 1.0 - alpha))
        keep, p_values, thresholds = merge_test(prom, sd_sum, z, alpha, correction)
        threshold = float(np.median(thresholds))
        if consensus != "none":
            # where = every point here: devs[b] is g*_b - g at every point
            draws = [draw_labels(g + devs[b], devs, adj, z, alpha, correction, error_bar, sd)
                     for b in range(n_draws)]
    else:
        c_alpha = float(np.quantile(stat, 1.0 - alpha))
        threshold = 2.0 * c_alpha
        thresholds = np.full(len(peaks), threshold)
        p_values = np.array([(1 + np.sum(2.0 * stat >= p)) / (n_boot + 1) for p in prom])
        keep = prom > threshold
    keep[0] = True  # the global mode is always a region
    labels = merge_labels(peaks, keep, merged_into, attach)
    n_regions = int(keep.sum())
    draw_counts = None
    basis_consensus = ""
    if consensus != "none":
        draw_counts = np.array([int(lab.max()) + 1 for lab in draws], dtype=np.int64)
        if consensus == "modal":
            values, freq = np.unique(draw_counts, return_counts=True)
            modal = int(values[np.argmax(freq)])  # ties: the smaller count
            labels = draws[int(np.flatnonzero(draw_counts == modal)[0])]
            basis_consensus = (f"; consensus: the modal count over {n_draws} bootstrap draws of "
                               "the density, the partition of the first draw with that count")
        else:
            labels = majority_labels(draws, adj, min_size=graph_k)
            basis_consensus = (f"; consensus: components of the graph edges co-assigned in >= "
                               f"1/2 of {n_draws} bootstrap draws of the density, components "
                               f"under graph_k = {graph_k} points merged into their neighbour")
        n_regions = int(labels.max()) + 1
    return Regions(
        labels=labels,
        n_regions=n_regions,
        prominences=prom,
        p_values=np.asarray(p_values, dtype=np.float64),
        threshold=threshold,
        alpha=alpha,
        k=k,
        band=band,
        n_boot=n_boot,
        basis=_BASIS[band if method == "tomato" else "peak" if error_bar == "sum"
                     else "peak-difference"]
        + _CORRECTION_BASIS[correction if method == "peak" else "none"] + basis_consensus
        + ("; each peak read off the sample, at the limit of the k-NN mean-shift flow from its "
           "vertex" if limits is not None else "")
        + ("; every height read one k-NN mean-shift step off the sample (at the mean of each "
           "point's k nearest)" if peak == "step" else ""),
        method=method,
        thresholds=np.asarray(thresholds, dtype=np.float64),
        peaks=peaks,
        saddles=saddles,
        draw_counts=draw_counts,
        modes=None if limits is None else np.ldexp(limits + centre, exponent),
    )


def _regions_pak(dist: np.ndarray, idx: np.ndarray, A: np.ndarray, nb: Any, *, k: int,
                 alpha: float, n_boot: int, band: str, correction: str,
                 error_bar: str) -> Regions:
    """``density="pak"``: modes of the PAk log-density on the k* graph, DPA's error bars."""
    from scipy.stats import norm

    from manifold_probe.analysis._modes import kstar, kstar_adjacency, pak_log_density
    from manifold_probe.dimension import NearDuplicateWarning, twonn

    with warnings.catch_warnings():
        # near-coincident points: TwoNN reads the decimated cloud and says so; here the
        # dimension is only the exponent of the volumes
        warnings.simplefilter("ignore", NearDuplicateWarning)
        dim = float(twonn(A, neighbors=nb, scale_check=False, seed=0).dimension)
    dim = max(dim, 1.0)
    ks = kstar(dist, idx, dim)
    g, err = pak_log_density(dist, ks, dim)
    peaks, prom, attach, merged_into, _, saddle_of = mode_persistence(g, kstar_adjacency(idx, ks))
    by_prominence = np.argsort(-prom, kind="stable")
    peaks, prom = peaks[by_prominence], prom[by_prominence]
    lowest = int(np.argmin(g))
    saddles = np.array([saddle_of.get(int(p), lowest) for p in peaks], dtype=np.int64)
    ep, es = err[peaks], np.where(saddles == peaks, 0.0, err[saddles])
    # "difference": PAk estimates at a peak and a distant saddle are nearly independent
    sd = np.hypot(ep, es) if error_bar == "difference" else ep + es
    z = float(norm.ppf(1.0 - alpha))
    keep, p_values, thresholds = merge_test(prom, sd, z, alpha, correction)
    keep[0] = True
    return Regions(
        labels=merge_labels(peaks, keep, merged_into, attach),
        n_regions=int(keep.sum()),
        prominences=prom,
        p_values=np.asarray(p_values, dtype=np.float64),
        threshold=float(np.median(thresholds)),
        alpha=alpha,
        k=k,
        band=band,
        n_boot=n_boot,
        basis=(f"mode prominence of the PAk log-density (intrinsic dimension {dim:.3g}, k* by "
               "the likelihood-ratio test of constant density) on the symmetrised k* graph, "
               "peak minus saddle, > z_(1-alpha) "
               + ("sqrt(eps_peak^2 + eps_saddle^2)" if error_bar == "difference"
                  else "(eps_peak + eps_saddle)")
               + ", eps = sqrt((4k*+2)/((k*-1)k*)) (Rodriguez et al. 2018; d'Errico et al. 2021)")
        + _CORRECTION_BASIS[correction],
        method="peak",
        thresholds=np.asarray(thresholds, dtype=np.float64),
        peaks=peaks,
        saddles=saddles,
    )
