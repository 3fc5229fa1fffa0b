"""IFEval's random fallbacks (scoring/ifeval.py): seeded from the item, never from the global state.

Google's checkers (and lm-eval's copy) draw from Python's global `random` when an argument is
unusable: `keywords:letter_frequency` with the "letter" '#' (google/IFEval key 1122) or '!' (key
1129) checks a random letter instead. We draw the same from a generator seeded by the item.
"""

from __future__ import annotations

import json
import random
import re
import string
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import gen
from test_same_verdicts_everywhere import IFEVAL_LETTER_ROWS, MULTI_IF_ROWS, ifeval_row, letter_split_texts

from exaone_eval.benchmarks import ifeval, multi_if
from exaone_eval.scoring.ifeval import _lm_eval_ifeval
from exaone_eval.types import Episode

DOCS = Path(__file__).resolve().parents[1] / "docs" / "official-parity.md"
TWEET = IFEVAL_LETTER_ROWS[0]  # key 1122: lowercase, and the letter '#' at least 4 times
HALF_THE_ALPHABET = "abcdefghijklm " * 4 + "#a #b #c #d"


def official(row: dict, response: str) -> tuple[list[bool], list[bool]]:
    """lm-eval's own strict and loose functions on the whole row, as lm-eval's task calls them."""
    utils = _lm_eval_ifeval()
    item = ifeval.to_item(row)
    inp = utils.InputExample(key=row["key"], instruction_id_list=item.reference, prompt=row["prompt"], kwargs=item.meta["kwargs"])
    return (utils.test_instruction_following_strict(inp, response).follow_instruction_list,
            utils.test_instruction_following_loose(inp, response).follow_instruction_list)


def ours(row: dict, response: str) -> tuple[list[bool], list[bool]]:
    detail = ifeval.score(ifeval.to_item(row), gen(response)).detail
    return detail["inst_level_strict"], detail["inst_level_loose"]


def test_the_official_checker_gives_a_letter_frequency_item_with_a_non_letter_a_random_verdict():
    # Why this file exists: under different global random states lm-eval's own verdicts differ.
    verdicts = set()
    for seed in range(20):
        random.seed(seed)
        verdicts.add(tuple(official(TWEET, HALF_THE_ALPHABET)[0]))
    assert len(verdicts) == 2


def test_our_verdict_on_it_is_the_same_whatever_the_global_random_state():
    verdicts = set()
    for seed in range(20):
        random.seed(seed)
        verdicts.add(json.dumps(ifeval.score(ifeval.to_item(TWEET), gen(HALF_THE_ALPHABET)).detail))
    assert len(verdicts) == 1


def test_multi_if_turns_get_the_same_verdicts_whatever_the_global_random_state():
    # Multi-IF builds the registry's checkers itself (its kwargs unfiltered), through the same seeding.
    item = multi_if.to_item(MULTI_IF_ROWS[0])  # turn 2: the letter '#' at least 4 times
    verdicts = set()
    for seed in range(20):
        random.seed(seed)
        details = [multi_if.score(item, Episode(messages=(), result={"answers": ["a", text, "b"]})).detail
                   for text in letter_split_texts(4)]
        verdicts.add(json.dumps(details))
    assert len(verdicts) == 1


def test_checking_neither_draws_from_nor_reseeds_the_global_random_and_puts_the_modules_back():
    from lm_eval.tasks.ifeval import instructions, instructions_util

    random.seed(7)
    before = random.getstate()
    ours(TWEET, HALF_THE_ALPHABET)
    assert random.getstate() == before
    assert instructions.random is random and instructions_util.random is random


def test_one_letter_is_drawn_per_item_and_strict_and_loose_check_the_same_one():
    # One response per letter, each holding only that letter (4 times): exactly the drawn letter passes.
    passed = {}
    for letter in string.ascii_lowercase:
        strict, loose = ours(TWEET, f"{letter} {letter} {letter} {letter}")
        assert strict == loose, letter
        passed[letter] = strict[1]
    assert sum(passed.values()) == 1


def test_the_drawn_letters_are_the_ones_the_docs_name():
    text = DOCS.read_text(encoding="utf-8")
    for row in IFEVAL_LETTER_ROWS:
        position = row["instruction_id_list"].index("keywords:letter_frequency")
        count = row["kwargs"][position]["let_frequency"]
        drawn = [c for c in string.ascii_lowercase if ours(row, f"{c} " * count)[0][position]]
        assert len(drawn) == 1
        assert re.search(rf"\| {row['key']} \|.*\| `{drawn[0]}` at least {count} times \|", text), (row["key"], drawn)


def test_threads_checking_at_once_get_the_same_verdicts():
    stop = threading.Event()

    def churn():  # another thread keeps drawing from the global generator meanwhile
        while not stop.is_set():
            random.random()

    expected = ours(TWEET, HALF_THE_ALPHABET)
    churner = threading.Thread(target=churn)
    churner.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: ours(TWEET, HALF_THE_ALPHABET), range(24)))
    finally:
        stop.set()
        churner.join()
    assert all(r == expected for r in results)


OTHER_ROWS = [
    ifeval_row(1, "Describe a cat, no commas.", [("punctuation:no_comma", {}), ("change_case:english_lowercase", {})]),
    ifeval_row(2, "Answer in Korean.", [("language:response_language", {"language": "ko"})]),
    ifeval_row(3, "Use at least 5 words and 2 highlights.",
               [("length_constraints:number_words", {"relation": "at least", "num_words": 5}),
                ("detectable_format:number_highlighted_sections", {"num_highlights": 2})]),
    ifeval_row(4, "The letter t at most once.", [("keywords:letter_frequency", {"let_relation": "less than", "letter": "t", "let_frequency": 2})]),
    ifeval_row(5, "Include keywords.", [("keywords:existence", {"keywords": ["cat", "moon"]}),
                                        ("startend:end_checker", {"end_phrase": "Any other questions?"})]),
]
RESPONSES = ["a cat sleeps under the moon", "고양이는 귀엽습니다 정말로 그렇습니다", "*one* and *two* are here, Any other questions?",
             "Cat, Moon. Any other questions?", "*a*\n*b*\nfive words are right here", ""]


def test_verdicts_equal_lm_evals_own_on_items_without_a_random_fallback():
    for row in OTHER_ROWS:
        for response in RESPONSES:
            assert ours(row, response) == official(row, response), (row["key"], response)


def _draws_at_random(row: dict) -> bool:
    """True when building the row's checkers draws from `random` (the official code's fallbacks)."""
    from lm_eval.tasks.ifeval import instructions, instructions_util

    class Refuse:
        def __getattr__(self, name):
            raise LookupError(name)

    utils = _lm_eval_ifeval()
    inp = utils.InputExample(key=row["key"], instruction_id_list=row["instruction_id_list"], prompt=row["prompt"],
                             kwargs=ifeval.to_item(row).meta["kwargs"])
    instructions.random = instructions_util.random = Refuse()
    try:
        utils.test_instruction_following_strict(inp, "x")
        return False
    except LookupError:
        return True
    finally:
        instructions.random = instructions_util.random = random


@pytest.mark.slow  # 541 rows through both implementations: ~10 s
def test_on_the_real_rows_only_1122_and_1129_fall_back_and_every_other_verdict_is_lm_evals(shared_data):
    rows = [json.loads(line) for line in (shared_data / "ifeval.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["key"] for r in rows if _draws_at_random(r)) == [1122, 1129]
    utils = _lm_eval_ifeval()
    response = "a short reply, in english. P.S. done"
    for row in rows:
        if row["key"] in (1122, 1129):
            continue
        # Strict only (loose runs each check on 8 variants of the response: 8x the time); the
        # loose path is compared on OTHER_ROWS above.
        item = ifeval.to_item(row)
        inp = utils.InputExample(key=row["key"], instruction_id_list=item.reference, prompt=row["prompt"], kwargs=item.meta["kwargs"])
        expected = utils.test_instruction_following_strict(inp, response).follow_instruction_list
        assert ours(row, response)[0] == expected, row["key"]
