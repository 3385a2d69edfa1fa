"""warp: neighbourhood preservation, geodesic distortion, local stretch of a map X[i] -> Y[i]."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import manifold_probe as mp
from manifold_probe import InputError
from manifold_probe.analysis.warping import (
    WarpSummary,
    continuity,
    knn_overlap,
    local_stretch,
    trustworthiness,
    warp,
)


def _cloud(n=300, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def _rotation(d, rng):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trustworthiness_and_continuity_match_sklearn(seed):
    from sklearn.manifold import trustworthiness as sk_trust

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(250, 5))
    Y = np.tanh(X @ rng.normal(size=(5, 3)))
    # continuous random data has no distance ties, so the ranks (and the sums) agree exactly;
    # the only difference is floating-point summation order: 1e-12
    assert trustworthiness(X, Y, k=7) == pytest.approx(sk_trust(X, Y, n_neighbors=7), abs=1e-12)
    assert continuity(X, Y, k=7) == pytest.approx(sk_trust(Y, X, n_neighbors=7), abs=1e-12)


def test_knn_overlap_by_hand():
    nx = mp.Neighbors(np.ones((2, 3)), np.array([[1, 2, 3], [0, 2, 3]]))
    ny = mp.Neighbors(np.ones((2, 3)), np.array([[1, 2, 4], [5, 6, 7]]))
    # row 0 shares {1, 2}: 2 / |{1,2,3,4}| = 0.5; row 1 shares nothing: 0
    np.testing.assert_array_equal(knn_overlap(nx, ny), [0.5, 0.0])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.1, 10.0))
def test_similarity_transforms_are_isometries_up_to_scale(seed, scale):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 4))
    Y = scale * X @ _rotation(4, rng) + rng.normal(size=4)
    s = warp(X, Y, k=6, dimension=False, n_sources=20, seed=seed)
    # a similarity keeps every neighbourhood and multiplies every distance by `scale`
    assert s.knn_overlap == 1.0
    assert s.trustworthiness == pytest.approx(1.0, abs=1e-12)
    assert s.continuity == pytest.approx(1.0, abs=1e-12)
    # log-ratios all equal log(scale): spread only from float64 rounding (~1e-15 relative)
    assert s.geodesic_distortion < 1e-8
    assert s.geodesic_log_ratio_median == pytest.approx(np.log(scale), abs=1e-9)


def test_folding_a_circle_makes_false_neighbours_but_keeps_continuity():
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 2 * np.pi, 400)
    X = np.c_[np.cos(t), np.sin(t)]
    Y = np.c_[np.cos(t), np.zeros_like(t)]  # fold the circle onto the segment [-1, 1]
    s = warp(X, Y, k=10, seed=0, dimension=False)
    # folding glues t and -t: about half of each new neighbourhood comes from the far side of
    # the circle (rank ~ N/2 there), so trustworthiness drops far below 1 ...
    assert s.trustworthiness < 0.8
    # ... while the fold is continuous: old neighbours stay near (continuity near 1; the only
    # loss is that glued points crowd them out of the k-neighbourhood, costing little rank)
    assert s.continuity > 0.95
    assert s.knn_overlap < 0.7


def test_nonlinear_warp_has_positive_geodesic_distortion():
    rng = np.random.default_rng(4)
    u = rng.uniform(-1, 1, size=(600, 2))
    X = np.c_[u, np.zeros(600)]
    Y = np.c_[u[:, 0], u[:, 1], 2.0 * u[:, 0] ** 2]  # bend the square into a parabolic sheet
    s = warp(X, Y, k=10, seed=0)
    # distances along x grow by the arc-length factor (up to sqrt(1 + 16) at the edge), along y
    # they stay: the log-ratios spread well above the isometry's 0
    assert s.geodesic_distortion > 0.05
    assert s.geodesic_log_ratio_median > 0
    # both clouds are 2-dimensional (TwoNN at N = 600: sampling error ~ 0.2)
    assert s.id_x == pytest.approx(2.0, abs=0.3)
    assert s.id_y == pytest.approx(2.0, abs=0.3)
    assert abs(s.id_change) < 0.4
    d = s.as_dict()
    assert set(d) >= {"knn_overlap", "trustworthiness", "continuity", "geodesic_distortion",
                      "id_change"}


def test_precomputed_graphs_give_the_same_result():
    X = _cloud(200, 3, 5)
    Y = np.sin(X)
    a = warp(X, Y, k=8, seed=1, dimension=False)
    b = warp(X, Y, k=8, seed=1, dimension=False, neighbors_x=mp.knn(X, 15),
             neighbors_y=mp.knn(Y, 15))
    assert a.knn_overlap == b.knn_overlap
    assert a.trustworthiness == b.trustworthiness
    assert a.geodesic_distortion == pytest.approx(b.geodesic_distortion, rel=1e-12)


def test_same_seed_same_result():
    X = _cloud(200, 3, 6)
    Y = X**3
    assert warp(X, Y, seed=7, dimension=False).geodesic_distortion == \
        warp(X, Y, seed=7, dimension=False).geodesic_distortion


def test_local_stretch_of_a_linear_map_on_a_plane():
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = np.c_[rng.uniform(-1, 1, size=(300, 2)), np.zeros(300)]  # the plane z = 0 in R^3
    M = torch.tensor(np.diag([2.0, 3.0, 5.0]))

    def block(v):
        return v @ M.T

    stretch, pts = local_stretch(X, block, tangent_dim=2, n_points=5, seed=0, k=10)
    assert stretch.shape == (5, 2) and pts.shape == (5,)
    # on the plane the map is diag(2, 3): exact singular values 3 and 2 (float64 round-off)
    np.testing.assert_allclose(stretch, np.tile([3.0, 2.0], (5, 1)), rtol=1e-10)


def test_warp_with_model_block_reports_stretch_of_a_scaled_rotation():
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    t = rng.uniform(0, 2 * np.pi, 300)
    X = np.c_[np.cos(t), np.sin(t), np.zeros(300)]
    R = _rotation(3, rng) * 1.5

    def block(v):
        return v @ torch.as_tensor(R).T

    s = warp(X, X @ R.T, k=8, model_block=block, tangent_dim=1, n_stretch_points=4, seed=0,
             dimension=False)
    # a scaled rotation stretches every tangent vector by exactly 1.5
    np.testing.assert_allclose(s.stretch, 1.5, rtol=1e-10)
    assert s.as_dict()["log_stretch_median"] == pytest.approx(np.log(1.5), abs=1e-10)


def test_summary_is_frozen():
    s = warp(_cloud(60, 2), _cloud(60, 2), k=5, geodesic=False, dimension=False)
    assert isinstance(s, WarpSummary)
    with pytest.raises(AttributeError):
        s.knn_overlap = 0.0


@pytest.mark.parametrize(
    ("X", "Y", "kw", "match"),
    [
        (np.zeros((50, 2)), np.zeros((40, 2)), {}, "equally many rows"),
        (np.full((50, 2), np.nan), np.zeros((50, 2)), {}, "NaN"),
        (np.ones(50), np.ones((50, 2)), {}, "2-D"),
        (np.random.default_rng(0).normal(size=(20, 2)),
         np.random.default_rng(1).normal(size=(20, 2)), {"k": 25}, "k"),
        (np.random.default_rng(0).normal(size=(20, 2)),
         np.random.default_rng(1).normal(size=(20, 2)), {"k": 1}, "k"),
    ],
)
def test_warp_input_errors(X, Y, kw, match):
    with pytest.raises(InputError, match=match):
        warp(X, Y, geodesic=False, dimension=False, **kw)


def test_graph_input_errors():
    X = _cloud(30, 2)
    with pytest.raises(InputError, match="neighbors_x must be"):
        knn_overlap("graph", mp.knn(X, 3))
    with pytest.raises(InputError, match="k=3 and k=4"):
        knn_overlap(mp.knn(X, 3), mp.knn(X, 4))
    with pytest.raises(InputError, match="30 and 20"):
        knn_overlap(mp.knn(X, 3), mp.knn(X[:20], 3))
    with pytest.raises(InputError, match="3k \\+ 1 < 2N"):
        trustworthiness(X[:12], X[:12], k=8)
    with pytest.raises(InputError, match="rows"):
        warp(X, X, k=3, neighbors_x=mp.knn(X[:20], 3), geodesic=False, dimension=False)


def test_local_stretch_input_errors():
    X = _cloud(40, 3)
    with pytest.raises(InputError, match="row indices"):
        local_stretch(X, lambda v: v, points=[100], tangent_dim=1, k=5)
    with pytest.raises(InputError, match="tangent_dim"):
        local_stretch(X, lambda v: v, tangent_dim=9, k=5)


def test_mp_warp_is_the_function_after_the_pipeline_is_imported():
    import manifold_probe.analysis.warping  # noqa: F401 - imports the implementation module

    # a submodule named like the function would shadow it on the package
    assert callable(mp.warp) and mp.warp.__name__ == "warp"
    assert mp.WarpSummary is WarpSummary


def test_kept_distance_matrix_gives_the_block_by_block_sums(monkeypatch):
    # the squared distances of a layer kept for its next pair are the blocks computed one at a
    # time, so the rank sums (integers) are the same, ties included (duplicated rows)
    import manifold_probe.analysis._reuse as reuse
    from manifold_probe.analysis.neighbourhoods import rank_excess

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    X = np.vstack([X, X[:60]])  # exact ties
    Y = np.tanh(X @ rng.normal(size=(4, 3)))
    nx, ny = mp.knn(X, k=7), mp.knn(Y, k=7)
    reuse.clear_geodesic_cache()
    kept = [rank_excess(X, ny.indices, nx.indices, block=64) for _ in range(2)]
    monkeypatch.setattr(reuse, "MAX_ENTRY_BYTES", 0)  # too large to keep: block by block
    blocks = rank_excess(X, ny.indices, nx.indices, block=64)
    assert kept[0] == kept[1] == blocks


def test_ranks_read_off_a_longer_graph_give_the_same_trustworthiness_and_continuity():
    # a graph with more columns than k lists the next neighbours in rank order: ranks read
    # off it replace distance rows; the sums are the same (no ties in a Gaussian cloud) and
    # equal scikit-learn's trustworthiness (tolerance: float64 round-off of the sums)
    from sklearn.manifold import trustworthiness as sk_trust

    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, 6))
    Y = np.tanh(X @ rng.normal(size=(6, 4)))
    short = mp.warp(X, Y, k=5, neighbors_x=mp.knn(X, 5), neighbors_y=mp.knn(Y, 5),
                    geodesic=False, dimension=False)
    long = mp.warp(X, Y, k=5, neighbors_x=mp.knn(X, 40), neighbors_y=mp.knn(Y, 40),
                   geodesic=False, dimension=False)
    assert long.trustworthiness == pytest.approx(short.trustworthiness, abs=1e-12)
    assert long.continuity == pytest.approx(short.continuity, abs=1e-12)
    assert long.trustworthiness == pytest.approx(sk_trust(X, Y, n_neighbors=5), abs=1e-12)
    assert long.continuity == pytest.approx(sk_trust(Y, X, n_neighbors=5), abs=1e-12)
    assert short.trustworthiness < 1.0  # the map does lose neighbourhoods


def test_rank_rows_samples_the_rows_ranked_from_distances_without_bias():
    # rank_rows at or above the rows that need a distance row: the exact sums; below it, a
    # uniform sample scaled up: unbiased, so the mean over seeds approaches the exact value
    # (tolerance: 4 standard errors of the mean over 40 seeds, estimated from the same draws)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 5))
    Y = np.tanh(X @ rng.normal(size=(5, 3)))
    nx, ny = mp.knn(X, 8), mp.knn(Y, 8)
    kw = dict(k=4, neighbors_x=nx, neighbors_y=ny, geodesic=False, dimension=False)
    exact = mp.warp(X, Y, **kw)
    assert mp.warp(X, Y, rank_rows=400, seed=1, **kw).trustworthiness == exact.trustworthiness
    draws = np.array([mp.warp(X, Y, rank_rows=40, seed=s, **kw).trustworthiness
                      for s in range(40)])
    assert draws.std() > 0  # the sample does change with the seed
    assert abs(draws.mean() - exact.trustworthiness) < 4 * draws.std() / np.sqrt(len(draws))
    with pytest.raises(InputError, match="rank_rows"):
        mp.warp(X, Y, rank_rows=0, **kw)


def test_a_disconnected_graph_reports_its_components_and_the_share_of_pairs_used():
    # two far-apart blobs: the k-graph has 2 components; geodesics exist only within each, so
    # about half of the (source, target) pairs are used (equal blobs: 199/399 per source)
    from manifold_probe.analysis import profile_layers

    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(size=(200, 3)), 100.0 + rng.normal(size=(200, 3))])
    rows = profile_layers({"a": X, "b": 2.0 * X}, as_rows=True, threads=1,
                          estimators={"curvature": {"enabled": False},
                                      "topology": {"enabled": False},
                                      "regions": {"enabled": False},
                                      "geodesic": {"n_sources": 400}})
    assert rows[0]["graph_components"] == 2 and rows[1]["graph_components"] == 2
    assert rows[1]["geodesic_pairs_prev"] == pytest.approx(199 / 399, abs=1e-12)
    # within each component a similarity: no distortion
    assert rows[1]["geodesic_distortion_prev"] < 1e-8


def test_ranks_in_small_pieces_and_in_place_distances_give_the_same_sums(monkeypatch):
    """rank_excess ranks a block's pairs a few rows of distances at a time and writes the
    squared distances in reused buffers: the distances have the bits of the plain formula and
    the rank sums (integers) equal those of the definition, ties (duplicated rows) and the
    sampled rows included, whatever the size of the pieces and with or without a kept matrix."""
    import manifold_probe.analysis._reuse as reuse
    from manifold_probe.analysis import neighbourhoods as nh

    rng = np.random.default_rng(8)
    X = rng.normal(size=(260, 5))
    X = np.vstack([X, X[:40]])  # exact ties
    Y = np.tanh(X @ rng.normal(size=(5, 3)))
    nx, ny = mp.knn(X, k=6), mp.knn(Y, k=6)
    sq = np.einsum("ij,ij->i", X, X)
    rows = np.arange(10, 75)
    plain = sq[rows, None] + sq[None, :] - 2.0 * (X[rows] @ X.T)
    plain[np.arange(len(rows)), rows] = np.inf
    buffers: dict = {}
    for _ in range(2):  # the second call writes into the first call's buffers
        assert nh._sq_distance_rows(X, sq, rows, buffers).tobytes() == plain.tobytes()

    def by_definition(A, candidates, own, k):
        A = nh.normalize_scale(A)[0]
        s = np.einsum("ij,ij->i", A, A)
        total = 0
        for i in range(len(A)):
            d = s[i] + s - 2.0 * (A[i] @ A.T)
            d[i] = np.inf
            for j in set(candidates[i]) - set(own[i]):
                total += int(np.sum(d < d[j]) + np.sum((d == d[j]) & (np.arange(len(A)) < j))
                             + 1 - k)
        return float(total)

    want = by_definition(X, ny.indices, nx.indices, 6)
    got = []
    for piece in (nh._PAIR_ROWS_BYTES, 8 * len(X) * 3, 1):  # default, 3 rows, 1 row a time
        monkeypatch.setattr(nh, "_PAIR_ROWS_BYTES", piece)
        for keep in (reuse.MAX_ENTRY_BYTES, 0):  # kept matrix, then block by block
            monkeypatch.setattr(reuse, "MAX_ENTRY_BYTES", keep)
            reuse.clear_geodesic_cache()
            got.append(nh.rank_excess(X, ny.indices, nx.indices, block=64))
            got.append(nh.rank_excess(X, ny.indices, nx.indices, block=64, max_rows=50,
                                      rng=np.random.default_rng(1)))
    assert got[0::2] == [want] * 6
    assert len(set(got[1::2])) == 1  # the sample of 50 rows: the same sum every way
    reuse.clear_geodesic_cache()


def test_warp_of_a_cloud_with_repeated_rows_reads_the_dimension_of_its_distinct_rows():
    # a row present three times: the dimension is that of the distinct rows, as in
    # mp.intrinsic_dimension (before, warp handed TwoNN a 2-column graph in which the copies
    # were all the neighbours a point had, and raised an InputError asking for a larger k)
    rng = np.random.default_rng(3)
    t = rng.random(300) * 2 * np.pi
    X = np.c_[np.cos(t), np.sin(t), rng.random(300)]
    X = np.r_[X, X[:1], X[:1]]
    w = mp.warp(X, 2.0 * X, k=10, seed=0)
    assert w.id_x == pytest.approx(mp.intrinsic_dimension(X).dimension, rel=1e-12)
    assert w.id_y == pytest.approx(w.id_x, rel=1e-9)  # TwoNN is scale-invariant
