"""The batched curvature fits on CUDA against the CPU (skipped without a GPU)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def test_quadratic_curvature_on_cuda_equals_the_cpu_result():
    import manifold_probe as mp

    X = mp.datasets.sphere(1500, dim=2, radius=2.0, ambient_dim=10, seed=0).points
    cpu = mp.scalar_curvature(X, dim=2, device="cpu", return_se=True)
    gpu = mp.scalar_curvature(X, dim=2, device="cuda", return_se=True)
    # the same float64 operations summed in another order: round-off far below the fit's
    # own standard error (S^2 of radius 2: S = 0.5, se ~ 1e-2 per point)
    np.testing.assert_allclose(gpu.curvature, cpu.curvature, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gpu.standard_error, cpu.standard_error, rtol=1e-8, atol=1e-10)
    assert np.array_equal(gpu.neighborhood_size, cpu.neighborhood_size)


def test_tangent_bases_on_cuda_span_the_cpu_ones():
    from manifold_probe.curvature._tangent import tangent_basis

    rng = np.random.default_rng(1)
    Y = rng.normal(size=(64, 30, 12)) * np.r_[5.0, 4.0, 3.0, np.full(9, 0.1)]
    a = tangent_basis(Y, 3, torch.device("cpu"))
    b = tangent_basis(Y, 3, torch.device("cuda"))
    # eigenvectors are defined up to sign: compare the projectors
    Pa = np.einsum("bdi,bei->bde", a, a)
    Pb = np.einsum("bdi,bei->bde", b, b)
    np.testing.assert_allclose(Pb, Pa, atol=1e-10)


def test_local_pca_on_cuda_equals_the_cpu_counts():
    import manifold_probe as mp

    rng = np.random.default_rng(2)
    X = rng.normal(size=(3000, 5)) @ rng.normal(size=(5, 64)) + 0.01 * rng.normal(size=(3000, 64))
    cpu = mp.intrinsic_dimension(X, method="lpca", k=20, device="cpu")
    gpu = mp.intrinsic_dimension(X, method="lpca", k=20, device="cuda")
    # eigenvalues agree to round-off; a count moves only where a cumulative share ties the
    # 0.95 threshold to ~1e-12, which no point of this cloud does
    assert np.array_equal(gpu.pointwise, cpu.pointwise)


def test_local_spectra_on_cuda_equal_the_cpu_ones():
    import manifold_probe as mp
    from manifold_probe.dimension import _lpca

    X = np.random.default_rng(3).normal(size=(2000, 40))
    nb = mp.knn(X, 20, device="cpu")
    a = _lpca._local_spectra(X, nb)
    b = _lpca._local_spectra_torch(X, nb, torch.device("cuda"))
    np.testing.assert_allclose(b / a[:, :1], a / a[:, :1], rtol=0, atol=1e-12)


def test_ball_volume_curvature_on_cuda_equals_the_cpu_result():
    import manifold_probe as mp

    s = mp.datasets.sphere(1500, 2, radius=2.0, seed=21)
    D = s.geodesic_distances()
    cpu = mp.scalar_curvature(distances=D, dim=2, method="ball_volume", device="cpu",
                              return_se=True)
    gpu = mp.scalar_curvature(distances=D, dim=2, method="ball_volume", device="cuda",
                              return_se=True)
    # the same comparisons, weighted sums in another order (relative error below N ulps),
    # then the same least-squares fit
    assert np.array_equal(gpu.neighborhood_size, cpu.neighborhood_size)
    np.testing.assert_allclose(gpu.curvature, cpu.curvature, rtol=1e-9, atol=1e-12)
