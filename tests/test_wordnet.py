"""The shipped WordNet 3.0 subset: loads without WordNet installed, consistent labels and paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from manifold_probe import InputError
from manifold_probe.datasets.corpus import load_corpus
from manifold_probe.datasets.wordnet import (
    LEXNAMES,
    LICENSE_FILE,
    WORDNET_FILE,
    derive_subset,
    hypernym_tree,
    load_wordnet,
    subset_bytes,
)

WORDNET_DIR = Path("/usr/share/wordnet")


@pytest.fixture(scope="module")
def wn():
    return load_wordnet()


def test_shipped_file_small_and_licensed():
    assert WORDNET_FILE.stat().st_size < 300 * 1024
    text = LICENSE_FILE.read_text(encoding="utf-8")
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in text


def test_categories_depths_and_paths(wn):
    assert 3000 <= len(wn) <= 5000
    assert len(LEXNAMES) == 45
    assert set(wn.categories.tolist()) == set(LEXNAMES)
    np.testing.assert_array_equal(
        [LEXNAMES[i] for i in wn.labels["lexname"]], wn.categories
    )
    assert all(len(p) == d for p, d in zip(wn.paths, wn.labels["depth"], strict=True))
    nouns = np.char.startswith(wn.categories, "noun.")
    # Every noun path starts at entity (n00001740); adjectives and adverbs have no hypernyms.
    deep = np.flatnonzero(nouns & (wn.labels["depth"] > 0))
    assert all(wn.paths[i][0] == "n00001740" for i in deep)
    adj = np.char.startswith(wn.categories, "adj.") | np.char.startswith(wn.categories, "adv.")
    assert np.all(wn.labels["depth"][adj] == 0)
    assert wn.labels["depth"][nouns].max() >= 10
    assert set(wn.kinds.tolist()) == {"gloss", "example"}
    assert all(s[0] in "nvar" and len(s) == 9 for s in wn.synsets)
    assert all(len(t) > 0 for t in wn.sentences)


def test_filters_and_dispatch():
    motion = load_wordnet("verb.motion", kind="example")
    assert set(motion.categories.tolist()) == {"verb.motion"} and set(motion.kinds) == {"example"}
    verbs = load_wordnet("verb")
    assert all(c.startswith("verb.") for c in verbs.categories)
    sub = load_corpus(["noun.food", "noun.plant"], n=50, seed=0, source="wordnet")
    assert len(sub) == 50 and set(sub.categories) <= {"noun.food", "noun.plant"}
    again = load_corpus(["noun.food", "noun.plant"], n=50, seed=0, source="wordnet")
    assert sub.sentences == again.sentences
    with pytest.raises(InputError, match="lexname"):
        load_wordnet("noun.dragons")
    with pytest.raises(InputError, match="kind"):
        load_wordnet(kind="poem")
    with pytest.raises(InputError, match="n="):
        load_wordnet("noun.Tops", n=10**6)
    with pytest.raises(InputError, match="source"):
        load_corpus(source="shakespeare")


def test_hypernym_tree_parent_links(wn):
    sub = load_wordnet("noun.animal")
    nodes, parents, node_of_row = hypernym_tree(sub)
    assert len(nodes) == len(parents) and np.sum(parents == -1) == 1  # one noun root
    for i in range(len(sub)):
        chain, v = [], node_of_row[i]
        while parents[v] != -1:
            v = parents[v]
            chain.append(nodes[v])
        assert tuple(reversed(chain)) == sub.paths[i]


@pytest.mark.skipif(not (WORDNET_DIR / "data.noun").exists(), reason="WordNet database not installed")
def test_regeneration_is_byte_identical():
    assert subset_bytes(derive_subset(WORDNET_DIR)) == WORDNET_FILE.read_bytes()


def test_tree_classes_cut_the_noun_tree_at_one_depth():
    """Labels wordnet_node / wordnet_parents: every class is a node at one depth, holds at
    least MIN_CLASS nouns that descend from it, and the parent links form one tree."""
    from manifold_probe.analysis.structure import tree_distances
    from manifold_probe.datasets.wordnet import MIN_CLASS

    wn = load_wordnet(n=2000, seed=0)
    y, parents = wn.labels["wordnet_node"], wn.labels["wordnet_parents"]
    assert len(y) == len(wn) and (parents == -1).sum() == 1
    classes, counts = np.unique(y[y >= 0], return_counts=True)
    assert len(classes) >= 10 and counts.min() >= MIN_CLASS
    T = tree_distances(parents)
    root = int(np.flatnonzero(parents == -1)[0])
    assert len(set(T[root, classes].tolist())) == 1  # one depth
    for i in np.flatnonzero(y >= 0):
        assert wn.synsets[i].startswith("n")
        node_depth = int(T[root, y[i]])
        chain = (*wn.paths[i], wn.synsets[i])
        assert len(chain) > node_depth  # the class is an ancestor (or the synset itself)
    assert np.all(y[[s[0] != "n" for s in wn.synsets]] == -1)


def test_wordnet_tree_is_a_profile_structure_with_its_columns():
    """A planted hierarchy (each class mean a random walk down the hypernym tree) is found by
    the tree test; pure noise is not. Columns structure_wordnet_tree_{stat,p,variance,delta,
    delta_p} appear for WordNet labels."""
    from manifold_probe.analysis.semantic import input_structures, measure_structures
    from manifold_probe.analysis.settings import EstimatorSettings

    wn = load_corpus(source="wordnet", n=2000, seed=0)
    labels = {"category": wn.categories, **wn.labels}
    assert [s.name for s in input_structures(labels)] == ["wordnet_tree"]
    y, parents = wn.labels["wordnet_node"], wn.labels["wordnet_parents"]
    rng = np.random.default_rng(0)
    emb = np.zeros((len(parents), 16))
    for v in np.argsort([len(_ancestors(parents, v)) for v in range(len(parents))]):
        if parents[v] >= 0:
            emb[v] = emb[parents[v]] + rng.normal(size=16)
    X = emb[np.maximum(y, 0)] + 0.5 * rng.normal(size=(len(y), 16))
    est = EstimatorSettings.from_mapping({"structure": {"n_perm": 199}})
    cols = measure_structures(X, labels, est, 0)
    assert set(cols) == {f"structure_wordnet_tree_{c}"
                         for c in ("stat", "p", "p_min", "effect", "stat_null", "variance",
                                   "delta", "delta_p")}
    # p at its floor for 199 permutations (0.005); the correlation has the tree's sign
    assert cols["structure_wordnet_tree_p"] <= 0.01 and cols["structure_wordnet_tree_stat"] > 0
    noise = measure_structures(rng.normal(size=X.shape), labels, est, 0)
    assert noise["structure_wordnet_tree_p"] > 0.05  # fixed seed; P(p <= 0.05) = 0.05 under H0


def _ancestors(parents, v):
    out = []
    while parents[v] >= 0:
        v = parents[v]
        out.append(v)
    return out
