"""The per-layer table: the columns of the profile, seeds combined into one row per layer, and
the same results as an :class:`xarray.Dataset` (:func:`profile_dataset`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from manifold_probe.analysis.columns import BOOL_ATTRS, entry, sort_key, variable_attrs
from manifold_probe.analysis.nulls import CALLS, combine_calls, structure_calls

__all__ = [
    "POINT_PREFIX",
    "PROFILE_COLUMNS",
    "REQUIRED_COLUMNS",
    "SEEDED_KINDS",
    "SEED_LABELS",
    "assemble_rows",
    "column_order",
    "combine",
    "combine_rows",
    "dataset_rows",
    "profile_dataset",
]

#: Result keys starting with this prefix hold one value per input row (a list): they go on the
#: Dataset's ``point`` dimension, never into profile.csv.
POINT_PREFIX = "point_"

#: Task kinds whose result depends on the seed (kept per seed on the Dataset's ``seed`` dim).
SEEDED_KINDS = ("curvature", "topology", "pair_prev", "topology_prev", "pair_input")

REQUIRED_COLUMNS = (
    "layer", "n_points", "dim_ambient", "id_twonn", "id_mle", "curvature_median",
    "geodesic_distortion_prev", "knn_overlap_prev", "betti_0", "betti_1",
    "topology_preserved_prev",
)

#: Every column of ``profile.csv``, in order (``id_gride_*`` and ``betti_2`` are appended as
#: the settings ask for them).
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

#: Labels of what a block did (kept / broken, merged, split): a label is written only where
#: every seed gives it; where the seeds disagree it is undefined (None: undecided), never the
#: and-ed False that would read "broken" or "not merged"
SEED_LABELS = ("topology_preserved_prev", "regions_merged_prev", "regions_split_prev")

# the warp columns of layer 1's previous layer, which is the input layer
_WARP_KEYS = ("geodesic_distortion", "geodesic_log_ratio", "knn_overlap", "trustworthiness",
              "continuity")


def combine(values: list[Any]) -> Any:
    """Combine one column's values over seeds: mean of floats, all() of booleans, median int;
    a call against a null (``above``/``within``/``below``) only where every seed gives it,
    ``undecided`` otherwise (:func:`~manifold_probe.analysis.nulls.combine_calls`).

    >>> combine([1.0, 3.0]), combine([True, False]), combine([1, 2, 2]), combine([None])
    (2.0, False, 2, None)
    >>> combine(["above", "above"]), combine(["above", "within"])
    ('above', 'undecided')
    """
    values = [v for v in values if v is not None]
    if not values:
        return None
    first = values[0]
    if isinstance(first, str) and all(v in CALLS for v in values):
        return combine_calls(values)
    if isinstance(first, bool):
        return all(values)
    if isinstance(first, int):
        return int(np.round(np.median(values)))
    if isinstance(first, float):
        arr = np.asarray(values, dtype=np.float64)
        return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")
    return first


def combine_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Column-wise :func:`combine` of several result dicts (keys of the first one)."""
    return {key: combine([r.get(key) for r in rows]) for key in rows[0]} if rows else {}


def assemble_rows(layer_names: Sequence[str], base: Sequence[Mapping[str, Any]],
                  results: Mapping[int, Sequence[Mapping[str, Any]]], *,
                  copy_input_from_prev: bool = True, alpha: float = 0.05) -> list[dict]:
    """One row per layer from the per-task results.

    Parameters
    ----------
    layer_names : sequence of str
    base : sequence of dict
        Per layer: ``n_points`` and ``dim_ambient``.
    results : mapping of layer index to a list of result dicts
        Every finished task's values for that layer (several seeds may give the same column;
        they are combined: floats averaged, booleans and-ed, integers by median).
    copy_input_from_prev : bool, default=True
        Layer 1's previous layer is the input layer: copy its ``*_prev`` warp columns to
        ``*_input``.
    alpha : float, default=0.05
        Family-wise level of the known-structure tests: Holm's procedure over every
        ``structure_<name>_p`` of the table (all structures × layers) gives
        ``structure_<name>_p_holm`` and ``structure_<name>_vs_null``
        (:func:`~manifold_probe.analysis.nulls.structure_calls`).

    Notes
    -----
    Where no pairwise topology comparison ran, ``topology_preserved_prev`` is the test of
    :func:`manifold_probe.topology_preserved` applied to the per-layer results: the
    significant Betti numbers of the two layers agree (exact, since every layer is analysed
    with the shared seed of :func:`~manifold_probe.analysis.measures.topology_seed`). It is
    written only where each of the two layers has the same Betti numbers at every seed, and
    the labels of :data:`SEED_LABELS` only where every seed gives the same one; elsewhere
    they are undefined (None: undecided across the seeds).
    """
    rows: list[dict] = []
    steady: list[bool] = []
    for i, name in enumerate(layer_names):
        row: dict[str, Any] = {"layer": i, "layer_name": name, **base[i]}
        columns: dict[str, list[Any]] = {}
        for res in results.get(i, []):
            for key, value in res.items():
                columns.setdefault(key, []).append(value)
        for key, values in columns.items():
            row[key] = combine(values)
            if key in SEED_LABELS and len({v for v in values if v is not None}) > 1:
                row[key] = None  # the seeds disagree: undecided
        bettis = [key for key in row if key.startswith("betti_") and key[6:].isdigit()]
        # the layer's significant Betti numbers are the same at every seed
        steady.append(all(len(set(columns.get(key, []))) <= 1 for key in bettis))
        if i >= 1 and "topology_preserved_prev" not in row:
            prev = rows[i - 1]
            if bettis and all(prev.get(key) is not None for key in bettis):
                # kept / broken only where both layers' Betti numbers hold across the seeds
                row["topology_preserved_prev"] = (
                    all(row[key] == prev[key] for key in bettis)
                    if steady[i] and steady[i - 1] else None)
        if copy_input_from_prev and i == 1:
            for key in _WARP_KEYS:
                for part in ("", "_null", "_null_lo", "_null_hi", "_p", "_p_fwer",
                             "_compared", "_vs_null"):
                    if f"{key}{part}_prev" in row:
                        row[f"{key}{part}_input"] = row[f"{key}{part}_prev"]
            for key in ("warp_p_min", "warp_null_rows"):
                if f"{key}_prev" in row:
                    row[f"{key}_input"] = row[f"{key}_prev"]
        rows.append(row)
    structure_calls(rows, alpha)
    return rows


def column_order(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """PROFILE_COLUMNS first (all of them, so the schema is fixed), then any extra columns in
    the schema's order.

    >>> column_order([{"id_gride_4": 1.0, "id_gride_2": 1.0, "x": 0}])[7:10]
    ['id_mle', 'id_gride_2', 'id_gride_4']
    """
    cols = list(PROFILE_COLUMNS)
    extra = []
    for row in rows:
        for key in row:
            if key not in cols and key not in extra and not key.startswith(
                    ("betti_x_", "betti_y_", POINT_PREFIX)):
                extra.append(key)
    gride = sorted((c for c in extra if c.startswith("id_gride_")), key=lambda c: int(c.split("_")[-1]))
    # the schema's order (manifold_probe.analysis.columns), so that every path that makes the
    # table (the CLI's task files, profile_layers in memory) gives the same column order
    rest = sorted((c for c in extra if not c.startswith("id_gride_")), key=sort_key)
    at = cols.index("id_mle") + 1
    cols[at:at] = gride
    return cols + rest


def _is_bool(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, (bool, np.bool_)) for v in present)


def _variable(values: list[Any]) -> np.ndarray:
    """One column as an array: bools as float64 1.0 / 0.0 / NaN (None: undefined; see
    :mod:`~manifold_probe.analysis.columns`), numbers as float64 (None -> NaN) or int64 when
    complete, text as object ("" for None)."""
    present = [v for v in values if v is not None]
    if _is_bool(values):
        return np.asarray([np.nan if v is None else float(bool(v)) for v in values])
    if present and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present) \
            and len(present) == len(values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
           for v in present):
        return np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return np.asarray(["" if v is None else str(v) for v in values], dtype=object)


def profile_dataset(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    by_seed: Mapping[tuple[int, int], Sequence[Mapping[str, Any]]] | None = None,
    points: Mapping[int, Mapping[str, Any]] | None = None,
    sentence_ids: Any = None,
    attrs: Mapping[str, Any] | None = None,
):
    """The profile as an :class:`xarray.Dataset`.

    Parameters
    ----------
    rows, columns
        The combined table (:func:`assemble_rows`, :func:`column_order`).
    by_seed : mapping ``(layer, seed) -> list of result dicts``, optional
        Results of the seeded tasks (:data:`SEEDED_KINDS`) before seeds are combined.
    points : mapping ``layer -> {"point_*": list of n_points values}``, optional
    sentence_ids : array (n_points,), optional
        For token-level rows: the input each row comes from (a coordinate on ``point``).
    attrs : mapping, optional
        Settings to keep (values that are not str/int/float are stored as JSON strings).

    Returns
    -------
    xarray.Dataset
        - dim ``layer`` (coordinate: 0 … L, plus ``layer_name``): every column of profile.csv;
        - dims ``(layer, seed)``: ``<column>_by_seed``, each float/bool column of a seeded
          measure before the seeds are combined (their mean, or all() for booleans, is the
          column itself);
        - dims ``(layer, point)``: ``point_*`` arrays, one value per input row (e.g.
          ``point_id_mle``, the local MLE dimension of each row);
        - ``attrs["columns"]``: the JSON list of profile.csv's columns, in order;
        - every variable's ``attrs``: ``description`` and ``units`` from the schema
          (:mod:`manifold_probe.analysis.columns`); booleans are float64 1.0 / 0.0 / NaN
          (undefined) with ``flag_values`` / ``flag_meanings``.

        ``dataset_rows(ds)`` gives back the list of row dicts;
        ``ds[json.loads(ds.attrs["columns"])[1:]].to_dataframe()`` (or
        ``ds.drop_dims(["seed", "point"], errors="ignore").to_dataframe()``) the table as a
        pandas DataFrame indexed by layer.
    """
    import json

    import xarray as xr

    n = len(rows)
    layer_ids = np.arange(n)
    coords: dict[str, Any] = {
        "layer": ("layer", layer_ids),
        "layer_name": ("layer", np.asarray([str(r.get("layer_name", i)) for i, r in enumerate(rows)],
                                           dtype=object)),
    }
    data: dict[str, Any] = {}
    var_attrs: dict[str, dict] = {c: variable_attrs(c) for c in ("layer", "layer_name")}
    for col in columns:
        if col in ("layer", "layer_name"):
            continue
        values = [r.get(col) for r in rows]
        data[col] = (("layer",), _variable(values))
        var_attrs[col] = {**variable_attrs(col), **(BOOL_ATTRS if _is_bool(values) else {})}
    if by_seed:
        seeds = sorted({s for (_, s) in by_seed})
        coords["seed"] = ("seed", np.asarray(seeds, dtype=np.int64))
        keys: list[str] = []
        for results in by_seed.values():
            for res in results:
                for key, value in res.items():
                    if key not in keys and isinstance(value, (bool, float, np.floating, np.bool_)):
                        keys.append(key)
        for key in keys:
            arr = np.full((n, len(seeds)), np.nan)
            for (layer, seed), results in by_seed.items():
                vals = [r[key] for r in results if r.get(key) is not None]
                if vals and layer < n:
                    arr[layer, seeds.index(seed)] = float(vals[0])
            data[f"{key}_by_seed"] = (("layer", "seed"), arr)
            own = variable_attrs(key)
            var_attrs[f"{key}_by_seed"] = {
                **own, "description": "per seed, before the seeds are combined: "
                + own.get("description", key)}
    if points:
        n_points = {len(v) for res in points.values() for v in res.values()}
        if len(n_points) == 1:
            width = n_points.pop()
            coords["point"] = ("point", np.arange(width))
            if sentence_ids is not None:
                coords["sentence_id"] = ("point", np.asarray(sentence_ids, dtype=np.int64))
            for key in sorted({k for res in points.values() for k in res}):
                arr = np.full((n, width), np.nan)
                for layer, res in points.items():
                    if key in res and layer < n:
                        arr[layer] = np.asarray(res[key], dtype=np.float64)
                data[key] = (("layer", "point"), arr)
                var_attrs[key] = variable_attrs(key)
    plain = {}
    for key, value in dict(attrs or {}).items():
        plain[key] = value if isinstance(value, (str, int, float)) and not isinstance(value, bool) \
            else json.dumps(value, sort_keys=True, default=str)
    plain["columns"] = json.dumps(list(columns))
    ds = xr.Dataset(data, coords=coords, attrs=plain)
    for name, attrs in var_attrs.items():
        if name in ds.variables and attrs:
            ds[name].attrs.update(attrs)
    if "sentence_id" in ds.variables:
        ds["sentence_id"].attrs.update(variable_attrs("sentence_id"))
    return ds


def _is_int(col: str) -> bool:
    e = entry(col)
    return e is not None and e.type == "int"


def dataset_rows(ds) -> list[dict]:
    """The rows of profile.csv (one dict per layer) from :func:`profile_dataset`'s Dataset."""
    import json

    columns = json.loads(ds.attrs["columns"])
    rows = []
    for i in range(ds.sizes["layer"]):
        row: dict[str, Any] = {}
        for col in columns:
            if col == "layer":
                value: Any = int(ds["layer"].values[i])
            elif col in ds.variables:
                value = ds[col].values[i]
            else:
                value = None
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, str) and value == "" and col != "layer_name":
                value = None
            if col in ds.variables and ds[col].attrs.get("flag_meanings") == "false true":
                value = None if value is None or not np.isfinite(value) else bool(value)
            elif isinstance(value, float) and not np.isfinite(value) and _is_int(col):
                value = None
            row[col] = value
        rows.append(row)
    return rows
