"""`--backend bundled`: chat template, shared prefills, reasoning split, failures kept per request."""

from __future__ import annotations

import asyncio

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from exaone_eval.reasoning import BUDGET_FORCING_TEXT
from exaone_eval.types import Request, Sampling

USER = ({"role": "user", "content": "w12 w13 w14"},)
TOOLS = ({"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def backend(tiny_backend):
    return tiny_backend


def collect(backend, requests):
    async def go():
        return {i: g async for i, g in backend.generate(requests)}

    return asyncio.run(go())


def greedy(max_tokens=8, **kw):
    return Sampling(temperature=0.0, max_tokens=max_tokens, **kw)


def test_the_chat_template_gets_enable_thinking_from_the_mode_and_the_tools(backend):
    reasoning = backend.render(Request(USER, greedy(), "reasoning", tools=TOOLS))
    plain = backend.render(Request(USER, greedy(), "non-reasoning"))
    assert reasoning == "<bos> user w12 w13 w14 tool assistant <think> "
    assert plain == "<bos> user w12 w13 w14 assistant "


def test_requests_for_the_same_prompt_share_one_prefill(backend):
    before = backend.engine.stats["prefill_tokens"]
    same = [Request(USER, Sampling(1.0, max_tokens=4, seed=s), "non-reasoning") for s in range(3)]
    other = Request(({"role": "user", "content": "w20"},), greedy(4), "non-reasoning")
    out = collect(backend, same + [other])
    assert sorted(out) == [0, 1, 2, 3]
    assert backend.engine.stats["prefill_tokens"] - before == out[0].prompt_tokens + out[3].prompt_tokens


def test_a_generation_reports_tokens_and_finish_reason(backend):
    (gen,) = collect(backend, [Request(USER, greedy(3, stop=("zzz",)), "non-reasoning")]).values()
    assert gen.error is None and gen.prompt_tokens == 6
    assert gen.finish_reason in ("stop", "length") and 1 <= gen.completion_tokens <= 3
    assert gen.reasoning is None and gen.answer == gen.text.strip()


@pytest.mark.parametrize(
    "mode, finish, text, reasoning, answer, closed",
    [
        ("reasoning", "length", "w20 w21", "w20 w21", "", False),  # cut at its cap: unfinished
        ("reasoning", "stop", "w20 </think> w22", "w20", "w22", True),
        ("reasoning", "stop", "w20 w21", None, "w20 w21", True),  # ended on its own without </think>
        ("non-reasoning", "length", "w20 w21", None, "w20 w21", True),
    ],
)
def test_the_reasoning_split_treats_only_a_reasoning_text_cut_at_its_cap_as_unfinished(
    mode, finish, text, reasoning, answer, closed
):
    from exaone_eval.backends.bundled import _generation
    from exaone_eval.model.engine import Completion

    gen = _generation(Request(USER, greedy(), mode), Completion(text, finish, 6, 2))
    assert (gen.text, gen.reasoning, gen.answer, gen.reasoning_closed) == (text, reasoning, answer, closed)


def test_the_budget_forces_the_answer_with_the_report_text(backend):
    requests = [Request(USER, Sampling(1.0, max_tokens=50, seed=s), "reasoning", reasoning_budget=3, answer_max_tokens=4)
                for s in range(12)]
    forced = [g for g in collect(backend, requests).values() if "forced_at" in g.meta]
    assert forced, "no sample reasoned for 3 tokens (the tiny model closed or stopped every time)"
    for gen in forced:
        assert gen.meta["forced_at"] == 3 and BUDGET_FORCING_TEXT in gen.text
        assert gen.reasoning_closed and gen.reasoning.endswith("directly now.")
        assert gen.completion_tokens <= 3 + 4


def test_a_raw_prompt_without_messages_is_continued_without_the_chat_template(backend):
    gen = collect(backend, [Request((), greedy(4), "non-reasoning", prefix="w20 w21 w22")])[0]
    assert gen.error is None and gen.prompt_tokens == 3
    assert gen.text.startswith("w20 w21 w22")


def test_one_failing_request_does_not_fail_the_others(backend):
    too_long = Request(({"role": "user", "content": " ".join(["w20"] * 600)},), greedy(), "non-reasoning")
    bad = Request(USER, Sampling(temperature=-1.0), "non-reasoning")
    good = Request(USER, greedy(4), "non-reasoning")
    out = collect(backend, [too_long, bad, good])
    assert "context" in out[0].error and "temperature" in out[1].error
    assert out[2].error is None and out[2].completion_tokens >= 1


def test_concurrent_generate_calls_share_the_engine(backend):
    async def go():
        async def one(seed):
            return [g async for _, g in backend.generate([Request(USER, Sampling(1.0, max_tokens=5, seed=seed), "non-reasoning")])]

        return await asyncio.gather(one(1), one(2), one(1))

    a, b, c = asyncio.run(go())
    assert a[0].text == c[0].text and a[0].error is None and b[0].error is None


def test_a_missing_checkpoint_is_a_harness_error(tmp_path):
    from exaone_eval.backends.bundled import BundledBackend
    from exaone_eval.types import HarnessError

    with pytest.raises(HarnessError, match="neither a local checkpoint"):
        BundledBackend(str(tmp_path / "nothing-here"))


def test_an_engine_crash_fails_the_waiting_requests_instead_of_hanging(backend, monkeypatch):
    def broken_admit():
        raise RuntimeError("out of memory")

    monkeypatch.setattr(backend.engine, "_admit", broken_admit)
    out = collect(backend, [Request(USER, greedy(4), "non-reasoning"), Request(USER, greedy(4, seed=1), "reasoning")])
    assert sorted(out) == [0, 1] and all("out of memory" in g.error for g in out.values())


def test_a_closed_backend_refuses_work_instead_of_waiting_forever(tmp_path):
    from exaone_eval.backends.bundled import BundledBackend
    from exaone_eval.model.tiny import write_tiny_checkpoint
    from exaone_eval.types import HarnessError

    closed = BundledBackend(str(write_tiny_checkpoint(tmp_path, "hybrid", seed=0)), max_batch=2)
    assert len(collect(closed, [Request(messages=({"role": "user", "content": "hi"},), sampling=greedy(), mode="non-reasoning")])) == 1
    asyncio.run(closed.aclose())
    with pytest.raises(HarnessError, match="the bundled backend was closed"):
        collect(closed, [Request(messages=({"role": "user", "content": "hi"},), sampling=greedy(), mode="non-reasoning")])


def test_a_budget_longer_than_the_context_left_is_capped_and_recorded(backend):
    # The tiny model has 512 positions; 503 words make a 506-token prompt (3 from the template).
    long_prompt = ({"role": "user", "content": " ".join(["w20"] * 503)},)
    (gen,) = collect(backend, [Request(long_prompt, greedy(32768), "non-reasoning")]).values()
    assert gen.error is None and gen.prompt_tokens == 506
    assert gen.max_tokens_capped == {"asked": 32768, "sent": 6, "context": 512}
    assert gen.completion_tokens <= 6


def test_a_budget_that_fits_the_context_is_not_recorded_as_capped(backend):
    (gen,) = collect(backend, [Request(USER, greedy(4), "non-reasoning")]).values()
    assert gen.error is None and gen.max_tokens_capped is None


def test_a_prompt_that_fills_the_context_fails_naming_both_lengths(backend):
    full = ({"role": "user", "content": " ".join(["w20"] * 509)},)
    (gen,) = collect(backend, [Request(full, greedy(8), "non-reasoning")]).values()
    assert gen.error == "the prompt is 512 tokens and the model's context is 512 tokens: no room to generate; it has no more positions"
