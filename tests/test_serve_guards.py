"""`exaone-eval serve`'s guards: the API key (as vLLM's), prompts longer than the context, request
bodies over the size limit; and under load (issue 17): disconnects, the concurrency cap, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import types

import httpx
import openai
import pytest

from exaone_eval import serve
from exaone_eval.serve import Handler, Server, is_loopback
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
                                 served_model_name=None, default_max_tokens=16, verbose=False,
                                 max_concurrency=4, max_queue=4, drain_timeout=1.0)
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


# --- under load (issue 17): disconnects, the concurrency cap, SIGTERM --------------------------

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 512}


class GatedBackend:
    """Generates until the test opens `gate` (or for ever); records starts and cancellations."""

    def __init__(self):
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)
        self.cancelled = threading.Event()

    async def generate(self, requests):
        self.started.release()
        try:
            while not self.gate.is_set():
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        for i in range(len(requests)):
            yield i, Generation(text="done", reasoning=None, answer="done", finish_reason="stop", prompt_tokens=1, completion_tokens=1)


def _until(condition, seconds: float = 10.0) -> bool:
    """Poll `condition` for at most `seconds` (generous: the machine is shared and slow)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _raw_post(url: str, body: dict) -> socket.socket:
    """Send a chat request on a bare socket and return it unread: the test decides when to hang up."""
    host, port = url.removeprefix("http://").removesuffix("/v1").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    data = json.dumps(body).encode()
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
    return sock


@pytest.fixture
def gated():
    backend = GatedBackend()
    srv = Server(backend, "m", port=0, max_concurrency=1, max_queue=1).start()
    yield backend, srv
    backend.gate.set()
    srv.stop()


def test_a_client_that_disconnects_mid_generation_has_its_generation_cancelled(gated):
    backend, srv = gated
    sock = _raw_post(srv.url, CHAT)
    assert backend.started.acquire(timeout=10)
    sock.close()
    assert backend.cancelled.wait(10)  # the server polls every 0.2 s; the gate never opens on its own
    assert _until(lambda: srv.in_flight() == 0 and srv.admission.running == 0)


def test_a_disconnect_is_one_log_line_and_no_traceback(gated, capfd):
    backend, srv = gated
    sock = _raw_post(srv.url, CHAT)
    port = sock.getsockname()[1]
    assert backend.started.acquire(timeout=10)
    sock.close()
    assert backend.cancelled.wait(10) and _until(lambda: srv.admission.running == 0)
    err = capfd.readouterr().err
    assert err.splitlines() == [f"exaone-eval serve: client 127.0.0.1:{port} disconnected; its generation was cancelled"]


def test_many_disconnects_at_once_are_one_whole_line_each(capfd):
    backend = GatedBackend()
    srv = Server(backend, "m", port=0).start()
    try:
        socks = [_raw_post(srv.url, CHAT) for _ in range(12)]
        assert all(backend.started.acquire(timeout=10) for _ in socks)
        for sock in socks:
            sock.close()
        assert _until(lambda: srv.in_flight() == 0 and srv.admission.running == 0)
    finally:
        backend.gate.set()
        srv.stop()
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 12
    assert all(line.startswith("exaone-eval serve: client 127.0.0.1:") and line.endswith("disconnected; its generation was cancelled")
               for line in lines)


def test_a_reply_to_a_client_already_gone_is_one_log_line_and_no_traceback(capsys):
    """The client hangs up just as its reply is written: BrokenPipeError must not reach the log."""

    class GoneSocketFile:
        def write(self, data):
            raise BrokenPipeError(32, "Broken pipe")

    handler = object.__new__(Handler)
    handler.server = types.SimpleNamespace(log=Server.log, verbose=False)
    handler.client_address, handler.wfile = ("127.0.0.1", 5555), GoneSocketFile()
    handler.request_version, handler.requestline, handler.command, handler.close_connection = "HTTP/1.1", "POST /", "POST", False
    handler._send(200, {"ok": True})
    assert capsys.readouterr().err == "exaone-eval serve: client 127.0.0.1:5555 disconnected before its 200 reply was written\n"
    assert handler.close_connection


def test_a_request_beyond_max_concurrency_waits_for_a_slot_and_is_answered(gated):
    backend, srv = gated
    replies = []
    post = lambda: replies.append(httpx.post(srv.url + "/chat/completions", json=CHAT, timeout=30))  # noqa: E731
    first, second = threading.Thread(target=post), threading.Thread(target=post)
    first.start()
    assert backend.started.acquire(timeout=10)
    second.start()
    assert _until(lambda: len(srv.admission.waiting) == 1)
    assert not backend.started.acquire(timeout=0.3)  # queued, not generating
    backend.gate.set()
    first.join(30), second.join(30)
    assert [r.status_code for r in replies] == [200, 200]


def test_a_request_beyond_max_concurrency_and_a_full_queue_gets_429_with_retry_after(gated):
    backend, srv = gated
    running, queued = _raw_post(srv.url, CHAT), None
    try:
        assert backend.started.acquire(timeout=10)
        queued = _raw_post(srv.url, CHAT)
        assert _until(lambda: len(srv.admission.waiting) == 1)
        r = httpx.post(srv.url + "/chat/completions", json=CHAT, timeout=10)
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"
        assert r.json()["error"]["code"] == "rate_limit_exceeded" and "--max-concurrency" in r.json()["error"]["message"]
    finally:
        running.close()
        if queued is not None:
            queued.close()


def test_a_client_that_disconnects_while_queued_leaves_the_queue(gated):
    backend, srv = gated
    running = _raw_post(srv.url, CHAT)
    assert backend.started.acquire(timeout=10)
    queued = _raw_post(srv.url, CHAT)
    assert _until(lambda: len(srv.admission.waiting) == 1)
    queued.close()
    assert _until(lambda: len(srv.admission.waiting) == 0)
    assert not backend.cancelled.is_set()  # the one generating is untouched
    running.close()


@pytest.mark.usefixtures("torch_one_thread")
def test_the_bundled_engine_drops_a_cancelled_row_and_frees_its_kv_cache(tiny_backend):
    from exaone_eval.model.engine import Continuation, Engine, PromptGroup
    from exaone_eval.types import Sampling

    engine = Engine(tiny_backend.model, tiny_backend.tokenizer, max_batch=4)  # stepped here, by hand
    cancel, delivered = threading.Event(), []
    long = Continuation(Sampling(0.0, max_tokens=400), ignore_eos=True)
    engine.submit(PromptGroup("a prompt of a few words", (long, long), cancel=cancel), lambda i, c: delivered.append(c))
    for _ in range(3):
        engine.step()
    assert engine.cache_bytes() > 0
    cancel.set()
    engine.step()
    assert (engine.has_work(), engine.cache_bytes(), delivered) == (False, 0, [])


@pytest.fixture
def own_tiny_backend(tmp_path):
    """A bundled backend of its own: a Server that stops closes its backend, so the shared
    module-scoped `tiny_backend` may already be closed when this runs."""
    from exaone_eval.backends.bundled import BundledBackend
    from exaone_eval.model.tiny import write_tiny_checkpoint

    backend = BundledBackend(str(write_tiny_checkpoint(tmp_path, "hybrid", seed=0)), max_batch=4)
    yield backend
    asyncio.run(backend.aclose())


@pytest.mark.usefixtures("torch_one_thread")
def test_cancelling_a_bundled_generation_sets_its_engine_cancel_flag(own_tiny_backend, monkeypatch):
    from exaone_eval.types import Request, Sampling

    backend, groups = own_tiny_backend, []
    submit = backend.engine.submit
    monkeypatch.setattr(backend.engine, "submit", lambda group, on_done: (groups.append(group), submit(group, on_done)))

    async def go():
        request = Request(messages=({"role": "user", "content": "hi"},), sampling=Sampling(0.0, max_tokens=400), mode="non-reasoning")

        async def consume():
            return [g async for _, g in backend.generate([request])]

        task = asyncio.create_task(consume())
        while not groups:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert groups[0].cancel.is_set()
    assert _until(lambda: not backend.engine.has_work() and backend.engine.cache_bytes() == 0)


SIGTERM_SERVER = """
import asyncio, sys
from exaone_eval.serve import Server, serve_until_signalled
from exaone_eval.types import Generation

class Slow:
    async def generate(self, requests):
        print("generating", flush=True)
        await asyncio.sleep(60)
        yield 0, Generation(text="late", reasoning=None, answer="late")

server = Server(Slow(), "m", port=0)
print(server.url, flush=True)
sys.exit(serve_until_signalled(server, drain_timeout=float(sys.argv[1])))
"""


def _start_subprocess_server(drain_timeout: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_SERVER, str(drain_timeout)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    url = proc.stdout.readline().strip()  # the server prints its URL first, or exits (EOF)
    if not url.startswith("http://"):
        proc.kill()
        pytest.fail(f"the server did not start: {proc.communicate(timeout=10)}")
    return proc, url


def test_sigterm_stops_an_idle_server_with_exit_0_and_a_line():
    proc, url = _start_subprocess_server(drain_timeout=5)
    try:
        assert httpx.get(url.removesuffix("/v1") + "/health", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "exaone-eval serve: stopped (0 finished, 0 cancelled)" in err and "Traceback" not in err


def test_sigterm_cancels_a_generation_that_outlasts_the_drain_timeout_with_503():
    proc, url = _start_subprocess_server(drain_timeout=0.5)
    replies = []
    client = threading.Thread(target=lambda: replies.append(httpx.post(url + "/chat/completions", json=CHAT, timeout=30)))
    try:
        client.start()
        assert proc.stdout.readline().strip() == "generating"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)  # the backend would take 60 s
        client.join(30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert [r.status_code for r in replies] == [503]
    assert "stopped (0 finished, 1 cancelled)" in err and "Traceback" not in err
