"""The layer profile: geometry and topology of every captured layer, and of the map between them.

For every layer l (row ``i`` of every layer is the same input):

- intrinsic dimension: TwoNN (with its 95% interval), MLE, and the GRIDE scale curve;
- scalar curvature: median and quartiles over points;
- how the map from the previous layer (and from the input layer) warps the cloud:
  geodesic distortion, kNN overlap, trustworthiness and continuity (:func:`manifold_probe.warp`);
- significant Betti numbers, and whether topology is preserved from the previous layer;
- for token-level capture, the trajectory curvature of each input's token sequence.

Each layer's kNN graph is computed once and shared by every measure of that layer. The work is
split into independent tasks (layer × measure × seed); :func:`profile_layers` runs them in
memory; :func:`run_experiment` (what ``manifold-probe run`` calls) runs the same measures as
tasks through an executor, each result written atomically to disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_points
from manifold_probe.neighbors import Neighbors, knn

__all__ = [
    "PROFILE_COLUMNS",
    "REQUIRED_COLUMNS",
    "assemble_rows",
    "measure_curvature",
    "measure_dimension",
    "measure_pair",
    "measure_topology",
    "measure_topology_pair",
    "measure_trajectory",
    "profile_layers",
    "subsample_indices",
]

REQUIRED_COLUMNS = (
    "layer", "n_points", "dim_ambient", "id_twonn", "id_mle", "curvature_median",
    "geodesic_distortion_prev", "knn_overlap_prev", "betti_0", "betti_1",
    "topology_preserved_prev",
)

#: Every column of ``profile.csv``, in order (``id_gride_*`` and ``betti_2`` are appended as
#: the configuration asks for them).
PROFILE_COLUMNS = (
    "layer", "layer_name", "n_points", "dim_ambient",
    "id_twonn", "id_twonn_lo", "id_twonn_hi", "id_mle",
    "curvature_median", "curvature_q25", "curvature_q75",
    "geodesic_distortion_prev", "geodesic_log_ratio_prev", "knn_overlap_prev",
    "trustworthiness_prev", "continuity_prev",
    "geodesic_distortion_input", "geodesic_log_ratio_input", "knn_overlap_input",
    "trustworthiness_input", "continuity_input",
    "betti_0", "betti_1",
    "topology_preserved_prev", "diagram_distance_prev",
    "trajectory_curvature",
)


def subsample_indices(n: int, m: int | None, seed: int) -> np.ndarray:
    """``m`` sorted row indices of ``range(n)`` drawn with ``seed`` (all rows when m >= n).

    The same seed gives the same rows in every layer, so subsamples stay paired.
    """
    if m is None or m >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=m, replace=False)).astype(np.int64)


# --------------------------------------------------------------------------- measures
def measure_dimension(X: np.ndarray, nb: Neighbors, est: Mapping[str, Any]) -> dict:
    """TwoNN (with interval), MLE and the GRIDE scale curve of one layer.

    An estimator that cannot run on this layer (e.g. a layer where most rows coincide) gives
    NaN and a ``dimension_note`` instead of stopping the profile.
    """
    from manifold_probe.dimension import intrinsic_dimension

    def estimate(method, k_graph, **options):
        try:
            return intrinsic_dimension(X, method=method, neighbors=nb.truncate(k_graph), **options)
        except InputError:
            # duplicates: let the estimator collapse them and build its own graph
            return intrinsic_dimension(X, method=method, **options)

    out: dict[str, Any] = {}
    notes = []
    if est["twonn"]["enabled"]:
        out.update(id_twonn=np.nan, id_twonn_lo=np.nan, id_twonn_hi=np.nan)
        try:
            r = estimate("twonn", est["twonn"]["k"])
            out["id_twonn"] = float(r.dimension)
            if r.interval is not None:
                out["id_twonn_lo"], out["id_twonn_hi"] = map(float, r.interval)
        except InputError as exc:
            notes.append(f"twonn: {_short(exc)}")
    if est["mle"]["enabled"]:
        k = est["mle"]["k"]
        out["id_mle"] = np.nan
        try:
            out["id_mle"] = float(estimate("mle", k, k=k).dimension)
        except InputError as exc:
            notes.append(f"mle: {_short(exc)}")
    if est["gride"]["enabled"] and est["gride"]["scales"]:
        scales = [int(n1) for n1 in est["gride"]["scales"]]
        range_max = 2 * max(scales)
        curve = {}
        try:
            r = estimate("gride", range_max, range_max=range_max)
            curve = dict(zip(np.asarray(r.scale).astype(int).tolist(),
                             np.asarray(r.curve, dtype=np.float64).tolist(), strict=True))
        except InputError as exc:
            notes.append(f"gride: {_short(exc)}")
        for n1 in scales:
            out[f"id_gride_{n1}"] = float(curve.get(n1, np.nan))
    if notes:
        out["dimension_note"] = "; ".join(notes)
    return out


def _short(exc: Exception) -> str:
    return str(exc).split(";")[0][:160]


def measure_curvature(X: np.ndarray, nb: Neighbors, est: Mapping[str, Any], seed: int) -> dict:
    """Median and quartiles of the scalar curvature, at up to ``max_points`` points."""
    from manifold_probe.curvature import scalar_curvature

    cfg = est["curvature"]
    idx = subsample_indices(X.shape[0], cfg["max_points"], seed)
    nan = {"curvature_median": np.nan, "curvature_q25": np.nan, "curvature_q75": np.nan}
    dim = cfg.get("dim")
    if dim is None:
        # the layer's TwoNN dimension (from the shared graph): local PCA's eigengap sees the
        # noise directions of real activations and asks for fits far too large to be feasible
        from manifold_probe.dimension import intrinsic_dimension

        twonn = intrinsic_dimension(X, method="twonn", neighbors=nb.truncate(2)).dimension
        dim = int(np.clip(round(float(twonn)), 1, X.shape[1] - 1))
    from threadpoolctl import threadpool_limits

    try:
        # on a subsample the estimate sees a sparser sample of the same manifold; one BLAS
        # thread: its many small products run up to 10x slower with 2 threads on a busy machine
        with threadpool_limits(limits=1):
            result = scalar_curvature(X[idx] if len(idx) < X.shape[0] else X, dim=dim,
                                      method=cfg["method"])
    except InputError as exc:
        # typically: the layer's dimension is too high for a quadratic fit on this many points
        return {**nan, "curvature_note": _short(exc)}
    values = np.asarray(getattr(result, "curvature", result), dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return nan
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return {"curvature_median": float(q50), "curvature_q25": float(q25),
            "curvature_q75": float(q75), "curvature_dim": int(dim)}


def measure_topology(X: np.ndarray, est: Mapping[str, Any], seed: int) -> dict:
    """Significant Betti numbers of a paired subsample of ``max_points`` rows."""
    from manifold_probe.topology import betti_numbers

    cfg = est["topology"]
    idx = subsample_indices(X.shape[0], cfg["max_points"], seed)
    try:
        betti = betti_numbers(X[idx], maxdim=cfg["maxdim"], confidence=cfg["confidence"],
                              seed=topology_seed(seed), n_landmarks=cfg["n_landmarks"],
                              n_bootstrap=cfg["n_bootstrap"])
    except InputError as exc:
        return {"topology_note": _short(exc)}
    return {f"betti_{d}": int(b) for d, b in enumerate(betti)}


def topology_seed(seed: int) -> int:
    """The seed :func:`manifold_probe.topology_preserved` hands to both of its analyses.

    ``topology_preserved(X, Y, seed=s)`` analyses X and Y with one shared seed drawn from
    ``s``; analysing every layer alone with that same seed gives the same Betti numbers, so
    the verdict "preserved" of consecutive layers follows from the per-layer results without
    analysing each layer twice.
    """
    return int(np.random.default_rng(seed).integers(2**63))


def measure_topology_pair(X: np.ndarray, Y: np.ndarray, est: Mapping[str, Any], seed: int,
                          suffix: str = "prev") -> dict:
    """``topology_preserved`` from X to Y on the same paired subsample."""
    from manifold_probe.topology import topology_preserved

    cfg = est["topology"]
    idx = subsample_indices(X.shape[0], cfg["max_points"], seed)
    cmp = topology_preserved(X[idx], Y[idx], maxdim=cfg["maxdim"], seed=seed,
                             confidence=cfg["confidence"], n_landmarks=cfg["n_landmarks"],
                             n_bootstrap=cfg["n_bootstrap"])
    dist = [float(d) for d in cmp.distances]
    return {
        f"topology_preserved_{suffix}": bool(cmp.preserved),
        f"diagram_distance_{suffix}": float(max(dist)) if dist else float("nan"),
        f"betti_x_{suffix}": list(map(int, cmp.betti_x)),
        f"betti_y_{suffix}": list(map(int, cmp.betti_y)),
    }


def measure_pair(X: np.ndarray, Y: np.ndarray, nbx: Neighbors, nby: Neighbors,
                 est: Mapping[str, Any], seed: int, suffix: str = "prev") -> dict:
    """Warp from X to Y: geodesic distortion and neighbourhood preservation."""
    from manifold_probe._warp import warp

    k = est["knn"]["k"]
    s = warp(
        X, Y, k=k, neighbors_x=nbx.truncate(k), neighbors_y=nby.truncate(k),
        geodesic=est["geodesic"]["enabled"], n_sources=est["geodesic"]["n_sources"],
        geodesic_method=est["geodesic"]["method"], dimension=False, curvature=False, seed=seed,
    )
    return {
        f"geodesic_distortion_{suffix}": s.geodesic_distortion,
        f"geodesic_log_ratio_{suffix}": s.geodesic_log_ratio_median,
        f"knn_overlap_{suffix}": s.knn_overlap,
        f"trustworthiness_{suffix}": s.trustworthiness,
        f"continuity_{suffix}": s.continuity,
    }


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


# --------------------------------------------------------------------------- assembly
def _combine(values: list[Any]) -> Any:
    """Combine one column's values over seeds: mean of floats, all() of booleans, median int."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    first = values[0]
    if isinstance(first, bool):
        return all(values)
    if isinstance(first, int):
        return int(np.round(np.median(values)))
    if isinstance(first, float):
        arr = np.asarray(values, dtype=np.float64)
        return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")
    return first


def assemble_rows(layer_names: Sequence[str], base: Sequence[Mapping[str, Any]],
                  results: Mapping[int, Sequence[Mapping[str, Any]]], *, copy_input_from_prev: bool = True
                  ) -> list[dict]:
    """One row per layer from the per-task results.

    Parameters
    ----------
    layer_names : sequence of str
    base : sequence of dict
        Per layer: ``n_points`` and ``dim_ambient``.
    results : mapping of layer index to a list of result dicts
        Every finished task's values for that layer (several seeds may give the same column;
        they are combined: floats averaged, booleans and-ed, integers by median).
    """
    rows = []
    for i, name in enumerate(layer_names):
        row: dict[str, Any] = {"layer": i, "layer_name": name, **base[i]}
        columns: dict[str, list[Any]] = {}
        for res in results.get(i, []):
            for key, value in res.items():
                columns.setdefault(key, []).append(value)
        for key, values in columns.items():
            row[key] = _combine(values)
        if i >= 1 and "topology_preserved_prev" not in row:
            prev = rows[i - 1]
            bettis = [key for key in row if key.startswith("betti_") and key[6:].isdigit()]
            if bettis and all(prev.get(key) is not None for key in bettis):
                # same test as mp.topology_preserved: the significant Betti numbers agree
                row["topology_preserved_prev"] = all(row[key] == prev[key] for key in bettis)
        if copy_input_from_prev and i == 1:
            # the previous layer of layer 1 is the input layer
            for key in ("geodesic_distortion", "geodesic_log_ratio", "knn_overlap",
                        "trustworthiness", "continuity"):
                if f"{key}_prev" in row:
                    row[f"{key}_input"] = row[f"{key}_prev"]
        rows.append(row)
    return rows


def column_order(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """PROFILE_COLUMNS first (all of them, so the schema is fixed), then any extra columns."""
    cols = list(PROFILE_COLUMNS)
    extra = []
    for row in rows:
        for key in row:
            if key not in cols and key not in extra and not key.startswith("betti_x_") \
                    and not key.startswith("betti_y_"):
                extra.append(key)
    gride = sorted((c for c in extra if c.startswith("id_gride_")), key=lambda c: int(c.split("_")[-1]))
    rest = [c for c in extra if not c.startswith("id_gride_")]
    at = cols.index("id_mle") + 1
    cols[at:at] = gride
    return cols + rest


# --------------------------------------------------------------------------- in memory
def profile_layers(
    layers: Mapping[str, Any] | Sequence[Any],
    *,
    estimators: Any = None,
    seeds: Sequence[int] = (0,),
    sentence_ids: Any = None,
) -> list[dict]:
    """The layer profile of point clouds held in memory.

    Parameters
    ----------
    layers : mapping of layer name to array (n_points, d_l), or a sequence of arrays
        Row ``i`` of every layer is the same input; widths may differ.
    estimators : EstimatorsConfig or dict, optional
        Estimator parameters (see :class:`manifold_probe.config.EstimatorsConfig`); default
        the embedded defaults.
    seeds : sequence of int, default=(0,)
        Seeds of the randomised measures (geodesic sources, subsamples, bootstrap); results
        over seeds are combined column by column.
    sentence_ids : array-like of int, optional
        For token-level rows: the input each row comes from (enables trajectory curvature).

    Returns
    -------
    list of dict, one per layer, with the columns of :data:`PROFILE_COLUMNS` (NaN or None
    where a measure is disabled or undefined, e.g. ``*_prev`` at layer 0).

    Notes
    -----
    Each layer's kNN graph is computed once (with as many neighbours as the largest estimator
    needs) and shared by every measure.
    """
    from manifold_probe.config import EstimatorsConfig

    if isinstance(layers, Mapping):
        names = [str(n) for n in layers]
        arrays = list(layers.values())
    else:
        arrays = list(layers)
        names = [f"layer_{i}" for i in range(len(arrays))]
    if not arrays:
        raise InputError("profile_layers needs at least one layer")
    if estimators is None:
        estimators = EstimatorsConfig()
    elif isinstance(estimators, Mapping):
        estimators = EstimatorsConfig.model_validate(estimators)
    est = estimators.model_dump()
    k_graph = estimators.graph_k_needed()
    clouds = [check_points(A, min_points=k_graph + 2, name=f"layer {n}", what="the layer profile")
              for n, A in zip(names, arrays, strict=True)]
    n = clouds[0].shape[0]
    for name, A in zip(names, clouds, strict=True):
        if A.shape[0] != n:
            raise InputError(
                f"layer {name!r} has {A.shape[0]} rows but layer {names[0]!r} has {n}; row i must "
                "be the same input in every layer"
            )
    graphs = [knn(A, k_graph) for A in clouds]
    return _run_measures(names, clouds, graphs, est, list(seeds), sentence_ids)


def _run_measures(names, clouds, graphs, est, seeds, sentence_ids) -> list[dict]:
    results: dict[int, list[dict]] = {}
    for i, A in enumerate(clouds):
        res = results.setdefault(i, [])
        res.append(measure_dimension(A, graphs[i], est))
        if est["trajectory"]["enabled"] and sentence_ids is not None:
            res.append(measure_trajectory(A, np.asarray(sentence_ids)))
        for seed in seeds:
            if est["curvature"]["enabled"]:
                res.append(measure_curvature(A, graphs[i], est, seed))
            if est["topology"]["enabled"]:
                res.append(measure_topology(A, est, seed))
            if i >= 1:
                res.append(measure_pair(clouds[i - 1], A, graphs[i - 1], graphs[i], est, seed))
                if est["topology"]["enabled"] and est["topology"]["diagram_distances"]:
                    res.append(measure_topology_pair(clouds[i - 1], A, est, seed))
            if i >= 2:
                res.append(measure_pair(clouds[0], A, graphs[0], graphs[i], est, seed, "input"))
    base = [{"n_points": int(A.shape[0]), "dim_ambient": int(A.shape[1])} for A in clouds]
    rows = assemble_rows(names, base, results)
    columns = column_order(rows)
    return [{c: row.get(c) for c in columns} for row in rows]


# --------------------------------------------------------------------------- on disk
# The run directory:
#   DIR/config.json                       the validated config of the last run
#   DIR/activations/<capture-hash>/       L00.npy ... one array per layer, meta.json last
#   DIR/perturbed/<capture-hash>/<label>/ the same, for each perturbed model
#   DIR/graphs/<capture-hash>-k<K>/       L00.npz ... the one kNN graph per layer
#   DIR/tasks/<task-id>.json              one finished (layer x measure x seed) task each
#   DIR/profile.csv, profile.json, perturbations.csv, figures/, report.html

_TASK_PARAMS = {
    "dimension": ("knn", "twonn", "mle", "gride"),
    "curvature": ("curvature",),
    "topology": ("topology",),
    "topology_prev": ("topology",),
    "pair_prev": ("knn", "geodesic"),
    "pair_input": ("knn", "geodesic"),
    "trajectory": ("trajectory",),
    "perturb": ("knn", "geodesic", "topology"),
}


def _layer_file(folder, i: int, ext: str = "npy"):
    from pathlib import Path

    return Path(folder) / f"L{i:02d}.{ext}"


def load_layer(folder, i: int) -> np.ndarray:
    """Layer ``i`` of a saved activation folder as float64."""
    return np.load(_layer_file(folder, i), mmap_mode="r").astype(np.float64)


def load_graph(folder, i: int) -> Neighbors:
    with np.load(_layer_file(folder, i, "npz")) as data:
        return Neighbors(data["distances"].copy(), data["indices"].copy())


def task_path(spec: Mapping[str, Any]):
    from pathlib import Path

    return Path(spec["dir"]) / "tasks" / f"{spec['id']}.json"


def task_done(spec: Mapping[str, Any]) -> bool:
    """Whether the task's result file exists and is complete."""
    from manifold_probe.executor import read_json

    if spec["kind"] == "knn":
        return _layer_file(spec["graphs"], spec["layer"], "npz").exists()
    data = read_json(task_path(spec))
    return isinstance(data, dict) and data.get("id") == spec["id"] and "values" in data


def run_task(spec: Mapping[str, Any]) -> dict:
    """Run one task and write its result atomically; returns the values.

    A top-level function of picklable arguments, so dask workers can run it.
    """
    import time

    from manifold_probe.executor import atomic_write_bytes, atomic_write_json

    start = time.perf_counter()
    kind = spec["kind"]
    est = spec["estimators"]
    acts = spec["activations"]
    i = spec["layer"]
    seed = spec.get("seed", 0)
    if kind == "knn":
        import io

        nb = knn(load_layer(acts, i), spec["k"])
        buf = io.BytesIO()
        np.savez(buf, distances=nb.distances, indices=nb.indices)
        atomic_write_bytes(_layer_file(spec["graphs"], i, "npz"), buf.getvalue())
        return {"k": nb.k}
    X = load_layer(acts, i)
    if kind == "dimension":
        values = measure_dimension(X, load_graph(spec["graphs"], i), est)
    elif kind == "curvature":
        values = measure_curvature(X, load_graph(spec["graphs"], i), est, seed)
    elif kind == "topology":
        values = measure_topology(X, est, seed)
    elif kind == "trajectory":
        sid = np.load(f"{acts}/sentence_ids.npy") if spec.get("has_sentence_ids") else None
        values = measure_trajectory(X, sid)
    elif kind in ("pair_prev", "pair_input"):
        j = spec["other"]
        values = measure_pair(load_layer(acts, j), X, load_graph(spec["graphs"], j),
                              load_graph(spec["graphs"], i), est, seed, kind.split("_")[1])
    elif kind == "topology_prev":
        values = measure_topology_pair(load_layer(acts, spec["other"]), X, est, seed)
    elif kind == "perturb":
        values = _measure_perturbation(X, load_graph(spec["graphs"], i),
                                       load_layer(spec["perturbed"], i), est, seed)
    else:  # pragma: no cover - plan_tasks only makes the kinds above
        raise ValueError(f"unknown task kind {kind!r}")
    atomic_write_json(task_path(spec), {"id": spec["id"], "kind": kind, "layer": i,
                                        "seed": seed, "values": values,
                                        "seconds": time.perf_counter() - start})
    return values


def _measure_perturbation(X, nbx, Y, est, seed) -> dict:
    from manifold_probe._warp import warp
    from manifold_probe.topology import topology_preserved

    k = est["knn"]["k"]
    s = warp(X, Y, k=k, neighbors_x=nbx.truncate(k), geodesic=est["geodesic"]["enabled"],
             n_sources=est["geodesic"]["n_sources"], geodesic_method=est["geodesic"]["method"],
             dimension=True, seed=seed)
    cfg = est["topology"]
    idx = subsample_indices(X.shape[0], cfg["max_points"], seed)
    cmp = topology_preserved(X[idx], Y[idx], maxdim=cfg["maxdim"], seed=seed,
                             confidence=cfg["confidence"], n_landmarks=cfg["n_landmarks"],
                             n_bootstrap=cfg["n_bootstrap"])
    rel = np.linalg.norm(Y - X, axis=1) / np.maximum(np.linalg.norm(X, axis=1), 1e-300)
    return {
        "topology_preserved": bool(cmp.preserved),
        "betti_clean": "-".join(map(str, cmp.betti_x)),
        "betti_perturbed": "-".join(map(str, cmp.betti_y)),
        "diagram_distance": float(max(cmp.distances)) if len(cmp.distances) else float("nan"),
        "relative_change": float(np.median(rel)),
        "knn_overlap": s.knn_overlap,
        "trustworthiness": s.trustworthiness,
        "continuity": s.continuity,
        "geodesic_distortion": s.geodesic_distortion,
        "geodesic_log_ratio": s.geodesic_log_ratio_median,
        "id_clean": s.id_x,
        "id_perturbed": s.id_y,
    }


# --------------------------------------------------------------------------- the experiment
class ProgressSink:
    """Receives progress; the CLI's rich bars implement it. The default does nothing."""

    def begin(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, n: int = 1) -> None:
        pass

    def end(self, stage: str) -> None:
        pass

    def message(self, text: str) -> None:
        pass


def _capture_hash(config) -> str:
    from manifold_probe.config import config_hash

    return config_hash({"model": config.model.model_dump(mode="json"),
                        "data": config.data.model_dump(mode="json"),
                        "capture": config.capture.model_dump(mode="json"),
                        "seed": config.seeds[0]})


def activations_complete(folder) -> bool:
    from pathlib import Path

    from manifold_probe.executor import read_json

    meta = read_json(Path(folder) / "meta.json")
    return isinstance(meta, dict) and "layers" in meta


def experiment_inputs(config, handle) -> Any:
    """The inputs of an experiment: corpus sentences, or the inputs the model handle offers."""
    if config.data.source == "corpus":
        from manifold_probe.datasets import load_corpus

        corpus = load_corpus(labels=config.data.labels, n=config.data.n, seed=config.seeds[0])
        return list(corpus.sentences)
    for attr in ("default_inputs", "inputs"):
        value = getattr(handle, attr, None)
        if callable(value):
            value = value()
        if value is not None:
            if config.data.n is not None and len(value) > config.data.n:
                idx = subsample_indices(len(value), config.data.n, config.seeds[0])
                value = value[idx] if hasattr(value, "shape") else [value[i] for i in idx]
            return value
    raise InputError(
        f"config error at data.source: model {config.model.spec!r} offers no inputs of its own; "
        'use source = "corpus"'
    )


def capture_to_folder(config, handle, folder, inputs) -> dict:
    """Capture every layer of ``inputs`` and save them to ``folder`` (meta.json written last)."""
    from pathlib import Path

    from manifold_probe.executor import atomic_save_npy, atomic_write_json

    pooling = "all" if config.capture.pooling == "tokens" else config.capture.pooling
    acts = handle.capture(inputs, pooling=pooling, layers=config.capture.layers,
                          batch_size=config.capture.batch_size, device=config.model.device)
    folder = Path(folder)
    for i, name in enumerate(acts.layers):
        atomic_save_npy(_layer_file(folder, i), np.asarray(acts.arrays[name], dtype=np.float32))
    has_sid = acts.sentence_ids is not None
    if has_sid:
        atomic_save_npy(folder / "sentence_ids.npy", np.asarray(acts.sentence_ids, dtype=np.int64))
    first = np.asarray(acts.arrays[acts.layers[0]])
    meta = {"layers": list(acts.layers), "n_points": int(first.shape[0]),
            "dims": [int(np.asarray(acts.arrays[n]).shape[1]) for n in acts.layers],
            "has_sentence_ids": has_sid, "model": config.model.spec}
    atomic_write_json(folder / "meta.json", meta)
    return meta


def _load_handle(config):
    from manifold_probe.capture import load_model

    return load_model(config.model.spec)


def plan_tasks(config, out, acts, meta, pert_folders: Mapping[str, Any]) -> tuple[list, list]:
    """The knn tasks (stage 1) and measure tasks (stage 2) of a run, as picklable dicts."""
    from manifold_probe.config import config_hash

    est = config.estimators.model_dump(mode="json")
    k_graph = config.estimators.graph_k_needed()
    n_layers = len(meta["layers"])
    chash = acts.name
    graphs = str(out / "graphs" / f"{chash}-k{k_graph}")
    common = {"dir": str(out), "activations": str(acts), "graphs": graphs, "estimators": est,
              "has_sentence_ids": bool(meta.get("has_sentence_ids"))}
    stage1 = [{**common, "kind": "knn", "layer": i, "k": k_graph, "id": f"knn-L{i:02d}"}
              for i in range(n_layers)]

    def task(kind, i, seed=0, other=None, **extra):
        key = config_hash({"c": chash, "kg": k_graph,
                           **{p: est[p] for p in _TASK_PARAMS[kind]}, **extra})
        tid = f"{kind}-L{i:02d}" + (f"-L{other:02d}" if other is not None else "") + \
            f"-s{seed}" + (f"-{extra['label']}" if "label" in extra else "") + f"-{key}"
        return {**common, "kind": kind, "layer": i, "other": other, "seed": seed, "id": tid,
                **extra}

    stage2 = []
    for i in range(n_layers):
        if est["twonn"]["enabled"] or est["mle"]["enabled"] or est["gride"]["enabled"]:
            stage2.append(task("dimension", i))
        if est["trajectory"]["enabled"] and meta.get("has_sentence_ids"):
            stage2.append(task("trajectory", i))
        for seed in config.seeds:
            if est["curvature"]["enabled"]:
                stage2.append(task("curvature", i, seed))
            if est["topology"]["enabled"]:
                stage2.append(task("topology", i, seed))
            if i >= 1:
                stage2.append(task("pair_prev", i, seed, i - 1))
                if est["topology"]["enabled"] and est["topology"]["diagram_distances"]:
                    stage2.append(task("topology_prev", i, seed, i - 1))
            if i >= 2:
                stage2.append(task("pair_input", i, seed, 0))
    for label, (folder, changed) in pert_folders.items():
        for i in changed:
            for seed in config.seeds:
                stage2.append(task("perturb", i, seed, label=label, perturbed=str(folder)))
    return stage1, stage2


def _changed_layers(acts, folder, n_layers) -> list[int]:
    """Layers whose perturbed activations differ from the clean ones."""
    out = []
    for i in range(n_layers):
        a = np.load(_layer_file(acts, i), mmap_mode="r")
        b = np.load(_layer_file(folder, i), mmap_mode="r")
        if a.shape != b.shape or not np.array_equal(a, b):
            out.append(i)
    return out


def run_experiment(config, out=None, *, executor=None, progress: ProgressSink | None = None,
                   make_report: bool = True) -> dict:
    """Run a whole experiment into a directory; finished work is reused (resume).

    Steps: capture the activations (skipped when saved), capture each perturbed model,
    compute each layer's kNN graph once, run every (layer × measure × seed) task through the
    executor (each writes its own result atomically; finished tasks are skipped), then write
    ``profile.csv``/``profile.json``, ``perturbations.csv``, the figures and ``report.html``.

    Returns
    -------
    dict with the output paths and the numbers of tasks run and skipped.
    """
    from pathlib import Path

    from manifold_probe.executor import InProcessExecutor

    progress = progress or ProgressSink()
    executor = executor or InProcessExecutor()
    out = Path(out if out is not None else config.out)
    out.mkdir(parents=True, exist_ok=True)
    _write_if_changed(out / "config.json", _json_bytes(config.model_dump(mode="json")))
    chash = _capture_hash(config)
    acts = out / "activations" / chash
    handle = None
    inputs = None
    if not activations_complete(acts):
        progress.message(f"capturing activations of {config.model.spec}")
        handle = _load_handle(config)
        inputs = experiment_inputs(config, handle)
        progress.begin("capture", 1)
        capture_to_folder(config, handle, acts, inputs)
        progress.advance("capture")
        progress.end("capture")
    from manifold_probe.executor import read_json

    meta = read_json(acts / "meta.json")
    n_layers = len(meta["layers"])
    pert_folders: dict[str, tuple[Path, list[int]]] = {}
    if config.perturbations:
        from manifold_probe.config import config_hash
        from manifold_probe.perturb import perturbed

        progress.begin("perturbed capture", len(config.perturbations))
        for p in config.perturbations:
            folder = out / "perturbed" / chash / f"{p.label}-{config_hash(p)[:8]}"
            if not activations_complete(folder):
                if handle is None:
                    handle = _load_handle(config)
                if inputs is None:
                    inputs = experiment_inputs(config, handle)
                with perturbed(handle, p, seed=config.seeds[0]):
                    capture_to_folder(config, handle, folder, inputs)
            pert_folders[p.label] = (folder, _changed_layers(acts, folder, n_layers))
            progress.advance("perturbed capture")
        progress.end("perturbed capture")

    stage1, stage2 = plan_tasks(config, out, acts, meta, pert_folders)
    counts = {"run": 0, "skipped": 0}
    for stage, specs in (("kNN graphs", stage1), ("measures", stage2)):
        todo = [s for s in specs if not task_done(s)]
        counts["skipped"] += len(specs) - len(todo)
        progress.begin(stage, len(specs))
        progress.advance(stage, len(specs) - len(todo))
        for _spec, _ in executor.map_unordered(run_task, todo):
            counts["run"] += 1
            progress.advance(stage)
        progress.end(stage)
    paths = write_tables(out, meta, stage2)
    if make_report and not _report_fresh(out):
        from manifold_probe.report import write_report

        paths.update(write_report(out))
    return {**paths, **counts, "out": str(out)}


def _report_fresh(out) -> bool:
    """Whether report.html is newer than every table it shows (then it is not redrawn)."""
    report = out / "report.html"
    if not report.exists():
        return False
    tables = [out / "profile.json", out / "perturbations.csv", out / "config.json"]
    newest = max(t.stat().st_mtime_ns for t in tables if t.exists())
    return report.stat().st_mtime_ns >= newest


def _write_if_changed(path, data: bytes) -> None:
    """Atomic write that leaves the file (and its time stamp) alone when nothing changed."""
    from pathlib import Path

    from manifold_probe.executor import atomic_write_bytes

    path = Path(path)
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    atomic_write_bytes(path, data)


def write_tables(out, meta, specs) -> dict:
    """profile.csv / profile.json (and perturbations.csv) from the finished task files."""
    from pathlib import Path

    from manifold_probe.executor import read_json

    out = Path(out)
    results: dict[int, list[dict]] = {}
    pert_rows: dict[tuple[str, int], list[dict]] = {}
    for spec in specs:
        data = read_json(task_path(spec))
        if not (isinstance(data, dict) and data.get("id") == spec["id"]):
            continue
        if spec["kind"] == "perturb":
            pert_rows.setdefault((spec["label"], spec["layer"]), []).append(data["values"])
        else:
            results.setdefault(spec["layer"], []).append(data["values"])
    base = [{"n_points": meta["n_points"], "dim_ambient": d} for d in meta["dims"]]
    rows = assemble_rows(meta["layers"], base, results)
    columns = column_order(rows)
    rows = [{c: row.get(c) for c in columns} for row in rows]
    _write_csv(out / "profile.csv", columns, rows)
    strict = [{c: (None if isinstance(v, float) and not np.isfinite(v) else v)
               for c, v in row.items()} for row in rows]
    _write_if_changed(out / "profile.json", _json_bytes({"columns": columns, "rows": strict}))
    paths = {"profile_csv": str(out / "profile.csv"), "profile_json": str(out / "profile.json")}
    if pert_rows:
        prow = []
        for (label, layer), values in sorted(pert_rows.items()):
            combined: dict[str, Any] = {}
            for key in values[0]:
                combined[key] = _combine([v.get(key) for v in values])
            prow.append({"perturbation": label, "layer": layer,
                         "layer_name": meta["layers"][layer], **combined})
        pcols = list(prow[0])
        _write_csv(out / "perturbations.csv", pcols, prow)
        paths["perturbations_csv"] = str(out / "perturbations.csv")
    elif (out / "perturbations.csv").exists():
        (out / "perturbations.csv").unlink()  # left from an earlier config with perturbations
    return paths


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if not np.isfinite(value) else repr(round(value, 10))
    return str(value)


def _write_csv(path, columns, rows) -> None:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_fmt(row.get(c)) for c in columns])
    _write_if_changed(path, buf.getvalue().encode("utf-8"))


def _json_bytes(obj) -> bytes:
    import json

    from manifold_probe.executor import _json_default

    return json.dumps(obj, indent=1, sort_keys=True, default=_json_default).encode("utf-8")
