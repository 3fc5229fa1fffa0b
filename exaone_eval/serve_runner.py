"""What `exaone-eval serve` does besides HTTP: the loop the Backend runs on, how many requests may
generate at once, and the graceful stop. serve.py is the HTTP side and hands each request here.

Under load (issue 17):
- At most `--max-concurrency` requests generate at once; up to `--max-queue` more wait their
  turn in arrival order; beyond that a request gets 429 with `Retry-After` at once (`Admission`).
- SIGTERM (or Ctrl-C) stops accepting, lets the requests in flight finish for up to
  `--drain-timeout` seconds, cancels the rest (503), and exits 0 with a line saying so
  (`serve_until_signalled`, `drain`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import threading
import time
from collections import deque
from collections.abc import Callable

from exaone_eval.types import Backend, Generation, Request

# The harness's own `run --concurrency` default is 64, so a run against this server is never
# queued or refused; the bundled engine decodes 16 rows at a time, so 64 already keeps its batch
# full with requests to spare, and more in flight would only hold memory and sockets longer.
MAX_CONCURRENCY = 64
MAX_QUEUE = 64  # a waiting request holds a thread and its parsed body; past this, 429
DISCONNECT_POLL_S = 0.2  # how often a waiting handler looks at its client's socket (cancel well within 1 s)
DRAIN_TIMEOUT_S = 30.0


class BackendRunner:
    """Owns the asyncio loop (in a daemon thread) that every backend call runs on, and knows the
    generations in flight on it (the handlers track theirs while they wait)."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="exaone-eval-serve-loop", daemon=True)
        self.thread.start()
        self._inflight: set[concurrent.futures.Future] = set()
        self._inflight_lock = threading.Lock()

    async def _generate(self, requests: list[Request]) -> list[Generation]:
        out: list[Generation | None] = [None] * len(requests)
        async for i, gen in self.backend.generate(requests):
            out[i] = gen
        missing = [i for i, g in enumerate(out) if g is None]
        if missing:
            raise RuntimeError(f"the backend returned no generation for request(s) {missing}")
        return out  # type: ignore[return-value]

    def submit(self, requests: list[Request]) -> concurrent.futures.Future:
        """Start generating; cancelling the future cancels the task on the loop (and so the
        backend's async generator, whose cleanup tells the bundled engine to drop the rows)."""
        return asyncio.run_coroutine_threadsafe(self._generate(requests), self.loop)

    def track(self, future: concurrent.futures.Future) -> None:
        with self._inflight_lock:
            self._inflight.add(future)

    def untrack(self, future: concurrent.futures.Future) -> None:
        with self._inflight_lock:
            self._inflight.discard(future)

    def in_flight(self) -> int:
        """Generations running now."""
        with self._inflight_lock:
            return len(self._inflight)

    def cancel_all(self) -> int:
        """Cancel every generation in flight; returns how many there were."""
        with self._inflight_lock:
            left = list(self._inflight)
        for future in left:
            future.cancel()
        return len(left)

    def close(self) -> None:
        aclose = getattr(self.backend, "aclose", None)
        if aclose is not None:
            asyncio.run_coroutine_threadsafe(aclose(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


class Admission:
    """At most `limit` requests generate at once; up to `queue` more wait, first come first
    served; a request beyond both is refused at once (the caller answers 429)."""

    def __init__(self, limit: int, queue: int):
        self.limit, self.queue = limit, queue
        self.running = 0
        self.waiting: deque[object] = deque()
        self.closed = False
        self._cond = threading.Condition()

    def enter(self, gone: Callable[[], bool]) -> str:
        """'ok' (a slot is held: call `leave`), 'full', 'gone' (the client left while waiting)
        or 'closed' (the server is stopping)."""
        with self._cond:
            if self.closed:
                return "closed"
            if self.running < self.limit and not self.waiting:
                self.running += 1
                return "ok"
            if len(self.waiting) >= self.queue:
                return "full"
            ticket = object()
            self.waiting.append(ticket)
            try:
                while not self.closed:
                    if self.waiting[0] is ticket and self.running < self.limit:
                        self.running += 1
                        return "ok"
                    self._cond.wait(DISCONNECT_POLL_S)
                    if gone():
                        return "gone"
                return "closed"
            finally:
                self.waiting.remove(ticket)
                self._cond.notify_all()  # the next in line may go now

    def leave(self) -> None:
        with self._cond:
            self.running -= 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


def drain(admission: Admission, runner: BackendRunner, timeout: float) -> tuple[int, int]:
    """Refuse new and queued requests (503), let those generating finish for up to `timeout`
    seconds, then cancel the rest. Returns (finished, cancelled)."""
    admission.close()
    at_start = runner.in_flight()
    deadline = time.monotonic() + timeout
    while admission.running and time.monotonic() < deadline:
        time.sleep(0.05)
    cancelled = runner.cancel_all()
    deadline = time.monotonic() + 5  # the cancelled handlers write their 503s
    while admission.running and time.monotonic() < deadline:
        time.sleep(0.05)
    return max(at_start - cancelled, 0), cancelled


def serve_until_signalled(server, drain_timeout: float = DRAIN_TIMEOUT_S) -> int:
    """Serve `server` (a serve.Server) in this (the main) thread until SIGTERM or SIGINT, then stop
    gracefully: close the listening socket, drain for up to `drain_timeout` s, close the backend.
    Returns 0."""
    received: list[str] = []

    def on_signal(signum, frame) -> None:
        if not received:  # serve_forever must be stopped from another thread than its own
            received.append(signal.Signals(signum).name)
            threading.Thread(target=server.shutdown, name="exaone-eval-serve-stop", daemon=True).start()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        busy = server.in_flight()
        server.log(f"{received[0] if received else 'stop'}: no new requests; {busy} in flight get up to {drain_timeout:g} s")
        finished, cancelled = server.drain(drain_timeout)
        server.runner.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    server.log(f"stopped ({finished} finished, {cancelled} cancelled)")
    return 0
