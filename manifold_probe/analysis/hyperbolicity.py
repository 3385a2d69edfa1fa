r"""Tree-likeness of a point set: Gromov's four-point hyperbolicity against flat surrogates.

Class means arranged by a hierarchy should sit closer to a tree metric than a Gaussian cloud
of their shape (tree-like data embed with little distortion only in negatively curved
spaces; Sarkar 2011). :func:`gromov_delta` measures it, :func:`hyperbolicity` tests it.

References
----------
Gromov (1987), "Hyperbolic groups". Sarkar (2011), "Low distortion Delaunay embedding of
trees in hyperbolic plane", Graph Drawing. Phipson & Smyth (2010), "Permutation p-values
should never be zero".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe import _cost_guards
from manifold_probe._validation import check_int, check_points, check_seed

__all__ = ["Hyperbolicity", "gromov_delta", "hyperbolicity"]


def gromov_delta(D: Any, base: int = 0) -> float:
    r"""Gromov hyperbolicity of a finite metric at one base point, relative to the diameter.

    With Gromov products :math:`(x|y)_w = \tfrac12 (d(x,w) + d(y,w) - d(x,y))`,

    .. math::

        \delta_w = \max_{x,y,z} \big[\min\{(x|y)_w, (y|z)_w\} - (x|z)_w\big],

    and the space is :math:`\delta`-hyperbolic with :math:`\delta_w \le \delta \le
    2\delta_w` (Gromov 1987). Returned: :math:`2\delta_w / \operatorname{diam}` in
    :math:`[0, 1]`; 0 for a tree metric (trees are 0-hyperbolic), larger for flat or
    positively curved sets (Euclidean points in general position).

    Examples
    --------
    >>> from manifold_probe.analysis.structure import tree_distances
    >>> gromov_delta(tree_distances([-1, 0, 0, 1, 1, 2]))
    0.0
    >>> sq = np.array([[0, 1, 2**.5, 1], [1, 0, 1, 2**.5], [2**.5, 1, 0, 1], [1, 2**.5, 1, 0]])
    >>> round(gromov_delta(sq), 3)  # a square (4-cycle with its diagonals) is not a tree
    0.586
    """
    D = np.asarray(D, dtype=np.float64)
    diam = float(D.max(initial=0.0))
    if diam <= 0:
        return 0.0
    G = 0.5 * (D[:, base][:, None] + D[base][None, :] - D)
    # max over y of min(G[x, y], G[y, z]): a (max, min) matrix product, one row x at a time
    worst = max(float(np.max(np.minimum(G[x][:, None], G).max(axis=0) - G[x]))
                for x in range(len(G)))
    return max(0.0, 2.0 * worst / diam)


@dataclass(frozen=True)
class Hyperbolicity:
    """Result of :func:`hyperbolicity`: relative Gromov delta against a Gaussian surrogate."""

    delta: float
    p_value: float
    null_median: float
    n_surrogates: int


def hyperbolicity(Z: Any, n_surrogates: int = 199, seed: Any = None) -> Hyperbolicity:
    r"""Is a point set more tree-like (negatively curved) than a Gaussian cloud of its shape?

    The statistic is :func:`gromov_delta` of the Euclidean distances of ``Z`` (base point: the
    point nearest the centroid). The null draws ``n_surrogates`` Gaussian clouds with the same
    number of points, mean and covariance as ``Z``: flat data with the same second moments.
    One-sided p-value :math:`(1 + \#\{\delta^* \le \delta\})/(1 + B)` (Phipson & Smyth
    2010): small when ``Z`` is closer to a tree metric than such clouds, which is the
    prediction for class means arranged by a hierarchy (tree-like data embed with little
    distortion only in negatively curved spaces; Sarkar 2011).

    References
    ----------
    Gromov (1987), "Hyperbolic groups". Sarkar (2011), "Low distortion Delaunay embedding of
    trees in hyperbolic plane", Graph Drawing.
    """
    Z = check_points(Z, min_points=4, what="hyperbolicity")
    n_surrogates = check_int(n_surrogates, name="n_surrogates", minimum=19)
    rng = check_seed(seed)
    _cost_guards.guard_hyperbolicity(*Z.shape, n_surrogates)
    Z = _cost_guards.centred_points(Z, 4, what="hyperbolicity")  # delta/diam and the null: invariant

    def stat(P: np.ndarray) -> float:
        D = np.sqrt(np.maximum(((P[:, None, :] - P[None, :, :]) ** 2).sum(-1), 0.0))
        base = int(np.argmin(((P - P.mean(axis=0)) ** 2).sum(axis=1)))
        return gromov_delta(D, base)

    observed = stat(Z)
    cov = np.atleast_2d(np.cov(Z, rowvar=False))
    null = np.array([stat(rng.multivariate_normal(Z.mean(axis=0), cov, size=len(Z),
                                                  method="eigh"))
                     for _ in range(n_surrogates)])
    p = (1 + np.sum(null <= observed + 1e-12)) / (1 + n_surrogates)
    return Hyperbolicity(float(observed), float(p), float(np.median(null)), n_surrogates)
