"""LLM-as-a-judge: the pieces a judged benchmark shares (request building, verdict parsing).

A judged benchmark module stays free of HTTP and caching. It exposes
`judge_requests(item, gen) -> list[Request]` (the judge prompt as chat messages) and
`score(item, gen, judgments) -> Score`; the runner sends the requests to the configured judge
endpoint (`--judge-base-url`, `--judge-model`), caches them in the sample store like any
generation, and hands the judge's Generations back to `score`.

Verdicts are read the way GEMBA reads them (Kocmi & Federmann, 2023, arXiv:2302.14520): a
reply that holds one number is that number; a number outside the scale, or a reply that cannot
be read, is no verdict at all. On top of that a labelled score ("Score: 85", "**Score:** 85")
or a fraction of the scale's top ("85/100", "85 out of 100") wins over other numbers around it,
since judges often restate the scale or quote numbers from the text they judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exaone_eval.types import Generation, HarnessError, Request, Sampling

# Greedy, short: a verdict is a number, perhaps with a sentence around it.
JUDGE_MAX_TOKENS = 256

_NUM = r"[-+]?\d+(?:\.\d+)?"
# A number not glued to letters, digits or a decimal point ("v2", "3.5.1", "1e5" are not scores).
_NUMBER = re.compile(rf"(?<![\w.]){_NUM}(?![\w]|\.\d)")
_LABELLED = re.compile(rf"score\W{{0,6}}(?:is|of|=|:)?\W{{0,6}}?({_NUM})(?![\w]|\.\d)", re.IGNORECASE)


def judge_request(prompt: str, max_tokens: int = JUDGE_MAX_TOKENS) -> Request:
    """One greedy, non-reasoning chat request carrying the rendered judge prompt."""
    return Request(
        messages=({"role": "user", "content": prompt},),
        sampling=Sampling(temperature=0.0, max_tokens=max_tokens),
        mode="non-reasoning",
    )


def parse_score(text: str, low: float = 0.0, high: float = 100.0) -> float | None:
    """The judge's score in [low, high], or None when the reply holds no unambiguous score."""
    text = text.strip().strip("*`\"' ").rstrip(".")
    labelled = _LABELLED.findall(text)
    fraction = re.findall(rf"(?<![\w.])({_NUM})\s*(?:/|out of)\s*{high:g}(?![\w]|\.\d)", text)
    numbers = _NUMBER.findall(text)
    if labelled:
        value = labelled[-1]
    elif fraction:
        value = fraction[-1]
    elif len(numbers) == 1:
        value = numbers[0]
    else:
        return None
    score = float(value)
    return score if low <= score <= high else None


@dataclass(frozen=True)
class Verdict:
    """The judge's reading of one generation."""

    score: float | None
    """The mean of the judge scores; None when any judge reply could not be read."""
    raw: tuple[str, ...]
    """The judge replies (answer part) as sent back, for the sample log."""
    parsed: tuple[float | None, ...]
    """Each reply's score, None where unreadable."""


def read_verdicts(judgments: list[Generation], low: float = 0.0, high: float = 100.0) -> Verdict:
    """Parse every judge reply; one unreadable reply makes the whole verdict unreadable.

    A judge call that failed (`error` set) never reaches a scorer: the runner retries it.
    """
    failed = [j.error for j in judgments if j.error]
    if failed:
        raise HarnessError(f"a failed judge call was passed to the scorer ({failed[0]}); it must be retried")
    raw = tuple(j.answer for j in judgments)
    parsed = tuple(parse_score(r, low, high) for r in raw)
    if not parsed or any(p is None for p in parsed):
        return Verdict(None, raw, parsed)
    return Verdict(sum(parsed) / len(parsed), raw, parsed)
