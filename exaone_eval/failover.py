"""Which servers are in the rotation: dead-server detection and fail-over across `--base-url` URLs.

The openai backend sends each request to the least-loaded URL that is *in the rotation*; this
module decides which URLs are, telling "the server is gone" apart from "the server is slow":

- gone: a connection refused, reset or dropped, a connect timeout, or `GET /models` not
  answering within the probe timeout;
- slow: a request in flight for a long time. A 64K-token generation takes many minutes, so that
  alone never takes a URL out. While a URL has requests in flight and has not answered for a
  probe interval, its `/models` is probed: a live server (vLLM, `exaone-eval serve`) answers it
  at once even while it generates.

A URL is `up` (in the rotation), `suspect` (a request's connection failed: no new requests go
there, those in flight carry on, and it is probed at once) or `down` (the probe failed too: its
in-flight requests move to the other URLs, and it is probed every interval until it answers
again). A suspect URL whose probe answers goes straight back up without a word: a keep-alive
connection closed under one request is not a dead server. Each drop and rejoin is one line on
stderr and one event in the report that `exaone-eval run` keeps in run.json.

When no URL has been up for `unreachable_timeout` seconds, every request still waiting for a
server fails at once with a message naming the URLs and why each is out, and the runner stops
(what is stored stays stored; a rerun with the same --out resumes). Requests never walk through
retry backoff against servers that refuse connections: a connection failure is a fail-over, not
a retry.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable, Sequence

UP, SUSPECT, DOWN = "up", "suspect", "down"

# Exception classes (by name: httpx, httpx2 and aiohttp each have their own) that mean the
# connection to the server failed or was dropped, and those that only mean it was slow.
GONE = {"ConnectError", "ConnectTimeout", "RemoteProtocolError", "ReadError", "WriteError",
        "ClientConnectorError", "ServerDisconnectedError", "ConnectionTimeoutError", "ClientOSError"}
SLOW = {"ReadTimeout", "WriteTimeout", "PoolTimeout", "SocketTimeoutError"}


def connection_lost(error: BaseException) -> bool:
    """True when `error` (or what caused it) says the server could not be reached or dropped the
    connection; False for slow answers (read timeouts) and for anything the server answered."""
    for e in _chain(error):
        name = type(e).__name__
        if name in SLOW:
            return False
        if name in GONE or isinstance(e, ConnectionError):
            return True
    return False


def describe(error: BaseException) -> str:
    """The most specific part of an error chain that has something to say, e.g.
    `ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 8000)`."""
    best = error
    for e in _chain(error):
        if str(e).strip():
            best = e
    text = str(best).strip().splitlines()[0][:200] if str(best).strip() else ""
    return f"{type(best).__name__}: {text}" if text else type(best).__name__


def _chain(error: BaseException):
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def probe_timeout_for(unreachable_timeout: float) -> float:
    """Probe timeout and interval (also the connect timeout): a quarter of the unreachable
    timeout, between 0.25 s and 10 s. Four probes fit in the bound, and a loaded server answers
    /models in well under a second."""
    return max(0.25, min(10.0, unreachable_timeout / 4))


def _stderr_line(message: str) -> None:
    print(f"exaone-eval: {message}", file=sys.stderr, flush=True)


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class ServerPool:
    """The URLs of one backend: which are in the rotation, how loaded, and what happened to them.

    `ask(i)` asks URL i's server whether it is there (`GET /models`): it returns None when the
    server answered, else why not. All methods run on the event loop of the backend's caller.
    """

    def __init__(self, urls: Sequence[str], ask: Callable[[int], Awaitable[str | None]],
                 unreachable_timeout: float = 60.0, log: Callable[[str], None] | None = None):
        if unreachable_timeout <= 0:
            raise ValueError(f"unreachable_timeout must be > 0 seconds, got {unreachable_timeout}")
        self.urls = list(urls)
        self.ask = ask
        self.unreachable_timeout = unreachable_timeout
        self.probe_timeout = probe_timeout_for(unreachable_timeout)
        self.log = log or _stderr_line
        self.started = _now_iso()
        n = len(self.urls)
        self.state = [UP] * n
        self.in_flight = [0] * n
        self.answered = [0] * n
        """Successful API calls per URL."""
        self.moved = [0] * n
        """Requests in flight that were moved off each URL when it went down."""
        self.why = [None] * n
        self.events: list[dict] = []
        self._last_answer = [0.0] * n  # time.monotonic() of each URL's last answer
        self._down_since: list[float | None] = [None] * n
        self._none_up_since: float | None = None
        self._stop_announced = False
        self._next = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._some_up: asyncio.Event | None = None
        self._lost: list[asyncio.Future] = []
        self._tasks: set[asyncio.Task] = set()

    # ---- the event loop this pool lives on ---------------------------------------------------

    def bind(self) -> None:
        """Make the loop-bound parts (events, futures, the watcher task) on the running loop; a
        backend used from a second `asyncio.run` gets fresh ones."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        self._some_up = asyncio.Event()
        if UP in self.state:
            self._some_up.set()
        self._lost = [loop.create_future() for _ in self.urls]
        self._tasks = set()
        self._spawn(self._watch())

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- picking a URL -------------------------------------------------------------------------

    def pick(self, sticky: int | None = None) -> int | None:
        """The least-loaded URL in the rotation (ties rotate, so equal servers share the load
        evenly), or None when none is up. A `sticky` index keeps the calls of one sample on one
        server, where its prefix is cached, while that server is up."""
        n = len(self.urls)
        if sticky is not None and self.state[sticky % n] == UP:
            return sticky % n
        order = [(self._next + k) % n for k in range(n)]
        candidates = [i for i in order if self.state[i] == UP]
        if not candidates:
            return None
        best = min(candidates, key=lambda i: self.in_flight[i])
        self._next = (best + 1) % n
        return best

    async def acquire(self, sticky: int | None = None) -> int | None:
        """A URL for one call (counted in flight until `release`); waits while no URL is up, and
        returns None once none has been up for `unreachable_timeout` seconds."""
        while True:
            i = self.pick(sticky)
            if i is not None:
                self.in_flight[i] += 1
                return i
            left = self._none_up_since + self.unreachable_timeout - time.monotonic()
            if left <= 0:
                if not self._stop_announced:
                    self._stop_announced = True
                    self.log(f"no server has answered for {self.unreachable_timeout:g} s; stopping")
                return None
            try:
                await asyncio.wait_for(self._some_up.wait(), left)
            except asyncio.TimeoutError:
                pass

    def release(self, i: int, answered: bool) -> None:
        self.in_flight[i] -= 1
        if answered:
            self.answered[i] += 1
            self._last_answer[i] = time.monotonic()

    def lost_signal(self, i: int) -> asyncio.Future:
        """Done when URL i is confirmed down: its calls in flight then move elsewhere."""
        return self._lost[i]

    def unreachable_message(self) -> str:
        out = "; ".join(f"{url} ({self.why[i] or 'not answering'})" for i, url in enumerate(self.urls))
        return f"every server has been unreachable for {self.unreachable_timeout:g} s: {out}"

    # ---- state changes -------------------------------------------------------------------------

    def connection_failed(self, i: int, why: str) -> None:
        """A call's connection to URL i failed: no new calls go there until a probe says whether
        the server is gone (then it is dropped) or was only closing one connection."""
        if self.state[i] != UP:
            return
        self.state[i] = SUSPECT
        self.why[i] = why
        self._after_leaving(time.monotonic())
        self._spawn(self._check_suspect(i))

    async def _check_suspect(self, i: int) -> None:
        started = time.monotonic()
        why = await self.probe(i)
        if self.state[i] != SUSPECT:
            return
        if why is None:
            self.state[i] = UP
            self.why[i] = None
            self._after_joining()
        else:
            self.drop(i, f"{self.why[i]}; then {why}", since=started)

    def drop(self, i: int, why: str, since: float | None = None) -> None:
        """URL i is gone: out of the rotation, its calls in flight move to the other URLs."""
        if self.state[i] == DOWN:
            return
        was_up = self.state[i] == UP
        self.state[i] = DOWN
        self.why[i] = why
        self._down_since[i] = since if since is not None else time.monotonic()
        self.moved[i] += self.in_flight[i]
        if not self._lost[i].done():
            self._lost[i].set_result(None)
        if was_up:
            self._after_leaving(self._down_since[i])
        up = self.state.count(UP)
        self.events.append({"at": _now_iso(), "url": self.urls[i], "event": "dropped", "why": why, "moved": self.in_flight[i]})
        n = self.in_flight[i]
        moved = f"; {n} request{'s' if n != 1 else ''} in flight move{'s' if n == 1 else ''} to the others" if n and up else ""
        self.log(f"server {self.urls[i]} left the rotation ({why}); {up} of {len(self.urls)} servers in it{moved}")
        if UP not in self.state and SUSPECT not in self.state:
            self.log(f"no server is reachable; the run stops in {self.unreachable_timeout:g} s unless one answers again")

    def _rejoin(self, i: int) -> None:
        down_for = time.monotonic() - (self._down_since[i] or time.monotonic())
        self.state[i] = UP
        self.why[i] = None
        self._lost[i] = self._loop.create_future()
        self._after_joining()
        self.events.append({"at": _now_iso(), "url": self.urls[i], "event": "rejoined", "down_s": round(down_for, 1)})
        self.log(f"server {self.urls[i]} is back in the rotation after {down_for:.0f} s; "
                 f"{self.state.count(UP)} of {len(self.urls)} servers in it")

    def _after_leaving(self, since: float) -> None:
        if UP not in self.state:
            self._none_up_since = since if self._none_up_since is None else min(self._none_up_since, since)
            self._some_up.clear()

    def _after_joining(self) -> None:
        self._none_up_since = None
        self._stop_announced = False
        self._some_up.set()

    # ---- probing ---------------------------------------------------------------------------------

    async def probe(self, i: int) -> str | None:
        """None when URL i's server answers within the probe timeout, else why not."""
        try:
            return await asyncio.wait_for(self.ask(i), self.probe_timeout + 1.0)
        except asyncio.TimeoutError:
            return f"GET /models did not answer within {self.probe_timeout:g} s"
        except Exception as e:  # whatever the probe raised: the server did not answer
            return describe(e)

    async def _watch(self) -> None:
        """Every probe interval: probe the URLs that are down (rejoin when they answer) and the
        ones with calls in flight that have not answered for an interval (drop when they don't)."""
        while True:
            await asyncio.sleep(self.probe_timeout)
            now = time.monotonic()
            targets = [i for i, s in enumerate(self.state)
                       if s == DOWN or (s == UP and self.in_flight[i] and now - self._last_answer[i] >= self.probe_timeout)]
            if not targets:
                continue
            results = await asyncio.gather(*(self.probe(i) for i in targets))
            for i, why in zip(targets, results):
                if self.state[i] == DOWN and why is None:
                    self._rejoin(i)
                elif self.state[i] == UP and why is not None and self.in_flight[i]:
                    self.drop(i, why, since=now)

    # ---- what happened ------------------------------------------------------------------------

    def report(self) -> dict:
        """For run.json: requests each URL answered, requests moved off it, drops and rejoins."""
        return {
            "started": self.started,
            "unreachable_timeout_s": self.unreachable_timeout,
            "urls": [{"url": url, "answered": self.answered[i], "moved_away": self.moved[i], "in_rotation_at_end": self.state[i] == UP}
                     for i, url in enumerate(self.urls)],
            "events": list(self.events),
        }


def record_servers(run_json: Path, report: dict) -> None:
    """Append one invocation's server report to run.json's `servers` list (a resumed run keeps
    the history of every invocation)."""
    from exaone_eval.store import update_json

    current = json.loads(run_json.read_text(encoding="utf-8")) if run_json.exists() else {}
    history = current.get("servers")
    history = history if isinstance(history, list) else []
    update_json(run_json, {"servers": [*history, report]})
