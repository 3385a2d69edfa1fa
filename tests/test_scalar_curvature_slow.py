"""Paper-scale scalar-curvature checks at N = 10,000 (marked slow; `make test-slow`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import manifold_probe as mp

torch.set_num_threads(2)
pytestmark = pytest.mark.slow


def _median_rel_error(sample, dim):
    S = mp.scalar_curvature(sample.points, dim=dim)
    return np.median(S) / sample.scalar_curvature - 1


def test_s3_at_10k_within_10_percent():
    s = mp.datasets.sphere(10_000, 3, radius=2.5, ambient_dim=30, seed=30)
    # 10%: the tolerance for S^3 (measured here: about -1%)
    assert abs(_median_rel_error(s, 3)) < 0.10


def test_noisy_s2_at_10k_within_15_percent():
    s = mp.datasets.sphere(10_000, 2, radius=1.0, ambient_dim=20, noise=0.01, seed=31)
    # 15%: the tolerance with 1% noise (the fixed-k fit gives 1.54 +- 1.29, truth 2)
    assert abs(_median_rel_error(s, 2)) < 0.15


def test_s4_at_10k_within_10_percent():
    s = mp.datasets.sphere(10_000, 4, radius=1.0, ambient_dim=20, seed=32)
    # no tolerance in the issue for S^4; measured about -2%, so 10% flags a regression
    assert abs(_median_rel_error(s, 4)) < 0.10


def test_s5_at_10k_within_20_percent():
    s = mp.datasets.sphere(10_000, 5, radius=1.0, ambient_dim=20, seed=33)
    # 20%: the aim for S^5 at N = 10,000 (fixed-k fit 65% off; measured here -4 to -7%)
    assert abs(_median_rel_error(s, 5)) < 0.20
