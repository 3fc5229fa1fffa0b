"""KMMLU-Pro: 2,822 questions from 14 Korean National Professional Licensure exams (law, medicine,
accounting, tax, patents, ...), four or five options each.

Hong et al., 2025, "From KMMLU-Redux to KMMLU-Pro: A Professional Korean Benchmark Suite for LLM
Evaluation", arXiv:2507.08924 (LG AI Research, the report's authors). Hub dataset
`LGAI-EXAONE/KMMLU-Pro`, test split, 2,822 rows (question, options = list of strings, solution =
1-based option number, license_name = the exam); gated: accept its terms on the Hub and set HF_TOKEN.
Feeds the "KMMLU-Pro (KO)" row of Tables 3-6 (Multilinguality).

Item id. The rows have no id column: the item id is `<license_name>/<12 hex digits of a hash of
question and options>`, stable whatever the row order. A question asked again in the same exam
with the same options is an item of its own (every row counts), told apart by its ordinal among
those rows: `<license_name>/<hash>#2` (`ID_FROM_CONTENT`: the loader, items.load_items, numbers
them; the ordinal is the repeat's place among the rows with that content, fixed by the pinned revision).

The paper's evaluation code is not public, so there is no official scorer to copy. The prompt is
simple-evals' multiple-choice instruction written in Korean (the benchmark's language), options
lettered A-E; the scorer reads the LAST answer statement of the answer part, in Korean or English
("정답: B", "정답은 (B)입니다", "답: B", "The answer is (B)", "Answer: B", "\\boxed{B}"; see
`scoring.choice.korean_answer_patterns`). Option numbers written ①-⑤ count as A-E.
"""

from __future__ import annotations

from exaone_eval.scoring.choice import (
    LETTERS,
    accuracy_by,
    content_id,
    extract_last_statement,
    korean_answer_patterns,
    no_answer_metrics,
    verdict,
)
from exaone_eval.types import Generation, HarnessError, Item, Score

PROMPT = (
    "다음 객관식 문제에 답하세요. 응답의 마지막 줄은 반드시 '정답: $LETTER' (따옴표 제외) 형식이어야 하며,"
    " LETTER는 {letters} 중 하나입니다. 답하기 전에 단계별로 생각하세요.\n\n{question}\n\n{options}"
)
OPTION = "{letter}) {text}"
ANSWER_PATTERNS = korean_answer_patterns(LETTERS[:5])
# The id is a hash of the content; repeated rows are numbered by the loader (see the docstring).
ID_FROM_CONTENT = True


def kmmlu_item(name: str, row: dict, group: str | None) -> Item:
    """A KMMLU-Pro / KMMLU-Redux row (same schema) as an Item; `group` prefixes the id."""
    options = [str(o) for o in row["options"]]
    key = content_id(row["question"], *options)
    solution = str(row["solution"]).strip()  # "3" on the Hub; an int in some copies
    if not 2 <= len(options) <= 5 or not solution.isdigit() or not 1 <= int(solution) <= len(options):
        raise HarnessError(f"{name}: row {key}: solution {row['solution']!r} is not an option number 1-{len(options)}")
    letters = LETTERS[: len(options)]
    text = "\n".join(OPTION.format(letter=letters[i], text=o) for i, o in enumerate(options))
    prompt = PROMPT.format(letters=", ".join(letters), question=row["question"].strip(), options=text)
    return Item(
        id=f"{group}/{key}" if group else key,
        messages=({"role": "user", "content": prompt},),
        reference=letters[int(solution) - 1],
        meta={"group": group} if group else {},
    )


def to_item(row: dict) -> Item:
    return kmmlu_item("kmmlu_pro", row, str(row["license_name"]))


def score(item: Item, gen: Generation) -> Score:
    letter, rule = extract_last_statement(gen.answer, ANSWER_PATTERNS)
    return verdict(letter, item.reference, rule)


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """Accuracy per licensure exam and the share of responses with no answer."""
    return {**accuracy_by(records, "group", "acc"), **no_answer_metrics(records)}
