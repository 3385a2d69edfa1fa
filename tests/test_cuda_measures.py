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
