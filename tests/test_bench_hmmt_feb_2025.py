"""HMMT Feb 2025: prompt, item ids, and math-verify on the 30 real gold answers."""

import json
import threading
from pathlib import Path

import pytest

from exaone_eval.benchmarks import hmmt_feb_2025 as bench
from exaone_eval.scoring.math import math_equal, symbolic_equal
from exaone_eval.types import Generation

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "hmmt_feb_2025.jsonl"
ROW = {"problem_idx": 3, "problem": "Compute the probability ...", "answer": "\\frac{1}{576}", "problem_type": ["Combinatorics"]}


def gen(answer: str, reasoning: str | None = "thinking") -> Generation:
    return Generation(text=answer, reasoning=reasoning, answer=answer)


def shared_rows() -> list[dict]:
    if not SHARED.is_file():
        pytest.skip(f"{SHARED} is absent")
    return [json.loads(line) for line in SHARED.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_item_id_is_the_problem_index_as_text():
    assert bench.to_item(ROW).id == "3"


def test_the_prompt_holds_the_problem_and_asks_for_a_boxed_answer():
    (message,) = bench.to_item(ROW).messages
    assert message["role"] == "user"
    assert message["content"].startswith("Compute the probability ...")
    assert "\\boxed{}" in message["content"]


# (answer part of the response, score, extracted)
CASES = [
    ("The answer is $\\boxed{\\frac{1}{576}}$.", 1.0, "\\frac{1}{576}"),
    ("So $p = \\boxed{\\dfrac{1}{576}}$", 1.0, "\\dfrac{1}{576}"),
    ("\\boxed{1/576}", 1.0, "1/576"),
    ("First \\boxed{\\frac{1}{24}}, then corrected: \\boxed{\\frac{1}{576}}", 1.0, "\\frac{1}{576}"),
    ("\\boxed{\\frac{1}{24}}", 0.0, "\\frac{1}{24}"),
    # No box: MathArena (strict_parsing: false) reads the last integer, 576, which is wrong.
    ("The probability is 1/576.", 0.0, "576"),
    ("", 0.0, None),
]


@pytest.mark.parametrize("answer,value,extracted", CASES)
def test_the_last_boxed_expression_of_the_answer_is_scored(answer, value, extracted):
    s = bench.score(bench.to_item(ROW), gen(answer))
    assert (s.value, s.extracted) == (value, extracted)


def test_an_answer_boxed_only_inside_the_reasoning_scores_zero():
    g = Generation(text="<think>\\boxed{\\frac{1}{576}}</think>I am not sure.", reasoning="\\boxed{\\frac{1}{576}}", answer="I am not sure.")
    s = bench.score(bench.to_item(ROW), g)
    assert (s.value, s.extracted) == (0.0, None)


def test_every_real_gold_answer_parses_and_verifies_against_itself():
    rows = shared_rows()
    assert len(rows) == 30
    for row in rows:
        gold = row["answer"]
        assert symbolic_equal(gold, gold), f"problem {row['problem_idx']}: math-verify cannot read {gold!r}"
        item = bench.to_item(row)
        assert bench.score(item, gen(f"Final answer: $\\boxed{{{gold}}}$")).value == 1.0


# problem_idx -> answers equal to the gold answer written differently
EQUIVALENT = {
    3: ["1/576"],
    6: ["\\dfrac{1311}{2017}"],
    7: ["\\frac{9}{\\sqrt{23}}"],
    8: ["1 - 2/\\pi"],
    10: ["\\frac{-1-\\sqrt{17}}{2}, \\frac{-1+\\sqrt{17}}{2}"],
    17: ["26! \\cdot 2^{25}"],
    18: ["2025/101"],
    20: ["448/3"],
    23: ["\\sqrt{640}"],
    25: ["-2\\sqrt{3}+\\sqrt{23}"],
    26: ["\\sqrt{1215}"],
    28: ["6^{1/2}"],
    29: ["4\\sqrt{37}+14"],
    30: ["\\frac{\\sqrt{570}}{12}"],
    1: ["103.0"],
}
# problem_idx -> near misses that must not verify
WRONG = {
    10: ["\\frac{-1+\\sqrt{17}}{2}"],
    17: ["2^{25} \\cdot 25!"],
    8: ["1+\\frac{2}{\\pi}"],
    30: ["\\sqrt{\\frac{95}{23}}"],
    4: ["984"],
}


def test_real_gold_answers_accept_equivalent_forms():
    golds = {row["problem_idx"]: row["answer"] for row in shared_rows()}
    for idx, forms in EQUIVALENT.items():
        for form in forms:
            assert symbolic_equal(golds[idx], form), f"problem {idx}: {form!r} should equal {golds[idx]!r}"


def test_real_gold_answers_reject_near_misses():
    golds = {row["problem_idx"]: row["answer"] for row in shared_rows()}
    for idx, forms in WRONG.items():
        for form in forms:
            assert not math_equal(golds[idx], form), f"problem {idx}: {form!r} should not equal {golds[idx]!r}"


def test_math_equal_works_in_a_worker_thread():
    out = []
    t = threading.Thread(target=lambda: out.append(math_equal("\\frac{1}{2}", "0.5")))
    t.start()
    t.join()
    assert out == [True]


def test_score_command_scores_hand_written_responses_against_the_real_rows(tmp_path):
    from exaone_eval.score_file import score_responses

    shared_rows()
    responses = [
        {"id": 3, "response": "<think>...</think>\\boxed{\\frac{1}{576}}"},
        {"id": "10", "response": "The roots are $\\boxed{\\frac{-1-\\sqrt{17}}{2}, \\frac{-1+\\sqrt{17}}{2}}$"},
        {"id": "17", "response": "\\boxed{26!}"},
        {"id": "1", "response": "<think>cut off before the end"},
    ]
    path = tmp_path / "responses.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in responses), encoding="utf-8")
    entry = score_responses("hmmt_feb_2025", path, tmp_path / "out", data_dir=SHARED.parent)
    assert entry["score"] == pytest.approx(50.0)
    assert (entry["truncated"], entry["no_answer"]) == (1, 1)
