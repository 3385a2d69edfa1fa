"""Intrinsic dimension: the estimator contract and every InputError path."""

import numpy as np
import pytest

import manifold_probe as mp
from manifold_probe import InputError
from manifold_probe.dimension import (
    GRIDE,
    MLE,
    LocalPCA,
    PHDimension,
    TwoNN,
    gride,
    local_pca,
    mle,
    ph_dimension,
    twonn,
)


@pytest.fixture
def X(rng):
    return rng.random((300, 3)) @ rng.standard_normal((3, 6))


# ----------------------------------------------------------------------------------------------
# sklearn-style contract

ESTIMATORS = [
    (TwoNN, {"discard_fraction": 0.2}),
    (MLE, {"k": 10}),
    (GRIDE, {"range_max": 16}),
    (LocalPCA, {"k": 12}),
    (PHDimension, {"max_points": 300, "n_sizes": 4, "n_repeats": 1}),
]


@pytest.mark.parametrize("cls, params", ESTIMATORS, ids=[c.__name__ for c, _ in ESTIMATORS])
def test_estimator_contract(X, rng, cls, params):
    est = cls(**params)
    assert not hasattr(est, "dimension_")  # __init__ stores parameters only
    got = est.get_params()
    assert all(got[k] == v for k, v in params.items())
    assert est.fit(X) is est
    assert isinstance(est.dimension_, float) and np.isfinite(est.dimension_)
    # the class is a thin shell: the same number as the function
    fn = {TwoNN: twonn, MLE: mle, GRIDE: gride, LocalPCA: local_pca, PHDimension: ph_dimension}
    assert est.dimension_ == fn[cls](X, **est.get_params()).dimension
    if est.pointwise_ is not None:
        assert est.pointwise_.shape == (len(X),) and est.pointwise_.dtype == np.float64
    # refit on other data: no stale state
    Y = rng.random((250, 2))
    est.fit(Y)
    assert est.dimension_ == fn[cls](Y, **est.get_params()).dimension
    if est.pointwise_ is not None:
        assert est.pointwise_.shape == (250,)
    # set_params round trip and a clone from get_params
    clone = cls(**est.get_params())
    assert clone.get_params() == est.get_params()
    with pytest.raises(InputError, match="no parameter"):
        est.set_params(bogus=1)


def test_sklearn_clone_works():
    sklearn_base = pytest.importorskip("sklearn.base")
    est = TwoNN(discard_fraction=0.3)
    assert sklearn_base.clone(est).get_params() == est.get_params()


@pytest.mark.parametrize("cls", [TwoNN, MLE, GRIDE, LocalPCA])
def test_fit_with_precomputed_graph(X, cls):
    nb = mp.knn(X, k=20)
    params = {"range_max": 16} if cls is GRIDE else {}
    a = cls(**params).fit(X).dimension_
    b = cls(**params).fit(X, neighbors=nb).dimension_
    assert a == pytest.approx(b, rel=1e-12)


def test_result_types(X):
    est = mp.intrinsic_dimension(X)
    assert isinstance(est, mp.DimensionEstimate)
    assert est.method == "twonn" and est.pointwise is None
    assert isinstance(est.interval, tuple) and len(est.interval) == 2
    with pytest.raises(AttributeError):
        est.dimension = 1.0  # frozen
    g = mp.intrinsic_dimension(X, "gride", range_max=16)
    assert g.scale.dtype == np.float64 and g.curve.shape == g.scale.shape


# ----------------------------------------------------------------------------------------------
# InputError paths


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X: mp.intrinsic_dimension(X, method="pca"), "not supported"),
        (lambda X: mp.intrinsic_dimension(X, method=3), "not supported"),
        (lambda X: mp.intrinsic_dimension(X, "twonn", k=5), "no option"),
        (lambda X: mp.intrinsic_dimension(X, "mle", discard_fraction=0.1), "no option"),
        (lambda X: mp.intrinsic_dimension(X[:10], "mle", k=20), "at least"),
        (lambda X: mp.intrinsic_dimension(X, "mle", k=1), ">= 2"),
        (lambda X: mp.intrinsic_dimension(X, "mle", k=2.5), "integer"),
        (lambda X: mp.intrinsic_dimension(X, "mle", k=400), "at least|too large"),
        (lambda X: twonn(X, discard_fraction=1.0), "discard_fraction"),
        (lambda X: twonn(X, discard_fraction=-0.1), "discard_fraction"),
        (lambda X: twonn(X, fit_by="ols"), "fit_by"),
        (lambda X: twonn(X, reference="sphere"), "reference"),
        (lambda X: twonn(X, seed="a"), "seed"),
        (lambda X: twonn(X, metric="manhattan"), "metric"),
        (lambda X: gride(X, range_max=1), "range_max"),
        (lambda X: gride(X, n1=0), "n1"),
        (lambda X: local_pca(X, threshold=0.0), "threshold"),
        (lambda X: local_pca(X, threshold=1.5), "threshold"),
        (lambda X: local_pca(X, criterion="kaiser"), "criterion"),
        (lambda X: local_pca(None, neighbors=mp.knn(X, 20)), "coordinates"),
        (lambda X: ph_dimension(X, min_points=200), "range of subsample sizes"),
        (lambda X: ph_dimension(X, n_sizes=1), "n_sizes"),
        (lambda X: mp.intrinsic_dimension(X, "phd", neighbors=mp.knn(X, 3)), "spanning"),
        (lambda X: mp.intrinsic_dimension(None, "phd"), "needs the points"),
        (lambda X: mp.intrinsic_dimension(None), "pass the points"),
        (lambda X: twonn(X, neighbors=np.zeros((300, 2))), "Neighbors"),
        (lambda X: twonn(X[:200], neighbors=mp.knn(X, 2)), "rows"),
        (lambda X: mle(X, neighbors=mp.knn(X, 5), k=20), "recompute"),
        (lambda X: PHDimension().fit(X, neighbors=mp.knn(X, 2)), "neighbour graph"),
    ],
)
def test_input_errors(X, call, match):
    with pytest.raises(InputError, match=match):
        call(X)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[np.nan, 1.0]] * 100), "NaN"),
        (np.ones(100), "2-D"),
        (np.array([["a", "b"]] * 100), "non-numeric"),
        (np.ones((100, 2), dtype=complex), "complex"),
    ],
)
@pytest.mark.parametrize("method", ["twonn", "mle", "gride", "lpca", "phd"])
def test_bad_points(method, bad, match):
    with pytest.raises(InputError, match=match):
        mp.intrinsic_dimension(bad, method)


def test_all_rows_identical():
    X = np.ones((100, 3))
    with pytest.raises(InputError, match="distinct"):
        twonn(X)


def test_too_many_copies_for_the_graph(rng):
    X = rng.random((100, 2))
    Xd = np.concatenate([X] * 4)  # every point has 3 copies: a k=3 graph sees only copies
    nb = mp.knn(Xd, k=3)
    with pytest.raises(InputError, match="distinct neighbours"):
        twonn(None, neighbors=nb)
    with pytest.raises(InputError, match="distinct neighbours"):
        twonn(Xd, neighbors=nb)
    # with enough columns the graph is usable and equals the duplicate-free estimate
    ok = twonn(None, neighbors=mp.knn(Xd, k=12), correct_bias=False).dimension
    assert ok == pytest.approx(twonn(X, correct_bias=False).dimension, rel=1e-12)
