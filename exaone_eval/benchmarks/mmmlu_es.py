"""MMMLU (ES): the 14,042 MMLU test questions, professionally translated into Spanish (Latin America).

Hendrycks et al., 2021, "Measuring Massive Multitask Language Understanding", arXiv:2009.03300;
translations by OpenAI. Hub dataset `openai/MMMLU`, config `ES_LA`, test split, 14,042 rows
(Question, A, B, C, D, Answer = letter, Subject, and the CSV's unnamed row-number column, which
`datasets` names "Unnamed: 0"). Item id = that row number. Feeds the "MMMLU (ES)" row of Tables 3-6.

Follows openai/simple-evals' multilingual MMLU eval (`mmlu_eval.py`, ee3b031), which is how OpenAI
scores MMMLU: generative, chain of thought, the last line "<label>: X". The instruction is in
Spanish here (the benchmark's language); extraction strips Markdown/LaTeX around the letter, tries
the answer labels in simple-evals' order ("Answer:" before "Respuesta:"), takes the first match of
the first label that matches, and maps full-width letters to Latin ones (`extract_labelled`).
simple-evals also tries the labels of its other languages; none of them occurs in Spanish answers.
"""

from __future__ import annotations

from exaone_eval.scoring.choice import accuracy_by, extract_labelled, no_answer_metrics, verdict
from exaone_eval.types import Generation, HarnessError, Item, Score

LETTERS = "ABCD"
PROMPT = (
    "Responde la siguiente pregunta de opción múltiple. La última línea de tu respuesta debe tener el"
    " siguiente formato: 'Respuesta: $LETRA' (sin comillas), donde LETRA es una de ABCD. Piensa paso a"
    " paso antes de responder.\n\n{Question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)
# Answer labels, tried in this order; each is followed by optional spaces and the letter.
ANSWER_LABELS = (r"Answer\s*:", r"Respuesta\s*:")
ID_FIELD = "Unnamed: 0"


def to_item(row: dict) -> Item:
    if row["Answer"] not in LETTERS:
        raise HarnessError(f"mmmlu_es: row {row[ID_FIELD]}: Answer is {row['Answer']!r}, expected one of A-D")
    return Item(
        id=str(row[ID_FIELD]),
        messages=({"role": "user", "content": PROMPT.format(**{k: row[k] for k in ("Question", *LETTERS)})},),
        reference=row["Answer"],
        meta={"subject": row["Subject"]},
    )


def score(item: Item, gen: Generation) -> Score:
    letter, rule = extract_labelled(gen.answer, ANSWER_LABELS, LETTERS)
    return verdict(letter, item.reference, rule)


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """Accuracy per subject and the share of responses with no answer."""
    return {**accuracy_by(records, "subject", "acc"), **no_answer_metrics(records)}
