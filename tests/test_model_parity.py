"""The bundled model against transformers' own EXAONE 4.0 and Llama, on tiny random weights.

Each case builds the transformers model from a config, saves it with save_pretrained, loads the
folder with `load_model`, and compares: fp32 logits on a sequence much longer than the sliding
window, cached decoding against a full forward, and greedy generation against `generate`.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from helpers import CPU_KERNELS, pack_for_cpu

from exaone_eval.model import load_model
from exaone_eval.model.tiny import write_tiny_tokenizer

VOCAB = 96
ROPE = {"rope_type": "llama3", "rope_theta": 1e6, "factor": 16.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 32}
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_attention_heads=4,
              num_key_value_heads=2, head_dim=16, max_position_embeddings=512, rope_parameters=ROPE,
              bos_token_id=1, eos_token_id=2, pad_token_id=0)
CASES = {
    # EXAONE 4.0 32B layout: LLLG, sliding layers with RoPE, global layers NoPE; untied.
    "exaone4-hybrid-untied": ("exaone4", dict(num_hidden_layers=4, sliding_window=4, sliding_window_pattern=4)),
    # EXAONE 4.0 1.2B layout: every layer global with RoPE; tied.
    "exaone4-global-tied": ("exaone4", dict(num_hidden_layers=3, sliding_window=None,
                                            layer_types=["full_attention"] * 3, tie_word_embeddings=True)),
    "exaone4-global-untied": ("exaone4", dict(num_hidden_layers=2, sliding_window=None,
                                              layer_types=["full_attention"] * 2, tie_word_embeddings=False)),
    "llama-tied": ("llama", dict(num_hidden_layers=3, tie_word_embeddings=True)),
    "llama-untied": ("llama", dict(num_hidden_layers=2, tie_word_embeddings=False)),
}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _hf_model(family: str, extra: dict):
    if family == "exaone4":
        config = transformers.Exaone4Config(**COMMON, **extra)
        model = transformers.Exaone4ForCausalLM(config)
    else:
        config = transformers.LlamaConfig(**COMMON, **extra)
        model = transformers.LlamaForCausalLM(config)
    torch.manual_seed(0)
    with torch.no_grad():  # weights large enough for peaked logits; norms away from 1
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif p.dim() == 2:
                p.copy_(torch.randn_like(p) * (1.0 if "embed" in name else 2.0 / p.shape[1] ** 0.5))
    return model.eval()


@pytest.fixture(scope="module", params=list(CASES))
def pair(request, tmp_path_factory):
    family, extra = CASES[request.param]
    hf = _hf_model(family, extra)
    folder = tmp_path_factory.mktemp(request.param)
    hf.save_pretrained(folder)
    write_tiny_tokenizer(folder, VOCAB)
    return request.param, hf, load_model(folder), folder


def test_logits_match_transformers_on_sequences_longer_than_the_window(pair):
    name, hf, ours, _ = pair
    ids = torch.randint(0, VOCAB, (2, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hf(ids).logits
    got = ours(ids)
    assert got.shape == (2, 40, VOCAB)
    assert (got - expected).abs().max().item() <= 1e-4, name


def test_cached_decoding_token_by_token_and_in_chunks_equals_a_full_forward(pair):
    _, _, ours, _ = pair
    ids = torch.randint(0, VOCAB, (1, 30), generator=torch.Generator().manual_seed(2))
    full = ours(ids)
    cache = ours.new_cache(1)
    steps = [ours(ids[:, :9], cache)] + [ours(ids[:, t:t + 1], cache) for t in range(9, 30)]
    assert (torch.cat(steps, 1) - full).abs().max().item() <= 1e-4
    cache = ours.new_cache(1)  # chunks longer than the window exercise the ring's wrap-around
    chunks = [ours(ids[:, a:b], cache) for a, b in ((0, 3), (3, 12), (12, 13), (13, 30))]
    assert (torch.cat(chunks, 1) - full).abs().max().item() <= 1e-4


def test_rows_of_different_lengths_decode_together_as_they_would_alone(pair):
    _, _, ours, _ = pair
    gen = torch.Generator().manual_seed(3)
    a, b = torch.randint(0, VOCAB, (1, 17), generator=gen), torch.randint(0, VOCAB, (1, 6), generator=gen)
    cache_a, cache_b = ours.new_cache(1), ours.new_cache(1)
    ours(a[:, :12], cache_a)
    ours(b[:, :1], cache_b)
    cache_a.extend(cache_b)  # row 0 at position 12, row 1 at position 1
    steps = [ours(torch.cat([a[:, 12 + t:13 + t], b[:, 1 + t:2 + t]]), cache_a) for t in range(5)]
    together = torch.cat(steps, 1)
    assert (together[0] - ours(a)[0, 12:17]).abs().max().item() <= 1e-4
    assert (together[1] - ours(b)[0, 1:6]).abs().max().item() <= 1e-4


@pytest.mark.parametrize("kernel", CPU_KERNELS)
def test_the_cpu_packed_model_matches_transformers_too(pair, kernel):
    name, hf, _, folder = pair
    packed = load_model(folder)
    pack_for_cpu(packed, kernel)
    ids = torch.randint(0, VOCAB, (2, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hf(ids).logits
    # The packed kernels add in other orders than torch (and the AVX2 RMSNorm's sum of squares can
    # differ by an ulp), which grows through the layers to ~1.5e-4 on these logits of magnitude ~20;
    # the model as loaded holds 1e-4, and greedy decoding below stays token-identical.
    assert (packed(ids) - expected).abs().max().item() <= (1e-4 if kernel == "onednn" else 3e-4), name


@pytest.mark.parametrize("packed", ["plain", *CPU_KERNELS])
def test_greedy_generation_is_token_identical_to_transformers_generate(pair, packed):
    from exaone_eval.tokenizer import checkpoint_tokenizer
    from exaone_eval.model.engine import Continuation, Engine, PromptGroup
    from exaone_eval.types import Sampling

    _, hf, ours, folder = pair
    if packed != "plain":
        ours = load_model(folder)
        pack_for_cpu(ours, packed)
    tokenizer = checkpoint_tokenizer(folder)
    prompts = ["<bos> user w20 w31 w42 assistant", "<bos> user " + " ".join(f"w{10 + i}" for i in range(23)) + " assistant"]
    greedy = Continuation(Sampling(temperature=0.0, max_tokens=64), ignore_eos=True)
    engine = Engine(ours, tokenizer, max_batch=4)
    got = engine.generate([PromptGroup(p, (greedy,)) for p in prompts])  # both rows in one batch
    for prompt, (completion,) in zip(prompts, got):
        ids = torch.tensor([tokenizer.encode(prompt, add_special_tokens=False)])
        with torch.no_grad():
            out = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=64, min_new_tokens=64,
                              do_sample=False, eos_token_id=None, pad_token_id=0)
        assert list(completion.token_ids) == out[0, ids.shape[1]:].tolist()
