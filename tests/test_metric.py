"""The cosine metric: the profile of a cloud equals the Euclidean profile of its rows on the unit sphere."""

from __future__ import annotations

import numpy as np
import pytest

from manifold_probe import InputError
from manifold_probe.analysis import profile_layers
from manifold_probe.analysis.metric import apply_metric

EST = {"curvature": {"enabled": False}, "topology": {"enabled": False},
       "geodesic": {"n_sources": 20}, "regions": {"enabled": False}}


def _cloud(seed=0, n=150):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    X = np.c_[np.cos(t), np.sin(t), 0.1 * rng.normal(size=n), np.zeros(n)]
    return X * rng.uniform(0.5, 3.0, n)[:, None]  # radii vary: euclidean != cosine geometry


def test_cosine_rows_are_unit_and_directions_kept():
    X = _cloud()
    U = apply_metric(X, "cosine")
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0, rtol=1e-12)
    # the chord distance on the sphere is sqrt(2 (1 - cos)), cos read from the raw rows
    cos = (X[:5] @ X[5:10].T) / np.outer(np.linalg.norm(X[:5], axis=1), np.linalg.norm(X[5:10], axis=1))
    chord = np.linalg.norm(U[:5, None] - U[None, 5:10], axis=2)
    np.testing.assert_allclose(chord, np.sqrt(2 * (1 - cos)), atol=1e-12)
    assert apply_metric(X, "euclidean") is X


def test_profile_with_cosine_equals_profile_of_unit_rows():
    X = _cloud(1)
    Y = X @ np.random.default_rng(2).normal(size=(4, 4))
    a = profile_layers({"a": X, "b": Y}, estimators=EST, metric="cosine", as_rows=True)
    b = profile_layers({"a": apply_metric(X, "cosine"), "b": apply_metric(Y, "cosine")},
                       estimators=EST, as_rows=True)
    e = profile_layers({"a": X, "b": Y}, estimators=EST, as_rows=True)
    for ra, rb in zip(a, b, strict=True):
        for key, va in ra.items():
            if isinstance(va, float) and np.isnan(va):
                assert np.isnan(rb[key])
            else:
                assert va == rb[key], key
    assert a[1]["knn_overlap_prev"] != e[1]["knn_overlap_prev"]  # the metric changes the graph


def test_cosine_refuses_zero_rows_and_unknown_metric():
    X = _cloud()
    X[7] = 0
    with pytest.raises(InputError, match="zero norm .*row 7"):
        apply_metric(X, "cosine")
    with pytest.raises(InputError, match="metric must be one of"):
        apply_metric(X, "manhattan")


def test_config_cosine_capture_stores_unit_rows_under_its_own_key(tmp_path):
    from pathlib import Path

    from manifold_probe.config import load_config
    from manifold_probe.experiment.runner import capture_only

    cfg_path = Path(__file__).parents[1] / "experiments" / "configs" / "tiny.toml"
    eu = load_config(cfg_path)
    co = load_config(cfg_path, overrides={"capture.metric": "cosine"})
    f_eu, meta, _ = capture_only(eu, tmp_path)
    f_co, _, _ = capture_only(co, tmp_path)
    assert f_eu != f_co  # the metric is part of the capture's cache key
    for i in range(len(meta["layers"])):
        raw = np.load(f_eu / f"L{i:02d}.npy")
        unit = np.load(f_co / f"L{i:02d}.npy")
        np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
