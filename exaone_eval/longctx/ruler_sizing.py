"""Sizing RULER's haystacks in the evaluated model's own tokens: a prompt's length as the backend
sends it (`Counter`: the chat template, the answer prefix), RULER's search for the largest
haystack that fits (`binary_search`), and the per-sample loop that shrinks a sample until it
fits (`Stream.sized`), which every task generator (ruler_synth.py) builds on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from exaone_eval.types import HarnessError

@dataclass
class Sample:
    """One prompt: chat messages (the last is the user's task), the assistant's answer prefix, the
    references, and where the needles went."""

    messages: list[dict]
    prefix: str
    outputs: list[str]
    meta: dict = field(default_factory=dict)


class Counter:
    """Tokens of a prompt as the backend sends it: the chat template with the generation prompt,
    then the answer prefix, encoded without added special tokens (the template writes any BOS)."""

    def __init__(self, tokenizer, mode: str = "non-reasoning"):
        if not getattr(tokenizer, "chat_template", None):
            raise HarnessError("RULER counts the chat template in each prompt's length, and the model's tokenizer has no chat template")
        self.tokenizer, self.mode = tokenizer, mode

    def render(self, messages: list[dict], prefix: str) -> str:
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                                  enable_thinking=self.mode == "reasoning") + prefix

    def tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def prompt(self, messages: list[dict], prefix: str) -> int:
        return self.tokens(self.render(messages, prefix))


def binary_search(make: Callable[[int], int], lower: int, upper: int, max_length: int) -> int | None:
    """The largest haystack size in [lower, upper] whose prompt fits (`make(size)` builds one and
    returns its length), searched as RULER does; None when none fits."""
    best = None
    while lower <= upper:
        mid = (lower + upper) // 2
        if make(mid) <= max_length:
            best, lower = mid, mid + 1
        else:
            upper = mid - 1
    return best


class Stream:
    """One task at one length: `samples()` yields its Samples in order (seed `seed`)."""

    tokens_to_generate: int
    template: str
    answer_prefix: str

    def __init__(self, args: dict, length: int, counter: Counter, seed: int):
        self.args, self.length, self.counter, self.seed = args, length, counter, seed
        self.rng = random.Random(seed)

    def fits(self, sample: Sample, extra: int = 0) -> int:
        """The sample's length: prompt tokens + tokens_to_generate (+ `extra`)."""
        return self.counter.prompt(sample.messages, sample.prefix) + self.tokens_to_generate + extra

    def sized(self, build: Callable[[int], Sample], size: int, incremental: int, extra: int = 0) -> Sample:
        """RULER's per-sample loop: build at `size`; while it does not fit, retry `incremental` smaller
        (at the smallest size the official loops forever: here it is an error)."""
        while True:
            sample = build(size)
            length = self.fits(sample, extra)
            if length <= self.length:
                sample.meta["length"] = length
                return sample
            if size <= incremental:
                raise HarnessError(f"RULER: even the smallest haystack does not fit {self.length} tokens "
                                   f"(prompt + {self.tokens_to_generate} to generate: {length})")
            size -= incremental
