"""KMMLU-Pro: Korean prompt, 1-based solutions as letters, content-derived ids grouped by exam, and
the last answer statement in Korean or English forms as the answer."""

import pytest

from exaone_eval.registry import get_spec
from exaone_eval.benchmarks import kmmlu_pro as bench
from exaone_eval.types import HarnessError
from helpers import gen

ROW = {
    "question": "민법상 미성년자의 법률행위에 관한 설명으로 옳은 것은?",
    "options": ["보기 일", "보기 이", "보기 삼", "보기 사", "보기 오"],
    "solution": "3",
    "license_name": "변호사",
}


def test_the_item_id_is_the_exam_and_a_hash_of_question_and_options():
    item = bench.to_item(ROW)
    exam, key = item.id.split("/")
    assert exam == "변호사" and len(key) == 12
    assert bench.to_item(dict(ROW)).id == item.id
    assert bench.to_item({**ROW, "question": "다른 문제?"}).id != item.id


def test_the_prompt_is_korean_and_letters_the_options():
    (message,) = bench.to_item(ROW).messages
    text = message["content"]
    assert text.startswith("다음 객관식 문제에 답하세요.") and "'정답: $LETTER'" in text
    assert "A, B, C, D, E 중 하나" in text
    assert ROW["question"] in text and "A) 보기 일\nB) 보기 이\nC) 보기 삼\nD) 보기 사\nE) 보기 오" in text


@pytest.mark.parametrize("solution, letter", [("3", "C"), (3, "C"), ("1", "A"), (" 5 ", "E")])
def test_the_1_based_solution_becomes_the_reference_letter(solution, letter):
    assert bench.to_item({**ROW, "solution": solution}).reference == letter


def test_four_option_questions_offer_four_letters():
    item = bench.to_item({**ROW, "options": ROW["options"][:4], "solution": "4"})
    assert item.reference == "D" and "A, B, C, D 중 하나" in item.messages[0]["content"]


@pytest.mark.parametrize("solution", ["6", "0", "C", ""])
def test_a_solution_that_is_not_an_option_number_is_a_data_error(solution):
    with pytest.raises(HarnessError, match="kmmlu_pro"):
        bench.to_item({**ROW, "solution": solution})


CASES = [
    ("풀이...\n정답: C", "C", 1.0),
    ("정답은 (C)입니다.", "C", 1.0),
    ("정답은 C", "C", 1.0),
    ("답: C", "C", 1.0),
    ("답변: **C**", "C", 1.0),
    ("**정답: C**", "C", 1.0),
    ("정답: \\boxed{C}", "C", 1.0),
    ("정답은 ③입니다.", "C", 1.0),
    ("The answer is (C).", "C", 1.0),
    ("Answer: C", "C", 1.0),
    ("정답: B", "B", 0.0),
    ("처음에는 정답: B 라고 생각했지만, 다시 보면 정답은 C입니다.", "C", 1.0),  # the last statement wins
    ("정답: C\n그러나 최종 정답: A", "A", 0.0),
    ("B와 C 중에서 고민된다.", None, 0.0),  # letters without an answer statement
    ("C) 보기 삼", None, 0.0),
    ("잘 모르겠습니다.", None, 0.0),
]


@pytest.mark.parametrize("answer, extracted, value", CASES)
def test_responses_get_the_expected_verdict(answer, extracted, value):
    s = bench.score(bench.to_item(ROW), gen(answer))
    assert (s.extracted, s.value) == (extracted, value)


def test_an_answer_only_in_the_reasoning_finds_nothing():
    s = bench.score(bench.to_item(ROW), gen("잘 모르겠습니다.", reasoning="정답: C"))
    assert (s.extracted, s.value) == (None, 0.0)


def test_metrics_give_per_exam_accuracy_and_the_no_answer_share():
    lawyer = bench.to_item(ROW)
    doctor = bench.to_item({**ROW, "license_name": "의사"})
    records = [(lawyer, bench.score(lawyer, gen("정답: C"))), (doctor, bench.score(doctor, gen("모름")))]
    m = bench.metrics(records)
    assert (m["acc/변호사"], m["acc/의사"], m["no_answer_pct"]) == (100.0, 0.0, 50.0)


def test_the_spec_is_gated_with_the_full_row_count():
    spec = get_spec("kmmlu_pro")
    assert spec.gated and spec.rows == 2822 and spec.hub_id == "LGAI-EXAONE/KMMLU-Pro"


def test_a_repeated_question_of_an_exam_is_a_second_item_and_other_exams_keep_their_own_ids(tmp_path):
    from helpers import items_from_data_dir

    other_exam = {**ROW, "license_name": "세무사"}
    items = items_from_data_dir(tmp_path, "kmmlu_pro", [ROW, other_exam, dict(ROW)])
    first = bench.to_item(ROW).id
    assert [item.id for item in items] == [first, bench.to_item(other_exam).id, first + "#2"]
