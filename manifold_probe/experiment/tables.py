"""The tables of a finished run: ``profile.csv``/``profile.json`` and ``perturbations.csv``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._io import json_bytes, read_json, write_if_changed
from manifold_probe.analysis.table import assemble_rows, column_order, combine_rows
from manifold_probe.experiment.layout import task_path

__all__ = ["write_csv", "write_tables"]


def write_tables(out: str | Path, meta: Mapping[str, Any],
                 specs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """profile.csv / profile.json (and perturbations.csv) from the finished task files."""
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
    write_csv(out / "profile.csv", columns, rows)
    strict = [{c: (None if isinstance(v, float) and not np.isfinite(v) else v)
               for c, v in row.items()} for row in rows]
    write_if_changed(out / "profile.json", json_bytes({"columns": columns, "rows": strict}))
    paths = {"profile_csv": str(out / "profile.csv"), "profile_json": str(out / "profile.json")}
    if pert_rows:
        prow = [{"perturbation": label, "layer": layer, "layer_name": meta["layers"][layer],
                 **combine_rows(values)}
                for (label, layer), values in sorted(pert_rows.items())]
        write_csv(out / "perturbations.csv", list(prow[0]), prow)
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


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """A CSV table (NaN and None as empty cells), written atomically and only when changed."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_fmt(row.get(c)) for c in columns])
    write_if_changed(path, buf.getvalue().encode("utf-8"))
