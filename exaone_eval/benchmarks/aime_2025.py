"""AIME 2025: the 30 problems of the 2025 American Invitational Mathematics Examination I and II.

MathArena (Balunovic et al., 2025, arXiv:2505.23281); Hub dataset `MathArena/aime_2025` (train, 30 rows).
Feeds the "AIME 2025" row of Tables 3-6 (Math / Coding) and Table 7 (reasoning budget).
Answers are integers 0-999; the last \\boxed{} of the answer part counts (math-verify: 070 = 70).
The report samples k = 32 responses with up to 64K tokens and reports their mean accuracy.
"""

from __future__ import annotations

from exaone_eval.scoring.math import score_matharena
from exaone_eval.types import Generation, Item, Score

# The instruction of DeepSeek-R1's and Qwen3's math evaluations (the problem, then the boxed-answer
# request), which the report's baselines were reported with. MathArena's own prompt differs: it puts
# the instruction first and adds that the answer is an integer between 0 and 999.
PROMPT = "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}."


# math-verify costs milliseconds per answer: the runner scores in worker processes.
SCORE_IN_PROCESSES = True


def to_item(row: dict) -> Item:
    return Item(
        id=str(row["problem_idx"]),
        messages=({"role": "user", "content": PROMPT.format(problem=row["problem"])},),
        reference=str(row["answer"]),
    )


def score(item: Item, gen: Generation) -> Score:
    return score_matharena(item.reference, gen.answer)
