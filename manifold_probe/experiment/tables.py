"""The tables of a finished run: ``profile.csv``/``profile.json``, ``profile.nc`` (the same
results as an :class:`xarray.Dataset`, with the per-seed and per-point arrays) and
``perturbations.csv``. This module is the only writer of these files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._io import json_bytes, read_json, write_if_changed
from manifold_probe.analysis.columns import sort_key
from manifold_probe.analysis.perturbation import combine_verdicts
from manifold_probe.analysis.table import (
    POINT_PREFIX,
    SEEDED_KINDS,
    assemble_rows,
    column_order,
    profile_dataset,
)
from manifold_probe.analysis.warp_null import warp_family_calls
from manifold_probe.experiment.layout import DiskSource, task_path

__all__ = ["NETCDF_ENGINE", "write_csv", "write_netcdf", "write_tables"]

#: netCDF writer: scipy's netCDF-3 writer (scipy is a core dependency; no HDF5 library needed).
NETCDF_ENGINE = "scipy"


def write_tables(out: str | Path, meta: Mapping[str, Any],
                 specs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """profile.csv / profile.json / profile.nc (and perturbations.csv) from the finished task files.

    ``profile.nc`` is :func:`~manifold_probe.analysis.table.profile_dataset` of the same rows,
    plus the seeded measures per seed and the per-point arrays (``point_*``) of the tasks.
    """
    out = Path(out)
    specs = list(specs)
    results: dict[int, list[dict]] = {}
    by_seed: dict[tuple[int, int], list[dict]] = {}
    points: dict[int, dict[str, Any]] = {}
    pert_rows: dict[tuple[str, int], list[dict]] = {}
    sentence_ids = None
    for spec in specs:
        data = read_json(task_path(spec))
        if not (isinstance(data, dict) and data.get("id") == spec["id"]):
            continue
        if spec["kind"] == "perturb":
            pert_rows.setdefault((spec["label"], spec["layer"]), []).append(data["values"])
            continue
        values = data["values"]
        scalars = {k: v for k, v in values.items() if not k.startswith(POINT_PREFIX)}
        points.setdefault(spec["layer"], {}).update(
            {k: v for k, v in values.items() if k.startswith(POINT_PREFIX)})
        results.setdefault(spec["layer"], []).append(scalars)
        if spec["kind"] in SEEDED_KINDS:
            by_seed.setdefault((spec["layer"], spec.get("seed", 0)), []).append(scalars)
        if sentence_ids is None and spec.get("has_sentence_ids"):
            sid_file = Path(spec["activations"]) / "sentence_ids.npy"
            if sid_file.exists():
                sentence_ids = np.load(sid_file)
    # above profile.max_rows the tasks measured a subsample of the rows (as profile_layers)
    first = next((s for s in specs if s.get("max_rows") is not None), None)
    kept = None if first is None else DiskSource(first).rows()
    if kept is not None and sentence_ids is not None:
        sentence_ids = sentence_ids[kept]
    base = [{"n_points": meta["n_points"], "dim_ambient": d,
             **({} if kept is None else {"n_profiled": len(kept)})} for d in meta["dims"]]
    settings = next((s.get("estimators") for s in specs if s.get("estimators") is not None), None)
    alpha = settings.structure.alpha if hasattr(settings, "structure") else 0.05
    warp_family_calls(by_seed)  # the warp calls, family-wise over the run's layer pairs
    rows = assemble_rows(meta["layers"], base, results, alpha=alpha)
    columns = column_order(rows)
    rows = [{c: row.get(c) for c in columns} for row in rows]
    write_csv(out / "profile.csv", columns, rows)
    strict = [{c: (None if isinstance(v, float) and not np.isfinite(v) else v)
               for c, v in row.items()} for row in rows]
    write_if_changed(out / "profile.json", json_bytes({"columns": columns, "rows": strict}))
    attrs = {"model": meta.get("model", ""), "seeds": sorted({s for (_, s) in by_seed}),
             "source": "manifold-probe run"}
    if settings is not None and hasattr(settings, "as_dict"):
        attrs["estimators"] = settings.as_dict()
    if kept is not None:
        attrs["profiled_rows"] = kept
    ds = profile_dataset(rows, columns, by_seed=by_seed, points=points,
                         sentence_ids=sentence_ids, attrs=attrs)
    write_netcdf(out / "profile.nc", ds)
    paths = {"profile_csv": str(out / "profile.csv"), "profile_json": str(out / "profile.json"),
             "profile_nc": str(out / "profile.nc")}
    if pert_rows:
        prow = [{"perturbation": label, "layer": layer, "layer_name": meta["layers"][layer],
                 **combine_verdicts(values)}
                for (label, layer), values in sorted(pert_rows.items())]
        # in the schema's order (manifold_probe.analysis.columns), as its README table lists them
        write_csv(out / "perturbations.csv",
                  sorted(prow[0], key=lambda c: sort_key(c, "perturbations")), prow)
        paths["perturbations_csv"] = str(out / "perturbations.csv")
    elif (out / "perturbations.csv").exists():
        (out / "perturbations.csv").unlink()  # left from an earlier config with perturbations
    return paths


def write_netcdf(path: str | Path, ds: Any) -> None:
    """The profile Dataset as netCDF (:data:`NETCDF_ENGINE`), written atomically.

    netCDF-3 has no boolean or nullable type. Booleans are float64 1.0 / 0.0 / NaN (undefined)
    with the CF attributes ``flag_values = [0, 1]`` and ``flag_meanings = "false true"``
    (:mod:`manifold_probe.analysis.columns`), never ``attrs["dtype"] = "bool"``, which xarray's
    decoder would turn into booleans with NaN read as True; text columns are strings (``""``
    for none). Read it back with ``xarray.open_dataset(path, engine="scipy")``.
    """
    from manifold_probe.analysis.columns import BOOL_ATTRS

    ds = ds.copy()
    for name in list(ds.variables):
        var = ds[name]
        if var.dtype == object:
            vals = var.values.ravel().tolist()
            present = [v for v in vals if v is not None and v != ""]
            if present and all(isinstance(v, (bool, np.bool_)) for v in present):
                arr = np.asarray([np.nan if v is None or v == "" else float(v) for v in vals])
                ds[name] = var.copy(data=arr.reshape(var.shape))
                ds[name].attrs.update(BOOL_ATTRS)
            else:
                arr = np.asarray(["" if v is None else str(v) for v in vals], dtype=str)
                ds[name] = var.copy(data=arr.reshape(var.shape))
        elif var.dtype == bool:
            ds[name] = var.astype(np.float64)
            ds[name].attrs.update(BOOL_ATTRS)
    # (64-bit integers are narrowed to 32 bits by xarray's netCDF-3 encoder when they fit)
    write_if_changed(path, bytes(ds.to_netcdf(None, engine=NETCDF_ENGINE)))


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if not np.isfinite(value) else repr(round(value, 10))
    return str(value)


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """A CSV table (NaN and None as empty cells), written atomically and only when changed."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_fmt(row.get(c)) for c in columns])
    write_if_changed(path, buf.getvalue().encode("utf-8"))
