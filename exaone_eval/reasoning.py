"""The reasoning part of a response: `<think>` splitting and the report's budget forcing text.

EXAONE 4.0's chat template ends a reasoning-mode prompt with `<think>\\n`, so a completion often
holds only the closing tag: everything before `</think>` is reasoning, everything after is answer.
A reasoning-mode completion with no `</think>` never finished reasoning (cut at max tokens): it
has no answer and is scored as wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

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
