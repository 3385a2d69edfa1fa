"""The estimators' neighbour-graph cache: one search per cloud, never a stale graph."""

import numpy as np
import pytest

import manifold_probe as mp
from manifold_probe.neighbors import CACHE_MIN_K, cached_knn


@pytest.fixture(autouse=True)
def fresh_cache():
    with mp.knn_cache(True, clear=True):
        yield
    mp.knn_cache(clear=True)


def test_twonn_then_mle_search_once(rng):
    X = rng.normal(size=(400, 6))
    a = mp.intrinsic_dimension(X, method="twonn")
    assert mp.knn_cache().builds == 1
    b = mp.intrinsic_dimension(X, method="mle")  # k=20 <= CACHE_MIN_K: served by truncation
    state = mp.knn_cache()
    assert state.builds == 1 and state.hits == 1 and state.graphs == 1
    with mp.knn_cache(False):
        a0 = mp.intrinsic_dimension(X, method="twonn")
        b0 = mp.intrinsic_dimension(X, method="mle")
    assert mp.knn_cache().builds == 1  # nothing went through the cache while it was off
    # the cached graph is the exact graph, so the estimates are the same numbers
    assert a.dimension == a0.dimension and b.dimension == b0.dimension
    np.testing.assert_array_equal(b.pointwise, b0.pointwise)


def test_cached_graph_equals_direct_search(rng):
    X = rng.normal(size=(300, 5))
    X[40:45] = X[3]  # duplicates: ties broken by index in both
    X[50] = X[51] + 1e-9  # a near-duplicate pair
    for k in (2, 7, CACHE_MIN_K, 25):
        got = cached_knn(X, k)
        ref = mp.knn(X, k)
        np.testing.assert_array_equal(got.indices, ref.indices)
        np.testing.assert_array_equal(got.distances, ref.distances)
    # 2 -> builds 20; 7, 20 -> hits; 25 -> a larger build
    assert mp.knn_cache().builds == 2


def test_in_place_mutation_is_searched_again(rng):
    X = rng.normal(size=(200, 4))
    before = mp.geodesic_distances(X, k=5, sources=[0])
    X[0] += 3.0  # same object, new content
    after = mp.geodesic_distances(X, k=5, sources=[0])
    assert mp.knn_cache().builds == 2
    with mp.knn_cache(False):
        ref = mp.geodesic_distances(X, k=5, sources=[0])
    np.testing.assert_array_equal(after, ref)
    assert not np.array_equal(before, after)


def test_returned_graph_is_a_copy(rng):
    X = rng.normal(size=(100, 3))
    g = cached_knn(X, 5)
    g.distances[:] = -1.0  # a caller scribbling on its graph
    np.testing.assert_array_equal(cached_knn(X, 5).distances, mp.knn(X, 5).distances)


def test_bounded(rng):
    with mp.knn_cache(max_graphs=2):
        for i in range(4):
            cached_knn(rng.normal(size=(60, 3)) + i, 3)
        assert mp.knn_cache().graphs == 2
    # 60 points x 20 neighbours x 16 bytes = 19,200 bytes per graph: a 30,000-byte bound keeps one
    with mp.knn_cache(max_bytes=30_000):
        assert mp.knn_cache().graphs == 1
        cached_knn(rng.normal(size=(60, 3)), 3)
        assert mp.knn_cache().nbytes <= 30_000
    assert mp.knn_cache().max_graphs == 8  # the with block restored the bounds


def test_switch_and_bad_arguments(rng):
    X = rng.normal(size=(50, 3))
    mp.knn_cache(False)
    try:
        cached_knn(X, 3)
        assert mp.knn_cache().builds == 0 and not mp.knn_cache().enabled
    finally:
        mp.knn_cache(True)
    with pytest.raises(mp.InputError, match="enabled"):
        mp.knn_cache("no")
    with pytest.raises(mp.InputError, match="max_graphs"):
        mp.knn_cache(max_graphs=-1)
