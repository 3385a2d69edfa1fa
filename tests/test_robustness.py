"""Regression tests: every reproducer of issue 13 (hostile magnitudes, dtypes, seeds, types,
degenerate clouds, cost guards).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import manifold_probe as mp
from manifold_probe import InputError
from manifold_probe import _validation as val

torch = pytest.importorskip("torch")



@pytest.fixture
def cloud():
    # 3-D Gaussian cloud (intrinsic dimension 3) and the unit sphere S^2 (scalar curvature 2)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    S = rng.standard_normal((400, 3))
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    return X, S


# --------------------------------------------------------------------------- magnitude
EXTREME = [1e-300, 1e-200, 1e150, 1e200, 1e300]


@pytest.mark.parametrize("scale", EXTREME)
@pytest.mark.parametrize("method", ["mle", "lpca", "phd"])
def test_dimension_is_scale_invariant_at_every_magnitude(cloud, scale, method):
    X, _ = cloud
    opts = {"min_points": 20, "max_points": 120, "n_sizes": 4} if method == "phd" else {"k": 10}
    ref = mp.intrinsic_dimension(X, method=method, **opts)
    got = mp.intrinsic_dimension(X * scale, method=method, **opts)
    # X * scale differs from a power-of-two rescaling of X by one rounding per coordinate;
    # the estimates agree to rounding (was: MLE 0.0 / inf, local PCA 22, LinAlgError)
    assert got.dimension == pytest.approx(ref.dimension, rel=1e-6)
    assert 0 < got.dimension <= 3


@pytest.mark.parametrize("power", [-900, -500, 400, 900])
def test_dimension_is_exactly_invariant_to_powers_of_two(cloud, power):
    X, _ = cloud
    for method in ("mle", "lpca"):
        ref = mp.intrinsic_dimension(X, method=method, k=10)
        got = mp.intrinsic_dimension(np.ldexp(X, power), method=method, k=10)
        assert got.dimension == ref.dimension  # the gate's rescaling is exact


@pytest.mark.parametrize("power", [-400, -100, 100, 400])
def test_curvature_rescales_exactly(cloud, power):
    _, S = cloud
    ref = mp.scalar_curvature(S, dim=2, return_se=True)
    got = mp.scalar_curvature(np.ldexp(S, power), dim=2, return_se=True)
    # S has units length^-2: exactly 2^(-2 power) times the unit-scale values
    np.testing.assert_array_equal(got.curvature, np.ldexp(ref.curvature, -2 * power))
    np.testing.assert_array_equal(got.standard_error, np.ldexp(ref.standard_error, -2 * power))
    assert abs(np.median(ref.curvature) - 2.0) < 0.2  # S^2 of radius 1: S = 2 (tolerance: 10%)


@pytest.mark.parametrize("scale", [1e-300, 1e200, 1e300])
def test_curvature_beyond_float64_is_refused_not_nan(cloud, scale):
    # sphere of radius 1e300 has S = 2e-600 and radius 1e-300 has 2e600: not float64 numbers
    # (was: all NaN, or LinAlgError)
    _, S = cloud
    with pytest.raises(InputError, match="beyond the range of float64"):
        mp.scalar_curvature(S * scale, dim=2)


def test_curvature_at_1e150_is_finite_and_right(cloud):
    _, S = cloud
    got = mp.scalar_curvature(S * 1e150, dim=2)
    assert np.isfinite(got).all()
    assert np.median(got) * 1e300 == pytest.approx(2.0, rel=0.1)


def test_twonn_at_1e_minus_300(cloud):
    X, _ = cloud
    assert mp.intrinsic_dimension(X * 1e-300, method="twonn").dimension == pytest.approx(
        mp.intrinsic_dimension(X, method="twonn").dimension, rel=1e-6
    )


@pytest.mark.parametrize("scale", [1e-300, 1e150, 1e200])
def test_knn_at_extreme_magnitude(cloud, scale):
    X, _ = cloud
    ref = mp.knn(X, k=3)
    got = mp.knn(X * scale, k=3)
    np.testing.assert_array_equal(got.indices, ref.indices)
    np.testing.assert_allclose(got.distances, ref.distances * scale, rtol=1e-9)


def test_geodesic_distances_at_extreme_magnitude(cloud):
    _, S = cloud
    ref = mp.geodesic_distances(S, k=8)
    got = mp.geodesic_distances(S * 1e-300, k=8)
    np.testing.assert_allclose(got, ref * 1e-300, rtol=1e-9)


def test_persistence_keeps_h1_bars_at_extreme_magnitude():
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    C = np.c_[np.cos(t), np.sin(t)]
    for scale in (1e-300, 1e200):
        dg = mp.persistence(C * scale, maxdim=1)
        assert len(dg[1]) == len(mp.persistence(C, maxdim=1)[1])


def test_diagram_distance_sees_a_rescaled_diagram():
    d = np.array([[0.0, 1.0], [0.5, 2.0], [0.2, 0.3]])
    got = mp.diagram_distance(d, d * 1e300, "wasserstein")
    assert np.isfinite(got) and got > 1e299  # was 0.0


# --------------------------------------------------------------------------- degenerate clouds
def test_identical_rows_have_no_curvature():
    # 60 copies of one point: was an array of zeros
    with pytest.raises(InputError, match="distinct"):
        mp.scalar_curvature(np.ones((60, 3)))
    with pytest.raises(InputError, match="distinct"):
        mp.scalar_curvature(np.ones((60, 3)), dim=2)
    with pytest.raises(InputError, match="distinct"):
        mp.scalar_curvature(np.ones((60, 3)), dim=2, method="ball_volume")


def test_ball_volume_nan_only_with_a_warning(cloud):
    X, _ = cloud
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        S = mp.scalar_curvature(X, dim=2, method="ball_volume")
    n_nan = int(np.isnan(S).sum())
    assert not np.isinf(S).any()
    if n_nan:  # was 7/120 NaN with no warning
        msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        assert any(f"NaN at {n_nan} of 120" in m for m in msgs)


def test_ball_volume_dim_400():
    X = np.random.default_rng(2).standard_normal((120, 3))
    with pytest.raises(InputError, match="ambient dimension"):  # was OverflowError
        mp.scalar_curvature(X, dim=400, method="ball_volume")
    from scipy.spatial.distance import cdist

    with pytest.raises(InputError, match="too large"):
        mp.scalar_curvature(distances=cdist(X, X), dim=400, method="ball_volume")


@pytest.mark.parametrize("seed", range(4))
def test_mle_and_phd_never_exceed_the_ambient_dimension(seed):
    rng = np.random.default_rng(seed)
    for D in (1, 2, 3):
        X = rng.standard_normal((150, D))
        for method, opts in (("mle", {"k": 5}),
                             ("phd", {"min_points": 20, "max_points": 150, "n_sizes": 4})):
            est = mp.intrinsic_dimension(X, method=method, **opts)
            assert 0 < est.dimension <= D
            if "unclipped" in est.details:
                assert est.details["unclipped"] > D


# --------------------------------------------------------------------------- dtypes, seeds, types
def _bf16(X):
    return torch.as_tensor(X, dtype=torch.float32).to(torch.bfloat16)


def test_bfloat16_and_float16_tensors_are_upcast(cloud):
    X, S = cloud
    Xb = _bf16(X)
    ref = np.asarray(Xb.to(torch.float64).numpy())
    calls = [
        lambda A: mp.knn(A, k=3).distances,
        lambda A: mp.intrinsic_dimension(A, method="mle", k=10).dimension,
        lambda A: mp.intrinsic_dimension(A, method="lpca", k=10).dimension,
        lambda A: mp.scalar_curvature(A, dim=2, k=60, degree=2),
        lambda A: mp.geodesic_distances(A, k=5, sources=[0, 1]),
        lambda A: mp.ollivier_ricci(A, k=5).node_curvature,
        lambda A: mp.trajectory_curvature(A),
    ]
    for call in calls:  # was TypeError: Got unsupported ScalarType BFloat16
        np.testing.assert_array_equal(call(Xb), call(ref))
    np.testing.assert_array_equal(
        mp.knn(torch.as_tensor(X, dtype=torch.float16), k=3).indices,
        mp.knn(X.astype(np.float16).astype(np.float64), k=3).indices,
    )


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_tensors_reach_every_entry_point(cloud, dtype):
    # every public function that takes points gives, on a half-precision tensor, exactly its
    # result on the float64 upcast of that tensor (the gate's to_numpy upcast)
    X, _ = cloud
    T = torch.as_tensor(X, dtype=torch.float32).to(getattr(torch, dtype))
    ref = np.asarray(T.to(torch.float64).numpy())
    D = np.sqrt(((ref[:, None] - ref[None]) ** 2).sum(-1))
    Dt = torch.as_tensor(D, dtype=torch.float32).to(getattr(torch, dtype))
    Dr = np.asarray(Dt.to(torch.float64).numpy())
    calls = [
        lambda A: mp.intrinsic_dimension(A, method="twonn").dimension,
        lambda A: mp.intrinsic_dimension(A, method="gride").dimension,
        lambda A: mp.intrinsic_dimension(A, method="phd", min_points=20, max_points=120,
                                         n_sizes=4, seed=0).dimension,
        lambda A: mp.TwoNN().fit(A).dimension_,
        lambda A: mp.scalar_curvature(A, dim=2, method="ball_volume", ball_fraction=0.3),
        lambda A: mp.geodesic_distances(A, k=5),
        lambda A: mp.trajectory_curvature(A.reshape(4, 30, 3)),
        lambda A: mp.persistence(A, maxdim=1, seed=0)[1],
        lambda A: mp.betti_numbers(A, maxdim=1, seed=0),
        lambda A: mp.topology_preserved(A, 2 * A, maxdim=1, seed=0).distances,
        lambda A: (lambda w: (w.knn_overlap, w.trustworthiness, w.continuity,
                              w.geodesic_distortion))(mp.warp(A, A[:, :2], k=5)),
    ]
    for call in calls:  # was TypeError: Got unsupported ScalarType BFloat16
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_array_equal(call(T), call(ref))
    got = mp.geodesic_distortion(Dt, 2 * Dt)
    assert got.spread == mp.geodesic_distortion(Dr, 2 * Dr).spread
    assert mp.diagram_distance(T[:, :2].sort(dim=1).values, Dt[:5, :2].sort(dim=1).values) == (
        mp.diagram_distance(np.sort(ref[:, :2], axis=1), np.sort(Dr[:5, :2], axis=1)))


@pytest.mark.parametrize("seed", [-1, np.int64(-7), -(2**40)])
def test_negative_seeds_are_an_input_error(cloud, seed):
    X, _ = cloud
    with pytest.raises(InputError, match="non-negative"):  # was a bare numpy ValueError
        mp.intrinsic_dimension(X, method="twonn", seed=seed)
    with pytest.raises(InputError, match="non-negative"):
        mp.persistence(X[:30], seed=seed)
    with pytest.raises(InputError, match="non-negative"):
        val.check_seed(seed)


def test_large_and_numpy_seeds_are_deterministic():
    for seed in (0, np.uint64(2**63), 2**100, np.int8(5)):
        a = val.check_seed(seed).integers(2**62, size=3)
        b = val.check_seed(seed).integers(2**62, size=3)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("k", ["5", 5.0, None, True])
def test_parameter_types(cloud, k):
    X, _ = cloud
    for call in (
        lambda: mp.knn(X, k=k),
        lambda: mp.intrinsic_dimension(X, method="mle", k=k),
        lambda: mp.scalar_curvature(X, dim=2, k=k) if k is not None else mp.knn(X, k=k),
        lambda: mp.geodesic_distances(X, k=k),
        lambda: mp.ollivier_ricci(X, k=k),
        lambda: mp.warp(X, X, k=k),
    ):
        with pytest.raises(InputError):
            call()


def test_absent_device_is_an_input_error(cloud):
    X, _ = cloud
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InputError):
        mp.knn(X, k=3, device="cuda")


# --------------------------------------------------------------------------- cost guards
def test_geodesic_all_sources_refused_above_the_memory_budget(monkeypatch):
    X = np.random.default_rng(0).standard_normal((300, 3))
    # result: 300 x 300 float64 (x2 for the symmetrised copy) = 1.4 MB
    monkeypatch.setattr(val, "memory_budget", lambda: 2**20)
    with pytest.raises(InputError, match="sources="):
        mp.geodesic_distances(X, k=5)
    assert mp.geodesic_distances(X, k=5, sources=[0, 1]).shape == (2, 300)  # a subset fits


def test_geodesic_and_ball_volume_warn_before_slow_work(monkeypatch):
    X = np.random.default_rng(0).standard_normal((200, 3))
    monkeypatch.setattr(val, "SLOW_OPERATIONS", 1e5)
    with pytest.warns(val.CostWarning, match="sources="):
        mp.geodesic_distances(X, k=5)
    with pytest.warns(val.CostWarning, match="subsample"):
        mp.scalar_curvature(X, dim=2, method="ball_volume")


def test_memory_budget_is_half_the_physical_memory():
    import os

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert val.memory_budget() == total // 2
    with pytest.raises(InputError, match="GiB"):
        val.check_memory(2 * total, what="this", fix="do less")


@pytest.mark.parametrize("power", [-200, 200])
def test_ball_volume_rescales_exactly_with_graph_or_distances(power):
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(5)
    S = rng.standard_normal((300, 3))
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    opts = {"dim": 2, "method": "ball_volume", "ball_fraction": 0.2}
    nb = mp.knn(S, k=20)
    # the same graph at both scales (the estimator centres the points; a graph searched on
    # them would differ from nb in the last bits of its distances)
    ref = mp.scalar_curvature(S, neighbors=nb, **opts)
    scaled = mp.Neighbors(np.ldexp(nb.distances, power), nb.indices, nb.metric)
    got = mp.scalar_curvature(np.ldexp(S, power), neighbors=scaled, **opts)
    np.testing.assert_array_equal(got, np.ldexp(ref, -2 * power))
    D = cdist(S, S)
    ref_d = mp.scalar_curvature(distances=D, **opts)
    got_d = mp.scalar_curvature(distances=np.ldexp(D, power), **opts)
    np.testing.assert_allclose(got_d, np.ldexp(ref_d, -2 * power), rtol=1e-12)


# --------------------------------------------------------------------------- found by the probes
# scale-invariant results that were wrong at extreme magnitude (NaN turning angles; Ollivier-Ricci
# and warp through geodesic distances whose squared chords overflowed or underflowed)
@pytest.mark.parametrize("scale", [1e-300, 1e200, 1e300])
def test_trajectory_turning_angle_is_scale_invariant(scale):
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    C = np.c_[np.cos(t), np.sin(t)]
    assert mp.trajectory_curvature(C * scale) == pytest.approx(mp.trajectory_curvature(C),
                                                              rel=1e-9)


@pytest.mark.parametrize("scale", [1e-300, 2.0**100, 1e200, 1e300])  # 2**100: float32 overflow
def test_graph_methods_are_scale_invariant(cloud, scale):
    _, S = cloud
    for method in ("twonn", "gride"):
        ref = mp.intrinsic_dimension(S, method=method).dimension
        assert mp.intrinsic_dimension(S * scale, method=method).dimension == pytest.approx(
            ref, rel=1e-6)  # twonn at 1e300 reads 3.0 for S^2 (truth 2)
    ref = mp.ollivier_ricci(S, k=8).node_curvature
    np.testing.assert_allclose(mp.ollivier_ricci(S * scale, k=8).node_curvature, ref, rtol=1e-6)
    assert mp.warp(S * scale, 2 * S * scale, k=5).knn_overlap == pytest.approx(1.0)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
def test_warp_rank_measures_are_scale_invariant(scale):
    # a map that changes neighbourhoods, so that trustworthiness and continuity rank distances
    # (was: squared distances of 0 or inf, trustworthiness off by -0.16 at 1e-300, +0.01 at 1e200)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 3))
    Y = np.c_[X, np.sin(3 * X[:, :1])]
    ref = mp.warp(X, Y, k=5)
    got = mp.warp(X * scale, Y * scale, k=5)
    assert ref.trustworthiness < 1 and ref.continuity < 1  # the ranks are exercised
    assert got.trustworthiness == ref.trustworthiness
    assert got.continuity == ref.continuity
    assert got.geodesic_distortion == pytest.approx(ref.geodesic_distortion, abs=1e-12)


@pytest.mark.parametrize("power", [-1000, -900, 900, 1000])
def test_geodesic_distances_rescale_exactly(cloud, power):
    # power-of-two scaling commutes with every rounding, so the distances are exact multiples,
    # from points, from points with their graph, and from the graph alone
    _, S = cloud
    A = np.ldexp(S, power)
    for method in ("shortcut", "graph"):
        ref = mp.geodesic_distances(S, k=8, method=method)
        np.testing.assert_array_equal(
            mp.geodesic_distances(A, k=8, method=method), np.ldexp(ref, power))
        nb = mp.knn(A, k=8)
        np.testing.assert_array_equal(
            mp.geodesic_distances(A, k=8, neighbors=nb, method=method), np.ldexp(ref, power))
    ref = mp.geodesic_distances(neighbors=mp.knn(S, k=8), k=8, method="graph")
    got = mp.geodesic_distances(neighbors=mp.knn(A, k=8), k=8, method="graph")
    np.testing.assert_array_equal(got, np.ldexp(ref, power))


def test_geodesic_distance_beyond_float64_is_refused():
    # corners of a 4-cube of side 1e308: opposite corners are 4 edges = 4e308 apart along the
    # graph, no float64 number (inf would read "disconnected"); 1e308 itself is fine
    X = np.array(np.meshgrid(*[[0.0, 1e308]] * 4)).reshape(4, -1).T
    with pytest.raises(InputError, match="beyond the range of float64"):
        mp.geodesic_distances(X, k=4, sources=[0], method="graph")
    D = mp.geodesic_distances(X / 4, k=4, sources=[0], method="graph")
    assert D.max() == pytest.approx(1e308)


@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_ollivier_edge_length_is_in_the_units_of_x(cloud, scale):
    _, S = cloud
    ref = mp.ollivier_ricci(S, k=8, ground="euclidean")
    got = mp.ollivier_ricci(S * scale, k=8, ground="euclidean")
    np.testing.assert_allclose(got.edge_curvature, ref.edge_curvature, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.edge_length, ref.edge_length * scale, rtol=1e-9)


def test_twonn_is_never_above_the_ambient_dimension():
    # 12 points on a line: the raw estimate reads about 2.2 (found by the fuzz suite)
    x = np.random.default_rng(0).standard_normal((12, 1))
    hits = 0
    for seed in range(20):
        x = np.random.default_rng(seed).standard_normal((12, 1))
        est = mp.intrinsic_dimension(x, method="twonn")
        assert 0 < est.dimension <= 1
        assert est.interval[0] <= est.dimension <= est.interval[1]
        if "unclipped" in est.details:
            hits += 1
            assert est.details["unclipped"] > 1
    assert hits > 0  # the clipping was exercised


def test_trajectory_batch_of_mixed_magnitudes():
    # each trajectory is normalised by its own power of two
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    C = np.c_[np.cos(t), np.sin(t)]
    got = mp.trajectory_curvature(np.stack([np.ldexp(C, -1000), np.ldexp(C, 1000), C]))
    np.testing.assert_array_equal(got, np.full(3, mp.trajectory_curvature(C)))


@pytest.mark.parametrize("power", [-1000, -900, 900, 1000])
def test_persistence_and_diagram_distance_rescale_exactly(power):
    # Rips diagrams scale with the cloud and diagram distances are homogeneous of degree 1;
    # powers of two commute with every rounding, so both are exact multiples
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 2 * np.pi, 80)
    C = np.c_[np.cos(t), np.sin(t)] + 0.05 * rng.standard_normal((80, 2))
    ref = mp.persistence(C, maxdim=1, seed=0)
    got = mp.persistence(np.ldexp(C, power), maxdim=1, seed=0)
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a, np.ldexp(b, power))
    for kind in ("bottleneck", "wasserstein"):
        d = mp.diagram_distance(ref[1], 2 * ref[1], kind)
        assert d > 0
        assert mp.diagram_distance(np.ldexp(ref[1], power), np.ldexp(2 * ref[1], power),
                                   kind) == np.ldexp(d, power)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
def test_betti_numbers_are_scale_invariant(scale):
    # was ValueError from the simplex-count guard at 1e-300 (every Rips edge underflowed)
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 2 * np.pi, 200)
    C = np.c_[np.cos(t), np.sin(t)] + 0.05 * rng.standard_normal((200, 2))
    assert mp.betti_numbers(C * scale, seed=0) == mp.betti_numbers(C, seed=0) == (1, 1)
    got = mp.topology_preserved(C * scale, 2 * C * scale, seed=0)
    assert got.preserved and got.distances == pytest.approx((0.0, 0.0), abs=1e-9)
