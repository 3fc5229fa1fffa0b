"""Small helpers the tests share (not fixtures)."""

from __future__ import annotations

import re

from exaone_eval.types import Generation


def gen(answer: str, reasoning: str | None = None, closed: bool = True) -> Generation:
    text = answer if reasoning is None else f"<think>{reasoning}</think>{answer}"
    return Generation(text=text, reasoning=reasoning, answer=answer, reasoning_closed=closed)


def aime_solver(body: dict) -> dict:
    """A scripted model that answers AIME_ROWS correctly: it evaluates the arithmetic in the prompt."""
    prompt = body["messages"][-1]["content"]
    a, op, b = re.search(r"What is (\d+)([+*])(\d+)", prompt).groups()
    value = int(a) + int(b) if op == "+" else int(a) * int(b)
    return {"content": f"<think>easy</think>The answer is \\boxed{{{value}}}.", "completion_tokens": 7}
