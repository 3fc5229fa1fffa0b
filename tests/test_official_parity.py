"""Given the same model output, our verdict equals the official scorer's (issue 4).

The official verdicts are data (tests/data/official_cases.json), each derived by reading the
official scorer step by step, with its repository, path and commit named per section. Where an
official scorer is a short regex chain, an independent reference of it is written here too (with
its source), so a wrong row in the table fails as loudly as a wrong scorer. A case marked
'divergence' is a documented, intentional difference: the test asserts our documented result.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import gen

from exaone_eval.benchmarks import (
    aime_2025,
    gpqa_diamond,
    hmmt_feb_2025,
    ifeval,
    kmmlu_pro,
    kmmlu_redux,
    ksm,
    mmlu_pro,
    mmlu_redux,
    mmmlu_es,
)

CASES = json.loads((Path(__file__).parent / "data" / "official_cases.json").read_text(encoding="utf-8"))


def cases(section: str, divergent: bool = False) -> list:
    rows = [c for c in CASES[section]["cases"] if ("divergence" in c) == divergent]
    return [pytest.param(c, id=c["response"][:40]) for c in rows]


def gold_for(official: str | None) -> str:
    """A gold letter that makes the official verdict 1.0 when the official letter is a valid one."""
    return official.upper() if official else "A"


# --- MMLU-Pro: TIGER-AI-Lab/MMLU-Pro evaluate_from_api.py @ f418b116db00b065c2aea046518d8fcf74d39872,
# `single_request` (response.replace("**", "")) and extract_answer -> extract_again -> extract_final.
def official_mmlu_pro(text: str, letters: str = "A-J") -> str | None:
    text = text.replace("**", "")
    for pattern in (rf"answer is \(?([{letters}])\)?", rf".*[aA]nswer:\s*([{letters}])"):
        if m := re.search(pattern, text):
            return m.group(1)
    m = re.search(rf"\b[{letters}]\b(?!.*\b[{letters}]\b)", text, re.DOTALL)
    return m.group(0) if m else None


def _mmlu_pro_item(answer: str):
    row = {"question_id": 1, "question": "q", "options": [f"o{i}" for i in range(10)], "answer": answer,
           "answer_index": "ABCDEFGHIJ".index(answer), "category": "math", "src": "s"}
    return mmlu_pro.to_item(row)


@pytest.mark.parametrize("case", cases("mmlu_pro"))
def test_mmlu_pro_verdict_equals_the_official_extraction_chain(case):
    official = case["official"]
    assert official_mmlu_pro(case["response"]) == official  # the table agrees with the official chain
    gold = gold_for(official)
    s = mmlu_pro.score(_mmlu_pro_item(gold), gen(case["response"]))
    assert (s.extracted, s.value) == (official, float(official == gold))


@pytest.mark.parametrize("case", cases("mmlu_pro"))
def test_mmlu_redux_uses_the_official_mmlu_pro_chain_restricted_to_abcd_as_documented(case):
    # Documented in mmlu_redux.py: no official generative Redux scorer; MMLU-Pro's chain over A-D.
    row = {"subject": "anatomy", "question": "q", "choices": ["a", "b", "c", "d"], "answer": 1, "error_type": "ok"}
    s = mmlu_redux.score(mmlu_redux.to_item(row), gen(case["response"]))
    assert s.extracted == official_mmlu_pro(case["response"], "A-D")


def test_mmlu_redux_restriction_changes_the_letter_only_where_the_official_chain_reads_e_to_j():
    differ = [c["response"] for c in CASES["mmlu_pro"]["cases"]
              if official_mmlu_pro(c["response"], "A-D") != c["official"]]
    assert differ and all(re.search(r"\b[E-J]\b", official_mmlu_pro(r) or "") for r in differ)


# --- GPQA-Diamond: openai/simple-evals common.py ANSWER_PATTERN_MULTICHOICE, used by gpqa_eval.py
# with re.search on the raw response (@ ee3b0318d8d1d9d72755a4120879be65f7c07e9e).
OFFICIAL_GPQA = re.compile(r"(?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?")


@pytest.mark.parametrize("case", cases("gpqa_diamond"))
def test_gpqa_verdict_equals_simple_evals(case):
    official = case["official"]
    m = OFFICIAL_GPQA.search(case["response"])
    assert (m.group(1) if m else None) == official
    row = {"Record ID": "r1", "Question": "q", "Correct Answer": "right", "Incorrect Answer 1": "w1",
           "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3", "High-level domain": "Physics"}
    item = gpqa_diamond.to_item(row)
    s = gpqa_diamond.score(item, gen(case["response"]))
    assert (s.extracted, s.value) == (official, float(official == item.reference))


# --- MMMLU (ES): simple-evals' multilingual procedure (normalize_response, the answer labels in
# order, normalize_extracted_answer): verdicts as data, derived from mmlu_eval.py + common.py.
MMMLU_ROW = {"Unnamed: 0": 7, "Question": "q", "A": "a", "B": "b", "C": "c", "D": "d", "Subject": "anatomy"}


@pytest.mark.parametrize("case", cases("mmmlu_es"))
def test_mmmlu_es_verdict_equals_simple_evals_multilingual_mmlu(case):
    official = case["official"]
    gold = gold_for(official) if gold_for(official) in "ABCD" else "A"
    s = mmmlu_es.score(mmmlu_es.to_item({**MMMLU_ROW, "Answer": gold}), gen(case["response"]))
    assert (s.extracted, s.value) == (official, float(official == gold))


@pytest.mark.parametrize("case", cases("mmmlu_es", divergent=True))
def test_mmmlu_es_tries_only_english_and_spanish_labels_a_documented_divergence(case):
    s = mmmlu_es.score(mmmlu_es.to_item({**MMMLU_ROW, "Answer": "B"}), gen(case["response"]))
    assert s.extracted == case["ours"] != case["official"]


# --- KMMLU-Pro / KMMLU-Redux: no official scorer is public; the table holds our documented reading
# (the last answer statement) beside what simple-evals' Korean labels would give, for comparison.
@pytest.mark.parametrize("case", cases("kmmlu"))
@pytest.mark.parametrize("bench", [kmmlu_pro, kmmlu_redux], ids=["pro", "redux"])
def test_kmmlu_has_no_official_scorer_and_reads_the_last_answer_statement_as_documented(bench, case):
    row = {"question": "q", "options": ["a", "b", "c", "d", "e"], "solution": 2, "license_name": "L"}
    s = bench.score(bench.to_item(row), gen(case["response"]))
    assert (s.extracted, s.value) == (case["ours"], float(case["ours"] == "B"))


# --- AIME 2025 / HMMT Feb 2025: MathArena's grading (the section's source names the commit). Its
# parser is sympy-based and long, so its verdicts are data; each row was derived by following
# extract_answer -> parse_answer -> check_answers, and checked by running that code outside the project.
def _matharena_score(bench, gold: str, response: str):
    item = bench.to_item({"problem_idx": 1, "problem": "p", "answer": gold})
    return bench.score(item, gen(response))


def _benches(gold: str) -> list:
    return [aime_2025, hmmt_feb_2025] if re.fullmatch(r"\d+", gold) else [hmmt_feb_2025]


@pytest.mark.parametrize("case", cases("matharena"))
def test_aime_and_hmmt_verdicts_equal_matharena(case):
    for bench in _benches(case["gold"]):
        assert _matharena_score(bench, case["gold"], case["response"]).value == float(case["official"]), bench.__name__


@pytest.mark.parametrize("case", cases("matharena", divergent=True))
def test_aime_and_hmmt_documented_divergences_from_matharena(case):
    # Documented in scoring/math.py: no last-integer fallback without a box; forms MathArena misreads.
    for bench in _benches(case["gold"]):
        assert _matharena_score(bench, case["gold"], case["response"]).value == float(case["ours"]) != float(case["official"])


# --- KSM: HRM8K's "math_verify" mode, gauss5930/HRM8K src/score.py @ 0ac84dbcdd1f18cad449f0a98fd3dfb7b97f1f49
# (scoring_func: `verify(parse(str(row.answer)), parse(row.solution))`, math-verify's defaults).
def official_ksm(gold: str, response: str) -> bool:
    from math_verify import parse, verify

    return bool(verify(parse(gold), parse(response)))


def _ksm_value(gold: str, response: str) -> float:
    return ksm.score(ksm.to_item({"question": "q", "answer": gold}), gen(response)).value


@pytest.mark.parametrize("case", cases("ksm"))
def test_ksm_verdict_equals_hrm8k_math_verify_mode(case):
    assert official_ksm(case["gold"], case["response"]) is case["official"]
    assert _ksm_value(case["gold"], case["response"]) == float(case["official"])


@pytest.mark.parametrize("case", cases("ksm", divergent=True))
def test_ksm_documented_divergences_from_hrm8k_math_verify_mode(case):
    # Documented in ksm.py: the last box counts, "7." is 7, and an unboxed number is no answer.
    assert official_ksm(case["gold"], case["response"]) is case["official"]
    assert _ksm_value(case["gold"], case["response"]) == float(case["ours"])


# --- IFEval: Google's evaluation_lib / instructions (the section's source); we call lm-eval's port
# of that registry, so these rows check the port and our glue (kwargs, strict/loose, empty answers).
@pytest.mark.parametrize("case", cases("ifeval"))
def test_ifeval_verdicts_equal_google_instruction_following_eval(case):
    row = {"key": 1, "prompt": case["prompt"], "instruction_id_list": case["instruction_ids"], "kwargs": case["kwargs"]}
    s = ifeval.score(ifeval.to_item(row), gen(case["response"]))
    assert (s.detail["prompt_level_strict"], s.detail["prompt_level_loose"]) == (case["strict"], case["loose"])


def test_no_real_ifeval_row_has_a_falsy_argument_that_lm_eval_would_drop_and_google_would_keep(shared_data):
    # lm-eval's port builds each checker from {k: v for k, v in kwargs.items() if v}; Google's passes
    # the file's kwargs as they are. They agree exactly when no argument is falsy but present.
    rows = [json.loads(line) for line in (shared_data / "ifeval.jsonl").read_text().splitlines()]
    falsy = [(r["key"], k) for r in rows for kw in r["kwargs"] for k, v in (kw or {}).items() if v is not None and not v]
    assert len(rows) == 541 and falsy == []
