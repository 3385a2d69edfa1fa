r"""The verdict on a change of representation: clean vs perturbed (or one layer vs the next).

Row ``i`` of ``X`` (before) and ``Y`` (after) is the same input. :func:`verdict` compares them
with three kinds of evidence, each of which a homeomorphism of the cloud keeps:

(a) **topology** — the significant Betti numbers of a paired subsample agree
    (:func:`manifold_probe.topology_preserved`);
(b) **regions** — the semantic regions (:func:`~manifold_probe.analysis.regions.regions`, H0
    of the density at the scale of the data) of the same subsample: same number, and no region
    merged or split (:func:`~manifold_probe.analysis.labels.compare_regions`); and, when the
    inputs carry a category label (at most 12 values), the labelled regions: for every pair of
    categories the kNN two-sample test (:func:`~manifold_probe.analysis.semantic.label_separation`)
    — a pair separated before (``p < alpha / n_pairs``, Bonferroni) and not after (``p >=
    alpha``) has been glued;
(c) **known structure** — for every structure the inputs' labels carry (days/months cycles,
    number line, the modular-addition answer cycle, a hypernym tree): the permutation test in
    the structure's class-mean subspace (:func:`~manifold_probe.analysis.structure.known_structure`)
    and, for a cycle, the loop itself — a significant :math:`\beta_1` of the labelled points
    projected on their top class-mean plane. A piece of evidence is *broken* when it is
    significant before (``p < alpha``, or :math:`\beta_1 \ge 1`) and not after; a structure
    that appears is not counted (a change that adds structure is not a tear or a collapse).
    Classes whose means coincide (between-class share of the variance
    :math:`\eta^2 \le 10^{-8}`, i.e. equal to float32 rounding) carry no structure.

**Corresponding scales.** A homeomorphism keeps homology only at *corresponding* scales: an
invertible linear map :math:`A` with singular values in :math:`[\sigma_-, \sigma_+]` sends
the Rips complex at radius :math:`r` into the one at :math:`\sigma_+ r` (and back from
:math:`\sigma_- r`), so the persistence diagrams are only
:math:`\sigma_+/\sigma_-`-interleaved; a feature near the significance threshold can cross it
although nothing topological changed, and the top class-mean plane (PCA) is not affine
invariant. So every check compares ``X`` with :math:`Y' = \hat B(Y)`, ``Y`` mapped back into
``X``'s coordinates by the ridge-regularised least-squares linear map
(:func:`linear_pullback`; the ridge set by generalised cross-validation, Golub, Heath &
Wahba 1979, so that it never interpolates when there are fewer inputs than dimensions). When
:math:`\hat B` is injective on the span of ``Y`` (checked; else ``Y`` is used as it is)
:math:`Y'` is a linear homeomorphic image of ``Y`` with the same topology, and the change's
linear part, with all its scale change, is undone: for ``Y = X A``, :math:`Y' = X` and the
verdict is *kept* exactly; what is left to compare is the change's non-linear part, whose
interleaving constants are those of :math:`\hat B \circ f`. Tears, gluings and projections
are not linear (or not invertible) and stay visible: a projection's lost directions cannot
be restored by any map of ``Y``.

The rule. Each check is repeated at every seed offset (``verdict.seeds``) and every subsample
size (``verdict.sizes`` × ``topology.max_points``): a *configuration*. The structure
permutation tests (c) read, in a configuration of size fraction :math:`f` (of the largest
size), a seeded share
:math:`f` of the labelled rows (all of them at the largest size), so that a structure seen at
the edge of significance — present with all its rows, not with half of them — makes the
configurations disagree instead of reading as a confident break
(``benchmarks/verdict_scales.py``, ``docs/validation.md#verdict-scales``). In one configuration the
change *keeps* when (a), (b) and every (c) agree; when (a) is ``"undecided"`` (the Betti
numbers differ only in dimensions read near the sample's resolution, see
:func:`manifold_probe.topology_preserved`) the configuration neither keeps nor breaks, and
it *breaks* when some check differs. The verdict is ``"kept"`` when every
configuration keeps, ``"broken"`` when every one breaks, and ``"undecided"`` otherwise —
the answer depends on the seed or the sample size, so it is not reported as a confident flip.
``topology_preserved`` is true for ``"kept"``, false for ``"broken"`` and ``None`` (undefined:
an empty cell in ``perturbations.csv``) for ``"undecided"``, so that an undecided row never
reads as a confident break. ``broken_by`` names the checks that differ
in every configuration, ``unstable`` those that differ in some, ``scales`` the sizes and seeds.

The model hooks that make the perturbed activations are in :mod:`manifold_probe.capture.perturb`
and :mod:`manifold_probe.capture.transforms` (the keep/break controls).

References
----------
Naitzat, Zhitnikov & Lim (2020), "Topology of deep neural networks", JMLR 21(184).
Chazal, de Silva & Oudot (2014), "Persistence stability for geometric complexes", Geom. Dedicata
173 (interleaving of Rips filtrations under Lipschitz maps).
Golub, Heath & Wahba (1979), "Generalized cross-validation as a method for choosing a good ridge
parameter", Technometrics 21(2).
Fasy et al. (2014), "Confidence sets for persistence diagrams", Annals of Statistics 42(6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from manifold_probe._validation import InputError
from manifold_probe.analysis.measures import (
    compare_topology,
    short_message,
    subsample_indices,
    warp_with,
)
from manifold_probe.analysis.semantic import (
    KnownStructure,
    input_structures,
    label_separation,
    region_labels,
    structure_test,
)
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.neighbors import Neighbors

__all__ = ["PRESERVED", "VERDICTS", "combine_verdicts", "linear_pullback", "measure_perturbation", "measure_verdict_pair",
           "verdict"]

VERDICTS = ("kept", "broken", "undecided")
#: verdict -> ``topology_preserved`` (undefined for an undecided verdict)
PRESERVED = {"kept": True, "broken": False, "undecided": None}


def combine_verdicts(rows: list[dict]) -> dict:
    """One perturbation row from its rows at several seeds: every column combined as
    :func:`~manifold_probe.analysis.table.combine` does, except the verdict, which is
    ``"kept"`` / ``"broken"`` only when every seed says so and ``"undecided"`` otherwise, and
    ``topology_preserved``, read from it.

    >>> combine_verdicts([{"verdict": "kept", "topology_preserved": True},
    ...                   {"verdict": "broken", "topology_preserved": False}])
    {'verdict': 'undecided', 'topology_preserved': None}
    """
    from manifold_probe.analysis.table import combine_rows

    out = combine_rows(rows)
    words = {r.get("verdict") for r in rows if r.get("verdict")}
    if words:
        word = words.pop() if len(words) == 1 else "undecided"
        out["verdict"], out["topology_preserved"] = word, PRESERVED[word]
    return out


def linear_pullback(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, float, bool]:
    r"""``Y`` mapped back into ``X``'s coordinates by the ridge least-squares linear map.

    With :math:`Y_c = U S V^\top` (centred, thin SVD, rank :math:`r`) and :math:`C = U^\top
    X_c`, the ridge solution of :math:`\min_B \|Y_c B - X_c\|_F^2 + \lambda \|B\|_F^2` is
    :math:`B = V \operatorname{diag}(s/(s^2+\lambda)) C` and

    .. math::

        Y' = Y_c B + \bar x = U \operatorname{diag}\big(s^2/(s^2+\lambda)\big) C + \bar x,

    with :math:`\lambda` minimising the generalised cross-validation score
    :math:`n\,\|(I - H_\lambda) X_c\|^2 / (n - \operatorname{tr} H_\lambda)^2` over
    :math:`\{0\} \cup s_1^2 \cdot 10^{[-12, 2]}` (Golub, Heath & Wahba 1979). For
    ``Y = X A + b`` with ``A`` invertible and more inputs than dimensions, :math:`\lambda = 0`
    and :math:`Y' = X` (to rounding). :math:`B` is injective on the span of :math:`Y_c` iff
    :math:`C` has rank :math:`r` (every :math:`s/(s^2+\lambda) > 0`); only then is
    :math:`Y'` homeomorphic to ``Y``.

    Returns
    -------
    Yp : ndarray (n, d_x)
        :math:`Y'`, or ``Y`` itself (as float64) when :math:`B` is not injective on ``Y``.
    r2 : float
        Share of the variance of ``X`` that :math:`Y'` reproduces (1: the change is linear).
    injective : bool
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n = X.shape[0]
    mx = X.mean(axis=0)
    Xc, Yc = X - mx, Y - Y.mean(axis=0)
    total = float(np.sum(Xc**2))
    U, s, _ = np.linalg.svd(Yc, full_matrices=False)
    r = int(np.sum(s > s[0] * np.finfo(float).eps * max(Yc.shape))) if s.size and s[0] > 0 else 0
    if r == 0 or total == 0 or X.shape[1] < r:
        return Y, float("nan"), False
    U, s = U[:, :r], s[:r]
    C = U.T @ Xc
    c2 = np.sum(C**2, axis=1)
    best = (np.inf, 0.0)
    for lam in np.r_[0.0, s[0] ** 2 * np.logspace(-12, 2, 57)]:
        f = s**2 / (s**2 + lam)
        dof = n - f.sum()
        if dof < 0.5:  # lambda = 0 with r = n - 1: interpolation, no cross-validation left
            continue
        score = (total - c2.sum() + np.sum((1 - f) ** 2 * c2)) / dof**2
        if score < best[0]:
            best = (score, lam)
    f = s**2 / (s**2 + best[1])
    Yp = U @ (f[:, None] * C) + mx
    injective = np.linalg.matrix_rank(C) == r
    r2 = 1.0 - float(np.sum((Yp - X) ** 2)) / total
    return (Yp if injective else Y), r2, bool(injective)


def _loop(X: np.ndarray, s: KnownStructure, m: int, est: EstimatorSettings, seed: int) -> bool:
    """Whether the labelled points, projected on their top class-mean plane, carry a loop."""
    from manifold_probe.topology import betti_numbers

    rows = np.flatnonzero(s.labels >= 0)
    y = s.labels[rows]
    classes = np.unique(y)
    M = np.stack([X[rows[y == c]].mean(axis=0) for c in classes])
    centre = M.mean(axis=0)
    _, _, vt = np.linalg.svd(M - centre, full_matrices=False)
    pick = rows[subsample_indices(len(rows), m, seed)]
    Z = (X[pick] - centre) @ vt[:2].T
    b = betti_numbers(Z, maxdim=1, confidence=est.topology.confidence, seed=seed)
    return len(b) > 1 and b[1] >= 1


def _labelled_part(s: KnownStructure, f: float, seed: int) -> KnownStructure:
    """``s`` with only a seeded share ``f`` of its labelled rows kept (the rest ``-1``)."""
    rows = np.flatnonzero(s.labels >= 0)
    if f >= 1.0 or len(rows) == 0:
        return s
    pick = rows[subsample_indices(len(rows), max(1, int(round(f * len(rows)))), seed)]
    y = np.full_like(s.labels, -1)
    y[pick] = s.labels[pick]
    return replace(s, labels=y)


def _structure_evidence(X: np.ndarray, structures: list[KnownStructure], m: int,
                        est: EstimatorSettings, seed: int, f: float = 1.0) -> dict[str, bool]:
    """Which known structures are present in X: name -> significant (the permutation test on
    a share ``f`` of the labelled rows, the loop on ``m`` of them)."""
    out = {}
    for s in structures:
        try:
            rows = s.labels >= 0
            Xl, yl = X[rows], s.labels[rows]
            centred = Xl - Xl.mean(axis=0)
            between = sum((yl == c).sum() * np.sum(centred[yl == c].mean(axis=0) ** 2)
                          for c in np.unique(yl))
            # class means that coincide to float32 precision (eta^2 ~ 1e-14) carry no arrangement
            # to test: the cycle statistic, which reads only angles, would read rounding noise
            if between <= 1e-8 * float(np.sum(centred**2)):
                out[f"structure_{s.name}"] = False
                continue
            part = _labelled_part(s, f, seed)
            out[f"structure_{s.name}"] = (structure_test(X, part, est, seed).p_value
                                          < est.structure.alpha)
            if s.kind == "cycle":
                out[f"loop_{s.name}"] = _loop(X, s, m, est, seed)
        except InputError:
            continue
    return out


def verdict(X: np.ndarray, Y: np.ndarray, est: EstimatorSettings | None = None, seed: int = 0,
            labels: Mapping[str, Any] | None = None) -> dict:
    """The scale-aware verdict on the change ``X -> Y`` (rule in the module docstring).

    Parameters
    ----------
    X, Y : ndarray (n, d_x), (n, d_y)
        The same inputs before and after.
    est : EstimatorSettings, optional
        ``topology`` (subsample, confidence, landmarks, bootstrap), ``regions``,
        ``structure`` and ``verdict`` (seeds, sizes) sections.
    seed : int
        Base seed; configuration seeds are ``seed + offset``.
    labels : mapping of label name to per-input values, optional
        ``category`` and the structure labels (see :mod:`manifold_probe.analysis.semantic`).

    Returns
    -------
    dict
        ``verdict`` (one of :data:`VERDICTS`), ``topology_preserved`` (True / False / None for
        kept / broken / undecided),
        ``broken_by`` and ``unstable`` (``;``-joined check names), ``configs_kept`` (e.g.
        ``"3/4"``), ``scales`` (``"n=150,300 seeds=0,1"``), ``linear_r2`` and ``pulled_back``
        (:func:`linear_pullback`: how linear the change is, and whether the checks ran on
        :math:`Y'`), and the first configuration's Betti numbers (of ``X`` and :math:`Y'`),
        diagram distance and region counts.
    """
    est = EstimatorSettings.from_mapping(est)
    n = X.shape[0]
    if Y.shape[0] != n:
        raise InputError(f"X has {n} rows and Y {Y.shape[0]}; row i must be the same input in both")
    Y, linear_r2, injective = linear_pullback(X, Y)
    # configuration size m (points of the paired subsample) -> fraction f of the labelled
    # rows the structure tests of that configuration read (the largest f giving that m)
    fraction: dict[int, float] = {}
    for f in est.verdict.sizes:
        m = max(20, min(n, int(round(f * est.topology.max_points))))
        fraction[m] = max(fraction.get(m, 0.0), min(1.0, float(f) / max(est.verdict.sizes)))
    sizes = sorted(fraction)
    seeds = [seed + int(o) for o in est.verdict.seeds]
    structures = input_structures(labels) if est.structure.enabled else []
    configs: list[dict[str, bool]] = []
    # the same keys in every row (perturbations.csv takes its columns from the first row)
    first: dict[str, Any] = {"verdict_note": "", "glued": "", "n_regions_clean": None,
                             "n_regions_perturbed": None, "betti_clean": "",
                             "betti_perturbed": "", "diagram_distance": float("nan"),
                             "structures_clean": ""}
    for s in seeds:
        for m in sizes:
            idx = subsample_indices(n, m, s)
            same: dict[str, bool] = {}
            try:
                cmp = compare_topology(X[idx], Y[idx], est, s)
                # None: the verdict is "undecided" (a difference, or an agreement, near the
                # sample's resolution), which neither keeps nor breaks this configuration
                same["topology"] = None if cmp.verdict == "undecided" else cmp.verdict == "preserved"
            except InputError as exc:
                first["verdict_note"] = first["verdict_note"] or short_message(exc)
                cmp = None
            if est.regions.enabled:
                from manifold_probe.analysis.labels import compare_regions

                rx, ry = region_labels(X, idx, est, s), region_labels(Y, idx, est, s)
                t = compare_regions(rx.labels, ry.labels)
                same["regions"] = rx.n_regions == ry.n_regions and not t.merged and not t.split
            y = None if not labels else labels.get(est.regions.label)
            if est.regions.enabled and y is not None and len(np.unique(np.asarray(y))) <= 12:
                px = label_separation(X[idx], np.asarray(y)[idx], est.knn.k, seed=s)
                py = label_separation(Y[idx], np.asarray(y)[idx], est.knn.k, seed=s)
                level = est.structure.alpha / max(len(px), 1)
                glued = [f"{a}+{b}" for (a, b), p in px.items()
                         if p < level and py[(a, b)] >= est.structure.alpha]
                same["label_regions"] = not glued
                if glued:
                    first["glued"] = first["glued"] or ";".join(glued)
            ex = _structure_evidence(X, structures, m, est, s, fraction[m])
            ey = _structure_evidence(Y, structures, m, est, s, fraction[m])
            for key, present in ex.items():
                same[key] = not (present and not ey.get(key, False))
            if not configs:  # the first configuration's details
                first |= {"n_regions_clean": int(rx.n_regions) if est.regions.enabled else None,
                          "n_regions_perturbed": int(ry.n_regions) if est.regions.enabled else None,
                          **({} if cmp is None else {
                              "betti_clean": "-".join(map(str, cmp.betti_x)),
                              "betti_perturbed": "-".join(map(str, cmp.betti_y)),
                              "diagram_distance": float(max(cmp.distances)) if len(cmp.distances)
                              else float("nan")}),
                          "structures_clean": ";".join(k for k, v in ex.items() if v)}
            configs.append(same)
    # a check reads True (keeps), False (breaks) or None (undecided); numpy bools included
    def differs(v: Any) -> bool:
        return v is not None and not v

    kept = [all(v is not None and bool(v) for v in c.values()) for c in configs]
    broken = [any(differs(v) for v in c.values()) for c in configs]
    checks = sorted({k for c in configs for k in c})
    broken_by = [k for k in checks if all(differs(c.get(k, True)) for c in configs)]
    unstable = [k for k in checks if k not in broken_by
                and any(c.get(k, True) is None or differs(c.get(k, True)) for c in configs)]
    word = "kept" if all(kept) else "broken" if all(broken) else "undecided"
    return {"verdict": word, "topology_preserved": PRESERVED[word],
            "broken_by": ";".join(broken_by), "unstable": ";".join(unstable),
            "configs_kept": f"{sum(kept)}/{len(kept)}",
            "scales": f"n={','.join(map(str, sizes))} seeds={','.join(map(str, seeds))}",
            "linear_r2": linear_r2, "pulled_back": injective, **first}


def measure_perturbation(X: np.ndarray, nbx: Neighbors, Y: np.ndarray, est: EstimatorSettings,
                         seed: int, labels: Mapping[str, Any] | None = None) -> dict:
    """One row of the perturbation table for one layer: :func:`verdict` plus how the change
    moves the points.

    Returns
    -------
    dict
        The :func:`verdict` columns, the median relative change :math:`|y_i - x_i| / |x_i|`,
        kNN overlap, trustworthiness, continuity, geodesic distortion and log-ratio, and the
        TwoNN dimensions clean and perturbed.
    """
    s = warp_with(X, Y, nbx, None, est, seed, dimension=True)
    rel = np.linalg.norm(Y - X, axis=1) / np.maximum(np.linalg.norm(X, axis=1), 1e-300)
    return {
        **verdict(X, Y, est, seed, labels),
        "relative_change": float(np.median(rel)),
        "knn_overlap": s.knn_overlap,
        "trustworthiness": s.trustworthiness,
        "continuity": s.continuity,
        "geodesic_distortion": s.geodesic_distortion,
        "geodesic_log_ratio": s.geodesic_log_ratio_median,
        "id_clean": s.id_x,
        "id_perturbed": s.id_y,
    }


def measure_verdict_pair(X: np.ndarray, Y: np.ndarray, est: EstimatorSettings, seed: int,
                         labels: Mapping[str, Any] | None = None) -> dict:
    """``topology_verdict_prev`` (and its detail columns) from layer ``X`` to the next, ``Y``."""
    v = verdict(X, Y, est, seed, labels)
    return {"topology_verdict_prev": v["verdict"], "verdict_broken_by_prev": v["broken_by"],
            "verdict_unstable_prev": v["unstable"], "verdict_scales_prev": v["scales"]}
