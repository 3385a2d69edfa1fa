"""The shipped corpus: reproducible from its generator, labels that say what the text says."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_probe import InputError
from manifold_probe.datasets.corpus import (
    CATEGORIES,
    COLOURS,
    CORPUS_FILE,
    DAYS,
    LABELS,
    MONTHS,
    PLACES,
    _number_words,
    corpus_text,
    generate_corpus,
    load_corpus,
)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_shipped_file_is_reproduced_byte_for_byte():
    assert corpus_text(generate_corpus(seed=0)) == CORPUS_FILE.read_text(encoding="utf-8")
    text = CORPUS_FILE.read_text(encoding="utf-8")
    assert "CC0" in text.splitlines()[1]


def test_size_categories_and_label_ranges(corpus):
    assert 3000 <= len(corpus) <= 5000
    assert len(set(corpus.sentences)) == len(corpus)  # no duplicates
    assert set(corpus.categories.tolist()) == set(CATEGORIES)
    ranges = {"day": 7, "month": 12, "hour": 24, "number": 100, "colour": len(COLOURS),
              "place": len(PLACES)}  # fmt: skip
    for name in LABELS:
        lab = corpus.labels[name]
        assert lab.dtype == np.int64 and lab.shape == (len(corpus),)
        present = corpus.categories == name
        # a label is present exactly on its own category, and every value occurs
        assert (lab[~present] == -1).all()
        assert set(lab[present].tolist()) == set(range(ranges[name]))
        # balanced: each value within one of the mean count (values are cycled through)
        counts = np.bincount(lab[present], minlength=ranges[name])
        assert counts.max() - counts.min() <= 1


def test_labels_match_the_text(corpus):
    s = np.array(corpus.sentences)
    for name, names in (("day", DAYS), ("month", MONTHS), ("place", PLACES)):
        for sentence, v in zip(s[corpus.categories == name], corpus.labels[name][corpus.categories == name], strict=True):
            assert names[v] in sentence
            assert sum(w in sentence for w in names) == 1, sentence
    for sentence, v in zip(s[corpus.categories == "colour"], corpus.labels["colour"][corpus.categories == "colour"], strict=True):
        assert re.search(rf"\b{COLOURS[v]}\b", sentence), sentence
    for sentence, v in zip(s[corpus.categories == "number"], corpus.labels["number"][corpus.categories == "number"], strict=True):
        assert re.search(rf"\b({v}|{_number_words(v)})\b", sentence), sentence
    for sentence, v in zip(s[corpus.categories == "hour"], corpus.labels["hour"][corpus.categories == "hour"], strict=True):
        h12 = v % 12 or 12
        ok = (
            f"{v:02d}:00" in sentence
            or (v == 0 and "midnight" in sentence)
            or (v == 12 and "noon" in sentence)
            or re.search(rf"\b{h12} {'a.m.' if v < 12 else 'p.m.'}", sentence)
            or f"{_number_words(v % 12)} o'clock" in sentence
        )
        assert ok, (sentence, v)
    # ordinary sentences mention none of the labelled vocabularies
    for sentence in s[corpus.categories == "ordinary"]:
        assert not any(w in sentence for w in (*DAYS, *MONTHS, *PLACES))


def test_filter_and_subsample(corpus):
    days = load_corpus(labels="day")
    assert set(days.categories.tolist()) == {"day"}
    both = load_corpus(labels=["day", "month"])
    assert len(both) == len(days) + len(load_corpus(labels=["month"]))
    a = load_corpus(n=50, seed=3)
    b = load_corpus(n=50, seed=3)
    c = load_corpus(n=50, seed=4)
    assert a.sentences == b.sentences and a.sentences != c.sentences
    assert len(a) == 50 and set(a.sentences) <= set(corpus.sentences)
    # subsample keeps file order and the rows' labels
    idx = [corpus.sentences.index(x) for x in a.sentences]
    assert idx == sorted(idx)
    np.testing.assert_array_equal(a.labels["day"], corpus.labels["day"][idx])


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 100), seed=st.integers(0, 1000))
def test_subsample_is_a_subset_of_the_requested_category(n, seed):
    sub = load_corpus(labels="hour", n=n, seed=seed)
    assert len(sub) == n and (sub.categories == "hour").all() and (sub.labels["hour"] >= 0).all()


def test_errors(tmp_path):
    with pytest.raises(InputError, match="unknown corpus label"):
        load_corpus(labels="weekday")
    with pytest.raises(InputError, match="unknown corpus label"):
        load_corpus(labels=[])
    with pytest.raises(InputError, match="only"):
        load_corpus(labels="day", n=10_000)
    with pytest.raises(InputError, match="n must be"):
        load_corpus(n=0)
    with pytest.raises(InputError, match="not found"):
        load_corpus(path=tmp_path / "missing.tsv")


def test_exposed_through_datasets_package():
    import manifold_probe as mp

    assert mp.datasets.load_corpus is load_corpus
