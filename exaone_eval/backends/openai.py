"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp server, a hosted API) through `openai`.

Each Request is one chat completion. In-flight requests are bounded by `concurrency`, spread over
several base URLs by sending each to the URL with the fewest requests in flight among those in
the rotation (exaone_eval.failover: a URL whose server is gone leaves it, its requests move to
the others, and it rejoins when it answers again; when no server has answered for
`unreachable_timeout` seconds the waiting requests fail at once). A lost connection is a
fail-over, not a retry. Transient failures (429, 5xx, read timeouts) are retried with
exponential backoff and jitter, honouring Retry-After; others fail the request at once. A failed
request comes back as a Generation with `error` set, which the runner does not store, so a rerun
retries it.

How a Request becomes a request body, and a reply a Generation (reasoning mode, the server's
split reasoning): exaone_eval.backends.openai_messages.

Requests with a `prefix` (assistant text already generated) or a `reasoning_budget` go to the
completions endpoint with a raw prompt: the chat template rendered by `render` (set by whoever has
the model's tokenizer: `exaone-eval sweep`), then the prefix. A budget is enforced as the bundled
engine does it: generate at most `reasoning_budget` tokens; if the reasoning is still open, append
the forcing text and generate the answer (at most `answer_max_tokens`); if it closed, let the
answer run on to `max_tokens`. Every call of one request goes to the same URL (prefix caching).

Every call's `max_tokens` fits the server's context (exaone_eval.backends.context): capped at the
`max_model_len` its `/models` states, and a vLLM refusal for a prompt plus `max_tokens` over the
context is retried once, on the same server, with what the refusal (or its `/tokenize`) says is
left. A cap below the benchmark's budget is recorded in `Generation.max_tokens_capped`.
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from typing import AsyncIterator, Awaitable, Callable, Sequence

from exaone_eval.backends.context import (Overflow, cap_record, fit_max_tokens, parse_overflow, prompt_too_long,
                                          served_context)
from exaone_eval.failover import ServerPool, connection_lost, describe
from exaone_eval.backends.openai_messages import Reply, chat_body, completion_body, failed, parse_chat, parse_completions
from exaone_eval.reasoning import first_call, raw_prompt, second_call
from exaone_eval.types import Generation, HarnessError, Request

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}

# Times one request may lose its connection (its server died or dropped it) before it fails: a
# server that answers /models but drops every completion would otherwise bounce it forever.
MAX_MOVES = 10

NEEDS_TOKENIZER = (
    "budget forcing and prefixes need the completions endpoint and the model's tokenizer; "
    "use `exaone-eval sweep` (which renders prompts with the tokenizer) or the bundled/vllm backend"
)


class OpenAIBackend:
    def __init__(
        self,
        base_urls: Sequence[str],
        model: str,
        api_key: str | None = None,
        concurrency: int = 64,
        request_timeout: float = 3600.0,
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        vllm_extras: bool = True,
        unreachable_timeout: float = 60.0,
        log: Callable[[str], None] | None = None,
    ):
        if not base_urls:
            raise HarnessError("the openai backend needs --base-url URL (e.g. http://127.0.0.1:8000/v1)")
        if concurrency < 1:
            raise HarnessError(f"--concurrency must be >= 1, got {concurrency}")
        if not unreachable_timeout > 0:
            raise HarnessError(f"--unreachable-timeout must be > 0 seconds, got {unreachable_timeout}")
        import openai  # imported here: ~0.3 s, and only this backend needs it

        self._openai = openai
        self.model = model
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.contexts: list[int | None] = [None] * len(self.base_urls)
        """Each URL's context (max_model_len) as its `GET /models` last stated it, else None."""
        self.pool = ServerPool(self.base_urls, self._ask_models, unreachable_timeout, log)
        # A connect that takes longer than a probe is a server that is not there; a request may
        # take up to request_timeout once connected (a 64K-token generation takes minutes).
        timeout = openai.Timeout(request_timeout, connect=self.pool.probe_timeout)
        self.clients = [
            openai.AsyncOpenAI(base_url=u, api_key=api_key or "EMPTY", timeout=timeout, max_retries=0, http_client=_http_client(openai))
            for u in self.base_urls
        ]
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        # chat_template_kwargs and top_k are vLLM/SGLang extensions; a hosted API (the judge's
        # gpt-4.1) rejects unknown fields, so a judge backend leaves them out.
        self.vllm_extras = vllm_extras
        self._sem: asyncio.Semaphore | None = None  # made in the running loop; bounds all calls together
        self.render: Callable[[Request], str] | None = None
        """The chat template as text (`enable_thinking` per mode), for completions-endpoint requests."""

    async def check(self) -> None:
        """Fail fast, naming the URLs, when no server can be reached at all; start without the
        ones that cannot (they join the rotation when they answer)."""
        self.pool.bind()
        whys = await asyncio.gather(*(self.pool.probe(i) for i in range(len(self.base_urls))))
        if all(why is not None for why in whys):
            raise HarnessError("; ".join(f"cannot reach the server at {url} ({why})" for url, why in zip(self.base_urls, whys)))
        for i, why in enumerate(whys):
            if why is not None:
                self.pool.drop(i, why)

    async def _ask_models(self, i: int) -> str | None:
        """None when URL i's server answers `GET /models` (below 500: some servers have no
        /models, and a 404 is an answer), else why not."""
        try:
            page = await self.clients[i].models.list(timeout=self.pool.probe_timeout)
        except self._openai.APIStatusError as e:
            return None if e.status_code < 500 else f"GET /models answered {e.status_code}"
        except Exception as e:  # connection refused, timeouts, ...: not there
            return describe(e)
        # vLLM states its context per model (ModelCard.max_model_len, an extra field to openai's
        # Model); read at every probe, so a server restarted with another --max-model-len is seen.
        self.contexts[i] = served_context([m.model_dump() for m in page.data], self.model)
        return None

    def server_report(self) -> dict:
        """What each URL served and when it left or rejoined the rotation (for run.json)."""
        return self.pool.report()

    def _retry_delay(self, attempt: int, error: Exception) -> float:
        response = getattr(error, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after:
            try:
                return min(float(retry_after), self.backoff_max)
            except ValueError:
                pass  # an HTTP date: fall back to backoff
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def _transient(self, error: Exception) -> bool:
        o = self._openai
        if isinstance(error, (o.APITimeoutError, o.APIConnectionError)):
            return True
        return isinstance(error, o.APIStatusError) and error.status_code in TRANSIENT_STATUS

    async def _call(self, create: Callable[[int], Awaitable], sticky: int | None = None,
                    completions: bool = False) -> "Reply | _Refused | Generation":
        """One API call (`create(url index)`) on a server in the rotation, with bounded retries of
        transient failures; a failed Generation otherwise, or `_Refused` when the server said the
        request does not fit its context. A lost connection sends the call to another server."""
        attempt = moves = 0
        while True:
            i = await self.pool.acquire(sticky)
            if i is None:
                return failed(self.pool.unreachable_message())
            url = self.base_urls[i]
            start = time.monotonic()
            resp = _LOST
            try:
                resp = await _unless_lost(create(i), self.pool.lost_signal(i))
            except Exception as e:  # classified below; nothing escapes generate()
                if connection_lost(e):
                    self.pool.connection_failed(i, describe(e))
                    moves += 1
                    if moves > MAX_MOVES:
                        return failed(f"{url}: the connection was lost {moves} times ({describe(e)})")
                    continue
                transient = self._transient(e)
                overflow = _overflow(e, completions)
                if overflow is not None:
                    return _Refused(overflow, i, f"{url}: {_short(e)}")
                if not transient or attempt >= self.max_retries:
                    why = "gave up after retries" if transient else "not retried"
                    return failed(f"{url}: {type(e).__name__}: {_short(e)} ({why}){_not_found_hint(url, e)}")
                delay = self._retry_delay(attempt, e)
                attempt += 1
            else:
                if resp is not _LOST:
                    return Reply(resp, url, time.monotonic() - start, attempt + moves + 1, i)
                moves += 1  # its server went down with the call in flight: send it elsewhere
                if moves > MAX_MOVES:
                    return failed(f"{url}: the server went down under this request {moves} times")
                continue
            finally:
                self.pool.release(i, answered=resp is not _LOST)
            await asyncio.sleep(delay)

    async def _one(self, req: Request) -> Generation:
        if req.reasoning_budget is not None or req.prefix is not None:
            return await self._one_raw(req)
        params = chat_body(self.model, req, self.vllm_extras)
        reply = await self._fitted("/chat/completions", params)
        if isinstance(reply, Generation):
            return reply
        return parse_chat(req, reply.resp, url=reply.url, latency=reply.latency, attempts=reply.attempts, capped=reply.capped)

    async def _fitted(self, path: str, body: dict, sticky: int | None = None) -> "Reply | Generation":
        """One call whose `max_tokens` fits the server's context (module docstring): capped at the
        context `/models` stated; a refusal over the context is retried once on the same server
        with the room it leaves, and a prompt that leaves no room is a clear failure."""
        asked = body["max_tokens"]
        fixed: int | None = None  # the retry's max_tokens, from the server's own numbers
        sent: dict[int, int] = {}

        def create(i: int) -> Awaitable:
            sent[i] = fixed if fixed is not None else fit_max_tokens(asked, self.contexts[i])
            # The client's generic `post` (openai's documented route for extra endpoints) sends the
            # body as it is and returns the JSON (`cast_to=object`): the typed `create` methods
            # spend ~1 ms per request transforming and validating, a third of the harness's overhead.
            return self.clients[i].post(path, body={**body, "max_tokens": sent[i]}, cast_to=object)

        completions = path == "/completions"
        reply = await self._call(create, sticky, completions)
        if isinstance(reply, _Refused):
            room = await self._room(reply, body)
            if isinstance(room, Generation):
                return room
            fixed, context = room
            again = await self._call(create, reply.index, completions)
            if isinstance(again, _Refused):  # no loop: the server's numbers did not fit either
                return failed(f"{again.message} (after one retry with max_tokens={fixed}, the room "
                               "the server's first refusal left after the prompt)")
            reply = again
            if isinstance(reply, Reply):
                reply.capped = cap_record(asked, fixed, context)
            return reply
        if isinstance(reply, Reply):
            # What the server could generate: what was sent, or less where it lowered max_tokens
            # to the room after the prompt itself (vLLM 0.34), seen from the prompt it counted.
            context = self.contexts[reply.index]
            usage = reply.resp.get("usage") if isinstance(reply.resp, dict) else None
            prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
            room = sent[reply.index]
            if context is not None and isinstance(prompt, int):
                room = min(room, context - prompt)
            reply.capped = cap_record(asked, room, context)
        return reply

    async def _room(self, refused: "_Refused", body: dict) -> "tuple[int, int] | Generation":
        """(max_tokens that fits, the context) after a refusal, or the sample's failure: from the
        refusal's own numbers, else from vLLM's `POST /tokenize`, which counts the prompt."""
        o = refused.overflow
        if o.room is None and not o.prompt_alone_too_long:
            counted = await self._tokenize(refused.index, body)
            if isinstance(counted, str):
                return failed(f"{refused.message} (the prompt's length is unknown: {counted})")
            o = Overflow(context=counted[1], prompt=counted[0])
        if o.prompt_alone_too_long:
            return failed(f"{self.base_urls[refused.index]}: {prompt_too_long(o.prompt, o.context, o.prompt_at_least)}")
        return o.room, o.context

    async def _tokenize(self, i: int, body: dict) -> "tuple[int, int] | str":
        """(prompt tokens, max_model_len) from vLLM's `POST /tokenize` (at the server's root, beside
        /v1) for the prompt of `body`, rendered as the server renders it; else why not."""
        keys = ("messages", "tools", "chat_template_kwargs") if "messages" in body else ("prompt",)
        ask = {"model": self.model, **{k: body[k] for k in keys if k in body}}
        if "messages" in body:
            ask["add_generation_prompt"] = True
        root = self.base_urls[i].removesuffix("/v1")
        try:
            out = await self.clients[i].post(f"{root}/tokenize", body=ask, cast_to=object)
            return int(out["count"]), int(out["max_model_len"])
        except Exception as e:  # not vLLM, an old one, or a failure: the sample fails and says so
            return f"POST {root}/tokenize failed ({type(e).__name__}: {_short(e)})"

    async def _complete(self, req: Request, prompt: str, max_tokens: int, sticky: int) -> "Reply | Generation":
        params = completion_body(self.model, req, prompt, max_tokens, self.vllm_extras)
        reply = await self._fitted("/completions", params, sticky)
        if isinstance(reply, Generation):
            return reply
        resp = reply.resp if isinstance(reply.resp, dict) else {}
        if not resp.get("choices"):
            return failed(f"{reply.url}: the server returned no choices")
        if not isinstance(resp.get("usage"), dict):
            return failed(f"{reply.url}: the server reported no token usage (budget forcing counts tokens)")
        return reply

    async def _one_raw(self, req: Request) -> Generation:
        """A raw-prompt request through the completions endpoint (see the module docstring)."""
        if req.messages and self.render is None:
            return failed(NEEDS_TOKENIZER)
        try:
            prompt, text = raw_prompt(self.render, req)
        except ValueError as e:
            return failed(str(e))
        s = req.sampling
        plan = first_call(req, text)
        sticky = zlib.crc32(f"{prompt}\x1f{s.seed}".encode())

        first = await self._complete(req, prompt + text, plan.max_tokens, sticky)
        if isinstance(first, Generation):
            return first
        replies, forced_at = [first], None
        text += first.text
        more = second_call(req, plan, first.text, first.finish_reason, first.tokens)
        if more is not None:
            appended, max_tokens = more
            if appended:  # the reasoning reached its budget: the answer is forced
                forced_at = first.tokens
                text += appended
            second = await self._complete(req, prompt + text, max_tokens, sticky)
            if isinstance(second, Generation):
                return second
            replies.append(second)
            text += second.text
        return parse_completions(req, text, replies, forced_at)

    async def generate(self, requests: Sequence[Request]) -> AsyncIterator[tuple[int, Generation]]:
        """A request holds its slot of `concurrency` from sending until the caller has taken its
        result (the runner stores it before asking for the next): requests sent plus answers not
        yet stored never exceed `concurrency`, which is all a `kill -9` can lose."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        sem = self._sem
        held = 0  # slots this call holds: released as results are taken, or all at the end

        async def bounded(index: int) -> tuple[int, Generation]:
            nonlocal held
            await sem.acquire()
            held += 1
            return index, await self._one(requests[index])

        self.pool.bind()
        tasks = [asyncio.ensure_future(bounded(i)) for i in range(len(requests))]
        try:
            for done in asyncio.as_completed(tasks):
                result = await done
                yield result
                held -= 1
                sem.release()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for _ in range(held):
                sem.release()

    async def aclose(self) -> None:
        await self.pool.aclose()
        for c in self.clients:
            await c.close()


_LOST = object()
"""What `_unless_lost` returns when the call's server went down before it answered."""


async def _unless_lost(call: Awaitable, lost: asyncio.Future):
    """The call's result, or `_LOST` (the call cancelled) when `lost` is done first."""
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait((task, lost), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    if task in done:
        return task.result()
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # nobody awaits it: retrieve its error
    return _LOST


class _Refused:
    """A call the server refused because prompt plus max_tokens exceed its context."""

    def __init__(self, overflow: Overflow, index: int, message: str):
        self.overflow, self.index, self.message = overflow, index, message


def _overflow(error: Exception, completions: bool) -> Overflow | None:
    """What a 400 says about the context (vLLM's messages: exaone_eval.backends.context)."""
    if getattr(error, "status_code", None) != 400:
        return None
    body = getattr(error, "body", None)
    message = body.get("message") if isinstance(body, dict) else None  # openai unwraps {"error": {...}}
    return parse_overflow(message if isinstance(message, str) else str(error), completions)


def _http_client(openai):
    """openai's aiohttp transport when aiohttp is installed (the `openai[aiohttp]` extra): httpx's
    connection pool scans every pooled connection on each request, which at 64 in flight costs
    more than everything else the harness does per request (bench/overhead.py)."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return None
    return openai.DefaultAioHttpClient()


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:300] if str(e) else type(e).__name__


def _not_found_hint(url: str, error: Exception) -> str:
    """A 404 from a base URL without the API's version prefix almost always means the prefix is
    missing (`http://host:8000` instead of `http://host:8000/v1`): say so beside the error."""
    if getattr(error, "status_code", None) != 404 or url.rstrip("/").endswith("/v1"):
        return ""
    return f"; the server has no such route: OpenAI-compatible servers serve under /v1, try --base-url {url.rstrip('/')}/v1"
