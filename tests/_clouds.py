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


def simplex_mixture(c: int, sep: float, d: int, n: int, seed: int):
    """benchmarks/bench_regions_truth.py::mixture: ``c`` unit Gaussians at the vertices of a
    regular simplex of edge ``sep``, randomly rotated: ``(X, labels)``."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((c, d))
    centres[np.arange(c), np.arange(c)] = sep / np.sqrt(2.0)
    rot, _ = np.linalg.qr(rng.normal(size=(d, d)))
    y = np.arange(n) % c
    return (centres[y] + rng.normal(size=(n, d))) @ rot, y


def blobs(c: int, sep: float, d: int, n: int, seed: int):
    """:func:`blobs_with_centres` without the centres: ``(X, labels)``."""
    X, y, _ = blobs_with_centres(c, sep, d, n, seed)
    return X, y


def one_cluster(shape: str, seed: int, n: int = 400, d: int = 5) -> np.ndarray:
    """A cloud with one region: ``"gaussian"`` (standard normal in R^d), ``"ball"`` (uniform
    in the unit d-ball) or ``"circle"`` (the unit circle in R^2, noise sd 0.05)."""
    rng = np.random.default_rng(seed)
    if shape == "circle":
        t = rng.uniform(0, 2 * np.pi, n)
        return np.c_[np.cos(t), np.sin(t)] + 0.05 * rng.normal(size=(n, 2))
    u = rng.normal(size=(n, d))
    if shape == "ball":
        u = u / np.linalg.norm(u, axis=1, keepdims=True) * rng.uniform(size=(n, 1)) ** (1 / d)
    return u
