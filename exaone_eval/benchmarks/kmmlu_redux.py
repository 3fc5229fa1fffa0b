"""KMMLU-Redux: 2,587 questions from Korean National Technical Qualification exams, reconstructed
from KMMLU with leaked answers, ill-posed questions and contaminated items removed.

Hong et al., 2025, "From KMMLU-Redux to KMMLU-Pro: A Professional Korean Benchmark Suite for LLM
Evaluation", arXiv:2507.08924 (LG AI Research, the report's authors). Hub dataset
`LGAI-EXAONE/KMMLU-Redux`, test split, 2,587 rows in KMMLU-Pro's schema (question, options,
solution = 1-based option number); gated: accept its terms on the Hub and set HF_TOKEN. Feeds the
"KMMLU-Redux (KO)" row of Tables 3-6 (Multilinguality).

Item id: the rows have no id column (and no exam column): the item id is 12 hex digits of a hash
of question and options, and a repeat of the same content, which counts as a question of its own,
gets its ordinal among those rows, `<hash>#2` (`ID_FROM_CONTENT`; the loader numbers them). The id
is the pair (content, ordinal): stable whatever the row order, unique even on repeated rows.

Same paper, same schema, same evaluation as KMMLU-Pro: its Korean prompt and its scorer (the last
answer statement, Korean or English forms), imported from `kmmlu_pro` so the two cannot drift apart.
"""

from __future__ import annotations

from exaone_eval.benchmarks.kmmlu_pro import ANSWER_PATTERNS, ID_FROM_CONTENT, PROMPT, kmmlu_item
from exaone_eval.scoring.choice import extract_last_statement, no_answer_metrics, verdict
from exaone_eval.types import Generation, Item, Score

__all__ = ["PROMPT", "ANSWER_PATTERNS", "ID_FROM_CONTENT", "to_item", "score", "metrics"]


def to_item(row: dict) -> Item:
    return kmmlu_item("kmmlu_redux", row, None)


def score(item: Item, gen: Generation) -> Score:
    letter, rule = extract_last_statement(gen.answer, ANSWER_PATTERNS)
    return verdict(letter, item.reference, rule)


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """The share of responses with no answer (the runner reports their count)."""
    return no_answer_metrics(records)
