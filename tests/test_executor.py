"""Executors (in process, dask LocalCluster) and atomic result files."""

import json
import os

import numpy as np
import pytest

from manifold_probe._io import atomic_save_npy, atomic_write_bytes, atomic_write_json, read_json
from manifold_probe.executor import DaskExecutor, InProcessExecutor, make_executor


def _square(spec):
    return {"x": spec["x"], "y": spec["x"] ** 2}


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write_json(tmp_path / "a" / "r.json", {"v": np.float64(1.5), "n": np.int64(2),
                                                   "arr": np.arange(3)})
    assert read_json(tmp_path / "a" / "r.json") == {"v": 1.5, "n": 2, "arr": [0, 1, 2]}
    assert os.listdir(tmp_path / "a") == ["r.json"]
    atomic_save_npy(tmp_path / "x.npy", np.eye(3))
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.eye(3))


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    atomic_write_json(path, {"old": True})

    def boom(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b'{"new": tr')  # interrupted before the rename
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["r.json"]


def test_read_json_of_missing_or_broken_file_is_none(tmp_path):
    assert read_json(tmp_path / "none.json") is None
    (tmp_path / "half.json").write_text('{"a": ')
    assert read_json(tmp_path / "half.json") is None


def test_make_executor_choices():
    assert isinstance(make_executor(), InProcessExecutor)
    ex = make_executor(workers=2)
    assert isinstance(ex, DaskExecutor) and ex.workers == 2 and ex._client is None
    assert isinstance(make_executor(scheduler="tcp://127.0.0.1:1"), DaskExecutor)
    with pytest.raises(ValueError, match="not both"):
        make_executor(workers=2, scheduler="tcp://127.0.0.1:1")


def test_in_process_executor_runs_in_order():
    specs = [{"x": i} for i in range(5)]
    with InProcessExecutor() as ex:
        out = list(ex.map_unordered(_square, specs))
    assert [r["y"] for _, r in out] == [0, 1, 4, 9, 16]


def test_threaded_executor_gives_the_same_results_on_worker_threads():
    import threading

    def square_where(spec):
        return {"y": spec["x"] ** 2, "thread": threading.current_thread().name}

    specs = [{"x": i} for i in range(20)]
    with InProcessExecutor(threads=3) as ex:
        out = list(ex.map_unordered(square_where, specs))
    assert sorted((s["x"], r["y"]) for s, r in out) == [(i, i * i) for i in range(20)]
    assert all(r["thread"].startswith("manifold-probe-task") for _, r in out)
    assert make_executor(threads=2).threads == 2


def test_threaded_executor_preloads_in_the_calling_thread_first():
    import threading

    seen = []

    def preload():
        seen.append(("preload", threading.current_thread().name))

    def task(spec):
        seen.append(("task", spec["x"]))
        return spec["x"]

    ex = InProcessExecutor(threads=2, preload=preload)
    assert sorted(r for _, r in ex.map_unordered(task, [{"x": i} for i in range(4)])) == [0, 1, 2, 3]
    assert seen[0] == ("preload", threading.current_thread().name)
    assert sum(1 for kind, _ in seen if kind == "preload") == 1
    # the default preload imports every module the task functions import on first use
    import sys

    from manifold_probe.analysis.tasks import TASK_IMPORTS
    from manifold_probe.analysis.tasks import preload as task_preload

    task_preload()
    assert all(name in sys.modules for name in TASK_IMPORTS)


def test_threaded_executor_raises_the_first_error_and_skips_unstarted_tasks():
    import threading
    import time

    started = []
    lock = threading.Lock()

    def fails_at_3(spec):
        with lock:
            started.append(spec["x"])
        if spec["x"] == 3:
            raise ValueError("task 3 failed")
        time.sleep(0.01)
        return spec["x"]

    with pytest.raises(ValueError, match="task 3 failed"):
        list(InProcessExecutor(threads=2).map_unordered(fails_at_3, [{"x": i} for i in range(50)]))
    assert 3 in started and len(started) < 50


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_threaded_executor_rejects_bad_thread_counts(bad):
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        InProcessExecutor(threads=bad)


def test_dask_local_cluster_gives_the_same_results():
    pytest.importorskip("distributed")
    specs = [{"x": i} for i in range(6)]
    with DaskExecutor(workers=2) as ex:
        out = sorted((s["x"], r["y"]) for s, r in ex.map_unordered(_square, specs))
        # the work ran in worker processes, not here
        pids = ex._client.run(os.getpid)
        assert len(pids) == 2 and os.getpid() not in pids.values()
        assert list(ex.map_unordered(_square, [])) == []
    assert out == [(i, i * i) for i in range(6)]
    assert ex._client is None and ex._cluster is None


def test_dask_executor_connects_to_a_running_scheduler():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        with DaskExecutor(scheduler=cluster.scheduler_address) as ex:
            out = sorted(r["y"] for _, r in ex.map_unordered(_square, [{"x": 3}, {"x": 4}]))
            assert ex._cluster is None  # it used the given scheduler, started none of its own
    assert out == [9, 16]
