"""Reading config.json strictly, the report's presets, and loading that fails naming the tensor or field."""

from __future__ import annotations

import json

import pytest

from exaone_eval.model.config import (
    FULL,
    SLIDING,
    config_from_hf,
    exaone4_1_2b,
    exaone4_32b,
    expand_pattern,
    kv_cache_bytes,
)
from exaone_eval.model.tiny import tiny_config
from exaone_eval.types import HarnessError

L, G = SLIDING, FULL


def test_an_int_pattern_makes_every_pth_layer_global():
    assert expand_pattern(4, 8) == (L, L, L, G, L, L, L, G)


def test_a_string_pattern_repeats_and_ends_on_a_global_layer():
    assert expand_pattern("LLLG", 8) == (L, L, L, G, L, L, L, G)
    assert expand_pattern("LG", 3) == (L, G, G)


@pytest.mark.parametrize("pattern", ["LLXG", "", 0, 2.5, True])
def test_a_malformed_pattern_is_rejected_naming_the_field(pattern):
    with pytest.raises(ValueError, match="sliding_window_pattern"):
        expand_pattern(pattern, 4)


def test_layer_types_win_over_the_pattern():
    raw = tiny_config("hybrid", layer_types=[L, G, L, G])
    assert config_from_hf(raw).layer_types == (L, G, L, G)


def test_the_hybrid_model_ropes_only_its_sliding_layers():
    config = config_from_hf(tiny_config("hybrid"))
    assert [config.layer_uses_rope(i) for i in range(4)] == [True, True, True, False]
    assert [config.layer_window(i) for i in range(4)] == [4, 4, 4, None]


def test_a_null_sliding_window_means_every_layer_is_global_with_rope():
    config = config_from_hf(tiny_config("global", sliding_window_pattern="LLLG"))
    assert config.layer_types == (G,) * 4
    assert all(config.layer_uses_rope(i) for i in range(4))


def test_a_window_without_layer_types_or_pattern_is_rejected():
    with pytest.raises(ValueError, match="sliding_window"):
        config_from_hf(tiny_config("hybrid", sliding_window_pattern=None))


def test_the_32b_preset_follows_table_1():
    c = exaone4_32b()
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
            c.intermediate_size, c.max_position_embeddings, c.vocab_size) == (5120, 64, 40, 8, 128, 27392, 131072, 102400)
    assert c.layer_types.count(L) == 48 and c.layer_types.count(G) == 16 and c.sliding_window == 4096
    assert not c.tie_word_embeddings and c.eos_token_ids == (361,) and c.bos_token_id == 1 and c.pad_token_id == 0
    assert c.rope_scaling.factor == 16 and c.rope_theta == 1e6


def test_the_1_2b_preset_follows_table_1():
    c = exaone4_1_2b()
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
            c.intermediate_size, c.max_position_embeddings) == (2048, 30, 32, 8, 64, 4096, 65536)
    assert c.layer_types == (G,) * 30 and c.sliding_window is None and c.tie_word_embeddings


def test_the_32b_kv_cache_at_128k_is_under_30_percent_of_full_attention():
    c = exaone4_32b()
    full = 2 * c.num_key_value_heads * c.head_dim * 2 * 131072 * c.num_hidden_layers
    assert kv_cache_bytes(c, 131072) / full < 0.30


def test_transformers_4_rope_scaling_and_5_rope_parameters_read_the_same():
    old = tiny_config("llama")
    new = dict(old)
    scaling = new.pop("rope_scaling")
    new["rope_parameters"] = {**scaling, "rope_theta": new.pop("rope_theta")}
    assert config_from_hf(old) == config_from_hf(new)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "yarn"),
        ({"hidden_act": "gelu"}, "hidden_act"),
        ({"attention_bias": True}, "attention_bias"),
        ({"model_type": "gemma2"}, "model_type"),
        ({"num_key_value_heads": 3}, "num_key_value_heads"),
        ({"some_new_knob": 1}, "some_new_knob"),
        ({"hidden_size": None}, "hidden_size"),
        ({"rope_theta": None}, "rope_theta"),
        ({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, "low_freq_factor"),
    ],
)
def test_an_unsupported_or_missing_field_is_rejected_by_name(change, field):
    with pytest.raises(ValueError, match=field):
        config_from_hf({**tiny_config("hybrid"), **change})


# ---- loading ------------------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path):
    pytest.importorskip("torch")
    from exaone_eval.model.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path / "ckpt", "hybrid", tokenizer=False)


def _rewrite(folder, edit):
    from safetensors.torch import load_file, save_file

    tensors = load_file(folder / "model.safetensors")
    edit(tensors)
    save_file(tensors, str(folder / "model.safetensors"))


def test_load_model_returns_logits_batch_by_seq_by_vocab(folder):
    import torch

    from exaone_eval.model import load_model

    model = load_model(folder)
    logits = model(torch.tensor([[1, 2, 3], [4, 5, 6]]))
    assert logits.shape == (2, 3, 64) and logits.dtype == torch.float32


def test_load_model_honours_dtype(folder):
    import torch

    from exaone_eval.model import load_model

    assert load_model(folder, dtype="bfloat16").lm_head.weight.dtype == torch.bfloat16


def test_a_missing_tensor_is_named(folder):
    from exaone_eval.model import load_model

    _rewrite(folder, lambda t: t.pop("model.layers.2.self_attn.k_norm.weight"))
    with pytest.raises(HarnessError, match=r"missing tensor\(s\) model\.layers\.2\.self_attn\.k_norm\.weight"):
        load_model(folder)


def test_an_unexpected_tensor_is_named(folder):
    import torch

    from exaone_eval.model import load_model

    _rewrite(folder, lambda t: t.update({"model.layers.0.input_layernorm.weight": torch.ones(32)}))
    with pytest.raises(HarnessError, match=r"unexpected tensor\(s\) model\.layers\.0\.input_layernorm\.weight"):
        load_model(folder)


def test_a_wrong_shape_is_named_with_both_shapes(folder):
    import torch

    from exaone_eval.model import load_model

    _rewrite(folder, lambda t: t.update({"model.layers.1.mlp.up_proj.weight": torch.zeros(63, 32)}))
    with pytest.raises(HarnessError, match=r"model\.layers\.1\.mlp\.up_proj\.weight has shape \[63, 32\], expected \[64, 32\]"):
        load_model(folder)


def test_a_bad_config_field_is_named_with_the_file(folder):
    from exaone_eval.model import load_model

    raw = json.loads((folder / "config.json").read_text())
    raw["sliding_window_pattern"] = "LLQG"
    (folder / "config.json").write_text(json.dumps(raw))
    with pytest.raises(HarnessError, match=r"config\.json: .*sliding_window_pattern"):
        load_model(folder)


def test_sharded_checkpoints_load_through_their_index(folder):
    import torch
    from safetensors.torch import load_file, save_file

    from exaone_eval.model import load_model

    reference = load_model(folder)(torch.tensor([[5, 6, 7]]))
    tensors = load_file(folder / "model.safetensors")
    names = sorted(tensors)
    shards = {"a.safetensors": names[: len(names) // 2], "b.safetensors": names[len(names) // 2:]}
    for shard, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, str(folder / shard))
    (folder / "model.safetensors").unlink()
    index = {"weight_map": {k: shard for shard, keys in shards.items() for k in keys}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    assert torch.equal(load_model(folder)(torch.tensor([[5, 6, 7]])), reference)
