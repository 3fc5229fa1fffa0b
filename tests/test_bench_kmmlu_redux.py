"""KMMLU-Redux: KMMLU-Pro's schema, prompt and scorer; ids are a hash of question and options."""

import pytest

from exaone_eval.registry import get_spec
from exaone_eval.benchmarks import kmmlu_pro, kmmlu_redux as bench
from helpers import gen

ROW = {
    "question": "르네상스 시대 바로크식 정원의 특징과 가장 관계가 먼 것은?",
    "options": ["보기 일", "보기 이", "격자울타리", "보기 사"],
    "solution": 3,
}


def test_the_item_id_is_a_hash_of_question_and_options():
    item = bench.to_item(ROW)
    assert len(item.id) == 12 and "/" not in item.id
    assert bench.to_item(dict(ROW)).id == item.id


def test_the_prompt_and_patterns_are_kmmlu_pros():
    (message,) = bench.to_item(ROW).messages
    assert message["content"].startswith("다음 객관식 문제에 답하세요.") and "A, B, C, D 중 하나" in message["content"]
    assert bench.PROMPT is kmmlu_pro.PROMPT and bench.ANSWER_PATTERNS is kmmlu_pro.ANSWER_PATTERNS


@pytest.mark.parametrize(
    "answer, extracted, value",
    [
        ("정답: C", "C", 1.0),
        ("정답은 (C)입니다", "C", 1.0),
        ("The answer is (C)", "C", 1.0),
        ("답: A", "A", 0.0),
        ("정답: E", "E", 0.0),  # a letter beyond the four options is an answer, and wrong
        ("모르겠다", None, 0.0),
    ],
)
def test_responses_get_the_expected_verdict(answer, extracted, value):
    s = bench.score(bench.to_item(ROW), gen(answer))
    assert (s.extracted, s.value) == (extracted, value)


def test_an_answer_only_in_the_reasoning_finds_nothing():
    s = bench.score(bench.to_item(ROW), gen("모르겠다", reasoning="정답: C"))
    assert s.extracted is None


def test_metrics_report_the_no_answer_share():
    item = bench.to_item(ROW)
    m = bench.metrics([(item, bench.score(item, gen("모르겠다"))), (item, bench.score(item, gen("정답: C")))])
    assert m == {"no_answer_pct": 50.0}


def test_the_spec_is_gated_with_the_full_row_count():
    spec = get_spec("kmmlu_redux")
    assert spec.gated and spec.rows == 2587 and spec.fields == ("question", "options", "solution")


def test_a_repeated_question_is_a_second_item_with_an_id_of_its_own(tmp_path):
    from helpers import items_from_data_dir

    items = items_from_data_dir(tmp_path, "kmmlu_redux", [ROW, {**ROW, "question": "다른 문제?"}, dict(ROW), dict(ROW)])
    first = bench.to_item(ROW).id
    assert [item.id for item in items][::2] == [first, first + "#2"] and items[3].id == first + "#3"
    assert len({item.id for item in items}) == 4
