"""The bundled engine: sampling as defined, seeds, forked prefills, budget forcing, stops, the ring cache."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers import CPU_KERNELS, pack_for_cpu

from exaone_eval.model import load_model
from exaone_eval.model.engine import Continuation, Engine, PromptGroup
from exaone_eval.model.sampling import (
    apply_presence_penalty,
    choose_tokens,
    uniform_draw,
)
from exaone_eval.model.tiny import write_tiny_checkpoint
from exaone_eval.types import Sampling

PROMPT = "<bos> user w12 w13 w14 w15 w16 assistant <think> "
FORCE = " w30 w31 </think> "  # the tiny vocabulary's stand-in for BUDGET_FORCING_TEXT


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("hybrid"), "hybrid", seed=0)


@pytest.fixture(scope="module", params=["plain", *CPU_KERNELS])
def engine_parts(request, checkpoint):
    """The model as loaded, and as the bundled backend runs it on CPU (packed for each CPU kernel)."""
    from exaone_eval.tokenizer import checkpoint_tokenizer

    model = load_model(checkpoint)
    if request.param != "plain":
        pack_for_cpu(model, request.param)
    return model, checkpoint_tokenizer(checkpoint)


def make_engine(engine_parts, max_batch=8):
    model, tokenizer = engine_parts
    return Engine(model, tokenizer, max_batch=max_batch)


def sampled(seed, max_tokens=24, **kw):
    return Continuation(Sampling(temperature=1.0, top_p=0.95, max_tokens=max_tokens, seed=seed, **kw.pop("s", {})), **kw)


def one(engine, cont, prompt=PROMPT, prefix=""):
    return engine.generate([PromptGroup(prompt, (cont,), prefix=prefix)])[0][0]


# ---- sampling as defined -------------------------------------------------------------------------


def test_presence_penalty_subtracts_the_penalty_from_every_token_already_in_the_output():
    logits = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    seen = torch.tensor([[False, True, False, True], [True, False, False, False]])
    out = apply_presence_penalty(logits, torch.tensor([1.5, 0.0]), seen)
    assert out.tolist() == [[1.0, 0.5, 3.0, 2.5], [1.0, 2.0, 3.0, 4.0]]


def test_inverse_cdf_sampling_reproduces_the_softmax_at_the_temperature():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    n = 4000
    uniforms = [(i + 0.5) / n for i in range(n)]  # an even grid of draws: counts are the distribution
    tokens = choose_tokens(logits.expand(n, -1), [0.7] * n, [1.0] * n, [-1] * n, uniforms)
    counts = torch.bincount(torch.tensor(tokens), minlength=4).float() / n
    assert torch.allclose(counts, (logits[0] / 0.7).softmax(-1), atol=1e-3)


def test_top_p_keeps_the_smallest_head_reaching_p_and_renormalises():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    n = 1000
    uniforms = [(i + 0.5) / n for i in range(n)]
    tokens = choose_tokens(logits.expand(n, -1), [1.0] * n, [0.8] * n, [-1] * n, uniforms)
    counts = torch.bincount(torch.tensor(tokens), minlength=4).float() / n
    assert torch.allclose(counts, torch.tensor([0.625, 0.375, 0.0, 0.0]), atol=2e-3)


def test_top_k_keeps_only_the_k_most_likely_tokens():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    n = 500
    tokens = choose_tokens(logits.expand(n, -1), [1.0] * n, [1.0] * n, [2] * n, [(i + 0.5) / n for i in range(n)])
    assert set(tokens) == {1, 3}


def test_temperature_zero_is_greedy_and_draws_nothing():
    logits = torch.tensor([[0.0, 3.0, 1.0], [5.0, 1.0, 0.0]])
    assert choose_tokens(logits, [0.0, 0.0], [1.0, 1.0], [-1, -1], [None, None]) == [1, 0]


def test_a_draw_depends_only_on_the_seed_and_the_position():
    g1, g2 = torch.Generator(), torch.Generator()
    assert uniform_draw(g1, 7, 100) == uniform_draw(g2, 7, 100)
    assert uniform_draw(g1, 7, 100) != uniform_draw(g1, 8, 100)
    assert uniform_draw(g1, 7, 100) != uniform_draw(g1, 7, 101)


# ---- seeds and forks -----------------------------------------------------------------------------


def test_the_same_seed_reproduces_a_sample(engine_parts):
    a = one(make_engine(engine_parts), sampled(11))
    b = one(make_engine(engine_parts), sampled(11))
    assert a.token_ids == b.token_ids and len(a.token_ids) > 0


def test_different_seeds_give_different_samples(engine_parts):
    a = one(make_engine(engine_parts), sampled(11))
    b = one(make_engine(engine_parts), sampled(12))
    assert a.token_ids != b.token_ids


def test_k_forked_samples_equal_k_independent_runs_under_the_same_seeds(engine_parts):
    engine = make_engine(engine_parts)
    forked = engine.generate([PromptGroup(PROMPT, tuple(sampled(seed) for seed in (1, 2, 3)))])[0]
    prompt_tokens = forked[0].prompt_tokens
    assert engine.stats["prefill_tokens"] == prompt_tokens  # one prefill for the three samples
    for seed, completion in zip((1, 2, 3), forked):
        assert completion.token_ids == one(make_engine(engine_parts), sampled(seed)).token_ids


def test_a_large_presence_penalty_stops_greedy_decoding_from_repeating_a_token(engine_parts):
    greedy = one(make_engine(engine_parts), Continuation(Sampling(0.0, max_tokens=30), ignore_eos=True))
    assert len(set(greedy.token_ids)) < len(greedy.token_ids)  # the tiny model repeats itself ...
    penalised = one(make_engine(engine_parts),
                    Continuation(Sampling(0.0, max_tokens=30, presence_penalty=1000.0), ignore_eos=True))
    assert len(set(penalised.token_ids)) == len(penalised.token_ids)  # ... unless penalised


def test_the_prefix_counts_as_output_for_the_presence_penalty(engine_parts):
    prefix = "w20 w21 w22 w23 w24 w25 w26 w27"
    out = one(make_engine(engine_parts), Continuation(Sampling(0.0, max_tokens=20, presence_penalty=1000.0), ignore_eos=True),
              prefix=prefix)
    assert not set(out.token_ids) & {20, 21, 22, 23, 24, 25, 26, 27}
    assert out.text.startswith(prefix)


# ---- budget forcing ------------------------------------------------------------------------------


def _forced_seed(engine_parts, budget):
    """A seed whose reasoning runs to the budget (the random model may close it or stop early)."""
    for seed in range(40):
        c = one(make_engine(engine_parts), sampled(seed, max_tokens=200, reasoning_budget=budget,
                                                   answer_max_tokens=12, forcing_text=FORCE, s={"presence_penalty": 0.5}))
        if c.forced_at == budget:
            return seed, c
    pytest.fail("no seed ran its reasoning to the budget")


def test_the_budget_stops_the_reasoning_appends_the_forcing_text_and_caps_the_answer(engine_parts):
    _, c = _forced_seed(engine_parts, 16)
    reasoning = engine_parts[1].decode(list(c.token_ids[:16]), skip_special_tokens=False)
    assert c.text.startswith(reasoning + FORCE)
    assert 16 < c.completion_tokens <= 16 + 12


def test_a_longer_budget_truncated_and_forced_equals_a_direct_run_token_for_token(engine_parts):
    seed, long = _forced_seed(engine_parts, 16)
    budget = 6
    kw = dict(answer_max_tokens=12, forcing_text=FORCE, s={"presence_penalty": 0.5})
    direct = one(make_engine(engine_parts), sampled(seed, max_tokens=200, reasoning_budget=budget, **kw))
    assert direct.forced_at == budget
    assert direct.token_ids[:budget] == long.token_ids[:budget]  # same draws up to the budget
    prefix = engine_parts[1].decode(list(long.token_ids[:budget]), skip_special_tokens=False) + FORCE
    resumed = one(make_engine(engine_parts), sampled(seed, max_tokens=200, **kw), prefix=prefix)
    assert resumed.token_ids == direct.token_ids[budget:]
    assert resumed.text == direct.text


# ---- stops and caps ------------------------------------------------------------------------------


def test_a_stop_string_ends_the_text_before_it(engine_parts):
    free = one(make_engine(engine_parts), Continuation(Sampling(0.0, max_tokens=12), ignore_eos=True))
    words = free.text.split()
    stop = words[5]
    cut = one(make_engine(engine_parts), Continuation(Sampling(0.0, max_tokens=12, stop=(stop,)), ignore_eos=True))
    assert cut.finish_reason == "stop"
    assert cut.text == free.text[: free.text.index(stop)]


def test_an_eos_token_from_the_config_list_stops_generation(engine_parts, tmp_path):
    free = one(make_engine(engine_parts), Continuation(Sampling(0.0, max_tokens=12), ignore_eos=True))
    token = free.token_ids[3]
    first = free.token_ids.index(token)
    folder = write_tiny_checkpoint(tmp_path, "hybrid", seed=0, eos_token_id=[2, token])
    from exaone_eval.tokenizer import checkpoint_tokenizer

    engine = Engine(load_model(folder), checkpoint_tokenizer(folder))
    stopped = one(engine, Continuation(Sampling(0.0, max_tokens=12)))
    assert stopped.finish_reason == "stop"
    assert stopped.token_ids == free.token_ids[: first + 1]
    assert stopped.completion_tokens == first + 1


def test_max_tokens_ends_with_finish_reason_length(engine_parts):
    c = one(make_engine(engine_parts), Continuation(Sampling(0.0, max_tokens=7), ignore_eos=True))
    assert c.finish_reason == "length" and c.completion_tokens == 7


def test_more_samples_than_rows_are_admitted_as_rows_free_up(engine_parts):
    engine = make_engine(engine_parts, max_batch=2)
    out = engine.generate([PromptGroup(PROMPT, tuple(sampled(s, max_tokens=5 + s) for s in range(5)))])[0]
    assert [c.completion_tokens <= 5 + s for s, c in enumerate(out)] == [True] * 5
    for s, c in enumerate(out):
        assert c.token_ids == one(make_engine(engine_parts), sampled(s, max_tokens=5 + s)).token_ids


def test_an_invalid_sample_fails_alone(engine_parts):
    engine = make_engine(engine_parts)
    bad = Continuation(Sampling(temperature=-1.0, max_tokens=4))
    good = Continuation(Sampling(0.0, max_tokens=4), ignore_eos=True)
    out = engine.generate([PromptGroup(PROMPT, (bad, good))])[0]
    assert "temperature" in out[0].error
    assert out[1].error is None and out[1].completion_tokens == 4


def test_a_prompt_longer_than_the_context_fails_with_an_error(engine_parts):
    long_prompt = "<bos> " + " ".join(["w20"] * 600)
    c = one(make_engine(engine_parts), Continuation(Sampling(0.0, max_tokens=4)), prompt=long_prompt)
    assert c.error is not None and "context" in c.error


# ---- the KV cache --------------------------------------------------------------------------------


def test_sliding_layers_keep_only_a_window_of_keys_however_long_the_context(engine_parts):
    model, _ = engine_parts
    cache = model.new_cache(1)
    model(torch.randint(0, 64, (1, 100)), cache)
    for i in range(model.config.num_hidden_layers):
        slots = cache.keys[i].shape[2]
        assert slots == 4 if model.config.layer_window(i) else slots >= 100


def test_cancelled_samples_are_dropped_without_a_completion(engine_parts):
    import threading

    engine = make_engine(engine_parts)
    cancel = threading.Event()
    long = Continuation(Sampling(0.0, max_tokens=200), ignore_eos=True)
    short = Continuation(Sampling(0.0, max_tokens=3), ignore_eos=True)
    results = {}
    engine.submit(PromptGroup(PROMPT, (long, long), cancel=cancel), lambda i, c: results.setdefault(("long", i), c))
    engine.submit(PromptGroup(PROMPT, (short,)), lambda i, c: (results.setdefault(("short", i), c), cancel.set()))
    engine.run()
    assert list(results) == [("short", 0)]
    assert engine.stats["decode_tokens"] < 3 * 3  # the long rows stopped with the short one
