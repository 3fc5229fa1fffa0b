"""MMLU-Redux 2.0: 5,700 MMLU questions (100 from each of the 57 subjects), manually re-annotated.

Gema et al., 2025, "Are We Done with MMLU?", arXiv:2406.04127 (NAACL 2025). Hub dataset
`edinburgh-dawg/mmlu-redux-2.0`, one config per subject, test split, 5,700 rows (question,
choices, answer = 0-based index, error_type, source, correct_answer, potential_reason). The rows
of the 57 configs are joined with the subject in a `subject` column. Feeds the "MMLU-Redux" row of
Tables 3-6 (World Knowledge).

Item id. The rows have no id column, and they hold exact duplicates (13 pairs with the same
question and choices: 11 in college_physics, one each in public_relations and us_foreign_policy),
which the official scorers count twice; so do we. The id is `<subject>/<12 hex digits of a hash of
question and choices>`, and a repeat of the same content gets its ordinal: `<subject>/<hash>#2`
(`ID_FROM_CONTENT`; the loader, items.load_items, numbers the repeats). The content part stays the
same whatever the row order (a --data-dir copy sorted otherwise, a revision with rows added); the
ordinal follows the row order of the pinned revision, and the rows it tells apart show the model
the same prompt.

Which rows and which label. Redux tags each row with an `error_type` ("ok", "wrong_groundtruth",
"no_correct_answer", "multiple_correct_answers", "bad_question_clarity", ...). The report gives no
filter and cites the 5,700-row set, and the harnesses whose numbers it quotes (Qwen3's evalscope at
the time) score all 5,700 rows against the original `answer`: so does the headline here. The
accuracy on the rows Redux marks error-free (`CLEAN_ERROR_TYPES`, the paper's clean subset) is
reported beside it as the metric `acc_ok_only`.

Prompt and scoring: there is no official generative scorer for Redux; it is MMLU re-annotated, so it
gets the MMLU-Pro chain-of-thought prompt (the one evalscope used for MMLU-Redux) and MMLU-Pro's
official extraction restricted to A-D (`scoring.choice.extract_mmlu_pro`).
"""

from __future__ import annotations

from exaone_eval.scoring.choice import accuracy_by, content_id, extract_mmlu_pro, no_answer_metrics, verdict
from exaone_eval.types import Generation, HarnessError, Item, Score

LETTERS = "ABCD"
PROMPT = (
    "The following are multiple choice questions (with answers) about {subject}. Think step by"
    ' step and then output the answer in the format of "The answer is (X)" at the end.\n\n'
    "Question: {question}\nOptions: {options}Answer: Let's think step by step."
)
OPTION = "{letter}. {text}\n"

# The id is a hash of the content; identical rows are numbered by the loader (see the docstring).
ID_FROM_CONTENT = True

# The headline counts every row against the original `answer`. The rows Redux found no error in
# also get their own figure, the `acc_ok_only` metric.
CLEAN_ERROR_TYPES = frozenset({"ok"})

SUBJECTS = tuple(
    "abstract_algebra anatomy astronomy business_ethics clinical_knowledge college_biology college_chemistry "
    "college_computer_science college_mathematics college_medicine college_physics computer_security "
    "conceptual_physics econometrics electrical_engineering elementary_mathematics formal_logic global_facts "
    "high_school_biology high_school_chemistry high_school_computer_science high_school_european_history "
    "high_school_geography high_school_government_and_politics high_school_macroeconomics "
    "high_school_mathematics high_school_microeconomics high_school_physics high_school_psychology "
    "high_school_statistics high_school_us_history high_school_world_history human_aging human_sexuality "
    "international_law jurisprudence logical_fallacies machine_learning management marketing medical_genetics "
    "miscellaneous moral_disputes moral_scenarios nutrition philosophy prehistory professional_accounting "
    "professional_law professional_medicine professional_psychology public_relations security_studies sociology "
    "us_foreign_policy virology world_religions".split()
)


def to_item(row: dict) -> Item:
    subject, choices = row["subject"], list(row["choices"])
    if len(choices) != len(LETTERS) or not 0 <= int(row["answer"]) < len(LETTERS):
        raise HarnessError(f"mmlu_redux: {subject} row {row['question'][:40]!r}: expected 4 choices and answer 0-3")
    options = "".join(OPTION.format(letter=LETTERS[i], text=c) for i, c in enumerate(choices))
    prompt = PROMPT.format(subject=subject.replace("_", " "), question=row["question"], options=options)
    return Item(
        id=f"{subject}/{content_id(row['question'], *choices)}",
        messages=({"role": "user", "content": prompt},),
        reference=LETTERS[int(row["answer"])],
        meta={"subject": subject, "error_type": row["error_type"]},
    )


def score(item: Item, gen: Generation) -> Score:
    letter, rule = extract_mmlu_pro(gen.answer, LETTERS)
    return verdict(letter, item.reference, rule, error_type=item.meta["error_type"])


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """Accuracy on the rows Redux marks error-free, per-subject accuracy, and the share of responses with no answer."""
    clean = [s.value for item, s in records if item.meta["error_type"] in CLEAN_ERROR_TYPES]
    out = {"acc_ok_only": 100.0 * sum(clean) / len(clean) if clean else float("nan")}
    return {**out, **accuracy_by(records, "subject", "acc"), **no_answer_metrics(records)}
