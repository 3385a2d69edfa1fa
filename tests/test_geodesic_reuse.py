"""Geodesic distances reused between pair measures: same values, never stale."""

from __future__ import annotations

import numpy as np

from manifold_probe.analysis._reuse import cached_geodesic_distances, clear_geodesic_cache
from manifold_probe.geodesic import geodesic_distances
from manifold_probe.neighbors import knn


def _circle(n=300, r=1.0):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.c_[r * np.cos(t), r * np.sin(t), np.zeros(n)]


def test_reused_result_equals_a_fresh_computation_and_is_read_only():
    clear_geodesic_cache()
    X = _circle()
    nb = knn(X, 10)
    src = np.array([0, 7, 150])
    got = {}
    for method in ("graph", "shortcut"):
        want = geodesic_distances(X, k=10, sources=src, neighbors=nb, method=method)
        first = cached_geodesic_distances(X, nb, 10, src, method)
        again = cached_geodesic_distances(X, nb, 10, src, method)
        assert again is first and not first.flags.writeable
        np.testing.assert_array_equal(first, want)
        got[method] = first
    # graph path from point 0 to point 150 of a unit circle of 300 points, k=10 (edges up to
    # 5 points along): 30 chords of 5 steps, 60 sin(pi / 60)
    assert abs(got["graph"][0, 150] - 60 * np.sin(np.pi / 60)) < 1e-9


def test_changed_points_or_sources_are_recomputed():
    clear_geodesic_cache()
    X = _circle()
    nb = knn(X, 10)
    D1 = cached_geodesic_distances(X, nb, 10, np.array([0]), "shortcut")
    Y = 2.0 * X  # same graph structure, doubled distances
    D2 = cached_geodesic_distances(Y, knn(Y, 10), 10, np.array([0]), "shortcut")
    np.testing.assert_allclose(D2, 2.0 * D1, rtol=1e-12)
    D3 = cached_geodesic_distances(X, nb, 10, np.array([5]), "shortcut")
    assert D3[0, 5] == 0.0 and D1[0, 0] == 0.0 and D3[0, 0] > 0.0
    # an array changed in place gets a new key: no stale result
    X[0, 2] = 0.5
    D4 = cached_geodesic_distances(X, knn(X, 10), 10, np.array([0]), "shortcut")
    assert not np.array_equal(D4, D1)


def test_threads_asking_for_the_same_result_compute_it_once():
    # tasks side by side (InProcessExecutor(threads=...)) share kept results: while one thread
    # computes, the others wait for its value instead of computing it again
    import threading
    import time

    from manifold_probe.analysis._reuse import reused

    clear_geodesic_cache()
    calls = []
    key = np.arange(5.0)

    def compute():
        calls.append(threading.current_thread().name)
        time.sleep(0.2)
        return np.ones(3)

    results = [None] * 4

    def ask(i):
        results[i] = reused("test-once", (key,), compute, lambda v: v.nbytes)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(r is results[0] for r in results)

    # a failed computation releases the waiters, which then compute it themselves
    clear_geodesic_cache()
    attempts = []

    def fails_first():
        attempts.append(1)
        time.sleep(0.1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt failed")
        return np.zeros(2)

    errors, values = [], []

    def ask_failing():
        try:
            values.append(reused("test-fail", (key,), fails_first, lambda v: v.nbytes))
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask_failing) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 1 and len(values) == 2 and len(attempts) == 2
