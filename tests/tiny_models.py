"""Tiny random transformers built locally from ``transformers`` configs, for the tests.

Every model is tiny (width 32, 2 blocks, 4 heads), randomly initialised with a fixed seed; the
tokenizer is a BPE trained here on sentences of our corpus. Nothing comes from the Hub. Used by
``test_architectures.py`` and ``test_models_e2e.py`` (imported as a plain module: pytest puts
``tests/`` on the path).
"""

from __future__ import annotations

WIDTH, N_BLOCKS, N_HEADS, VOCAB = 32, 2, 4, 160


def corpus_sentences(n: int, seed: int = 0) -> list[str]:
    from manifold_probe.datasets.corpus import load_corpus

    return list(load_corpus(n=n, seed=seed).sentences)


def bpe_tokenizer(vocab_size: int = VOCAB):
    """A byte-pair tokenizer trained on 300 corpus sentences; it prepends a BOS token ``<s>``
    (so every input starts with the same token, as in Llama) and has no pad token (as GPT-2)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"])
    tk.train_from_iterator(corpus_sentences(300, seed=1), trainer)
    tk.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tk.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", model_max_length=64)


def build(family: str, *, head_model: bool = False, width: int = WIDTH,
          n_blocks: int = N_BLOCKS, n_heads: int = N_HEADS, seed: int = 0):
    """A random ``family`` model (``bert``, ``gpt2``, ``gpt_neox``, ``llama``, ``mistral``,
    ``qwen2``) in eval mode, initialised with ``torch.manual_seed(seed)``."""
    import torch
    import transformers as tf

    common = dict(vocab_size=VOCAB, num_hidden_layers=n_blocks, num_attention_heads=n_heads,
                  max_position_embeddings=64)
    torch.manual_seed(seed)
    if family == "bert":
        cfg = tf.BertConfig(hidden_size=width, intermediate_size=2 * width, **common)
        model = tf.BertModel(cfg)
    elif family == "gpt2":
        cfg = tf.GPT2Config(vocab_size=VOCAB, n_embd=width, n_layer=n_blocks, n_head=n_heads,
                            n_positions=64, bos_token_id=1, eos_token_id=2)
        model = tf.GPT2LMHeadModel(cfg) if head_model else tf.GPT2Model(cfg)
    elif family == "gpt_neox":
        cfg = tf.GPTNeoXConfig(hidden_size=width, intermediate_size=2 * width, bos_token_id=1,
                               eos_token_id=2, **common)
        model = tf.GPTNeoXModel(cfg)
    elif family == "llama":
        cfg = tf.LlamaConfig(hidden_size=width, intermediate_size=2 * width,
                             num_key_value_heads=2, **common)
        model = tf.LlamaForCausalLM(cfg) if head_model else tf.LlamaModel(cfg)
    elif family == "mistral":
        cfg = tf.MistralConfig(hidden_size=width, intermediate_size=2 * width,
                               num_key_value_heads=2, **common)
        model = tf.MistralModel(cfg)
    elif family == "qwen2":
        # head_dim 4 != width / heads: the heads are split on o_proj's input (16 wide), not d_model
        cfg = tf.Qwen2Config(hidden_size=width, intermediate_size=2 * width,
                             num_key_value_heads=2, head_dim=4, **common)
        model = tf.Qwen2Model(cfg)
    else:  # pragma: no cover
        raise ValueError(family)
    return model.eval()


def save_model(model, tokenizer, folder) -> str:
    """Save a model and its tokenizer as a local Hugging Face directory; returns its path."""
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return str(folder)
