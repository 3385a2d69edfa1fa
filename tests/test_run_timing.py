"""The runner records each task's wall and CPU time and sums them per measure kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manifold_probe._io import atomic_write_json
from manifold_probe.experiment.layout import task_path
from manifold_probe.experiment.runner import task_times

ROOT = Path(__file__).resolve().parents[1]


def test_task_times_sums_per_kind_including_reused_tasks(tmp_path):
    specs = []
    for i, (kind, wall, cpu) in enumerate([("curvature", 2.0, 1.5), ("curvature", 1.0, 0.5),
                                           ("topology", 0.25, 0.25)]):
        spec = {"dir": str(tmp_path), "id": f"{kind}-{i}", "kind": kind, "layer": i}
        atomic_write_json(task_path(spec), {"id": spec["id"], "values": {}, "seconds": wall,
                                            "cpu_seconds": cpu})
        specs.append(spec)
    # a task without a result file (not finished) contributes nothing
    specs.append({"dir": str(tmp_path), "id": "missing", "kind": "pair_prev", "layer": 1})
    out = task_times(specs, knn_results=[{"k": 10, "seconds": 0.5, "cpu_seconds": 0.4}])
    assert out == {"time_curvature_s": 3.0, "time_topology_s": 0.25, "time_knn_s": 0.5,
                   "cpu_time_curvature_s": 2.0, "cpu_time_topology_s": 0.25,
                   "cpu_time_knn_s": 0.4}


def test_run_writes_time_per_measure_to_run_json(tmp_path):
    from manifold_probe.capture.toy import TOY_WEIGHTS
    from manifold_probe.config import load_config
    from manifold_probe.experiment import run_experiment

    if not TOY_WEIGHTS.exists():
        pytest.skip(f"toy weights {TOY_WEIGHTS} not shipped yet")
    cfg = load_config(ROOT / "experiments/configs/tiny.toml")
    result = run_experiment(cfg, tmp_path, make_report=False)
    summary = json.loads((tmp_path / "run.json").read_text())
    kinds = {json.loads(p.read_text())["kind"] for p in (tmp_path / "tasks").glob("*.json")}
    assert kinds and {f"time_{k}_s" for k in kinds} <= set(summary)
    for k in kinds | {"knn"}:
        assert summary[f"time_{k}_s"] >= 0 and summary[f"cpu_time_{k}_s"] >= 0
        assert result[f"time_{k}_s"] == summary[f"time_{k}_s"]
    # a rerun reuses every task and still reports the measures' times (not the graphs')
    again = run_experiment(cfg, tmp_path, make_report=False)
    assert again["run"] == 0
    assert {f"time_{k}_s" for k in kinds} <= set(again)
