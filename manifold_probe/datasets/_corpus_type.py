"""The labelled-sentences container shared by the corpora (ours and the WordNet subset)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Corpus"]


@dataclass(frozen=True)
class Corpus:
    """Sentences with labels.

    Attributes
    ----------
    sentences : tuple of str, length N
    labels : dict of str to ndarray of int64, shape (N,)
        One entry per label name in :data:`LABELS`; ``-1`` where the sentence has no such label.
    categories : ndarray of str, shape (N,)
        The kind of each sentence (one of :data:`CATEGORIES`).
    """

    sentences: tuple[str, ...]
    labels: dict
    categories: np.ndarray

    def __len__(self) -> int:
        return len(self.sentences)
