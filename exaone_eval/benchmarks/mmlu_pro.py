"""MMLU-Pro: 12,032 ten-option questions across 14 categories (law, engineering, math, ...).

Wang et al., 2024, "MMLU-Pro: A More Robust and Challenging Multi-Task Language Understanding
Benchmark", arXiv:2406.01574. Hub dataset `TIGER-Lab/MMLU-Pro` (test, 12,032 rows: question_id,
question, options, answer, answer_index, cot_content, category, src). Item id = `question_id`.
Feeds the "MMLU-Pro" row of Tables 3-6 (World Knowledge).

Prompt: the official chat prompt of `evaluate_from_api.py` (TIGER-AI-Lab/MMLU-Pro, f418b11) with
its five in-context examples left out (0-shot, as a user of an instruct model asks). Options
padded with "N/A" are dropped first, as the official `preprocess` does.
Scoring: the official extraction (`scoring.choice.extract_mmlu_pro`): "answer is (X)", then
"Answer: X", then the last standalone letter A-J, after removing `**` (kept as it is, quirks
included: the pronoun in "I am not sure" is read as option I). The official scripts
replace a missing answer by a random guess; here that is `GUESS_WHEN_NO_ANSWER` (off by default,
seeded per item when on), and the number of responses without an answer is always reported
(`no_answer` in scores.json, `no_answer_pct` among the metrics).
"""

from __future__ import annotations

from exaone_eval.scoring.choice import (
    LETTERS,
    accuracy_by,
    extract_mmlu_pro,
    no_answer_metrics,
    seeded_guess,
    verdict,
)
from exaone_eval.types import Generation, HarnessError, Item, Score

PROMPT = (
    "The following are multiple choice questions (with answers) about {category}. Think step by"
    ' step and then output the answer in the format of "The answer is (X)" at the end.\n\n'
    "Question: {question}\nOptions: {options}Answer: Let's think step by step."
)
OPTION = "{letter}. {text}\n"

# The official scripts count a response with no extractable letter as a uniformly random guess
# (seeded 12345 there). Off: such a response scores 0. On: a guess seeded by the item id.
GUESS_WHEN_NO_ANSWER = False


def to_item(row: dict) -> Item:
    options = [o for o in row["options"] if o != "N/A"]
    qid = str(row["question_id"])
    if len(options) > len(LETTERS) or row["answer"] not in LETTERS[: len(options)]:
        raise HarnessError(
            f"mmlu_pro: question_id {qid}: answer {row['answer']!r} is not one of the {len(options)} option letters"
        )
    text = "".join(OPTION.format(letter=LETTERS[i], text=o) for i, o in enumerate(options))
    prompt = PROMPT.format(category=row["category"], question=row["question"], options=text)
    return Item(
        id=qid,
        messages=({"role": "user", "content": prompt},),
        reference=row["answer"],
        meta={"category": row["category"], "n_options": len(options)},
    )


def score(item: Item, gen: Generation) -> Score:
    letter, rule = extract_mmlu_pro(gen.answer)
    if letter is None and GUESS_WHEN_NO_ANSWER:
        guess = seeded_guess("mmlu_pro", item.id, LETTERS[: item.meta["n_options"]])
        return Score(float(guess == item.reference), None, {"reason": "no answer letter found", "random_guess": guess})
    return verdict(letter, item.reference, rule)


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """Accuracy per category (the paper's table) and the share of responses with no answer."""
    return {**accuracy_by(records, "category", "acc"), **no_answer_metrics(records)}
