"""KSM (HRM8K): Korean prompt, derived item ids, CSV-typed answers, Korean phrasing around \\boxed{}."""

import pytest

from exaone_eval.benchmarks import ksm as bench
from exaone_eval.types import Generation, HarnessError

ROW = {
    "question": "양의 정수 $n$에 대하여 $n^2 + 1$이 $n + 1$로 나누어떨어지는 모든 $n$의 합을 구하시오.",
    "original": "Find the sum of all positive integers $n$ such that $n + 1$ divides $n^2 + 1$.",
    "answer": 1.0,
}


def gen(answer: str) -> Generation:
    return Generation(text=answer, reasoning="생각", answer=answer)


def test_the_prompt_is_the_korean_question_with_a_korean_boxed_instruction():
    (message,) = bench.to_item(ROW).messages
    assert message["content"].startswith(ROW["question"])
    assert "\\boxed{}" in message["content"]
    assert "최종 답" in message["content"]
    assert ROW["original"] not in message["content"]


def test_the_item_id_is_a_hash_of_the_question_stable_across_loads():
    a, b = bench.to_item(ROW), bench.to_item(dict(ROW))
    assert a.id == b.id
    assert a.id.startswith("ksm-") and len(a.id) == len("ksm-") + 12


def test_different_questions_get_different_ids():
    other = {**ROW, "question": ROW["question"].replace("합", "곱")}
    assert bench.to_item(other).id != bench.to_item(ROW).id


@pytest.mark.parametrize("value,gold", [(1.0, "1"), (12, "12"), (2.5, "2.5"), (" \\frac{3}{4} ", "\\frac{3}{4}"), ("070", "070")])
def test_a_csv_typed_gold_answer_becomes_text(value, gold):
    assert bench.to_item({**ROW, "answer": value}).reference == gold


def test_a_missing_gold_answer_is_an_input_error():
    with pytest.raises(HarnessError, match="ksm: answer"):
        bench.to_item({**ROW, "answer": None})


# (gold, answer part, score, extracted)
CASES = [
    (1.0, "따라서 구하는 합은 $\\boxed{1}$입니다.", 1.0, "1"),
    (1.0, "최종 답: \\boxed{1.0}", 1.0, "1.0"),
    (70, "답은 \\boxed{070} 이다.", 1.0, "070"),
    ("\\frac{1}{2}", "그러므로 확률은 \\boxed{0.5}이다.", 1.0, "0.5"),
    ("\\frac{1}{2}", "정답은 \\boxed{\\dfrac12}", 1.0, "\\dfrac12"),
    ("\\frac{\\sqrt{2}}{2}", "\\boxed{\\sqrt{2}/2}", 1.0, "\\sqrt{2}/2"),
    (1.0, "따라서 답은 \\boxed{2}입니다.", 0.0, "2"),
    (1.0, "따라서 답은 1입니다.", 0.0, None),
]


@pytest.mark.parametrize("gold,answer,value,extracted", CASES)
def test_the_last_boxed_answer_is_compared_with_math_verify(gold, answer, value, extracted):
    s = bench.score(bench.to_item({**ROW, "answer": gold}), gen(answer))
    assert (s.value, s.extracted) == (value, extracted)


def test_an_answer_boxed_only_inside_the_reasoning_scores_zero():
    g = Generation(text="<think>\\boxed{1}</think>모르겠습니다.", reasoning="\\boxed{1}", answer="모르겠습니다.")
    s = bench.score(bench.to_item(ROW), g)
    assert (s.value, s.extracted) == (0.0, None)


def test_score_command_scores_hand_written_responses_by_derived_id(tmp_path):
    import json

    from exaone_eval.score_file import score_responses

    rows = [ROW, {**ROW, "question": "$\\frac{1}{2}+\\frac{1}{4}$의 값을 구하시오.", "answer": "\\frac{3}{4}"}]
    (tmp_path / "ksm.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    a, b = (bench.to_item(r).id for r in rows)
    responses = [
        {"id": a, "response": "<think>n+1 | 2</think>따라서 답은 \\boxed{1}입니다."},
        {"id": b, "response": "<think>3/4</think>답: \\boxed{0.75}"},
        {"id": b, "response": "<think>\\boxed{3/4}</think>모르겠다"},
    ]
    path = tmp_path / "responses.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in responses), encoding="utf-8")
    entry = score_responses("ksm", path, tmp_path / "out", data_dir=tmp_path)
    assert entry["score"] == pytest.approx(75.0)  # item a: 1/1, item b: 1/2
    assert entry["no_answer"] == 1


def test_a_repeated_question_is_a_second_item_with_an_id_of_its_own(tmp_path):
    from helpers import items_from_data_dir

    other = {**ROW, "question": "1+1은?", "original": "What is 1+1?", "answer": 2.0}
    items = items_from_data_dir(tmp_path, "ksm", [ROW, other, dict(ROW)])
    assert [item.id for item in items] == [bench.item_id(ROW["question"]), bench.item_id(other["question"]),
                                           bench.item_id(ROW["question"]) + "#2"]
