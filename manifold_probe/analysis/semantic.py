"""Per-layer semantic measures of labelled inputs: regions with label agreement, known structures.

The inputs' labels come as a mapping ``name -> one value per input`` (the experiment runner
saves it beside the activations): ``category`` (the corpus category of each sentence), ``day``,
``month``, ``number``, ``hour`` (``-1``: no such label), and for the modular-addition model
``answer`` = (a + b) mod p with ``answer_order``, the answer classes in the cyclic order of the
model's key Fourier frequency. :func:`input_structures` reads which known structures the labels
carry; :func:`measure_regions` and :func:`measure_structures` give the profile columns
``n_regions``, ``regions_ari``, ``regions_nmi``, ``label_purity``, ``regions_merged_prev``,
``regions_split_prev``, ``n_regions_null`` (regions of a matched Gaussian surrogate) with
``n_regions_vs_null``, and ``structure_<name>_stat|_p|_p_min|_effect|_stat_null|_variance``
(for a tree also
``structure_<name>_delta|_delta_p``: relative Gromov delta of the class means and its
Gaussian-surrogate p-value, :func:`~manifold_probe.analysis.structure.hyperbolicity`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._validation import InputError
from manifold_probe.analysis.measures import short_message, subsample_indices
from manifold_probe.analysis.settings import EstimatorSettings

__all__ = ["KnownStructure", "input_structures", "label_separation", "measure_regions",
           "measure_structures",
           "region_labels", "structure_test"]


@dataclass(frozen=True)
class KnownStructure:
    """One known structure of the inputs: ``labels`` (``-1``: none) arranged as ``kind``."""

    name: str
    kind: str
    labels: np.ndarray
    order: np.ndarray | None = None
    parents: np.ndarray | None = None


#: label name -> (structure name, kind)
_KNOWN = {"day": ("days", "cycle"), "month": ("months", "cycle"), "number": ("numbers", "line"),
          "answer": ("modadd", "cycle"), "wordnet_node": ("wordnet_tree", "tree")}


def input_structures(labels: Mapping[str, Any] | None) -> list[KnownStructure]:
    """The known structures the labels carry (see the module docstring)."""
    out = []
    for key, (name, kind) in _KNOWN.items():
        if not labels or key not in labels:
            continue
        y = np.asarray(labels[key])
        if y.dtype.kind not in "iu" or (y >= 0).sum() < 10:
            continue
        order = np.asarray(labels["answer_order"]) if key == "answer" and "answer_order" in labels else None
        parents = np.asarray(labels["wordnet_parents"]) if kind == "tree" else None
        if kind == "tree" and parents is None:
            continue
        out.append(KnownStructure(name, kind, y, order, parents))
    return out


def structure_test(X: np.ndarray, s: KnownStructure, est: EstimatorSettings, seed: int):
    """:func:`~manifold_probe.analysis.structure.known_structure` with the profile's settings."""
    from manifold_probe.analysis.structure import known_structure

    keep = s.labels >= 0
    order = None
    if s.order is not None:
        present = set(np.unique(s.labels[keep]).tolist())
        order = np.array([c for c in s.order.tolist() if c in present])
    return known_structure(X[keep], s.labels[keep], s.kind, order=order, parents=s.parents,
                           probe=est.structure.probe, n_perm=est.structure.n_perm, seed=seed)


def measure_structures(X: np.ndarray, labels: Mapping[str, Any] | None, est: EstimatorSettings,
                       seed: int) -> dict:
    """``structure_<name>_stat``, ``_p`` and ``_variance`` for every known structure."""
    out: dict[str, Any] = {}
    for s in input_structures(labels):
        try:
            r = structure_test(X, s, est, seed)
        except InputError as exc:
            out[f"structure_{s.name}_note"] = short_message(exc)
            continue
        out[f"structure_{s.name}_stat"] = float(r.statistic)
        out[f"structure_{s.name}_p"] = float(r.p_value)
        out[f"structure_{s.name}_p_min"] = float(r.p_min)
        out[f"structure_{s.name}_effect"] = float(r.effect)
        out[f"structure_{s.name}_stat_null"] = float(r.null_mean)
        out[f"structure_{s.name}_variance"] = float(r.variance_share)
        if s.kind == "tree" and len(r.classes) >= 4:
            # the prediction that a hierarchy looks negatively curved: Gromov delta of the
            # class means in the tree's subspace against Gaussian clouds of the same shape
            from manifold_probe.analysis.structure import hyperbolicity

            h = hyperbolicity(r.subspace,
                              n_surrogates=min(199, est.structure.n_perm), seed=seed)
            out[f"structure_{s.name}_delta"] = h.delta
            out[f"structure_{s.name}_delta_p"] = h.p_value
    return out


def region_labels(X: np.ndarray, idx: np.ndarray, est: EstimatorSettings, seed: int):
    """:func:`~manifold_probe.analysis.regions.regions` of ``X[idx]`` with the profile's settings."""
    from manifold_probe.analysis._reuse import reused
    from manifold_probe.analysis.regions import regions

    cfg = est.regions
    k = min(cfg.k, len(idx) - 2)
    graph_k = min(cfg.graph_k, len(idx) - 2)
    A = np.asarray(X)[idx]
    # a layer's regions enter its own task and the next layer's merge/split: computed once
    return reused(f"regions|{k}|{graph_k}|{cfg.alpha}|{cfg.n_boot}|{seed}|{cfg.band}|"
                  f"{cfg.method}|{cfg.correction}|{cfg.error_bar}|{cfg.density}|{cfg.graph}|"
                  f"{cfg.bandwidth}|{cfg.peak}", (A,),
                  lambda: regions(A, k=k, alpha=cfg.alpha, n_boot=cfg.n_boot, seed=seed,
                                  band=cfg.band, method=cfg.method, correction=cfg.correction,
                                  error_bar=cfg.error_bar, density=cfg.density,
                                  graph_k=graph_k, graph=cfg.graph,
                                  bandwidth=cfg.bandwidth, peak=cfg.peak),
                  lambda r: r.labels.nbytes)


def measure_regions(X: np.ndarray, X_prev: np.ndarray | None, labels: Mapping[str, Any] | None,
                    est: EstimatorSettings, seed: int) -> dict:
    """Regions of a ``max_points`` subsample, label agreement, and merges/splits from the
    previous layer (its regions recomputed on the same rows with the same seed)."""
    from manifold_probe.analysis.labels import compare_regions, label_agreement

    idx = subsample_indices(X.shape[0], est.regions.max_points, seed)
    try:
        r = region_labels(X, idx, est, seed)
    except InputError as exc:
        return {"regions_note": short_message(exc)}
    out: dict[str, Any] = {"n_regions": int(r.n_regions)}
    if est.nulls.enabled:
        out.update(_regions_null(X, idx, r.n_regions, est, seed))
    y = None if not labels else labels.get(est.regions.label)
    if y is not None:
        y = np.asarray(y)[idx]
        la = label_agreement(r.labels, y.astype(str), X[idx], k=est.knn.k)
        out.update(regions_ari=la.ari, regions_nmi=la.nmi, label_purity=la.mean_purity)
    if X_prev is not None:
        try:
            t = compare_regions(region_labels(X_prev, idx, est, seed).labels, r.labels)
            out.update(regions_merged_prev=bool(t.merged), regions_split_prev=bool(t.split))
        except InputError as exc:
            out["regions_note"] = short_message(exc)
    return out


_REGIONS_NULL_STREAM = 0x7265  # the surrogate's random stream beside the subsample's


def _regions_null(X: np.ndarray, idx: np.ndarray, n_regions: int, est: EstimatorSettings,
                  seed: int) -> dict:
    """Regions found, with the same settings, in a label-free surrogate of the subsample: a
    Gaussian cloud of its mean, covariance and size (one mode, so every region beyond the first
    is a false one), and the call of the layer's count against it."""
    from manifold_probe.analysis.nulls import matched_gaussian

    G = matched_gaussian(np.asarray(X)[idx], np.random.default_rng([seed, _REGIONS_NULL_STREAM]))
    try:  # through the same call as the layer's regions, whatever method it runs
        r0 = region_labels(G, np.arange(len(G)), est, seed)
    except InputError as exc:
        return {"regions_note": f"null: {short_message(exc)}"}
    m = int(r0.n_regions)
    call = "above" if n_regions > m else "below" if n_regions < m else "within"
    return {"n_regions_null": m, "n_regions_vs_null": call}


def label_separation(X: np.ndarray, y: np.ndarray, k: int = 10, n_perm: int = 999,
                     seed: int = 0, min_points: int = 10) -> dict[tuple[str, str], float]:
    r"""Whether each pair of labelled groups occupies separate regions: a kNN two-sample test.

    For groups ``A`` and ``B`` (labels ``y``), on the kNN graph of :math:`A \cup B` the
    statistic is the share of same-group neighbours,
    :math:`T = \frac{1}{k|A \cup B|}\sum_i \#\{j \in N_k(i): y_j = y_i\}` (Schilling 1986);
    if ``A`` and ``B`` are samples of one distribution (one glued region) the group labels are
    exchangeable, so the permutation p-value :math:`(1 + \#\{T^* \ge T\})/(1 + B)` is valid
    (Phipson & Smyth 2010). Groups with fewer than ``min_points`` points are left out.

    Returns
    -------
    dict mapping ``(a, b)`` (sorted label strings) to the p-value.

    References
    ----------
    Schilling (1986), "Multivariate two-sample tests based on nearest neighbors", JASA 81(395).
    """
    from manifold_probe.neighbors import knn

    ys = np.asarray(y).astype(str)
    rng = np.random.default_rng(seed)
    groups = [g for g in np.unique(ys) if g not in ("", "-1") and (ys == g).sum() >= min_points]
    out = {}
    for i, a in enumerate(groups):
        for b in groups[i + 1:]:
            rows = np.flatnonzero((ys == a) | (ys == b))
            kk = min(k, len(rows) - 1)
            nb = knn(X[rows], kk).indices
            lab = (ys[rows] == a).astype(np.int8)
            obs = float((lab[nb] == lab[:, None]).mean())
            perms = np.stack([rng.permutation(lab) for _ in range(n_perm)])
            null = (perms[:, nb] == perms[:, :, None]).mean(axis=(1, 2))
            out[(a, b)] = float((1 + np.sum(null >= obs)) / (1 + n_perm))
    return out
