"""MATH500 (ES): the 500-problem MATH test subset (Lightman et al., "Let's Verify Step by Step",
2023, arXiv:2305.20050) in Spanish translation.

Hub dataset `bezir/MATH-500-multilingual`, config `Spanish`, split `test`, 500 rows with the
columns of `HuggingFaceH4/MATH-500` (`problem`, `solution`, `answer`, and usually `subject`,
`level`, `unique_id`) in Spanish. Feeds the "MATH500 (ES)" row (Multilinguality, Spanish) of
Tables 3-6.

The prompt is in Spanish and asks for the final answer in \\boxed{}; the last \\boxed{} of the answer
part is compared with math-verify (`\\frac{1}{2}` = 0.5 = `\\dfrac12`, `(3, \\pi/2)` = `\\left( 3,
\\frac{\\pi}{2} \\right)`), as for the other math rows (the original MATH scorer compares
normalised strings, which rejects some equivalent forms). k = 4 by default.

Item id: `unique_id` (e.g. `test/precalculus/807.json`) when the row has it (a repeated
`unique_id` is a data error); otherwise `es-` + the first 12 hex digits of the SHA-256 of the
problem text, and a repeated problem, an item of its own, gets its ordinal among the rows with that
text, `es-<hash>#2` (`ID_FROM_CONTENT`; the loader, items.load_items, numbers the repeats).
"""

from __future__ import annotations

import hashlib

from exaone_eval.scoring.math import score_boxed
from exaone_eval.types import Generation, Item, Score

# math-verify costs milliseconds per answer: the runner scores in worker processes.
SCORE_IN_PROCESSES = True

# "Reason step by step and write your final answer inside \boxed{}."
PROMPT = "{problem}\n\nRazona paso a paso y escribe tu respuesta final dentro de \\boxed{{}}."


def ID_FROM_CONTENT(row: dict) -> bool:  # noqa: N802 (the flag other modules set to True)
    """Only rows without a `unique_id` get an id made from their content."""
    return not row.get("unique_id")


def item_id(row: dict) -> str:
    if row.get("unique_id"):
        return str(row["unique_id"])
    return "es-" + hashlib.sha256(row["problem"].strip().encode("utf-8")).hexdigest()[:12]


def to_item(row: dict) -> Item:
    meta = {k: row[k] for k in ("subject", "level") if k in row}
    return Item(
        id=item_id(row),
        messages=({"role": "user", "content": PROMPT.format(problem=row["problem"])},),
        reference=str(row["answer"]).strip(),
        meta=meta,
    )


def score(item: Item, gen: Generation) -> Score:
    return score_boxed(item.reference, gen.answer)
