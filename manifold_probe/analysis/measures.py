"""The per-layer measures of the layer profile: arrays and settings in, a dict of columns out.

Each function measures one layer (or one pair of layers whose row ``i`` is the same input) and
returns a flat dict whose keys are columns of the profile table
(:data:`manifold_probe.analysis.table.PROFILE_COLUMNS`). A measure that cannot run on a layer
(e.g. a layer where most rows coincide) gives NaN and a ``*_note`` column instead of raising,
so one degenerate layer never stops a profile.

**Duplicates.** Per-token clouds hold exact duplicate rows (a BOS or [CLS] token at position 0
gives the same vector for every input in a causal model; padding never makes a row). They are
handled here, once, for every measure: :func:`distinct_layer` and :func:`distinct_pair` keep
the first occurrence of each distinct row (of each layer of a pair) and give the kNN graph among
the kept rows, and every measure runs on that view. A cloud without duplicates passes through
unchanged (no copy, no new graph).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._validation import InputError, unique_rows
from manifold_probe.analysis.distinct import (  # noqa: F401 - the measures' view, re-exported
    complete_rows,
    distinct_layer,
    distinct_pair,
    graph_components,
    graph_on,
)
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.analysis.trajectory_measure import measure_trajectory
from manifold_probe.analysis.warp_null import warp_null
from manifold_probe.analysis.warping import rounded_twonn_dimension, warp
from manifold_probe.neighbors import Neighbors, knn

__all__ = [
    "distinct_layer",
    "distinct_pair",
    "graph_components",
    "measure_curvature",
    "measure_dimension",
    "measure_pair",
    "measure_topology",
    "measure_topology_pair",
    "measure_trajectory",
    "short_message",
    "subsample_indices",
    "topology_seed",
]

def subsample_indices(n: int, m: int | None, seed: int) -> np.ndarray:
    """``m`` sorted row indices of ``range(n)`` drawn with ``seed`` (all rows when m >= n).

    The same seed gives the same rows in every layer, so subsamples stay paired.

    >>> subsample_indices(5, None, 0).tolist()
    [0, 1, 2, 3, 4]
    >>> len(subsample_indices(100, 10, 3)), (subsample_indices(100, 10, 3) == subsample_indices(100, 10, 3)).all()
    (10, np.True_)
    """
    if m is None or m >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=m, replace=False)).astype(np.int64)


def short_message(exc: Exception) -> str:
    """The first clause of an error message, for a ``*_note`` column."""
    return str(exc).split(";")[0][:160]


def measure_dimension(X: np.ndarray, nb: Neighbors, est: EstimatorSettings) -> dict:
    """TwoNN (with interval), MLE and the GRIDE scale curve of one layer, from its kNN graph.

    Computed on the layer's distinct rows (:func:`distinct_layer`); ``n_distinct`` says how many.
    Where near-coincident points drive the distance ratios (see
    :mod:`manifold_probe.dimension._near`) the estimators merge them: ``id_near_duplicates`` is
    the number of distinct rows merged away (0 when none) and ``dimension_note`` says so.
    ``point_id_mle`` is the local MLE dimension of every row (Levina & Bickel 2005, "Maximum
    likelihood estimation of intrinsic dimension"; a copy gets its distinct row's value).
    With nulls on, above :data:`~manifold_probe.analysis.nulls.NULL_MAX_ROWS` distinct rows the
    call is made at that many rows (``id_null_rows``): a matched Gaussian of that size against
    the estimate on a uniform subsample of the layer.
    """
    import warnings

    from manifold_probe.dimension import NearDuplicateWarning, intrinsic_dimension
    from manifold_probe.dimension import near_duplicate_message as message

    try:
        U, g, rows = distinct_layer(X, nb)
    except InputError as exc:
        return {"n_distinct": len(unique_rows(X)[0]), "id_twonn": np.nan, "id_twonn_lo": np.nan,
                "id_twonn_hi": np.nan, "id_mle": np.nan, "dimension_note": short_message(exc)}

    def estimate(method, k_needed, wide=False, **options):
        if k_needed > g.k:
            raise InputError(f"{method} needs {k_needed} neighbours; only {U.shape[0]} distinct rows")
        # ``wide``: the whole graph (GRIDE reads its first k_needed columns, and the graph of
        # the cloud with near-coincident points merged off all of them: no second search)
        with warnings.catch_warnings():  # said once, in the columns below
            warnings.simplefilter("ignore", NearDuplicateWarning)
            r = intrinsic_dimension(U, method=method,
                                    neighbors=g if wide else g.truncate(k_needed), **options)
        if r.near_duplicates and not out["id_near_duplicates"]:
            near = r.details["near_duplicates"]
            out["id_near_duplicates"] = int(near["n_before"] - near["n_after"])
            notes.append(message("dimension", near))
        return r

    out: dict[str, Any] = {"n_distinct": int(U.shape[0]), "id_near_duplicates": 0,
                           "graph_components": graph_components(g, est.knn.k)}
    notes = []
    gride_first = None
    if est.gride.enabled and est.gride.scales:
        # GRIDE needs the most neighbours: run it first, so that where near-coincident points
        # are merged the graph of the merged cloud is made once, at the largest k (read off
        # the shared graph, whose room beyond GRIDE's need is for this; a search otherwise),
        # and the estimators after it read it from the graph cache (exact truncation)
        range_max = 2 * max(int(n1) for n1 in est.gride.scales)
        try:
            gride_first = estimate("gride", range_max, wide=True, range_max=range_max)
        except InputError as exc:
            gride_first = exc
    if est.twonn.enabled:
        out.update(id_twonn=np.nan, id_twonn_lo=np.nan, id_twonn_hi=np.nan)
        try:
            r = estimate("twonn", est.twonn.k)
            out["id_twonn"] = float(r.dimension)
            if r.interval is not None:
                out["id_twonn_lo"], out["id_twonn_hi"] = map(float, r.interval)
        except InputError as exc:
            notes.append(f"twonn: {short_message(exc)}")
    if est.mle.enabled:
        k = est.mle.k
        out["id_mle"] = np.nan
        try:
            r = estimate("mle", k, k=k)
            out["id_mle"] = float(r.dimension)
            if r.pointwise is not None:
                local = np.asarray(r.pointwise, dtype=np.float64)
                if rows is not None:  # every copy gets its distinct row's value
                    local = local[unique_rows(X)[1]]
                out["point_id_mle"] = local.tolist()
        except InputError as exc:
            notes.append(f"mle: {short_message(exc)}")
    if est.gride.enabled and est.gride.scales:
        curve = {}
        if isinstance(gride_first, InputError):
            notes.append(f"gride: {short_message(gride_first)}")
        else:
            curve = dict(zip(np.asarray(gride_first.scale).astype(int).tolist(),
                             np.asarray(gride_first.curve, dtype=np.float64).tolist(), strict=True))
        for n1 in (int(n1) for n1 in est.gride.scales):
            out[f"id_gride_{n1}"] = float(curve.get(n1, np.nan))
    if notes:
        out["dimension_note"] = "; ".join(notes)
    if est.nulls.enabled and (est.twonn.enabled or est.mle.enabled):
        try:
            out.update(_dimension_null(U, g, est, out))
        except InputError as exc:
            out["dimension_note"] = "; ".join([*notes, f"null: {short_message(exc)}"])
    return out


#: seed of the matched-Gaussian null of the (unseeded) dimension task
_DIMENSION_NULL_SEED = 0
_MLE_BOOTSTRAP = 200  # resamples of the MLE interval; its 2.5/97.5% quantiles move < 3% beyond


def _mle_interval(local: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """95% bootstrap interval (over points) of the MacKay-Ghahramani MLE 1/mean(1/m_i)."""
    inv = 1.0 / local[np.isfinite(local) & (local > 0)]
    if len(inv) < 10:
        return float("nan"), float("nan")
    boots = 1.0 / inv[rng.integers(0, len(inv), (_MLE_BOOTSTRAP, len(inv)))].mean(axis=1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return float(lo), float(hi)


def _dimension_null(U: np.ndarray, g: Neighbors, est: EstimatorSettings, layer: dict) -> dict:
    """TwoNN and MLE of a Gaussian cloud with the layer's mean, covariance and size, and the
    call of the layer's estimate against it (intervals: TwoNN's own; MLE by bootstrap).

    Above :data:`~manifold_probe.analysis.nulls.NULL_MAX_ROWS` rows both sides of the call have
    that many rows: a Gaussian of that size against the estimate on a uniform subsample of the
    layer (both estimators drift with the number of points, so a null of another size would
    not be the same statistic's null); ``id_null_rows`` says so.
    """
    import warnings

    from manifold_probe.analysis.nulls import (
        NULL_MAX_ROWS,
        matched_gaussian,
        matched_gaussian_gram,
        null_call,
    )
    from manifold_probe.dimension import NearDuplicateWarning, intrinsic_dimension

    rng = np.random.default_rng(_DIMENSION_NULL_SEED)
    out: dict[str, Any] = {}
    k = max(est.twonn.k if est.twonn.enabled else 2, est.mle.k if est.mle.enabled else 2)
    k = min(k, g.k)
    sub = None
    if len(U) > NULL_MAX_ROWS:
        G = matched_gaussian_gram(U, rng, n=NULL_MAX_ROWS)
        out["id_null_rows"] = NULL_MAX_ROWS
        sub = U[subsample_indices(len(U), NULL_MAX_ROWS, _DIMENSION_NULL_SEED)]
        nbs = knn(sub, k)
    else:
        G = matched_gaussian(U, rng)
    nbg = knn(G, k)

    def on_sub(method, kk, **options):  # the layer's estimate on its subsample (said once)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NearDuplicateWarning)
            return intrinsic_dimension(sub, method=method, neighbors=nbs.truncate(kk), **options)

    if est.twonn.enabled and np.isfinite(layer.get("id_twonn", np.nan)):
        r = intrinsic_dimension(G, method="twonn", neighbors=nbg.truncate(est.twonn.k))
        lo, hi = r.interval if r.interval is not None else (np.nan, np.nan)
        llo, lhi = layer["id_twonn_lo"], layer["id_twonn_hi"]
        if sub is not None:
            rs = on_sub("twonn", est.twonn.k)
            llo, lhi = rs.interval if rs.interval is not None else (np.nan, np.nan)
        out.update(id_twonn_null=float(r.dimension), id_twonn_null_lo=float(lo),
                   id_twonn_null_hi=float(hi), id_twonn_vs_null=null_call(llo, lhi, lo, hi))
    if est.mle.enabled and "point_id_mle" in layer and est.mle.k <= nbg.k:
        r = intrinsic_dimension(G, method="mle", neighbors=nbg.truncate(est.mle.k), k=est.mle.k)
        nlo, nhi = _mle_interval(np.asarray(r.pointwise, dtype=np.float64), rng)
        local = (layer["point_id_mle"] if sub is None
                 else on_sub("mle", est.mle.k, k=est.mle.k).pointwise)
        llo, lhi = _mle_interval(np.asarray(local, dtype=np.float64), rng)
        out.update(id_mle_null=float(r.dimension), id_mle_null_lo=nlo, id_mle_null_hi=nhi,
                   id_mle_vs_null=null_call(llo, lhi, nlo, nhi))
    return out


def measure_curvature(X: np.ndarray, nb: Neighbors, est: EstimatorSettings, seed: int) -> dict:
    """Median and quartiles of the scalar curvature, at up to ``max_points`` distinct points.

    NaN with ``curvature_note`` where the fit dimension is 1 (the scalar curvature of a curve
    is identically 0, so the number would say nothing) or where the fit cannot run.
    """
    from threadpoolctl import threadpool_limits

    from manifold_probe.analysis.nulls import matched_gaussian, median_interval, null_call
    from manifold_probe.curvature import scalar_curvature

    cfg = est.curvature
    nan = {"curvature_median": np.nan, "curvature_q25": np.nan, "curvature_q75": np.nan}
    try:
        # the graph serves the TwoNN dimension only (the fits search their own): its first
        # two columns, and the rest to read off the graph of the cloud with near-coincident
        # points merged (a search of all rows otherwise)
        X, nb, _ = distinct_layer(X, nb)
        # default: the layer's TwoNN dimension (from the shared graph); local PCA's eigengap
        # sees the noise directions of real activations and asks for infeasibly large fits
        dim = cfg.dim if cfg.dim is not None else rounded_twonn_dimension(X, nb, X.shape[1] - 1)
    except InputError as exc:
        return {**nan, "curvature_note": short_message(exc)}
    if dim < 2:
        # n(n-1) = 0: the scalar curvature of a curve is 0 whatever its shape, so a value here
        # would read as "flat" without measuring anything
        return {**nan, "curvature_dim": int(dim), "curvature_note": (
            "the fit dimension is 1 (the layer's TwoNN dimension rounds to 1, or the config "
            "sets it): scalar curvature is identically 0 on a curve (it measures nothing), so "
            "it is left undefined")}
    idx = subsample_indices(X.shape[0], cfg.max_points, seed)
    try:
        # on a subsample the estimate sees a sparser sample of the same manifold; one BLAS
        # thread per fit: its many small products run up to 10x slower with 2 threads on a
        # busy machine, so the process's threads fit batches of points side by side instead
        # (the same numbers, bit for bit)
        import torch

        n_jobs = max(1, torch.get_num_threads())
        with threadpool_limits(limits=1):
            result = scalar_curvature(X[idx] if len(idx) < X.shape[0] else X, dim=dim,
                                      method=cfg.method, n_jobs=n_jobs)
    except InputError as exc:
        # typically: the layer's dimension is too high for a quadratic fit on this many points
        return {**nan, "curvature_note": short_message(exc)}
    with threadpool_limits(limits=1):
        values = np.asarray(getattr(result, "curvature", result), dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        if values.size == 0:
            return nan
        q25, q50, q75 = np.percentile(values, [25, 50, 75])
        lo, hi = median_interval(values)
        out = {"curvature_median": float(q50), "curvature_q25": float(q25),
               "curvature_q75": float(q75), "curvature_dim": int(dim),
               "curvature_median_lo": lo, "curvature_median_hi": hi}
        if est.nulls.enabled:
            # the same estimate (same fit dimension, same number of points) on a Gaussian cloud
            # of the layer's mean and covariance: featureless, but with the layer's spectrum
            # of variances, so what the fit reads on such a cloud of this size is the null
            G = matched_gaussian(X, np.random.default_rng([seed, _CURVATURE_NULL_STREAM]),
                                 n=len(idx))
            try:
                r0 = scalar_curvature(G, dim=dim, method=cfg.method, n_jobs=n_jobs)
                v0 = np.asarray(getattr(r0, "curvature", r0), dtype=np.float64).ravel()
                v0 = v0[np.isfinite(v0)]
                nlo, nhi = median_interval(v0)
                out.update(curvature_median_null=float(np.median(v0)) if v0.size else np.nan,
                           curvature_median_null_lo=nlo, curvature_median_null_hi=nhi,
                           curvature_median_vs_null=null_call(lo, hi, nlo, nhi))
            except InputError as exc:
                out["curvature_note"] = f"null: {short_message(exc)}"
    return out


_CURVATURE_NULL_STREAM = 0x6E75  # a second random stream beside the subsample's


def topology_seed(seed: int) -> int:
    """The seed :func:`manifold_probe.topology_preserved` hands to both of its analyses
    (:func:`manifold_probe.topology.shared_seed`): analysing every layer alone with it gives the
    Betti numbers that the pairwise verdict would compute, so each layer is analysed once."""
    from manifold_probe.topology import shared_seed

    return shared_seed(seed)


def measure_topology(X: np.ndarray, est: EstimatorSettings, seed: int) -> dict:
    """Significant Betti numbers of a paired subsample of ``max_points`` distinct rows."""
    from manifold_probe.topology import betti_numbers

    cfg = est.topology
    X = distinct_layer(X, None)[0]
    idx = subsample_indices(X.shape[0], cfg.max_points, seed)
    try:
        betti = betti_numbers(X[idx], maxdim=cfg.maxdim, confidence=cfg.confidence,
                              seed=topology_seed(seed), n_landmarks=cfg.n_landmarks)
    except InputError as exc:
        return {"topology_note": short_message(exc)}
    return {f"betti_{d}": int(b) for d, b in enumerate(betti)}


def compare_topology(X: np.ndarray, Y: np.ndarray, est: EstimatorSettings, seed: int):
    """:func:`manifold_probe.topology_preserved` of X and Y on the same paired subsample
    (of the rows distinct in both, :func:`distinct_pair`)."""
    from manifold_probe.topology import topology_preserved

    cfg = est.topology
    X, Y, _, _, _ = distinct_pair(X, Y, None, None)
    idx = subsample_indices(X.shape[0], cfg.max_points, seed)
    return topology_preserved(X[idx], Y[idx], maxdim=cfg.maxdim, seed=seed,
                              confidence=cfg.confidence, n_landmarks=cfg.n_landmarks)


def measure_topology_pair(X: np.ndarray, Y: np.ndarray, est: EstimatorSettings, seed: int,
                          suffix: str = "prev") -> dict:
    """``topology_preserved`` from X to Y on the same paired subsample."""
    try:
        cmp = compare_topology(X, Y, est, seed)
    except InputError as exc:
        return {f"topology_preserved_{suffix}": None, f"diagram_distance_{suffix}": np.nan,
                f"topology_{suffix}_note": short_message(exc)}
    dist = [float(d) for d in cmp.distances]
    return {
        f"topology_preserved_{suffix}": bool(cmp.preserved),
        f"diagram_distance_{suffix}": float(max(dist)) if dist else float("nan"),
        f"betti_x_{suffix}": list(map(int, cmp.betti_x)),
        f"betti_y_{suffix}": list(map(int, cmp.betti_y)),
    }


def warp_with(X: np.ndarray, Y: np.ndarray, nbx: Neighbors, nby: Neighbors | None,
              est: EstimatorSettings, seed: int, *, dimension: bool):
    """:func:`~manifold_probe.warp` of X -> Y with the profile's settings and shared graphs,
    on the rows distinct in both (:func:`distinct_pair`)."""
    k = est.knn.k
    X, Y, nbx, nby, _ = distinct_pair(X, Y, nbx, nby, k=k)
    return warp(
        X, Y, k=k, neighbors_x=nbx, neighbors_y=nby,
        geodesic=est.geodesic.enabled, n_sources=est.geodesic.n_sources,
        geodesic_method=est.geodesic.method, dimension=dimension, curvature=False, seed=seed,
        rank_rows=est.knn.rank_rows,
    )


def measure_pair(X: np.ndarray, Y: np.ndarray, nbx: Neighbors, nby: Neighbors,
                 est: EstimatorSettings, seed: int, suffix: str = "prev") -> dict:
    """Warp from X to Y: geodesic distortion and neighbourhood preservation, and with nulls on
    their Monte Carlo test against jointly Gaussian pairs
    (:func:`~manifold_probe.analysis.warp_null.warp_null`)."""
    try:
        s = warp_with(X, Y, nbx, nby, est, seed, dimension=False)
    except InputError as exc:
        keys = ("geodesic_distortion", "geodesic_log_ratio", "knn_overlap", "trustworthiness",
                "continuity")
        return {**{f"{key}_{suffix}": np.nan for key in keys},
                f"warp_{suffix}_note": short_message(exc)}
    out = {
        f"geodesic_distortion_{suffix}": s.geodesic_distortion,
        f"geodesic_log_ratio_{suffix}": s.geodesic_log_ratio_median,
        f"knn_overlap_{suffix}": s.knn_overlap,
        f"trustworthiness_{suffix}": s.trustworthiness,
        f"continuity_{suffix}": s.continuity,
    }
    if s.geodesic is not None:
        # pairs in different components of either layer's graph have no geodesic (inf) and
        # are left out: the distortion is that of the pairs within a component of both
        n_src = s.n_points if est.geodesic.n_sources is None else min(est.geodesic.n_sources,
                                                                       s.n_points)
        out[f"geodesic_pairs_{suffix}"] = s.geodesic.n_pairs / (n_src * (s.n_points - 1))
    if est.nulls.enabled:
        try:
            out.update(warp_null(X, Y, est, seed, suffix, out))
        except InputError as exc:
            out[f"warp_{suffix}_note"] = f"null: {short_message(exc)}"
    return out
