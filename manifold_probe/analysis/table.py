"""The per-layer table: the columns of the profile, and seeds combined into one row per layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "PROFILE_COLUMNS",
    "REQUIRED_COLUMNS",
    "assemble_rows",
    "column_order",
    "combine",
    "combine_rows",
]

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

# the warp columns of layer 1's previous layer, which is the input layer
_WARP_KEYS = ("geodesic_distortion", "geodesic_log_ratio", "knn_overlap", "trustworthiness",
              "continuity")


def combine(values: list[Any]) -> Any:
    """Combine one column's values over seeds: mean of floats, all() of booleans, median int.

    >>> combine([1.0, 3.0]), combine([True, False]), combine([1, 2, 2]), combine([None])
    (2.0, False, 2, None)
    """
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


def combine_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Column-wise :func:`combine` of several result dicts (keys of the first one)."""
    return {key: combine([r.get(key) for r in rows]) for key in rows[0]} if rows else {}


def assemble_rows(layer_names: Sequence[str], base: Sequence[Mapping[str, Any]],
                  results: Mapping[int, Sequence[Mapping[str, Any]]], *,
                  copy_input_from_prev: bool = True) -> list[dict]:
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

    Notes
    -----
    Where no pairwise topology comparison ran, ``topology_preserved_prev`` is the test of
    :func:`manifold_probe.topology_preserved` applied to the per-layer results: the
    significant Betti numbers of the two layers agree (exact, since every layer is analysed
    with the shared seed of :func:`~manifold_probe.analysis.measures.topology_seed`).
    """
    rows = []
    for i, name in enumerate(layer_names):
        row: dict[str, Any] = {"layer": i, "layer_name": name, **base[i]}
        columns: dict[str, list[Any]] = {}
        for res in results.get(i, []):
            for key, value in res.items():
                columns.setdefault(key, []).append(value)
        for key, values in columns.items():
            row[key] = combine(values)
        if i >= 1 and "topology_preserved_prev" not in row:
            prev = rows[i - 1]
            bettis = [key for key in row if key.startswith("betti_") and key[6:].isdigit()]
            if bettis and all(prev.get(key) is not None for key in bettis):
                row["topology_preserved_prev"] = all(row[key] == prev[key] for key in bettis)
        if copy_input_from_prev and i == 1:
            for key in _WARP_KEYS:
                if f"{key}_prev" in row:
                    row[f"{key}_input"] = row[f"{key}_prev"]
        rows.append(row)
    return rows


def column_order(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """PROFILE_COLUMNS first (all of them, so the schema is fixed), then any extra columns.

    >>> column_order([{"id_gride_4": 1.0, "id_gride_2": 1.0, "x": 0}])[7:10]
    ['id_mle', 'id_gride_2', 'id_gride_4']
    """
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
