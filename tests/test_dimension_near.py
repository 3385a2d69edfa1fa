"""Near-coincident points: the ratio estimators detect them, say so, and estimate on the
decimated cloud (manifold_probe.dimension._near)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import manifold_probe as mp
from manifold_probe.dimension import gride, mle, twonn
from manifold_probe.dimension._near import NearDuplicateWarning, near_duplicate_test


def _twinned(n, d, share, rho, seed, ambient=None):
    """A standard Gaussian in R^d (rotated into R^ambient) with a share of its points given a
    twin at rho x the median nearest-neighbour spacing."""
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((n, d))
    spacing = float(np.median(mp.knn(Y, 1).distances[:, 0]))
    idx = rng.choice(n, int(round(share * n)), replace=False)
    step = rng.standard_normal((len(idx), d))
    step *= rho * spacing / np.linalg.norm(step, axis=1, keepdims=True)
    X = np.r_[Y, Y[idx] + step]
    if ambient:
        Q, _ = np.linalg.qr(rng.standard_normal((ambient, d)))
        X = X @ Q.T
    return X, idx


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NearDuplicateWarning)
        return fn(*args, **kwargs)


@pytest.mark.parametrize("seed", range(3))
def test_lines_and_manifolds_are_not_flagged(seed):
    # the line has the heaviest tail of large ratios any manifold gives: the test's tight case
    rng = np.random.default_rng(seed)
    t = rng.random(1500)
    for X in (np.c_[t, 2 * t, np.zeros_like(t)], rng.standard_normal((1500, 4)),
              mp.datasets.sphere(1500, dim=2, seed=seed).points):
        with warnings.catch_warnings():
            warnings.simplefilter("error", NearDuplicateWarning)
            est = twonn(X)
        assert not est.near_duplicates and "near_duplicates" not in est.details


@pytest.mark.parametrize("d", [2, 5])
def test_twins_are_flagged_and_the_decimated_estimate_is_right(d):
    X, _ = _twinned(1000, d, 1.0, 1e-3, seed=d, ambient=20)
    with pytest.warns(NearDuplicateWarning, match="near-coincident points"):
        est = twonn(X)
    assert est.near_duplicates
    info = est.details["near_duplicates"]
    # every pair whose ratio is beyond the excess's ratio merged; a few pairs with an
    # unusually close third point stay (too few to fail the test again)
    assert info["n_before"] == 2000 and 1000 <= info["n_after"] <= 1020 and info["resolved"]
    # on the cloud as it is the pairs read as a point set (dimension near 0) ...
    assert info["full_cloud_dimension"] < 0.5
    # ... and on the decimated cloud TwoNN is as accurate as on the clean sample: within 15%
    # at N = 1000 (its 95% interval is about +-7%, plus the finite-sample bias of a Gaussian)
    assert est.dimension == pytest.approx(d, rel=0.15)
    clean = twonn(X[:1000])
    assert est.dimension == pytest.approx(clean.dimension, rel=0.03)


def test_keep_reports_a_lower_bound_never_a_tight_interval_below_one():
    X, _ = _twinned(800, 3, 1.0, 1e-4, seed=0, ambient=10)
    est = _quiet(twonn, X, near_duplicates="keep")
    assert est.near_duplicates and est.dimension < 1
    assert est.interval[1] == 10.0  # the interval runs up to the ambient dimension
    g = _quiet(gride, X, near_duplicates="keep", range_max=16)
    assert g.near_duplicates and g.interval[1] == 10.0


def test_mle_and_gride_decimate_too_and_mle_broadcasts_to_every_row():
    X, idx = _twinned(800, 3, 1.0, 1e-4, seed=1)
    m = _quiet(mle, X)
    assert m.near_duplicates and m.pointwise.shape == (1600,)
    # twins get their representative's local value
    assert np.array_equal(m.pointwise[800:], m.pointwise[idx])
    assert m.dimension == pytest.approx(3, rel=0.15)
    g = _quiet(gride, X, range_max=16)
    assert g.near_duplicates and g.dimension == pytest.approx(3, rel=0.2)


def test_graph_only_path_matches_the_points_path():
    X, _ = _twinned(600, 2, 1.0, 1e-3, seed=2, ambient=5)
    a = _quiet(twonn, X)
    b = _quiet(twonn, neighbors=mp.knn(X, 8))
    # from a graph alone a merged pair sits at the distance of its nearer member, which differs
    # from its kept point's by at most the pair's size (1e-3 of the spacing here)
    assert a.dimension == pytest.approx(b.dimension, rel=2e-3)
    with pytest.raises(mp.InputError, match="near_duplicates='keep'"):
        _quiet(twonn, neighbors=mp.knn(X, 2))


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**16), share=st.sampled_from([0.3, 0.6, 1.0]),
       rho=st.sampled_from([1e-4, 1e-2]))
def test_the_decimated_graph_read_off_a_wider_graph_is_the_searched_one(seed, share, rho):
    # with the points and a wider graph of them, the decimated cloud's graph is read off the
    # graph's other columns instead of searched: the same graph, so the same estimate, bit for
    # bit (the graph cache is off so that the search path really searches)
    X, _ = _twinned(400, 3, share, rho, seed=seed, ambient=6)
    with mp.knn_cache(False):
        searched = _quiet(twonn, X, scale_check=False)
        read_off = _quiet(twonn, X, neighbors=mp.knn(X, 16), scale_check=False)
    assert read_off.dimension == searched.dimension
    assert read_off.interval == searched.interval
    assert read_off.details.get("near_duplicates") == searched.details.get("near_duplicates")


def test_a_wider_graph_spares_the_search_of_the_decimated_cloud(monkeypatch):
    import manifold_probe.dimension._near as near
    import manifold_probe.neighbors as neighbors

    X, _ = _twinned(600, 2, 1.0, 1e-3, seed=3, ambient=5)
    nb = mp.knn(X, 12)
    expected = _quiet(twonn, X, neighbors=nb.truncate(2))
    assert expected.near_duplicates

    def no_search(*args, **kwargs):
        raise AssertionError("the decimated cloud was searched again")

    monkeypatch.setattr(near, "cached_knn", no_search)
    monkeypatch.setattr(neighbors, "cached_knn", no_search)  # graph_on's fallback
    got = _quiet(twonn, X, neighbors=nb, scale_check=False)
    assert got.dimension == expected.dimension and got.interval == expected.interval


def test_the_read_off_graph_serves_the_estimators_after_it(monkeypatch):
    # the layer profile's order: GRIDE on the whole shared graph (its merged cloud's graph
    # read off it and stored in the graph cache), then TwoNN and MLE on its first columns,
    # which merge the same points and are served that graph: no search, the same estimates
    # as with every graph searched (cache off)
    import manifold_probe.neighbors as neighbors

    X, _ = _twinned(600, 2, 1.0, 1e-3, seed=4, ambient=5)
    nb = mp.knn(X, 24)  # every point twinned: a kept row keeps about half of its list
    with mp.knn_cache(False):
        expected = [_quiet(gride, X, neighbors=nb.truncate(8), range_max=8),
                    _quiet(twonn, X, neighbors=nb.truncate(2)),
                    _quiet(mle, X, neighbors=nb.truncate(5), k=5)]
    assert expected[1].near_duplicates
    with mp.knn_cache(clear=True):
        first = _quiet(gride, X, neighbors=nb, range_max=8)

        def no_search(*args, **kwargs):
            raise AssertionError("a merged cloud was searched")

        monkeypatch.setattr(neighbors, "knn", no_search)
        got = [first, _quiet(twonn, X, neighbors=nb.truncate(2)),
               _quiet(mle, X, neighbors=nb.truncate(5), k=5)]
        assert mp.knn_cache().builds == 0
    for a, b in zip(got, expected, strict=True):
        assert a.dimension == b.dimension
        assert a.interval == b.interval
    np.testing.assert_array_equal(got[2].pointwise, expected[2].pointwise)


def test_unknown_option_is_refused():
    with pytest.raises(mp.InputError, match="near_duplicates"):
        twonn(np.random.default_rng(0).random((100, 3)), near_duplicates="drop")


@settings(max_examples=20, deadline=None)
@given(scale=st.floats(1e-6, 1e6), seed=st.integers(0, 1000))
def test_the_test_is_scale_invariant(scale, seed):
    # ratios of distances do not change with the units (up to rounding)
    d = np.sort(np.random.default_rng(seed).random((300, 2)) + 1e-3, axis=1)
    a, b = near_duplicate_test(d), near_duplicate_test(scale * d)
    assert a.detected == b.detected
    assert a.excess == pytest.approx(b.excess, abs=1e-9)


def test_toy_model_full_capture_reads_at_least_one_or_is_flagged():
    """Regression: the modular-addition model's inputs (a, b) and (b, a) land 100x closer to
    each other than to any other input; TwoNN read 0.17 / 0.23 with a tight interval."""
    from manifold_probe.capture import load_model

    h = load_model("toy-modadd")
    acts = h.capture(h.inputs_for(None), layers=["layer_1_mid", "layer_1"], pooling="last")
    for name in ("layer_1_mid", "layer_1"):
        X = np.asarray(acts[name], dtype=np.float64)
        est = _quiet(twonn, X)
        assert est.dimension >= 1 or est.near_duplicates
        assert est.near_duplicates and est.dimension > 3
        assert est.details["near_duplicates"]["full_cloud_dimension"] < 1
