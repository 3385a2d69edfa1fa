"""Ground-truth data: manifolds with known dimension, curvature and geodesics, and the corpus.

>>> import manifold_probe as mp
>>> s = mp.datasets.sphere(500, dim=2, radius=2.0, seed=0)
>>> s.points.shape, s.intrinsic_dim, s.scalar_curvature
((500, 3), 2, 0.5)
>>> mp.datasets.benchmark("M10a_Cubic", 100, seed=0).points.shape
(100, 11)

Every generator takes ``n``, ``ambient_dim`` (random isometric embedding into a larger
R^D), ``noise`` (Gaussian, std in ambient coordinates) and ``seed``; the ground truth always
describes the noise-free manifold. ``load_corpus`` (the text corpus) is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from manifold_probe._validation import InputError
from manifold_probe.datasets._benchmark import BENCHMARK_TABLE, benchmark, benchmark_names
from manifold_probe.datasets._manifolds import (
    ManifoldSample,
    flat_torus,
    hyperbolic,
    pseudosphere,
    random_isometric_embedding,
    ring_torus,
    sphere,
    swiss_roll,
)
from manifold_probe.datasets._shapes import (
    KNOWN_HOMOLOGY,
    ShapeSample,
    circle,
    circles,
    clifford_torus,
    cube,
    ellipse,
    figure_eight,
    gaussian_blobs,
    homology_shape,
    klein_bottle,
    round_sphere,
    swiss_roll_shape,
    torus_shape,
)

__all__ = [
    "ManifoldSample",
    "sphere",
    "flat_torus",
    "ring_torus",
    "hyperbolic",
    "pseudosphere",
    "swiss_roll",
    "benchmark",
    "benchmark_names",
    "available",
    "generate",
    "random_isometric_embedding",
    "load_corpus",
    # known homology (each sample carries its Betti numbers)
    "ShapeSample",
    "KNOWN_HOMOLOGY",
    "homology_shape",
    "circle",
    "ellipse",
    "figure_eight",
    "circles",
    "round_sphere",
    "torus_shape",
    "klein_bottle",
    "clifford_torus",
    "gaussian_blobs",
    "cube",
    "swiss_roll_shape",
]

_MANIFOLDS = {
    "sphere": (sphere, "uniform round sphere S^dim of radius r (needs dim=); exact geodesics"),
    "flat_torus": (flat_torus, "flat torus, product of circles, isometric in R^(2 dim); exact geodesics"),
    "ring_torus": (ring_torus, "ring torus in R^3, uniform by area; per-point curvature"),
    "hyperbolic": (hyperbolic, "geodesic ball of hyperbolic space (Poincare chart); exact geodesics"),
    "pseudosphere": (pseudosphere, "tractricoid in R^3, constant curvature -2/r^2; exact geodesics"),
    "swiss_roll": (swiss_roll, "swiss roll in R^3, uniform by area; exact (unrolled) geodesics"),
}

# Objects defined in other modules of this package, imported on first use.
_LAZY = {"load_corpus": "manifold_probe.datasets.corpus", "load_wordnet": "manifold_probe.datasets.wordnet"}


def available() -> dict[str, str]:
    """Name -> one-line description of every data set :func:`generate` knows."""
    out = {name: desc for name, (_, desc) in _MANIFOLDS.items()}
    for name, spec in BENCHMARK_TABLE.items():
        out[name] = (
            f"benchmark: {spec.description} (ID {spec.intrinsic_dim}, D {spec.ambient_dim})"
        )
    return out


def generate(name: str, n: int, seed: Any = None, **options: Any) -> ManifoldSample:
    """Generate a data set by name (one of :func:`available`), passing ``options`` on.

    ``generate("sphere", 1000, dim=3, seed=0)`` is ``sphere(1000, dim=3, seed=0)``;
    benchmark names go to :func:`benchmark`.
    """
    if isinstance(name, str) and name in _MANIFOLDS:
        return _MANIFOLDS[name][0](n, seed=seed, **options)
    if isinstance(name, str) and name in BENCHMARK_TABLE:
        return benchmark(name, n, seed=seed, **options)
    raise InputError(
        f"unknown data set {name!r}; choose one of mp.datasets.available(): {list(available())}"
    )


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'manifold_probe.datasets' has no attribute {name!r}")
