r"""The nets of the Betti test: where each of the ``N_NETS`` landmark nets starts
(:func:`net_starts`, fixed by the cloud) and the one answer read from their results
(:func:`consensus`), with the result type they share (:class:`SignificantFeatures`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from manifold_probe._validation import rescale

# Nets per analysis (:func:`net_starts`, :func:`consensus`): the fewest that give a majority
# when one net disagrees. Each costs one run of the test, so three nets cost three runs of
# the former single net's H1 and H2 (H0 got cheaper by as much: _components._mst_edges).
# A choice, not measured against other counts (docs/validation.md#seed-stability).
N_NETS = 3
# Distinct points up to which one full distance matrix (scipy's cdist, 50 MB at 2500) serves
# the three greedy orders and their nets' distances. Below it the nets hold at least a third
# of the points (the H0 net is n/2 up to 2500), so three greedy orders computed from the
# points (3 x n/2 rows of n distances) cost more than the matrix (n rows). A cost bound from
# that count, not a tuned value.
SHARED_DISTANCES = 2500


@dataclass(frozen=True)
class SignificantFeatures:
    """Internal result of :func:`significant_features` (shared by the verdict)."""

    betti: tuple[int, ...]
    diagrams: list  # landmark diagrams (sparse Rips, full range; H0 exact on the landmarks)
    pvalues: tuple  # per dimension: Bonferroni-adjusted p-value of each tested bar
    tested: tuple  # per dimension: the (birth, death) rows that were tested
    threshold: float
    covering_radius: float
    scale: float  # median pairwise distance of the landmarks: the cloud's size
    critical_ratio: tuple = ()  # per dimension: d/b a feature needs to count (see _resolution)
    resolution: tuple = ()  # per dimension: smallest detectable death (H0: gap) / scale
    near: tuple = ()  # per dimension: a bar that could cross the cut in the net's exact Rips
    net_radius: tuple = ()  # per dimension: covering radius of its net (every point: spacing)
    exact_below: tuple = ()  # per dimension: the sparse filtration equals Rips up to here
    cut: tuple = ()  # per dimension k >= 1: the test's cut on d/b, the band left out
    agreement: tuple = ()  # per dimension: share of the N_NETS nets that read the answer


def net_starts(U: np.ndarray, k: int | None = None) -> np.ndarray:
    r"""First landmarks of the ``N_NETS`` nets, fixed by the cloud: with :math:`c` the centroid
    and the distinct points ranked by :math:`\|x - c\|`, farthest first (ties: the smaller
    index), the points of rank :math:`\lfloor jn/K \rfloor`, :math:`j = 0 \dots K-1`: an
    extreme point, then points a third and two thirds of the way in (distances compared to
    nine significant digits of the largest, ties to the smaller index). Invariant under
    rotation, translation and scaling of the cloud; nets grown greedily from such different
    places differ wherever the answer depends on the landmark set.

    >>> net_starts(np.array([[0.0], [1.0], [3.0], [10.0]]), 2).tolist()
    [3, 1]
    """
    k = N_NETS if k is None else k
    n = len(U)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    d = np.linalg.norm(U - U.mean(axis=0), axis=1)
    # rounded to 1e-9 of the largest, so that distances equal up to rounding (symmetric
    # clouds, a rotated copy) tie exactly and the smaller index wins
    key = np.round(d / max(float(d.max()), np.finfo(float).tiny), 9)
    ranked = np.argsort(-key, kind="stable")
    return np.array(list(dict.fromkeys(int(ranked[(j * n) // k]) for j in range(min(k, n)))),
                    dtype=np.int64)


def consensus(nets: list, e: int, thr: float, alpha: float) -> SignificantFeatures:
    """One answer from the nets' (:func:`_one_net`): per dimension the median count (with three
    nets, the majority's when two agree), ``agreement`` the share of nets that read it, and
    the dimension near resolution when the nets disagree, or when the median could change in
    the nets' exact Rips filtrations: a net's count can change only where that net is near,
    and the median of agreeing counts only if at least half the nets change, so when at
    least half the nets are near. The reporting net (diagrams, bars, p-values, resolution)
    is the first whose answer is the consensus in every dimension, else the first."""
    betti = tuple(int(np.median([f[0][k] for f in nets])) for k in range(len(nets[0][0])))
    agree = tuple(float(np.mean([f[0][k] == b for f in nets])) for k, b in enumerate(betti))
    rep = next((f for f in nets if tuple(f[0]) == betti), nets[0])
    (_, dgms, pvals, tested, eps, scale, crit, resolution, _, net_radius, exact_below,
     cut) = rep
    near = tuple(bool(a < 1.0 or 2 * sum(bool(f[8][k]) for f in nets) >= len(nets))
                 for k, a in enumerate(agree))
    dgms = [rescale(d, e, what="a persistence diagram", unit_power=1) for d in dgms]
    tested = [np.c_[rescale(t[:, :2], e, what="a bar", unit_power=1), t[:, 2:]] for t in tested]
    return SignificantFeatures(betti, dgms, pvals, tuple(tested), float(thr),
                               float(np.ldexp(eps, e)), float(np.ldexp(scale, e)), crit,
                               resolution, near, tuple(float(np.ldexp(r, e)) for r in net_radius),
                               tuple(float(np.ldexp(x, e)) for x in exact_below),
                               tuple(float(x) for x in cut), agree)
