"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp server, a hosted API) through `openai`.

Each Request is one chat completion. In-flight requests are bounded by `concurrency`, spread over
several base URLs by sending each to the URL with the fewest requests in flight. Transient
failures (429, 5xx, timeouts, dropped connections) are retried with exponential backoff and
jitter, honouring Retry-After; others fail the request at once. A failed request comes back as a
Generation with `error` set, which the runner does not store, so a rerun retries it.

Reasoning mode is sent the way vLLM expects (`chat_template_kwargs.enable_thinking`); the
reasoning is taken from the server's `reasoning_content` (or `reasoning`) when it splits it, else
from the `<think>...</think>` part of the text.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import AsyncIterator, Sequence

from exaone_eval.reasoning import join_reasoning, split_reasoning
from exaone_eval.types import Generation, HarnessError, Request

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


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
    ):
        if not base_urls:
            raise HarnessError("the openai backend needs --base-url URL (e.g. http://127.0.0.1:8000/v1)")
        if concurrency < 1:
            raise HarnessError(f"--concurrency must be >= 1, got {concurrency}")
        import openai  # imported here: ~0.3 s, and only this backend needs it

        self._openai = openai
        self.model = model
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.clients = [
            openai.AsyncOpenAI(base_url=u, api_key=api_key or "EMPTY", timeout=request_timeout, max_retries=0)
            for u in self.base_urls
        ]
        self.in_flight = [0] * len(self.clients)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._next = 0
        # chat_template_kwargs and top_k are vLLM/SGLang extensions; a hosted API (the judge's
        # gpt-4.1) rejects unknown fields, so a judge backend leaves them out.
        self.vllm_extras = vllm_extras
        self._sem: asyncio.Semaphore | None = None  # made in the running loop; bounds all calls together

    async def check(self) -> None:
        """Fail fast, naming the URL, when a server cannot be reached at all."""

        async def probe(url: str, client) -> str | None:
            try:
                await client.models.list(timeout=10)
            except self._openai.APIConnectionError as e:
                return f"cannot reach the server at {url} ({type(e).__name__}: {e})"
            except self._openai.APIStatusError:
                return None  # it answered: some servers have no /models, and that is fine
            return None

        errors = [e for e in await asyncio.gather(*(probe(u, c) for u, c in zip(self.base_urls, self.clients))) if e]
        if errors:
            raise HarnessError(errors[0])

    def _pick(self) -> int:
        """The least-loaded URL; ties rotate so equal servers share the load evenly."""
        n = len(self.clients)
        order = [(self._next + i) % n for i in range(n)]
        best = min(order, key=lambda i: self.in_flight[i])
        self._next = (best + 1) % n
        return best

    def _params(self, req: Request) -> dict:
        if req.reasoning_budget is not None or req.prefix is not None:
            raise HarnessError(
                "budget forcing and prefixes need the completions endpoint and the model's tokenizer; "
                "use `exaone-eval sweep` (which renders prompts with the tokenizer) or the bundled/vllm backend"
            )
        s = req.sampling
        extra: dict = {}
        if self.vllm_extras:
            extra["chat_template_kwargs"] = {"enable_thinking": req.mode == "reasoning"}
            if s.top_k > 0:
                extra["top_k"] = s.top_k
        params = dict(
            model=self.model,
            messages=list(req.messages),
            temperature=s.temperature,
            top_p=s.top_p,
            presence_penalty=s.presence_penalty,
            max_tokens=s.max_tokens,
            seed=s.seed,
            extra_body=extra,
        )
        if s.stop:
            params["stop"] = list(s.stop)
        if req.tools:
            params["tools"] = list(req.tools)
        return params

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

    async def _one(self, req: Request) -> Generation:
        try:
            params = self._params(req)
        except HarnessError as e:
            return _failed(str(e))
        attempt = 0
        while True:
            i = self._pick()
            self.in_flight[i] += 1
            start = time.monotonic()
            try:
                resp = await self.clients[i].chat.completions.create(**params)
            except Exception as e:  # classified below; nothing escapes generate()
                transient = self._transient(e)
                if not transient or attempt >= self.max_retries:
                    why = "gave up after retries" if transient else "not retried"
                    return _failed(f"{self.base_urls[i]}: {type(e).__name__}: {_short(e)} ({why})")
                delay = self._retry_delay(attempt, e)
                attempt += 1
            else:
                return _parse(req, resp, url=self.base_urls[i], latency=time.monotonic() - start, attempts=attempt + 1)
            finally:
                self.in_flight[i] -= 1
            await asyncio.sleep(delay)

    async def generate(self, requests: Sequence[Request]) -> AsyncIterator[tuple[int, Generation]]:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        sem = self._sem

        async def bounded(index: int) -> tuple[int, Generation]:
            async with sem:
                return index, await self._one(requests[index])

        tasks = [asyncio.ensure_future(bounded(i)) for i in range(len(requests))]
        try:
            for done in asyncio.as_completed(tasks):
                yield await done
        finally:
            for t in tasks:
                t.cancel()

    async def aclose(self) -> None:
        for c in self.clients:
            await c.close()


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:300] if str(e) else type(e).__name__


def _failed(message: str) -> Generation:
    return Generation(text="", reasoning=None, answer="", finish_reason=None, error=message)


def _parse(req: Request, resp, url: str, latency: float, attempts: int) -> Generation:
    if not resp.choices:
        return _failed(f"{url}: the server returned no choices")
    choice = resp.choices[0]
    msg = choice.message
    extra = msg.model_extra or {}
    server_reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    content = msg.content or ""
    finish = choice.finish_reason
    if server_reasoning is not None:
        # The server split the reasoning; if it stopped at max tokens with no answer, the
        # reasoning never closed.
        closed = not (finish == "length" and not content.strip())
        text = join_reasoning(server_reasoning, content)
        reasoning, answer = server_reasoning.strip(), content.strip()
    else:
        split = split_reasoning(content, expect_reasoning=req.mode == "reasoning" and finish == "length")
        text, reasoning, answer, closed = content, split.reasoning, split.answer, split.closed
    tool_calls = None
    if msg.tool_calls:
        tool_calls = tuple(tc.model_dump() for tc in msg.tool_calls)
    usage = resp.usage
    return Generation(
        text=text,
        reasoning=reasoning,
        answer=answer,
        finish_reason=finish,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        reasoning_closed=closed,
        tool_calls=tool_calls,
        meta={"url": url, "latency_s": round(latency, 3), "attempts": attempts},
    )
