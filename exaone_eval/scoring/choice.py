"""Multiple-choice answer letters: the extraction recipes of the official scorers, side by side.

Each benchmark module picks one recipe and says why in its docstring:
  - `extract_mmlu_pro`        TIGER-AI-Lab/MMLU-Pro's three-level chain ("answer is (X)", then
                              "Answer: X", then the last standalone letter): MMLU-Pro, MMLU-Redux.
  - `first_match`             one regex, first match in the text: simple-evals' GPQA.
  - `extract_labelled`        simple-evals' multilingual MMLU procedure (strip markup, try each
                              answer label in order, first match wins): MMMLU (ES).
  - `extract_last_statement`  the last explicit answer statement of the text: KMMLU-Pro/Redux.
Every recipe reads only the text it is given (the answer part of a response, never the
reasoning) and returns `(letter, rule)`, or `(None, None)` when it finds no answer. An answer
that was not found is scored 0 but kept distinct from a wrong one (`Score.extracted` is None).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict
from typing import Iterable

from exaone_eval.types import Item, Score

LETTERS = "ABCDEFGHIJ"

# Letters written in other scripts, mapped to Latin ones. simple-evals maps full-width letters
# (Japanese answers) and the Arabic / Bengali option letters the same way (SIMPLE_EVALS_FORMS);
# circled numbers are how Korean exams number their options (our Korean recipe only).
SIMPLE_EVALS_FORMS: dict[str, str] = {
    **{chr(ord("Ａ") + i): LETTERS[i] for i in range(10)},
    **dict(zip("أبجد", "ABCD")),
    **dict(zip("অবডঢ", "ABCD")),
}
LETTER_FORMS: dict[str, str] = {**SIMPLE_EVALS_FORMS, **{chr(ord("①") + i): LETTERS[i] for i in range(10)}}

# Markdown and LaTeX wrappers that stand between an answer label and its letter
# ("**Respuesta:** $\boxed{B}$"): the tokens simple-evals' `normalize_response` (common.py,
# ee3b031) deletes, in its order. Each is deleted everywhere before the next is looked for, so
# "}" stays and "\{" goes whole ("Respuesta: \{B\}" reads B); "\mathrm" goes only with its "{".
_MARKUP_TOKENS = ("**", "$\\boxed{", "}$", "\\$", "$\\text{", "$", "\\mathrm{", "\\{", "\\text", "\\(", "\\mathbf{", "{", "\\boxed")


def strip_markup(text: str) -> str:
    for token in _MARKUP_TOKENS:
        text = text.replace(token, "")
    return text


def normalize_letter(ch: str) -> str:
    return LETTER_FORMS.get(ch, ch)


def letter_class(letters: str, forms: dict[str, str] = LETTER_FORMS) -> str:
    """A regex character class for `letters` and their other-script `forms`."""
    forms = "".join(k for k, v in forms.items() if v in letters)
    return f"[{re.escape(letters + forms)}]"


def extract_mmlu_pro(text: str, letters: str = LETTERS) -> tuple[str | None, str | None]:
    """MMLU-Pro's `extract_answer` (evaluate_from_api.py, compute_accuracy.py level 2), with its `**` strip.

    1. the first "answer is (X)" / "answer is X" (case-sensitive, as the official regex);
    2. else the first line with "Answer:" / "answer:", its last such occurrence (greedy `.*`);
    3. else the last standalone letter of the whole text (`\\b[A-J]\\b`, DOTALL).
    """
    text = text.replace("**", "")
    cls = f"[{letters}]"
    m = re.search(rf"answer is \(?({cls})\)?", text)
    if m:
        return m.group(1), "answer is (X)"
    m = re.search(rf".*[aA]nswer:\s*({cls})", text)
    if m:
        return m.group(1), "Answer: X"
    m = re.search(rf"\b{cls}\b(?!.*\b{cls}\b)", text, re.DOTALL)
    if m:
        return m.group(0), "last standalone letter"
    return None, None


def first_match(pattern: re.Pattern, text: str) -> tuple[str | None, str | None]:
    """The first group of the first match of `pattern` in `text` (simple-evals' `re.search`)."""
    m = pattern.search(text)
    return (m.group(1), pattern.pattern) if m else (None, None)


def extract_labelled(text: str, labels: Iterable[str], letters: str = "ABCD") -> tuple[str | None, str | None]:
    """simple-evals' multilingual procedure: strip markup, then for each answer label in order,
    the first "<label> X" in the text; the first label that matches wins. Case-insensitive, as
    simple-evals: a lowercase letter is extracted as it is (and is then wrong against "B").
    Only simple-evals' letter forms count (a circled "②" is no answer here)."""
    text = strip_markup(text)
    for label in labels:
        m = re.search(rf"(?i){label}[ \t]*({letter_class(letters, SIMPLE_EVALS_FORMS)})", text)
        if m:
            return normalize_letter(m.group(1)), label
    return None, None


def extract_last_statement(text: str, patterns: dict[str, re.Pattern]) -> tuple[str | None, str | None]:
    """The letter of the last answer statement in `text` over all named `patterns` (the final
    answer wins over letters discussed earlier), and the name of the pattern that found it."""
    best = None
    for name, pattern in patterns.items():
        for m in pattern.finditer(text):
            if best is None or m.start() > best[0].start():
                best = (m, name)
    if best is None:
        return None, None
    return normalize_letter(best[0].group(1)), best[1]


def korean_answer_patterns(letters: str) -> dict[str, re.Pattern]:
    """Answer statements in Korean and English: "정답: B", "정답은 (B)입니다", "답: B", "답변: **B**",
    "The answer is (B)", "Answer: B", "\\boxed{B}". Letters are upper case (a lowercase "b" is not an
    answer); the letter may be wrapped in `**`, `( )`, `[ ]`, `$ $` or `\\boxed{}`; Korean text may
    follow it directly ("B입니다"), a Latin letter may not ("Because")."""
    cls = letter_class(letters)
    wrap = r"(?:\s|\*|\(|\[|\$|\\boxed\{|\\text\{|\{)*"
    end = r"(?![A-Za-z])"
    return {
        "정답/답: X": re.compile(rf"(?:정답|답변|답)\s*[:：]{wrap}({cls}){end}"),
        "정답은 X": re.compile(rf"정답\s*(?:은|는){wrap}({cls}){end}"),
        "answer is X / Answer: X": re.compile(rf"(?<![A-Za-z])(?i:answer)(?:\s*:|\s+is\b:?){wrap}({cls}){end}"),
        "\\boxed{X}": re.compile(rf"\\boxed\{{\s*(?:\\text\{{)?\s*({cls})\s*\}}"),
    }


def verdict(extracted: str | None, reference: str, rule: str | None, **detail) -> Score:
    """1.0 when the extracted letter is the reference; no letter is 0 with `extracted` None."""
    if extracted is None:
        return Score(0.0, None, {"reason": "no answer letter found", "reference": reference, **detail})
    return Score(float(extracted == reference), extracted, {"rule": rule, "reference": reference, **detail})


def seeded_guess(name: str, item_id: str, letters: str) -> str:
    """A reproducible random letter for one item (MMLU-Pro's optional guess for missing answers)."""
    seed = int.from_bytes(hashlib.sha256(f"{name}\x1f{item_id}".encode()).digest()[:8], "big")
    return random.Random(seed).choice(letters)


def content_id(*parts: object) -> str:
    """A stable id from a row's content, for datasets without ids of their own (order-independent)."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:12]


def no_answer_metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """The percent of responses with no extractable answer (the runner reports their count as
    `no_answer` beside every benchmark's score)."""
    missing = sum(1 for _, s in records if s.extracted is None)
    return {"no_answer_pct": 100.0 * missing / len(records) if records else float("nan")}


def accuracy_by(records: list[tuple[Item, Score]], meta_key: str, prefix: str) -> dict[str, float]:
    """Accuracy (0-100, over samples) per value of `item.meta[meta_key]`."""
    groups: dict[str, list[float]] = defaultdict(list)
    for item, s in records:
        groups[str(item.meta[meta_key])].append(s.value)
    return {f"{prefix}/{k}": 100.0 * sum(v) / len(v) for k, v in sorted(groups.items())}
