"""``profile.max_rows`` on the command line as in Python: a run above it measures the same
subsample of rows as :func:`manifold_probe.profile_layers` and writes the same table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import manifold_probe as mp

ROOT = Path(__file__).resolve().parent.parent

TOML = """
name = "rows"
seeds = [0]
[model]
spec = "toy-modadd"
[data]
source = "model"
n = 60
[capture]
pooling = "tokens"
layers = ["layer_1_mid", "layer_1"]
batch_size = 256
[estimators.profile]
max_rows = 100
[estimators.knn]
k = 6
[estimators.mle]
k = 6
[estimators.gride]
scales = [1, 2]
[estimators.curvature]
max_points = 60
[estimators.geodesic]
n_sources = 20
[estimators.topology]
max_points = 40
[estimators.regions]
enabled = false
"""


def _same(a, b) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if a is None:
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        # the same tasks on the same float64 rows: equal up to the last bits of BLAS sums
        return isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def test_a_run_above_max_rows_writes_the_table_profile_layers_gives(tmp_path):
    from manifold_probe.capture.toy import TOY_WEIGHTS
    from manifold_probe.config import load_config
    from manifold_probe.experiment import run_experiment
    from manifold_probe.experiment.layout import load_layer

    if not TOY_WEIGHTS.exists():
        pytest.skip(f"toy weights {TOY_WEIGHTS} not shipped yet")
    path = tmp_path / "rows.toml"
    path.write_text(TOML)
    cfg = load_config(path)
    out = tmp_path / "run"
    run_experiment(cfg, out, make_report=False)
    table = json.loads((out / "profile.json").read_text())
    cli = [{c: row[c] for c in table["columns"]} for row in table["rows"]]

    acts = next((out / "activations").iterdir())
    meta = json.loads((acts / "meta.json").read_text())
    layers = {name: load_layer(acts, i) for i, name in enumerate(meta["layers"])}
    sid = np.load(acts / "sentence_ids.npy")
    with np.load(acts / "labels.npz") as data:
        labels = {k: data[k] for k in data.files}
    assert meta["n_points"] > 100  # above max_rows: the subsample is what is compared
    py = mp.profile_layers(layers, estimators=cfg.estimators.to_settings(), seeds=cfg.seeds,
                           sentence_ids=sid, labels=labels, threads=1, as_rows=True)

    assert [r["n_points"] for r in cli] == [meta["n_points"]] * 2
    assert 0 < cli[0]["n_profiled"] <= 100 and cli[0]["n_profiled"] == py[0]["n_profiled"]
    assert list(cli[0]) == list(py[0])
    for a, b in zip(cli, py, strict=True):
        bad = {k: (a[k], b[k]) for k in a if not _same(a[k], b[k])}
        assert not bad, bad
    # the run measured whole inputs (the trajectory measure ran on them)
    assert cli[1].get("trajectory_curvature") is not None

    # the Dataset says which rows, in both
    ds = mp.profile_layers(layers, estimators=cfg.estimators.to_settings(), seeds=cfg.seeds,
                           sentence_ids=sid, labels=labels, threads=1)
    import xarray as xr

    with xr.open_dataset(out / "profile.nc") as saved:
        assert np.array_equal(np.asarray(saved.attrs["profiled_rows"]),
                              ds.attrs["profiled_rows"])
        assert saved.sizes.get("point") == ds.sizes.get("point") == cli[0]["n_profiled"]
