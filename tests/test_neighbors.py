"""The neighbour engine: exactness, determinism, invariances, bounded blocks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from scipy.stats import special_ortho_group

import manifold_probe as mp
from manifold_probe.neighbors import resolve_neighbors


def brute_force(X, k, metric="euclidean"):
    """Reference: all pairwise float64 distances, sorted by (distance, index), self excluded."""
    D = cdist(X, X, metric="euclidean" if metric == "euclidean" else "cosine")
    np.fill_diagonal(D, np.inf)
    idx = np.array([np.lexsort((np.arange(len(X)), row))[:k] for row in D])
    return np.take_along_axis(D, idx, axis=1), idx


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("n, d, k", [(40, 2, 5), (700, 30, 12), (300, 384, 3)])
def test_matches_brute_force(rng, metric, n, d, k):
    X = rng.normal(size=(n, d))
    nb = mp.knn(X, k, metric)
    D, idx = brute_force(X, k, metric)
    # float64 recomputation from differences: agreement to a few ulps of the distances
    np.testing.assert_allclose(nb.distances, D, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(nb.indices, idx)
    assert nb.distances.dtype == np.float64 and nb.indices.dtype == np.int64
    assert np.all(np.diff(nb.distances, axis=1) >= 0)
    assert not np.any(nb.indices == np.arange(n)[:, None])  # self excluded


def test_exact_duplicates_deterministic(rng):
    X = rng.normal(size=(200, 5))
    X[50:60] = X[7]  # a group of 11 identical points, larger than k + margin would hide
    nb = mp.knn(X, 4, margin=0)
    # each member's neighbours are the other members with the smallest indices, distance 0
    group = [7, *range(50, 60)]
    for i in group:
        others = [j for j in group if j != i][:4]
        assert nb.indices[i].tolist() == others
        assert np.all(nb.distances[i] == 0)


def test_near_duplicates_exact_in_float64(rng):
    # Far from the origin, the float32 shortcut |x|^2+|y|^2-2xy cannot resolve 1e-7 offsets;
    # the exact recomputation must (relative precision of float64 differences).
    X = rng.normal(size=(300, 768)) + 1000.0
    X[1] = X[0] + 1e-7
    nb = mp.knn(X, 2)
    assert nb.indices[0, 0] == 1
    np.testing.assert_allclose(nb.distances[0, 0], np.linalg.norm(X[1] - X[0]), rtol=1e-6)
    assert nb.distances[0, 0] > 0


def test_block_sizes_do_not_change_the_result(rng):
    X = rng.normal(size=(600, 8))
    a = mp.knn(X, 7)
    b = mp.knn(X, 7, memory_budget=4096, margin=0)  # tiny tiles, many merges and fallbacks
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.distances, b.distances)


def test_truncate_and_resolve(rng):
    X = rng.normal(size=(100, 3))
    nb = mp.knn(X, 10)
    small = nb.truncate(4)
    np.testing.assert_array_equal(small.indices, mp.knn(X, 4).indices)
    with pytest.raises(mp.InputError, match="truncate"):
        nb.truncate(11)
    _, got = resolve_neighbors(X, 4, neighbors=nb)
    assert got.k == 4
    with pytest.raises(mp.InputError, match="neighbors has 100 rows but X has 50"):
        resolve_neighbors(X[:50], 4, neighbors=nb)
    with pytest.raises(mp.InputError, match="Neighbors from mp.knn"):
        resolve_neighbors(X, 4, neighbors=(1, 2))


def test_bad_input():
    with pytest.raises(mp.InputError, match="metric"):
        mp.knn(np.zeros((5, 2)), 2, metric="manhattan")
    with pytest.raises(mp.InputError, match="zero vectors"):
        mp.knn(np.array([[0.0, 0], [1, 0], [0, 1]]), 1, metric="cosine")
    with pytest.raises(mp.InputError, match="too large"):
        mp.knn(np.zeros((5, 2)), 5)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(0.01, 100.0),
    shift=st.floats(-1e3, 1e3),
)
def test_invariances(seed, scale, shift):
    """Rotation, translation, permutation: same graph; scaling by s: distances x s."""
    r = np.random.default_rng(seed)
    X = r.normal(size=(80, 4))
    nb = mp.knn(X, 5)
    Q = special_ortho_group.rvs(4, random_state=seed)
    moved = mp.knn(X @ Q.T + shift, 5)
    np.testing.assert_array_equal(moved.indices, nb.indices)
    # translation by up to 1e3 costs ~ 1e3 * eps64 * 10 in absolute distance precision
    np.testing.assert_allclose(moved.distances, nb.distances, rtol=1e-9, atol=1e-9)
    scaled = mp.knn(scale * X, 5)
    np.testing.assert_array_equal(scaled.indices, nb.indices)
    np.testing.assert_allclose(scaled.distances, scale * nb.distances, rtol=1e-12)
    perm = r.permutation(80)
    inv = np.argsort(perm)
    p = mp.knn(X[perm], 5)
    np.testing.assert_allclose(p.distances[inv], nb.distances, rtol=1e-12)
    # neighbours map back through the permutation (Gaussian data: no ties almost surely)
    np.testing.assert_array_equal(perm[p.indices[inv]], nb.indices)


@pytest.mark.parametrize("budget", [64 * 2**20, 6_200_000])
def test_chunked_row_selection_is_exact(rng, budget):
    # the selection reads a tile through its chunk minima (64 columns of a row, 16 rows of a
    # column): the first tiles, with loose thresholds, compared whole, later ones chunk by chunk;
    # a small budget gives several blocks and a last block padded to a multiple of 64 rows
    from scipy.spatial import cKDTree

    X = rng.normal(size=(5003, 3))
    X[100:140] = X[7]  # a duplicate group spread over chunks
    nb = mp.knn(X, 5, margin=2, memory_budget=budget)
    dist, _ = cKDTree(X).query(X, k=6)
    np.testing.assert_allclose(nb.distances, dist[:, 1:], rtol=1e-12, atol=1e-15)
    group = [7, *range(100, 140)]
    assert nb.indices[7].tolist() == group[1:6]


# ----------------------------------------------------------------------------------------------
# Magnitude, dtypes and devices (issue 13): any float64-representable scale is searched exactly


@pytest.mark.parametrize("scale", [1e150, 1e200, 1e-300, 1e-150, 2.0**900])
def test_magnitude_is_exact_and_scale_equivariant(rng, scale):
    X = rng.normal(size=(60, 3))
    ref = mp.knn(X, 3)
    nb = mp.knn(X * scale, 3)
    assert not np.any(nb.indices == np.arange(60)[:, None])  # never its own neighbour
    assert np.all(np.isfinite(nb.distances)) and np.all(nb.distances > 0)
    np.testing.assert_array_equal(nb.indices, ref.indices)
    # X * scale rounds each coordinate once (relative 2^-53), so distances agree to ~1e-15
    # relative, except when scale is a power of two: then X * scale is exact and so are they
    rtol = 0 if scale == 2.0**900 else 1e-13
    np.testing.assert_allclose(nb.distances, ref.distances * scale, rtol=rtol)


def test_magnitude_cosine(rng):
    X = rng.normal(size=(50, 4))
    ref = mp.knn(X, 3, metric="cosine")
    for scale in (1e200, 1e-300):
        nb = mp.knn(X * scale, 3, metric="cosine")
        np.testing.assert_array_equal(nb.indices, ref.indices)
        np.testing.assert_allclose(nb.distances, ref.distances, rtol=1e-12)


def test_unrepresentable_distances_refused():
    # two points 2 x 1.5e308 apart: the distance is above the largest float64 (~1.8e308)
    X = np.array([[-1.5e308], [1.5e308], [1.4e308]])
    with pytest.raises(mp.InputError, match="float64 range"):
        mp.knn(X, 2)


def test_half_precision_inputs_upcast(rng):
    import torch

    X = rng.normal(size=(40, 3))
    for t in (torch.float16, torch.bfloat16):
        T = torch.from_numpy(X).to(t)
        nb = mp.knn(T, 4)
        ref = mp.knn(T.to(torch.float64).numpy(), 4)  # the same (rounded) points in float64
        np.testing.assert_array_equal(nb.indices, ref.indices)
        np.testing.assert_array_equal(nb.distances, ref.distances)
    nb16 = mp.knn(X.astype(np.float16), 4)
    np.testing.assert_array_equal(nb16.indices, mp.knn(X.astype(np.float16).astype(float), 4).indices)


def test_absent_device_is_an_input_error(rng):
    import torch

    X = rng.normal(size=(20, 3))
    if not torch.cuda.is_available():
        with pytest.raises(mp.InputError, match="CUDA"):
            mp.knn(X, 2, device="cuda")
    with pytest.raises(mp.InputError, match="device"):
        mp.knn(X, 2, device="not-a-device")


@pytest.mark.parametrize("budget", [4096, 150_000, 64 * 2**20])
@pytest.mark.parametrize("case", ["random", "duplicates", "near_duplicates", "lattice"])
def test_symmetric_blocks_match_brute_force(rng, budget, case):
    # small budgets cut the cloud into many blocks: candidates reach a row both from its own
    # tiles and, transposed, from the tiles of earlier blocks; the result must not depend on it
    X = rng.normal(size=(700, 6))
    if case == "duplicates":
        X[300:340] = X[5]  # a duplicate group spanning blocks, larger than k + margin
        X[650:] = X[20]
    elif case == "near_duplicates":
        X = X + 1000.0
        X[1::2] = X[::2] + 1e-9 * rng.normal(size=(350, 6))
    elif case == "lattice":  # many exactly equal distances
        g = np.arange(9.0)
        X = np.stack(np.meshgrid(g, g, g), -1).reshape(-1, 3)[:700]
    k = 6
    nb = mp.knn(X, k, memory_budget=budget, margin=1)
    D, idx = brute_force(X, k)
    np.testing.assert_array_equal(nb.indices, idx)
    # cdist computes |x - y| without centring: a few ulps of the coordinates' magnitude
    np.testing.assert_allclose(nb.distances, D, rtol=1e-9, atol=1e-9 * (1 + np.abs(X).max()))
    ref = mp.knn(X, k)  # default budget: one block
    np.testing.assert_array_equal(nb.indices, ref.indices)
    np.testing.assert_array_equal(nb.distances, ref.distances)


def test_blocks_whose_neighbours_lie_in_another_block(rng):
    # rows 0..29 spread 100 apart on a line, rows 30..59 a tight cluster around row 0: the row
    # of point 0 finds every cluster point below its first threshold (the whole-tile ranking)
    X = np.zeros((60, 2))
    X[:30, 0] = 100.0 * np.arange(30)
    X[30:] = 0.01 * rng.normal(size=(30, 2))
    # and 30 points 100 apart along the axes (pairwise 141 apart) around a cluster at the
    # origin: every entry of their tiles with the cluster passes their first threshold
    Y = np.concatenate([100.0 * np.eye(30), 0.01 * rng.normal(size=(30, 30))])
    for Z in (X, Y):
        for budget in (4096, 64 * 2**20):
            nb = mp.knn(Z, 2, margin=0, memory_budget=budget)
            D, idx = brute_force(Z, 2)
            np.testing.assert_array_equal(nb.indices, idx)
            np.testing.assert_allclose(nb.distances, D, rtol=1e-12, atol=1e-15)


def test_padded_last_block_with_fewer_points_than_candidates(rng):
    # blocks of 64 rows: the second block holds 1 real point and 63 padding rows, fewer points
    # than k + margin, so that point's first candidates are padding until other tiles replace them
    X = rng.normal(size=(65, 4))
    nb = mp.knn(X, 5, margin=3, memory_budget=4096)
    D, idx = brute_force(X, 5)
    np.testing.assert_array_equal(nb.indices, idx)
    np.testing.assert_allclose(nb.distances, D, rtol=1e-12, atol=1e-15)


def test_thread_count_does_not_change_the_result(rng):
    # large enough that the float64 recomputation is split over threads
    import torch

    X = rng.normal(size=(3000, 100))
    X[10:20] = X[3]
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = mp.knn(X, 20)
        torch.set_num_threads(2)
        two = mp.knn(X, 20)
    finally:
        torch.set_num_threads(previous)
    np.testing.assert_array_equal(one.indices, two.indices)
    np.testing.assert_array_equal(one.distances, two.distances)
    assert one.indices[3].tolist()[:10] == list(range(10, 20))


def test_a_large_cloud_refuses_the_graph_of_another_cloud():
    # above 4e6 operations the sampled rows are recomputed by cdist: the check still tells a
    # cloud's own graph (passes) from the graph of another cloud of the same shape (refused)
    from manifold_probe._validation_extra import check_neighbor_arrays

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6000, 50)), rng.standard_normal((6000, 50))
    assert 16 * X.size > 4e6
    nb = mp.knn(X, 5)
    check_neighbor_arrays(nb.distances, nb.indices, points=X)
    other = mp.knn(Y, 5)
    with pytest.raises(mp.InputError, match="does not belong to these points"):
        check_neighbor_arrays(other.distances, other.indices, points=X)
