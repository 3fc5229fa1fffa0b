"""Tiny random checkpoints and a word-level tokenizer with a chat template, built locally.

For tests (and anyone wiring the bundled backend into something new) that need a real
HF-layout checkpoint directory without the Hub: `write_tiny_checkpoint(dir)` writes
config.json + model.safetensors (+ the tokenizer files with `tokenizer=True`).

The tokenizer splits on whitespace; its words are the specials below, the chat roles, and
`w<N>` for the rest of the vocabulary. Decoding joins tokens with spaces, so any text made of
these words round-trips exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>", "<think>", "</think>", "user", "assistant", "system", "tool"]
PAD, BOS, EOS = 0, 1, 2

# Renders "<bos> user w12 w13 assistant <think> " (roles and contents as words); `tools` adds "tool".
CHAT_TEMPLATE = (
    "{{ bos_token }} "
    "{%- for m in messages %} {{ m['role'] }} {{ m['content'] }}{% endfor -%}"
    "{%- if tools %} tool{% endif -%}"
    "{%- if add_generation_prompt %} assistant {% if enable_thinking %}<think> {% endif %}{% endif -%}"
)

KINDS = ("hybrid", "global", "llama")
# The released checkpoints' layouts at test size (`release_layout_config`).
RELEASE_KINDS = ("32b", "1.2b")


def tiny_config(kind: str = "hybrid", **overrides) -> dict:
    """An HF config.json dict: `hybrid` (EXAONE 4.0 32B layout: LLLG, window 4, NoPE globals),
    `global` (EXAONE 4.0 1.2B layout: all global with RoPE, tied), `llama` (pre-norm)."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}; expected one of {KINDS}")
    config = {
        "model_type": "llama" if kind == "llama" else "exaone4",
        "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "rms_norm_eps": 1e-5,
        "max_position_embeddings": 512, "tie_word_embeddings": kind == "global",
        "bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD,
        "rope_theta": 10000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
    }
    if kind == "hybrid":
        config.update(sliding_window=4, sliding_window_pattern="LLLG")
    elif kind == "global":
        config.update(sliding_window=None)
    config.update(overrides)
    return config


def release_layout_config(kind: str = "32b", **overrides) -> dict:
    """config.json laid out as the released EXAONE 4.0 checkpoints lay it out, at test size.

    `32b`: `layer_types` spelled out (LLLG: three sliding layers with RoPE, then a global NoPE
    layer) beside `sliding_window_pattern` and `sliding_window`, untied embeddings. `1.2b`: every
    layer `full_attention` with RoPE, `sliding_window` null, tied embeddings. Both: llama3 RoPE
    scaling over `rope_theta` 1e6, `architectures`, `torch_dtype`. Other engines read these keys
    differently, which is what the three-way parity test is for: transformers' Exaone4Config
    fails on `"sliding_window_pattern": "LLLG"` without `layer_types`, and vLLM reads the layout
    only from `layer_types`. head_dim is 64 because vLLM's CPU attention refuses smaller heads;
    the window (8) stays tiny so that short prompts already cross it.
    """
    if kind not in RELEASE_KINDS:
        raise ValueError(f"kind {kind!r}; expected one of {RELEASE_KINDS}")
    layers = 4
    hybrid = kind == "32b"
    config = {
        "architectures": ["Exaone4ForCausalLM"], "model_type": "exaone4", "torch_dtype": "float32",
        "vocab_size": 64, "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": layers,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64, "hidden_act": "silu",
        "rms_norm_eps": 1e-5, "max_position_embeddings": 2048, "tie_word_embeddings": not hybrid,
        "bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD,
        "rope_theta": 1000000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 16.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 128},
        "sliding_window": 8 if hybrid else None,
        "sliding_window_pattern": "LLLG",
        "layer_types": ["full_attention" if not hybrid or i % 4 == 3 else "sliding_attention" for i in range(layers)],
        "use_cache": True,
    }
    config.update(overrides)
    return config


def write_tiny_checkpoint(path: str | Path, kind: str = "hybrid", seed: int = 0, tokenizer: bool = True,
                          **overrides) -> Path:
    """A random checkpoint of the given kind at `path` (weights scaled for peaked logits): one of
    KINDS (`tiny_config`) or RELEASE_KINDS (`release_layout_config`)."""
    import torch
    from safetensors.torch import save_file

    from exaone_eval.model.config import config_from_hf
    from exaone_eval.model.modeling import ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    raw = release_layout_config(kind, **overrides) if kind in RELEASE_KINDS else tiny_config(kind, **overrides)
    config = config_from_hf(raw)
    torch.manual_seed(seed)
    model = ForCausalLM(config)
    tensors = {}
    for name, p in model.named_parameters():  # a tied lm_head appears once, as the embedding
        if name.endswith("norm.weight"):
            value = 1.0 + 0.2 * torch.randn(p.shape)
        elif name.endswith("embed_tokens.weight"):
            value = torch.randn(p.shape)
            if kind in RELEASE_KINDS and raw["tie_word_embeddings"]:
                # Tied and at full scale, a token's own embedding dominates the residual stream and
                # the logits (|e|^2 against e.e'), so the model only ever repeats its last token;
                # smaller, the layers decide and k samples differ.
                value = value * 0.2
        else:
            value = torch.randn(p.shape) * 2.0 / p.shape[1] ** 0.5
        tensors[name] = value.contiguous()
    save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps(raw, indent=2))
    if tokenizer:
        write_tiny_tokenizer(path, raw["vocab_size"])
    return path


def write_tiny_tokenizer(path: str | Path, vocab_size: int, chat_template: str = CHAT_TEMPLATE) -> Path:
    """tokenizer.json + tokenizer_config.json (with the chat template) for a whitespace word vocab."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    if vocab_size <= len(SPECIALS):
        raise ValueError(f"vocab_size must exceed {len(SPECIALS)}")
    vocab = {word: i for i, word in enumerate(SPECIALS)}
    vocab.update({f"w{i}": i for i in range(len(SPECIALS), vocab_size)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>",
                                   pad_token="<pad>", unk_token="<unk>")
    fast.chat_template = chat_template
    fast.save_pretrained(str(path))
    return Path(path)
