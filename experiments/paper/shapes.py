"""Small ground-truth clouds with known homology, written inline (a few lines of numpy each).

Used by the validation experiments so that they depend only on the estimator under test, not on
``manifold_probe.datasets``. Each cloud is embedded isometrically into R^D by a random rotation
and then receives isotropic Gaussian noise of standard deviation ``noise`` in all D coordinates.
"""

from __future__ import annotations

import numpy as np

# name -> (Betti numbers b_0, b_1, ..., intrinsic dimension)
HOMOLOGY: dict[str, tuple[tuple[int, ...], int]] = {
    "circle": ((1, 1), 1),
    "two_circles": ((2, 2), 1),
    "figure_eight": ((1, 2), 1),
    "sphere": ((1, 0, 1), 2),
    "torus": ((1, 2, 1), 2),
    "blob": ((1, 0), 2),
}


def _embed(Y: np.ndarray, ambient_dim: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    n, d = Y.shape
    Q, _ = np.linalg.qr(rng.standard_normal((ambient_dim, ambient_dim)))
    X = np.zeros((n, ambient_dim))
    X[:, :d] = Y
    X = X @ Q.T
    return X + noise * rng.standard_normal(X.shape)


def sample_sphere(n: int, dim: int, rng: np.random.Generator, radius: float = 1.0) -> np.ndarray:
    """Uniform on S^dim of the given radius in R^(dim+1) (normalised Gaussians)."""
    Z = rng.standard_normal((n, dim + 1))
    return radius * Z / np.linalg.norm(Z, axis=1, keepdims=True)


def shape(name: str, n: int, ambient_dim: int, noise: float, seed: int) -> np.ndarray:
    """``n`` points of the named shape (unit scale), rotated into R^ambient_dim, plus noise."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    if name == "circle":
        Y = np.c_[np.cos(t), np.sin(t)]
    elif name == "two_circles":
        side = rng.integers(0, 2, n)
        Y = np.c_[np.cos(t) + 3.0 * side, np.sin(t)]
    elif name == "figure_eight":
        side = rng.integers(0, 2, n)
        Y = np.c_[np.cos(t) + (2 * side - 1), np.sin(t)]  # two unit circles touching at 0
    elif name == "sphere":
        Y = sample_sphere(n, 2, rng)
    elif name == "torus":
        s = rng.uniform(0, 2 * np.pi, n)
        Y = np.c_[np.cos(t), np.sin(t), np.cos(s), np.sin(s)] / np.sqrt(2)  # flat Clifford torus
    elif name == "blob":
        Y = rng.standard_normal((n, 2)) * 0.5
    else:
        raise ValueError(f"unknown shape {name!r}; known: {', '.join(HOMOLOGY)}")
    return _embed(Y, ambient_dim, noise, rng)
