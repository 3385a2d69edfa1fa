"""The verdict: does a map between two representations of the same inputs keep topology?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_points
from manifold_probe.topology._distances import diagram_distance
from manifold_probe.topology._persistence import check_maxdim
from manifold_probe.topology._significance import (
    betti_result,
    shared_seed,
    significant_features,
)

__all__ = ["TopologyComparison", "comparison_verdict", "topology_preserved"]


@dataclass(frozen=True)
class TopologyComparison:
    r"""Result of :func:`topology_preserved`.

    Attributes
    ----------
    preserved : bool
        ``betti_x == betti_y``: the significant Betti numbers (:math:`\mathbb{Z}/2`
        coefficients) agree in every dimension. Kept for callers that read a bool; it says
        nothing about resolution, so ``verdict`` is the field to act on.
    verdict : {"preserved", "broken", "undecided"}
        ``"preserved"``: the numbers agree (as ``preserved``). ``"broken"``: they differ in a
        dimension that neither cloud reads near its resolution. ``"undecided"``: they differ
        only in dimensions read near resolution by one cloud or both, so a finer sample could
        read either way. ``preserved`` is ``verdict == "preserved"``; a disagreement is
        ``"broken"`` or ``"undecided"``.
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
    verdict: str = "preserved"


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
    agree in every dimension :math:`0 \dots` ``maxdim``, homology with coefficients in
    :math:`\mathbb{Z}/2` (so torsion is invisible: :math:`\mathbb{RP}^2` reads (1, 1, 1)). A
    homeomorphism onto its image keeps them; folding, gluing or tearing changes them
    (Naitzat, Zhitnikov & Lim 2020). The answer has three values (``verdict``): where the
    numbers differ only in dimensions read near the sample's resolution (:func:`betti_numbers`,
    Resolution) it is ``"undecided"`` rather than a confident break; no
    :class:`ResolutionWarning` is issued here, the verdict carries it.

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
        Validated and passed on through :func:`shared_seed`; the analyses no longer depend
        on it (:func:`betti_numbers`, Three nets): ``betti_x == betti_numbers(X, maxdim)`` and
        ``betti_y == betti_numbers(Y, maxdim)`` for every seed.
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
    # Each cloud's nets start at points fixed by the cloud (net_starts: the ranking by
    # distance to the centroid, which an isometry keeps), so an isometry gives identical
    # diagrams and betti_numbers(X) == betti_x, betti_numbers(Y) == betti_y for any seed.
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
        betti_x=betti_result(fx),
        betti_y=betti_result(fy),
        distances=tuple(float(d) for d in distances),
        verdict=comparison_verdict(fx.betti, fy.betti, fx.near, fy.near),
    )


def comparison_verdict(bx, by, near_x, near_y) -> str:
    """``"preserved"``, ``"broken"`` or ``"undecided"`` from two Betti vectors and their
    near-resolution flags (see :class:`TopologyComparison`).

    >>> comparison_verdict((1, 1), (1, 0), (False, False), (False, False))
    'broken'
    >>> comparison_verdict((1, 1), (1, 0), (False, False), (False, True))
    'undecided'
    """
    near = [a or b for a, b in zip(near_x, near_y, strict=True)]
    differ = [k for k, (a, b) in enumerate(zip(bx, by, strict=True)) if a != b]
    if not differ:
        return "preserved"
    return "broken" if any(not near[k] for k in differ) else "undecided"
