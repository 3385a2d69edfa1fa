"""The torch paths of local PCA and the ball-volume curvature, run on the CPU, against numpy.

On a CUDA machine the same functions run on the GPU (``tests/test_cuda_measures.py``); here
they run in torch on the CPU, so the torch code itself is checked without a GPU.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import manifold_probe as mp  # noqa: E402
from manifold_probe._validation import InputError  # noqa: E402
from manifold_probe.curvature import _ball_volume as bv  # noqa: E402
from manifold_probe.dimension import _lpca  # noqa: E402

CPU = torch.device("cpu")


def test_local_spectra_in_torch_equal_numpy_to_round_off():
    rng = np.random.default_rng(0)
    # a 3-flat with noise in R^12: three large eigenvalues per neighbourhood, nine small ones
    X = rng.normal(size=(600, 3)) @ rng.normal(size=(3, 12)) + 0.01 * rng.normal(size=(600, 12))
    nb = mp.knn(X, 15, device="cpu")
    a = _lpca._local_spectra(X, nb)
    b = _lpca._local_spectra_torch(X, nb, CPU)
    assert a.shape == b.shape == (600, 16)
    # the same float64 Gram matrices, eigenvalues from two LAPACK drivers: agreement to a few
    # hundred ulps of the largest eigenvalue of each neighbourhood
    scale = a[:, :1]
    np.testing.assert_allclose(b / scale, a / scale, rtol=0, atol=1e-12)


def test_local_pca_counts_the_same_on_either_path(monkeypatch):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 20))
    numpy_path = mp.intrinsic_dimension(X, method="lpca", k=20, device="cpu")
    # the torch path on the CPU (on a CUDA machine device=None takes it on the GPU)
    monkeypatch.setattr(_lpca, "_local_spectra",
                        lambda A, nb, block=1024: _lpca._local_spectra_torch(A, nb, CPU))
    torch_path = mp.intrinsic_dimension(X, method="lpca", k=20, device="cpu")
    assert np.array_equal(numpy_path.pointwise, torch_path.pointwise)
    # a noise-free 4-flat: 4 directions, but for a few lopsided neighbourhoods at the edge
    assert abs(numpy_path.dimension - 4.0) < 0.05


def test_local_pca_refuses_an_unknown_device():
    X = np.random.default_rng(2).normal(size=(50, 3))
    with pytest.raises(InputError, match="device"):
        mp.intrinsic_dimension(X, method="lpca", k=10, device="tpu")


def _sphere_inputs(n=500, dim=2):
    X = mp.datasets.sphere(n, dim=dim, radius=1.0, seed=3).points
    D = np.sqrt(np.maximum(((X[:, None] - X[None]) ** 2).sum(-1), 0.0))
    # chord lengths to arc lengths: the geodesic distances of the unit sphere
    D = 2.0 * np.arcsin(np.clip(D / 2.0, 0.0, 1.0))
    N, near, r_m, r_m1, rows = bv._given_distance_rows(None, D, 10)
    w, w1 = bv._density_weights(r_m, r_m1, dim)
    m_ball = int(np.ceil(0.1 * N))
    return N, near, w, w1, dim, m_ball, rows


@pytest.mark.parametrize("block", [64, 512])
def test_ball_volumes_in_torch_equal_numpy_to_round_off(block):
    N, near, w, w1, n, m_ball, rows = _sphere_inputs()
    a = bv._volume_ratios(rows, N, near, w, w1, n, m_ball, 12, block)
    b = bv._volume_ratios_torch(rows, N, near, w, w1, n, m_ball, 12, block, CPU)
    assert a[3] == b[3]  # the ball radius: the same order statistic, the same median
    np.testing.assert_array_equal(a[1], b[1])  # the radii
    np.testing.assert_array_equal(a[2], b[2])  # the ball sizes: the same comparisons
    # sums of at most N positive weights in another order: relative error below N ulps
    np.testing.assert_allclose(b[0], a[0], rtol=N * np.finfo(np.float64).eps, atol=0)


def test_ball_volume_curvature_of_a_sphere_on_the_torch_path():
    s = mp.datasets.sphere(2000, 2, radius=2.0, seed=20)
    N, near, r_m, r_m1, rows = bv._given_distance_rows(None, s.geodesic_distances(), 10)
    w, w1 = bv._density_weights(r_m, r_m1, 2)
    ratio, radii, _, _ = bv._volume_ratios_torch(rows, N, near, w, w1, 2, 200, 12, 512, CPU)
    S, _ = bv._fit_curvature(ratio, radii, 2)
    # S^2 of radius 2: S = 0.5; the seed-to-seed spread of the median at N = 2000 is +-30%
    # (tests/test_scalar_curvature_ball_volume.py), so 40%
    assert abs(np.median(S) / 0.5 - 1) < 0.40
