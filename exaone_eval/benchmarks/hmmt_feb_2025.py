"""HMMT February 2025: the 30 answer-based problems of the Harvard-MIT Mathematics Tournament.

MathArena (Balunovic et al., 2025, arXiv:2505.23281); Hub dataset `MathArena/hmmt_feb_2025`
(train, 30 rows: problem_idx, problem, answer, problem_type). Feeds the "HMMT Feb 2025" row
(Math / Coding) of Tables 3-6. Item id: `problem_idx`.

Answers are LaTeX (`\\frac{1}{576}`, `2^{25} \\cdot 26!`, and one pair of roots written
`a, b`), so the last \\boxed{} of the answer part is compared with math-verify, which accepts
equivalent forms (`1/576`, `\\frac{9}{\\sqrt{23}}` for `\\frac{9\\sqrt{23}}{23}`, the two roots in
either order). MathArena grades with its own sympy-based parser; we use math-verify, as for AIME
2025, and check that it parses every one of the 30 gold answers and accepts each in equivalent
forms (tests/test_bench_hmmt_feb_2025.py). The report samples k = 32 responses with up to 64K
tokens and reports their mean accuracy.
"""

from __future__ import annotations

# The same schema (problem_idx, problem, answer), prompt and scorer as AIME 2025; only the answers
# differ in kind (LaTeX expressions rather than integers), which the MathArena-style scorer handles.
from exaone_eval.benchmarks.aime_2025 import PROMPT, SCORE_IN_PROCESSES, score, to_item

__all__ = ["PROMPT", "SCORE_IN_PROCESSES", "score", "to_item"]
