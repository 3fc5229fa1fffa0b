"""MMLU-Redux: 57 subject configs joined with a subject column, content-derived ids, the MMLU-Pro
style prompt and extraction over A-D, every row in the headline, `acc_ok_only` beside it."""

import pytest

from exaone_eval.registry import get_spec
from exaone_eval.benchmarks import mmlu_redux as bench
from exaone_eval.types import HarnessError
from helpers import gen

ROW = {
    "question": "Find the degree for the given field extension Q(sqrt(2)) over Q.",
    "choices": ["0", "2", "1", "3"],
    "answer": 1,
    "error_type": "ok",
    "source": None,
    "correct_answer": None,
    "potential_reason": None,
    "subject": "abstract_algebra",
}


def test_the_spec_loads_all_57_subject_configs_into_a_subject_column():
    spec = get_spec("mmlu_redux")
    assert spec.configs == bench.SUBJECTS and len(spec.configs) == 57
    assert spec.config_column == "subject" and spec.rows == 5700


def test_the_item_id_is_the_subject_and_a_hash_of_the_content():
    item = bench.to_item(ROW)
    assert item.id.startswith("abstract_algebra/") and len(item.id.split("/")[1]) == 12
    assert bench.to_item(dict(ROW)).id == item.id
    assert bench.to_item({**ROW, "choices": ["0", "2", "1", "4"]}).id != item.id


def test_the_prompt_names_the_subject_and_letters_the_four_choices():
    (message,) = bench.to_item(ROW).messages
    text = message["content"]
    assert "about abstract algebra." in text and '"The answer is (X)"' in text
    assert "Options: A. 0\nB. 2\nC. 1\nD. 3\n" in text


def test_the_reference_is_the_letter_of_the_0_based_answer():
    assert bench.to_item(ROW).reference == "B"


def test_a_row_without_four_choices_is_a_data_error():
    with pytest.raises(HarnessError, match="abstract_algebra"):
        bench.to_item({**ROW, "choices": ["0", "2", "1"]})


CASES = [
    ("The answer is (B).", "B", 1.0),
    ("The answer is B", "B", 1.0),
    ("**The answer is (D)**", "D", 0.0),
    ("Answer: B", "B", 1.0),
    ("B) 2", "B", 1.0),
    ("\\boxed{B}", "B", 1.0),
    ("A and C are wrong. The answer is (B). D is wrong too.", "B", 1.0),
    ("The answer is (E).", None, 0.0),  # E is not one of the four letters
    ("the degree is two", None, 0.0),
]


@pytest.mark.parametrize("answer, extracted, value", CASES)
def test_responses_get_the_mmlu_pro_chain_verdict_over_a_to_d(answer, extracted, value):
    s = bench.score(bench.to_item(ROW), gen(answer))
    assert (s.extracted, s.value) == (extracted, value)


def test_an_answer_only_in_the_reasoning_finds_nothing():
    s = bench.score(bench.to_item(ROW), gen("the degree is two", reasoning="The answer is (B)."))
    assert (s.extracted, s.value) == (None, 0.0)


def test_rows_redux_flags_as_wrong_are_still_scored_against_the_original_answer():
    flagged = bench.to_item({**ROW, "error_type": "wrong_groundtruth", "correct_answer": "2"})
    s = bench.score(flagged, gen("The answer is (B)."))
    assert s.value == 1.0 and s.detail["error_type"] == "wrong_groundtruth"


def test_metrics_report_accuracy_on_the_error_free_rows_beside_the_headline():
    ok = bench.to_item(ROW)
    flagged = bench.to_item({**ROW, "question": "Another?", "error_type": "wrong_groundtruth"})
    records = [(ok, bench.score(ok, gen("The answer is (B)."))), (flagged, bench.score(flagged, gen("no idea")))]
    m = bench.metrics(records)
    assert m["acc_ok_only"] == 100.0 and m["acc/abstract_algebra"] == 50.0
    assert m["no_answer_pct"] == 50.0


def test_an_exact_duplicate_row_in_a_subject_is_a_second_item_with_an_id_of_its_own(tmp_path):
    from helpers import items_from_data_dir

    physics = {**ROW, "subject": "college_physics", "question": "A particle moves in a circle. Its speed is"}
    rows = [physics, {**ROW, "subject": "college_physics", "question": "Another question"}, dict(physics), ROW]
    items = items_from_data_dir(tmp_path, "mmlu_redux", rows)
    first, repeat = items[0].id, items[2].id
    assert len(items) == 4 and len({item.id for item in items}) == 4
    assert first.startswith("college_physics/") and repeat == first + "#2"
