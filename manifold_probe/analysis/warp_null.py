r"""The null of the warp readings between two layers, as a Monte Carlo test at a stated level.

A measure of the layer profile (:func:`manifold_probe.analysis.measures.measure_pair` calls
:func:`warp_null`): geodesic distortion, kNN overlap, trustworthiness and continuity of the
map ``X[i] -> Y[i]``, each against the same reading on :data:`_WARP_NULL_DRAWS` jointly
Gaussian pairs with the two layers' joint mean and covariance
(:func:`~manifold_probe.analysis.nulls.matched_gaussian_pairs`), with a Monte Carlo p-value
(:func:`~manifold_probe.analysis.nulls.monte_carlo_p`; its floor is 1/(B + 1) = 0.05) and the
call at :data:`WARP_NULL_ALPHA`. How many draws, on how many rows, and what they cost:
``benchmarks/bench_warp_null.py`` (``docs/validation.md#warp-null``).

Over the layer pairs of a run the calls are family-wise (:func:`warp_family_calls`, applied
where the profile's table is assembled): Westfall and Young's max-T over every warp reading
of a seed (:func:`~manifold_probe.analysis.nulls.max_t_adjust`), whose floor stays
1/(B + 1) = 0.05 however many pairs the run has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from manifold_probe.analysis.distinct import distinct_pair
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.analysis.warping import warp
from manifold_probe.neighbors import knn

__all__ = ["WARP_NULL_ALPHA", "WARP_NULL_KEYS", "warp_family_calls", "warp_null"]

#: jointly Gaussian pairs drawn for the warp null: the Monte Carlo p-value's floor is
#: 1/(B + 1) = 0.05, so a reading farther from the null's centre than every draw reads
#: above/below at WARP_NULL_ALPHA; more draws resolve smaller p but cost linearly
# set by `benchmarks/bench_warp_null.py`, see docs/validation.md#warp-null
_WARP_NULL_DRAWS = 19
#: above this many rows the null and the reading it is compared with are measured on a seeded
#: subsample of this size (the warp measures depend on n, so both sides of the call have the
#: same rows); the null's covariance is that of every row
# set by `benchmarks/bench_warp_null.py`, see docs/validation.md#warp-null
_WARP_NULL_MAX_ROWS = 1000
#: level of the warp calls: above/below where the p is at most this; per reading in a pair
#: task's own result, family-wise over every warp reading of a seed in the profile's table
#: (:func:`warp_family_calls`)
WARP_NULL_ALPHA = 0.05
#: the warp readings that get a null (the log-ratio median is a change of scale, not a warp)
WARP_NULL_KEYS = ("geodesic_distortion", "knn_overlap", "trustworthiness", "continuity")
#: readings closer than this count as tied (the four are dimensionless and O(1): a linear map
#: and its Gaussian pair both read distortion ~1e-16)
_WARP_TIE = 1e-9


def _pair_readings(A: np.ndarray, B: np.ndarray, est: EstimatorSettings,
                   rng: np.random.Generator) -> dict[str, float]:
    """The readings of :data:`WARP_NULL_KEYS` of :func:`~manifold_probe.warp` on the pair
    ``A -> B`` with the profile's settings (geodesic sources drawn from ``rng``), on graphs
    built here (not checked again, :func:`~manifold_probe.neighbors.graphs_built_here`), with
    nothing kept in the shared caches
    (:func:`~manifold_probe.analysis._reuse.not_kept`): a null's draws and a subsample are
    never seen again, and keeping their graphs and distances would evict the layers' own."""
    from manifold_probe.analysis._reuse import not_kept
    from manifold_probe.neighbors import graphs_built_here

    k = est.knn.k
    with not_kept(), graphs_built_here():  # the graphs are mp.knn's of A and B, checked there
        s = warp(A, B, k=k, neighbors_x=knn(A, k), neighbors_y=knn(B, k),
                 geodesic=est.geodesic.enabled, n_sources=est.geodesic.n_sources,
                 geodesic_method=est.geodesic.method, dimension=False, curvature=False,
                 seed=rng, rank_rows=est.knn.rank_rows)
    keys = WARP_NULL_KEYS if s.geodesic is not None else WARP_NULL_KEYS[1:]
    return {key: float(getattr(s, key)) for key in keys}


def warp_null(X: np.ndarray, Y: np.ndarray, est: EstimatorSettings, seed: int, suffix: str,
              layer: dict) -> dict:
    r"""The warp readings against jointly Gaussian pairs with the layers' joint mean and
    covariance (:func:`~manifold_probe.analysis.nulls.matched_gaussian_pairs`), as a Monte
    Carlo test.

    :data:`_WARP_NULL_DRAWS` (:math:`B`) pairs with as many rows as the layers (at most
    :data:`_WARP_NULL_MAX_ROWS`) are drawn and read like the layers; per reading :math:`t` of
    :data:`WARP_NULL_KEYS`, with the draws :math:`T_b`,

    .. math:: p = \frac{1 + \#\{b : |T_b - c| \ge |t - c|\}}{B + 1},

    :math:`c` the median of the :math:`B + 1` values
    (:func:`~manifold_probe.analysis.nulls.monte_carlo_p`). When the layers are a jointly
    Gaussian pair the reading and the draws are exchangeable and the test is exact at every
    level, up to the covariance being estimated from the layers rather than known (its effect
    on the level is measured in ``benchmarks/bench_warp_null.py``). **Its floor is**
    :math:`1/(B+1)` = 0.05 with 19 draws: the p-value cannot say more than "farther out than
    every draw", so the call is at :data:`WARP_NULL_ALPHA` = 0.05 and a smaller level needs
    more draws. Columns: ``<key>_null_<suffix>`` (mean of the draws), ``_null_lo``/``_null_hi``
    (their range, the grey band of the figure), ``<key>_p_<suffix>``, ``warp_p_min_<suffix>``
    (the floor) and ``<key>_vs_null_<suffix>``: ``above``/``below`` (the side of :math:`c`)
    where :math:`p \le` :data:`WARP_NULL_ALPHA`, ``within`` otherwise. The draws themselves,
    in the order drawn, are ``<key>_null_draws_<suffix>`` (a list): the profile's table
    replaces the per-reading call by the family-wise one over the run's layer pairs
    (:func:`warp_family_calls`) and leaves the lists out.

    Above :data:`_WARP_NULL_MAX_ROWS` distinct rows both sides of the test have that many
    rows: the draws, and the reading re-measured on a subsample drawn with ``seed``
    (``<key>_compared_<suffix>``, ``warp_null_rows_<suffix>``); the covariance is that of
    every row. A row permutation applied to both layers then changes which rows are drawn
    (the test's law stays the same); at or below the cap the draws depend on the rows only
    through their mean and covariance, and the p-values are the same for any order of the
    rows (with every row a geodesic source, or geodesics off).

    References
    ----------
    Barnard, G. A. (1963). Discussion of Bartlett, "The spectral analysis of point processes".
    J. R. Stat. Soc. B 25, 294. Davison, A. C. & Hinkley, D. V. (1997). *Bootstrap Methods and
    their Application*, §4.2.5. Venna, J. & Kaski, S. (2001). Neighborhood preservation in
    nonlinear projection methods.
    """
    from manifold_probe.analysis.nulls import matched_gaussian_pairs, monte_carlo_p

    X, Y, _, _, _ = distinct_pair(X, Y, None, None)
    rng = np.random.default_rng([seed, 0x3A9])  # one stream per pair task, apart from the warp's
    n = X.shape[0]
    m = min(n, _WARP_NULL_MAX_ROWS)
    out: dict[str, Any] = {}
    reading = {key: layer.get(f"{key}_{suffix}") for key in WARP_NULL_KEYS}
    if n > m:
        rows = np.sort(rng.choice(n, m, replace=False))
        reading = _pair_readings(X[rows], Y[rows], est, rng)
        out[f"warp_null_rows_{suffix}"] = m
        out.update({f"{key}_compared_{suffix}": v for key, v in reading.items()})
    draws: dict[str, list[float]] = {}
    for Xn, Yn in matched_gaussian_pairs(X, Y, _WARP_NULL_DRAWS, seed=rng, n=m):
        for key, v in _pair_readings(Xn, Yn, est, rng).items():
            draws.setdefault(key, []).append(v)
    out[f"warp_p_min_{suffix}"] = 1.0 / (_WARP_NULL_DRAWS + 1)
    for key, vals in draws.items():
        v = np.asarray(vals, dtype=np.float64)
        if not np.isfinite(v).all():
            continue
        out[f"{key}_null_{suffix}"] = float(v.mean())
        out[f"{key}_null_lo_{suffix}"] = float(v.min())
        out[f"{key}_null_hi_{suffix}"] = float(v.max())
        out[f"{key}_null_draws_{suffix}"] = v.tolist()
        r = reading.get(key)
        p, side = monte_carlo_p(np.nan if r is None else r, v, tol=_WARP_TIE)
        out[f"{key}_p_{suffix}"] = p
        out[f"{key}_vs_null_{suffix}"] = (None if not np.isfinite(p) else
                                          side if p <= WARP_NULL_ALPHA else "within")
    return out


_DRAWS = re.compile(r"(\w+)_null_draws_(prev|input)")


def warp_family_calls(by_seed: Mapping[tuple[int, int], Sequence[dict]],
                      alpha: float = WARP_NULL_ALPHA) -> None:
    r"""The warp calls made family-wise over the layer pairs of a run, one family per seed, in
    place.

    ``by_seed`` maps ``(layer, seed)`` to that layer's task results for the seed (the pair
    tasks' dicts of :func:`warp_null`, with their ``<key>_null_draws_<suffix>``). Per seed,
    every warp reading with draws (every :data:`WARP_NULL_KEYS` of every ``pair_prev`` and
    ``pair_input`` task: :math:`m` = 4 × (2L − 1) for L blocks, 44 for MiniLM's 6) is one test
    of the family; the readings are those the null was compared with
    (``<key>_compared_<suffix>`` where present). Westfall and Young's single-step max-T
    (:func:`~manifold_probe.analysis.nulls.max_t_adjust`, ties within the warp null's
    tolerance) gives ``<key>_p_fwer_<suffix>``, and ``<key>_vs_null_<suffix>`` becomes
    ``above``/``below`` (the side of the null's centre) where it is at most ``alpha``,
    ``within`` otherwise: over a seed, the chance that any layer pair whose map is its linear
    part plus Gaussian noise is called above or below is at most ``alpha`` (under the
    conditions stated in :func:`~manifold_probe.analysis.nulls.max_t_adjust`: exact where
    the pairs' readings are independent, conservative under Šidák's condition). The table
    then prints a call only where every seed gives it (``undecided`` otherwise), which can
    only lower the error. A reading with a p-value but no stored draws (a result written
    before the draws were kept) cannot join the family: its p_fwer is NaN and its call
    ``undecided``. The draw lists are removed from the dicts (they are not table columns).

    Raises
    ------
    InputError
        ``alpha`` not in (0, 1), or a seed's readings with different numbers of draws.

    References
    ----------
    Westfall, P. H. & Young, S. S. (1993). *Resampling-Based Multiple Testing*, §2.6.
    """
    from manifold_probe._validation import InputError
    from manifold_probe.analysis.nulls import max_t_adjust, monte_carlo_p

    if not 0.0 < float(alpha) < 1.0:
        raise InputError(f"alpha must lie in (0, 1) (the family-wise level of the warp calls); "
                         f"got {alpha}")
    families: dict[int, list[tuple[dict, str, str]]] = {}
    for (_, seed), results in sorted(by_seed.items()):
        for res in results:
            for col in list(res):
                if (m := _DRAWS.fullmatch(col)) and m[1] in WARP_NULL_KEYS:
                    families.setdefault(seed, []).append((res, m[1], m[2]))
            # readings with a p but without draws (an older result): no family-wise call
            for key in WARP_NULL_KEYS:
                for sfx in ("prev", "input"):
                    if (f"{key}_p_{sfx}" in res and f"{key}_null_draws_{sfx}" not in res
                            and res.get(f"{key}_vs_null_{sfx}") is not None):
                        res[f"{key}_p_fwer_{sfx}"] = float("nan")
                        res[f"{key}_vs_null_{sfx}"] = "undecided"
    for seed, members in families.items():
        readings, draws = [], []
        for res, key, sfx in members:
            r = res.get(f"{key}_compared_{sfx}", res.get(f"{key}_{sfx}"))
            readings.append(np.nan if r is None else float(r))
            draws.append(np.asarray(res.pop(f"{key}_null_draws_{sfx}"), dtype=np.float64))
        if len({len(d) for d in draws}) > 1:
            raise InputError(f"the warp nulls of seed {seed} have different numbers of draws "
                             f"({sorted({len(d) for d in draws})}); rerun the pair tasks with "
                             f"one setting so that every reading has the same draws")
        adjusted = max_t_adjust(readings, np.vstack(draws), tol=_WARP_TIE)
        for (res, key, sfx), r, d, q in zip(members, readings, draws, adjusted, strict=True):
            res[f"{key}_p_fwer_{sfx}"] = float(q)
            _, side = monte_carlo_p(r, d, tol=_WARP_TIE)
            res[f"{key}_vs_null_{sfx}"] = (None if not np.isfinite(q) else
                                           side if q <= alpha and side else "within")
