"""Intrinsic dimension: known answers, agreement with scikit-dimension, duplicates, invariances."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import special_ortho_group

import manifold_probe as mp
from manifold_probe.dimension import gride, local_pca, mle, ph_dimension, twonn
from manifold_probe.dimension._correction import _invert_curve

# ----------------------------------------------------------------------------------------------
# data (inline, seeded)


def sphere(rng, n, dim, radius=1.0):
    """Uniform sample of the round sphere S^dim in R^(dim+1)."""
    g = rng.standard_normal((n, dim + 1))
    return radius * g / np.linalg.norm(g, axis=1, keepdims=True)


def cube(rng, n, dim, ambient=None):
    """Uniform sample of [0,1]^dim, rotated into R^ambient."""
    X = rng.random((n, dim))
    if ambient is None or ambient == dim:
        return X
    Q = special_ortho_group.rvs(ambient, random_state=int(rng.integers(2**31)))[:dim]
    return X @ Q


def gaussian_subspace(rng, n, dim, ambient):
    X = rng.standard_normal((n, dim))
    Q = np.linalg.qr(rng.standard_normal((ambient, dim)))[0]
    return X @ Q.T + 3.0


# ----------------------------------------------------------------------------------------------
# known answers


def test_twonn_raw_on_sphere(rng):
    X = sphere(rng, 2000, 2)
    est = twonn(X, correct_bias=False, fit_by="mle", discard_fraction=0.0)
    # unbiased Pareto MLE: standard error n / sqrt(N - 2) = 0.045; 4 standard errors
    assert abs(est.dimension - 2.0) < 4 * 2.0 / np.sqrt(1998)
    lo, hi = est.interval
    assert lo < est.dimension < hi
    # the exact Gamma interval has half-width about 1.96 n / sqrt(N)
    assert hi - lo == pytest.approx(2 * 1.96 * est.dimension / np.sqrt(2000), rel=0.05)


@pytest.mark.parametrize(
    "make, true_dim",
    [
        (lambda r: sphere(r, 2000, 10), 10),
        (lambda r: cube(r, 2000, 20, ambient=30), 20),
    ],
    ids=["S10", "cube20"],
)
def test_twonn_corrected_known_manifolds(rng, make, true_dim):
    X = make(rng)
    est = twonn(X, correct_bias=True)
    # the accuracy target is +-10%; the statistical error of TwoNN at N=2000 is
    # n/sqrt(0.9 N) ~ 2.4% of n, plus the same again from the reference simulation
    assert abs(est.dimension - true_dim) <= 0.10 * true_dim
    assert est.raw is not None and est.raw <= est.dimension + 0.05 * true_dim


def test_gaussian_blob_in_subspace(rng):
    X = gaussian_subspace(rng, 2000, 6, 40)
    raw = twonn(X, correct_bias=False)
    # TwoNN uses only the two nearest neighbours, so a smooth non-uniform density barely
    # matters (Facco et al. 2017): within 10% at N=2000 without any correction
    assert abs(raw.dimension - 6) <= 0.6
    # Known limitation: the correction is the bias of a uniform ball, which has a boundary;
    # a boundaryless Gaussian has less bias, so the correction overshoots. The ball's
    # bias at n=6, N=2000 is about 10%, which bounds the overshoot.
    cor = twonn(X, correct_bias=True)
    assert raw.dimension <= cor.dimension <= 1.2 * 6


def test_correction_removes_high_dimensional_bias(rng):
    X = cube(rng, 1500, 30)
    est = twonn(X, correct_bias=True)
    # Raw TwoNN is biased low at high dimension (Facco et al. 2017, Fig. 2): well below 30
    # at N=1500; the corrected value is within the +-10% target.
    assert est.raw < 0.85 * 30
    assert abs(est.dimension - 30) <= 3.0


def test_correction_capped_at_ambient_dimension(rng):
    X = rng.standard_normal((1500, 8))  # Gaussian: raw estimate below 8, corrected near 8
    est = twonn(X, correct_bias=True)
    assert est.dimension <= 8.0
    assert est.dimension >= 0.9 * 8


def test_mle_on_sphere(rng):
    X = sphere(rng, 2000, 3)
    est = mle(X, k=20)
    # Levina & Bickel (2004): bias and spread of the k=20 estimate on low-dimensional uniform
    # data are a few percent; 7% is about 3 standard errors of the global mean here
    assert abs(est.dimension - 3.0) < 0.07 * 3
    assert est.pointwise.shape == (2000,) and np.isfinite(est.pointwise).all()
    # pointwise values scatter around the truth: median within 10%
    assert abs(np.median(est.pointwise) - 3.0) < 0.3


def test_mle_corrected_on_cube(rng):
    est = mle(cube(rng, 2000, 15), correct_bias=True)
    assert est.raw < 0.9 * 15  # raw MLE underestimates (Levina & Bickel 2004, Fig. 1)
    assert abs(est.dimension - 15) <= 1.5  # the +-10% target


def test_gride_equals_twonn_mle_at_first_scale(rng):
    X = cube(rng, 800, 4)
    g = gride(X, n1=1, range_max=2, correct_bias=False)
    t = twonn(X, fit_by="mle", discard_fraction=0.0, correct_bias=False)
    # at n1=1, n2=2 the GRIDE likelihood is the Pareto likelihood: same closed form
    assert g.dimension == pytest.approx(t.dimension, rel=1e-9)


def test_gride_curve_and_scale(rng):
    X = sphere(rng, 2000, 5)
    est = gride(X, range_max=32)
    np.testing.assert_array_equal(est.scale, [1, 2, 4, 8, 16])
    assert est.curve.shape == (5,)
    # +-10% target at every scale: the sphere has no noise and mild curvature at these ranks
    assert np.all(np.abs(est.curve - 5) <= 0.5)
    assert abs(est.dimension - 5) <= 0.5
    lo, hi = est.interval
    assert lo < hi and lo <= est.dimension + 0.3 and hi >= est.dimension - 0.3


def test_gride_scale_analysis_sees_through_noise(rng):
    # a 2-d plane in R^10 with small isotropic noise: at the smallest scale the noise makes it
    # look 10-dimensional; at larger ranks the estimate returns near 2
    X = np.zeros((2000, 10))
    X[:, :2] = rng.random((2000, 2))
    X += 0.003 * rng.standard_normal(X.shape)
    est = gride(X, range_max=64, correct_bias=False)
    assert est.curve[0] > 4.0
    assert abs(est.curve[-1] - 2.0) < 0.5
    assert abs(est.dimension - 2.0) < 0.5


def test_lpca_linear_subspaces(rng):
    Q = np.linalg.qr(rng.standard_normal((10, 3)))[0]
    X = rng.random((600, 3)) @ Q.T
    # exact: a flat neighbourhood has exactly 3 non-zero eigenvalues (the rest are rounding)
    est = local_pca(X, k=15, criterion="gap")
    np.testing.assert_array_equal(est.pointwise, 3.0)
    # with 95% explained variance the count is at most 3 (a thin neighbourhood may need fewer)
    est = local_pca(X, k=15)
    assert est.pointwise.max() <= 3.0
    assert est.dimension > 2.5


def test_lpca_gap_ignores_roundoff_directions(rng):
    # noise-free S^2 rotated into R^20: 17 normal directions have exactly zero variance up to
    # round-off, and the sphere's own normal carries ~ (rho/r)^2/11 of the tangent variance;
    # the eigengap must sit after the 2 tangent directions, not after the curvature direction
    Z = rng.standard_normal((3000, 3))
    S = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    Q = np.linalg.qr(rng.standard_normal((20, 3)))[0]
    est = local_pca(S @ Q.T, k=25, criterion="gap")
    assert np.median(est.pointwise) == 2.0


def test_lpca_sphere(rng):
    est = local_pca(sphere(rng, 3000, 2), k=15)
    # curvature puts (r_k / 2R)^2 ~ 1e-3 of the variance in the normal direction: below 5%
    assert 1.9 <= est.dimension <= 2.1


def test_phd_square(rng):
    X = rng.random((2000, 2))
    est = ph_dimension(X, seed=0, max_points=1500)
    # MST length of m uniform points in the unit square: L ~ 0.7 sqrt(m) (Beardwood-Halton-
    # Hammersley) with boundary corrections O(1) that bend the log-log slope by a few percent
    assert abs(est.dimension - 2.0) < 0.2
    again = ph_dimension(X, seed=0, max_points=1500)
    assert again.dimension == est.dimension  # same seed, same result


# ----------------------------------------------------------------------------------------------
# agreement with scikit-dimension (same data, same configuration)


def test_agrees_with_skdim_twonn(rng):
    skdim = pytest.importorskip("skdim")
    X = cube(rng, 1500, 6, ambient=8)
    ref = skdim.id.TwoNN(discard_fraction=0.1).fit(X).dimension_
    ours = twonn(X, discard_fraction=0.1, correct_bias=False).dimension
    # same formula on the same exact float64 distances: agreement to rounding
    assert ours == pytest.approx(ref, rel=1e-9)
    ref = skdim.id.TwoNN(discard_fraction=0.1, method="mle").fit(X).dimension_
    ours = twonn(X, discard_fraction=0.1, fit_by="mle", correct_bias=False).dimension
    assert ours == pytest.approx(ref, rel=1e-9)


def test_agrees_with_skdim_mle(rng):
    skdim = pytest.importorskip("skdim")
    X = sphere(rng, 1200, 4)
    # skdim's neighbourhood MLE with n_neighbors=20 and comb="mle" is Levina-Bickel with the
    # MacKay-Ghahramani average; its pointwise values are ours
    ref = skdim.id.MLE().fit(X, n_neighbors=20, comb="mle")
    ours = mle(X, k=20)
    assert ours.dimension == pytest.approx(ref.dimension_, rel=1e-9)
    np.testing.assert_allclose(ours.pointwise, ref.dimension_pw_, rtol=1e-9)


def test_agrees_with_skdim_gride(rng):
    skdim = pytest.importorskip("skdim")
    X = cube(rng, 1500, 5)
    for n1 in (1, 4):
        ref = skdim.id.GRIDE(n1=n1).fit(X).dimension_
        ours = gride(X, n1=n1, correct_bias=False).dimension
        # uniform data: skdim's outlier cut (q50 + 20 (q95 - q50)) removes nothing
        assert ours == pytest.approx(ref, rel=1e-7)


# ----------------------------------------------------------------------------------------------
# duplicates


@pytest.mark.parametrize("method", ["twonn", "mle", "gride", "lpca", "phd"])
def test_duplicates_do_not_bias(rng, method):
    X = cube(rng, 700, 4, ambient=6)
    dup = rng.choice(700, 250, replace=False)
    Xd = np.concatenate([X, X[dup], X[dup[:50]]])
    perm = rng.permutation(len(Xd))
    Xd = Xd[perm]
    opts = {"range_max": 16} if method == "gride" else {}
    a = mp.intrinsic_dimension(X, method, **opts)
    b = mp.intrinsic_dimension(Xd, method, **opts)
    assert np.isfinite(b.dimension)
    if method == "phd":  # random subsets of the same distinct rows, in another order
        assert abs(a.dimension - b.dimension) < 0.1 * a.dimension
        return
    # the estimate is computed on the distinct rows: same set of points, same graph
    assert b.dimension == pytest.approx(a.dimension, rel=1e-9)
    assert b.n_distinct == 700
    if a.pointwise is not None:
        orig = np.concatenate([np.arange(700), dup, dup[:50]])[perm]
        np.testing.assert_allclose(b.pointwise, a.pointwise[orig], rtol=1e-9)


@pytest.mark.parametrize("method", ["twonn", "mle", "gride"])
def test_duplicates_through_a_precomputed_graph(rng, method):
    X = cube(rng, 500, 3)
    Xd = np.concatenate([X, X[:100], X[:40]])
    a = mp.intrinsic_dimension(X, method, range_max=8) if method == "gride" else None
    a = a or mp.intrinsic_dimension(X, method)
    nb = mp.knn(Xd, k=45)  # enough columns left after dropping the copies
    opts = {"range_max": 8} if method == "gride" else {}
    with_x = mp.intrinsic_dimension(Xd, method, neighbors=nb, **opts)
    graph_only = mp.intrinsic_dimension(None, method, neighbors=nb, **opts)
    for est in (with_x, graph_only):
        assert est.dimension == pytest.approx(a.dimension, rel=1e-9)


def test_near_duplicates_are_finite(rng):
    X = rng.standard_normal((400, 768)).astype(np.float32)
    X = np.concatenate([X, X[:150] + np.float32(1e-6)])
    est = twonn(X, correct_bias=False)
    assert np.isfinite(est.dimension)
    est = mle(X)
    assert np.isfinite(est.dimension) and np.isfinite(est.pointwise).all()


# ----------------------------------------------------------------------------------------------
# invariances (hypothesis)

_BASE = np.random.default_rng(7).random((300, 3)) @ np.random.default_rng(8).standard_normal((3, 5))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(1e-3, 1e3),
    shift=st.floats(-100, 100),
    method=st.sampled_from(["twonn", "mle", "gride", "lpca"]),
)
def test_invariance(seed, scale, shift, method):
    r = np.random.default_rng(seed)
    Q = special_ortho_group.rvs(5, random_state=seed % (2**31))
    perm = r.permutation(len(_BASE))
    Y = (scale * _BASE @ Q + shift)[perm]
    opts = {"range_max": 8} if method == "gride" else {}
    a = mp.intrinsic_dimension(_BASE, method, **opts)
    b = mp.intrinsic_dimension(Y, method, **opts)
    # distances change only by rounding (relative 1e-13); estimates are smooth in them
    assert b.dimension == pytest.approx(a.dimension, rel=1e-6)
    if a.pointwise is not None:
        np.testing.assert_allclose(b.pointwise, a.pointwise[perm], rtol=1e-6)


@pytest.mark.parametrize("method", ["twonn", "mle", "gride"])
def test_cosine_metric_uses_chord_lengths(rng, method):
    X = sphere(rng, 800, 3)  # unit rows: the chord between rows IS their Euclidean distance
    opts = {"range_max": 8} if method == "gride" else {}
    a = mp.intrinsic_dimension(X, method, **opts)
    b = mp.intrinsic_dimension(X, method, metric="cosine", **opts)
    c = mp.intrinsic_dimension(X, method, neighbors=mp.knn(X, 20, metric="cosine"), **opts)
    # same neighbours, distances equal up to rounding of 1 - cos (relative ~1e-12 here)
    assert b.dimension == pytest.approx(a.dimension, rel=1e-6)
    assert c.dimension == pytest.approx(a.dimension, rel=1e-6)


def test_cosine_parallel_rows_are_duplicates(rng):
    X = rng.standard_normal((600, 5)) @ rng.standard_normal((5, 12))
    Xd = np.concatenate([X, 2.0 * X[:200], 0.5 * X[:100]])  # same directions, other lengths
    a = twonn(X, metric="cosine", correct_bias=False).dimension
    b = twonn(Xd, metric="cosine", correct_bias=False).dimension
    c = twonn(None, neighbors=mp.knn(Xd, 8, metric="cosine"), correct_bias=False).dimension
    # the cosine distance sees only directions: the same 600 points on the sphere
    assert np.isfinite(b) and np.isfinite(c)
    assert b == pytest.approx(a, rel=1e-6) and c == pytest.approx(a, rel=1e-6)


def test_torch_input_equals_numpy(rng):
    torch = pytest.importorskip("torch")
    X = cube(rng, 400, 3)
    a = mp.intrinsic_dimension(X)
    b = mp.intrinsic_dimension(torch.from_numpy(X))
    assert a.dimension == b.dimension


# ----------------------------------------------------------------------------------------------
# calibration inversion (deterministic)


def test_invert_linear_reference():
    ms = np.arange(1.0, 51.0)
    means = 0.5 * ms  # f(m) = m / 2
    assert _invert_curve(10.0, ms, means, 1024) == pytest.approx(20.0)
    assert _invert_curve(10.25, ms, means, 1024) == pytest.approx(20.5)
    assert _invert_curve(0.25, ms, means, 1024) == pytest.approx(0.5)  # below f(1): proportional
    assert _invert_curve(100.0, ms, means, 50) == 50.0  # capped at the ambient dimension


def test_one_graph(monkeypatch, rng):
    import manifold_probe.neighbors as base  # every graph of the estimators is a neighbors.knn

    mp.knn_cache(clear=True)
    calls = []
    real = base.knn

    def counting(X, k, metric="euclidean"):
        A = np.asarray(X)
        calls.append(A.shape == data.shape and np.array_equal(A, data))
        return real(X, k, metric)

    monkeypatch.setattr(base, "knn", counting)
    X = data = cube(rng, 500, 3)
    nb = mp.knn(X, k=20)
    for method in ("twonn", "mle", "gride", "lpca"):
        opts = {"range_max": 16} if method == "gride" else {}
        if method != "lpca":
            opts["correct_bias"] = False
        mp.intrinsic_dimension(X, method, neighbors=nb, **opts)
    assert calls == []  # the precomputed graph is used, never a second one
    mp.intrinsic_dimension(X, "mle")
    assert calls == [True]
    calls.clear()
    mp.intrinsic_dimension(X)  # the scale check's 64-neighbour graph: one search, read by both
    assert sum(calls) == 1
    calls.clear()
    mp.intrinsic_dimension(X)  # served from the graph cache: no new search of the data
    mp.intrinsic_dimension(X, "gride")
    assert sum(calls) == 0
    with mp.knn_cache(False):
        mp.intrinsic_dimension(X, correct_bias=True)  # corrected TwoNN: one graph of the data, the rest is reference
    assert sum(calls) == 1


@pytest.mark.parametrize(
    "name, args",
    [("sphere", (2000, 3)), ("flat_torus", (2000, 2)), ("hyperbolic", (2000, 2))],
)
def test_ground_truth_manifolds(name, args):
    datasets = pytest.importorskip("manifold_probe.datasets")
    sample = getattr(datasets, name)(*args, seed=0)
    est = mp.intrinsic_dimension(sample.points)
    # TwoNN's standard error at N=2000 is n / sqrt(0.9 N) = 2.4% of n; 10% is about 4 of them
    assert abs(est.dimension - sample.intrinsic_dim) <= 0.10 * sample.intrinsic_dim
