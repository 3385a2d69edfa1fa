"""A cloud of many exact duplicates is searched on its distinct rows: the same graph, bit for bit."""

import numpy as np
import pytest

import manifold_probe._knn_exact as knn_exact
from manifold_probe._knn_search import _knn
from manifold_probe.neighbors import knn_cache


def _brute(X, k):
    D = ((X[:, None] - X[None]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    # smallest distance first, ties by the smaller index (knn's documented order)
    return np.array([np.lexsort((np.arange(len(X)), row))[:k] for row in D])


@pytest.mark.parametrize("trial", range(12))
def test_duplicate_heavy_clouds_give_the_graph_of_a_search_of_every_row(trial, monkeypatch):
    rng = np.random.default_rng(trial)
    m = int(rng.integers(3, 40))
    n = int(rng.integers(2 * m + 1, 300))
    d = int(rng.integers(1, 5))
    # even trials: Gaussian distinct rows; odd: a small integer lattice (many tied distances)
    U = rng.integers(0, 4, size=(m, d)).astype(float) if trial % 2 else rng.normal(size=(m, d))
    X = U[rng.integers(0, m, size=n)]
    k = int(rng.integers(1, min(n - 1, 25)))
    with knn_cache(enabled=False):
        collapsed, stats = _knn(X, k, device="cpu")
        monkeypatch.setattr(knn_exact, "_COLLAPSE_SHARE", -1.0)  # never collapse
        full, _ = _knn(X, k, device="cpu")
    assert np.array_equal(collapsed.indices, full.indices)
    assert np.array_equal(collapsed.distances, full.distances)
    assert np.array_equal(full.indices, _brute(X, k))


def test_collapse_is_used_only_when_most_rows_are_copies():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    with knn_cache(enabled=False):
        _, stats = _knn(np.r_[X, X[:50]], 5, device="cpu")  # 200 distinct of 250: searched whole
        assert "collapsed_rows" not in stats
        _, stats = _knn(np.r_[X, X, X], 5, device="cpu")  # 200 distinct of 600
        assert stats["collapsed_rows"] == 600
