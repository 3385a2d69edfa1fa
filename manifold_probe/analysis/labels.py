"""How regions line up with labels, and how a block merges or splits regions.

Split from :mod:`manifold_probe.analysis.regions`, which re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._validation import (
    InputError,
    check_float,
    check_k,
    check_points,
    to_numpy,
)

__all__ = ["LabelAgreement", "RegionTransition", "label_agreement", "compare_regions"]


def _check_labels(labels: Any, n: int, name: str = "labels") -> np.ndarray:
    y = to_numpy(labels)
    if y.ndim != 1 or len(y) != n:
        raise InputError(
            f"{name} must be a 1-D array with one entry per point ({n}); got shape {y.shape}"
        )
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise InputError(f"{name} contains NaN or inf; use integer or string labels")
    return y


@dataclass(frozen=True)
class LabelAgreement:
    """How regions line up with given labels.

    Attributes
    ----------
    ari : float
        Adjusted Rand index between region labels and given labels (1: identical partitions,
        about 0 for independent ones).
    nmi : float
        Normalised mutual information (arithmetic mean normalisation; 1: identical).
    purity : dict
        Per given label: mean over its points of the fraction of the point's ``k`` nearest
        neighbours that share its label.
    mean_purity : float
        Mean of ``purity`` over points (each point weighted once).
    chance_purity : dict
        Per label: the purity expected if neighbours were drawn at random,
        :math:`(n_c - 1)/(n - 1)`.
    k : int
    """

    ari: float
    nmi: float
    purity: dict
    mean_purity: float
    chance_purity: dict
    k: int


def label_agreement(
    region_labels: Any,
    labels: Any,
    X: Any = None,
    k: int = 10,
    *,
    neighbors: Any = None,
) -> LabelAgreement:
    r"""Agreement of region labels with given labels, and kNN purity of the given labels.

    ARI (Hubert & Arabie 1985) and NMI (Strehl & Ghosh 2002) from scikit-learn compare the two
    partitions. Purity of label ``c``: :math:`\frac{1}{n_c}\sum_{i: y_i=c}\frac1k
    \#\{j \in N_k(i): y_j = c\}` on the kNN graph of ``X`` (pass ``X`` or ``neighbors``; if
    neither is given purity is left empty).

    Raises
    ------
    InputError
        Label arrays of different lengths, or a graph of the wrong size.

    Examples
    --------
    >>> label_agreement([0, 0, 1, 1], ["a", "a", "b", "b"]).ari
    1.0
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    r = _check_labels(region_labels, len(to_numpy(region_labels)), "region_labels")
    y = _check_labels(labels, len(r))
    ari = float(adjusted_rand_score(y, r))
    nmi = float(normalized_mutual_info_score(y, r))
    purity: dict = {}
    chance: dict = {}
    mean_purity = float("nan")
    if neighbors is None and X is not None:
        from manifold_probe.neighbors import cached_knn

        A = check_points(X, min_points=2, what="label_agreement")
        if len(A) != len(y):
            raise InputError(f"X has {len(A)} rows but labels has {len(y)}; they must match")
        # the cache's graph of these rows (e.g. the one their regions were found on), truncated
        neighbors = cached_knn(A, check_k(k, len(A)))
    if neighbors is not None:
        if neighbors.n_points != len(y):
            raise InputError(
                f"the neighbour graph has {neighbors.n_points} points but labels has {len(y)}"
            )
        k = min(k, neighbors.k)
        same = y[neighbors.indices[:, :k]] == y[:, None]
        point_purity = same.mean(axis=1)
        mean_purity = float(point_purity.mean())
        values, counts = np.unique(y, return_counts=True)
        for v, c in zip(values.tolist(), counts.tolist(), strict=True):
            purity[v] = float(point_purity[y == v].mean())
            chance[v] = (c - 1) / (len(y) - 1)
    return LabelAgreement(ari, nmi, purity, mean_purity, chance, int(k))


@dataclass(frozen=True)
class RegionTransition:
    """How the regions of one layer map onto the regions of the next (same inputs).

    Attributes
    ----------
    contingency : ndarray of int64, shape (n_regions_a, n_regions_b)
        Number of points in region ``i`` of ``a`` and region ``j`` of ``b``.
    merges : list of tuple
        ``(j, (i1, i2, ...))``: region ``j`` of ``b`` receives the majority (> ``share``) of
        two or more regions of ``a``.
    splits : list of tuple
        ``(i, (j1, j2, ...))``: region ``i`` of ``a`` is the majority source (> ``share``) of
        two or more regions of ``b``.
    ari : float
        Adjusted Rand index between the two partitions.
    share : float
    """

    contingency: np.ndarray
    merges: list
    splits: list
    ari: float
    share: float

    @property
    def merged(self) -> bool:
        return bool(self.merges)

    @property
    def split(self) -> bool:
        return bool(self.splits)


def compare_regions(labels_a: Any, labels_b: Any, *, share: float = 0.5) -> RegionTransition:
    r"""Contingency of the regions of two layers and the merges and splits it shows.

    Region ``i`` of layer ``a`` *maps into* region ``j`` of layer ``b`` when more than
    ``share`` of its points land in ``j`` (:math:`C_{ij} / \sum_j C_{ij} > s`); a merge is a
    ``j`` that two or more regions map into. Symmetrically, region ``j`` of ``b`` *comes from*
    ``i`` when more than ``share`` of its points came from ``i``; a split is an ``i`` that two
    or more regions of ``b`` come from. ``share >= 0.5`` makes "the majority" unique.

    Examples
    --------
    >>> t = compare_regions([0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 1, 1])
    >>> t.merges
    [(0, (0, 1))]
    """
    from sklearn.metrics import adjusted_rand_score

    a = _check_labels(labels_a, len(to_numpy(labels_a)), "labels_a")
    b = _check_labels(labels_b, len(a), "labels_b")
    share = check_float(share, name="share", low=0.5, high=1.0, high_open=True)
    ua, ia = np.unique(a, return_inverse=True)
    ub, ib = np.unique(b, return_inverse=True)
    C = np.zeros((len(ua), len(ub)), dtype=np.int64)
    np.add.at(C, (ia, ib), 1)
    into = C / C.sum(axis=1, keepdims=True)
    came = C / C.sum(axis=0, keepdims=True)
    merges, splits = [], []
    for j in range(len(ub)):
        src = tuple(ua[np.flatnonzero(into[:, j] > share)].tolist())
        if len(src) >= 2:
            merges.append((ub[j].item(), src))
    for i in range(len(ua)):
        dst = tuple(ub[np.flatnonzero(came[i, :] > share)].tolist())
        if len(dst) >= 2:
            splits.append((ua[i].item(), dst))
    return RegionTransition(C, merges, splits, float(adjusted_rand_score(a, b)), share)
