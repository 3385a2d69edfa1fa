"""Significant Betti numbers: landmark Rips diagrams with a bootstrap confidence band."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._validation import (
    check_float,
    check_int,
    check_points,
    check_seed,
    unique_rows,
)
from manifold_probe.topology._persistence import (
    ComplexTooLarge,
    check_maxdim,
    check_n_landmarks,
    check_threshold,
    maxmin_landmarks,
    pairwise_distances,
    rips_diagrams,
)

__all__ = ["betti_numbers", "significant_features"]

MAX_POINTS = 4000  # the analysis keeps a full distance matrix: 4000^2 float64 = 128 MB
# Auto threshold (step 3 of betti_numbers): manifold classes are born by BIRTH_FACTOR x the
# sampling scale s0 (measured on circles, spheres and tori: births <= 1.6 s0); the threshold
# leaves room above that for the band.
BIRTH_FACTOR = 1.75
BAND_ROOM = 2.2  # threshold = birth scale + BAND_ROOM x eps_L (bands measured ~eps_L)
DEFAULT_BOOTSTRAP = 20
MAX_RAISES = 2  # the auto threshold grows at most 1.5^2 = 2.25-fold
# Simplices (estimated) allowed per Rips computation here: it runs 1 + n_bootstrap times, and
# ~1e6 estimated simplices (~3e5 actual) already take ~2.5 s each.
MAX_SIMPLICES_BOOTSTRAP = 1e6
UNDECIDED_SPAN = 0.7
MIN_HALF = 20  # clouds of fewer than 2 * MIN_HALF distinct points use every point


@dataclass(frozen=True)
class SignificantFeatures:
    """Internal result of :func:`significant_features` (shared by the verdict)."""

    betti: tuple[int, ...]
    diagrams: list  # landmark diagrams, deaths inf where alive at the threshold
    bands: tuple[float, ...]  # half-width of the confidence band per dimension (L-inf)
    threshold: float
    covering_radius: float
    scale: float  # median pairwise distance of the landmarks: the cloud's size


def _clip(dgm: np.ndarray, threshold: float) -> np.ndarray:
    out = dgm.copy()
    out[:, 1] = np.minimum(out[:, 1], threshold)
    return out


def hausdorff_band(dist: np.ndarray, confidence: float, rng: np.random.Generator,
                   n_subsamples: int = 100) -> float:
    """Fasy et al. (2014) subsampling: quantile of d_H(subsample of size n/log n, sample)."""
    n = dist.shape[0]
    if n < 3:
        return 0.0
    b = max(1, int(n / np.log(n)))
    h = np.empty(n_subsamples)
    for i in range(n_subsamples):
        S = rng.choice(n, b, replace=False)
        h[i] = dist[S].min(axis=0).max()  # rows: contiguous gather; dist is symmetric
    return float(np.quantile(h, confidence, method="higher"))


def _sampling_scale(DL: np.ndarray, eps: float) -> float:
    """Sampling scale of the landmarks: their covering radius or long MST edges."""
    from scipy.sparse.csgraph import minimum_spanning_tree

    if DL.shape[0] < 2:
        return 0.0
    mst = minimum_spanning_tree(DL).data
    mst = mst[mst > 0]
    local = float(np.quantile(mst, 0.99)) if len(mst) else 0.0
    return max(local, eps)


def _undecided(dgms: list, thr: float, bands: tuple, birth: float) -> bool:
    """Is a class born at the manifold scale (by ``birth`` or in the lower 70% of the window)
    alive at ``thr`` but not yet clear of its band? Then ``thr`` was too small to judge it.
    (Classes born just below ``thr`` are always alive there; they are not waited for.)"""
    for k in range(1, len(dgms)):
        d = dgms[k]
        b = d[~np.isfinite(d[:, 1]), 0]
        b = b[b <= max(birth, UNDECIDED_SPAN * thr)]
        if np.any((thr - b) / 2.0 <= bands[k]):
            return True
    return False


def significant_features(
    X: Any,
    maxdim: int = 1,
    confidence: float = 0.95,
    seed: Any = None,
    n_landmarks: int | None = None,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    threshold: float | str | None = "auto",
) -> SignificantFeatures:
    """The computation behind :func:`betti_numbers`, with everything it found."""
    import gudhi

    X = check_points(X, min_points=1, what="betti_numbers")
    maxdim = check_maxdim(maxdim)
    confidence = check_float(confidence, name="confidence", low=0.0, high=1.0, low_open=True,
                             high_open=True)
    default_m = n_landmarks is None
    m = check_n_landmarks(n_landmarks, maxdim)
    n_bootstrap = check_int(n_bootstrap, name="n_bootstrap", minimum=1)
    auto = isinstance(threshold, str) and threshold == "auto"
    thr = np.inf if auto else check_threshold(threshold)
    rng = check_seed(seed)

    first, _, _ = unique_rows(X)
    U = X[first]
    if len(U) > MAX_POINTS:
        U = U[np.sort(rng.choice(len(U), MAX_POINTS, replace=False))]
    n = len(U)
    if default_m and n >= 2 * MIN_HALF:
        # at most half the points: every bootstrap resample (~63% distinct points) then still
        # holds more points than landmarks, so its landmark net is as dense as the sample's
        # and births hardly move (the band stays near eps_L; see the threshold below)
        m = min(m, n // 2)
    dist = pairwise_distances(U)

    L, eps = maxmin_landmarks(m, int(rng.integers(n)), dist=dist)
    DL = dist[np.ix_(L, L)]
    scale = float(np.median(DL[np.triu_indices(len(L), 1)])) if len(L) > 1 else 0.0
    c_h = hausdorff_band(dist, confidence, rng)
    floor = (max(c_h, eps),) + (eps,) * maxdim  # smallest band per dimension
    all_points = len(L) > 0.5 * n
    birth = 0.0
    if auto:
        s0 = _sampling_scale(DL, eps)
        birth = BIRTH_FACTOR * s0
        # Room above the births: with all points as landmarks the sparser bootstrap resamples
        # are born up to ~2x later, so (thr - b)/2 must beat b; with fewer landmarks the net
        # is about as dense in every resample and the band is about eps_L. Raised below when
        # that guess is short.
        thr = 3.0 * birth if all_points else birth + BAND_ROOM * eps
        if not thr > 0:
            thr = np.inf
    dmax = float(DL.max()) if len(L) > 1 else 0.0
    # Resamples drawn once, so that raising the threshold re-examines the same resamples.
    resamples = [np.unique(rng.integers(n, size=n)) for _ in range(n_bootstrap if maxdim else 0)]
    starts = [int(rng.integers(len(idx))) for idx in resamples]

    if thr >= dmax:
        thr = np.inf
    for _ in range(30):  # an auto threshold shrinks until the complex fits in memory
        try:
            dgms = rips_diagrams(DL, maxdim, thr, MAX_SIMPLICES_BOOTSTRAP)
            break
        except ComplexTooLarge:
            if not auto:
                raise
            thr = min(thr, dmax) * 0.8
    else:  # pragma: no cover - 0.8^30 of the diameter always fits
        raise ComplexTooLarge("no threshold small enough for the Rips complex was found")

    for attempt in range(MAX_RAISES + 1):
        ref = [dgms[0]] + [_clip(d, thr) for d in dgms[1:]]  # H0 is exact (no threshold)

        # Bottleneck bootstrap (Chazal et al. 2018) for H1 and up: resample the cloud with
        # replacement, redo the landmark diagrams, take the confidence quantile of the
        # bottleneck distances to the diagram of the sample.
        stats = np.zeros((len(resamples), maxdim + 1))
        for b, (idx, start) in enumerate(zip(resamples, starts, strict=True)):
            Db = dist[np.ix_(idx, idx)]
            Lb, _ = maxmin_landmarks(m, start, dist=Db)
            dg_b = rips_diagrams(Db[np.ix_(Lb, Lb)], maxdim, thr, 4 * MAX_SIMPLICES_BOOTSTRAP)
            for k in range(1, maxdim + 1):
                stats[b, k] = gudhi.bottleneck_distance(_clip(dg_b[k], thr), ref[k])
        c = (
            np.quantile(stats, confidence, axis=0, method="higher")
            if len(resamples)
            else np.zeros(maxdim + 1)
        )
        bands = tuple(float(max(ck, fk)) for ck, fk in zip(c, floor, strict=True))
        if not auto or not np.isfinite(thr) or attempt == MAX_RAISES:
            break
        if not _undecided(dgms, thr, bands, birth):
            break
        raised = thr * 1.5 if thr * 1.5 < dmax else np.inf
        try:
            dgms = rips_diagrams(DL, maxdim, raised, MAX_SIMPLICES_BOOTSTRAP)
        except ComplexTooLarge:
            break  # keep the largest threshold that fits
        thr = raised

    betti = []
    for k in range(maxdim + 1):
        half = (ref[k][:, 1] - ref[k][:, 0]) / 2.0
        count = int(np.sum(half > bands[k]))
        if k == 0:
            count = max(count, 1)
        betti.append(count)
    return SignificantFeatures(tuple(betti), dgms, bands, float(thr), eps, scale)


def betti_numbers(
    X: Any,
    maxdim: int = 1,
    confidence: float = 0.95,
    seed: Any = None,
    *,
    n_landmarks: int | None = None,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    threshold: float | str | None = "auto",
) -> tuple[int, ...]:
    r"""Betti numbers counting only the statistically significant features.

    What is counted: the classes of the Vietoris–Rips diagrams (see :func:`persistence`; edge
    lengths, Euclidean) whose distance to the diagonal exceeds a confidence band,

    .. math::

        eta_k = \#\{(b, d) \in D_k : (d - b)/2 > w_k\},

    where :math:`(d - b)/2` is the :math:`L^\infty` distance of the point to the diagonal, i.e.
    the bottleneck cost of calling it noise. Infinite bars count (with :math:`d` set to the
    threshold). :math:`eta_0 \ge 1` always.

    How, step by step:

    1. Exact duplicates are merged; above 4000 distinct points a seeded uniform subsample of
       4000 is analysed (the band is then that of the subsample).
    2. ``n_landmarks`` maxmin landmarks :math:`L` (default 1000 / 400 / 300 / 120 for
       ``maxdim`` 0 / 1 / 2 / higher, and at most half the distinct points when there are 40
       or more) with covering radius
       :math:`arepsilon_L = d_H(L, X)`.
    3. Scale: H0 is exact (minimum spanning tree). For H1 and up the Rips filtration is cut
       at a threshold :math:`r_{\max}` — a manifold's homology is visible between its
       sampling scale and its reach. With :math:`s_0` the landmarks' sampling scale (largest
       of :math:`\varepsilon_L` and the 99th percentile of their minimum-spanning-tree
       edges), classes of the manifold are taken to be born by :math:`\beta = 1.75\,s_0`
       (measured on well-sampled circles, spheres and tori: births <= 1.6 :math:`s_0`), and
       :math:`r_{\max} = \beta + 2.2\,\varepsilon_L` (:math:`3\beta` when every point is a
       landmark, whose resamples are born later). If a class born by
       :math:`\max(\beta, 0.7\,r_{\max})` is still
       alive at :math:`r_{\max}` but not clear of its band, :math:`r_{\max}` grows by 1.5
       (at most twice) and the band is recomputed on the same resamples. Classes alive at
       :math:`r_{\max}` count with :math:`d = r_{\max}`; classes born after :math:`\beta` and
       alive at :math:`r_{\max}` are rarely significant and are judged as they stand.
    4. Band, H0: Fasy et al. (2014) subsampling: :math:`c` = ``confidence``-quantile of the
       Hausdorff distance between 100 random subsamples of :math:`n/\log n` points and the
       sample; :math:`w_0 = \max(c, arepsilon_L)`.
    5. Band, H1 and up: the bottleneck bootstrap (Chazal et al. 2018): ``n_bootstrap``
       resamples with replacement, each through the same landmark and threshold pipeline;
       :math:`c_k` = ``confidence``-quantile of :math:`d_B(D_k^*, D_k)`;
       :math:`w_k = \max(c_k, arepsilon_L)` — the floor :math:`arepsilon_L` keeps
       artefacts of the landmark net out (they lie within :math:`2arepsilon_L` of the
       diagonal by stability, measured within about :math:`arepsilon_L`).

    Assumptions: the cloud samples a compact set, roughly uniformly at the landmark scale;
    noise small against the features' size. The band is a heuristic confidence set (the
    bootstrap is proven for distance-to-measure filtrations, not Rips); it is deterministic
    given ``seed`` and does not depend on the thread count.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
        The point cloud; Euclidean distances.
    maxdim : int, default=1
        Highest homology dimension.
    confidence : float, default=0.95
        Level :math:`1 - lpha` of the band, in (0, 1).
    seed : None, int or numpy.random.Generator, default=None
        Seeds landmarks, subsamples and resamples.
    n_landmarks : int or None, default=None
        Landmarks per Rips computation (``None``: by ``maxdim``, as above).
    n_bootstrap : int, default=20
        Bootstrap resamples for the H1+ band.
    threshold : "auto", float or None, default="auto"
        Edge-length cut of the filtration: "auto" as in step 3, a number, or ``None`` for the
        full complex (slow above a few hundred landmarks in H2).

    Returns
    -------
    tuple of int, length maxdim + 1

    Raises
    ------
    InputError
        Bad points or parameters.

    References
    ----------
    Fasy, Lecci, Rinaldo, Wasserman, Balakrishnan & Singh (2014), "Confidence sets for
    persistence diagrams", Ann. Stat. 42. Chazal, Fasy, Lecci, Michel, Rinaldo & Wasserman
    (2018), "Robust topological inference: distance to a measure and kernel distance", JMLR 18.
    Chazal, de Silva & Oudot (2014), "Persistence stability for geometric complexes".

    Examples
    --------
    >>> import numpy as np
    >>> t = np.random.default_rng(0).uniform(0, 2 * np.pi, 200)
    >>> betti_numbers(np.c_[np.cos(t), np.sin(t)], maxdim=1, seed=0)
    (1, 1)
    """
    return significant_features(
        X, maxdim, confidence, seed, n_landmarks, n_bootstrap, threshold
    ).betti
