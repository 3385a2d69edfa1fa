"""One place per fact: defaults, the meaning of seed=None, the task schedule."""

import inspect
from pathlib import Path

import numpy as np
import pytest

import manifold_probe as mp
from manifold_probe import InputError
from manifold_probe._validation import check_seed
from manifold_probe.analysis import EstimatorSettings
from manifold_probe.analysis.tasks import TASK_SETTINGS, TASKS, schedule
from manifold_probe.config import EstimatorsConfig, parse_config
from manifold_probe.dimension._base import seed_int
from manifold_probe.dimension._mle import mle
from manifold_probe.experiment import plan_tasks


def _default(fn, name):
    return inspect.signature(fn).parameters[name].default


def test_defaults_come_from_the_estimators_signatures():
    est = EstimatorSettings()
    assert est.knn.k == _default(mp.knn, "k")
    assert est.mle.k == _default(mle, "k")
    assert est.curvature.method == _default(mp.scalar_curvature, "method")
    assert est.geodesic.method == _default(mp.geodesic_distances, "method")
    assert est.geodesic.n_sources == _default(mp.warp, "n_sources")
    for name in ("maxdim", "confidence", "n_landmarks"):
        assert getattr(est.topology, name) == _default(mp.betti_numbers, name)


def test_config_defaults_are_the_analysis_defaults():
    # a config that sets nothing gives exactly the analysis layer's defaults
    assert EstimatorsConfig().to_settings() == EstimatorSettings()
    assert EstimatorsConfig().graph_k() == EstimatorSettings().graph_k()


def test_settings_reject_unknown_keys_with_the_known_ones():
    with pytest.raises(InputError, match="'mle.kk' is unknown; known: enabled, k"):
        EstimatorSettings.from_mapping({"mle": {"kk": 3}})
    with pytest.raises(InputError, match="section 'mlee' is unknown"):
        EstimatorSettings.from_mapping({"mlee": {}})


def test_seed_none_means_fresh_randomness_everywhere():
    # numpy's meaning: None draws fresh entropy; an int is reproducible
    assert seed_int(7) == 7
    assert seed_int(np.random.default_rng(3)) == seed_int(np.random.default_rng(3))
    draws = {seed_int(None) for _ in range(4)}
    assert len(draws) > 1  # equal 4 times with probability 2**-93
    fresh = {int(check_seed(None).integers(2**31)) for _ in range(4)}
    assert len(fresh) > 1
    with pytest.raises(InputError, match="seed must be"):
        seed_int("0")


@pytest.mark.parametrize("flags", [
    {},
    {"topology": {"diagram_distances": True}},
    {"curvature": {"enabled": False}, "twonn": {"enabled": False}, "mle": {"enabled": False},
     "gride": {"enabled": False}},
])
def test_runner_plans_exactly_the_schedule(flags, tmp_path):
    # the one task table drives both paths: the runner's specs are schedule()'s tasks
    cfg = parse_config({"seeds": [0, 3], "estimators": flags})
    meta = {"layers": ["a", "b", "c"], "n_points": 50, "dims": [4, 4, 4],
            "has_sentence_ids": True}
    _, specs = plan_tasks(cfg, tmp_path, Path(tmp_path / "activations" / "h"), meta, {})
    planned = [(s["kind"], s["layer"], s["seed"], s["other"]) for s in specs]
    est = cfg.estimators.to_settings()
    expected = [(t.kind, t.layer, t.seed, t.other)
                for t in schedule(3, est, [0, 3], has_sentence_ids=True)]
    assert planned == expected
    assert len({s["id"] for s in specs}) == len(specs)
    assert set(TASKS) == set(TASK_SETTINGS)


def test_the_runner_starts_the_costliest_pending_tasks_first(tmp_path):
    # the runner plans schedule()'s tasks and hands the executor those still to run with the
    # costliest kinds first (longest_first); each keeps its spec, so its result file and key
    from manifold_probe.analysis.tasks import TASK_COST
    from manifold_probe.experiment.integrity import pending_tasks

    class Missing:  # a run directory with nothing saved yet
        def problem(self, path):
            return "missing"

        def folder_digests(self, folder):
            return {}

    class Quiet:
        def message(self, text):
            raise AssertionError(text)

    cfg = parse_config({"seeds": [0]})
    meta = {"layers": ["a", "b", "c", "d"], "n_points": 50, "dims": [4] * 4,
            "has_sentence_ids": True}
    _, specs = plan_tasks(cfg, tmp_path, Path(tmp_path / "activations" / "h"), meta, {})
    todo = pending_tasks(Missing(), specs, Quiet())
    assert sorted(s["id"] for s in todo) == sorted(s["id"] for s in specs)
    costs = [TASK_COST[s["kind"]] for s in todo]
    assert costs == sorted(costs, reverse=True) and todo[0]["kind"] == "pair_prev"
    assert all(s["checksums"] == {"activations": {}, "graphs": {}} for s in todo)
