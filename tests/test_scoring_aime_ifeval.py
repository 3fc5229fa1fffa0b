"""Known verdicts for AIME 2025 (math-verify) and IFEval (lm-eval's official registry)."""

from __future__ import annotations

import json

import pytest
from helpers import gen

from exaone_eval.benchmarks import aime_2025, ifeval
from exaone_eval.reasoning import split_reasoning
from exaone_eval.score_jobs import score_one

AIME_CASES = [
    # (reference, answer part, verdict, extracted)
    ("70", "So the answer is \\boxed{070}.", 1.0, "070"),
    ("70", "\\boxed{70}", 1.0, "70"),
    ("204", "First \\boxed{100}, on reflection \\boxed{204}.", 1.0, "204"),
    ("204", "\\boxed{204} no wait \\boxed{100}", 0.0, "100"),
    # No box: MathArena's AIME config reads the last integer of the answer part.
    ("33", "The answer is 33.", 1.0, "33"),
    ("33", "I think 32 or maybe 34", 0.0, "34"),
    ("33", "No idea.", 0.0, None),
    ("33", "\\boxed{33.0}", 1.0, "33.0"),
    ("16", "\\boxed{\\frac{32}{2}}", 1.0, "\\frac{32}{2}"),
    ("540", "\\fbox{540}", 1.0, "540"),
    ("80", "\\boxed{81}", 0.0, "81"),
]


@pytest.mark.parametrize("reference,answer,verdict,extracted", AIME_CASES)
def test_aime_verdicts(reference, answer, verdict, extracted):
    item = aime_2025.to_item({"problem_idx": 1, "problem": "p", "answer": reference})
    s = aime_2025.score(item, gen(answer))
    assert (s.value, s.extracted) == (verdict, extracted)


def test_an_answer_only_inside_the_reasoning_scores_zero():
    item = aime_2025.to_item({"problem_idx": 7, "problem": "p", "answer": 70})
    split = split_reasoning("I get \\boxed{70}</think>I am not sure.")
    s = aime_2025.score(item, gen(split.answer, split.reasoning))
    assert s.value == 0.0 and s.extracted is None
    split = split_reasoning("so 70 it is</think>See above.")
    assert aime_2025.score(item, gen(split.answer, split.reasoning)).extracted is None


def test_an_unclosed_reasoning_scores_zero_even_with_a_correct_boxed_answer():
    item = aime_2025.to_item({"problem_idx": 7, "problem": "p", "answer": 70})
    s = score_one("aime_2025", item, gen("\\boxed{70}", closed=False))
    assert s.value == 0.0 and s.detail["truncated"]


def test_aime_item_id_is_the_problem_idx_and_the_prompt_asks_for_a_boxed_answer(shared_data):
    rows = [json.loads(line) for line in (shared_data / "aime_2025.jsonl").read_text().splitlines()]
    items = [aime_2025.to_item(r) for r in rows]
    assert [i.id for i in items] == [str(n) for n in range(1, 31)]
    assert "\\boxed{}" in items[0].messages[0]["content"]
    # Every gold answer verifies against itself when boxed, with leading zeros too.
    for item in items:
        assert aime_2025.score(item, gen(f"\\boxed{{{int(item.reference):03d}}}")).value == 1.0


def _ifeval_item(instruction_ids, kwargs, prompt="Write something."):
    return ifeval.to_item({"key": 1, "prompt": prompt, "instruction_id_list": instruction_ids, "kwargs": kwargs})


IFEVAL_CASES = [
    # (instruction ids, kwargs, response, prompt-level strict, prompt-level loose)
    (["punctuation:no_comma"], [{}], "No commas here at all.", True, True),
    (["punctuation:no_comma"], [{}], "One, two.", False, False),
    (["change_case:english_lowercase"], [{}], "all lower case words", True, True),
    (["change_case:english_lowercase"], [{}], "Not lower", False, False),
    (["startend:end_checker"], [{"end_phrase": "Is there anything else I can help with?"}],
     "Sure.\nIs there anything else I can help with?", True, True),
    # Loose accepts the response with its markdown asterisks removed.
    (["startend:end_checker"], [{"end_phrase": "Any other questions?"}], "Done. **Any other questions?**", False, True),
    (["length_constraints:number_words"], [{"relation": "at least", "num_words": 5}], "one two three four five six", True, True),
    (["length_constraints:number_words"], [{"relation": "at least", "num_words": 5}], "too short", False, False),
    (["detectable_format:number_bullet_lists"], [{"num_bullets": 2}], "* a\n* b", True, True),
    (["punctuation:no_comma", "change_case:english_lowercase"], [{}, {}], "no commas but Upper", False, False),
]


@pytest.mark.parametrize("ids,kwargs,response,strict,loose", IFEVAL_CASES)
def test_ifeval_verdicts(ids, kwargs, response, strict, loose):
    s = ifeval.score(_ifeval_item(ids, kwargs), gen(response))
    assert s.detail["prompt_level_strict"] is strict
    assert s.detail["prompt_level_loose"] is loose
    assert s.value == float(strict)


def test_ifeval_checks_only_the_answer_part_never_the_reasoning():
    item = _ifeval_item(["punctuation:no_comma"], [{}])
    assert ifeval.score(item, gen("clean answer", reasoning="hmm, well, commas")).value == 1.0
    assert ifeval.score(item, gen("bad, answer", reasoning="no commas")).value == 0.0


def test_ifeval_hub_rows_with_null_kwargs_fields_give_the_same_verdicts_as_the_raw_file():
    raw = _ifeval_item(["length_constraints:number_words"], [{"relation": "at least", "num_words": 5}])
    hub = _ifeval_item(["length_constraints:number_words"], [{"relation": "at least", "num_words": 5, "num_highlights": None, "end_phrase": None}])
    assert hub.meta["kwargs"] == raw.meta["kwargs"]
    response = gen("one two three four five six")
    assert ifeval.score(hub, response).detail == ifeval.score(raw, response).detail


def test_ifeval_metrics_weight_instruction_level_by_instruction():
    a = _ifeval_item(["punctuation:no_comma", "change_case:english_lowercase"], [{}, {}])
    b = _ifeval_item(["punctuation:no_comma"], [{}])
    records = [(a, ifeval.score(a, gen("no commas but Upper"))), (b, ifeval.score(b, gen("fine")))]
    m = ifeval.metrics(records)
    assert m["prompt_level_strict_acc"] == 50.0
    assert m["inst_level_strict_acc"] == pytest.approx(200 / 3)
    assert set(m) == {"prompt_level_strict_acc", "prompt_level_loose_acc", "inst_level_strict_acc", "inst_level_loose_acc"}


def test_every_shared_ifeval_row_builds_and_scores(shared_data):
    rows = [json.loads(line) for line in (shared_data / "ifeval.jsonl").read_text().splitlines()]
    assert len(rows) == 541
    items = [ifeval.to_item(r) for r in rows]
    assert len({i.id for i in items}) == 541
    for item in items[:60]:  # every checker class builds from the real kwargs
        s = ifeval.score(item, gen("A short reply."))
        assert len(s.detail["inst_level_strict"]) == len(item.reference)
