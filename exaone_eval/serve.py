"""`exaone-eval serve`: an OpenAI-compatible HTTP server over any Backend (the bundled engine in practice).

Endpoints: `POST /v1/chat/completions`, `POST /v1/completions`, `GET /v1/models`, `GET /health`.
It lets the openai backend, and the Tau-Bench user simulator or an LLM judge, run fully offline
against a real model: `exaone-eval serve --model demo` then `--backend openai --base-url
http://127.0.0.1:8000/v1`. How OpenAI requests map onto the harness's types is serve_api.py;
this module is the HTTP side.

Built on the standard library: a ThreadingHTTPServer (one thread per connection) hands each
request to one asyncio loop running in a background thread, where the Backend lives. The traffic
is a few local clients, so nothing here needs aiohttp or uvicorn, and the harness gains no
dependency. Concurrent HTTP requests become concurrent `backend.generate` calls on that loop; the
bundled engine batches them itself (continuous batching).

How many requests generate at once, the queue beyond that (429 past it), the loop the Backend
runs on and the graceful stop on SIGTERM or Ctrl-C: serve_runner.py.

Guards, as vLLM's server has them: with `--api-key` (or $EXAONE_EVAL_API_KEY) every /v1 route
needs `Authorization: Bearer KEY` (401 otherwise; /health stays open); a prompt of the model's
context length or more is a 400 with vLLM's message (when the backend can count tokens:
`max_context` and `prompt_tokens(request)`); a body over `--max-request-bytes` is a 413, refused
before it is read.

A client that disconnects while its generation runs (or while it waits for a slot) is noticed
within DISCONNECT_POLL_S: the handler thread polls its socket for EOF while it waits, and cancels
the generation's asyncio task; the bundled engine then drops those rows and their KV cache at its
next step (issue 17). The disconnect is one line on stderr, never a traceback.
"""

from __future__ import annotations

import concurrent.futures
import hmac
import ipaddress
import json
import os
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from exaone_eval.serve_api import (
    DEFAULT_CHAT_MAX_TOKENS,
    BadRequest,
    chat_requests,
    chat_response,
    check_context,
    completion_requests,
    completion_response,
    error_body,
)
from exaone_eval.serve_runner import (DISCONNECT_POLL_S, DRAIN_TIMEOUT_S, MAX_CONCURRENCY, MAX_QUEUE, Admission,
                                      BackendRunner, drain, serve_until_signalled)
from exaone_eval.types import Backend, HarnessError, Request

MAX_REQUEST_BYTES = 32 * 2**20  # a 128K-token prompt is under 1 MB of JSON; n=64 of them still fits
API_KEY_ENV = "EXAONE_EVAL_API_KEY"
RETRY_AFTER_S = 2
IDLE_TIMEOUT_S = 120  # a silent keep-alive connection (or a client stuck mid-body) frees its thread
_LOG_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, which the openai client (httpx) expects
    timeout = IDLE_TIMEOUT_S
    server: "Server"

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    @property
    def client(self) -> str:
        return "%s:%s" % self.client_address[:2]

    def _send(self, status: int, body: dict, close: bool = False, headers: dict[str, str] | None = None) -> None:
        """`close`: the request body was left unread, so the connection cannot be reused."""
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            # The client is gone; nobody is left to read the reply, and it is no server fault.
            self.close_connection = True
            self.server.log(f"client {self.client} disconnected before its {status} reply was written")

    def client_gone(self) -> bool:
        """Whether the client has closed its side (EOF or reset), without consuming any byte.
        A client that sent more (a pipelined request) is still there; it is not watched further."""
        if self._pipelined:
            return False
        try:
            poller = select.poll()  # not select.select: it fails on descriptors above 1023
            poller.register(self.connection, select.POLLIN | select.POLLERR | select.POLLHUP)
            if not poller.poll(0):
                return False
            peeked = self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except (OSError, ValueError):  # reset by the peer, or the socket is already closed
            return True
        self._pipelined = bool(peeked)
        return not peeked

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
        self._pipelined = False
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
            check_context(self.server.runner.backend, requests)
        except BadRequest as e:
            self._send(e.status, error_body(str(e), param=e.param, code=e.code), close=e.status == 413)
            return
        admitted = self.server.admission.enter(self.client_gone)
        if admitted == "full":
            self._send(429, error_body(f"this server is busy: {self.server.admission.limit} requests are generating and "
                                       f"{self.server.admission.queue} more are waiting (exaone-eval serve --max-concurrency, "
                                       "--max-queue); retry later", kind="rate_limit_error", code="rate_limit_exceeded"),
                       headers={"Retry-After": str(RETRY_AFTER_S)})
            return
        if admitted == "gone":
            self.close_connection = True
            self.server.log(f"client {self.client} disconnected while its request waited for a slot; dropped")
            return
        if admitted == "closed":
            self._send(503, error_body("the server is shutting down", kind="server_error", code="shutting_down"), close=True)
            return
        try:
            self._generate_and_reply(requests, respond)
        finally:
            self.server.admission.leave()

    def _generate_and_reply(self, requests: list[Request], respond) -> None:
        future = self.server.runner.submit(requests)
        self.server.runner.track(future)
        try:
            while True:
                try:
                    gens = future.result(timeout=DISCONNECT_POLL_S)
                    break
                except TimeoutError:
                    pass
                if self.client_gone():
                    future.cancel()
                    self.close_connection = True
                    self.server.log(f"client {self.client} disconnected; its generation was cancelled")
                    return
        except concurrent.futures.CancelledError:  # only `drain` cancels a future it did not start
            self._send(503, error_body("the server is shutting down; this generation was cancelled",
                                       kind="server_error", code="shutting_down"), close=True)
            return
        except Exception as e:  # a backend crash is the server's fault: 500, and the server keeps serving
            self._send(500, error_body(f"backend failed: {type(e).__name__}: {e}", kind="server_error"))
            return
        finally:
            self.server.runner.untrack(future)
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
                 api_key: str | None = None, max_request_bytes: int = MAX_REQUEST_BYTES,
                 max_concurrency: int = MAX_CONCURRENCY, max_queue: int = MAX_QUEUE):
        if api_key is not None and not api_key.strip():
            raise HarnessError("--api-key is empty; give a key, or leave the option out for no key")
        if max_concurrency < 1 or max_queue < 0:
            raise HarnessError(f"--max-concurrency must be >= 1 and --max-queue >= 0, got {max_concurrency} and {max_queue}")
        self.runner = BackendRunner(backend)
        self.admission = Admission(max_concurrency, max_queue)
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

    @staticmethod
    def log(line: str) -> None:
        """One line on stderr, always (not only with --verbose): these are the events an operator needs.
        One write under a lock: print() writes the text and its newline apart, and lines from many
        handler threads came out glued together."""
        with _LOG_LOCK:
            sys.stderr.write(f"exaone-eval serve: {line}\n")
            sys.stderr.flush()

    def handle_error(self, request, client_address) -> None:
        """A client that resets or times out while its request is read is one line, not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            self.log(f"client {client_address[0]}:{client_address[1]}: {type(error).__name__}; connection closed")
        else:
            super().handle_error(request, client_address)

    def in_flight(self) -> int:
        """Generations running now."""
        return self.runner.in_flight()

    def drain(self, timeout: float) -> tuple[int, int]:
        """Refuse new and queued requests (503), let those generating finish for up to `timeout`
        seconds, then cancel the rest. Returns (finished, cancelled)."""
        return drain(self.admission, self.runner, timeout)

    def start(self) -> "Server":
        """Serve in a background thread (tests, embedding); `serve_forever` blocks instead."""
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="exaone-eval-serve", daemon=True).start()
        return self

    def stop(self, drain_timeout: float = 0.0) -> None:
        self.shutdown()
        self.server_close()
        self.drain(drain_timeout)
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
        "OpenAI-compatible endpoints: /v1/chat/completions, /v1/completions, /v1/models, /health. "
        "SIGTERM or Ctrl-C stops it gracefully.",
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
    p.add_argument("--max-concurrency", type=int, default=MAX_CONCURRENCY,
                   help=f"requests generating at once (default: {MAX_CONCURRENCY}, the harness's own --concurrency default; "
                   "the engine decodes 16 rows at a time, so more would only hold memory longer)")
    p.add_argument("--max-queue", type=int, default=MAX_QUEUE,
                   help=f"requests that wait for a slot beyond --max-concurrency, in arrival order; more get 429 with "
                   f"Retry-After: {RETRY_AFTER_S} (default: {MAX_QUEUE})")
    p.add_argument("--drain-timeout", type=float, default=DRAIN_TIMEOUT_S,
                   help=f"on SIGTERM / Ctrl-C, seconds the requests in flight may still finish before they are cancelled (default: {DRAIN_TIMEOUT_S:g})")
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
                    api_key=api_key, max_request_bytes=args.max_request_bytes,
                    max_concurrency=args.max_concurrency, max_queue=args.max_queue)
    print(f"serving {server.model_name!r} at {server.url}{' (API key required)' if api_key else ''} "
          "(Ctrl-C or SIGTERM stops)", flush=True)
    return serve_until_signalled(server, args.drain_timeout)
