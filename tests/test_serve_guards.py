"""`exaone-eval serve`'s guards: the API key (as vLLM's), prompts longer than the context, and
request bodies over the size limit."""

from __future__ import annotations

import asyncio
import types

import httpx
import openai
import pytest

from exaone_eval import serve
from exaone_eval.serve import Server, is_loopback
from exaone_eval.types import Generation, HarnessError


class CountingBackend:
    """Answers every request; counts a prompt's tokens as its words; the context is 20 tokens."""

    max_context = 20

    def prompt_tokens(self, request) -> int:
        text = " ".join(m["content"] for m in request.messages) if request.messages else request.prefix
        return len(text.split())

    async def generate(self, requests):
        for i, r in enumerate(requests):
            await asyncio.sleep(0)
            yield i, Generation(text="ok", reasoning=None, answer="ok", finish_reason="stop", prompt_tokens=1, completion_tokens=1)


@pytest.fixture
def keyed_server():
    srv = Server(CountingBackend(), "m", port=0, api_key="s3cret").start()
    yield srv
    srv.stop()


@pytest.fixture
def small_server():
    srv = Server(CountingBackend(), "m", port=0, max_request_bytes=2000).start()
    yield srv
    srv.stop()


def _chat(url: str, key: str, content: str = "hi"):
    with openai.OpenAI(base_url=url, api_key=key, max_retries=0) as client:
        return client.chat.completions.create(model="m", messages=[{"role": "user", "content": content}])


def test_requests_without_the_api_key_get_401(keyed_server):
    with pytest.raises(openai.AuthenticationError) as e:
        _chat(keyed_server.url, "wrong")
    assert e.value.status_code == 401
    assert httpx.post(keyed_server.url + "/chat/completions", json={"messages": []}).status_code == 401  # no header at all
    assert httpx.get(keyed_server.url + "/models").status_code == 401


def test_requests_with_the_api_key_are_served(keyed_server):
    assert _chat(keyed_server.url, "s3cret").choices[0].message.content == "ok"
    assert httpx.get(keyed_server.url + "/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_health_needs_no_key_as_in_vllm(keyed_server):
    assert httpx.get(keyed_server.url.removesuffix("/v1") + "/health").status_code == 200


def test_the_api_key_comes_from_the_environment_when_not_given(monkeypatch, capsys):
    monkeypatch.setenv("EXAONE_EVAL_API_KEY", "from-env")
    seen = {}

    def server(*args, **kwargs):
        seen.update(kwargs)
        raise HarnessError("stop before serving")

    monkeypatch.setattr(serve, "load_backend", lambda model: serve._Loaded(CountingBackend(), "m"))
    monkeypatch.setattr(serve, "Server", server)
    args = types.SimpleNamespace(api_key=None, host="0.0.0.0", port=0, max_request_bytes=100, model="demo",
                                 served_model_name=None, default_max_tokens=16, verbose=False)
    with pytest.raises(HarnessError):
        serve.main(args)
    assert seen["api_key"] == "from-env"
    assert "warning" not in capsys.readouterr().err  # a key is set: nothing to warn about


def test_a_non_loopback_host_without_a_key_prints_a_warning(monkeypatch, capsys):
    monkeypatch.delenv("EXAONE_EVAL_API_KEY", raising=False)
    monkeypatch.setattr(serve, "load_backend", lambda model: (_ for _ in ()).throw(HarnessError("stop")))
    args = types.SimpleNamespace(api_key=None, host="0.0.0.0", port=0, max_request_bytes=100, model="demo")
    with pytest.raises(HarnessError):
        serve.main(args)
    err = capsys.readouterr().err
    assert "warning: listening on 0.0.0.0 without an API key" in err


def test_loopback_hosts_are_told_from_open_ones():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("node1")


def test_a_prompt_longer_than_the_context_is_a_400_as_vllm_answers(small_server):
    with pytest.raises(openai.BadRequestError) as e:
        _chat(small_server.url, "none", " ".join(["word"] * 25))
    err = e.value.body
    assert e.value.status_code == 400 and err["type"] == "invalid_request_error" and err["param"] == "messages"
    assert "maximum context length is 20 tokens" in err["message"] and "25 input tokens" in err["message"]
    assert _chat(small_server.url, "none", "short prompt").choices[0].message.content == "ok"


def test_a_request_body_over_the_limit_is_refused_with_413(small_server):
    big = {"model": "m", "messages": [{"role": "user", "content": "x" * 5000}]}
    response = httpx.post(small_server.url + "/chat/completions", json=big)
    assert response.status_code == 413 and "at most 2000" in response.json()["error"]["message"]
    assert response.headers.get("connection") == "close"
    assert _chat(small_server.url, "none").choices[0].message.content == "ok"  # and it keeps serving


@pytest.mark.usefixtures("torch_one_thread")
def test_the_bundled_engine_refuses_a_prompt_beyond_its_context_with_400(tiny_backend):
    srv = Server(tiny_backend, "m", port=0).start()
    try:
        assert tiny_backend.max_context == 512
        with pytest.raises(openai.BadRequestError) as e:
            _chat(srv.url, "none", "hello " * 600)
        assert "maximum context length is 512 tokens" in e.value.body["message"]
    finally:
        srv.stop()
