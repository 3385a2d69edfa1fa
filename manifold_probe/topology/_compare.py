"""The verdict: does a map between two representations of the same inputs keep topology?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_points
from manifold_probe.topology._distances import diagram_distance
from manifold_probe.topology._persistence import check_maxdim
from manifold_probe.topology._significance import shared_seed, significant_features

__all__ = ["TopologyComparison", "topology_preserved"]


@dataclass(frozen=True)
class TopologyComparison:
    """Result of :func:`topology_preserved`.

    Attributes
    ----------
    preserved : bool
        ``betti_x == betti_y``: the significant Betti numbers agree in every dimension.
    betti_x, betti_y : tuple of int, length maxdim + 1
        Significant Betti numbers of each cloud (see :func:`betti_numbers`).
    distances : tuple of float, length maxdim + 1
        Per dimension, the bottleneck distance between the two landmark diagrams, each divided
        by the median pairwise distance of its landmarks and truncated at the smaller of the
        two (normalised) thresholds: unitless, 0 for identical clouds, unchanged by rotating,
        translating or scaling either cloud.
    """

    preserved: bool
    betti_x: tuple[int, ...]
    betti_y: tuple[int, ...]
    distances: tuple[float, ...]


def topology_preserved(
    X: Any,
    Y: Any,
    maxdim: int = 1,
    seed: Any = None,
    *,
    confidence: float = 0.95,
    n_landmarks: int | None = None,
    n_bootstrap: int | None = None,
) -> TopologyComparison:
    r"""Compare the topology of two representations of the same inputs.

    ``X[i]`` and ``Y[i]`` are the same input seen in two spaces (two layers of a network, or a
    model before and after a change). The verdict is that the map :math:`X \to Y` keeps
    topology iff the significant Betti numbers (:func:`betti_numbers`, same ``confidence``)
    agree in every dimension :math:`0 \dots` ``maxdim``. A homeomorphism onto its image keeps
    them; folding, gluing or tearing changes them (Naitzat, Zhitnikov & Lim 2020).

    How far the diagrams moved is reported separately, per dimension, as the bottleneck
    distance between scale-normalised diagrams:

    .. math::

        \delta_k = d_B\big(D_k(X)/s_X,\ D_k(Y)/s_Y\big),

    with :math:`s` the median pairwise distance of each cloud's landmarks and, for
    :math:`k \ge 1`, both diagrams truncated at the smaller normalised threshold (so classes
    alive there compare as equal; H0 is exact at every scale).

    Parameters
    ----------
    X, Y : array-like of shape (n_points, n_features_x) and (n_points, n_features_y)
        The same ``n_points`` inputs in two representations (feature counts may differ).
    maxdim : int, default=1
        Highest homology dimension compared.
    seed : None, int or numpy.random.Generator, default=None
        Seeds both analyses through :func:`shared_seed`; same seed, same verdict, and
        ``betti_x == betti_numbers(X, maxdim, seed=shared_seed(seed))``.
    confidence, n_landmarks, n_bootstrap
        As in :func:`betti_numbers`.

    Returns
    -------
    TopologyComparison

    Raises
    ------
    InputError
        Bad points, or ``X`` and ``Y`` with different numbers of rows.

    References
    ----------
    Naitzat, Zhitnikov & Lim (2020), "Topology of deep neural networks", JMLR 21(184).
    Chazal, de Silva & Oudot (2014), "Persistence stability for geometric complexes".
    """
    X = check_points(X, min_points=1, name="X", what="topology_preserved")
    Y = check_points(Y, min_points=1, name="Y", what="topology_preserved")
    if X.shape[0] != Y.shape[0]:
        raise InputError(
            f"X and Y must hold the same inputs row by row; X has {X.shape[0]} rows and Y has "
            f"{Y.shape[0]}. Pass Y[i] = the representation of input X[i]"
        )
    maxdim = check_maxdim(maxdim)
    # One seed for both (the same first landmark), so that an isometry gives identical
    # diagrams, and betti_numbers(X, seed=shared_seed(seed)) == betti_x.
    shared = shared_seed(seed)
    fx = significant_features(X, maxdim, confidence, shared, n_landmarks, n_bootstrap)
    fy = significant_features(Y, maxdim, confidence, shared, n_landmarks, n_bootstrap)
    sx = fx.scale if fx.scale > 0 else 1.0
    sy = fy.scale if fy.scale > 0 else 1.0
    cap = min(fx.threshold / sx, fy.threshold / sy)
    distances = []
    for k in range(maxdim + 1):
        a = fx.diagrams[k] / sx
        b = fy.diagrams[k] / sy
        if np.isfinite(cap) and k > 0:  # H0 is exact at every scale
            a = np.minimum(a, cap)
            b = np.minimum(b, cap)
        distances.append(diagram_distance(a, b, kind="bottleneck"))
    return TopologyComparison(
        preserved=fx.betti == fy.betti,
        betti_x=fx.betti,
        betti_y=fy.betti,
        distances=tuple(float(d) for d in distances),
    )
