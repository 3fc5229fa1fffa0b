"""Multi-IF verdicts against facebookresearch/Multi-IF's own `metrics.py`, turn by turn.

tests/data/multi_if_official_cases.json holds crafted three-turn episodes (curly and corner quotes,
answers in Chinese, Japanese, Hindi, Thai, Korean and Spanish, `<think>` blocks, keywords that are
not valid regexes, `[{"response": ...}]` answers) and the per-turn strict / loose verdicts that
Multi-IF's `metrics_gen` gave on them, run outside this project (its "source" field says how).
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

from exaone_eval.benchmarks import multi_if
from exaone_eval.reasoning import split_reasoning
from exaone_eval.scoring.multi_if_checks import check_turn, registry
from exaone_eval.types import Episode

TABLE = json.loads((Path(__file__).parent / "data" / "multi_if_official_cases.json").read_text(encoding="utf-8"))
CASES = TABLE["cases"]


def _row(case: dict) -> dict:
    """The case as a Hub CSV row (JSON text fields)."""
    row = {"key": case["key"], "language": "English"}
    for k, turn in enumerate(case["turns"], 1):
        row[f"turn_{k}_prompt"] = json.dumps({"role": "user", "content": f"turn {k}"})
        row[f"turn_{k}_instruction_id_list"] = json.dumps(turn["instruction_id_list"])
        row[f"turn_{k}_kwargs"] = json.dumps([json.dumps(kw) for kw in turn["kwargs"]])
    return row


def _missing(turn: dict) -> list[str]:
    return [p for p in turn.get("needs", []) if importlib.util.find_spec(p) is None]


@pytest.mark.parametrize("case", CASES, ids=[c["key"] for c in CASES])
def test_each_turn_gets_multi_ifs_own_verdicts(case):
    item = multi_if.to_item(_row(case))
    answers = [split_reasoning(t["response"]).answer for t in case["turns"]]  # what the backend hands `converse`
    detail = multi_if.score(item, Episode(messages=(), result={"answers": answers}, response=answers[-1])).detail
    checked = 0
    for k, turn in enumerate(case["turns"], 1):
        if _missing(turn):
            continue  # e.g. a Thai count without pythainlp: the official verdict cannot be reproduced
        got = detail["turns"][str(k)]
        assert {"strict": got["strict"], "loose": got["loose"]} == turn["expected"], (case["about"], k)
        checked += 1
    if not checked:
        pytest.skip(f"needs {sorted({p for t in case['turns'] for p in _missing(t)})}")


def test_the_table_covers_every_instruction_multi_if_defines_on_at_least_75_turns():
    turns = [t for c in CASES for t in c["turns"]]
    assert len(turns) >= 75
    assert {i for t in turns for i in t["instruction_id_list"]} == set(registry())


def test_a_turn_where_multi_ifs_run_stops_is_not_followed_and_says_why():
    raising = [(c, k, t) for c in CASES for k, t in enumerate(c["turns"], 1) if "official_raises" in t]
    assert raising  # keywords that are not valid regexes, in keywords:existence and keywords:forbidden_words
    for case, k, turn in raising:
        verdicts = check_turn(f"{case['key']}:{k}", turn["instruction_id_list"], turn["kwargs"], turn["response"])
        assert not any(verdicts["strict"]) and not any(verdicts["loose"])
        assert any("error" in e for e in verdicts["errors"]), verdicts


def test_an_invalid_regex_in_keywords_frequency_is_simply_not_followed():
    verdicts = check_turn("k:1", ["keywords:frequency"], [{"keyword": "(", "frequency": 1, "relation": "less than"}], "no parens")
    assert verdicts == {"strict": [False], "loose": [False]}  # Multi-IF's own rule: no error to report


def test_an_unknown_instruction_is_not_followed_and_the_others_are_still_checked():
    verdicts = check_turn("k:1", ["detectable_format:no_such_thing", "punctuation:no_comma"], [{}, {}], "no commas")
    assert verdicts["strict"] == [False, True] and verdicts["loose"] == [False, True]
    assert verdicts["errors"] == ["detectable_format:no_such_thing: KeyError: 'detectable_format:no_such_thing'"]


THAI = "วันนี้อากาศดีมาก ฉันไปเดินเล่นที่สวนสาธารณะ"


def test_a_thai_count_without_pythainlp_is_not_followed_and_names_the_extra(monkeypatch):
    for name in ("pythainlp", "pythainlp.tokenize"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if it were not installed
    verdicts = check_turn("k:1", ["length_constraints:number_words", "punctuation:no_comma"],
                          [{"num_words": 1, "relation": "at least"}, {}], THAI)
    assert verdicts["strict"] == [False, True]
    assert any("exaone-eval[multi-if-thai]" in e for e in verdicts["errors"])


@pytest.mark.skipif(importlib.util.find_spec("pythainlp") is None, reason="needs pythainlp (exaone-eval[multi-if-thai])")
def test_a_thai_answer_is_counted_in_pythainlp_words():
    # "the cat sleeps on the bed": pythainlp's newmm finds 4 words, where `\w+` finds 2 (vowel signs split runs).
    verdicts = check_turn("k:1", ["length_constraints:number_words"], [{"num_words": 4, "relation": "at least"}], "แมวนอนบนเตียง")
    assert verdicts == {"strict": [True], "loose": [True]}


def test_a_missing_argument_of_a_multi_if_own_checker_is_drawn_from_the_item_not_the_global_random():
    # number_words without num_words draws a threshold (100-500) at random in Multi-IF's build step.
    text = " ".join(["word"] * 300)
    verdicts = set()
    for seed in range(10):
        random.seed(seed)
        before = random.getstate()
        verdicts.add(json.dumps(check_turn("k:1", ["length_constraints:number_words"], [{"relation": "at least"}], text)))
        assert random.getstate() == before
    assert len(verdicts) == 1
