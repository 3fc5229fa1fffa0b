"""The openai backend against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import pytest

from exaone_eval.backends.openai import OpenAIBackend
from exaone_eval.types import HarnessError, Request, Sampling


def _requests(n: int, mode: str = "non-reasoning") -> list[Request]:
    return [Request(messages=({"role": "user", "content": f"q{i}"},), sampling=Sampling(temperature=0.6, seed=100 + i, max_tokens=64), mode=mode) for i in range(n)]


def _collect(backend: OpenAIBackend, requests: list[Request]) -> dict:
    async def go():
        out = {}
        async for i, g in backend.generate(requests):
            out[i] = g
        await backend.aclose()
        return out

    return asyncio.run(go())


def test_429_and_500_are_retried_until_the_server_answers(fake_server):
    server = fake_server(fail_first=[429, 500, 503])
    backend = OpenAIBackend([server.url], model="m", concurrency=1, backoff_base=0.01)
    out = _collect(backend, _requests(1))
    assert out[0].error is None
    assert out[0].text == "seed=100"
    assert out[0].meta["attempts"] == 4
    assert len(server.requests) == 4


def test_retry_after_header_is_honoured(fake_server):
    server = fake_server(fail_first=[429], retry_after=0.5)
    backend = OpenAIBackend([server.url], model="m", backoff_base=0.0)
    start = time.monotonic()
    out = _collect(backend, _requests(1))
    assert out[0].error is None
    assert time.monotonic() - start >= 0.45


def test_a_bad_request_is_not_retried_and_comes_back_as_an_error(fake_server):
    server = fake_server(fail_first=[400])
    backend = OpenAIBackend([server.url], model="m", backoff_base=0.01)
    out = _collect(backend, _requests(1))
    assert out[0].error is not None and "400" in out[0].error and server.url in out[0].error
    assert len(server.requests) == 1


def test_retries_are_bounded(fake_server):
    server = fake_server(fail_first=[500] * 10)
    backend = OpenAIBackend([server.url], model="m", max_retries=2, backoff_base=0.01)
    out = _collect(backend, _requests(1))
    assert "gave up after retries" in out[0].error
    assert len(server.requests) == 3


def test_requests_are_spread_over_several_urls(fake_server):
    a, b = fake_server(), fake_server()
    backend = OpenAIBackend([a.url, b.url], model="m", concurrency=8)
    out = _collect(backend, _requests(40))
    assert all(g.error is None for g in out.values())
    assert len(a.requests) + len(b.requests) == 40
    assert min(len(a.requests), len(b.requests)) >= 10


def test_least_loaded_url_is_picked():
    backend = OpenAIBackend(["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1", "http://127.0.0.1:11/v1"], model="m")
    backend.pool.in_flight = [3, 1, 2]
    assert backend.pool.pick() == 1


def test_a_url_out_of_the_rotation_is_never_picked():
    backend = OpenAIBackend(["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1", "http://127.0.0.1:11/v1"], model="m")
    backend.pool.in_flight = [3, 1, 2]
    backend.pool.state[1] = "down"
    assert backend.pool.pick() == 2
    assert backend.pool.pick(sticky=1) == 2  # a sticky sample leaves a server that is gone


def test_reasoning_mode_sends_enable_thinking_and_splits_the_think_part(fake_server):
    server = fake_server(lambda body: {"content": "let me think</think>\n\nThe answer is 4."})
    backend = OpenAIBackend([server.url], model="m")
    out = _collect(backend, _requests(1, mode="reasoning"))
    assert server.requests[0]["chat_template_kwargs"] == {"enable_thinking": True}
    assert out[0].reasoning == "let me think"
    assert out[0].answer == "The answer is 4."
    assert out[0].reasoning_closed


def test_reasoning_content_from_the_server_is_used_when_it_splits(fake_server):
    server = fake_server(lambda body: {"content": "Final: 4", "reasoning_content": "2+2=4"})
    out = _collect(OpenAIBackend([server.url], model="m"), _requests(1, mode="reasoning"))
    assert out[0].reasoning == "2+2=4" and out[0].answer == "Final: 4"
    assert out[0].text.startswith("<think>") and "Final: 4" in out[0].text


def test_a_non_reasoning_answer_a_reasoning_parser_put_in_reasoning_is_the_answer(fake_server):
    """vLLM's deepseek_r1 parser, seen on a real server: no `</think>`, so all of it is `reasoning`."""
    call = '<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>'
    server = fake_server(lambda body: {"content": None, "reasoning_content": call})
    out = _collect(OpenAIBackend([server.url], model="m"), _requests(1))
    assert out[0].answer == call and out[0].reasoning is None and out[0].reasoning_closed


def test_a_reasoning_cut_at_max_tokens_is_marked_unclosed(fake_server):
    server = fake_server(lambda body: {"content": "still thinking about", "finish_reason": "length"})
    out = _collect(OpenAIBackend([server.url], model="m"), _requests(1, mode="reasoning"))
    assert not out[0].reasoning_closed and out[0].answer == ""


def test_non_reasoning_mode_turns_thinking_off(fake_server):
    server = fake_server()
    _collect(OpenAIBackend([server.url], model="m"), _requests(1))
    assert server.requests[0]["chat_template_kwargs"] == {"enable_thinking": False}


def test_an_unreachable_server_is_named_in_the_error(fake_server):
    server = fake_server()
    url = server.url
    server.stop()
    backend = OpenAIBackend([url], model="m")
    with pytest.raises(HarnessError, match="cannot reach the server at " + url.replace(".", r"\.")):
        asyncio.run(backend.check())
