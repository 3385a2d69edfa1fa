r"""Known input structure found where it lives: transform, project, then test against a null.

Inputs carry labels with a known structure — a cycle (days of the week, months), a line
(numbers), a tree (a hierarchy given by parent links). :func:`known_structure` looks for the
low-dimensional linear subspace of a layer where that structure is clearest and tests it there:

1. *Transform.* Optionally whiten by the shrunk within-class covariance (a linear
   discriminant probe, ``probe="lda"``), so directions that separate classes count more than
   directions of within-class spread.
2. *Project.* PCA of the class means (centred, each class weighted equally): the top ``q``
   directions span the subspace. ``q = 2`` for a cycle, ``1`` for a line; for a tree the
   ``q`` in ``1 .. max_dims`` with the strongest statistic is chosen (the choice is repeated
   inside the null, so it costs no significance).
3. *Test.* A statistic of the projected class means against the known structure, compared
   with a permutation null, :math:`p = (1 + \#\{\text{null} \ge \text{observed}\}) / (1 + B)`
   (Phipson & Smyth 2010). Default ``null="points"``: the inputs' labels are permuted across
   classes and the whole pipeline recomputed — :math:`N!/\prod_c n_c!` relabellings, so p is
   limited only by ``B`` (smallest value ``p_min`` :math:`= 1/(B+1)`). ``null="classes"``
   permutes class identities in a fixed subspace (arrangement given separation), but a cycle
   of :math:`C` classes has only :math:`(C-1)!/2` arrangements (360 for 7: p ≥ 0.003).
   ``effect`` :math:`= (T - \bar T^*)/s(T^*)` keeps grading where p sits at its floor.

Statistics
----------
cycle : circular alignment :math:`R = \max_{s=\pm1} |\frac1C\sum_c e^{i(\theta_c - s\phi_c)}|`
    with :math:`\theta_c` the angle of class mean ``c`` in the plane (about the centroid of
    the means) and :math:`\phi_c = 2\pi\,\mathrm{pos}_c/C` its place on the known cycle; 1 for
    means equally spaced in the right cyclic order (any rotation, either direction).
line : :math:`|\rho_S|`, Spearman correlation between the first coordinate and the known values.
tree : Spearman correlation between tree path lengths and Euclidean distances of class means
    over all pairs of classes (a cophenetic-style correlation).

References
----------
Engels, Michaud, Liao, Gurnee & Tegmark (2025), "Not all language model features are
one-dimensionally linear", ICLR — circles of days and months in language models.
Phipson & Smyth (2010), "Permutation p-values should never be zero". Sokal & Rohlf (1962),
"The comparison of dendrograms by objective methods" (cophenetic correlation). Ledoit & Wolf
(2004), "A well-conditioned estimator for large-dimensional covariance matrices". Gromov
(1987), "Hyperbolic groups" (the four-point condition and Gromov products; in
:mod:`manifold_probe.analysis.hyperbolicity`, re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe import _cost_guards
from manifold_probe._params import Param, Schema
from manifold_probe._validation import (
    InputError,
    check_int,
    check_option,
    check_points,
    check_seed,
    to_numpy,
)
from manifold_probe.analysis._structure_null import (
    centred_ranks,
    pair_distances,
    points_null,
    spearman,
    tree_stat_q,
)
from manifold_probe.analysis.hyperbolicity import (  # noqa: F401 - re-exported
    Hyperbolicity,
    gromov_delta,
    hyperbolicity,
)

__all__ = ["STRUCTURE_PARAMS", "Hyperbolicity", "StructureTest", "gromov_delta", "hyperbolicity",
           "known_structure", "tree_distances"]

KINDS = ("cycle", "line", "tree")


@dataclass(frozen=True)
class StructureTest:
    r"""A known structure tested in the subspace of a layer where it is clearest.

    Attributes
    ----------
    kind : str
        ``"cycle"``, ``"line"`` or ``"tree"``.
    statistic : float
        Circular alignment ``R`` (cycle), ``|Spearman rho|`` (line) or the Spearman
        correlation of tree and Euclidean distances (tree).
    p_value : float
        Permutation p-value with the +1 correction; at least ``1/(n_perm+1)``.
    dims : int
        Dimension ``q`` of the subspace.
    variance_share : float
        Share of the total variance of the points (in the probe's coordinates) that lies in
        the subspace.
    between_share : float
        Share of the variance of the class means that lies in the subspace.
    in_order : bool or None
        Cycle: the angular order of the class means is the known cyclic order up to rotation
        and reflection. Line: the first coordinate is monotone in the known values. Tree: None.
    coordinates : ndarray of float64, shape (n_classes, dims)
        The class means in the subspace (rows in the order of ``classes``).
    classes : ndarray
        The class labels, sorted.
    n_perm : int
    null : str
    probe : str
    subspace : ndarray of float64, shape (n_classes, max(qs)) or None
        The class means in the whole subspace searched (``max_dims`` for a tree).
    p_min : float
        The smallest p-value the test can give, ``1/(n_perm+1)``.
    effect : float
        Standardised effect :math:`(T - \operatorname{mean} T^*)/\operatorname{sd} T^*` of the
        statistic against its permutation null (NaN when the null has no spread).
    null_mean : float
        Mean of the statistic over the permutations.
    """

    kind: str
    statistic: float
    p_value: float
    dims: int
    variance_share: float
    between_share: float
    in_order: bool | None
    coordinates: np.ndarray
    classes: np.ndarray
    n_perm: int
    null: str
    probe: str
    subspace: np.ndarray | None = None
    p_min: float = float("nan")
    effect: float = float("nan")
    null_mean: float = float("nan")


def tree_distances(parents: Any) -> np.ndarray:
    """Path lengths (number of edges) between all nodes of a forest given by parent links.

    ``parents[i]`` is the parent of node ``i`` (``-1`` for a root). Nodes in different trees
    are at distance ``inf``.

    Examples
    --------
    >>> tree_distances([-1, 0, 0, 1]).astype(int).tolist()
    [[0, 1, 1, 2], [1, 0, 2, 1], [1, 2, 0, 3], [2, 1, 3, 0]]
    """
    p = np.asarray(to_numpy(parents)).astype(np.int64).ravel()
    m = len(p)
    if m == 0 or np.any((p < -1) | (p >= m)):
        raise InputError(
            f"parents must list, for each node 0..m-1, its parent index or -1 for a root; got {p.tolist()[:10]}"
        )
    # Ancestor indicator (self included). Two nodes' common ancestors form the chain from the
    # root to their lowest common ancestor, so its depth is (number in common) - 1 and
    # d(i, k) = depth_i + depth_k - 2 depth_lca.
    A = np.zeros((m, m), dtype=np.float64)
    for i in range(m):
        v, steps = i, 0
        A[i, i] = 1.0
        while p[v] != -1:
            v = int(p[v])
            steps += 1
            if steps > m:
                raise InputError(f"parents has a cycle through node {v}; it must describe a tree")
            A[i, v] = 1.0
    depth = A.sum(axis=1) - 1.0
    common = A @ A.T
    with np.errstate(invalid="ignore"):
        D = depth[:, None] + depth[None, :] - 2.0 * (common - 1.0)
    D[common == 0] = np.inf
    return D


def _cycle_stat(Z: np.ndarray, phase: np.ndarray) -> tuple[float, bool]:
    c = Z - Z.mean(axis=0)
    theta = np.arctan2(c[:, 1], c[:, 0])
    R = max(abs(np.exp(1j * (theta - s * phase)).mean()) for s in (1.0, -1.0))
    order = np.argsort(theta)
    pos = np.argsort(np.argsort(phase))[order]  # cycle positions read in angular order
    C = len(pos)
    steps = np.mod(np.diff(np.r_[pos, pos[0]]), C)
    in_order = bool(np.all(steps == 1) or np.all(steps == C - 1))
    return float(R), in_order


def _probe_transform(X: np.ndarray, y: np.ndarray, classes: np.ndarray, probe: str):
    """Class means (one row per class) and the points, in the probe's coordinates."""
    inv = np.searchsorted(classes, y)
    counts = np.bincount(inv, minlength=len(classes)).astype(np.float64)
    means = np.zeros((len(classes), X.shape[1]))
    np.add.at(means, inv, X)
    means /= counts[:, None]
    if probe == "lda":
        from sklearn.covariance import ledoit_wolf

        S, _ = ledoit_wolf(X - means[inv], assume_centered=True)
        evals, evecs = np.linalg.eigh(S)
        W = evecs / np.sqrt(np.maximum(evals, evals.max() * 1e-12))
        return X @ W, means @ W
    return X, means


def _subspace(means: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    centred = means - means.mean(axis=0)
    _, s, Vt = np.linalg.svd(centred, full_matrices=False)
    return Vt[:q].T, s**2


def _labelled_points(X: Any, labels: Any, kind: str):
    """The points (scaled by a power of two, exponent ``e``) and labels of the labelled rows
    (label ``-1``: none), and the sorted classes, of which a cycle needs 4 and others 3."""
    A, e = _cost_guards.scaled_points(check_points(X, min_points=3, what="known_structure"))
    y = to_numpy(labels)
    if y.ndim != 1 or len(y) != len(A):
        raise InputError(
            f"labels must be 1-D with one entry per point ({len(A)}); got shape {y.shape}"
        )
    keep = ~(y == -1) if y.dtype.kind in "iuf" else np.ones(len(y), dtype=bool)
    A, y = A[keep], y[keep]
    classes = np.unique(y)
    C = len(classes)
    need = 4 if kind == "cycle" else 3
    if C < need:
        raise InputError(
            f"a {kind} test needs at least {need} classes with points; got {C} ({classes.tolist()})"
        )
    return A, e, y, classes


def _target(kind: str, classes: np.ndarray, order: Any, parents: Any):
    """The known structure of the sorted ``classes``, read as a function of their arrangement
    (a permutation of 0..C-1): a cycle's phases, a line's values, or a tree's path lengths
    between classes with the index of its class pairs (``(target, pairs or None)``)."""
    C = len(classes)
    if kind == "cycle":
        cyc = classes if order is None else np.asarray(to_numpy(order))
        if sorted(cyc.tolist()) != sorted(classes.tolist()):
            raise InputError(
                f"order must list every class exactly once; classes {classes.tolist()}, order {cyc.tolist()}"
            )
        pos = np.array([cyc.tolist().index(c) for c in classes.tolist()])
        return 2 * np.pi * pos / C, None
    elif kind == "line":
        vals = classes if order is None else np.asarray(to_numpy(order))
        if len(vals) != C or vals.dtype.kind not in "iuf":
            raise InputError(
                f"a line needs a numeric value per class ({C} classes); pass order=[values in "
                "the order of the sorted classes]"
            )
        return vals.astype(np.float64), None
    else:
        if parents is None:
            raise InputError("kind='tree' needs parents=[parent of node i, -1 for the root]")
        T = tree_distances(parents)
        if classes.dtype.kind not in "iu" or classes.min() < 0 or classes.max() >= len(T):
            raise InputError(
                f"tree labels must be node indices 0..{len(T) - 1}; got {classes.tolist()[:10]}"
            )
        Tc = T[np.ix_(classes, classes)]
        if not np.all(np.isfinite(Tc)):
            raise InputError("the classes lie in different trees of parents; give one tree")
        return Tc, np.triu_indices(C, 1)


def _arrangement_statistic(kind: str, target: np.ndarray, qs: list[int], iu):
    """The statistic of projected class means as a function of the class arrangement, and the
    centred ranks of a tree's path lengths (None for other kinds)."""
    C = len(target)
    t_ranks = None
    if kind == "tree":
        t_ranks = np.zeros((C, C))
        t_ranks[iu] = centred_ranks(target[iu])
        t_ranks = t_ranks + t_ranks.T
        e_ranks: list = [None, []]

    def stats_of(Z: np.ndarray, perms: np.ndarray) -> np.ndarray:
        """Statistic of projected means Z (rows = classes) when class c sits at node
        ``perm[c]``, for each row ``perm`` of ``perms`` at once. Spearman from centred ranks:
        the ranks of a permuted target are its permuted ranks (the same multiset, so the
        same denominators), and those of Z's distances depend only on Z."""
        if kind == "cycle":
            c = Z[:, :2] - Z[:, :2].mean(axis=0)
            theta = np.arctan2(c[:, 1], c[:, 0])[None, :]
            phase = target[perms]
            return np.maximum(np.abs(np.exp(1j * (theta - phase)).mean(axis=1)),
                              np.abs(np.exp(1j * (theta + phase)).mean(axis=1)))
        if kind == "line":
            ra, rt = centred_ranks(Z[:, 0]), centred_ranks(target)
            den = np.sqrt((ra @ ra) * (rt @ rt))
            return np.abs(rt[perms] @ ra / den) if den > 0 else np.zeros(len(perms))
        if e_ranks[0] is not Z:
            e_ranks[:] = [Z, [centred_ranks(pair_distances(Z[:, :q])[iu]) for q in qs]]
        rt = t_ranks[perms[:, iu[0]], perms[:, iu[1]]]  # (n, pairs)
        best = np.full(len(perms), -np.inf)
        for re in e_ranks[1]:
            den = np.sqrt(np.einsum("bi,bi->b", rt, rt) * (re @ re))
            with np.errstate(invalid="ignore", divide="ignore"):
                best = np.maximum(best, np.where(den > 0, rt @ re / den, 0.0))
        return best

    return stats_of, t_ranks


#: The settings of :func:`known_structure` that the layer profile exposes (see
#: :mod:`manifold_probe._params`). ``n_perm >= 19``: the smallest p-value, 1/(n_perm + 1), must
#: reach 0.05.
STRUCTURE_PARAMS = Schema(
    "known_structure",
    Param("probe", str, "pca", "subspace read: principal components or linear discriminants",
          choices=("pca", "lda")),
    Param("n_perm", int, 999, "permutations of the null", ge=19),
    Param("null", str, "points", "what the null permutes: the points' labels, or the class "
          "identities", choices=("points", "classes")),
    Param("max_dims", int, 8, "largest subspace tried for a tree", ge=1),
)


def known_structure(
    X: Any,
    labels: Any,
    kind: str,
    *,
    order: Any = None,
    parents: Any = None,
    dims: int | None = None,
    max_dims: int = 8,
    probe: str = "pca",
    null: str = "points",
    n_perm: int = 999,
    seed: int | np.random.Generator | None = None,
) -> StructureTest:
    r"""Find the subspace of ``X`` where a known label structure is clearest and test it there.

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
        One layer's representations of the inputs.
    labels : array-like of shape (n_points,)
        Class of each input (integers, or any sortable values). Points whose label is ``-1``
        are dropped (the corpus's convention for "no label").
    kind : {"cycle", "line", "tree"}
    order : array-like, optional
        Cycle: the classes in cyclic order (default: sorted labels, e.g. Monday = 0 …
        Sunday = 6). Line: the known value of each class in the order of the sorted classes
        (default: the labels themselves, which must then be numbers).
    parents : array-like of int, required for ``kind="tree"``
        Parent node of each node ``0..m-1`` (``-1`` for the root); labels are node indices.
    dims : int, optional
        Subspace dimension; default 2 (cycle), 1 (line), searched in ``1..max_dims`` (tree).
    max_dims : int, default=8
        Largest subspace tried for a tree (capped at ``n_classes - 1``).
    probe : {"pca", "lda"}, default="pca"
        ``"lda"`` whitens by the Ledoit–Wolf shrunk within-class covariance first.
    null : {"points", "classes"}, default="points"
        Permute the labels of the points (rows): the p-value's resolution is then limited
        only by ``n_perm``. Or permute the class identities (structure given separation; at most
        :math:`C!` distinct permutations, so the smallest p is floored by the number of
        classes).
    n_perm : int, default=999
    seed : int or Generator, optional

    Returns
    -------
    StructureTest

    Raises
    ------
    InputError
        Bad points, labels of the wrong length, fewer than 3 classes (4 for a cycle), a tree
        without ``parents`` or with labels that are not its nodes, unknown options.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(7), 20)
    >>> t = 2 * np.pi * y / 7
    >>> X = np.c_[np.cos(t), np.sin(t), np.zeros((140, 8))] + 0.3 * rng.normal(size=(140, 10))
    >>> r = known_structure(X, y, "cycle", seed=0, n_perm=199)
    >>> r.in_order, r.p_value < 0.05
    (True, True)
    """
    kind = check_option(kind, KINDS, name="kind")
    probe, n_perm, null, max_dims = STRUCTURE_PARAMS.check(
        probe=probe, n_perm=n_perm, null=null, max_dims=max_dims).values()
    A, e, y, classes = _labelled_points(X, labels, kind)
    C = len(classes)
    _cost_guards.guard_known_structure(n_perm, C, A.shape[0], A.shape[1], max_dims, null, kind)
    rng = check_seed(seed)

    target, iu = _target(kind, classes, order, parents)

    if dims is None:
        qs = [2] if kind == "cycle" else [1] if kind == "line" else list(range(1, min(max_dims, C - 1) + 1))
    else:
        qs = [check_int(dims, name="dims", minimum=1, maximum=C - 1)]
    if kind == "cycle" and qs[0] < 2:
        raise InputError("a cycle test needs dims >= 2 (it reads angles in a plane)")

    stats_of, t_ranks = _arrangement_statistic(kind, target, qs, iu)

    def pipeline(yy: np.ndarray):
        Xp, means = _probe_transform(A, yy, classes, probe)
        qmax = max(qs)
        V, s2 = _subspace(means, qmax)
        return Xp, means, V, s2

    Xp, means, V, s2 = pipeline(y)
    Z = (means - means.mean(axis=0)) @ V
    ident = np.arange(C)
    observed = float(stats_of(Z, ident[None, :])[0])
    in_order = None  # are the classes met in the target's order along the projection?
    if kind == "cycle":
        in_order = _cycle_stat(Z[:, :2], target)[1]
    elif kind == "line":
        rho = spearman(Z[:, 0], target)
        srt = (np.sign(rho) if rho != 0 else 1.0) * Z[np.argsort(target), 0]
        in_order = bool(np.all(np.diff(srt) > 0))
    if kind == "tree":  # report the dimension that achieved the observed statistic
        q_best = max(qs, key=lambda q: tree_stat_q(Z, target, iu, q))
    else:
        q_best = qs[0]
    null_stats = np.empty(n_perm)
    if null == "classes":  # the statistic of every permutation at once
        perms = np.array([rng.permutation(C) for _ in range(n_perm)]).reshape(n_perm, C)
        null_stats[:] = stats_of(Z, perms)
    elif probe == "pca":  # row relabellings, a block of them at once
        inv = np.searchsorted(classes, y)
        tree = (iu, t_ranks) if kind == "tree" else (None, None)
        null_stats[:] = points_null(A, inv, C, n_perm, rng, kind, target, qs, *tree)
    for b in range(n_perm if (null == "points" and probe != "pca") else 0):
        _, m2, V2, _ = pipeline(y[rng.permutation(len(y))])
        null_stats[b] = stats_of((m2 - m2.mean(axis=0)) @ V2, ident[None, :])[0]
    # Small tolerance so that ties that differ only by rounding count as ties.
    p = (1 + np.sum(null_stats >= observed - 1e-9)) / (n_perm + 1)
    sd = float(null_stats.std(ddof=1))
    effect = (observed - float(null_stats.mean())) / sd if sd > 0 else float("nan")
    Vq = V[:, :q_best]
    Xc = Xp - Xp.mean(axis=0)
    total = float((Xc**2).sum())
    variance_share = float(((Xc @ Vq) ** 2).sum() / total) if total > 0 else 0.0
    between_share = float(s2[:q_best].sum() / s2.sum()) if s2.sum() > 0 else 0.0
    return StructureTest(
        kind=kind,
        statistic=float(observed),
        p_value=float(p),
        dims=int(q_best),
        variance_share=variance_share,
        between_share=between_share,
        in_order=in_order,
        coordinates=np.ldexp(Z[:, :q_best], e if probe == "pca" else 0),  # X's units
        classes=classes,
        n_perm=n_perm,
        null=null,
        probe=probe,
        subspace=np.ldexp(Z, e if probe == "pca" else 0),
        p_min=1.0 / (n_perm + 1),
        effect=float(effect),
        null_mean=float(null_stats.mean()),
    )
