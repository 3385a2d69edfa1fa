"""The ``[estimators.*]`` sections of an experiment config (see :mod:`manifold_probe.config`).

The models live in :mod:`manifold_probe.analysis.settings_schema`, the one schema that the
Python API validates through as well.
"""

from __future__ import annotations

from manifold_probe.analysis.settings_schema import (
    MAX_SEED,
    SEED_RULE,
    EstimatorsConfig,
    Seed,
    Strict,
)

__all__ = ["MAX_SEED", "EstimatorsConfig", "Seed", "SEED_RULE", "Strict"]
