"""A scripted OpenAI-compatible server on 127.0.0.1, for tests and bench/ (never for results).

It answers `/v1/chat/completions` and `/v1/completions` with whatever its `responder(body)` returns
(a completions body has `prompt` instead of `messages`; the answer's `text`, else its `content`,
is the completion), can fail the first
requests with given status codes (429 with Retry-After, 500, ...), can answer slowly (`delay`),
and records every request body it saw. It can fail the ways real servers fail (docs/failover.md):
after `die_after` answers it dies as `die_how` says, or on demand:
- `drop`: it keeps answering /v1/models but drops every completion's connection unanswered;
- `refuse()`: the process is gone: connections in flight are reset, new ones refused;
- `hang()`: the process is stuck: nothing in flight is answered, new connections hang in connect;
- `revive()`: it serves again on the same port.
With `max_model_len` it behaves as vLLM does with `--max-model-len` (exaone_eval.backends.context
quotes vLLM's sources): `/v1/models` states it (unless `states_context=False`), a request whose
prompt plus `max_tokens` exceeds it gets vLLM's 400 in the wording of release line `vllm`
("0.8", "0.10", "0.20" or "0.34", which instead lowers max_tokens itself), and `POST /tokenize`
counts a prompt (unless `tokenize=False`). A "token" here is a whitespace-separated word of the
prompt (`prompt_tokens`), the same count in every message and in `usage`.
The standard library's threading HTTP server is enough here and keeps tests dependency-free.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

Responder = Callable[[dict], dict]


def echo_responder(body: dict) -> dict:
    """Answers with the seed it was given, so tests can see per-sample seeds in the text."""
    return {"content": f"seed={body.get('seed')}", "completion_tokens": 3}


VLLM_STYLES = ("0.8", "0.10", "0.20", "0.34")


def prompt_tokens(body: dict) -> int:
    """The fake's token count of a request's prompt: its words (messages' contents and tools, or
    the raw prompt), at least 1."""
    if "messages" in body:
        text = " ".join(str(m.get("content") or "") for m in body["messages"]) + " " + json.dumps(body.get("tools") or "")
    else:
        text = str(body.get("prompt") or "")
    return max(1, len(text.split()))


def context_refusal(style: str, n: int, prompt: int, max_tokens: int, completions: bool = False) -> str | None:
    """vLLM's 400 message (release line `style`) for `prompt` + `max_tokens` over context `n`, or
    None when it accepts the request. The wording is vLLM's own, per release line."""
    if style == "0.8":
        if prompt + max_tokens > n:
            return (f"This model's maximum context length is {n} tokens. However, you requested {prompt + max_tokens} "
                    f"tokens ({prompt} in the messages, {max_tokens} in the completion). "
                    "Please reduce the length of the messages or completion.")
        return None
    if style == "0.10":
        if completions and prompt > n - max_tokens:  # the renderer's check: "context" is n - max_tokens here
            return (f"This model's maximum context length is {n - max_tokens} tokens. However, your request has "
                    f"{prompt} input tokens. Please reduce the length of the input messages.")
        if prompt >= n:
            return (f"This model's maximum context length is {n} tokens. However, your request has {prompt} input "
                    "tokens. Please reduce the length of the input messages.")
        if prompt + max_tokens > n:
            return (f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's maximum context "
                    f"length is {n} tokens and your request has {prompt} input tokens ({max_tokens} > {n} - {prompt}).")
        return None
    if max_tokens > n:
        total = f"max_total_tokens={n}" if style == "0.20" else f"{n}"  # 0.20's f"{max_total_tokens=}" quirk
        return f"max_tokens={max_tokens} cannot be greater than max_model_len={total}. Please request fewer output tokens."
    if style == "0.20":
        room = n - max_tokens
        if prompt > room:
            counted = min(prompt, room + 1)  # vLLM tokenizes only up to room + 1 tokens
            q = "at least " if counted == room + 1 else ""
            return (f"This model's maximum context length is {n} tokens. However, you requested {max_tokens} output "
                    f"tokens and your prompt contains {q}{counted} input tokens, for a total of {q}{counted + max_tokens} "
                    "tokens. Please reduce the length of the input prompt or the number of requested output tokens.")
        return None
    if prompt > n:  # 0.34: only a prompt alone over the context is refused
        counted = min(prompt, n + 1)
        q = "at least " if counted == n + 1 else ""
        return (f"This model's maximum context length is {n} tokens. However, your prompt contains {q}{counted} input "
                "tokens, which exceeds this limit even without any output tokens. Please reduce the length of the input prompt.")
    return None


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 refuses bursts of 64 concurrent requests
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # connections reset on purpose (refuse/hang) are not errors worth a traceback


class FakeOpenAIServer:
    def __init__(self, responder: Responder = echo_responder, fail_first: list[int] | None = None,
                 retry_after: float | None = None, die_after: int | None = None, port: int = 0,
                 delay: float = 0.0, die_how: str = "drop", max_model_len: int | None = None, vllm: str = "0.10",
                 states_context: bool = True, tokenize: bool = True):
        if die_how not in ("drop", "refuse", "hang"):
            raise ValueError(f"die_how must be drop, refuse or hang, got {die_how!r}")
        if vllm not in VLLM_STYLES:
            raise ValueError(f"vllm must be one of {VLLM_STYLES}, got {vllm!r}")
        self.max_model_len = max_model_len
        self.vllm = vllm
        self.states_context = states_context
        self.tokenize = tokenize
        self.responder = responder
        self.fail_first = list(fail_first or [])
        self.retry_after = retry_after
        self.die_after = die_after
        self.die_how = die_how
        self.delay = delay
        self.requests: list[dict] = []
        self.tokenized: list[dict] = []  # bodies of POST /tokenize
        self.answered = 0
        self.first_request_at: float | None = None  # time.time() of the first request (bench/)
        self.died_at: float | None = None  # time.monotonic() of the last refuse() / hang()
        self.died_wall: float | None = None  # the same as time.time() (bench/, across processes)
        self.lock = threading.Lock()
        self.state = "up"  # up | refused | hung | stopped
        self.epoch = 0  # bumped on each death: connections from before it are never answered
        self.connections: set[socket.socket] = set()
        self._hang_sockets: list[socket.socket] = []
        self.httpd = _Server(("127.0.0.1", port), self._handler())
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread: threading.Thread | None = None

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "FakeOpenAIServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def _close_listener(self) -> None:
        if self.httpd.socket.fileno() != -1:
            self.httpd.shutdown()
            try:  # stop listening even where a forked process (a scoring pool) shares the socket
                self.httpd.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.httpd.server_close()

    def _reset_connections(self) -> None:
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def refuse(self) -> None:
        """Die like a killed process: reset what is in flight, refuse new connections."""
        with self.lock:
            self._mark_dead("refused")
        self._refuse_connections()

    def hang(self) -> None:
        """Hang like a stuck process or host: answer nothing in flight, and let new connections
        hang in connect (a listening socket whose accept queue is full drops their SYNs)."""
        with self.lock:
            self._mark_dead("hung")
        self._hang_connections()

    def _mark_dead(self, state: str) -> None:
        self.state, self.epoch, self.died_at, self.died_wall = state, self.epoch + 1, time.monotonic(), time.time()

    def _refuse_connections(self) -> None:
        self._close_listener()
        self._reset_connections()

    def _hang_connections(self) -> None:
        self._close_listener()
        stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stuck.bind(("127.0.0.1", self.port))
        stuck.listen(0)
        self._hang_sockets = [stuck]
        for _ in range(3):  # fill the accept queue; it is never accepted
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", self.port))
            except (BlockingIOError, OSError):
                pass
            self._hang_sockets.append(filler)

    def revive(self) -> "FakeOpenAIServer":
        """Serve again on the same port (a restarted server)."""
        for sock in self._hang_sockets:
            sock.close()
        self._hang_sockets = []
        self._close_listener()
        self.httpd = _Server(("127.0.0.1", self.port), self._handler())
        with self.lock:
            self.state = "up"
            self.die_after = None
        return self.start()

    def stop(self) -> None:
        with self.lock:
            self.state, self.epoch = "stopped", self.epoch + 1
        self._close_listener()
        self._reset_connections()
        for sock in self._hang_sockets:
            sock.close()
        self._hang_sockets = []

    def _wait_while_hung(self, epoch: int) -> bool:
        """Block a handler while the server hangs; False when its connection predates a death."""
        while self.state == "hung":
            time.sleep(0.02)
        return self.epoch == epoch and self.state == "up"

    def _die_now(self) -> None:
        """`die_after` reached (called holding the lock): dead at once; the sockets change in
        another thread, since shutdown waits for the serving loop."""
        self._mark_dead("refused" if self.die_how == "refuse" else "hung")
        work = self._refuse_connections if self.die_how == "refuse" else self._hang_connections
        threading.Thread(target=work, daemon=True).start()

    def _decide(self, body: dict, chat: bool = True) -> tuple[int, dict, dict]:
        """(status, headers, payload) for one chat (or completions) request."""
        with self.lock:
            if self.first_request_at is None:
                self.first_request_at = time.time()
            self.requests.append(body)
            if self.fail_first:
                status = self.fail_first.pop(0)
                headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
                return status, headers, {"error": {"message": f"scripted {status}", "type": "server_error"}}
            if self.die_after is not None and self.answered >= self.die_after:
                if self.die_how != "drop" and self.state == "up":
                    self._die_now()
                return -1, {}, {}
            self.answered += 1
            n = self.answered
        prompt, seen = 5, body
        if self.max_model_len is not None:
            prompt = prompt_tokens(body)
            asked = body.get("max_completion_tokens") or body.get("max_tokens") or self.max_model_len - prompt
            refusal = context_refusal(self.vllm, self.max_model_len, prompt, asked, completions=not chat)
            if refusal is not None:
                error = {"message": refusal, "type": "BadRequestError", "param": None, "code": 400}
                return 400, {}, ({"object": "error", **error} if self.vllm == "0.8" else {"error": error})
            # The model generates at most what is left (vLLM 0.34 lowers max_tokens to it itself).
            seen = {**body, "max_tokens": min(asked, self.max_model_len - prompt)}
        if self.delay:
            time.sleep(self.delay)
        out = self.responder(seen)
        usage = {"prompt_tokens": prompt, "completion_tokens": out.get("completion_tokens", 1), "total_tokens": prompt + out.get("completion_tokens", 1)}
        if not chat:
            text = out["text"] if "text" in out else out.get("content")
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": out.get("finish_reason", "stop")}
            return 200, {}, {"id": f"cmpl-{n}", "object": "text_completion", "created": 0,
                             "model": body.get("model", "fake"), "choices": [choice], "usage": usage}
        message = {"role": "assistant", "content": out.get("content")}
        if "reasoning_content" in out:
            message["reasoning_content"] = out["reasoning_content"]
        if out.get("tool_calls"):
            message["tool_calls"] = out["tool_calls"]
        payload = {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": out.get("finish_reason", "stop")}],
            "usage": usage,
        }
        return 200, {}, payload

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def setup(self) -> None:
                super().setup()
                self.epoch = server.epoch
                with server.lock:
                    server.connections.add(self.connection)

            def finish(self) -> None:
                with server.lock:
                    server.connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def _alive(self) -> bool:
                """False (and the connection closed unanswered) when the server died meanwhile."""
                if server._wait_while_hung(self.epoch):
                    return True
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return False

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if not self._alive():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    card = {"id": "fake", "object": "model"}
                    if server.max_model_len is not None:  # vLLM's ModelCard
                        card = {**card, "created": 0, "owned_by": "vllm", "root": "fake", "parent": None, "permission": []}
                        if server.states_context:
                            card["max_model_len"] = server.max_model_len
                    self._send(200, {"object": "list", "data": [card]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "bad JSON"}})
                    return
                path = self.path.rstrip("/")
                if path == "/tokenize" and server.max_model_len is not None and server.tokenize:
                    with server.lock:
                        server.tokenized.append(body)
                    count = prompt_tokens(body)  # vLLM's TokenizeResponse
                    self._send(200, {"count": count, "max_model_len": server.max_model_len, "tokens": list(range(count)), "token_strs": None})
                    return
                if not path.endswith("/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                    return
                if not self._alive():
                    return
                status, headers, payload = server._decide(body, chat=path.endswith("/chat/completions"))
                if not self._alive():  # died while it was generating
                    return
                if status == -1:  # dead: drop the connection without an answer
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)  # close() alone leaves the fd open under rfile/wfile
                    return
                self._send(status, payload, headers)

        return Handler


def main() -> None:
    """`python -m exaone_eval.fake_server --port P --content TEXT`: an instant server for bench/."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--content", default="\\boxed{7}", help="the answer every request gets")
    parser.add_argument("--max-seconds", type=float, default=600, help="stop by itself after this long")
    parser.add_argument("--die-after", type=int, help="die after this many answers (see --die-how)")
    parser.add_argument("--die-how", default="refuse", choices=("drop", "refuse", "hang"), help="how it dies (default refuse)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    server = FakeOpenAIServer(lambda body: {"content": args.content, "completion_tokens": 4}, port=args.port,
                              die_after=args.die_after, die_how=args.die_how, delay=args.delay).start()
    print(server.port, flush=True)
    deadline = time.monotonic() + args.max_seconds
    try:
        while time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:  # how bench/ stops it
        pass
    finally:
        first = server.first_request_at
        print(json.dumps({"answered": server.answered, "first_request_at": first, "died_at": server.died_wall}), flush=True)
        server.stop()


if __name__ == "__main__":
    main()
