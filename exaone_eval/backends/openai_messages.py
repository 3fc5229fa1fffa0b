"""The openai backend's messages: a Request as the JSON body of a chat or completions call, and
a reply's JSON as a Generation. No I/O here; exaone_eval.backends.openai makes the calls.

Reasoning mode is sent the way vLLM expects (`chat_template_kwargs.enable_thinking`); the
reasoning is taken from the server's `reasoning_content` (or `reasoning`) when it splits it, else
from the `<think>...</think>` part of the text.
"""

from __future__ import annotations

from exaone_eval.reasoning import join_reasoning, split_reasoning
from exaone_eval.types import Generation, Request


def chat_body(model: str, req: Request, vllm_extras: bool) -> dict:
    """The body of `POST /chat/completions` for a request. `vllm_extras`: send vLLM's
    `chat_template_kwargs` and `top_k`, which a hosted API rejects."""
    s = req.sampling
    params = dict(
        model=model,
        messages=list(req.messages),
        temperature=s.temperature,
        top_p=s.top_p,
        presence_penalty=s.presence_penalty,
        max_tokens=s.max_tokens,
        seed=s.seed,
    )
    if vllm_extras:
        params["chat_template_kwargs"] = {"enable_thinking": req.mode == "reasoning"}
        if s.top_k > 0:
            params["top_k"] = s.top_k
    if s.stop:
        params["stop"] = list(s.stop)
    if req.tools:
        params["tools"] = list(req.tools)
    return params


def completion_body(model: str, req: Request, prompt: str, max_tokens: int, vllm_extras: bool) -> dict:
    """The body of `POST /completions`: the raw prompt with the request's sampling."""
    s = req.sampling
    params = dict(model=model, prompt=prompt, temperature=s.temperature, top_p=s.top_p,
                  presence_penalty=s.presence_penalty, max_tokens=max_tokens, seed=s.seed)
    if vllm_extras and s.top_k > 0:
        params["top_k"] = s.top_k
    if s.stop:
        params["stop"] = list(s.stop)
    return params


class Reply:
    """A successful API call: the response (JSON) and where and how it was made."""

    def __init__(self, resp, url: str, latency: float, attempts: int, index: int):
        self.resp, self.url, self.latency, self.attempts, self.index = resp, url, latency, attempts, index
        self.capped: dict | None = None
        """`Generation.max_tokens_capped` of this call (set by the backend's context fit)."""

    # completions-endpoint accessors (checked by the backend: one choice, usage reported)
    @property
    def text(self) -> str:
        return self.resp["choices"][0].get("text") or ""

    @property
    def finish_reason(self) -> str | None:
        return self.resp["choices"][0].get("finish_reason")

    @property
    def tokens(self) -> int:
        return self.resp["usage"]["completion_tokens"]


def failed(message: str) -> Generation:
    """A failed request: no text, `error` set (the runner does not store it, so a rerun retries it)."""
    return Generation(text="", reasoning=None, answer="", finish_reason=None, error=message)


def parse_chat(req: Request, resp, url: str, latency: float, attempts: int, capped: dict | None = None) -> Generation:
    """A chat completion's JSON as a Generation (a failed one when it is not a chat completion)."""
    try:
        body = resp
        choice = body["choices"][0]
        msg = choice["message"]
    except (KeyError, IndexError, TypeError):
        return failed(f"{url}: not an OpenAI chat completion: {str(resp)[:200]!r}")
    server_reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    content = msg.get("content") or ""
    finish = choice.get("finish_reason")
    if req.mode == "non-reasoning" and server_reasoning and not content.strip():
        # vLLM's deepseek_r1 parser (the one EXAONE 4.0's serve recipe names) calls everything
        # before a `</think>` reasoning, so a non-reasoning answer, which has none, comes back whole
        # as `reasoning` with no content (and its <tool_call> blocks unparsed). The model was told
        # not to think: that text is the answer, split here as a server without a parser sends it.
        content, server_reasoning = server_reasoning, None
    if server_reasoning is not None:
        # The server split the reasoning; if it stopped at max tokens with no answer, the
        # reasoning never closed.
        closed = not (finish == "length" and not content.strip())
        text = join_reasoning(server_reasoning, content)
        reasoning, answer = server_reasoning.strip(), content.strip()
    else:
        split = split_reasoning(content, expect_reasoning=req.mode == "reasoning" and finish == "length")
        text, reasoning, answer, closed = content, split.reasoning, split.answer, split.closed
    usage = body.get("usage") or {}
    return Generation(
        text=text,
        reasoning=reasoning,
        answer=answer,
        finish_reason=finish,
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        reasoning_closed=closed,
        tool_calls=tuple(msg["tool_calls"]) if msg.get("tool_calls") else None,
        max_tokens_capped=capped,
        meta={"url": url, "latency_s": round(latency, 3), "attempts": attempts},
    )


def parse_completions(req: Request, text: str, replies: list[Reply], forced_at: int | None) -> Generation:
    """A completions-endpoint generation: `text` is the prefix and everything generated after it."""
    finish = replies[-1].finish_reason
    # As with the bundled engine: only a reasoning-mode text cut at its token cap is unfinished.
    split = split_reasoning(text, expect_reasoning=req.mode == "reasoning" and finish == "length")
    meta = {
        "url": replies[0].url,
        "latency_s": round(sum(r.latency for r in replies), 3),
        "attempts": sum(r.attempts for r in replies),
        "endpoint": "completions",
        "calls": len(replies),
    }
    if forced_at is not None:
        meta["forced_at"] = forced_at
    return Generation(
        text=text,
        reasoning=split.reasoning,
        answer=split.answer,
        finish_reason=finish,
        prompt_tokens=replies[0].resp["usage"].get("prompt_tokens"),
        completion_tokens=sum(r.tokens for r in replies),
        reasoning_closed=split.closed,
        # The first call a context capped (a budget-forced sample makes two).
        max_tokens_capped=next((r.capped for r in replies if r.capped is not None), None),
        meta=meta,
    )
