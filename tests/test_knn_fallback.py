"""The kNN engine's certificate and the searches of the rows it does not certify (issue 21).

Token clouds hold tight clusters (the first token of every sentence), exact repeats and a few
rows of huge norm. These tests build each mechanism on a small synthetic cloud and assert how
the rows were resolved (counts, never times), and that the result stays the exact graph.
"""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

import manifold_probe as mp
from manifold_probe._knn_search import _knn, exact_sq_dists, tree_sum


def brute_force(X, k):
    D = cdist(X, X)
    np.fill_diagonal(D, np.inf)
    idx = np.array([np.lexsort((np.arange(len(X)), row))[:k] for row in D])
    return np.take_along_axis(D, idx, axis=1), idx


def check_exact(nb, X, k):
    D, idx = brute_force(X, k)
    np.testing.assert_array_equal(nb.indices, idx)
    # float64 differences summed in another order than cdist's: a few ulps
    np.testing.assert_allclose(nb.distances, D, rtol=1e-12, atol=1e-300)


def tight_cluster_cloud(rng, n=1500, d=48, cluster=300, spread=1e-3):
    """Points on a unit-scale cloud, plus a cluster of ``cluster`` points ``spread`` apart whose
    centre lies at the cloud's scale: the first token of every sentence (MiniLM layer 3:
    pairwise distance 0.01 at norm 9.8). Squared distances inside the cluster (~1e-6) are
    below the float32 error bound (~4 (d+2) eps32 |x|^2 ~ 1e-3), so no row of it certifies
    in float32, while float64's bound (2**29 times smaller) separates them."""
    X = rng.normal(size=(n, d))
    X[:cluster] = 3.0 * rng.normal(size=d) + spread * rng.normal(size=(cluster, d))
    return rng.permutation(X)


@pytest.mark.parametrize("search", ["symmetric", "plain"])
def test_tight_cluster_rows_certify_in_float64(rng, search):
    X = tight_cluster_cloud(rng)
    k = 12
    nb, stats = _knn(X, k, search=search)
    check_exact(nb, X, k)
    # every cluster row (and only those) fails the float32 certificate; the float64 search
    # certifies all of them: no row is compared with every point
    assert stats["uncertified"] == 300
    assert stats["float64_rows"] == 300
    assert stats["full_scan_rows"] == 0
    assert stats["duplicate_rows"] == 0


@pytest.mark.parametrize("search", ["symmetric", "plain"])
def test_exact_duplicate_groups_take_their_duplicates(rng, search):
    # 200 identical rows (the BOS token of a causal model, the same in every sentence)
    X = rng.normal(size=(900, 16))
    group = np.sort(rng.choice(900, 200, replace=False))
    X[group] = X[group[0]]
    k = 10
    nb, stats = _knn(X, k, search=search, margin=4)
    check_exact(nb, X, k)
    assert stats["duplicate_rows"] == 200
    # the only rows left to the full scan are outside rows that have the group among their
    # neighbours: 200 members at one distance, a tie only the comparison with all points breaks
    outside = np.setdiff1d(np.arange(900), group)
    near = np.isin(nb.indices[outside], group).any(axis=1).sum()
    assert stats["full_scan_rows"] <= near
    for i in group[:3]:
        assert nb.indices[i].tolist() == [j for j in group if j != i][:k]
        assert np.all(nb.distances[i] == 0)


def test_signed_zeros_are_one_value(rng):
    X = rng.normal(size=(100, 3))
    X[:30] = 0.0
    X[:15, 1] = -0.0  # -0.0 == 0.0: the same point
    nb, stats = _knn(X, 5, margin=0)
    assert stats["duplicate_rows"] == 30
    assert nb.indices[0].tolist() == [1, 2, 3, 4, 5]
    assert nb.indices[20].tolist() == [0, 1, 2, 3, 4]


def test_huge_rows_do_not_uncertify_the_others(rng):
    # a few rows of norm 1000x the rest (massive activations): the bound through the largest
    # norm alone would fail every row; the per-pair bound certifies the ordinary rows
    X = rng.normal(size=(1000, 32))
    X[:5] *= 1000.0
    k = 8
    nb, stats = _knn(X, k)
    check_exact(nb, X, k)
    assert stats["uncertified"] <= 5


def test_near_duplicates_below_float64_go_to_the_full_scan(rng):
    # a cluster of 40 points 1e-12 apart at distance 1e3 from the centre: float64's shortcut
    # cannot order them either (relative 1e-30 < eps64), so they are compared with every point
    X = rng.normal(size=(400, 8))
    X[:40] = 1000.0 + 1e-12 * rng.normal(size=(40, 8))
    nb, stats = _knn(X, 6, margin=2)
    assert stats["full_scan_rows"] > 0
    check_exact(nb, X, 6)


@pytest.mark.parametrize("budget", [4096, 150_000, None])
@pytest.mark.parametrize("case", ["random", "duplicates", "lattice", "cluster"])
def test_plain_search_equals_the_symmetric_search(rng, budget, case):
    # the CUDA pass, run on the CPU: the same graph, bit for bit, whatever the tiles
    X = rng.normal(size=(700, 6))
    if case == "duplicates":
        X[300:340] = X[5]
    elif case == "lattice":
        g = np.arange(9.0)
        X = np.stack(np.meshgrid(g, g, g), -1).reshape(-1, 3)[:700]
    elif case == "cluster":
        X = tight_cluster_cloud(rng, n=700, d=6, cluster=100)
    a, _ = _knn(X, 6, margin=1, memory_budget=budget, search="symmetric")
    b, _ = _knn(X, 6, margin=1, memory_budget=budget, search="plain")
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.distances, b.distances)
    check_exact(b, X, 6)


def test_reduced_matmul_precision_is_not_used(rng):
    # a caller's set_float32_matmul_precision("medium") would allow bfloat16 products, outside
    # the certificate's float32 bound: the search runs in full float32 and restores the setting
    X = rng.normal(size=(500, 40))
    ref = mp.knn(X, 7)
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        for search in ("symmetric", "plain"):
            nb, _ = _knn(X, 7, search=search)
            np.testing.assert_array_equal(nb.indices, ref.indices)
            np.testing.assert_array_equal(nb.distances, ref.distances)
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(previous)


@pytest.mark.parametrize("d", [1, 2, 3, 7, 64, 384, 385])
def test_fixed_order_sum_is_the_same_in_numpy_and_torch(rng, d):
    # the exact distances do not depend on the library or device that sums them
    A = rng.normal(size=(50, d)) * 10.0 ** rng.integers(-3, 4, size=(50, 1))
    cols = rng.integers(0, 50, size=(20, 9))
    a = np.array(exact_sq_dists(A, slice(0, 20), cols))
    t = exact_sq_dists(torch.from_numpy(A), slice(0, 20), torch.from_numpy(cols)).numpy()
    np.testing.assert_array_equal(a, t)
    # and it is a sum: a few ulps from numpy's
    ref = ((A[cols] - A[:20, None, :]) ** 2).sum(-1)
    np.testing.assert_allclose(a, ref, rtol=4 * d * np.finfo(float).eps)
    v = np.arange(float(d))
    assert tree_sum(v.copy()) == v.sum()  # integers: exact in any order


def test_device_meta_or_unknown_is_refused(rng):
    X = rng.normal(size=(20, 3))
    with pytest.raises(mp.InputError, match="'cpu' or 'cuda'"):
        mp.knn(X, 2, device="meta")
    with pytest.raises(mp.InputError, match="search"):
        _knn(X, 2, search="faiss")


def test_points_kept_on_their_device_give_the_same_graph(rng, monkeypatch):
    # CUDA tensors are validated and searched where they are (no host copy); that path, run on
    # CPU tensors here, gives the host path's graph bit for bit, duplicates and clusters included
    import manifold_probe._knn_search as engine

    X = tight_cluster_cloud(rng, n=800, d=12, cluster=120)
    X[500:530] = X[3]
    ref, ref_stats = _knn(X, 9, margin=2)
    assert ref_stats["float64_rows"] > 0 and ref_stats["duplicate_rows"] > 0
    monkeypatch.setattr(engine, "_points_on_device", lambda T, dev: (
        T.detach().to(torch.float64) if isinstance(T, torch.Tensor) else None))
    for dtype in (torch.float64, torch.float32):
        T = torch.from_numpy(X).to(dtype)
        nb, stats = _knn(T, 9, margin=2)
        want = ref if dtype == torch.float64 else mp.knn(T.double().numpy(), 9, margin=2)
        np.testing.assert_array_equal(nb.indices, want.indices)
        np.testing.assert_array_equal(nb.distances, want.distances)
