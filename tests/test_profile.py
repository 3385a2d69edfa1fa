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
    rows = profile_layers(layers, estimators=FAST, as_rows=True)
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
                           np.random.default_rng(0).normal(size=X.shape)}, estimators=est,
                          as_rows=True)
    # a noisy circle (noise 1% of the radius): one component, one loop
    assert (rows[0]["betti_0"], rows[0]["betti_1"]) == (1, 1)
    assert (rows[1]["betti_0"], rows[1]["betti_1"]) == (1, 1)
    assert rows[1]["topology_preserved_prev"] is True
    assert rows[2]["betti_1"] == 0
    assert rows[2]["topology_preserved_prev"] is False


def test_seeds_are_combined_and_deterministic():
    X = _circle(200, seed=3)
    Y = np.tanh(2 * X)
    a = profile_layers([X, Y], estimators=FAST, seeds=[0, 1], as_rows=True)
    b = profile_layers([X, Y], estimators=FAST, seeds=[0, 1], as_rows=True)
    one = profile_layers([X, Y], estimators=FAST, seeds=[0], as_rows=True)
    two = profile_layers([X, Y], estimators=FAST, seeds=[1], as_rows=True)
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
                                                       "confidence": 0.95, "n_landmarks": 60}})
    for seed in (0, 1):
        bx, by = measure_topology(X, est, seed), measure_topology(Y, est, seed)
        cmp = mp.topology_preserved(X, Y, maxdim=1, seed=seed, n_landmarks=60)
        # one analysis per layer with the shared seed reproduces the pairwise verdict exactly
        assert (bx["betti_0"], bx["betti_1"]) == cmp.betti_x
        assert (by["betti_0"], by["betti_1"]) == cmp.betti_y
        assert topology_seed(seed) == int(np.random.default_rng(seed).integers(2**63))


def _with_bos_duplicates(n=240, n_sentences=24, seed=7):
    """A token-level cloud: every sentence starts with the same BOS vector (exact duplicates,
    as a causal model gives at position 0), the other rows a noisy circle."""
    X = _circle(n, ambient=6, seed=seed)
    starts = np.arange(0, n, n // n_sentences)
    X[starts] = X[starts[0]]
    return X, np.repeat(np.arange(n_sentences), n // n_sentences), len(starts) - 1


def test_duplicate_rows_run_every_measure_on_the_distinct_rows():
    X, sid, n_dup = _with_bos_duplicates()
    Y = 2.0 * X @ _rotation(6, 3)
    est = {"geodesic": {"n_sources": 30}, "topology": {"max_points": 150},
           "curvature": {"max_points": 80, "dim": 1}, "gride": {"scales": [1, 2]}}
    rows = profile_layers({"a": X, "b": Y}, estimators=est, sentence_ids=sid, as_rows=True)
    for r in rows:
        # the duplicates are collapsed once: every estimator sees n - n_dup distinct rows
        assert r["n_distinct"] == X.shape[0] - n_dup
        # a circle is 1-dimensional (TwoNN sampling sd ~ 1/sqrt(200) ~ 0.07)
        assert r["id_twonn"] == pytest.approx(1.0, abs=0.25)
        # a curve's scalar curvature is identically 0: undefined, and said so
        assert np.isnan(r["curvature_median"]) and "identically 0" in r["curvature_note"]
        assert (r["betti_0"], r["betti_1"]) == (1, 1)
        assert "dimension_note" not in r or r["dimension_note"] is None
    # a similarity keeps every neighbourhood of the distinct rows
    assert rows[1]["knn_overlap_prev"] == 1.0
    assert rows[1]["geodesic_log_ratio_prev"] == pytest.approx(np.log(2.0), abs=1e-9)
    assert rows[1]["topology_preserved_prev"] is True


def test_duplicates_are_collapsed_before_the_graph_so_the_distinct_view_is_exact():
    from manifold_probe.analysis.measures import distinct_layer, distinct_pair
    from manifold_probe.neighbors import knn

    X, _, n_dup = _with_bos_duplicates()
    U, g, rows = distinct_layer(X, knn(X, 5))
    assert U.shape[0] == X.shape[0] - n_dup and len(np.unique(U, axis=0)) == U.shape[0]
    assert (g.distances[:, 0] > 0).all()  # no zero-distance edge is left
    # a cloud without duplicates passes through unchanged: same arrays, same graph
    Z = _circle(50)
    nb = knn(Z, 5)
    Z2, g2, r2 = distinct_layer(Z, nb)
    assert Z2 is Z and g2 is nb and r2 is None
    # pairs keep rows distinct in both layers (here X has copies that Y does not)
    Y = X + np.random.default_rng(0).normal(scale=1e-3, size=X.shape)
    Xr, Yr, _, _, prow = distinct_pair(X, Y, None, None)
    assert len(prow) == X.shape[0] - n_dup and len(np.unique(Xr, axis=0)) == len(Xr)


def test_an_estimator_that_cannot_run_leaves_nan_and_a_note():
    # 40 rows of which only 2 are distinct: no estimator can run, the profile still finishes
    rng = np.random.default_rng(1)
    base = rng.normal(size=(2, 4))
    X = base[rng.integers(0, 2, 40)]
    X[:2] = base
    rows = profile_layers({"a": X, "b": 2 * X}, estimators={"geodesic": {"n_sources": 5},
                          "topology": {"enabled": False}}, as_rows=True)
    assert np.isnan(rows[0]["id_twonn"]) and rows[0]["dimension_note"]
    assert np.isnan(rows[0]["curvature_median"]) and rows[0]["curvature_note"]
    assert np.isnan(rows[1]["knn_overlap_prev"]) and rows[1]["warp_prev_note"]


def test_profile_dataset_layer_seed_point_and_pandas():
    import json

    from manifold_probe.analysis.table import dataset_rows

    X = _circle(200, seed=3)
    Y = np.tanh(2 * X)
    ds = profile_layers({"x": X, "y": Y}, estimators=FAST, seeds=[0, 1])
    rows = profile_layers({"x": X, "y": Y}, estimators=FAST, seeds=[0, 1], as_rows=True)
    assert dict(ds.sizes) == {"layer": 2, "seed": 2, "point": 200}
    assert list(ds["layer_name"].values) == ["x", "y"]
    # the combined column is the mean over the seed dim of its per-seed values
    per_seed = ds["geodesic_distortion_prev_by_seed"].values[1]
    assert float(ds["geodesic_distortion_prev"][1]) == pytest.approx(per_seed.mean(), rel=1e-12)
    # per-point local dimension: a circle is 1-dimensional, the median local MLE near 1
    assert float(np.median(ds["point_id_mle"].values[0])) == pytest.approx(1.0, abs=0.25)
    table = ds.drop_dims(["seed", "point"], errors="ignore").to_dataframe()
    assert list(table.index) == [0, 1]
    assert table["id_twonn"].tolist() == pytest.approx([r["id_twonn"] for r in rows], rel=1e-12)
    assert json.loads(ds.attrs["columns"]) == list(rows[0])
    back = dataset_rows(ds)
    assert back[1]["knn_overlap_prev"] == pytest.approx(rows[1]["knn_overlap_prev"], rel=1e-12)
    assert json.loads(ds.attrs["seeds"]) == [0, 1]


def test_tasks_side_by_side_give_the_one_at_a_time_profile():
    # threads=2 runs the tasks (and the graphs) on two threads with one BLAS thread each;
    # the results are gathered in the schedule's order, so the table is the same (up to the
    # last bits of BLAS sums: rel 1e-9 is far above float64 round-off of these sums, ~1e-13)
    X = _circle(200, seed=4)
    Y = np.tanh(2 * X)
    est = {**FAST, "curvature": {"enabled": True, "max_points": 60}}
    one = profile_layers([X, Y, 2 * Y], estimators=est, as_rows=True, threads=1)
    two = profile_layers([X, Y, 2 * Y], estimators=est, as_rows=True, threads=2)
    assert [r.keys() for r in one] == [r.keys() for r in two]
    for a, b in zip(one, two, strict=True):
        for key, value in a.items():
            if isinstance(value, float) and np.isfinite(value):
                assert b[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
            else:
                assert b[key] == value or (value != value and b[key] != b[key]), key
    with pytest.raises(InputError, match="threads"):
        profile_layers([X, Y], estimators=FAST, threads=0)


@pytest.mark.parametrize("n_groups", [3, 40])
def test_the_distinct_rows_graph_read_off_the_full_graph_equals_a_fresh_search(n_groups):
    # the graph of the distinct rows is read off the full graph (and completed by a certified
    # search where too few listed neighbours are kept): the same neighbours, the same
    # distances as a search of the distinct rows themselves (equality, no tolerance)
    from manifold_probe.analysis.measures import complete_rows, distinct_layer, distinct_pair
    from manifold_probe.neighbors import knn

    rng = np.random.default_rng(n_groups)
    base = rng.normal(size=(400, 8))
    copies = base[rng.integers(0, n_groups, size=60)]  # a few rows copied many times
    X = np.concatenate([base, copies, base[:30]])[rng.permutation(490)]
    nb = knn(X, 12)
    U, g, rows = distinct_layer(X, nb, k=6)
    fresh = knn(U, 6)
    assert np.array_equal(g.indices, fresh.indices)
    assert np.array_equal(g.distances, fresh.distances)
    # with a pair: the other layer has no duplicates, its graph on the kept rows is exact too
    Y = np.tanh(X @ rng.normal(size=(8, 5))) + 1e-3 * rng.normal(size=(490, 5))
    _, Yr, _, gy, _ = distinct_pair(X, Y, nb, knn(Y, 12), k=6)
    fy = knn(Yr, 6)
    assert np.array_equal(gy.indices, fy.indices) and np.array_equal(gy.distances, fy.distances)
    # every row through the certified completion alone
    d_all, i_all = complete_rows(U, np.arange(len(U)), 6)
    assert np.array_equal(i_all, fresh.indices) and np.array_equal(d_all, fresh.distances)


def test_profile_above_max_rows_measures_a_paired_subsample_of_whole_inputs():
    from manifold_probe.analysis.profile import profile_rows

    rng = np.random.default_rng(5)
    sid = np.repeat(np.arange(60), 5)  # 60 inputs of 5 tokens
    t = rng.uniform(0, 2 * np.pi, 300)
    X = np.c_[np.cos(t), np.sin(t), 0.01 * rng.normal(size=300)]
    est = {"curvature": {"enabled": False}, "topology": {"enabled": False},
           "regions": {"enabled": False}, "geodesic": {"n_sources": 20}}
    rows = profile_rows(300, 120, sid)
    # whole inputs only, at most max_rows of them, the same rows for every call
    assert len(rows) <= 120 and len(rows) % 5 == 0
    assert set(np.bincount(sid[rows])[np.unique(sid[rows])]) == {5}
    assert np.array_equal(rows, profile_rows(300, 120, sid))
    sub = profile_layers({"a": X, "b": 2 * X}, estimators=est, sentence_ids=sid,
                            max_rows=120, threads=1, as_rows=True)
    direct = profile_layers({"a": X[rows], "b": 2 * X[rows]}, estimators=est,
                               sentence_ids=sid[rows], threads=1, as_rows=True)
    # the subsampled profile is the profile of those rows, with n_points all of them
    assert [r["n_points"] for r in sub] == [300, 300]
    assert [r["n_profiled"] for r in sub] == [len(rows)] * 2
    for a, b in zip(sub, direct, strict=True):
        for key in ("id_twonn", "id_mle", "knn_overlap_prev", "trajectory_curvature"):
            assert a.get(key) == b.get(key) or (np.isnan(a.get(key, np.nan))
                                                and np.isnan(b.get(key, np.nan)))
    # below max_rows nothing changes and no n_profiled column appears
    full = profile_layers({"a": X, "b": 2 * X}, estimators=est, threads=1, as_rows=True)
    assert "n_profiled" not in full[0] and full[0]["n_points"] == 300


def test_a_layer_below_the_graphs_room_is_profiled_on_all_its_other_rows():
    # the shared graph's room beyond GRIDE's need (settings.GRIDE_GRAPH_ROOM) is not needed
    # by any estimator: 40 rows (fewer than graph_k = 48, more than the 32 + 2 needed) are
    # profiled on a graph of all their other rows, with the values a search of 32 gives
    import warnings

    import manifold_probe as mp

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    est = {"curvature": {"enabled": False}, "topology": {"enabled": False},
           "regions": {"enabled": False}, "nulls": {"enabled": False}}
    assert EstimatorSettings.from_mapping(est).graph_k() == 48
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = mp.profile_layers([X, 2.0 * X], estimators=est, as_rows=True)
        ref = mp.intrinsic_dimension(X, method="gride", neighbors=mp.knn(X, 32), range_max=32)
    assert rows[1]["trustworthiness_prev"] == 1.0  # a scaled copy keeps every neighbourhood
    assert rows[0]["id_gride_16"] == float(ref.curve[list(ref.scale).index(16)])


def test_tasks_skip_the_checks_of_their_own_graphs_and_every_column_keeps_its_bits(monkeypatch):
    """run_task hands the estimators the profile's own mp.knn graphs (and graphs read off them
    or just built) without their array checks: no check runs, and every column (every measure,
    duplicate rows included, so the distinct view's graphs too) has the same bits as with the
    checks on."""
    import contextlib

    from manifold_probe import neighbors
    from manifold_probe.analysis import tasks

    rng = np.random.default_rng(11)
    S = rng.normal(size=(240, 3))
    S /= np.linalg.norm(S, axis=1, keepdims=True)  # the unit sphere S^2 in R^6
    X = np.c_[S, 0.01 * rng.normal(size=(240, 3))] @ _rotation(6, 2)
    starts = np.arange(0, 240, 10)
    X[starts] = X[0]  # a BOS row shared by every input: exact duplicates
    sid = np.repeat(np.arange(24), 10)
    layers = {"a": X, "b": np.tanh(1.5 * X @ _rotation(6, 3)), "c": 2.0 * X @ _rotation(6, 4)}
    est = {"geodesic": {"n_sources": 30}, "topology": {"max_points": 120},
           "curvature": {"max_points": 200, "dim": 2}, "gride": {"scales": [1, 2]}}
    calls = []
    real = neighbors.check_neighbor_arrays

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(neighbors, "check_neighbor_arrays", counted)
    fast = profile_layers(layers, estimators=est, sentence_ids=sid, as_rows=True, threads=1)
    assert not calls
    monkeypatch.setattr(tasks, "graphs_built_here", contextlib.nullcontext)
    slow = profile_layers(layers, estimators=est, sentence_ids=sid, as_rows=True, threads=1)
    assert calls  # with the checks on, the estimators check the graphs they are handed
    assert fast[0]["n_distinct"] == 240 - 23 and np.isfinite(fast[0]["curvature_median"])
    for a, b in zip(fast, slow, strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if isinstance(value, float):
                assert np.float64(value).tobytes() == np.float64(b[key]).tobytes(), key
            else:
                assert value == b[key], key


def test_the_start_order_of_tasks_side_by_side_changes_no_bit(monkeypatch):
    """Tasks start costliest kind first (longest_first); any other start order gives every
    column with the same bits (each task's result is its own; two threads, one BLAS thread
    each, so no multi-threaded BLAS sum differs either)."""
    from manifold_probe.analysis import profile as profile_module
    from manifold_probe.analysis.tasks import TASK_COST, longest_first, schedule

    est = EstimatorSettings.from_mapping({})
    kinds = [t.kind for t in schedule(4, est, [0], has_sentence_ids=True,
                                      labels={"day": np.zeros(4, dtype=int)})]
    order = longest_first(kinds)
    assert sorted(order) == list(range(len(kinds)))  # every task once
    costs = [TASK_COST[kinds[i]] for i in order]
    assert costs == sorted(costs, reverse=True) and kinds[order[0]] == "pair_prev"
    # within a kind, the schedule's order
    assert [i for i in order if kinds[i] == "curvature"] == [i for i, k in enumerate(kinds)
                                                             if k == "curvature"]
    X = _circle(200, seed=5)
    layers = [X, np.tanh(2 * X), 2 * np.tanh(2 * X)]
    est = {**FAST, "curvature": {"enabled": True, "max_points": 60, "dim": 2}}
    runs = [profile_layers(layers, estimators=est, as_rows=True, threads=2)]
    for shuffle in (lambda k: list(range(len(k)))[::-1],
                    lambda k: np.random.default_rng(3).permutation(len(k)).tolist()):
        monkeypatch.setattr(profile_module, "longest_first", shuffle)
        runs.append(profile_layers(layers, estimators=est, as_rows=True, threads=2))
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            assert a.keys() == b.keys()
            for key, value in a.items():
                if isinstance(value, float):
                    assert np.float64(value).tobytes() == np.float64(b[key]).tobytes(), key
                else:
                    assert value == b[key], key
