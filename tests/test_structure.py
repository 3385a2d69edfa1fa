"""Known structure in a subspace: planted cycles, lines and trees are found; shuffled labels are not.

Planted data: class means on the structure in a random 2- to 6-D subspace of R^50, plus
isotropic unit noise. The default null relabels the rows (smallest p 1/(n_perm+1)); planted
p must be below 0.05 on every seed.
Shuffled labels: p is uniform under the null, so over 5 seeds we allow at most one below
0.05 (binomial probability of two or more: 2.3 %).
"""

from __future__ import annotations

import numpy as np
import pytest

from manifold_probe import InputError
from manifold_probe.analysis.structure import known_structure, tree_distances

TREE = [-1, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]  # binary tree of depth 3


def plant(kind: str, seed: int, D: int = 50, per: int = 25):
    rng = np.random.default_rng(seed)
    if kind == "cycle":
        t = 2 * np.pi * np.arange(7) / 7
        M = 2.0 * np.c_[np.cos(t), np.sin(t)]
    elif kind == "line":
        M = np.arange(10)[:, None] / 3.0
    else:
        M = np.zeros((len(TREE), 6))
        for i in range(1, len(TREE)):  # a branching random walk: the tree metric, roughly
            M[i] = M[TREE[i]] + 1.5 * rng.normal(size=6)
    Q, _ = np.linalg.qr(rng.normal(size=(D, M.shape[1])))
    y = np.repeat(np.arange(len(M)), per)
    return M[y] @ Q.T + rng.normal(size=(len(y), D)), y


@pytest.mark.parametrize("kind", ["cycle", "line", "tree"])
def test_planted_structure_is_found(kind):
    for seed in range(3):
        X, y = plant(kind, seed)
        r = known_structure(X, y, kind, parents=TREE if kind == "tree" else None, seed=seed,
                            n_perm=199)  # fmt: skip
        assert r.p_value < 0.05, (kind, seed, r)
        assert 0 < r.variance_share < 1 and 0 < r.between_share <= 1
        if kind == "cycle":
            assert r.in_order and r.statistic > 0.9 and r.dims == 2
        if kind == "line":
            assert r.statistic > 0.9 and r.dims == 1
        if kind == "tree":
            assert r.statistic > 0.4 and 1 <= r.dims <= 8


@pytest.mark.parametrize("kind", ["cycle", "line", "tree"])
def test_shuffled_labels_are_not_significant(kind):
    small = 0
    for seed in range(5):
        X, y = plant(kind, seed)
        y = np.random.default_rng(100 + seed).permutation(y)
        r = known_structure(X, y, kind, parents=TREE if kind == "tree" else None, seed=seed,
                            n_perm=199)  # fmt: skip
        small += r.p_value < 0.05
    assert small <= 1


def test_points_null_and_lda_probe():
    X, y = plant("cycle", 0)
    r = known_structure(X, y, "cycle", null="points", n_perm=99, seed=0)
    assert r.p_value == pytest.approx(1 / 100)  # no label shuffle reaches R ~ 1
    r2 = known_structure(X, y, "cycle", probe="lda", n_perm=199, seed=0)
    assert r2.in_order and r2.p_value < 0.05


def test_cycle_invariant_to_rotation_and_reflection_of_the_cycle():
    X, y = plant("cycle", 1)
    r = known_structure(X, y, "cycle", n_perm=99, seed=0)
    rolled = known_structure(X, (y + 3) % 7, "cycle", n_perm=99, seed=0)
    reflected = known_structure(X, (7 - y) % 7, "cycle", n_perm=99, seed=0)
    assert rolled.statistic == pytest.approx(r.statistic)
    assert reflected.statistic == pytest.approx(r.statistic)
    assert rolled.in_order and reflected.in_order


def test_tree_distances_known():
    D = tree_distances([-1, 0, 0, 1])
    np.testing.assert_array_equal(D, [[0, 1, 1, 2], [1, 0, 2, 1], [1, 2, 0, 3], [2, 1, 3, 0]])
    assert np.isinf(tree_distances([-1, -1])[0, 1])
    with pytest.raises(InputError, match="cycle"):
        tree_distances([1, 0])


def test_bad_input():
    X, y = plant("cycle", 0)
    with pytest.raises(InputError, match="kind"):
        known_structure(X, y, "spiral")
    with pytest.raises(InputError, match="one entry per point"):
        known_structure(X, y[:-1], "cycle")
    with pytest.raises(InputError, match="parents"):
        known_structure(X, y, "tree")
    with pytest.raises(InputError, match="at least 4 classes"):
        known_structure(X[y < 3], y[y < 3], "cycle")
    with pytest.raises(InputError, match="every class"):
        known_structure(X, y, "cycle", order=[0, 1, 2])
    with pytest.raises(InputError, match="node indices"):
        known_structure(X, y + 20, "tree", parents=TREE)


def test_tree_distances_match_graph_shortest_paths():
    # Independent check: path lengths of the tree as an undirected graph (scipy Dijkstra).
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    rng = np.random.default_rng(3)
    m = 60
    parents = np.r_[-1, [rng.integers(i) for i in range(1, m)]]
    child = np.arange(1, m)
    G = coo_matrix((np.ones(m - 1), (child, parents[1:])), shape=(m, m))
    np.testing.assert_array_equal(tree_distances(parents), shortest_path(G, directed=False))


# --------------------------------------------------------------------------- hyperbolicity
def _balanced_tree_leaves(depth: int = 5, ratio: float = 0.5) -> np.ndarray:
    """Leaves of a binary tree, each edge its own orthogonal axis of length ratio**level: the
    squared distances are path sums, an ultrametric (0-hyperbolic)."""
    rows: list[list[tuple[int, float]]] = []
    n_edges = [0]

    def walk(level, path):
        if level == depth:
            rows.append(path)
            return
        for _ in range(2):
            e = n_edges[0]
            n_edges[0] += 1
            walk(level + 1, path + [(e, ratio**level)])

    walk(0, [])
    Z = np.zeros((len(rows), n_edges[0]))
    for i, path in enumerate(rows):
        for e, w in path:
            Z[i, e] = w
    return Z


def test_gromov_delta_is_zero_on_trees_and_positive_on_a_cycle():
    from manifold_probe.analysis.structure import gromov_delta

    rng = np.random.default_rng(0)
    parents = np.r_[-1, rng.integers(0, np.arange(1, 30))]  # random tree on 30 nodes
    assert gromov_delta(tree_distances(parents)) == pytest.approx(0.0, abs=1e-12)
    # the cycle graph C_12 (path metric): delta = 3 at diameter 6, so 2 delta / diam = 1 for
    # the exact four-point delta; one base point gives delta_w >= delta / 2
    i = np.arange(12)
    D = np.minimum(abs(i[:, None] - i[None]), 12 - abs(i[:, None] - i[None])).astype(float)
    assert 0.5 <= gromov_delta(D) <= 1.0


def test_hyperbolicity_separates_a_hierarchy_from_flat_and_round_clouds():
    from manifold_probe.analysis.structure import hyperbolicity

    tree = hyperbolicity(_balanced_tree_leaves(), seed=0)
    assert tree.delta < 1e-12 and tree.p_value <= 0.01  # smallest p with 199 surrogates: 0.005
    t = np.random.default_rng(1).uniform(0, 2 * np.pi, 32)
    assert hyperbolicity(np.c_[np.cos(t), np.sin(t)], seed=0).p_value > 0.5  # round, not a tree
    # Gaussian data is its own null: p-values spread over (0, 1], rarely small (5 of 5 > 0.05
    # has probability 0.95^5 = 0.77 if uniform; fixed seeds make this deterministic)
    ps = [hyperbolicity(np.random.default_rng(s).normal(size=(32, 6)), seed=s).p_value
          for s in range(5)]
    assert min(ps) > 0.05 and max(ps) < 1.0


def test_perfect_cycle_passes_holm_over_21_tests_and_shuffled_does_not():
    """The default (row-relabelling) null is not floored by the number of classes: a perfect
    7-cycle reaches p = 1/(n_perm+1) = 0.001, below Holm's first cut over 21 tests
    (0.05/21 = 0.00238), which no test of the class-permutation null can reach (360 distinct
    cyclic arrangements: its p is at least 1/360 = 0.0028 in expectation)."""
    from manifold_probe.analysis.nulls import holm

    t = 2 * np.pi * np.arange(7) / 7
    y = np.repeat(np.arange(7), 20)
    X = np.c_[np.cos(t), np.sin(t)][y]  # exact cycle, no noise
    X = np.c_[X, np.zeros((len(y), 6))]
    r = known_structure(X, y, "cycle", seed=0)
    assert r.p_min == pytest.approx(1 / 1000)
    assert r.p_value == pytest.approx(r.p_min)
    assert r.p_value <= 0.05 / 21
    assert holm([r.p_value] + [0.5] * 20)[0] <= 0.05
    classes = known_structure(X, y, "cycle", null="classes", seed=0)
    assert classes.p_value > 0.05 / 21  # the floor the row null removes
    shuffled = known_structure(X, np.random.default_rng(3).permutation(7)[y], "cycle", seed=0)
    assert shuffled.p_value > 0.05 / 21


def test_effect_size_falls_with_the_signal():
    """The effect size (statistic in null standard deviations) is reported beside p and falls
    as the planted cycle drowns in noise; at noise 3 the cycle is gone (p well above 0.05)."""
    rng = np.random.default_rng(0)
    t = 2 * np.pi * np.arange(7) / 7
    y = np.repeat(np.arange(7), 25)
    base = np.c_[np.cos(t), np.sin(t)][y]
    results = []
    for noise in (0.3, 2.0, 3.0):
        X = np.c_[base, np.zeros((len(y), 8))] + noise * rng.normal(size=(len(y), 10))
        results.append(known_structure(X, y, "cycle", seed=0, n_perm=199))
    assert results[0].p_value == pytest.approx(1 / 200)
    assert results[0].effect > results[1].effect > results[2].effect
    assert results[0].effect > 2 and results[2].p_value > 0.05
