"""Geodesic distances and distortion: exact answers, invariances, every InputError path."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import special_ortho_group

import manifold_probe as mp
from manifold_probe import InputError
from manifold_probe.geodesic import GeodesicDistortion, geodesic_distances, geodesic_distortion


def _sphere(n, dim, seed, radius=1.0):
    X = np.random.default_rng(seed).standard_normal((n, dim + 1))
    return radius * X / np.linalg.norm(X, axis=1, keepdims=True)


def _sphere_truth(X, src, radius=1.0):
    cos = np.clip(X[src] @ X.T / radius**2, -1.0, 1.0)
    return radius * np.arccos(cos)


def _median_rel_error(D, true):
    m = true > 1e-9
    return float(np.median(np.abs(D[m] - true[m]) / true[m]))


# --- accuracy against closed forms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("dim", "k", "tol"),
    [
        # Issue 3 targets: median relative error <= 1 % on S^2 and <= 3 % on S^3 at N = 8000.
        (2, 10, 0.01),
        (2, 20, 0.01),
        (3, 10, 0.03),
        (3, 20, 0.03),
    ],
)
def test_sphere_accuracy_meets_targets(dim, k, tol):
    radius = 2.5  # a radius other than 1, rotated into R^6: the method must not assume either
    X = _sphere(8000, dim, seed=dim * 100 + k, radius=radius)
    Q = special_ortho_group.rvs(6, random_state=7)[: dim + 1]
    Y = X @ Q
    src = np.arange(0, 8000, 200)
    D = geodesic_distances(Y, k=k, sources=src)
    assert D.shape == (40, 8000) and D.dtype == np.float64
    assert _median_rel_error(D, _sphere_truth(X, src, radius)) <= tol


def test_shortcut_beats_plain_graph_and_depends_less_on_k():
    X = _sphere(8000, 3, seed=3)
    src = np.arange(0, 8000, 200)
    true = _sphere_truth(X, src)
    nb = mp.knn(X, 20)
    err = {}
    for k in (10, 20):
        for method in ("graph", "shortcut"):
            D = geodesic_distances(X, k, sources=src, neighbors=nb, method=method)
            err[method, k] = _median_rel_error(D, true)
    # The plain graph is measured at 14 % / 7 % here (issue 3); shortcutting must cut the error
    # at least three-fold and shrink its k-dependence (the gap between k=10 and k=20).
    assert err["shortcut", 10] < err["graph", 10] / 3
    assert err["shortcut", 20] < err["graph", 20] / 3
    gap_graph = err["graph", 10] - err["graph", 20]
    gap_short = abs(err["shortcut", 10] - err["shortcut", 20])
    assert gap_short < gap_graph / 3


def test_flat_torus_against_exact_distances():
    # Clifford torus: (r cos u, r sin u, r cos v, r sin v) is flat; geodesic distance is
    # r * sqrt(du^2 + dv^2) with du, dv the wrapped angle differences.
    rng = np.random.default_rng(11)
    n, r = 6000, 1.0
    u, v = rng.uniform(0, 2 * np.pi, (2, n))
    X = r * np.c_[np.cos(u), np.sin(u), np.cos(v), np.sin(v)]
    src = np.arange(0, n, 150)

    def wrap(a):
        return np.abs((a + np.pi) % (2 * np.pi) - np.pi)

    true = r * np.hypot(wrap(u[src, None] - u[None]), wrap(v[src, None] - v[None]))
    D = geodesic_distances(X, 10, sources=src)
    # 2-D like S^2 at the same density (sample area 4 pi^2 vs 4 pi, N=6000): same 1 % target
    assert _median_rel_error(D, true) <= 0.01


def test_half_circle_graph_distance_is_the_polygon_length():
    # Equally spaced points (angle step a = pi/49) on a half circle with k=2: interior points
    # join i-1 and i+1, the end points also join their second neighbours (edges 0-2, 47-49).
    # The shortest path 0 -> 49 takes both long chords and 45 short ones: 2 * 2 sin(a) +
    # 45 * 2 sin(a / 2).
    a = np.pi / 49
    t = np.arange(50) * a
    X = np.c_[np.cos(t), np.sin(t)]
    D = geodesic_distances(X, k=2, method="graph")
    polygon = 4 * np.sin(a) + 90 * np.sin(a / 2)
    assert D[0, -1] == pytest.approx(polygon, rel=1e-12)  # float64 rounding only
    np.testing.assert_allclose(D, D.T, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.diag(D), 0.0)


def test_all_pairs_symmetric_and_consistent_with_sources():
    X = _sphere(600, 2, seed=5)
    D = geodesic_distances(X, 10)
    np.testing.assert_allclose(D, D.T, rtol=0, atol=1e-12)  # symmetrised by construction
    U = geodesic_distances(X, 10, sources=np.arange(600))  # one-directional estimates
    np.testing.assert_allclose(D, 0.5 * (U + U.T), rtol=1e-12)
    rows = geodesic_distances(X, 10, sources=[3, 7])
    np.testing.assert_allclose(rows, U[[3, 7]], rtol=1e-12)
    # the two directions differ by a small fraction of the distance (different trees)
    off = ~np.eye(600, dtype=bool)
    assert np.median(np.abs(U - U.T)[off] / D[off]) < 0.01
    # shortcut chains never exceed the graph path they shorten (triangle inequality)
    G = geodesic_distances(X, 10, sources=[3, 7], method="graph")
    assert np.all(rows <= G + 1e-12)


def test_precomputed_neighbors_are_reused():
    X = _sphere(500, 2, seed=6)
    nb = mp.knn(X, 15)
    a = geodesic_distances(X, 10, sources=[0, 1], neighbors=nb)
    b = geodesic_distances(X, 10, sources=[0, 1])
    np.testing.assert_array_equal(a, b)
    g = geodesic_distances(None, 10, sources=np.int64(2), neighbors=nb, method="graph")
    assert g.shape == (1, 500)


def test_k_below_ten_extrapolates_reference_radius():
    X = _sphere(4000, 2, seed=8)
    src = np.arange(0, 4000, 100)
    D = geodesic_distances(X, 6, sources=src)
    # At k=6 the plain graph is ~7 % off on S^2; the shortcut must stay near the 1 % target
    # (2 % allowed: half the density of the N=8000 target).
    assert _median_rel_error(D, _sphere_truth(X, src)) <= 0.02


def test_cosine_graph_uses_unit_sphere_chords():
    X = _sphere(3000, 2, seed=9)
    Y = X * np.random.default_rng(1).uniform(0.5, 2.0, (3000, 1))  # radial scaling is invisible
    nb = mp.knn(Y, 10, metric="cosine")
    src = np.arange(0, 3000, 100)
    D = geodesic_distances(Y, 10, sources=src, neighbors=nb)
    # 3000 points: sampling density lower than 8000, allow 1.5 %
    assert _median_rel_error(D, _sphere_truth(X, src)) <= 0.015


# --- disconnected graphs ----------------------------------------------------------------------


def test_disconnected_graph_warns_and_returns_inf():
    X = _sphere(300, 2, seed=1)
    Y = np.r_[X, X + 10.0, X - 10.0]
    with pytest.warns(UserWarning, match="3 connected components"):
        D = geodesic_distances(Y, 8, sources=[0, 300])
    assert np.isinf(D[0, 300:]).all() and np.isfinite(D[0, :300]).all()
    assert np.isinf(D[1, :300]).all() and np.isfinite(D[1, 300:600]).all()


def test_connect_components_joins_by_shortest_edges():
    X = _sphere(300, 2, seed=1)
    Y = np.r_[X, X + np.array([3.0, 0.0, 0.0])]  # gap between the spheres: 1.0 along x
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when components are joined
        D = geodesic_distances(Y, 8, method="graph", connect_components=True)
    assert np.isfinite(D).all()
    cross = np.linalg.norm(Y[:300, None] - Y[None, 300:], axis=2)
    i, j = np.unravel_index(np.argmin(cross), cross.shape)
    j += 300
    gap = cross.min()
    assert D[i, j] == pytest.approx(gap, rel=1e-12)  # the joining edge is the closest pair


# --- invariances (hypothesis) -----------------------------------------------------------------

_X0 = _sphere(250, 2, seed=42)


@pytest.mark.parametrize("connect", [False, True])
def test_graph_paths_are_the_undirected_search_of_the_symmetric_graph(connect):
    # geodesic_distances runs scipy's directed Dijkstra on the symmetrised graph: the same
    # distances and paths as the undirected search, bit for bit, also with equal edge lengths
    # (a lattice: ties between paths) and components joined by their shortest edges
    from scipy.sparse.csgraph import connected_components, dijkstra

    from manifold_probe.geodesic import _join_components
    from manifold_probe.neighbors import symmetric_graph

    g = np.arange(12, dtype=np.float64)
    X = np.array([(a, b) for a in g for b in g])
    X[X[:, 0] > 6, 0] += 5.0  # two blocks, disconnected at k = 4
    nb = mp.knn(X, 4)
    G = symmetric_graph(nb, len(X))
    n_comp, labels = connected_components(G, directed=False)
    assert n_comp == 2
    if connect:
        G = _join_components(G, X, labels)
    src = np.arange(0, len(X), 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the disconnected graph's warning
        D = geodesic_distances(X, 4, src, neighbors=nb, method="graph",
                               connect_components=connect)
    np.testing.assert_array_equal(D, dijkstra(G, directed=False, indices=src))


@settings(max_examples=15, deadline=None)
@given(
    s=st.floats(0.01, 100.0),
    seed=st.integers(0, 2**31 - 1),
    method=st.sampled_from(["shortcut", "graph"]),
)
def test_scaling_multiplies_distances(s, seed, method):
    shift = np.random.default_rng(seed).normal(size=3)
    D = geodesic_distances(_X0, 8, sources=[0, 5], method=method)
    Ds = geodesic_distances(s * _X0 + shift, 8, sources=[0, 5], method=method)
    np.testing.assert_allclose(Ds, s * D, rtol=1e-9, atol=1e-12 * s)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_rotation_translation_invariance(seed):
    rng = np.random.default_rng(seed)
    Q = special_ortho_group.rvs(5, random_state=seed % 2**32)[:3]
    Y = _X0 @ Q + rng.normal(size=5)
    D = geodesic_distances(_X0, 8, sources=[1, 2, 3])
    np.testing.assert_allclose(geodesic_distances(Y, 8, sources=[1, 2, 3]), D, rtol=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_permutation_maps_rows_and_columns(seed):
    perm = np.random.default_rng(seed).permutation(len(_X0))
    D = geodesic_distances(_X0, 8)
    Dp = geodesic_distances(_X0[perm], 8)
    np.testing.assert_allclose(Dp, D[np.ix_(perm, perm)], rtol=1e-9)


# --- distortion ---------------------------------------------------------------------------------


def test_distortion_of_scaled_isometry():
    X = _sphere(200, 2, seed=2)
    DX = geodesic_distances(X, 8)
    g = geodesic_distortion(DX, 3.0 * DX)
    assert isinstance(g, GeodesicDistortion)
    assert g.scale == pytest.approx(np.log(3.0), rel=1e-12)
    assert g.mean == pytest.approx(np.log(3.0), rel=1e-12)
    assert g.spread == pytest.approx(0.0, abs=1e-12)
    assert g.iqr == pytest.approx(0.0, abs=1e-12)
    assert g.fraction_distorted == 0.0
    assert g.n_pairs == 200 * 199


def test_distortion_known_values():
    DX = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    DY = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 1.0], [4.0, 1.0, 0.0]])  # one pair stretched x4
    g = geodesic_distortion(DX, DY, factor=2.0)
    ell = np.log([1, 4, 1, 1, 4, 1])
    assert g.n_pairs == 6
    assert g.scale == 0.0  # median of {0,0,0,0,log4,log4}
    assert g.mean == pytest.approx(ell.mean(), rel=1e-12)
    assert g.spread == pytest.approx(ell.std(), rel=1e-12)
    assert g.fraction_distorted == pytest.approx(2 / 6)
    np.testing.assert_allclose(g.quantiles, np.quantile(ell, [0.05, 0.25, 0.5, 0.75, 0.95]))


def test_distortion_skips_inf_and_zero_pairs():
    DX = np.array([[0.0, 1.0, np.inf], [1.0, 0.0, 2.0], [np.inf, 2.0, 0.0]])
    DY = np.array([[0.0, 2.0, 5.0], [2.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    g = geodesic_distortion(DX, DY)
    assert g.n_pairs == 2 and g.scale == pytest.approx(np.log(2.0))


# --- every InputError path ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "heat"}, "method"),
        ({"span": 0.0}, "span"),
        ({"span": float("nan")}, "span"),
        ({"sources": [0.5]}, "sources"),
        ({"sources": [[0, 1]]}, "sources"),
        ({"sources": []}, "sources"),
        ({"sources": [50]}, r"\[0, 50\)"),
        ({"sources": [-51]}, r"\[0, 50\)"),
        ({"connect_components": "yes"}, "connect_components"),
        ({"k": 50}, "too large"),
        ({"k": 0}, "k must be"),
    ],
)
def test_geodesic_input_errors(kwargs, match):
    X = _sphere(50, 2, seed=0)
    args = {"k": 5, **kwargs}
    with pytest.raises(InputError, match=match):
        geodesic_distances(X, **args)


def test_geodesic_input_errors_points_and_graph():
    X = _sphere(50, 2, seed=0)
    nb = mp.knn(X, 5)
    with pytest.raises(InputError, match="coordinates"):
        geodesic_distances(None, 5, neighbors=nb)
    with pytest.raises(InputError, match="coordinates"):
        geodesic_distances(None, 5, neighbors=nb, method="graph", connect_components=True)
    with pytest.raises(InputError, match="rows but X has"):
        geodesic_distances(X[:40], 5, neighbors=nb)
    with pytest.raises(InputError, match="pass the points"):
        geodesic_distances(None, 5)
    with pytest.raises(InputError, match="NaN"):
        geodesic_distances(np.r_[X, [[np.nan, 0, 0]]], 5)
    with pytest.raises(InputError, match="2-D"):
        geodesic_distances(X.ravel(), 5)


@pytest.mark.parametrize(
    ("DX", "DY", "kw", "match"),
    [
        (np.ones((3, 3)), np.ones((3, 4)), {}, "same shape"),
        (np.ones(3), np.ones(3), {}, "2-D"),
        (np.full((2, 2), np.nan), np.ones((2, 2)), {}, "NaN"),
        (-np.ones((2, 2)), np.ones((2, 2)), {}, "negative"),
        (np.array([["a"]]), np.ones((1, 1)), {}, "real numbers"),
        (np.ones((2, 2)), np.ones((2, 2)), {"factor": 1.0}, "factor"),
        (np.zeros((2, 2)), np.zeros((2, 2)), {}, "no pair"),
    ],
)
def test_distortion_input_errors(DX, DY, kw, match):
    with pytest.raises(InputError, match=match):
        geodesic_distortion(DX, DY, **kw)


def test_public_names():
    assert mp.geodesic_distances is geodesic_distances
    assert mp.geodesic_distortion is geodesic_distortion
    assert mp.GeodesicDistortion is GeodesicDistortion


def test_swiss_roll_against_unrolled_distances():
    # Exact geodesics of the swiss roll are the distances in the unrolled plane (mp.datasets).
    # A 2-D surface like S^2: the 1 % target; the plain graph is ~3.6 % here (measured).
    S = mp.datasets.swiss_roll(2000, seed=0)
    src = np.arange(0, 2000, 40)
    true = S.geodesic_distances(sources=src)
    D = geodesic_distances(S.points, 10, sources=src)
    ok = np.isfinite(true)
    assert _median_rel_error(D[ok], true[ok]) <= 0.01
