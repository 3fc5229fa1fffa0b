"""Requests that fit the server's context: `max_tokens` capped at what the prompt leaves.

vLLM refuses a request whose prompt plus `max_tokens` exceeds the context it serves
(`--max-model-len`), and the report's budgets (32K, 64K generated tokens) exceed the context of a
server started with a smaller one. A backend therefore sends at most what is left after the
prompt, and records when that was less than the benchmark asked for: such a sample is cut by the
context, not by the benchmark's budget (`Generation.max_tokens_capped`, counted as
`context_capped` in scores.json).

Where the context comes from:
- `GET /v1/models`: vLLM's ModelCard has `max_model_len` per served model (`served_context`);
- the vllm backend: its engine's `model_config.max_model_len`; the bundled one: its model's
  positions. Both count the prompt's tokens themselves, so their cap is exact.

Against a server the prompt's length is unknown before the request (it is the server's chat
template and tokenizer), so the backend sends at most `context - 1` and reads the rest from the
server: vLLM 0.34 lowers `max_tokens` to what is left by itself; older releases answer 400 with a
message that `parse_overflow` reads (below); where that message does not give the exact prompt
length, vLLM's `POST /tokenize` does (`count`, `max_model_len`).

vLLM's messages, read in the source distributions of releases 0.6.6, 0.8.5, 0.10.2, 0.11.0,
0.12.0, 0.14.0, 0.17.0, 0.20.0, 0.25.0, 0.30.0 and 0.34.0 (each a 400 BadRequest):
- <= 0.9 (`entrypoints/openai/serving_engine.py`, `_validate_input`): "This model's maximum
  context length is N tokens. However, you requested T tokens (P in the messages, M in the
  completion). Please reduce the length of the messages or completion."
- 0.10 - 0.17 (`serving_engine.py` / `openai/engine/serving.py`, `_validate_input`):
  "'max_tokens' or 'max_completion_tokens' is too large: M. This model's maximum context length
  is N tokens and your request has P input tokens (M > N - P)." and, for a prompt alone too long,
  "This model's maximum context length is N tokens. However, your request has P input tokens.
  Please reduce the length of the input messages." On the completions endpoint (0.10 - 0.14,
  `entrypoints/renderer.py`) the same sentence states N - M, not N, as the "context length"; and
  0.14's completions endpoint says "'max_tokens' (M) cannot be greater than the model's maximum
  context length (N)."
- 0.17 - 0.30 (`renderers/params.py`, `TokenizeParams.__post_init__`): "max_tokens=M cannot be
  greater than max_model_len=max_total_tokens=N. Please request fewer output tokens." (0.17.0's
  has no space before "cannot"); 0.20 - 0.30 (`TokenizeParams._token_len_check` /
  `_text_len_check`): "This model's maximum context length is N tokens. However, you requested M
  output tokens and your prompt contains [at least ]P input tokens, for a total of [at least ]T
  tokens. ..." ("at least": the prompt was tokenized only up to N - M + 1 tokens), or "... your
  prompt contains C characters (more than X characters, which is the upper bound for I input
  tokens). ..."
- 0.34 (`renderers/params.py`): "max_tokens=M cannot be greater than max_model_len=N. Please
  request fewer output tokens."; a prompt alone too long: "This model's maximum context length is
  N tokens. However, your prompt contains [at least ]P input tokens, which exceeds this limit even
  without any output tokens." (or "... contains C characters (more than X characters, which is
  the upper bound for N input tokens)"); otherwise it lowers max_tokens itself
  (`get_max_tokens`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Overflow:
    """What a server's refusal says about a request that does not fit its context."""

    context: int | None
    """The server's context (max_model_len), when the message states it unambiguously."""
    prompt: int | None = None
    """The prompt's exact length in the server's tokens, when the message states it."""
    prompt_at_least: int | None = None
    """A lower bound on the prompt's length, when the message gives only that."""

    @property
    def prompt_alone_too_long(self) -> bool:
        """The prompt leaves no room for a single generated token: no cap can help."""
        if self.context is None:
            return False
        if self.prompt is not None:
            return self.prompt >= self.context
        return self.prompt_at_least is not None and self.prompt_at_least >= self.context

    @property
    def room(self) -> int | None:
        """The max_tokens that fits, when the message says enough to know it."""
        if self.context is None or self.prompt is None:
            return None
        return self.context - self.prompt


_N = r"(\d+)"
_CTX = rf"maximum context length is {_N} tokens"
_TOO_LONG = "prompt_too_long"
# (pattern, what each group is); the first pattern that matches wins, so specific shapes come first.
_SHAPES: tuple[tuple[re.Pattern, tuple[str, ...]], ...] = tuple((re.compile(p), g) for p, g in (
    # <= 0.9: both numbers, exact.
    (rf"{_CTX}\. However, you requested {_N} tokens \({_N} in the messages, {_N} in the completion\)",
     ("context", "total", "prompt", "max_tokens")),
    (rf"{_CTX}\. However, you requested {_N} tokens in the messages", ("context", "prompt")),
    # 0.10 - 0.17: both, exact.
    (rf"is too large: {_N}\. This model's {_CTX} and your request has {_N} input tokens",
     ("max_tokens", "context", "prompt")),
    # 0.17 - 0.30: the prompt's count, exact unless "at least" (tokenized only that far).
    (rf"{_CTX}\. However, you requested {_N} output tokens and your prompt contains (at least )?{_N} input tokens",
     ("context", "max_tokens", "at_least", "prompt")),
    (rf"{_CTX}\. However, you requested {_N} output tokens and your prompt contains {_N} characters "
     rf"\(more than {_N} characters, which is the upper bound for {_N} input tokens\)",
     ("context", "max_tokens", "chars", "max_chars", "input_bound")),
    # 0.34: the prompt alone exceeds the context.
    (rf"{_CTX}\. However, your prompt contains (at least )?{_N} input tokens", ("context", "at_least", "prompt")),
    (rf"{_CTX}\. However, your prompt contains {_N} characters \(more than {_N} characters, "
     rf"which is the upper bound for {_N} input tokens\)", ("context", "chars", "max_chars", "input_bound_all")),
    # 0.10 - 0.17 (and the completions endpoint's renderer, where the "context" is N - M).
    (rf"(?:This model's|This) {_CTX}\. However, your request has {_N} input tokens", ("context", _TOO_LONG)),
    # max_tokens alone exceeds the context: the context only.
    (rf"max_(?:completion_)?tokens={_N}\s*cannot be greater than max_model_len=(?:max_total_tokens=)?{_N}",
     ("max_tokens", "context")),
    (rf"'max_tokens' \({_N}\) cannot be greater than the model's maximum context length \({_N}\)",
     ("max_tokens", "context")),
    # 0.20 - 0.34 `get_max_tokens`.
    (rf"Input length \({_N}\) exceeds model's maximum context length \({_N}\)", ("prompt", "context")),
))


def parse_overflow(message: str, completions: bool = False) -> Overflow | None:
    """What vLLM's refusal `message` says (None when it is not about the context).

    `completions`: the request went to the completions endpoint, where vLLM 0.10 - 0.14 state the
    room left for the prompt (N - max_tokens) as the "maximum context length": then only the
    prompt's lower bound is taken from it.
    """
    for pattern, groups in _SHAPES:
        m = pattern.search(message)
        if m is None:
            continue
        got = dict(zip(groups, m.groups()))
        context = int(got["context"])
        if _TOO_LONG in got:
            prompt = int(got[_TOO_LONG])
            if completions:  # the stated "context" may be N - max_tokens: P exceeds it, nothing more is sure
                return Overflow(context=None, prompt_at_least=context + 1)
            return Overflow(context=context, prompt=prompt)
        if "input_bound" in got:  # more characters than I tokens can hold: more than I tokens
            return Overflow(context=context, prompt_at_least=int(got["input_bound"]) + 1)
        if "input_bound_all" in got:
            return Overflow(context=context, prompt_at_least=context + 1)
        if "prompt" not in got:
            return Overflow(context=context)
        prompt = int(got["prompt"])
        if got.get("at_least"):
            return Overflow(context=context, prompt_at_least=prompt)
        return Overflow(context=context, prompt=prompt)
    return None


def fit_max_tokens(asked: int, context: int | None, prompt: int | None = None) -> int:
    """The max_tokens to send: `asked`, capped at what the context leaves after the prompt; with
    the prompt's length unknown, at `context - 1` (a prompt has at least one token), which a
    server then lowers or refuses with the numbers to retry with."""
    if context is None:
        return asked
    return min(asked, context - (prompt if prompt is not None else 1))


def cap_record(asked: int, sent: int, context: int | None) -> dict | None:
    """`Generation.max_tokens_capped`: set only when less than the benchmark's budget was sent."""
    if context is None or sent >= asked:
        return None
    return {"asked": asked, "sent": sent, "context": context}


def served_context(models: list[dict], model: str) -> int | None:
    """The context a `GET /v1/models` answer states for `model` (vLLM's ModelCard has
    `max_model_len`); a server that lists one model serves it whatever it is called."""
    cards = [m for m in models if isinstance(m, dict)]
    named = [m for m in cards if m.get("id") == model] or (cards if len(cards) == 1 else [])
    value = named[0].get("max_model_len") if named else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def prompt_too_long(prompt: int | None, context: int, at_least: int | None = None, *,
                    whose: str = "the server's context", remedy: str = "serve the model with a larger --max-model-len") -> str:
    """The per-sample error for a prompt that leaves no room to generate: both lengths, and what helps."""
    length = f"{prompt} tokens" if prompt is not None else f"at least {at_least} tokens"
    return f"the prompt is {length} and {whose} is {context} tokens: no room to generate; {remedy}"
