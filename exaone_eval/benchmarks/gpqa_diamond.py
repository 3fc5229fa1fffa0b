"""GPQA-Diamond: 198 graduate-level biology, physics and chemistry questions, four options each.

Rein et al., 2023, "GPQA: A Graduate-Level Google-Proof Q&A Benchmark", arXiv:2311.12022.
Hub dataset `Idavidrein/gpqa`, config `gpqa_diamond`, train split, 198 rows ("Question", "Correct
Answer", "Incorrect Answer 1..3", "Record ID", "High-level domain", ...); gated: accept its terms on
the Hub and set HF_TOKEN. Item id = "Record ID". Feeds the "GPQA-Diamond" row of Tables 3-6.

Follows openai/simple-evals' `gpqa_eval.py` (ee3b031): its prompt, its answer regex (first match
of "Answer: X" in the answer part, case-insensitive, `$X$` allowed, no other normalisation), and a
fresh option order for every sample. simple-evals draws the orders from one `Random(0)` stream in
row order; here each sample's order is drawn from a seed derived from the item id and the sample
index, so it does not depend on which rows or samples a run includes, and a rerun reproduces it.
The order is stored in `item.meta["permutation"]` (original option index shown as A, B, C, D; the
correct answer is index 0), so the sample log shows what the model saw.
"""

from __future__ import annotations

import hashlib
import random
import re

from exaone_eval.scoring.choice import accuracy_by, first_match, no_answer_metrics, verdict
from exaone_eval.types import Generation, Item, Score

LETTERS = "ABCD"
PROMPT = (
    "Answer the following multiple choice question. The last line of your response should be of the"
    " following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by"
    " step before answering.\n\n{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)
ANSWER_PATTERN = re.compile(r"(?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?")


def _permutation(item_id: str, sample: int) -> list[int]:
    seed = int.from_bytes(hashlib.sha256(f"gpqa_diamond\x1f{item_id}\x1f{sample}".encode()).digest()[:8], "big")
    return random.Random(seed).sample(range(4), 4)


def _view(item_id: str, question: str, options: list[str], sample: int, domain: str) -> Item:
    perm = _permutation(item_id, sample)
    shown = dict(zip(LETTERS, (options[i] for i in perm)))
    return Item(
        id=item_id,
        messages=({"role": "user", "content": PROMPT.format(question=question, **shown)},),
        reference=LETTERS[perm.index(0)],
        meta={"question": question, "options": options, "permutation": perm, "sample": sample, "domain": domain},
    )


def to_item(row: dict) -> Item:
    """The item as sample 0 sees it; `sample_view` gives the other samples their own order."""
    columns = ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
    options = [row[k].strip() for k in columns]
    return _view(str(row["Record ID"]), row["Question"].strip(), options, 0, row["High-level domain"])


def sample_view(item: Item, sample: int) -> Item:
    m = item.meta
    return _view(item.id, m["question"], m["options"], sample, m["domain"])


def score(item: Item, gen: Generation) -> Score:
    letter, rule = first_match(ANSWER_PATTERN, gen.answer)
    return verdict(letter, item.reference, rule, permutation=item.meta["permutation"])


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """Accuracy per domain (Physics, Chemistry, Biology) and the share of responses with no answer."""
    return {**accuracy_by(records, "domain", "acc"), **no_answer_metrics(records)}
