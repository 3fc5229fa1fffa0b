"""RULER's synthetic sample generators (NVIDIA/RULER `scripts/data/synthetic/*.py`), rewritten as
lazy streams.

One `Stream` per (task, length) makes that task's samples in order, as the official script does in
its own process: one `random.Random(seed)` (and, for variable tracking, one numpy `RandomState`)
drawn in the same order as the official calls (the sizing search draws too), the haystack sized
once by the same search, then each sample built at that size (smaller by `incremental` while it
does not fit). Lengths are the model's own tokens of the whole prompt as the backend sends it:
the chat template around the task text plus the answer prefix, plus `tokens_to_generate`
(`Counter`).

Differences from the official scripts, each forced by something here:
- The chat wrapper is the model's own chat template (`apply_chat_template`), not one of RULER's
  hard-coded template strings; the answer prefix is the start of the assistant turn. CWE's
  few-shot example, which the official inlines as a second copy of the wrapped template, is a
  previous user / assistant turn.
- CWE draws only from wonderwords' 8,166 words. Where the official needs more distinct words
  (about 128K tokens) it falls back to `english_words.json`, a Git LFS file that is in no
  package; here a count beyond the word list counts as "does not fit", so such prompts come out a
  little shorter than the length.

Here: the five task generators (NIAH, variable tracking, common and frequent words, QA); their
sources are ruler_sources.py, the sizing they share (token counting, the haystack search, the
per-sample fit loop) ruler_sizing.py.
"""

from __future__ import annotations

import random
import string
import uuid
from typing import Iterator

from exaone_eval.longctx.ruler_sizing import Sample, Stream, binary_search
from exaone_eval.longctx.ruler_sources import adj_noun_words, common_words, depths, essay_words, qa_source, sentences
from exaone_eval.types import HarnessError

NEEDLE = "One of the special magic {type_needle_v} for {key} is: {value}."
NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
DOCUMENT_PROMPT = "Document {i}:\n{document}"






# ---- the five generators ---------------------------------------------------------------------------


class Niah(Stream):
    tokens_to_generate = 128
    template = ("Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. "
                "I will quiz you about the {type_needle_v} afterwards.\n{context}\n"
                "What are all the special magic {type_needle_v} for {query} mentioned in the provided text?")
    answer_prefix = " The special magic {type_needle_v} for {query} mentioned in the provided text are"

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.num_k = max(self.args["num_needle_k"], self.args["num_needle_q"])
        self.haystack_type = self.args["type_haystack"]
        self.depths = depths()

    def random_value(self, kind: str) -> str:
        if kind == "numbers":
            return str(self.rng.randint(10**6, 10**7 - 1))
        if kind == "words":
            return adj_noun_words()[self.rng._randbelow(len(adj_noun_words()))]  # = random.choice on the list
        if kind == "uuids":
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        raise HarnessError(f"RULER niah: unknown needle type {kind!r}")

    def build(self, num_haystack: int) -> Sample:
        a = self.args
        keys, values, needles = [], [], []
        for _ in range(self.num_k):
            keys.append(self.random_value(a["type_needle_k"]))
            value = []
            for _ in range(a["num_needle_v"]):
                value.append(self.random_value(a["type_needle_v"]))
                needles.append(NEEDLE.format(type_needle_v=a["type_needle_v"], key=keys[-1], value=value[-1]))
            values.append(value)
        random.Random(self.seed).shuffle(needles)
        if self.haystack_type == "essay":
            words = essay_words()
            repeats = (num_haystack + len(words) - 1) // len(words)
            text = " ".join(words[:num_haystack] if num_haystack <= len(words) else (words * repeats)[:num_haystack])
            sents = sentences(text.strip())
            picked = self.rng.sample(self.depths, len(needles))
            cuts = [0] + sorted(int(len(sents) * (d / 100)) for d in picked) + [len(sents)]
            parts = []
            for i in range(1, len(cuts)):
                parts.append(" ".join(sents[cuts[i - 1]:cuts[i]]))
                if i - 1 < len(needles):
                    parts.append(needles[i - 1])
            context = " ".join(parts)
            where = {"depths": sorted(picked)}
        else:
            if self.haystack_type == "noise":
                lines = [NOISE] * num_haystack
            elif self.haystack_type == "needle":
                lines = [NEEDLE.format(type_needle_v=a["type_needle_v"], key=self.random_value(a["type_needle_k"]),
                                       value=self.random_value(a["type_needle_v"])) for _ in range(num_haystack)]
            else:
                raise HarnessError(f"RULER niah: unknown haystack {self.haystack_type!r}")
            positions = sorted(self.rng.sample(range(num_haystack), len(needles)), reverse=True)
            for index, needle in zip(positions, needles):
                lines.insert(index, needle)
            context = "\n".join(lines)
            where = {"positions": sorted(positions)}
        picks = self.rng.sample(range(self.num_k), a["num_needle_q"])
        queries = [keys[i] for i in picks]
        answers = [v for i in picks for v in values[i]]
        query = ", ".join(queries[:-1]) + ", and " + queries[-1] if len(queries) > 1 else queries[0]
        template, prefix, kind = self.template, self.answer_prefix, a["type_needle_v"]
        if a["num_needle_q"] * a["num_needle_v"] == 1:  # one answer: the official rewrites the wording
            template, prefix = (_singular(t) for t in (template, prefix))
            kind = kind[:-1]
        user = template.format(type_needle_v=kind, context=context, query=query)
        return Sample([{"role": "user", "content": user}], prefix.format(type_needle_v=kind, query=query), answers,
                      {"haystack_size": num_haystack, "needles": needles, **where})

    def samples(self) -> Iterator[Sample]:
        if self.haystack_type == "essay":
            incremental = 500
        else:
            incremental = 25 if self.length >= 4096 else 5
        tokens_per_unit = self.counter.prompt(*self._prompt(self.build(incremental))) / incremental
        upper = max(int(self.length / tokens_per_unit * 3), incremental * 2)
        size = binary_search(lambda n: self.fits(self.build(n)), incremental, upper, self.length) or incremental
        while True:
            yield self.sized(self.build, size, incremental)

    @staticmethod
    def _prompt(sample: Sample) -> tuple[list[dict], str]:
        return sample.messages, sample.prefix


def _singular(text: str) -> str:
    return text.replace("Some", "A").replace("are all", "is").replace("are", "is").replace("answers", "answer")


class VariableTracking(Stream):
    tokens_to_generate = 30
    template = ("Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\n"
                "Question: Find all variables that are assigned the value {query} in the text above.")
    answer_prefix = (" Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables "
                     "are assigned the value {query}, they are: ")

    def __init__(self, *a, **k):
        import numpy as np

        super().__init__(*a, **k)
        self.np_rng = np.random.RandomState(self.seed)
        if self.args["type_haystack"] != "noise":
            raise HarnessError("RULER vt: only the noise haystack of synthetic.yaml is built")

    def chains(self, is_icl: bool) -> tuple[list[list[str]], list[list[str]]]:
        num_chains, num_hops = self.args["num_chains"], self.args["num_hops"]
        k = 3 if is_icl else 5
        num_hops = min(10, num_hops) if is_icl else num_hops
        names = ["".join(self.rng.choices(string.ascii_uppercase, k=k)).upper() for _ in range((num_hops + 1) * num_chains)]
        while len(set(names)) < num_chains * (num_hops + 1):
            names.append("".join(self.rng.choices(string.ascii_uppercase, k=k)).upper())
        variables, chains = [], []
        for i in range(0, len(names), num_hops + 1):
            these = names[i:i + num_hops + 1]
            variables.append(these)
            chain = [f"VAR {these[0]} = 12345" if is_icl else f"VAR {these[0]} = {self.np_rng.randint(10000, 99999)}"]
            chain += [f"VAR {these[j + 1]} = VAR {these[j]} " for j in range(num_hops)]
            chains.append(chain)
        return variables, chains

    def text(self, num_noises: int, is_icl: bool) -> tuple[str, str, list[str]]:
        """(task text, answer prefix, answer): the noise haystack with the chains inserted."""
        variables, chains = self.chains(is_icl)
        value = chains[0][0].split("=")[-1].strip()
        lines = [NOISE] * num_noises
        for chain in chains:
            positions = sorted(self.rng.sample(range(len(lines)), len(chain)))
            for j, (pos, step) in enumerate(zip(positions, chain)):
                lines.insert(pos + j, step)
        context = "\n".join(lines).replace(". \n", ".\n")
        num_v = self.args["num_hops"] + 1  # the official formats with the configured hops, ICL or not
        return (self.template.format(context=context, query=value),
                self.answer_prefix.format(num_v=num_v, query=value), variables[0])

    def icl_example(self) -> str:
        """The official first pass: one sample sized to 500 tokens with the bare template (no chat
        wrapper, answer prefix included, nothing to generate), answered, as a worked example."""
        def length(n: int) -> int:
            return self.counter.tokens("".join(self.text(n, is_icl=True)[:2]))

        incremental = 5
        per_unit = length(incremental) / incremental
        upper = max(int(500 / per_unit * 3), incremental * 2)
        size = binary_search(length, incremental, upper, 500) or incremental
        while True:
            task, prefix, answer = self.text(size, is_icl=True)
            if self.counter.tokens(task + prefix) <= 500 or size <= incremental:
                break
            size -= incremental
        return task + prefix + " " + " ".join(answer) + "\n"

    def randomize(self, example: str) -> str:
        """A fresh copy of the worked example: new variable names and value (RULER's randomize_icl)."""
        for name in example.strip().split()[-self.args["num_hops"] - 1:]:
            example = example.replace(name, "".join(self.rng.choices(string.ascii_uppercase, k=len(name))).upper())
        return example.replace("12345", str(self.np_rng.randint(10000, 99999)))

    def samples(self) -> Iterator[Sample]:
        example = self.icl_example()
        example_tokens = self.counter.tokens(example)
        incremental = 10 if self.length >= 4096 else 5

        def plain(n: int) -> Sample:
            task, prefix, answer = self.text(n, is_icl=False)
            return Sample([{"role": "user", "content": task}], prefix, answer, {"haystack_size": n})

        per_unit = self.counter.prompt(*Niah._prompt(plain(incremental))) / incremental
        upper = max(int(self.length / per_unit * 3), incremental * 2)
        size = binary_search(lambda n: self.fits(plain(n), example_tokens), incremental, upper, self.length) or incremental

        def with_example(n: int) -> Sample:
            sample = plain(n)
            sample.messages[0]["content"] = self.randomize(example) + "\n" + sample.messages[0]["content"]
            return sample

        while True:
            yield self.sized(with_example, size, incremental)


class CommonWords(Stream):
    tokens_to_generate = 120
    template = ("Below is a numbered list of words. In these words, some appear more often than others. "
                "Memorize the ones that appear most often.\n{context}\nQuestion: What are the 10 most common words in the above list?")
    answer_prefix = " Answer: The top 10 words that appear most often in the list are:"

    def words_example(self, num_words: int, common_repeats: int, uncommon_repeats: int) -> tuple[str, list[str]]:
        words = common_words(self.seed)
        if num_words > len(words):  # the official's english_words.json fallback is in no package (module docstring)
            raise _TooMany()
        picked = self.rng.sample(words, num_words)
        common, uncommon = picked[: self.args["num_cw"]], picked[self.args["num_cw"]:]
        listed = common * common_repeats + uncommon * uncommon_repeats
        random.Random(self.seed).shuffle(listed)
        return " ".join(f"{i + 1}. {w}" for i, w in enumerate(listed)), common

    def build(self, num_words: int) -> Sample:
        a = self.args
        if self.length < 4096:
            example, example_answer = self.words_example(20, 3, 1)
            context, answer = self.words_example(num_words, 6, 1)
        else:
            example, example_answer = self.words_example(40, 10, 3)
            context, answer = self.words_example(num_words, a["freq_cw"], a["freq_ucw"])
        numbered = " ".join(f"{i + 1}. {w}" for i, w in enumerate(example_answer))
        messages = [
            {"role": "user", "content": self.template.format(context=example)},
            {"role": "assistant", "content": self.answer_prefix + " " + numbered},
            {"role": "user", "content": self.template.format(context=context)},
        ]
        return Sample(messages, self.answer_prefix, answer, {"haystack_size": num_words})

    def length_of(self, num_words: int) -> int:
        try:
            return self.fits(self.build(num_words))
        except _TooMany:
            return self.length + 1

    def samples(self) -> Iterator[Sample]:
        incremental = 10
        per_word = self.counter.prompt(*Niah._prompt(self.build(4096))) / 4096
        upper = max(int(self.length // per_word) * 2, incremental * 2)
        size = binary_search(self.length_of, incremental, upper, self.length) or incremental
        while True:
            yield self.sized(self.build, size, incremental)


class _TooMany(Exception):
    """CWE asked for more distinct words than the word list has."""


class FrequentWords(Stream):
    tokens_to_generate = 50
    template = ("Read the following coded text and track the frequency of each coded word. Find the three most frequently "
                "appeared coded words. {context}\nQuestion: Do not provide any explanation. Please ignore the dots '....'. "
                "What are the three most frequently appeared words in the above coded text?")
    answer_prefix = " Answer: According to the coded text above, the three most frequently appeared words are:"
    coded_wordlen = 6

    def generate(self, max_len: int, vocab_size: int, incremental: int, num_words: int = -1) -> tuple[Sample, int]:
        """RULER's fwe `generate_input_output`: a fresh coded vocabulary, Zipf-distributed counts
        (alpha), the size grown or shrunk by `incremental` to the prompt budget `max_len`."""
        import numpy as np
        from scipy.special import zeta

        alpha = self.args["alpha"]
        vocab = ["".join(self.rng.choices(string.ascii_lowercase, k=self.coded_wordlen)) for _ in range(vocab_size)]
        while len(set(vocab)) < vocab_size:
            vocab.append("".join(self.rng.choices(string.ascii_lowercase, k=self.coded_wordlen)))
        vocab = sorted(set(vocab))
        random.Random(self.seed).shuffle(vocab)
        vocab[0] = "..."  # the top-ranked word is noise

        def text(n: int) -> Sample:
            ranks = np.arange(1, len(vocab) + 1)
            counts = (n * (ranks ** -alpha) / zeta(alpha)).astype(int)
            words = [w for w, c in zip(vocab, counts) for _ in range(c)]
            random.Random(self.seed).shuffle(words)
            return Sample([{"role": "user", "content": self.template.format(context=" ".join(words))}],
                          self.answer_prefix, vocab[1:4], {"haystack_size": n})

        if num_words > 0:
            sample = text(num_words)
            while self.counter.prompt(sample.messages, sample.prefix) > max_len:
                num_words -= incremental
                sample = text(num_words)
        else:
            num_words = max_len // self.coded_wordlen
            sample = text(num_words)
            while self.counter.prompt(sample.messages, sample.prefix) < max_len:
                num_words += incremental
                sample = text(num_words)
            num_words -= incremental
        return text(num_words), num_words

    def samples(self) -> Iterator[Sample]:
        max_len = self.length - self.tokens_to_generate
        vocab_size = max_len // 50
        _, num_words = self.generate(max_len, vocab_size, max_len // 32)
        while True:
            sample, _ = self.generate(max_len, vocab_size, max_len // 32, num_words)
            sample.meta["length"] = self.fits(sample)
            yield sample


class QA(Stream):
    tokens_to_generate = 32
    template = ("Answer the question based on the given documents. Only give me the answer and do not output any other words.\n\n"
                "The following are given documents.\n\n{context}\n\nAnswer the question based on the given documents. "
                "Only give me the answer and do not output any other words.\n\nQuestion: {query}")
    answer_prefix = " Answer:"

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.qas, self.docs = qa_source(self.args["dataset"])

    def build_for(self, index: int, num_docs: int) -> Sample:
        qa = self.qas[index]
        own, more = qa["context"], qa.get("more_context", [])
        if num_docs < len(self.docs):
            if num_docs - len(own) > len(more):
                taken = set(own + more)
                others = [i for i in range(len(self.docs)) if i not in taken]
                picked = own + more + self.rng.sample(others, max(0, num_docs - len(own) - len(more)))
            else:
                picked = own + self.rng.sample(more, num_docs - len(own))
            docs = [self.docs[i] for i in picked]
        else:
            repeats = (num_docs + len(self.docs) - 1) // len(self.docs)
            docs = (self.docs * repeats)[:num_docs]
        random.Random(self.seed).shuffle(docs)
        context = "\n\n".join(DOCUMENT_PROMPT.format(i=i + 1, document=d) for i, d in enumerate(docs))
        return Sample([{"role": "user", "content": self.template.format(context=context, query=qa["query"])}],
                      self.answer_prefix, list(qa["outputs"]),
                      {"haystack_size": num_docs, "question_index": index, "gold_documents": [docs.index(self.docs[i]) + 1 for i in own]})

    def samples(self) -> Iterator[Sample]:
        incremental = 10
        per_doc = self.counter.prompt(*Niah._prompt(self.build_for(0, incremental))) / incremental
        upper = max(int(self.length / per_doc * 3), incremental * 2)
        size = binary_search(lambda n: self.fits(self.build_for(0, n)), incremental, upper, self.length) or incremental
        index = 0
        while index < len(self.qas):
            yield self.sized(lambda n: self.build_for(index, n), size, incremental)
            index += 1


GENERATORS: dict[str, type[Stream]] = {
    "niah": Niah,
    "variable_tracking": VariableTracking,
    "common_words_extraction": CommonWords,
    "freq_words_extraction": FrequentWords,
    "qa": QA,
}
