"""Hook points inside a block (TransformerLens names): checked against the block's own algebra.

A pre-norm block adds its sublayers to the stream, so ``layer_{l+1} = layer_l + attn_out +
mlp_out`` exactly (GPT-NeoX's parallel residual too); a post-norm block (BERT) computes
``layer_{l+1} = LN2(mlp_out + LN1(attn_out + layer_l))``. The heads, concatenated and passed
through the output projection, give the attention output. These identities hold only if each
hook point reads the right tensor.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
sys.path.insert(0, str(Path(__file__).parent))

from tiny_models import N_BLOCKS, N_HEADS, bpe_tokenizer, build, corpus_sentences  # noqa: E402

from manifold_probe import InputError  # noqa: E402
from manifold_probe.capture import find_head_projection, load_model  # noqa: E402
from manifold_probe.capture.hook_points import hook_point_names, is_hook_point  # noqa: E402

# float32 forward pass re-added in float64: rounding of O(1) values only
ATOL = 3e-5
SENTENCES = corpus_sentences(6)


@pytest.fixture(scope="module")
def tok():
    return bpe_tokenizer()


@pytest.mark.parametrize("family", ["bert", "gpt2", "gpt_neox", "llama"])
@pytest.mark.parametrize("block", [0, 1])
def test_sublayers_and_heads_rebuild_the_block(tok, family, block):
    model = build(family)
    handle = load_model(model, tokenizer=tok)
    heads = [f"blocks.{block}.attn.hook_z.{h}" for h in range(N_HEADS)]
    before = "embeddings" if block == 0 else f"layer_{block}"
    names = [before, f"layer_{block + 1}", f"blocks.{block}.hook_attn_out",
             f"blocks.{block}.hook_mlp_out", *heads]
    acts = handle.capture(SENTENCES, pooling="all", layers=names)
    x, y, attn, mlp = (np.asarray(acts[n], dtype=np.float64) for n in names[:4])
    blk = handle.blocks[block]
    if family == "bert":
        with torch.no_grad():
            mid = blk.attention.output.LayerNorm(torch.as_tensor(attn + x, dtype=torch.float32))
            out = blk.output.LayerNorm(torch.as_tensor(mlp, dtype=torch.float32) + mid)
        np.testing.assert_allclose(out.numpy(), y, atol=ATOL)
    else:
        np.testing.assert_allclose(x + attn + mlp, y, atol=ATOL)
    z = np.concatenate([np.asarray(acts[n]) for n in heads], axis=1)
    assert z.shape[1] == N_HEADS * find_head_projection(blk).d_head
    with torch.no_grad():
        projected = find_head_projection(blk).module(torch.as_tensor(z)).numpy()
    np.testing.assert_allclose(projected, attn, atol=ATOL)


def test_names_listed_and_checked(tok):
    handle = load_model(build("gpt2"), tokenizer=tok)
    names = hook_point_names(handle.architecture)
    assert len(names) == N_BLOCKS * (2 + N_HEADS)
    assert names[:3] == ("blocks.0.hook_attn_out", "blocks.0.hook_mlp_out", "blocks.0.attn.hook_z.0")
    assert all(is_hook_point(n) for n in names)
    assert not is_hook_point("layer_1") and not is_hook_point("blocks.0.hook_resid_post")
    for bad, match in [(f"blocks.{N_BLOCKS}.hook_attn_out", "block 2 does not exist"),
                       (f"blocks.0.attn.hook_z.{N_HEADS}", "head 4 does not exist"),
                       ("blocks.0.hook_nothing", "nor a hook point")]:
        with pytest.raises(InputError, match=match):
            handle.capture(SENTENCES[:2], layers=[bad])


def test_mean_pooled_hook_point_is_the_mean_of_its_tokens(tok):
    handle = load_model(build("llama"), tokenizer=tok)
    name = "blocks.1.hook_mlp_out"
    tokens = handle.capture(SENTENCES[:3], pooling="all", layers=[name])
    pooled = handle.capture(SENTENCES[:3], pooling="mean", layers=[name])
    counts = [len(tok(s)["input_ids"]) for s in SENTENCES[:3]]
    starts = np.cumsum([0, *counts])
    rows = np.asarray(tokens[name], dtype=np.float64)
    means = np.stack([rows[a:b].mean(0) for a, b in zip(starts[:-1], starts[1:], strict=True)])
    np.testing.assert_allclose(np.asarray(pooled[name]), means, atol=ATOL)
