"""Capture across architectures: BERT, GPT-2, GPT-NeoX, Llama/Mistral/Qwen (RMSNorm), a
TransformerLens-style and an nnsight-style object, and any module by path.

Every model is tiny (width 32, 2 blocks, 4 heads), randomly initialised with a fixed seed and
built locally from a ``transformers`` config; the tokenizer is a BPE trained here on sentences of
our corpus. Nothing comes from the Hub. The truth each test checks against is the model's own
forward pass: ``output_hidden_states`` and hooks placed by the test itself.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tiny_models import (  # noqa: E402
    N_BLOCKS,
    N_HEADS,
    VOCAB,
    WIDTH,
    bpe_tokenizer,
    corpus_sentences,
)
from tiny_models import build as _build  # noqa: E402

from manifold_probe import InputError  # noqa: E402
from manifold_probe.capture import (  # noqa: E402
    block_index,
    detect_architecture,
    find_head_projection,
    load_model,
    zero_head,
)

# The same float32 forward pass of a sentence alone and inside a right-padded batch differs by
# rounding only (masked attention over a different key count): a few ulps of O(1) values.
ATOL = 2e-5
_corpus_sentences = corpus_sentences
_bpe_tokenizer = bpe_tokenizer
SENTENCES = _corpus_sentences(12)


FAMILIES = ["bert", "gpt2", "gpt_neox", "llama", "mistral", "qwen2"]
EXPECTED_PROJECTION = {
    "bert": "attention.output.dense",
    "gpt2": "attn.c_proj",
    "gpt_neox": "attention.dense",
    "llama": "self_attn.o_proj",
    "mistral": "self_attn.o_proj",
    "qwen2": "self_attn.o_proj",
}
EXPECTED_FINAL_NORM = {"bert": None, "gpt2": "ln_f", "gpt_neox": "final_layer_norm",
                       "llama": "norm", "mistral": "norm", "qwen2": "norm"}


@pytest.fixture(scope="module")
def tok():
    return _bpe_tokenizer()


@pytest.fixture(scope="module", params=FAMILIES)
def family_model(request):
    return request.param, _build(request.param)


def _alone(model, tok, sentence):
    """The model on one sentence (no padding): its hidden_states, the final norm's input and
    each block's output, read by hooks placed here."""
    arch = detect_architecture(model)
    seen = {}
    hooks = [b.register_forward_hook(lambda m, a, o, i=i: seen.__setitem__(i, o[0] if isinstance(o, tuple) else o))
             for i, b in enumerate(arch.blocks)]
    if arch.final_norm is not None:
        hooks.append(arch.final_norm.register_forward_pre_hook(lambda m, a: seen.__setitem__("norm_in", a[0])))
    try:
        with torch.no_grad():
            enc = tok([sentence], return_tensors="pt")
            out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                        output_hidden_states=True)
    finally:
        for h in hooks:
            h.remove()
    return out.hidden_states, seen


def test_architecture_is_recognised(family_model):
    family, model = family_model
    arch = detect_architecture(model)
    assert arch.family == ("llama" if family in ("mistral", "qwen2") else family)
    assert arch.n_blocks == N_BLOCKS
    want_norm = EXPECTED_FINAL_NORM[family]
    if want_norm is None:
        assert arch.final_norm is None
    else:
        assert arch.final_norm is model.get_submodule(want_norm)
    assert arch.layer_names(final_norm=True)[-1] == ("layer_2" if want_norm is None else "ln_final")


@pytest.mark.parametrize("pooling", ["all", "mean"])
def test_capture_is_the_residual_stream_before_the_final_norm(family_model, tok, pooling):
    family, model = family_model
    handle = load_model(model, tokenizer=tok)
    has_norm = EXPECTED_FINAL_NORM[family] is not None
    assert handle.layer_names == ("embeddings", "layer_1", "layer_2")
    assert handle.available_layers == handle.layer_names + (("ln_final",) if has_norm else ())
    acts = handle.capture(SENTENCES, pooling=pooling, layers=list(handle.available_layers), batch_size=5)

    per = [_alone(model, tok, s) for s in SENTENCES]

    def pooled(rows_of):  # rows_of(sentence index) -> (T, d)
        if pooling == "all":
            return np.concatenate([rows_of(i) for i in range(len(SENTENCES))])
        return np.stack([rows_of(i).mean(0) for i in range(len(SENTENCES))])

    hs = lambda layer: lambda i: per[i][0][layer][0].numpy()  # noqa: E731
    np.testing.assert_allclose(acts["embeddings"], pooled(hs(0)), atol=ATOL)
    np.testing.assert_allclose(acts["layer_1"], pooled(hs(1)), atol=ATOL)
    # the last layer is block L's own output (a hook on the block) ...
    np.testing.assert_allclose(acts["layer_2"], pooled(lambda i: per[i][1][1][0].numpy()), atol=ATOL)
    if has_norm:
        # ... which is the final norm's input, while hidden_states[-1] is the norm's output
        np.testing.assert_allclose(acts["layer_2"], pooled(lambda i: per[i][1]["norm_in"][0].numpy()), atol=ATOL)
        np.testing.assert_allclose(acts["ln_final"], pooled(hs(2)), atol=1e-4)
    else:
        # post-norm BERT: no final norm; the last block's output is hidden_states[-1]
        np.testing.assert_allclose(acts["layer_2"], pooled(hs(2)), atol=ATOL)
        with pytest.raises(InputError, match="ln_final"):
            handle.capture(SENTENCES[:2], layers=["ln_final"])
    # the check: the residual stream does not jump at the last layer
    norms = {n: float(np.linalg.norm(acts[n], axis=1).mean()) for n in ("layer_1", "layer_2")}
    assert 1 / 3 < norms["layer_2"] / norms["layer_1"] < 3


def test_per_token_rows_are_real_tokens_and_bos_rows_are_exact_duplicates(tok):
    model = _build("llama")
    handle = load_model(model, tokenizer=tok)
    acts = handle.capture(SENTENCES, pooling="all", batch_size=len(SENTENCES))
    lengths = [len(tok(s)["input_ids"]) for s in SENTENCES]
    assert acts.n_rows == sum(lengths)  # no padding rows
    np.testing.assert_array_equal(acts.sentence_ids, np.repeat(np.arange(len(SENTENCES)), lengths))
    first = acts.position_ids == 0
    for name in acts.layers:
        bos = acts[name][first]
        # a causal model sees only <s> at position 0: the same vector for every input
        assert np.unique(bos, axis=0).shape[0] == 1
        assert np.isfinite(acts[name]).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_head_projection_and_zeroing_one_head(family, tok):
    model = _build(family)
    arch = detect_architecture(model)
    block = arch.blocks[0]
    hp = find_head_projection(block)
    assert hp.module is block.get_submodule(EXPECTED_PROJECTION[family])
    assert hp.n_heads == N_HEADS
    assert hp.d_head == (4 if family == "qwen2" else WIDTH // N_HEADS)
    proj, n_heads = find_head_projection(block)  # unpacks like the old (module, n_heads)
    assert proj is hp.module and n_heads == N_HEADS

    enc = tok(SENTENCES[:3], padding=False)
    ids = torch.tensor([enc["input_ids"][0]])
    seen = {}

    def record(module, args):
        seen["z"] = args[0].detach().clone()

    def run():
        h = hp.module.register_forward_pre_hook(record)  # after zero_head's hook: sees its edit
        try:
            with torch.no_grad():
                out = model(input_ids=ids, output_hidden_states=True)
        finally:
            h.remove()
        return seen["z"], out.hidden_states[1]

    z0, out0 = run()
    head = 2
    handle = zero_head(block, head)
    try:
        z1, out1 = run()
    finally:
        handle.remove()
    sl = slice(head * hp.d_head, (head + 1) * hp.d_head)
    assert torch.count_nonzero(z1[..., sl]) == 0
    keep = torch.ones(z0.shape[-1], dtype=torch.bool)
    keep[sl] = False
    # every other head's features are untouched, bit for bit
    torch.testing.assert_close(z1[..., keep], z0[..., keep], rtol=0, atol=0)
    assert torch.count_nonzero(z0[..., sl]) > 0
    assert not torch.allclose(out1, out0)
    z2, out2 = run()  # removed: back to the original
    torch.testing.assert_close(out2, out0, rtol=0, atol=0)
    with pytest.raises(InputError, match="head"):
        zero_head(block, N_HEADS)


def test_block_index_follows_the_layer_names():
    assert block_index("layer_1", 2) == 0 and block_index(2, 2) == 1
    for bad in ("embeddings", "ln_final", 0, 3, "layer_3"):
        with pytest.raises(InputError):
            block_index(bad, 2)


def test_head_model_and_tuple_and_base_model_capture_the_same(tok):
    lm = _build("gpt2", head_model=True)
    a = load_model(lm, tokenizer=tok).capture(SENTENCES[:4])
    b = load_model((lm.transformer, tok)).capture(SENTENCES[:4])
    for name in a.layers:
        np.testing.assert_array_equal(a[name], b[name])
    h = load_model(_build("llama", head_model=True), tokenizer=tok)
    assert h.architecture.final_norm is h.model.model.norm
    assert h.block("layer_2") is h.model.model.layers[1]


def test_in_memory_errors_never_print_the_model(tok):
    model = _build("gpt2")
    with pytest.raises(InputError, match="tokenizer") as err:
        load_model(model)
    assert len(str(err.value)) < 300 and "Conv1D" not in str(err.value)
    with pytest.raises(InputError, match="load_model got") as err:
        load_model(object())
    with pytest.raises(InputError, match="tuple"):
        load_model((model, tok, 3))


def test_any_module_by_path():
    class Residual(torch.nn.Module):  # a block's output is the residual stream
        def __init__(self):
            super().__init__()
            self.f = torch.nn.Linear(8, 8)

        def forward(self, h):
            return h + torch.tanh(self.f(h))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.inp = torch.nn.Linear(3, 8)
            self.decoy = torch.nn.ModuleList(torch.nn.Identity() for _ in range(5))
            self.stack = torch.nn.ModuleList(Residual() for _ in range(2))

        def forward(self, x):
            h = self.inp(x)
            for block in self.stack:
                h = block(h)
            return h

    net = Net()
    handle = load_model(net, blocks="stack", final_norm="")
    assert handle.kind == "modules" and handle.layer_names == ("embeddings", "layer_1", "layer_2")
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(1))
    acts = handle.capture(x, batch_size=4)
    with torch.no_grad():
        h0 = net.inp(x)
        h1 = h0 + torch.tanh(net.stack[0].f(h0))
        h2 = h1 + torch.tanh(net.stack[1].f(h1))
    for name, want in zip(acts.layers, (h0, h1, h2), strict=True):
        np.testing.assert_allclose(acts[name], want.numpy(), atol=1e-6)
    with pytest.raises(InputError, match="ModuleList"):
        load_model(net, blocks="inp")


# --- TransformerLens and nnsight: stand-ins with the same interface ------------------------
# The stand-ins expose exactly the attributes load_model reads (HookedTransformer.blocks,
# ln_final, cfg, tokenizer and forward(tokens, attention_mask=, return_type=);
# LanguageModel._module and .tokenizer), so these run without the optional packages; the real
# packages are tested below when installed.


@dataclasses.dataclass
class _Cfg:
    n_layers: int = 2
    n_heads: int = 4
    d_head: int = 8
    d_model: int = 32
    n_ctx: int = 64
    model_name: str = "tl-standin"


def _hooked_transformer(tokenizer):
    nn = torch.nn

    class HookPoint(nn.Identity):
        pass

    class Attn(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.cfg = cfg
            self.W_V = nn.Linear(cfg.d_model, cfg.n_heads * cfg.d_head)
            self.W_O = nn.Parameter(torch.randn(cfg.n_heads, cfg.d_head, cfg.d_model) / 8)
            self.hook_z = HookPoint()

        def forward(self, x):
            z = self.hook_z(self.W_V(x).unflatten(-1, (self.cfg.n_heads, self.cfg.d_head)))
            return torch.einsum("bthd,hdm->btm", z, self.W_O)

    class Block(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.hook_resid_pre = HookPoint()
            self.attn = Attn(cfg)
            self.hook_resid_post = HookPoint()

        def forward(self, x):
            x = self.hook_resid_pre(x)
            return self.hook_resid_post(x + self.attn(x))

    class HookedTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.cfg = _Cfg()
            self.tokenizer = tokenizer
            self.embed = nn.Embedding(VOCAB, 32)
            self.blocks = nn.ModuleList(Block(self.cfg) for _ in range(2))
            self.ln_final = nn.LayerNorm(32)

        def forward(self, input, attention_mask=None, return_type="logits"):
            x = self.embed(input)
            for b in self.blocks:
                x = b(x)
            x = self.ln_final(x)
            return None if return_type is None else x

    return HookedTransformer().eval()


def test_transformer_lens_style_object(tok):
    tl = _hooked_transformer(tok)
    handle = load_model(tl)
    assert handle.kind == "tlens" and handle.name == "tl-standin"
    assert handle.available_layers == ("embeddings", "layer_1", "layer_2", "ln_final")
    acts = handle.capture(SENTENCES[:5], pooling="all", layers=list(handle.available_layers))
    rows = []
    with torch.no_grad():
        for s in SENTENCES[:5]:
            ids = torch.tensor([tok(s)["input_ids"]])
            x0 = tl.embed(ids)
            x1 = tl.blocks[0](x0)
            x2 = tl.blocks[1](x1)
            rows.append([x0[0], x1[0], x2[0], tl.ln_final(x2)[0]])
    for j, name in enumerate(acts.layers):
        np.testing.assert_allclose(acts[name], torch.cat([r[j] for r in rows]).numpy(), atol=1e-6)
    hp = find_head_projection(tl.blocks[0])
    assert hp.split_axis and hp.module is tl.blocks[0].attn.hook_z and (hp.n_heads, hp.d_head) == (4, 8)
    seen = {}
    rec = tl.blocks[0].attn.hook_z.register_forward_hook(lambda m, a, o: seen.__setitem__("z", o))
    h = zero_head(tl.blocks[0], 1)
    rec.remove()
    rec = tl.blocks[0].attn.hook_z.register_forward_hook(lambda m, a, o: seen.__setitem__("z", o))
    try:
        with torch.no_grad():
            tl(torch.tensor([tok(SENTENCES[0])["input_ids"]]), return_type=None)
    finally:
        h.remove()
        rec.remove()
    z = seen["z"]
    assert torch.count_nonzero(z[..., 1, :]) == 0 and torch.count_nonzero(z[..., 0, :]) > 0


def test_nnsight_style_object(tok):
    class LanguageModel:  # nnsight's wrapper: the torch model in ._module (._model before 0.5)
        def __init__(self, model, tokenizer):
            self._module = model
            self.tokenizer = tokenizer

    hf = _build("llama", head_model=True)
    via_wrapper = load_model(LanguageModel(hf, tok))
    assert via_wrapper.extra["wrapper"] == "nnsight" and via_wrapper.model is hf
    a = via_wrapper.capture(SENTENCES[:4], layers=["layer_2", "ln_final"])
    b = load_model(hf, tokenizer=tok).capture(SENTENCES[:4], layers=["layer_2", "ln_final"])
    for name in a.layers:
        np.testing.assert_array_equal(a[name], b[name])


# --- loading from disk, offline, and the fingerprint -----------------------------------------


@pytest.fixture()
def gpt2_dir(tmp_path, tok):
    model = _build("gpt2")
    model.save_pretrained(str(tmp_path / "m"))
    tok.save_pretrained(str(tmp_path / "m"))
    return tmp_path / "m"


def test_hub_ids_say_offline_and_how_to_pass_a_directory():
    for spec in ("gpt2", "EleutherAI/pythia-70m"):
        with pytest.raises(InputError) as err:
            load_model(spec)
        msg = str(err.value)
        assert "offline" in msg and "local-dir" in msg and "\n" not in msg


def test_offline_mode_is_set_only_while_loading(gpt2_dir, monkeypatch):
    import huggingface_hub.constants as hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    before = hub.HF_HUB_OFFLINE
    import transformers as tf

    real = tf.AutoModel.from_pretrained
    during = {}

    def spy(*args, **kwargs):
        during["env"] = os.environ.get("HF_HUB_OFFLINE")
        during["flag"] = hub.HF_HUB_OFFLINE
        during["local"] = kwargs.get("local_files_only")
        return real(*args, **kwargs)

    monkeypatch.setattr(tf.AutoModel, "from_pretrained", spy)
    handle = load_model(str(gpt2_dir))
    assert during == {"env": "1", "flag": True, "local": True}
    assert "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ
    assert hub.HF_HUB_OFFLINE == before
    assert handle.architecture.family == "gpt2" and handle.layer_names[-1] == "layer_2"


def test_fingerprint_tracks_the_weights_and_tokenizer(gpt2_dir, tok):
    handle = load_model(str(gpt2_dir))
    fp = handle.fingerprint()
    assert len(fp) == 64 and fp == handle.fingerprint()
    assert load_model(str(gpt2_dir)).fingerprint() == fp  # a fresh load of the same files
    w = handle.blocks[1].mlp.c_fc.weight
    with torch.no_grad():
        old = float(w[3, 5])
        w[3, 5] += 1e-3  # one weight of 12k
    changed = handle.fingerprint()
    assert changed != fp
    with torch.no_grad():
        w[3, 5] = old
    assert handle.fingerprint() == fp
    # a different tokenizer (smaller vocabulary) with the same weights
    other = load_model(handle.model, tokenizer=_bpe_tokenizer(vocab_size=VOCAB - 20))
    same = load_model(handle.model, tokenizer=handle.tokenizer)
    assert other.fingerprint() != same.fingerprint()


def test_fingerprint_changes_when_the_weight_file_changes(gpt2_dir):
    from safetensors.torch import load_file, save_file

    fp = load_model(str(gpt2_dir)).fingerprint()
    path = gpt2_dir / "model.safetensors"
    state = load_file(str(path))
    key = next(k for k in sorted(state) if k.endswith("attn.c_attn.weight"))
    state[key][0, 0] += 0.5
    save_file(state, str(path), metadata={"format": "pt"})
    assert load_model(str(gpt2_dir)).fingerprint() != fp


def test_fingerprint_is_the_same_in_another_process(gpt2_dir):
    here = load_model(str(gpt2_dir)).fingerprint()
    code = (
        "import sys; from manifold_probe.capture import load_model; "
        "print(load_model(sys.argv[1]).fingerprint())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code, str(gpt2_dir)], capture_output=True,
                         text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == here


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_capture_sees_hooks_that_edit_a_block_output(family, tok):
    """Perturbations replace a block's output with a prepended forward hook; the capture hook
    runs after it, so ``layer_l`` shows the edit (here: block 2's output scaled by 3)."""
    model = _build(family)
    handle = load_model(model, tokenizer=tok)
    base = handle.capture(SENTENCES[:4], pooling="all")

    def scale(module, args, output):
        if isinstance(output, tuple):
            return (output[0] * 3.0, *output[1:])
        return output * 3.0

    hk = handle.block("layer_2").register_forward_hook(scale, prepend=True)
    try:
        edited = handle.capture(SENTENCES[:4], pooling="all")
    finally:
        hk.remove()
    np.testing.assert_array_equal(edited["layer_1"], base["layer_1"])
    np.testing.assert_allclose(edited["layer_2"], 3.0 * base["layer_2"], rtol=1e-6, atol=1e-7)


@pytest.mark.filterwarnings("ignore:LanguageModel is deprecated")
def test_real_nnsight_language_model(tok):
    nnsight = pytest.importorskip("nnsight")
    hf = _build("gpt2", head_model=True)
    lm = nnsight.LanguageModel(hf, tokenizer=tok)
    handle = load_model(lm)
    assert handle.model is hf and handle.extra["wrapper"] == "nnsight"
    a = handle.capture(SENTENCES[:3], layers=["layer_2", "ln_final"])
    b = load_model(hf, tokenizer=tok).capture(SENTENCES[:3], layers=["layer_2", "ln_final"])
    for name in a.layers:
        np.testing.assert_array_equal(a[name], b[name])


def test_real_transformer_lens_bridge(tmp_path):
    """TransformerLens 4 replaced HookedTransformer by TransformerBridge (over a Hugging Face
    model); our layers match its hook names: layer_l = blocks.{l-1}.hook_resid_post."""
    bridge_mod = pytest.importorskip("transformer_lens.model_bridge")
    from transformers import AutoTokenizer

    hf = _build("gpt2", head_model=True)
    hf.save_pretrained(str(tmp_path))
    _bpe_tokenizer().save_pretrained(str(tmp_path))
    tok = AutoTokenizer.from_pretrained(str(tmp_path))
    bridge = bridge_mod.TransformerBridge.boot_transformers(str(tmp_path), tokenizer=tok, hf_model=hf)
    handle = load_model(bridge)
    assert handle.model is hf and handle.extra["wrapper"] == "transformer_lens_bridge"
    acts = handle.capture(SENTENCES[:1], pooling="all", layers=list(handle.available_layers))
    ids = torch.tensor([handle.tokenizer(SENTENCES[0])["input_ids"]])
    with torch.no_grad():
        _, cache = bridge.run_with_cache(ids)
    # the bridge runs eager attention and we run the default kernel: ~1e-6 apart at width 32
    for name, key in [("embeddings", "blocks.0.hook_resid_pre"), ("layer_1", "blocks.0.hook_resid_post"),
                      ("layer_2", "blocks.1.hook_resid_post")]:
        np.testing.assert_allclose(acts[name], cache[key][0].numpy(), atol=1e-5)


# --- perturbations follow the layer names ------------------------------------------------------


@pytest.mark.parametrize("family", ["gpt2", "gpt_neox", "llama"])
@pytest.mark.parametrize("kind", ["zero_head", "ablate_block"])
def test_perturbation_at_layer_l_acts_on_block_l(family, kind, tok):
    from types import SimpleNamespace

    from manifold_probe.capture import perturbed

    handle = load_model(_build(family), tokenizer=tok)
    clean = handle.capture(SENTENCES[:4], pooling="all")
    for layer in (2, "layer_2"):
        p = SimpleNamespace(kind=kind, layer=layer, head=1 if kind == "zero_head" else None)
        with perturbed(handle, p):
            pert = handle.capture(SENTENCES[:4], pooling="all")
        # block 2 changes layer_2 only; the states before it are bit for bit the same
        np.testing.assert_array_equal(pert["embeddings"], clean["embeddings"])
        np.testing.assert_array_equal(pert["layer_1"], clean["layer_1"])
        assert np.abs(pert["layer_2"] - clean["layer_2"]).max() > 1e-4
    after = handle.capture(SENTENCES[:4], pooling="all")  # hooks removed
    np.testing.assert_array_equal(after["layer_2"], clean["layer_2"])
    for bad, match in ((0, "embeddings"), (3, "outside 1..2"), ("layer_3", "outside 1..2")):
        with pytest.raises(InputError, match=match):
            with perturbed(handle, SimpleNamespace(kind=kind, layer=bad, head=0)):
                pass
    with pytest.raises(InputError, match="unknown perturbation kind"):
        with perturbed(handle, SimpleNamespace(kind="melt", layer=1)):
            pass
