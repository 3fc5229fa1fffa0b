"""MMLU-Pro: the official prompt (0-shot), question_id ids, the official extraction chain, the
optional random guess for missing answers, per-category accuracy and the no-answer count."""

import json

import pytest

from exaone_eval.benchmarks import mmlu_pro as bench
from exaone_eval.types import HarnessError
from helpers import gen

ROW = {
    "question_id": 70,
    "question": "Typical advertising regulatory bodies suggest that adverts must not:",
    "options": ["encourage X", "promote Y", "encourage Z", "N/A", "N/A"],
    "answer": "B",
    "answer_index": 1,
    "cot_content": "",
    "category": "business",
    "src": "ori_mmlu-business_ethics",
}


def test_the_item_id_is_the_question_id_as_a_string():
    assert bench.to_item(ROW).id == "70"


def test_the_prompt_is_the_official_instruction_with_lettered_options_and_no_padding():
    (message,) = bench.to_item(ROW).messages
    text = message["content"]
    assert text.startswith("The following are multiple choice questions (with answers) about business.")
    assert '"The answer is (X)"' in text
    assert "Question: Typical advertising" in text
    assert "Options: A. encourage X\nB. promote Y\nC. encourage Z\nAnswer: Let's think step by step." in text
    assert "N/A" not in text and "D." not in text


def test_an_answer_letter_outside_the_options_is_a_data_error():
    with pytest.raises(HarnessError, match="question_id 70"):
        bench.to_item({**ROW, "answer": "D"})


CASES = [
    ("The answer is (B).", "B", 1.0),
    ("**The answer is (B)**", "B", 1.0),
    ("The answer is (C).", "C", 0.0),
    ("Answer: B", "B", 1.0),
    ("B) promote Y", "B", 1.0),
    ("\\boxed{B}", "B", 1.0),
    ("A looks tempting, but the answer is (B). Not C.", "B", 1.0),  # "answer is" beats later letters
    ("Options A and C are wrong, so B", "B", 1.0),  # the last standalone letter
    ("I cannot decide.", "I", 0.0),  # the official last-letter rule reads the pronoun as option I
    ("cannot decide.", None, 0.0),
]


@pytest.mark.parametrize("answer, extracted, value", CASES)
def test_responses_get_the_official_verdict(answer, extracted, value):
    s = bench.score(bench.to_item(ROW), gen(answer))
    assert (s.extracted, s.value) == (extracted, value)


def test_an_answer_only_in_the_reasoning_finds_nothing():
    s = bench.score(bench.to_item(ROW), gen("done thinking.", reasoning="The answer is (B)."))
    assert (s.extracted, s.value) == (None, 0.0)


def test_the_random_guess_for_missing_answers_is_off_by_default():
    assert bench.GUESS_WHEN_NO_ANSWER is False


def test_with_the_guess_on_a_missing_answer_gets_a_reproducible_guess_and_stays_missing(monkeypatch):
    monkeypatch.setattr(bench, "GUESS_WHEN_NO_ANSWER", True)
    item = bench.to_item(ROW)
    first, again = bench.score(item, gen("no idea")), bench.score(item, gen("still no idea"))
    assert first.extracted is None and first.detail["random_guess"] in "ABC"
    assert first.detail["random_guess"] == again.detail["random_guess"]
    assert first.value == float(first.detail["random_guess"] == "B")


def test_metrics_give_per_category_accuracy_and_the_no_answer_share():
    law = bench.to_item({**ROW, "question_id": 1, "category": "law"})
    biz = bench.to_item(ROW)
    records = [(law, bench.score(law, gen("The answer is (B)"))), (biz, bench.score(biz, gen("?")))]
    m = bench.metrics(records)
    assert m["acc/law"] == 100.0 and m["acc/business"] == 0.0
    assert m["no_answer_pct"] == 50.0


def test_the_shared_excerpt_rows_become_items_whose_right_answers_score_one(shared_data):
    rows = [json.loads(line) for line in (shared_data / "mmlu_pro.jsonl").read_text().splitlines() if line.strip()]
    assert len(rows) == 50
    for row in rows:
        item = bench.to_item(row)
        assert item.id == str(row["question_id"]) and item.reference == row["answer"]
        assert bench.score(item, gen(f"The answer is ({row['answer']}).")).value == 1.0
        wrong = "A" if row["answer"] != "A" else "B"
        assert bench.score(item, gen(f"The answer is ({wrong}).")).value == 0.0
