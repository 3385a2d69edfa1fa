"""Trajectory curvature: closed forms, invariances, zero steps, every InputError path."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import special_ortho_group

import manifold_probe as mp
from manifold_probe import InputError
from manifold_probe.curvature import trajectory_curvature


def _polygon(p, laps=1, dim=2, radius=1.0):
    t = 2 * np.pi * np.arange(p * laps + 1) / p
    P = np.zeros((len(t), dim))
    P[:, 0], P[:, 1] = radius * np.cos(t), radius * np.sin(t)
    return P


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(3, 40),
    d=st.integers(1, 30),
    seed=st.integers(0, 2**31 - 1),
)
def test_straight_line_is_zero(m, d, seed):
    rng = np.random.default_rng(seed)
    start, direction = rng.normal(size=d), rng.normal(size=d)
    steps = np.cumsum(rng.uniform(0.1, 3.0, m))  # uneven spacing, one direction
    T = start + steps[:, None] * direction
    # angles between parallel float64 vectors: rounding only (~1e-6 degrees from atan2 of
    # differences of unit vectors at 1e-16 relative error)
    assert trajectory_curvature(T) == pytest.approx(0.0, abs=1e-5)


@settings(max_examples=25, deadline=None)
@given(p=st.integers(3, 60), laps=st.integers(1, 3), radius=st.floats(1e-3, 1e3))
def test_regular_polygon_gives_exterior_angle(p, laps, radius):
    assert trajectory_curvature(_polygon(p, laps, radius=radius)) == pytest.approx(
        360.0 / p, rel=1e-9  # closed form, float64 rounding only
    )


def test_reversal_is_180_and_radians():
    T = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    assert trajectory_curvature(T) == pytest.approx(180.0, rel=1e-12)
    assert trajectory_curvature(T, degrees=False) == pytest.approx(np.pi, rel=1e-12)


def test_known_mixed_angles():
    # steps (1,0), (1,1), (0,1): angles 45 and 45 degrees; then (-1, 0): 90 -> mean 60
    T = np.array([[0, 0], [1, 0], [2, 1], [2, 2], [1, 2]], dtype=float)
    assert trajectory_curvature(T) == pytest.approx(60.0, rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    s=st.floats(1e-3, 1e3),
    d=st.integers(2, 12),
)
def test_rotation_translation_scale_invariance(seed, s, d):
    rng = np.random.default_rng(seed)
    T = rng.normal(size=(4, 9, d))
    Q = special_ortho_group.rvs(d, random_state=seed % 2**32)
    c = trajectory_curvature(T)
    c2 = trajectory_curvature(s * T @ Q.T + rng.normal(size=d))
    np.testing.assert_allclose(c2, c, rtol=1e-9)


def test_batch_shapes_and_per_trajectory_values():
    rng = np.random.default_rng(3)
    T = rng.normal(size=(2, 3, 7, 5))
    c = trajectory_curvature(T)
    assert c.shape == (2, 3) and c.dtype == np.float64
    for i in range(2):
        for j in range(3):
            assert c[i, j] == pytest.approx(trajectory_curvature(T[i, j]), rel=1e-12)
    assert isinstance(trajectory_curvature(T[0, 0]), float)


def test_torch_input():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    sq = torch.tensor(_polygon(4))
    assert trajectory_curvature(sq) == pytest.approx(90.0, rel=1e-12)


def test_zero_steps_are_dropped():
    # a repeated point inside the square: the turn is measured across it
    T = np.array([[0, 0], [1, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    assert trajectory_curvature(T) == pytest.approx(90.0, rel=1e-12)
    batch = np.stack([T, _polygon(4)[:5]])
    np.testing.assert_allclose(trajectory_curvature(batch), [90.0, 90.0], rtol=1e-12)


def test_constant_trajectory_is_nan_with_warning():
    T = np.stack([np.ones((4, 3)), _polygon(4, dim=3)[:4]])
    T[0, 3] = 2.0  # one nonzero step only
    with pytest.warns(UserWarning, match="1 trajectory"):
        c = trajectory_curvature(T)
    assert np.isnan(c[0]) and c[1] == pytest.approx(90.0)


@pytest.mark.parametrize(
    ("T", "match"),
    [
        (np.zeros((2, 3)), "at least 3 tokens"),
        (np.zeros((5, 2, 3)), "at least 3 tokens"),
        (np.zeros(5), "shape"),
        (np.array([["a", "b"]] * 3), "real numbers"),
        (np.full((3, 2), 1j), "real numbers"),
        (np.array([[0.0, 1.0], [np.nan, 0.0], [1.0, 1.0]]), "NaN"),
        (np.zeros((3, 0)), "no features"),
        ("abc", "array"),
    ],
)
def test_input_errors(T, match):
    with pytest.raises(InputError, match=match):
        trajectory_curvature(T)


def test_public_name():
    assert mp.trajectory_curvature is trajectory_curvature
