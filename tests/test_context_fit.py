"""Requests that fit the server's context (issue 18): vLLM's refusals read, budgets capped, caps counted.

The messages below are vLLM's own wording, one per release line (exaone_eval/backends/context.py
names the file and function of each); the fake server (exaone_eval/fake_server.py) answers with
the same wording, counting a word of the prompt as a token.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from exaone_eval.backends.context import Overflow, cap_record, fit_max_tokens, parse_overflow, served_context
from exaone_eval.backends.openai import OpenAIBackend
from exaone_eval.fake_server import VLLM_STYLES, context_refusal
from exaone_eval.types import Request, Sampling

# (vLLM release line, message, what it says)
MESSAGES = [
    ("<=0.9", "This model's maximum context length is 8192 tokens. However, you requested 32868 tokens (100 in the "
              "messages, 32768 in the completion). Please reduce the length of the messages or completion.",
     Overflow(context=8192, prompt=100)),
    ("0.10-0.17", "'max_tokens' or 'max_completion_tokens' is too large: 32768. This model's maximum context length is "
                  "8192 tokens and your request has 100 input tokens (32768 > 8192 - 100).",
     Overflow(context=8192, prompt=100)),
    ("0.10-0.17 prompt alone", "This model's maximum context length is 8192 tokens. However, your request has 9000 "
                               "input tokens. Please reduce the length of the input messages.",
     Overflow(context=8192, prompt=9000)),
    ("0.20-0.30", "max_tokens=32768 cannot be greater than max_model_len=max_total_tokens=8192. Please request fewer "
                  "output tokens.", Overflow(context=8192)),
    ("0.34", "max_tokens=32768 cannot be greater than max_model_len=8192. Please request fewer output tokens.",
     Overflow(context=8192)),
    ("0.17 (no space)", "max_completion_tokens=32768cannot be greater than max_model_len=max_total_tokens=8192. "
                        "Please request fewer output tokens.", Overflow(context=8192)),
    ("0.14 completions", "'max_tokens' (32768) cannot be greater than the model's maximum context length (8192).",
     Overflow(context=8192)),
    ("0.20-0.30 exact", "This model's maximum context length is 8192 tokens. However, you requested 4096 output tokens "
                        "and your prompt contains 5000 input tokens, for a total of 9096 tokens. Please reduce the "
                        "length of the input prompt or the number of requested output tokens.",
     Overflow(context=8192, prompt=5000)),
    ("0.20-0.30 at least", "This model's maximum context length is 8192 tokens. However, you requested 4096 output "
                           "tokens and your prompt contains at least 4097 input tokens, for a total of at least 8193 "
                           "tokens. Please reduce the length of the input prompt or the number of requested output tokens.",
     Overflow(context=8192, prompt_at_least=4097)),
    ("0.20-0.30 characters", "This model's maximum context length is 8192 tokens. However, you requested 4096 output "
                             "tokens and your prompt contains 100000 characters (more than 40960 characters, which is "
                             "the upper bound for 4096 input tokens). Please reduce the length of the input prompt or "
                             "the number of requested output tokens.", Overflow(context=8192, prompt_at_least=4097)),
    ("0.34 prompt alone", "This model's maximum context length is 8192 tokens. However, your prompt contains at least "
                          "8193 input tokens, which exceeds this limit even without any output tokens. Please reduce "
                          "the length of the input prompt.", Overflow(context=8192, prompt_at_least=8193)),
    ("0.20-0.34 get_max_tokens", "Input length (9000) exceeds model's maximum context length (8192).",
     Overflow(context=8192, prompt=9000)),
]


@pytest.mark.parametrize("release, message, says", MESSAGES, ids=[m[0] for m in MESSAGES])
def test_every_vllm_wording_of_a_context_refusal_is_read(release, message, says):
    assert parse_overflow(message) == says


def test_other_bad_requests_are_not_taken_for_context_refusals():
    assert parse_overflow("The model `m` does not exist.") is None
    assert parse_overflow("max_tokens must be at least 1, got 0.") is None


def test_on_the_completions_endpoint_the_renderers_context_is_only_a_bound_on_the_prompt():
    # vLLM 0.10-0.14's renderer states N - max_tokens as the "maximum context length" there.
    said = parse_overflow("This model's maximum context length is 4096 tokens. However, your request has 5000 "
                          "input tokens. Please reduce the length of the input messages.", completions=True)
    assert said == Overflow(context=None, prompt_at_least=4097) and said.room is None


def test_the_room_is_the_context_less_the_prompt():
    assert Overflow(context=8192, prompt=1192).room == 7000
    assert Overflow(context=8192, prompt=8192).prompt_alone_too_long
    assert not Overflow(context=8192, prompt_at_least=4097).prompt_alone_too_long


def test_max_tokens_is_capped_at_the_room_or_at_context_less_one_when_the_prompt_is_unknown():
    assert fit_max_tokens(32768, None) == 32768
    assert fit_max_tokens(32768, 8192) == 8191
    assert fit_max_tokens(32768, 8192, prompt=1192) == 7000
    assert fit_max_tokens(100, 8192, prompt=1192) == 100


def test_a_cap_is_recorded_only_below_the_budget():
    assert cap_record(32768, 7000, 8192) == {"asked": 32768, "sent": 7000, "context": 8192}
    assert cap_record(100, 100, 8192) is None


def test_the_context_is_read_from_the_served_models_card():
    cards = [{"id": "a", "max_model_len": 8192}, {"id": "b", "max_model_len": 40000}]
    assert served_context(cards, "b") == 40000
    assert served_context(cards, "c") is None  # two models, neither the one asked for
    assert served_context([{"id": "x", "max_model_len": 8192}], "c") == 8192  # one model is the one served
    assert served_context([{"id": "x", "object": "model"}], "x") is None  # a server that does not say


@pytest.mark.parametrize("style", VLLM_STYLES)
def test_the_fake_servers_refusals_are_read_back_with_its_own_numbers(style):
    message = context_refusal(style, 8192, 1192, 32768)
    said = parse_overflow(message)
    assert said is not None and said.context == 8192
    assert said.prompt in (1192, None)


# ---- the openai backend against the fake vLLM -------------------------------------------------------

WORDS = 1000  # the prompt's "tokens" on the fake server (one per word)


def _request(words: int = WORDS, max_tokens: int = 32768) -> Request:
    content = " ".join(["w"] * (words - 1))  # the fake counts tools too: `null` is one more word
    return Request(messages=({"role": "user", "content": content},), sampling=Sampling(temperature=0.0, max_tokens=max_tokens),
                   mode="non-reasoning")


def _generate(server, request: Request, check: bool = True):
    backend = OpenAIBackend([server.url], model="fake", backoff_base=0.01)

    async def go():
        if check:
            await backend.check()
        out = [g async for _, g in backend.generate([request])]
        await backend.aclose()
        return out[0]

    return asyncio.run(go())


def _budget(body: dict) -> dict:
    """The fake model answers with the max_tokens it may generate."""
    return {"content": f"max_tokens={body['max_tokens']}", "completion_tokens": 2}


@pytest.mark.parametrize("style", VLLM_STYLES)
def test_a_server_that_states_its_context_gets_a_budget_that_fits(fake_server, style):
    server = fake_server(_budget, max_model_len=8192, vllm=style)
    gen = _generate(server, _request())
    assert gen.error is None
    assert gen.text == "max_tokens=7192"
    assert gen.max_tokens_capped == {"asked": 32768, "sent": 7192, "context": 8192}
    assert all(body["max_tokens"] <= 8191 for body in server.requests)


@pytest.mark.parametrize("style", ["0.8", "0.10"])
def test_a_server_that_does_not_state_its_context_gets_one_retry_with_the_cap_it_states(fake_server, style):
    server = fake_server(_budget, max_model_len=8192, vllm=style, states_context=False)
    gen = _generate(server, _request())
    assert gen.error is None and gen.text == "max_tokens=7192"
    assert [body["max_tokens"] for body in server.requests] == [32768, 7192]
    assert gen.max_tokens_capped == {"asked": 32768, "sent": 7192, "context": 8192}
    assert server.tokenized == []  # the refusal said the prompt's length


@pytest.mark.parametrize("style", ["0.20", "0.34"])
def test_a_refusal_that_does_not_give_the_prompts_length_asks_the_servers_tokenize(fake_server, style):
    server = fake_server(_budget, max_model_len=8192, vllm=style, states_context=False)
    gen = _generate(server, _request())
    assert gen.error is None and gen.text == "max_tokens=7192"
    assert [body["max_tokens"] for body in server.requests] == [32768, 7192]
    assert len(server.tokenized) == 1 and server.tokenized[0]["messages"] == list(_request().messages)
    assert gen.max_tokens_capped == {"asked": 32768, "sent": 7192, "context": 8192}


def test_without_tokenize_a_refusal_without_the_prompts_length_fails_saying_so(fake_server):
    server = fake_server(_budget, max_model_len=8192, vllm="0.34", states_context=False, tokenize=False)
    gen = _generate(server, _request())
    assert gen.error is not None and "cannot be greater than max_model_len=8192" in gen.error
    assert "the prompt's length is unknown" in gen.error and "/tokenize" in gen.error
    assert len(server.requests) == 1


@pytest.mark.parametrize("style", VLLM_STYLES)
@pytest.mark.parametrize("states_context", [True, False])
def test_a_prompt_longer_than_the_context_is_a_clear_error_not_a_retry_loop(fake_server, style, states_context):
    server = fake_server(_budget, max_model_len=8192, vllm=style, states_context=states_context)
    gen = _generate(server, _request(words=9000))
    assert gen.error is not None
    assert "8192 tokens: no room to generate" in gen.error and "--max-model-len" in gen.error
    assert ("9000 tokens" in gen.error) or ("at least" in gen.error)
    assert len(server.requests) <= 2


def test_a_budget_that_fits_is_sent_as_it_is_and_not_recorded(fake_server):
    server = fake_server(_budget, max_model_len=8192, vllm="0.10")
    gen = _generate(server, _request(max_tokens=1000))
    assert gen.error is None and gen.text == "max_tokens=1000" and gen.max_tokens_capped is None


def test_a_server_without_a_context_limit_is_sent_the_budget_unchanged(fake_server):
    server = fake_server(_budget)
    gen = _generate(server, _request())
    assert gen.text == "max_tokens=32768" and gen.max_tokens_capped is None


def test_a_bfcl_run_against_an_8k_server_completes_with_capped_budgets_recorded_and_counted(tmp_path, fake_server):
    from conftest import write_jsonl
    from test_bfcl_v3 import SIMPLE_ROW

    from exaone_eval.cli import main

    seen = []

    def call(body: dict) -> dict:
        seen.append(body["max_tokens"])
        return {"content": "", "tool_calls": [
            {"id": "c0", "type": "function", "function": {"name": "geometry_circle_area", "arguments": '{"radius": 3}'}}]}

    # The server: vLLM with --max-model-len 8192, whose refusal names only max_model_len.
    server = fake_server(call, max_model_len=8192, vllm="0.34")
    write_jsonl(tmp_path / "data" / "bfcl_v3.jsonl", [SIMPLE_ROW])
    assert main(["run", "--suite", "non-reasoning", "--model", "32b", "--benchmarks", "bfcl_v3", "--base-url", server.url,
                 "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    entry = json.loads((tmp_path / "run" / "scores.json").read_text())["bfcl_v3"]
    assert entry["metrics"]["simple"] == 100.0
    assert entry["context_capped"] == 1
    [sample] = [json.loads(line) for line in (tmp_path / "run" / "samples" / "bfcl_v3.jsonl").read_text().splitlines()]
    [turn] = sample["turns"]
    room = 8192 - turn["prompt_tokens"]  # what the model could generate: the room after the prompt
    assert seen == [room]
    assert turn["max_tokens_capped"] == sample["max_tokens_capped"] == {"asked": 32768, "sent": room, "context": 8192}
