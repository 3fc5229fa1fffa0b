"""The reasoning part of a response: `<think>` splitting and the report's budget forcing text.

EXAONE 4.0's chat template ends a reasoning-mode prompt with `<think>\\n`, so a completion often
holds only the closing tag: everything before `</think>` is reasoning, everything after is answer.
A reasoning-mode completion with no `</think>` never finished reasoning (cut at max tokens): it
has no answer and is scored as wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exaone_eval.types import Request

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# Report section 3.5 (after Qwen3): appended when the reasoning reaches its budget.
BUDGET_FORCING_TEXT = (
    "Considering the limited time by the user, I have to give the solution based on the thinking directly now.\n"
    "</think>\n\n"
)


@dataclass(frozen=True)
class Split:
    reasoning: str | None
    """The text between `<think>` and `</think>`; None when the response has no reasoning."""
    answer: str
    """The text after `</think>` (the whole text when there is no reasoning)."""
    closed: bool
    """False when a reasoning was opened (or expected) but `</think>` never came."""


def split_reasoning(text: str, expect_reasoning: bool = False) -> Split:
    """Split a full response into reasoning and answer.

    `expect_reasoning` says the prompt already opened `<think>` (reasoning mode): then a text
    without `</think>` is an unfinished reasoning rather than a plain answer.
    """
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        head = text[:close]
        open_ = head.find(THINK_OPEN)
        reasoning = head[open_ + len(THINK_OPEN):] if open_ >= 0 else head
        return Split(reasoning.strip(), text[close + len(THINK_CLOSE):].strip(), True)
    open_ = text.find(THINK_OPEN)
    if open_ >= 0:
        return Split(text[open_ + len(THINK_OPEN):].strip(), "", False)
    if expect_reasoning:
        return Split(text.strip(), "", False)
    return Split(None, text.strip(), True)


def join_reasoning(reasoning: str | None, answer: str) -> str:
    """The full text of a response whose server returned reasoning and answer apart."""
    if reasoning is None:
        return answer
    return f"{THINK_OPEN}\n{reasoning}\n{THINK_CLOSE}\n\n{answer}"


def render_chat(tokenizer, request: Request) -> str:
    """The prompt text a chat server would build: the chat template, thinking on in reasoning mode."""
    return tokenizer.apply_chat_template(
        [dict(m) for m in request.messages],
        tools=list(request.tools) if request.tools else None,
        add_generation_prompt=True,
        tokenize=False,
        enable_thinking=request.mode == "reasoning",
    )


def raw_prompt(render, request: "Request") -> tuple[str, str]:
    """(prompt, prefix) of a request sent as raw text: the chat template rendered by `render`
    (nothing for a request without messages, a raw continuation), and the assistant text already
    generated. Raises ValueError with a one-line reason."""
    try:
        prompt = render(request) if request.messages else ""
    except Exception as e:  # a template error is the request's failure, not the run's
        raise ValueError(f"chat template failed: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}") from None
    prefix = request.prefix or ""
    if not prompt and not prefix:
        raise ValueError("a request needs messages or a prefix")
    return prompt, prefix


# ---- budget forcing over an engine without a hook: which calls one request makes -----------------
# The openai (completions endpoint) and vllm backends force a budget from the outside: a first
# call capped at the budget, then, if the reasoning is still open, the forcing text and a second
# call for the answer. The bundled engine does the same inside its decode loop.


@dataclass(frozen=True)
class FirstCall:
    cap: int
    """Tokens the current phase may generate: the answer cap once the prefix closed the
    reasoning, else the request's max tokens."""
    budget: int | None
    """The reasoning budget that applies (reasoning mode, reasoning still open), else None."""

    @property
    def max_tokens(self) -> int:
        return self.cap if self.budget is None else min(self.cap, self.budget)


def first_call(request: Request, prefix: str) -> FirstCall:
    closed = THINK_CLOSE in prefix
    cap = request.answer_max_tokens if closed and request.answer_max_tokens is not None else request.sampling.max_tokens
    budget = request.reasoning_budget if request.mode == "reasoning" and not closed else None
    return FirstCall(cap, budget)


def second_call(request: Request, first: FirstCall, text: str, finish: str | None, tokens: int) -> tuple[str, int] | None:
    """After the first call generated `text` (`tokens` tokens): the text to append and the token
    cap of a second call, or None when the request is done."""
    if first.budget is None or finish != "length" or tokens < first.budget:
        return None  # no budget, or it ended (eos, stop string, cap) before reaching it
    if THINK_CLOSE not in text:  # the reasoning reached its budget: force the answer
        answer_cap = request.answer_max_tokens if request.answer_max_tokens is not None else request.sampling.max_tokens
        return BUDGET_FORCING_TEXT, answer_cap
    more = first.cap - tokens  # it closed within the budget: the answer runs on to the cap
    return ("", more) if more > 0 else None
