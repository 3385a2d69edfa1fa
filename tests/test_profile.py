"""The layer profile in memory: known answers on similarity chains, circles, seeds, errors."""

import numpy as np
import pytest

from manifold_probe import InputError
from manifold_probe.analysis import EstimatorSettings, profile_layers
from manifold_probe.analysis.measures import measure_trajectory, subsample_indices
from manifold_probe.analysis.table import (
    PROFILE_COLUMNS,
    REQUIRED_COLUMNS,
    assemble_rows,
    column_order,
)
from manifold_probe.analysis.table import combine as _combine

FAST = {  # no curvature, no topology: the neighbourhood and geodesic measures only
    "curvature": {"enabled": False},
    "topology": {"enabled": False},
    "geodesic": {"n_sources": 40},
    "gride": {"scales": [1, 2, 4]},
}


def _circle(n=300, ambient=5, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    X = np.zeros((n, ambient))
    X[:, 0], X[:, 1] = np.cos(t), np.sin(t)
    q, _ = np.linalg.qr(rng.normal(size=(ambient, ambient)))
    return (X + noise * rng.normal(size=X.shape)) @ q


def _rotation(d, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


def test_similarity_chain_keeps_everything():
    X = _circle()
    layers = {"a": X, "b": 2.0 * X @ _rotation(5, 1), "c": 2.0 * X @ _rotation(5, 1) + 3.0}
    rows = profile_layers(layers, estimators=FAST)
    assert [r["layer_name"] for r in rows] == ["a", "b", "c"]
    assert set(PROFILE_COLUMNS) <= set(rows[0])
    for r in rows:
        assert r["n_points"] == 300 and r["dim_ambient"] == 5
        # a circle is 1-dimensional; TwoNN on 300 points: sampling sd ~ 1/sqrt(300) ~ 0.06
        assert r["id_twonn"] == pytest.approx(1.0, abs=0.2)
        assert r["id_mle"] == pytest.approx(1.0, abs=0.2)
    # similarities change no ratio of distances: every dimension estimate is identical
    assert rows[1]["id_twonn"] == pytest.approx(rows[0]["id_twonn"], rel=1e-9)
    assert rows[2]["id_gride_4"] == pytest.approx(rows[0]["id_gride_4"], rel=1e-9)
    assert rows[0]["knn_overlap_prev"] is None
    for r in rows[1:]:
        assert r["knn_overlap_prev"] == 1.0 and r["knn_overlap_input"] == 1.0
        assert r["trustworthiness_prev"] == pytest.approx(1.0, abs=1e-12)
        assert r["geodesic_distortion_prev"] < 1e-8  # float64 round-off only
    assert rows[1]["geodesic_log_ratio_prev"] == pytest.approx(np.log(2.0), abs=1e-9)
    assert rows[2]["geodesic_log_ratio_prev"] == pytest.approx(0.0, abs=1e-9)
    assert rows[2]["geodesic_log_ratio_input"] == pytest.approx(np.log(2.0), abs=1e-9)


def test_topology_of_a_circle_through_layers():
    X = _circle(n=300, noise=0.01, seed=2)
    # layer c squashes the circle onto a segment (a fold): the loop is gone
    folded = X.copy()
    folded[:, :] = 0.0
    folded[:, 0] = X[:, 0]
    est = {"curvature": {"enabled": False}, "geodesic": {"n_sources": 30},
           "topology": {"max_points": 200}}
    rows = profile_layers({"a": X, "b": 1.5 * X, "c": folded + 1e-3 *
                           np.random.default_rng(0).normal(size=X.shape)}, estimators=est)
    # a noisy circle (noise 1% of the radius): one component, one loop
    assert (rows[0]["betti_0"], rows[0]["betti_1"]) == (1, 1)
    assert (rows[1]["betti_0"], rows[1]["betti_1"]) == (1, 1)
    assert rows[1]["topology_preserved_prev"] is True
    assert rows[2]["betti_1"] == 0
    assert rows[2]["topology_preserved_prev"] is False


def test_seeds_are_combined_and_deterministic():
    X = _circle(200, seed=3)
    Y = np.tanh(2 * X)
    a = profile_layers([X, Y], estimators=FAST, seeds=[0, 1])
    b = profile_layers([X, Y], estimators=FAST, seeds=[0, 1])
    one = profile_layers([X, Y], estimators=FAST, seeds=[0])
    two = profile_layers([X, Y], estimators=FAST, seeds=[1])
    assert a == b
    # geodesic sources depend on the seed; the two-seed value is the mean of the one-seed ones
    expected = 0.5 * (one[1]["geodesic_distortion_prev"] + two[1]["geodesic_distortion_prev"])
    assert a[1]["geodesic_distortion_prev"] == pytest.approx(expected, rel=1e-12)


def test_combine_rules():
    assert _combine([1.0, 2.0, np.nan]) == 1.5
    assert _combine([True, False]) is False
    assert _combine([1, 2, 2]) == 2
    assert _combine([None, None]) is None
    assert np.isnan(_combine([np.nan, np.nan]))


def test_assemble_and_column_order():
    rows = assemble_rows(
        ["e", "l1"], [{"n_points": 5, "dim_ambient": 3}] * 2,
        {0: [{"id_twonn": 2.0, "id_gride_16": 1.0, "id_gride_2": 1.5}],
         1: [{"knn_overlap_prev": 0.5}, {"knn_overlap_prev": 0.7}]},
    )
    assert rows[1]["knn_overlap_prev"] == pytest.approx(0.6)
    # layer 1's previous layer is the input layer
    assert rows[1]["knn_overlap_input"] == pytest.approx(0.6)
    cols = column_order(rows)
    assert set(REQUIRED_COLUMNS) <= set(cols)
    assert cols.index("id_gride_2") < cols.index("id_gride_16")  # numeric, not lexical
    assert cols.index("id_mle") < cols.index("id_gride_2") < cols.index("curvature_median")


def test_subsample_indices_are_paired_and_sorted():
    a = subsample_indices(100, 30, seed=4)
    assert np.array_equal(a, subsample_indices(100, 30, seed=4))
    assert len(np.unique(a)) == 30 and np.all(np.diff(a) > 0)
    assert np.array_equal(subsample_indices(10, 30, seed=4), np.arange(10))


def test_trajectory_curvature_of_token_sequences():
    # sentence 0: 4 tokens on a straight line (angle 0); sentence 1: the corners of a square
    # (exterior angle 90 degrees); sentence 2: only 2 tokens, no angle, left out
    line = np.c_[np.arange(4.0), np.zeros(4)]
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    X = np.vstack([line, square, [[5.0, 5.0], [6.0, 6.0]]])
    sid = np.array([0] * 4 + [1] * 4 + [2] * 2)
    # median of the per-sentence means {0, 90}
    assert measure_trajectory(X, sid)["trajectory_curvature"] == pytest.approx(45.0, abs=1e-9)
    assert np.isnan(measure_trajectory(X, None)["trajectory_curvature"])


def test_profile_input_errors():
    X = _circle(100)
    with pytest.raises(InputError, match="row i must be the same input"):
        profile_layers([X, X[:50]], estimators=FAST)
    with pytest.raises(InputError, match="at least one layer"):
        profile_layers([], estimators=FAST)
    with pytest.raises(InputError, match="needs at least"):
        profile_layers([X[:10]], estimators=FAST)
    with pytest.raises(InputError, match="NaN"):
        profile_layers([np.full((100, 3), np.nan)], estimators=FAST)


def test_per_layer_verdict_equals_topology_preserved():
    import manifold_probe as mp
    from manifold_probe.analysis.measures import measure_topology, topology_seed

    X = _circle(150, noise=0.02, seed=5)
    Y = np.c_[X[:, 0], np.zeros((150, 4))]  # folded onto a segment
    est = EstimatorSettings.from_mapping({"topology": {"maxdim": 1, "max_points": 150,
                                                       "confidence": 0.95, "n_landmarks": 60,
                                                       "n_bootstrap": 5}})
    for seed in (0, 1):
        bx, by = measure_topology(X, est, seed), measure_topology(Y, est, seed)
        cmp = mp.topology_preserved(X, Y, maxdim=1, seed=seed, n_landmarks=60, n_bootstrap=5)
        # one analysis per layer with the shared seed reproduces the pairwise verdict exactly
        assert (bx["betti_0"], bx["betti_1"]) == cmp.betti_x
        assert (by["betti_0"], by["betti_1"]) == cmp.betti_y
        assert topology_seed(seed) == int(np.random.default_rng(seed).integers(2**63))
