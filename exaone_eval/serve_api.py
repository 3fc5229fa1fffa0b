"""The OpenAI API mapped onto the harness's types, for `exaone-eval serve` (serve.py is the HTTP side).

- chat: `messages`, `tools` -> Request; `chat_template_kwargs.enable_thinking` -> `mode`
  (`reasoning` when true, else `non-reasoning`); the reply carries the answer in `content` and the
  reasoning, when the model reasoned, in `reasoning_content` (as vLLM's reasoning parser does).
- completions: a raw prompt string is continued as it is, with no chat template: the Request has
  empty `messages` and the prompt as `prefix`.
- `n` choices are n Requests; with a `seed`, choice i uses `seed + i`, so they differ and a
  repeat reproduces them; without one, each choice draws a random seed.
Bad input raises `BadRequest` (a 400 with an OpenAI-style error body naming the field).
Nothing here knows about sockets or threads.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from exaone_eval.types import Generation, Request, Sampling

MAX_N = 64
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


def check_context(backend, requests: list[Request]) -> None:
    """A prompt of the model's context length or more is the client's error (a 400 with
    vLLM's message), not a failed generation; all choices of a request share one prompt.
    Checked only when the backend can count tokens (`max_context`, `prompt_tokens(request)`)."""
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
