"""Tests of manifold_probe.topology: persistence, significant Betti numbers, distances, verdict."""

from __future__ import annotations

import numpy as np
import pytest

import manifold_probe as mp
from manifold_probe import InputError


def embed(P: np.ndarray, dim: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate a low-dimensional cloud into R^dim (random orthonormal frame) and add noise."""
    Q, _ = np.linalg.qr(rng.normal(size=(dim, P.shape[1])))
    return P @ Q.T + noise * rng.normal(size=(len(P), dim))


def circle(n: int, rng: np.random.Generator, radius: float = 1.0) -> np.ndarray:
    t = rng.uniform(0, 2 * np.pi, n)
    return radius * np.c_[np.cos(t), np.sin(t)]


def test_circle_in_r40_has_betti_1_1():
    rng = np.random.default_rng(0)
    X = embed(circle(300, rng), 40, 0.02, rng)
    assert mp.betti_numbers(X, maxdim=1, seed=0) == (1, 1)


def test_persistence_of_regular_polygon_known_answer():
    # A regular 40-gon of radius 1: H1 born at the side 2 sin(pi/40) and dies when the
    # triangles first fill the disc, at the longest edge of an inscribed triangle (sqrt 3
    # for a 3-divisible n: 40 is not, so within one side of sqrt 3).
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    dgms = mp.persistence(np.c_[np.cos(t), np.sin(t)], maxdim=1)
    assert len(dgms) == 2 and all(d.dtype == np.float64 and d.shape[1] == 2 for d in dgms)
    side = 2 * np.sin(np.pi / 40)
    assert dgms[0].shape == (40, 2) and np.isinf(dgms[0][0, 1])
    np.testing.assert_allclose(dgms[0][1:, 1], side, rtol=1e-12)
    assert dgms[1].shape == (1, 2)
    assert dgms[1][0, 0] == pytest.approx(side, rel=1e-12)
    assert abs(dgms[1][0, 1] - np.sqrt(3)) < side


def test_diagram_distance_basics():
    assert mp.diagram_distance([[0.0, 2.0]], [[0.0, 1.0]]) == pytest.approx(1.0)
    assert mp.diagram_distance([[0.0, 2.0]], [[0.0, 1.0]], normalize=(2.0, 1.0)) == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: mp.betti_numbers(np.zeros((5, 2, 2))),
        lambda: mp.betti_numbers(np.array([[np.nan, 0.0], [1.0, 1.0]])),
        lambda: mp.persistence(np.eye(3), maxdim=-1),
        lambda: mp.persistence(np.eye(3), n_landmarks=0),
        lambda: mp.persistence(np.eye(3), threshold=-1.0),
        lambda: mp.betti_numbers(np.eye(3), confidence=1.0),
        lambda: mp.topology_preserved(np.eye(3), np.eye(4)),
        lambda: mp.diagram_distance(np.zeros((3, 3)), np.zeros((3, 2))),
        lambda: mp.diagram_distance([[1.0, 0.0]], [[0.0, 1.0]]),
        lambda: mp.diagram_distance([[0.0, 1.0]], [[0.0, 1.0]], kind="l2"),
        lambda: mp.diagram_distance([[0.0, 1.0]], [[0.0, 1.0]], internal_p=2),
    ],
)
def test_input_errors(call):
    with pytest.raises(InputError):
        call()
