"""Every torch code path on CUDA against the CPU result (issue 21). `make test-gpu`.

Skipped as a whole where torch sees no CUDA device. Where the CPU path is exact (the kNN
graph: float64 distances summed in a fixed order, certified candidate sets) the CUDA result
must be the same bits; where a GPU's float32 arithmetic enters (a model's forward pass), the
tolerance is stated beside the assertion.
"""

import numpy as np
import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("no CUDA device (torch.cuda.is_available() is False); run `make test-gpu` on a "
                "machine with a GPU", allow_module_level=True)

import manifold_probe as mp  # noqa: E402
from manifold_probe._knn_search import _knn  # noqa: E402

CUDA = torch.device("cuda")


def clouds(rng):
    X = rng.normal(size=(3000, 64))
    dup = X.copy()
    dup[100:400] = dup[7]  # a duplicate group larger than k + margin
    cluster = rng.normal(size=(3000, 64))
    cluster[:500] = 3.0 * rng.normal(size=64) + 1e-3 * rng.normal(size=(500, 64))
    g = np.arange(14.0)
    lattice = np.stack(np.meshgrid(g, g, g), -1).reshape(-1, 3)[:2500]  # exact ties
    far = rng.normal(size=(2000, 384)) + 1000.0  # far from the origin: centring matters
    far[1] = far[0] + 1e-7
    return {"random": X, "duplicates": dup, "cluster": cluster, "lattice": lattice, "far": far}


@pytest.fixture(autouse=True)
def no_cache():
    with mp.knn_cache(False):
        yield


@pytest.mark.parametrize("search", ["plain", "symmetric"])
@pytest.mark.parametrize("case", ["random", "duplicates", "cluster", "lattice", "far"])
def test_knn_cuda_is_the_cpu_graph_bit_for_bit(rng, case, search):
    X = clouds(rng)[case]
    cpu, _ = _knn(X, 10, device="cpu")
    gpu, stats = _knn(X, 10, device="cuda", search=search)
    np.testing.assert_array_equal(gpu.indices, cpu.indices)
    np.testing.assert_array_equal(gpu.distances, cpu.distances)
    if case == "cluster":  # the tight cluster certifies in float64 on CUDA too
        assert stats["full_scan_rows"] == 0


@pytest.mark.parametrize("budget", [2**16, 2**22, None])
def test_knn_cuda_blocks_do_not_change_the_graph(rng, budget):
    X = rng.normal(size=(5000, 32))
    ref = mp.knn(X, 15, device="cpu")
    nb = mp.knn(X, 15, device="cuda", memory_budget=budget)
    np.testing.assert_array_equal(nb.indices, ref.indices)
    np.testing.assert_array_equal(nb.distances, ref.distances)


def test_knn_cosine_and_magnitudes_on_cuda(rng):
    X = rng.normal(size=(800, 20))
    for metric in ("euclidean", "cosine"):
        for scale in (1.0, 1e200, 1e-300):
            a = mp.knn(X * scale, 5, metric=metric, device="cpu")
            b = mp.knn(X * scale, 5, metric=metric, device="cuda")
            np.testing.assert_array_equal(b.indices, a.indices)
            np.testing.assert_array_equal(b.distances, a.distances)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_knn_of_a_cuda_tensor(rng, dtype):
    T = torch.from_numpy(rng.normal(size=(1000, 48))).to(CUDA, dtype)
    ref = mp.knn(T.cpu(), 8, device="cpu")
    for device in (None, "cuda"):  # None: CUDA when present
        nb = mp.knn(T, 8, device=device)
        np.testing.assert_array_equal(nb.indices, ref.indices)
        np.testing.assert_array_equal(nb.distances, ref.distances)


def test_knn_cuda_memory_is_bounded_by_the_blocks(rng):
    # 40,000 points: a full distance matrix would take 6.4 GB; the search holds the points
    # (float64 + float32 copies, 19 MB), the candidates and one tile of the budget
    n, d, budget = 40_000, 40, 64 * 2**20
    X = rng.normal(size=(n, d))
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    mp.knn(X, 10, device="cuda", memory_budget=budget)
    peak = torch.cuda.max_memory_allocated() - base
    points = n * d * 12
    candidates = n * 18 * 8 * 6  # indices, values and the sorts' copies
    assert peak < points + candidates + 3 * budget, peak


def test_knn_cuda_ignores_tf32(rng):
    X = rng.normal(size=(3000, 256))
    ref = mp.knn(X, 10, device="cpu")
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")  # TF32 allowed by the caller
        nb = mp.knn(X, 10, device="cuda")
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(previous)
    np.testing.assert_array_equal(nb.indices, ref.indices)
    np.testing.assert_array_equal(nb.distances, ref.distances)


def _on_cpu_only(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("name", ["twonn", "mle", "gride", "lpca", "curvature", "geodesic",
                                  "ollivier"])
def test_estimators_read_the_same_numbers_on_cuda(rng, monkeypatch, name):
    # device=None: every estimator's graph is searched on CUDA here; the graph is the CPU's
    # bit for bit, and the rest of each estimator runs on the host, so the numbers are equal
    X = mp.datasets.sphere(1500, 2, noise=0.01, seed=3).points

    def run():
        if name in ("twonn", "mle", "gride", "lpca"):
            est = mp.intrinsic_dimension(X, method=name)
            return np.atleast_1d(est.dimension if est.pointwise is None else est.pointwise)
        if name == "curvature":
            return mp.scalar_curvature(X, dim=2, k=30)
        if name == "geodesic":
            return mp.geodesic_distances(X, k=10, sources=np.arange(20))
        return mp.ollivier_ricci(X, k=10).node_curvature

    on_cuda = run()
    _on_cpu_only(monkeypatch)
    on_cpu = run()
    np.testing.assert_array_equal(on_cuda, on_cpu)


def test_capture_on_cuda_matches_the_cpu():
    from tiny_models import bpe_tokenizer, build, corpus_sentences

    from manifold_probe.capture import load_model

    sentences = corpus_sentences(12, seed=5)
    tok = bpe_tokenizer()
    model = build("llama")
    a = load_model(model, tokenizer=tok, device="cpu").capture(sentences, pooling="all")
    b = load_model(model, tokenizer=tok, device="cuda").capture(sentences, pooling="all")
    assert a.layers == b.layers
    np.testing.assert_array_equal(a.sentence_ids, b.sentence_ids)
    for layer in a.layers:
        # float32 forward passes by other kernels: a few float32 ulps per operation through
        # two blocks of width 32 (relative 1e-4 of the activations is generous)
        scale = float(np.abs(a[layer]).max())
        np.testing.assert_allclose(b[layer], a[layer], rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("kind", ["noise", "scale", "ablate_block", "zero_head"])
def test_perturbations_on_cuda_match_the_cpu(kind):
    from tiny_models import bpe_tokenizer, build, corpus_sentences

    from manifold_probe.capture import load_model
    from manifold_probe.capture.perturb import perturbed
    from manifold_probe.config import PerturbationConfig

    sentences = corpus_sentences(8, seed=6)
    tok = bpe_tokenizer()
    extra = {"noise": {"norm": 0.5}, "scale": {"factor": 2.0}, "zero_head": {"head": 1}}
    p = PerturbationConfig(kind=kind, layer=1, **extra.get(kind, {}))
    out = []
    for device in ("cpu", "cuda"):
        handle = load_model(build("gpt2"), tokenizer=tok, device=device)
        with perturbed(handle, p, seed=0):
            out.append(handle.capture(sentences, pooling="mean"))
    for layer in out[0].layers:
        scale = float(np.abs(out[0][layer]).max())
        # the noise is drawn on the CPU and moved, so the same noise on both devices
        np.testing.assert_allclose(out[1][layer], out[0][layer], rtol=1e-4, atol=1e-4 * scale)


def test_toy_accuracy_of_a_cuda_model():
    from manifold_probe.capture.toy import ModAddTransformer, modadd_data, toy_accuracy

    torch.manual_seed(0)
    model = ModAddTransformer(7, 16, 2, 32)
    tokens, labels, _, _ = modadd_data(7, 0.5, 0)
    cpu = toy_accuracy(model, tokens, labels)
    assert toy_accuracy(model.to(CUDA), tokens, labels) == pytest.approx(cpu, abs=2 / 49)


def test_warp_stretch_with_a_cuda_block(rng):
    X = rng.normal(size=(300, 6))
    W = torch.from_numpy(rng.normal(size=(6, 6)))
    block = torch.nn.Linear(6, 6, bias=False).double()
    with torch.no_grad():
        block.weight.copy_(W)
    Y = X @ W.numpy().T
    a = mp.warp(X, Y, k=10, model_block=block, seed=0)
    b = mp.warp(X, Y, k=10, model_block=block.to(CUDA), seed=0)
    # a float64 Jacobian of a linear map: the same singular values up to float64 rounding
    np.testing.assert_allclose(b.stretch, a.stretch, rtol=1e-10)
