"""`exaone-eval serve` (exaone_eval/serve.py) over a scripted Backend, through the openai client."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from exaone_eval.serve import Server
from exaone_eval.serve_api import completion_requests
from exaone_eval.types import Generation, Request, Sampling


class ScriptedBackend:
    """Answers from the request alone, yielding in reverse order (the server must map indices)."""

    def __init__(self):
        self.seen: list[Request] = []
        self.fail_next = False

    async def generate(self, requests):
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("engine exploded")
        self.seen.extend(requests)
        for i in reversed(range(len(requests))):
            r = requests[i]
            await asyncio.sleep(0)
            if not r.messages:
                text = f"{r.prefix} and so on (seed {r.sampling.seed})"
                yield i, Generation(text=text, reasoning=None, answer=text, finish_reason="length", prompt_tokens=3, completion_tokens=4)
            elif r.mode == "reasoning":
                yield i, Generation(text="<think>Let me see.</think>Paris", reasoning="Let me see.", answer="Paris",
                                    finish_reason="stop", prompt_tokens=10, completion_tokens=6)
            else:
                text = f"echo: {r.messages[-1]['content']} (seed {r.sampling.seed})"
                yield i, Generation(text=text, reasoning=None, answer=text, finish_reason="stop", prompt_tokens=10, completion_tokens=3)


@pytest.fixture
def backend():
    return ScriptedBackend()


@pytest.fixture
def server(backend):
    srv = Server(backend, "test-model", port=0).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=server.url, api_key="none", max_retries=0) as c:
        yield c


def chat(client, **kwargs):
    return client.chat.completions.create(model="test-model", messages=[{"role": "user", "content": "hi"}], **kwargs)


def test_chat_without_thinking_returns_the_answer_and_usage(client, backend):
    resp = chat(client, seed=5)
    choice = resp.choices[0]
    assert choice.message.content == "echo: hi (seed 5)"
    assert (choice.message.model_extra or {}).get("reasoning_content") is None
    assert choice.finish_reason == "stop"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (10, 3, 13)
    assert backend.seen[0].mode == "non-reasoning"


def test_chat_with_thinking_splits_reasoning_from_content(client, backend):
    resp = chat(client, extra_body={"chat_template_kwargs": {"enable_thinking": True}})
    message = resp.choices[0].message
    assert message.content == "Paris"
    assert message.model_extra["reasoning_content"] == "Let me see."
    assert backend.seen[0].mode == "reasoning"


def test_sampling_fields_reach_the_backend(client, backend):
    chat(client, temperature=0.6, top_p=0.95, presence_penalty=1.5, max_tokens=77, seed=3, stop=["\n\n"],
         extra_body={"top_k": 20})
    assert backend.seen[0].sampling == Sampling(temperature=0.6, top_p=0.95, top_k=20, presence_penalty=1.5,
                                                max_tokens=77, seed=3, stop=("\n\n",))


def test_max_completion_tokens_wins_over_max_tokens(client, backend):
    chat(client, max_tokens=10, max_completion_tokens=20)
    assert backend.seen[0].sampling.max_tokens == 20


def test_n_choices_get_consecutive_seeds_in_order(client, backend):
    resp = chat(client, n=3, seed=7)
    assert [c.message.content for c in resp.choices] == [f"echo: hi (seed {s})" for s in (7, 8, 9)]
    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert resp.usage.completion_tokens == 9


def test_tools_and_messages_are_passed_through(client, backend):
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    client.chat.completions.create(
        model="test-model",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        tools=[tool],
    )
    request = backend.seen[0]
    assert request.tools == (tool,)
    assert request.messages == ({"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"})


def test_completions_continue_the_raw_prompt(client, backend):
    resp = client.completions.create(model="test-model", prompt="Once upon a time", seed=1)
    assert resp.choices[0].text == " and so on (seed 1)"
    assert resp.choices[0].finish_reason == "length"
    request = backend.seen[0]
    assert (request.messages, request.prefix, request.sampling.max_tokens) == ((), "Once upon a time", 16)


def test_models_lists_the_served_name(client):
    assert [m.id for m in client.models.list().data] == ["test-model"]


def test_health_answers_ok(server):
    assert httpx.get(server.url.removesuffix("/v1") + "/health").json() == {"status": "ok"}


def test_bad_json_is_a_400_with_an_openai_error_body(server):
    r = httpx.post(server.url + "/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"bogus": 1}, "bogus"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 0}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"seed": 1.5}, "seed"),
        ({"stop": 3}, "stop"),
        ({"stream": True}, "stream"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"chat_template_kwargs": {"enable_thinking": "yes"}}, "chat_template_kwargs"),
        ({"chat_template_kwargs": {"reasoning_effort": "high"}}, "chat_template_kwargs"),
        ({"tool_choice": "required"}, "tool_choice"),
    ],
)
def test_bad_field_values_are_a_400_naming_the_field(server, extra, field):
    body = {"model": "test-model", "messages": [{"role": "user", "content": "hi"}], **extra}
    r = httpx.post(server.url + "/chat/completions", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == field


def test_bad_messages_are_a_400(client):
    with pytest.raises(openai.BadRequestError, match="role"):
        client.chat.completions.create(model="test-model", messages=[{"role": "robot", "content": "hi"}])


def test_harmless_default_fields_are_accepted(server):
    body = {"model": "test-model", "messages": [{"role": "user", "content": "hi"}], "stream": False, "user": "u1", "logprobs": False}
    assert httpx.post(server.url + "/chat/completions", json=body).status_code == 200


def test_another_model_name_is_a_404(client):
    with pytest.raises(openai.NotFoundError, match="test-model"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_a_backend_failure_is_a_500_and_the_server_keeps_serving(client, backend):
    backend.fail_next = True
    with pytest.raises(openai.InternalServerError, match="engine exploded"):
        chat(client)
    assert chat(client, seed=1).choices[0].message.content == "echo: hi (seed 1)"


def test_a_prompt_list_of_one_string_is_one_prompt():
    assert completion_requests({"prompt": ["abc"]})[0].prefix == "abc"


def test_concurrent_requests_are_all_answered(server):
    import concurrent.futures

    def one(i: int) -> str:
        body = {"model": "test-model", "messages": [{"role": "user", "content": f"q{i}"}], "seed": 0}
        return httpx.post(server.url + "/chat/completions", json=body, timeout=30).json()["choices"][0]["message"]["content"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(16)))
    assert answers == [f"echo: q{i} (seed 0)" for i in range(16)]


def test_the_harness_openai_backend_runs_against_it(server):
    from exaone_eval.backends.openai import OpenAIBackend

    async def go():
        b = OpenAIBackend([server.url], model="test-model", max_retries=0)
        reqs = [Request(messages=({"role": "user", "content": "capital?"},), sampling=Sampling(temperature=0.0, max_tokens=8), mode="reasoning")]
        try:
            return [g async for _, g in b.generate(reqs)]
        finally:
            await b.aclose()

    (gen,) = asyncio.run(go())
    assert gen.error is None
    assert (gen.reasoning, gen.answer, gen.reasoning_closed) == ("Let me see.", "Paris", True)


def test_a_busy_port_is_a_harness_error(server, backend):
    from exaone_eval.types import HarnessError

    port = server.server_address[1]
    with pytest.raises(HarnessError, match=f"127.0.0.1:{port}"):
        Server(backend, "x", port=port)


def test_error_bodies_are_json_for_unknown_routes(server):
    r = httpx.post(server.url + "/embeddings", json={})
    assert r.status_code == 404 and json.loads(r.text)["error"]["code"] == "not_found"


@pytest.fixture(scope="module")
def demo_server():
    """The real demo model (SmolLM2-135M-Instruct) on the bundled engine, behind the server.
    Uses the ordinary demo cache ($EXAONE_EVAL_CACHE or ~/.cache/exaone-eval): the first run converts."""
    pytest.importorskip("torch")
    from exaone_eval.serve import load_backend
    from exaone_eval.types import HarnessError

    try:
        loaded = load_backend("demo")
    except HarnessError as e:
        pytest.skip(str(e))
    srv = Server(loaded.backend, "demo", port=0).start()
    yield srv
    srv.stop()


@pytest.mark.slow
def test_the_demo_model_answers_a_chat_greedily_and_reproducibly(demo_server):
    with openai.OpenAI(base_url=demo_server.url, api_key="none", max_retries=0) as c:
        ask = dict(model="demo", messages=[{"role": "user", "content": "What is the capital of France?"}], temperature=0, max_tokens=10)
        first, second = c.chat.completions.create(**ask), c.chat.completions.create(**ask)
    assert "Paris" in first.choices[0].message.content
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.usage.completion_tokens <= 10


@pytest.mark.slow
def test_the_demo_model_continues_a_raw_prompt(demo_server):
    with openai.OpenAI(base_url=demo_server.url, api_key="none", max_retries=0) as c:
        resp = c.completions.create(model="demo", prompt="The capital of France is", temperature=0, max_tokens=6)
    assert "Paris" in resp.choices[0].text
    assert resp.usage.prompt_tokens == 5  # the raw prompt's own tokens: no chat template around it
