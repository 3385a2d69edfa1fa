"""The experiment runner (interfaces layer): config → capture → tasks → files.

- :mod:`~manifold_probe.experiment.runner` — :func:`run_experiment`, capture, task planning
  and the picklable :func:`run_task` the executors run;
- :mod:`~manifold_probe.experiment.layout` — the run directory and reading it back;
- :mod:`~manifold_probe.experiment.tables` — ``profile.csv``, ``profile.json``,
  ``profile.nc`` (xarray Dataset), ``perturbations.csv``.
"""

from __future__ import annotations

from manifold_probe.experiment.layout import activations_complete
from manifold_probe.experiment.runner import (
    ProgressSink,
    capture_hash,
    capture_to_folder,
    experiment_inputs,
    load_handle,
    plan_tasks,
    run_experiment,
    run_task,
)
from manifold_probe.experiment.tables import write_tables

__all__ = [
    "ProgressSink",
    "activations_complete",
    "capture_hash",
    "capture_to_folder",
    "experiment_inputs",
    "load_handle",
    "plan_tasks",
    "run_experiment",
    "run_task",
    "write_tables",
]
