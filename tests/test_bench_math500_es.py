"""MATH500 (ES): Spanish prompt, unique_id as item id, Spanish phrasing around \\boxed{}."""

import pytest

from exaone_eval.benchmarks import math500_es as bench
from exaone_eval.types import Generation, HarnessError

ROW = {
    "problem": "Convierte el punto $(0,3)$ de coordenadas rectangulares a coordenadas polares.",
    "solution": "Tenemos que $r = 3$ ... $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$",
    "answer": "\\left( 3, \\frac{\\pi}{2} \\right)",
    "subject": "Precalculus",
    "level": 2,
    "unique_id": "test/precalculus/807.json",
}


def gen(answer: str) -> Generation:
    return Generation(text=answer, reasoning="pensando", answer=answer)


def test_the_item_id_is_the_unique_id():
    assert bench.to_item(ROW).id == "test/precalculus/807.json"


def test_without_a_unique_id_the_item_id_is_a_hash_of_the_problem():
    row = {k: v for k, v in ROW.items() if k != "unique_id"}
    item = bench.to_item(row)
    assert item.id.startswith("es-") and item.id == bench.to_item(dict(row)).id


def test_the_prompt_is_the_spanish_problem_with_a_spanish_boxed_instruction():
    item = bench.to_item(ROW)
    (message,) = item.messages
    assert message["content"].startswith(ROW["problem"])
    assert "\\boxed{}" in message["content"] and "respuesta final" in message["content"]
    assert ROW["solution"] not in message["content"]
    assert item.meta == {"subject": "Precalculus", "level": 2}


# (gold, answer part, score, extracted)
CASES = [
    (ROW["answer"], "Por lo tanto, la respuesta final es $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$.", 1.0, "\\left( 3, \\frac{\\pi}{2} \\right)"),
    (ROW["answer"], "Así, las coordenadas polares son \\boxed{(3, \\pi/2)}.", 1.0, "(3, \\pi/2)"),
    ("\\frac{1}{2}", "La respuesta es \\boxed{0.5}", 1.0, "0.5"),
    ("\\frac{1}{2}", "La respuesta es \\boxed{\\dfrac12}", 1.0, "\\dfrac12"),
    ("\\frac{\\sqrt2}{2}", "Entonces $\\boxed{\\sqrt{2}/2}$", 1.0, "\\sqrt{2}/2"),
    ("70", "La respuesta es \\boxed{070}.", 1.0, "070"),
    ("[2,5)", "El dominio es \\boxed{(2,5)}.", 0.0, "(2,5)"),
    (ROW["answer"], "Las coordenadas polares son $(3, \\pi/2)$.", 0.0, None),
]


@pytest.mark.parametrize("gold,answer,value,extracted", CASES)
def test_the_last_boxed_answer_is_compared_with_math_verify(gold, answer, value, extracted):
    s = bench.score(bench.to_item({**ROW, "answer": gold}), gen(answer))
    assert (s.value, s.extracted) == (value, extracted)


def test_an_answer_boxed_only_inside_the_reasoning_scores_zero():
    g = Generation(text="<think>\\boxed{(3, \\pi/2)}</think>No estoy seguro.", reasoning="\\boxed{(3, \\pi/2)}", answer="No estoy seguro.")
    s = bench.score(bench.to_item(ROW), g)
    assert (s.value, s.extracted) == (0.0, None)


def test_score_command_scores_hand_written_responses_by_unique_id(tmp_path):
    import json

    from exaone_eval.score_file import score_responses

    rows = [ROW, {**ROW, "problem": "Simplifica $\\frac{2}{4}$.", "answer": "\\frac{1}{2}", "unique_id": "test/prealgebra/2.json"}]
    (tmp_path / "math500_es.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    responses = [
        {"id": "test/precalculus/807.json", "response": "<think>r=3</think>La respuesta es \\boxed{(3, \\frac{\\pi}{2})}."},
        {"id": "test/prealgebra/2.json", "response": "La respuesta final es $\\boxed{0.5}$"},
        {"id": "test/prealgebra/2.json", "response": "La respuesta final es 1/2"},
    ]
    path = tmp_path / "responses.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in responses), encoding="utf-8")
    entry = score_responses("math500_es", path, tmp_path / "out", data_dir=tmp_path)
    assert entry["score"] == pytest.approx(75.0)
    assert entry["no_answer"] == 1


def test_a_repeated_problem_without_a_unique_id_is_a_second_item_with_an_id_of_its_own(tmp_path):
    from helpers import items_from_data_dir

    row = {k: v for k, v in ROW.items() if k != "unique_id"}
    items = items_from_data_dir(tmp_path, "math500_es", [row, dict(row)])
    assert items[1].id == items[0].id + "#2" and items[0].id.startswith("es-")


def test_a_repeated_unique_id_is_a_data_error_naming_both_lines(tmp_path):
    from helpers import items_from_data_dir

    with pytest.raises(HarnessError, match=r"math500_es: duplicate item id 'test/precalculus/807\.json': .*math500_es\.jsonl: lines 1 and 3"):
        items_from_data_dir(tmp_path, "math500_es", [ROW, {**ROW, "unique_id": "test/x.json"}, dict(ROW)])
