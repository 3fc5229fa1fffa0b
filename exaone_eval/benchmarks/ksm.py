"""KSM (Korean School Math): the Korean competition-math subset of HRM8K.

Ko, Son and Choi, "Understand, Solve and Translate: Bridging the Multilingual Mathematical
Reasoning Gap" (2025, arXiv:2501.02448); Hub dataset `HAERAE-HUB/HRM8K`, config `KSM`, split
`test`, 1,428 problems from Korean olympiad and competition exams, high school to olympiad level.
Columns: `question` (Korean), `original` (English), `answer` (a number; CSV-typed, so it may come
as 3.0). Feeds the "KSM" row (Multilinguality, Korean) of Tables 3-6; 64K tokens in reasoning mode.

The prompt is in Korean and asks for the final answer in \\boxed{} (as HRM8K's own evaluation does);
the last \\boxed{} of the answer part is compared with math-verify (3 = 3.0 = 3.00, \\frac{1}{2} = 0.5),
as for the other math rows. HRM8K's `src/score.py` has two modes: "original" (the first numeric
box, or the last number of the last line) and "math_verify" (math-verify over the whole response).
We agree with the latter on single-box answers; intentionally, a response that boxes twice counts
its last box (math-verify's mode reads all boxes as one set, so a self-correction is wrong there),
an unboxed number is no answer, and \\boxed{7.} is 7 (as in the original mode; math-verify cannot read
"7."). tests/test_official_parity.py lists these cases.

Item id: the rows have no id column, so the id is `ksm-` + the first 12 hex digits of the SHA-256
of the Korean question text: stable across row order and reloads. A question that appears again is
an item of its own, as in HRM8K's scorer, which counts every row: the loader (items.load_items)
gives the repeat its ordinal, `ksm-<hash>#2` (`ID_FROM_CONTENT`); the ordinal is the repeat's place
among the rows with that question, which the pinned revision fixes.
"""

from __future__ import annotations

import hashlib

from exaone_eval.scoring.math import score_boxed
from exaone_eval.types import Generation, HarnessError, Item, Score

# math-verify costs milliseconds per answer: the runner scores in worker processes.
SCORE_IN_PROCESSES = True

# The id is a hash of the question; a repeated question is numbered by the loader (see the docstring).
ID_FROM_CONTENT = True

# "Solve the following problem step by step and write the final answer inside \boxed{}."
PROMPT = "{question}\n\n풀이 과정을 단계별로 서술하고, 최종 답을 \\boxed{{}} 안에 적어 주세요."


def item_id(question: str) -> str:
    return "ksm-" + hashlib.sha256(question.strip().encode("utf-8")).hexdigest()[:12]


def gold_answer(value) -> str:
    """The gold answer as text: 3.0 (a CSV-typed integer) -> "3"; strings pass through stripped."""
    if isinstance(value, bool) or value is None:
        raise HarnessError(f"ksm: answer must be a number or text, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def to_item(row: dict) -> Item:
    return Item(
        id=item_id(row["question"]),
        messages=({"role": "user", "content": PROMPT.format(question=row["question"].strip())},),
        reference=gold_answer(row["answer"]),
    )


def score(item: Item, gen: Generation) -> Score:
    return score_boxed(item.reference, gen.answer)
