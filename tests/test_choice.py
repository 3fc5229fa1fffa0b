"""The letter-extraction recipes of scoring/choice.py, as tables of (answer text, extracted letter)."""

import re

import pytest

from exaone_eval.scoring.choice import (
    accuracy_by,
    content_id,
    extract_labelled,
    extract_last_statement,
    extract_mmlu_pro,
    first_match,
    korean_answer_patterns,
    no_answer_metrics,
    seeded_guess,
    strip_markup,
    verdict,
)
from exaone_eval.types import Item, Score

# MMLU-Pro's official chain: "answer is (X)" anywhere first, then the first "Answer: X" line, then
# the last standalone letter of the whole text.
MMLU_PRO_CASES = [
    ("The answer is (B).", "B"),
    ("the answer is C", "C"),
    ("**The answer is (D)**", "D"),  # the official API script removes ** first
    ("Answer: E", "E"),
    ("answer: F", "F"),
    ("Answer: A\nLater the answer is (G).", "G"),  # level 1 beats level 2 wherever it is
    ("Answer: A then Answer: B\nAnswer: C", "B"),  # first line with Answer:, its last occurrence
    ("B) is the right option", "B"),  # level 3: the last standalone letter
    ("I think A. No wait, it must be H.", "H"),
    ("\\boxed{J}", "J"),
    ("The Answer Is (B)", "B"),  # level 1 is case-sensitive; level 3 then finds B
    ("answer is (K)", None),  # K is not an option letter, and no standalone A-J is left
    ("no letters here", None),
    ("", None),
]


@pytest.mark.parametrize("text, letter", MMLU_PRO_CASES)
def test_the_mmlu_pro_chain_extracts_the_official_letter(text, letter):
    assert extract_mmlu_pro(text)[0] == letter


@pytest.mark.parametrize(
    "text, letter",
    [("The answer is (E). So D", "D"), ("Answer: E\nso D", "D"), ("E", None)],
)
def test_the_mmlu_pro_chain_only_sees_the_letters_it_is_given(text, letter):
    assert extract_mmlu_pro(text, "ABCD")[0] == letter


def test_the_mmlu_pro_chain_names_the_rule_that_matched():
    assert extract_mmlu_pro("The answer is (B)")[1] == "answer is (X)"
    assert extract_mmlu_pro("Answer: B")[1] == "Answer: X"
    assert extract_mmlu_pro("so B")[1] == "last standalone letter"


def test_first_match_returns_the_first_match_in_the_text():
    pattern = re.compile(r"Answer: ([A-D])")
    assert first_match(pattern, "Answer: B\nAnswer: C") == ("B", pattern.pattern)
    assert first_match(pattern, "nothing") == (None, None)


SPANISH_LABELS = (r"Answer\s*:", r"Respuesta\s*:")


@pytest.mark.parametrize(
    "text, letter",
    [
        ("Respuesta: B", "B"),
        ("Respuesta:B", "B"),
        ("**Respuesta:** C", "C"),
        ("Respuesta: **D**", "D"),
        ("Respuesta: $\\boxed{A}$", "A"),
        ("Respuesta: \\text{B}", "B"),
        ("Respuesta: Ｃ", "C"),  # full-width letters count as Latin ones
        ("respuesta: b", "b"),  # case-insensitive label and letter, as simple-evals (then wrong)
        ("Respuesta: A\nAnswer: D", "D"),  # labels are tried in order: Answer before Respuesta
        ("Respuesta: A ... Respuesta: C", "A"),  # the first match of the winning label
        ("La respuesta es B", None),  # no "label:" form
        ("Respuesta: (B)", None),  # simple-evals' pattern allows no parenthesis
    ],
)
def test_labelled_extraction_follows_simple_evals(text, letter):
    assert extract_labelled(text, SPANISH_LABELS)[0] == letter


def test_strip_markup_removes_bold_dollars_and_latex_wrappers():
    assert strip_markup("**Respuesta:** $\\boxed{B}$") == "Respuesta: B"


KOREAN = korean_answer_patterns("ABCDE")


@pytest.mark.parametrize(
    "text, letter",
    [
        ("정답: B", "B"),
        ("정답：C", "C"),
        ("정답은 (B)입니다.", "B"),
        ("정답은 D", "D"),
        ("답: B", "B"),
        ("답변: **E**", "E"),
        ("**정답: A**", "A"),
        ("정답: $\\boxed{B}$", "B"),
        ("따라서 \\boxed{C}", "C"),
        ("정답은 ③입니다", "C"),  # circled option numbers count as letters
        ("최종 정답: Ｄ", "D"),
        ("The answer is (B).", "B"),
        ("Answer: C", "C"),
        ("정답: A\n다시 검토하면 정답은 C입니다.", "C"),  # the last statement wins
        ("The answer is (A). 정답: B", "B"),
        ("answer: b", None),  # lower-case letters are not answers
        ("정답이 A인지 B인지 따져 보자.", None),  # discussing letters is not an answer statement
        ("Answer: Because ...", None),
        ("B) 이것이 맞다", None),
        ("", None),
    ],
)
def test_korean_answer_statements_are_read_and_the_last_one_wins(text, letter):
    assert extract_last_statement(text, KOREAN)[0] == letter


def test_a_letter_beyond_the_options_is_not_an_answer():
    assert extract_last_statement("정답: E", korean_answer_patterns("ABCD")) == (None, None)


def test_verdict_keeps_a_missing_answer_distinct_from_a_wrong_one():
    missing, wrong, right = verdict(None, "B", None), verdict("C", "B", "r"), verdict("B", "B", "r")
    assert (missing.value, missing.extracted) == (0.0, None) and missing.detail["reason"]
    assert (wrong.value, wrong.extracted) == (0.0, "C")
    assert (right.value, right.extracted, right.detail["rule"]) == (1.0, "B", "r")


def test_seeded_guess_is_reproducible_and_within_the_letters():
    guesses = {seeded_guess("mmlu_pro", str(i), "ABCD") for i in range(50)}
    assert guesses <= set("ABCD") and len(guesses) > 1
    assert seeded_guess("mmlu_pro", "7", "ABCD") == seeded_guess("mmlu_pro", "7", "ABCD")


def test_content_id_depends_on_content_only():
    assert content_id("q", "a", "b") == content_id("q", "a", "b") != content_id("q", "b", "a")
    assert len(content_id("q")) == 12


def test_no_answer_metrics_count_missing_extractions():
    item = Item(id="1", messages=(), reference="A")
    records = [(item, Score(0.0, None)), (item, Score(1.0, "A")), (item, Score(0.0, "C")), (item, Score(0.0, None))]
    assert no_answer_metrics(records) == {"no_answer_pct": 50.0}


def test_accuracy_by_groups_samples_by_a_meta_field():
    a, b = Item("1", (), "A", meta={"cat": "law"}), Item("2", (), "A", meta={"cat": "math"})
    records = [(a, Score(1.0, "A")), (a, Score(0.0, "B")), (b, Score(1.0, "A"))]
    assert accuracy_by(records, "cat", "acc") == {"acc/law": 50.0, "acc/math": 100.0}
