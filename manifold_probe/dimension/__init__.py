"""Intrinsic dimension of point clouds.

One entry point, :func:`intrinsic_dimension`, with five methods, each also a plain function and
a scikit-learn style class:

=========  ===================  ==============  ==========================================
method     function             class           idea
=========  ===================  ==============  ==========================================
twonn      :func:`twonn`        :class:`TwoNN`  ratio of the two nearest distances (default)
mle        :func:`mle`          :class:`MLE`    Levina–Bickel likelihood, pointwise
gride      :func:`gride`        :class:`GRIDE`  generalised ratios, ID versus scale
lpca       :func:`local_pca`    :class:`LocalPCA`  explained variance of neighbourhoods
phd        :func:`ph_dimension` :class:`PHDimension`  growth of minimum-spanning-tree length
=========  ===================  ==============  ==========================================

The neighbour-based methods compute ONE k-nearest-neighbour graph (or reuse the one passed as
``neighbors=``). All of them collapse exact duplicate rows first and estimate on the distinct
rows; pointwise values are broadcast back to every row.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_option
from manifold_probe.dimension._base import DimensionEstimate, ParamsMixin
from manifold_probe.dimension._correction import calibrate, correct
from manifold_probe.dimension._gride import GRIDE_PARAMS, gride
from manifold_probe.dimension._lpca import LPCA_PARAMS, local_pca

# levina_bickel and near_duplicate_message are package-public: other packages of manifold_probe
# (geodesic, curvature, analysis, report) read them here; they are not in the user API (__all__).
# The *_PARAMS schemas are package-public too (read by analysis.settings).
from manifold_probe.dimension._mle import MLE_PARAMS, mle
from manifold_probe.dimension._mle import levina_bickel as levina_bickel
from manifold_probe.dimension._near import NearDuplicateWarning
from manifold_probe.dimension._near import message as near_duplicate_message  # noqa: F401
from manifold_probe.dimension._phd import PHD_PARAMS, ph_dimension
from manifold_probe.dimension._scale_check import ScaleCheck, scale_dependence
from manifold_probe.dimension._twonn import TWONN_PARAMS, twonn
from manifold_probe.neighbors import Neighbors

__all__ = [
    "DimensionEstimate",
    "NearDuplicateWarning",
    "intrinsic_dimension",
    "twonn",
    "mle",
    "gride",
    "local_pca",
    "ph_dimension",
    "calibrate",
    "correct",
    "scale_dependence",
    "ScaleCheck",
    "TwoNN",
    "MLE",
    "GRIDE",
    "LocalPCA",
    "PHDimension",
    "METHODS",
    "SCHEMAS",
]

METHODS = {
    "twonn": twonn,
    "mle": mle,
    "gride": gride,
    "lpca": local_pca,
    "phd": ph_dimension,
}

#: Each method's settings (:class:`manifold_probe._params.Schema`): the classes below take
#: their defaults from here, the functions check their arguments against them.
SCHEMAS = {
    "twonn": TWONN_PARAMS,
    "mle": MLE_PARAMS,
    "gride": GRIDE_PARAMS,
    "lpca": LPCA_PARAMS,
    "phd": PHD_PARAMS,
}
_TWONN, _MLE, _GRIDE, _LPCA, _PHD = (SCHEMAS[m].defaults() for m in METHODS)


def _options_of(fn) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p not in ("X", "neighbors")]


def intrinsic_dimension(
    X: Any = None,
    method: str = "twonn",
    *,
    neighbors: Neighbors | None = None,
    **options: Any,
) -> DimensionEstimate:
    """Estimate the intrinsic dimension of a point cloud.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features), optional
        The points (numpy array or torch tensor). May be omitted for the neighbour-based
        methods ``twonn``, ``mle`` and ``gride`` when ``neighbors`` is given.
    method : {"twonn", "mle", "gride", "lpca", "phd"}, default="twonn"
        See :func:`twonn`, :func:`mle`, :func:`gride`, :func:`local_pca`, :func:`ph_dimension`.
        The default is uncorrected TwoNN. Its optional finite-sample correction
        (``correct_bias=True``) meets the Hein–Audibert target (5.8–5.9% mean relative error
        against 11.7–12.1% raw), is better on held-out families without heavy noise, slightly
        worse on closed shapes, and neither survives heavy noise (table in :func:`twonn`).
    neighbors : Neighbors, optional
        A precomputed ``mp.knn`` graph with enough neighbours; no other graph is computed.
    **options
        Keyword options of the chosen method (e.g. ``discard_fraction``, ``k``,
        ``correct_bias``, ``seed``).

    Returns
    -------
    DimensionEstimate
        ``dimension``, ``pointwise`` (or None), ``interval`` (or None), ``method`` and, for
        corrected estimates, ``raw``.

    Raises
    ------
    InputError
        Unknown method or option, bad points, too few points for the neighbourhood size.

    Examples
    --------
    >>> import numpy as np, manifold_probe as mp
    >>> X = np.random.default_rng(0).random((2000, 2)) @ np.ones((2, 5))  # a segment in R^5
    >>> round(mp.intrinsic_dimension(X).dimension)
    1
    """
    method = check_option(method, METHODS, name="method")
    fn = METHODS[method]
    allowed = _options_of(fn)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"method={method!r} has no option(s) {unknown}; its options are {allowed}")
    if method == "phd":
        if neighbors is not None:
            raise InputError(
                "method='phd' uses minimum spanning trees of subsamples, not a neighbour graph; "
                "pass X and drop neighbors="
            )
        if X is None:
            raise InputError("method='phd' needs the points X")
        return fn(X, **options)
    return fn(X, neighbors=neighbors, **options)


class _DimensionEstimator(ParamsMixin):
    """Thin shell over a method function: ``fit`` calls it and stores the result."""

    _function: Any = None

    def fit(self, X: Any, y: Any = None, neighbors: Neighbors | None = None):
        """Estimate the dimension of ``X`` (``neighbors``: optional precomputed graph).

        Sets ``estimate_`` (the :class:`DimensionEstimate`), ``dimension_`` (float),
        ``pointwise_`` (ndarray (n_points,) or None), ``interval_`` ((lo, hi) or None) and
        ``raw_dimension_`` (float or None). Returns ``self``.
        """
        fn = type(self)._function
        params = self.get_params()
        if neighbors is not None:
            est = fn(X, neighbors=neighbors, **params)
        else:
            est = fn(X, **params)
        self.estimate_ = est
        self.dimension_ = est.dimension
        self.pointwise_ = est.pointwise
        self.interval_ = est.interval
        self.raw_dimension_ = est.raw
        return self

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray | None:
        """Fit and return the pointwise estimates (None for global-only methods)."""
        return self.fit(X).pointwise_


class TwoNN(_DimensionEstimator):
    """TwoNN estimator (Facco et al. 2017); see :func:`twonn` for the maths and parameters.

    Attributes
    ----------
    dimension_ : float
    interval_ : (float, float)
        95% interval.
    raw_dimension_ : float or None
        Uncorrected estimate when ``correct_bias`` is on.
    estimate_ : DimensionEstimate
    """

    _function = staticmethod(twonn)

    def __init__(
        self,
        discard_fraction: float = _TWONN["discard_fraction"],
        fit_by: str = _TWONN["fit_by"],
        correct_bias: bool = _TWONN["correct_bias"],
        reference: str = _TWONN["reference"],
        seed: int | None = _TWONN["seed"],
        metric: str = _TWONN["metric"],
        scale_check: bool = _TWONN["scale_check"],
    ):
        self.discard_fraction = discard_fraction
        self.fit_by = fit_by
        self.correct_bias = correct_bias
        self.reference = reference
        self.seed = seed
        self.metric = metric
        self.scale_check = scale_check


class MLE(_DimensionEstimator):
    """Levina–Bickel / MacKay–Ghahramani estimator; see :func:`mle`.

    Attributes
    ----------
    dimension_ : float
    pointwise_ : ndarray of shape (n_points,)
    raw_dimension_ : float or None
    estimate_ : DimensionEstimate
    """

    _function = staticmethod(mle)

    def __init__(
        self,
        k: int = _MLE["k"],
        correct_bias: bool = _MLE["correct_bias"],
        reference: str = _MLE["reference"],
        seed: int | None = _MLE["seed"],
        metric: str = _MLE["metric"],
    ):
        self.k = k
        self.correct_bias = correct_bias
        self.reference = reference
        self.seed = seed
        self.metric = metric


class GRIDE(_DimensionEstimator):
    """GRIDE estimator with scale analysis (Denti et al. 2022); see :func:`gride`.

    Attributes
    ----------
    dimension_ : float
    interval_ : (float, float)
    scale_ : ndarray of shape (n_scales,)
        Neighbour ranks n1 = 1, 2, 4, ...
    curve_ : ndarray of shape (n_scales,)
        Estimate at each scale.
    selected_n1_ : int
        The reported scale (see ``estimate_.details["scale_reason"]``).
    estimate_ : DimensionEstimate
    """

    _function = staticmethod(gride)

    def __init__(
        self,
        n1: int | None = _GRIDE["n1"],
        range_max: int = _GRIDE["range_max"],
        correct_bias: bool = _GRIDE["correct_bias"],
        reference: str = _GRIDE["reference"],
        seed: int | None = _GRIDE["seed"],
        metric: str = _GRIDE["metric"],
    ):
        self.n1 = n1
        self.range_max = range_max
        self.correct_bias = correct_bias
        self.reference = reference
        self.seed = seed
        self.metric = metric

    def fit(self, X: Any, y: Any = None, neighbors: Neighbors | None = None) -> GRIDE:
        super().fit(X, y, neighbors=neighbors)
        self.scale_ = self.estimate_.scale
        self.curve_ = self.estimate_.curve
        self.selected_n1_ = self.estimate_.details["selected_n1"]
        return self


class LocalPCA(_DimensionEstimator):
    """Local PCA estimator; see :func:`local_pca`.

    Attributes
    ----------
    dimension_ : float
        Mean of the pointwise values.
    pointwise_ : ndarray of shape (n_points,)
    estimate_ : DimensionEstimate
    """

    _function = staticmethod(local_pca)

    def __init__(
        self,
        k: int = _LPCA["k"],
        criterion: str = _LPCA["criterion"],
        threshold: float = _LPCA["threshold"],
        metric: str = _LPCA["metric"],
    ):
        self.k = k
        self.criterion = criterion
        self.threshold = threshold
        self.metric = metric


class PHDimension(_DimensionEstimator):
    """Persistent-homology dimension; see :func:`ph_dimension`.

    Attributes
    ----------
    dimension_ : float
    estimate_ : DimensionEstimate
    """

    _function = staticmethod(ph_dimension)

    def __init__(
        self,
        min_points: int = _PHD["min_points"],
        max_points: int = _PHD["max_points"],
        n_sizes: int = _PHD["n_sizes"],
        n_repeats: int = _PHD["n_repeats"],
        seed: int | None = _PHD["seed"],
    ):
        self.min_points = min_points
        self.max_points = max_points
        self.n_sizes = n_sizes
        self.n_repeats = n_repeats
        self.seed = seed

    def fit(self, X: Any, y: Any = None, neighbors: Neighbors | None = None) -> PHDimension:
        if neighbors is not None:
            raise InputError("PHDimension does not use a neighbour graph; drop neighbors=")
        return super().fit(X, y)
