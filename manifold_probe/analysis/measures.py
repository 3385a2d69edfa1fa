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
from manifold_probe.analysis.settings import EstimatorSettings
from manifold_probe.analysis.warping import rounded_twonn_dimension, warp
from manifold_probe.neighbors import Neighbors, cached_knn

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


def _first_occurrences(X: np.ndarray, nb: Neighbors | None) -> np.ndarray | None:
    """Rows that are the first occurrence of their value (increasing), or None if all distinct.

    With an exact kNN graph a row that has a copy has it as nearest neighbour at distance 0, so
    a graph whose first column has no zero proves there are no duplicates without sorting X.
    """
    if nb is not None and nb.n_points == X.shape[0] and not (nb.distances[:, 0] == 0.0).any():
        return None
    first = unique_rows(X)[0]
    return None if len(first) == X.shape[0] else first


#: Above this share of rows whose graph cannot be read off the full graph (more than ``k`` of
#: their listed neighbours dropped), the distinct rows get a search of their own.
_MAX_COMPLETED_SHARE = 0.05


def _graph_on(points: np.ndarray, k: int, parent: Neighbors | None = None,
              rows: np.ndarray | None = None) -> Neighbors:
    """The exact kNN graph of ``points`` (``k`` columns, at most ``m - 1``).

    With ``parent`` (the exact graph of the whole cloud) and ``rows`` (``points`` is
    ``cloud[rows]``, rows increasing), it is read off the parent: a row's neighbours among
    the kept rows are its listed neighbours that are kept, in the listed (distance, index)
    order, which the renumbering keeps (the kept rows are renumbered in increasing order);
    the first ``k`` of them are exact as soon as there are ``k``, because every unlisted point
    comes after every listed one. Rows with fewer get a certified search
    (:func:`_complete_rows`); when more than 5% of rows would, the whole subset is searched
    instead (through the estimators' graph cache, so two tasks needing the same subset search
    it once). Either way the graph equals ``knn(points, k)``: the same neighbours and the
    same distances (each is the parent's, computed from the same two points).
    """

    m = points.shape[0]
    if m < 3:
        raise InputError(
            f"only {m} distinct rows after collapsing exact duplicates; a layer "
            "needs at least 3 distinct points (capture more inputs or another pooling)"
        )
    k = min(k, m - 1)
    if parent is None or rows is None or parent.k < k:
        return cached_knn(points, k)
    new_id = np.full(parent.n_points, -1, dtype=np.int64)
    new_id[rows] = np.arange(m)
    ids = new_id[parent.indices[rows]]
    kept = ids >= 0
    short = np.flatnonzero(np.count_nonzero(kept, axis=1) < k)
    amax = float(np.max(np.abs(points)))
    if (len(short) > _MAX_COMPLETED_SHARE * m or parent.metric != "euclidean"
            or not 2.0**-200 < amax < 2.0**200):
        return cached_knn(points, k)
    first = np.argsort(~kept, axis=1, kind="stable")[:, :k]  # kept entries first, in order
    out_i = np.take_along_axis(ids, first, axis=1)
    out_d = np.take_along_axis(parent.distances[rows], first, axis=1)
    if len(short):
        out_d[short], out_i[short] = _complete_rows(points, short, k)
    return Neighbors(np.ascontiguousarray(out_d), np.ascontiguousarray(out_i), parent.metric)


def _complete_rows(A: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact k nearest neighbours (self excluded) of ``A[rows]`` among the rows of ``A``.

    Candidates come from float64 Gram distances :math:`\tilde d^2 = |a|^2 + |b|^2 - 2a\cdot b`,
    whose error is at most :math:`\tau = 4(D+2)\epsilon(|a|^2 + \max|b|^2)`; every point
    with :math:`\tilde d^2` within :math:`2\tau` of the k-th smallest is a candidate, so no
    point outside can reach (or tie) the k-th exact distance. The candidates' squared
    distances are then computed from coordinate differences (as :func:`manifold_probe.knn`
    does) and sorted by (distance, index).
    """
    m, d = A.shape
    sq = np.einsum("ij,ij->i", A, A)
    tau_scale = 4.0 * (d + 2) * np.finfo(np.float64).eps
    out_d = np.empty((len(rows), k))
    out_i = np.empty((len(rows), k), dtype=np.int64)
    block = max(1, (32 * 2**20) // (8 * m))
    for b0 in range(0, len(rows), block):
        b = rows[b0 : b0 + block]
        G = sq[b, None] + sq[None, :] - 2.0 * (A[b] @ A.T)
        G[np.arange(len(b)), b] = np.inf
        kth = np.partition(G, k - 1, axis=1)[:, k - 1]
        tau = tau_scale * (sq[b] + sq.max())
        for r, i in enumerate(b):
            cand = np.flatnonzero(G[r] <= kth[r] + 2.0 * tau[r])
            diff = A[cand] - A[i]
            d2 = np.einsum("ij,ij->i", diff, diff)
            order = np.lexsort((cand, d2))[:k]
            out_d[b0 + r] = np.sqrt(d2[order])
            out_i[b0 + r] = cand[order]
    return out_d, out_i


def distinct_layer(X: np.ndarray, nb: Neighbors | None, k: int | None = None
                   ) -> tuple[np.ndarray, Neighbors | None, np.ndarray | None]:
    """One layer's distinct rows and their kNN graph: the view every per-layer measure uses.

    Parameters
    ----------
    X : ndarray (n_points, d)
    nb : Neighbors or None
        The layer's shared exact kNN graph (or None: only the rows are reduced).
    k : int, optional
        Neighbours of the new graph when duplicates are dropped (default: ``nb.k``).

    Returns
    -------
    (points, graph, rows)
        ``rows`` (increasing indices into X of the kept first occurrences) is None and
        ``points``/``graph`` are ``X``/``nb`` themselves when X has no exact duplicates.
        Otherwise the graph of the distinct rows (``min(k, m - 1)`` neighbours) is read off
        ``nb`` where it lists enough kept neighbours, and searched otherwise
        (:func:`_graph_on`): exact either way.
    """
    rows = _first_occurrences(X, nb)
    if rows is None:
        return X, nb, None
    U = X[rows]
    if nb is None and k is None:
        return U, None, rows
    return U, _graph_on(U, k if k is not None else nb.k, nb, rows), rows


def distinct_pair(X: np.ndarray, Y: np.ndarray, nbx: Neighbors | None, nby: Neighbors | None,
                  k: int | None = None):
    """Rows distinct in both X and Y (row ``i`` the same input in each), with their graphs.

    A row is kept when it is the first occurrence of its value in X **and** in Y, so both
    reduced clouds are free of duplicates and stay paired. Returns ``(X', Y', nbx', nby',
    rows)``; ``rows`` is None and everything is returned unchanged when neither has duplicates.
    """
    rx, ry = _first_occurrences(X, nbx), _first_occurrences(Y, nby)
    if rx is None and ry is None:
        return X, Y, nbx, nby, None
    rows = np.arange(X.shape[0]) if rx is None else rx
    if ry is not None:
        rows = np.intersect1d(rows, ry)
    Xr, Yr = X[rows], Y[rows]

    def graph(points, nb):
        if nb is None and k is None:
            return None
        return _graph_on(points, k if k is not None else nb.k, nb, rows)

    return Xr, Yr, graph(Xr, nbx), graph(Yr, nby), rows


def graph_components(nb: Neighbors, k: int) -> int:
    """Connected components of the symmetrised k-nearest-neighbour graph (k = the warp's k).

    Geodesics (``geodesic_*`` columns) exist only within a component; a per-token cloud
    (a template corpus's repeated phrases) can have hundreds.
    """
    from scipy.sparse.csgraph import connected_components

    from manifold_probe.neighbors import symmetric_graph

    g = nb.truncate(min(k, nb.k))
    return int(connected_components(symmetric_graph(g, g.n_points), directed=False)[0])


def measure_dimension(X: np.ndarray, nb: Neighbors, est: EstimatorSettings) -> dict:
    """TwoNN (with interval), MLE and the GRIDE scale curve of one layer, from its kNN graph.

    Computed on the layer's distinct rows (:func:`distinct_layer`); ``n_distinct`` says how many.
    ``point_id_mle`` is the local MLE dimension of every row (Levina & Bickel 2005, "Maximum
    likelihood estimation of intrinsic dimension"; a copy gets its distinct row's value).
    """
    from manifold_probe.dimension import intrinsic_dimension

    try:
        U, g, rows = distinct_layer(X, nb)
    except InputError as exc:
        return {"n_distinct": len(unique_rows(X)[0]), "id_twonn": np.nan, "id_twonn_lo": np.nan,
                "id_twonn_hi": np.nan, "id_mle": np.nan, "dimension_note": short_message(exc)}

    def estimate(method, k_graph, **options):
        if k_graph > g.k:
            raise InputError(f"{method} needs {k_graph} neighbours; only {U.shape[0]} distinct rows")
        return intrinsic_dimension(U, method=method, neighbors=g.truncate(k_graph), **options)

    out: dict[str, Any] = {"n_distinct": int(U.shape[0]),
                           "graph_components": graph_components(g, est.knn.k)}
    notes = []
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
        scales = [int(n1) for n1 in est.gride.scales]
        range_max = 2 * max(scales)
        curve = {}
        try:
            r = estimate("gride", range_max, range_max=range_max)
            curve = dict(zip(np.asarray(r.scale).astype(int).tolist(),
                             np.asarray(r.curve, dtype=np.float64).tolist(), strict=True))
        except InputError as exc:
            notes.append(f"gride: {short_message(exc)}")
        for n1 in scales:
            out[f"id_gride_{n1}"] = float(curve.get(n1, np.nan))
    if notes:
        out["dimension_note"] = "; ".join(notes)
    return out


def measure_curvature(X: np.ndarray, nb: Neighbors, est: EstimatorSettings, seed: int) -> dict:
    """Median and quartiles of the scalar curvature, at up to ``max_points`` distinct points."""
    from threadpoolctl import threadpool_limits

    from manifold_probe.curvature import scalar_curvature

    cfg = est.curvature
    nan = {"curvature_median": np.nan, "curvature_q25": np.nan, "curvature_q75": np.nan}
    try:
        # the graph serves the TwoNN dimension only (2 columns); the fits search their own
        X, nb, _ = distinct_layer(X, nb.truncate(2) if nb is not None else None)
        # default: the layer's TwoNN dimension (from the shared graph); local PCA's eigengap
        # sees the noise directions of real activations and asks for infeasibly large fits
        dim = cfg.dim if cfg.dim is not None else rounded_twonn_dimension(X, nb, X.shape[1] - 1)
    except InputError as exc:
        return {**nan, "curvature_note": short_message(exc)}
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
    values = np.asarray(getattr(result, "curvature", result), dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return nan
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return {"curvature_median": float(q50), "curvature_q25": float(q25),
            "curvature_q75": float(q75), "curvature_dim": int(dim)}


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
                              seed=topology_seed(seed), n_landmarks=cfg.n_landmarks,
                              n_bootstrap=cfg.n_bootstrap)
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
                              confidence=cfg.confidence, n_landmarks=cfg.n_landmarks,
                              n_bootstrap=cfg.n_bootstrap)


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
    """Warp from X to Y: geodesic distortion and neighbourhood preservation."""
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
        n_src = min(est.geodesic.n_sources, s.n_points)
        out[f"geodesic_pairs_{suffix}"] = s.geodesic.n_pairs / (n_src * (s.n_points - 1))
    return out


def measure_trajectory(X: np.ndarray, sentence_ids: np.ndarray | None) -> dict:
    """Median over inputs of the trajectory curvature of each input's token sequence.

    Rows of X are tokens in order; ``sentence_ids`` says which input each row belongs to.
    Inputs with fewer than 3 tokens have no turning angle and are left out.
    """
    if sentence_ids is None:
        return {"trajectory_curvature": float("nan")}
    from manifold_probe.curvature import trajectory_curvature

    sid = np.asarray(sentence_ids)
    angles = []
    by_length: dict[int, list[np.ndarray]] = {}
    for s in np.unique(sid):
        rows = X[sid == s]
        if rows.shape[0] >= 3:
            by_length.setdefault(rows.shape[0], []).append(rows)
    for group in by_length.values():
        values = np.asarray(trajectory_curvature(np.stack(group)), dtype=np.float64).ravel()
        angles.extend(values[np.isfinite(values)].tolist())
    return {"trajectory_curvature": float(np.median(angles)) if angles else float("nan")}
