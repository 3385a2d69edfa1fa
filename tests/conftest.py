"""Shared test set-up: deterministic, thread-pinned, offline."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests draw their examples from a fixed seed: the same examples on every run and in
# CI, so a result never depends on the day. A failure found by exploring (set
# HYPOTHESIS_PROFILE=explore) becomes a named regression test.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(autouse=True, scope="session")
def _pin_threads():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(20261128)


@pytest.fixture
def interrupt_runner(monkeypatch):
    """``interrupt_runner(n)``: the runner's tasks raise KeyboardInterrupt after ``n`` calls
    (Ctrl-C in the middle of a run); ``interrupt_runner(None)`` puts the real tasks back."""
    import manifold_probe.experiment.runner as runner

    real = runner.run_task

    def arm(n):
        if n is None:
            monkeypatch.setattr(runner, "run_task", real)
            return
        calls = {"n": 0}

        def interrupted(spec):
            calls["n"] += 1
            if calls["n"] > n:
                raise KeyboardInterrupt
            return real(spec)

        monkeypatch.setattr(runner, "run_task", interrupted)

    return arm
