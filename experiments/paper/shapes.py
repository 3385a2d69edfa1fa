"""Ground-truth clouds with known homology for the paper's experiments, from ``mp.datasets``.

Each cloud is a ``mp.datasets`` known-homology shape (unit feature size), embedded
isometrically into R^D by a random rotation, with isotropic Gaussian noise of standard
deviation ``noise`` in all D coordinates.
"""

from __future__ import annotations

import numpy as np

# name -> (mp.datasets.homology_shape name, options); the Betti numbers come with the sample
_SHAPES = {
    "circle": ("circle", {}),
    "two_circles": ("circles", {"k": 2}),
    "figure_eight": ("figure_eight", {}),
    "sphere": ("sphere", {"dim": 2}),
    "torus": ("flat_torus", {"d": 2}),
    "blob": ("blobs", {"k": 1}),
}


# name -> (Betti numbers b_0, b_1, ..., intrinsic dimension): ShapeSample.truth(maxdim) and
# .intrinsic_dim of the shapes above (kept literal so that importing this module does not
# import manifold_probe; tests/test_topology.py checks that they agree)
HOMOLOGY: dict[str, tuple[tuple[int, ...], int]] = {
    "circle": ((1, 1), 1),
    "two_circles": ((2, 2), 1),
    "figure_eight": ((1, 2), 1),
    "sphere": ((1, 0, 1), 2),
    "torus": ((1, 2, 1), 2),
    "blob": ((1, 0), 3),
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
    """``n`` points of the named shape, rotated into R^ambient_dim, plus noise."""
    from manifold_probe.datasets import homology_shape

    if name not in _SHAPES:
        raise ValueError(f"unknown shape {name!r}; known: {', '.join(HOMOLOGY)}")
    family, options = _SHAPES[name]
    return homology_shape(family, n, seed=seed, ambient_dim=ambient_dim, noise=noise,
                          **options).points
