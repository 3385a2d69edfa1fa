"""One schema for every written column (manifold_probe.analysis.columns): each column of
profile.csv, perturbations.csv and profile.nc has an entry, the README's tables are the
generated ones, and profile.nc read back with xarray equals profile.csv column for column."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from manifold_probe.analysis.columns import (
    PERTURBATIONS,
    PROFILE,
    Column,
    entry,
    readme_tables,
    undocumented,
)
from manifold_probe.cli import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The shipped tiny config (toy model, 120 inputs, one perturbation) run by the CLI."""
    out = tmp_path_factory.mktemp("tiny")
    result = CliRunner().invoke(app, ["run", str(ROOT / "experiments/configs/tiny.toml"),
                                      "--out", str(out), "-q", "--threads", "1"])
    assert result.exit_code == 0, result.output
    return out


def _csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_written_column_has_an_entry(tiny_run):
    import xarray as xr

    profile = _csv(tiny_run / "profile.csv")
    assert undocumented(profile[0], "profile") == []
    assert undocumented(_csv(tiny_run / "perturbations.csv")[0], "perturbations") == []
    with xr.open_dataset(tiny_run / "profile.nc", engine="scipy") as ds:
        assert undocumented(list(ds.variables), "dataset") == []
        # every variable carries its meaning and units
        for name in ds.data_vars:
            assert ds[name].attrs.get("description"), name
            assert "units" in ds[name].attrs, name


def test_netcdf_equals_csv_column_for_column(tiny_run):
    import xarray as xr

    rows = _csv(tiny_run / "profile.csv")
    with xr.open_dataset(tiny_run / "profile.nc", engine="scipy") as ds:
        assert json.loads(ds.attrs["columns"]) == list(rows[0])
        for col in rows[0]:
            values = ds[col].values
            kind = entry(col).type
            for i, r in enumerate(rows):
                cell, got = r[col], values[i]
                if kind == "text":
                    assert str(got) == cell, (col, i)
                elif cell == "":  # NaN where the CSV is empty, never True
                    assert np.isnan(got), (col, i, got)
                elif kind == "bool":
                    assert got == {"true": 1.0, "false": 0.0}[cell], (col, i)
                else:
                    # the CSV keeps 10 decimals
                    assert float(got) == pytest.approx(float(cell), rel=1e-9, abs=1e-10), (col, i)
        # an undefined boolean stays undefined (xarray decoded attrs["dtype"] = "bool" as True)
        assert np.isnan(ds["topology_preserved_prev"].values[0])
        assert ds["topology_preserved_prev"].attrs["flag_meanings"] == "false true"


def test_undecided_perturbations_are_not_read_as_broken(tiny_run):
    rows = _csv(tiny_run / "perturbations.csv")
    assert rows
    for r in rows:
        assert r["topology_preserved"] == {"kept": "true", "broken": "false",
                                           "undecided": ""}[r["verdict"]]


def test_profile_layers_with_labels_gives_the_cli_columns(tiny_run):
    from manifold_probe.analysis import profile_layers

    config = json.loads((tiny_run / "config.json").read_text())
    acts = next((tiny_run / "activations").iterdir())
    meta = json.loads((acts / "meta.json").read_text())
    layers = {name: np.load(acts / f"L{i:02d}.npy") for i, name in enumerate(meta["layers"])}
    with np.load(acts / "labels.npz") as z:
        labels = {k: z[k] for k in z.files}
    rows = profile_layers(layers, estimators=config["estimators"], seeds=config["seeds"],
                          labels=labels, as_rows=True)
    cli = _csv(tiny_run / "profile.csv")
    assert list(rows[0]) == list(cli[0])
    label_columns = [c for c in cli[0] if c.startswith(("structure_", "regions_", "label_"))]
    assert label_columns  # the toy model's answers are a known cycle
    for col in label_columns + ["id_twonn", "betti_0"]:
        for r, c in zip(rows, cli, strict=True):
            if c[col] in ("", "true", "false"):
                continue
            if entry(col).type == "text":  # calls such as above / within / below
                assert str(r[col]) == c[col], col
                continue
            assert float(r[col]) == pytest.approx(float(c[col]), rel=1e-9, abs=1e-10), col


def test_readme_tables_are_the_generated_ones():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for table in ("profile", "perturbations", "dataset_extra"):
        assert f"<!-- columns:{table} " in text
    assert readme_tables(text) == text, (
        "README column tables are stale: run python -c \"from manifold_probe.analysis.columns "
        "import write_readme_tables as w; w('README.md')\"")
    # `layer` is the integer index; the name is `layer_name`
    assert entry("layer").type == "int" and entry("layer_name").type == "text"


def test_patterns_and_unknown_columns():
    assert entry("id_gride_16").name == "id_gride_<n1>"
    assert entry("structure_wordnet_tree_delta_p").name == "structure_<name>_delta_p"
    assert entry("structure_days_p").name == "structure_<name>_p"
    assert entry("knn_overlap_input").name == "knn_overlap_<suffix>"
    assert entry("curvature_median_by_seed", "dataset").name == "<column>_by_seed"
    assert undocumented(["id_twonn", "no_such_column"]) == ["no_such_column"]
    assert entry("betti_x_prev") is None  # never written
    with pytest.raises(ValueError, match="type"):
        Column("x", "boolean", "", "")
    names = [c.name for c in PROFILE] + [c.name for c in PERTURBATIONS]
    assert len(set(c.name for c in PROFILE)) == len(PROFILE) and names


def test_dataset_booleans_round_trip_through_rows():
    from manifold_probe.analysis.table import dataset_rows, profile_dataset

    rows = [{"layer": 0, "layer_name": "a", "topology_preserved_prev": None, "betti_0": 1},
            {"layer": 1, "layer_name": "b", "topology_preserved_prev": False, "betti_0": None},
            {"layer": 2, "layer_name": "c", "topology_preserved_prev": True, "betti_0": 2}]
    ds = profile_dataset(rows, ["layer", "layer_name", "topology_preserved_prev", "betti_0"])
    v = ds["topology_preserved_prev"]
    assert v.dtype == np.float64 and np.isnan(v.values[0]) and list(v.values[1:]) == [0.0, 1.0]
    back = dataset_rows(ds)
    assert [r["topology_preserved_prev"] for r in back] == [None, False, True]
    assert [r["betti_0"] for r in back] == [1, None, 2]
