"""`exaone-eval serve`: an OpenAI-compatible HTTP server over any Backend (the bundled engine in practice).

Endpoints: `POST /v1/chat/completions`, `POST /v1/completions`, `GET /v1/models`, `GET /health`.
It lets the openai backend, and the Tau-Bench user simulator or an LLM judge, run fully offline
against a real model: `exaone-eval serve --model demo` then `--backend openai --base-url
http://127.0.0.1:8000/v1`.

Built on the standard library: a ThreadingHTTPServer (one thread per connection) hands each
request to one asyncio loop running in a background thread, where the Backend lives. The traffic
is a few local clients, so nothing here needs aiohttp or uvicorn, and the harness gains no
dependency. Concurrent HTTP requests become concurrent `backend.generate` calls on that loop; the
bundled engine batches them itself (continuous batching).

Mapping to the harness's types:
- chat: `messages`, `tools` -> Request; `chat_template_kwargs.enable_thinking` -> `mode`
  (`reasoning` when true, else `non-reasoning`); the reply carries the answer in `content` and the
  reasoning, when the model reasoned, in `reasoning_content` (as vLLM's reasoning parser does).
- completions: a raw prompt string is continued as it is, with no chat template: the Request has
  empty `messages` and the prompt as `prefix`.
- `n` choices are n Requests; with a `seed`, choice i uses `seed + i`, so they differ and a
  repeat reproduces them; without one, each choice draws a random seed.
Bad input is a 400 with an OpenAI-style error body naming the field; streaming is not supported.

Guards, as vLLM's server has them: with `--api-key` (or $EXAONE_EVAL_API_KEY) every /v1 route
needs `Authorization: Bearer KEY` (401 otherwise; /health stays open); a prompt of the model's
context length or more is a 400 with vLLM's message (when the backend can count tokens:
`max_context` and `prompt_tokens(request)`); a body over `--max-request-bytes` is a 413, refused
before it is read.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import os
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exaone_eval.types import Backend, Generation, HarnessError, Request, Sampling

MAX_N = 64
MAX_REQUEST_BYTES = 32 * 2**20  # a 128K-token prompt is under 1 MB of JSON; n=64 of them still fits
API_KEY_ENV = "EXAONE_EVAL_API_KEY"
DEFAULT_CHAT_MAX_TOKENS = 4096
DEFAULT_COMPLETION_MAX_TOKENS = 16  # the OpenAI API's own default for /v1/completions
ROLES = ("system", "developer", "user", "assistant", "tool")

SAMPLING_FIELDS = {"temperature", "top_p", "top_k", "presence_penalty", "max_tokens", "max_completion_tokens", "seed", "stop", "n"}
CHAT_FIELDS = SAMPLING_FIELDS | {"model", "messages", "tools", "tool_choice", "chat_template_kwargs"}
COMPLETION_FIELDS = SAMPLING_FIELDS | {"model", "prompt"}
# Fields clients send by habit; accepted when they ask for nothing this server cannot do.
HARMLESS = {
    "stream": (False, None),
    "logprobs": (False, None),
    "echo": (False, None),
    "top_logprobs": (None, 0),
    "frequency_penalty": (0, 0.0, None),
    "logit_bias": (None,),
    "parallel_tool_calls": (True, False, None),
    "user": None,
    "metadata": None,
    "store": (False, None),
    "stream_options": (None,),
}


class BadRequest(Exception):
    """A client error: 400 (or `status`) with an OpenAI-style body."""

    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None):
        super().__init__(message)
        self.param, self.status, self.code = param, status, code


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


# --- request parsing -------------------------------------------------------------------------


def _check_fields(body: dict, allowed: set[str]) -> None:
    for key, value in body.items():
        if key in allowed:
            continue
        if key not in HARMLESS:
            raise BadRequest(f"unknown field {key!r}", key)
        ok = HARMLESS[key]
        if ok is not None and value not in ok and value != {}:
            raise BadRequest(f"field {key!r} = {value!r} is not supported by this server", key)


def _number(body: dict, key: str, default: float, lo: float | None = None, hi: float | None = None) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"{key!r} must be a number, got {value!r}", key)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadRequest(f"{key!r} must be in [{lo}, {hi}], got {value}", key)
    return float(value)


def _integer(body: dict, key: str, default: int | None, lo: int | None = None, hi: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key!r} must be an integer, got {value!r}", key)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadRequest(f"{key!r} must be between {lo} and {hi}, got {value}", key)
    return value


def _stop(body: dict) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return tuple(stop)
    raise BadRequest(f"'stop' must be a string or a list of strings, got {stop!r}", "stop")


def _top_p(body: dict) -> float:
    top_p = _number(body, "top_p", 1.0, lo=0.0, hi=1.0)
    if top_p == 0:
        raise BadRequest("'top_p' must be greater than 0", "top_p")
    return top_p


def samplings(body: dict, default_max_tokens: int) -> list[Sampling]:
    """One Sampling per requested choice (`n`)."""
    max_tokens = _integer(body, "max_completion_tokens", None, lo=1)
    if max_tokens is None:
        max_tokens = _integer(body, "max_tokens", default_max_tokens, lo=1)
    top_k = _integer(body, "top_k", -1, lo=-1)
    n = _integer(body, "n", 1, lo=1, hi=MAX_N)
    seed = _integer(body, "seed", None)
    base = seed if seed is not None else random.randrange(2**31)
    return [
        Sampling(
            temperature=_number(body, "temperature", 1.0, lo=0.0, hi=2.0),
            top_p=_top_p(body),
            top_k=-1 if top_k == 0 else top_k,
            presence_penalty=_number(body, "presence_penalty", 0.0, lo=-2.0, hi=2.0),
            max_tokens=max_tokens,
            seed=base + i,
            stop=_stop(body),
        )
        for i in range(n)
    ]


def _content(message: dict, i: int) -> str | None:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text ones mean anything to a text model
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise BadRequest(f"messages[{i}].content: only text parts are supported", "messages")
            texts.append(part["text"])
        return "\n".join(texts)
    raise BadRequest(f"messages[{i}].content must be a string or a list of text parts", "messages")


def _messages(body: dict) -> tuple[dict, ...]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list", "messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise BadRequest(f"messages[{i}] needs a 'role' among {list(ROLES)}", "messages")
        out.append({**m, "content": _content(m, i)})
    return tuple(out)


def _mode(body: dict) -> str:
    kwargs = body.get("chat_template_kwargs")
    if kwargs is None:
        return "non-reasoning"
    if not isinstance(kwargs, dict) or set(kwargs) - {"enable_thinking"}:
        raise BadRequest("'chat_template_kwargs' supports only {'enable_thinking': bool}", "chat_template_kwargs")
    thinking = kwargs.get("enable_thinking", False)
    if not isinstance(thinking, bool):
        raise BadRequest(f"'chat_template_kwargs.enable_thinking' must be true or false, got {thinking!r}", "chat_template_kwargs")
    return "reasoning" if thinking else "non-reasoning"


def _tools(body: dict) -> tuple[dict, ...] | None:
    tools, choice = body.get("tools"), body.get("tool_choice")
    if choice not in (None, "auto", "none"):
        raise BadRequest(f"'tool_choice' {choice!r} is not supported (only 'auto' or 'none')", "tool_choice")
    if tools is None:
        return None
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise BadRequest("'tools' must be a list of tool objects", "tools")
    return None if choice == "none" else tuple(tools)


def chat_requests(body: dict, default_max_tokens: int = DEFAULT_CHAT_MAX_TOKENS) -> list[Request]:
    _check_fields(body, CHAT_FIELDS)
    messages, tools, mode = _messages(body), _tools(body), _mode(body)
    return [Request(messages=messages, sampling=s, mode=mode, tools=tools) for s in samplings(body, default_max_tokens)]


def completion_requests(body: dict) -> list[Request]:
    """A raw prompt, continued as it is: empty messages, the prompt as the prefix."""
    _check_fields(body, COMPLETION_FIELDS)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("'prompt' must be a string (token-id prompts and batches of prompts are not supported)", "prompt")
    return [Request(messages=(), sampling=s, mode="non-reasoning", prefix=prompt) for s in samplings(body, DEFAULT_COMPLETION_MAX_TOKENS)]


# --- responses -------------------------------------------------------------------------------


def _usage(gens: list[Generation]) -> dict | None:
    if any(g.prompt_tokens is None or g.completion_tokens is None for g in gens):
        return None  # the backend did not count: say nothing rather than a made-up zero
    prompt = gens[0].prompt_tokens
    completion = sum(g.completion_tokens for g in gens)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _response(id_prefix: str, kind: str, model: str, choices: list[dict], gens: list[Generation]) -> dict:
    """The OpenAI response envelope both endpoints share around their choices."""
    return {
        "id": f"{id_prefix}-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": _usage(gens),
    }


def chat_response(model: str, requests: list[Request], gens: list[Generation]) -> dict:
    choices = []
    for i, g in enumerate(gens):
        message: dict[str, Any] = {"role": "assistant", "content": g.answer if g.reasoning is not None else g.text}
        if g.reasoning is not None:
            message["reasoning_content"] = g.reasoning
        if g.tool_calls:
            message["tool_calls"] = list(g.tool_calls)
        choices.append({"index": i, "message": message, "finish_reason": g.finish_reason, "logprobs": None})
    return _response("chatcmpl", "chat.completion", model, choices, gens)


def completion_response(model: str, requests: list[Request], gens: list[Generation]) -> dict:
    """Only the continuation: a backend's text for a prefixed request starts with the prefix."""
    choices = []
    for i, (r, g) in enumerate(zip(requests, gens)):
        if not g.text.startswith(r.prefix or ""):
            raise RuntimeError("the backend's text does not start with the prompt it continued")
        text = g.text[len(r.prefix or ""):]
        choices.append({"index": i, "text": text, "finish_reason": g.finish_reason, "logprobs": None})
    return _response("cmpl", "text_completion", model, choices, gens)


# --- the server ------------------------------------------------------------------------------


class BackendRunner:
    """Owns the asyncio loop (in a daemon thread) that every backend call runs on."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="exaone-eval-serve-loop", daemon=True)
        self.thread.start()

    async def _generate(self, requests: list[Request]) -> list[Generation]:
        out: list[Generation | None] = [None] * len(requests)
        async for i, gen in self.backend.generate(requests):
            out[i] = gen
        missing = [i for i, g in enumerate(out) if g is None]
        if missing:
            raise RuntimeError(f"the backend returned no generation for request(s) {missing}")
        return out  # type: ignore[return-value]

    def generate(self, requests: list[Request]) -> list[Generation]:
        """Called from an HTTP thread; blocks that thread until the backend has answered."""
        return asyncio.run_coroutine_threadsafe(self._generate(requests), self.loop).result()

    def close(self) -> None:
        aclose = getattr(self.backend, "aclose", None)
        if aclose is not None:
            asyncio.run_coroutine_threadsafe(aclose(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, which the openai client (httpx) expects
    server: "Server"

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: dict, close: bool = False) -> None:
        """`close`: the request body was left unread, so the connection cannot be reused."""
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self, path: str) -> bool:
        """vLLM's rule: with a key, every /v1 route needs `Authorization: Bearer KEY`; a 401 is
        sent here otherwise (compared in constant time)."""
        key = self.server.api_key
        if key is None or not path.startswith("/v1"):
            return True
        given = self.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, f"Bearer {key}".encode()):
            return True
        self._send(401, error_body("Unauthorized: this server needs the header 'Authorization: Bearer <key>' "
                                   "with the key it was started with", kind="authentication_error", code="invalid_api_key"), close=True)
        return False

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if not self._authorized(path):
            return
        if path == "/health":
            self._send(200, {"status": "ok"})
        elif path == "/v1/models":
            entry = {"id": self.server.model_name, "object": "model", "created": self.server.started, "owned_by": "exaone-eval"}
            self._send(200, {"object": "list", "data": [entry]})
        else:
            self._send(404, error_body(f"no route GET {path}", code="not_found"))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if not self._authorized(path):
            return
        try:
            body = self._json_body()
            if path == "/v1/chat/completions":
                requests, respond = chat_requests(body, self.server.default_max_tokens), chat_response
            elif path == "/v1/completions":
                requests, respond = completion_requests(body), completion_response
            else:
                raise BadRequest(f"no route POST {path}", status=404, code="not_found")
            model = body.get("model")
            if model is not None and model != self.server.model_name:
                raise BadRequest(f"model {model!r} is not served here; this server serves {self.server.model_name!r}", "model", 404, "model_not_found")
            self.server.check_context(requests)
        except BadRequest as e:
            self._send(e.status, error_body(str(e), param=e.param, code=e.code), close=e.status == 413)
            return
        try:
            gens = self.server.runner.generate(requests)
        except Exception as e:  # a backend crash is the server's fault: 500, and the server keeps serving
            self._send(500, error_body(f"backend failed: {type(e).__name__}: {e}", kind="server_error"))
            return
        failed = [g.error for g in gens if g.error]
        if failed:
            self._send(500, error_body(f"generation failed: {failed[0]}", kind="server_error"))
            return
        try:
            body = respond(self.server.model_name, requests, gens)
        except RuntimeError as e:
            self._send(500, error_body(str(e), kind="server_error"))
            return
        self._send(200, body)

    def _json_body(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("bad Content-Length header") from None
        if length > self.server.max_request_bytes:
            raise BadRequest(f"the request body has {length} bytes; this server takes at most {self.server.max_request_bytes} "
                             "(exaone-eval serve --max-request-bytes)", status=413, code="request_too_large")
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BadRequest(f"the request body is not valid JSON ({e})") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        return body


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, backend: Backend, model_name: str, host: str = "127.0.0.1", port: int = 8000,
                 default_max_tokens: int = DEFAULT_CHAT_MAX_TOKENS, verbose: bool = False,
                 api_key: str | None = None, max_request_bytes: int = MAX_REQUEST_BYTES):
        if api_key is not None and not api_key.strip():
            raise HarnessError("--api-key is empty; give a key, or leave the option out for no key")
        self.runner = BackendRunner(backend)
        self.model_name = model_name
        self.default_max_tokens = default_max_tokens
        self.verbose = verbose
        self.api_key = api_key
        self.max_request_bytes = max_request_bytes
        self.started = int(time.time())
        try:
            super().__init__((host, port), Handler)
        except OSError as e:
            self.runner.close()
            raise HarnessError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def check_context(self, requests: list[Request]) -> None:
        """A prompt of the model's context length or more is the client's error (a 400 with
        vLLM's message), not a failed generation; all choices of a request share one prompt."""
        backend = self.runner.backend
        limit, count = getattr(backend, "max_context", None), getattr(backend, "prompt_tokens", None)
        if limit is None or count is None or not requests:
            return
        try:
            tokens = count(requests[0])
        except Exception as e:  # the chat template rejects the messages: the client's input
            raise BadRequest(f"cannot render the prompt: {type(e).__name__}: {e}", "messages") from None
        if tokens >= limit:
            raise BadRequest(f"This model's maximum context length is {limit} tokens. However, your request has {tokens} input tokens. "
                             "Please reduce the length of the input messages.",
                             "messages" if requests[0].messages else "prompt", code="context_length_exceeded")

    def start(self) -> "Server":
        """Serve in a background thread (tests, embedding); `serve_forever` blocks instead."""
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="exaone-eval-serve", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.runner.close()


@dataclass(frozen=True)
class _Loaded:
    backend: Backend
    name: str


def load_backend(model: str) -> _Loaded:
    """The bundled engine over a preset (`demo`) or a local checkpoint folder."""
    from exaone_eval.config import resolve_model

    preset = resolve_model(model)
    try:
        from exaone_eval.backends.bundled import BundledBackend
    except ImportError as e:
        raise HarnessError(f"serve needs the bundled backend (torch, transformers): pip install 'exaone-eval[bundled]' ({e})") from None
    if preset.hf_id == "demo":
        from exaone_eval.model.gguf import demo_model_dir

        return _Loaded(BundledBackend(demo_model_dir()), model)
    return _Loaded(BundledBackend(preset.hf_id), model)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="an OpenAI-compatible server over the bundled engine",
        description="Serve a model (the `demo` preset or a local HF-layout checkpoint) on the bundled engine behind "
        "OpenAI-compatible endpoints: /v1/chat/completions, /v1/completions, /v1/models, /health.",
    )
    p.add_argument("--model", default="demo", help="a preset name (demo) or a local checkpoint folder (default: demo)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument("--served-model-name", default=None, help="the name clients pass as `model` (default: --model)")
    p.add_argument("--default-max-tokens", type=int, default=DEFAULT_CHAT_MAX_TOKENS,
                   help=f"chat max tokens when a request gives none (default: {DEFAULT_CHAT_MAX_TOKENS})")
    p.add_argument("--api-key", default=None, help=f"require 'Authorization: Bearer KEY' on every /v1 route (default: ${API_KEY_ENV}, else none)")
    p.add_argument("--max-request-bytes", type=int, default=MAX_REQUEST_BYTES,
                   help=f"refuse larger request bodies with 413 (default: {MAX_REQUEST_BYTES})")
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")
    p.set_defaults(func=main)


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (a name other than localhost counts as open)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(args) -> int:
    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV) or None
    if args.max_request_bytes < 1:
        raise HarnessError(f"--max-request-bytes must be >= 1, got {args.max_request_bytes}")
    if api_key is None and not is_loopback(args.host):
        print(f"exaone-eval serve: warning: listening on {args.host} without an API key: anyone who can reach this port "
              f"can use the model (set --api-key or ${API_KEY_ENV})", file=sys.stderr, flush=True)
    loaded = load_backend(args.model)
    server = Server(loaded.backend, args.served_model_name or loaded.name, args.host, args.port,
                    default_max_tokens=args.default_max_tokens, verbose=args.verbose,
                    api_key=api_key, max_request_bytes=args.max_request_bytes)
    print(f"serving {server.model_name!r} at {server.url}{' (API key required)' if api_key else ''} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.runner.close()
    return 0
