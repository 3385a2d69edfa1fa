"""Labelled point clouds shared by the region finder's test files."""

from __future__ import annotations

import numpy as np


def blobs_with_centres(c: int, sep: float, d: int, n: int, seed: int):
    """``c`` unit Gaussians in R^d at the vertices of a regular simplex of edge ``sep``:
    ``(X, labels, centres)``, ``n`` points dealt to the components in turn."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((c, d))
    centres[np.arange(c), np.arange(c)] = sep / np.sqrt(2.0)
    y = np.arange(n) % c
    return centres[y] + rng.normal(size=(n, d)), y, centres


def blobs(c: int, sep: float, d: int, n: int, seed: int):
    """:func:`blobs_with_centres` without the centres: ``(X, labels)``."""
    X, y, _ = blobs_with_centres(c, sep, d, n, seed)
    return X, y
