"""scoring/judge: how a judge reply becomes a score, and what a judge request looks like."""

import pytest

from exaone_eval.scoring.judge import JUDGE_MAX_TOKENS, judge_request, parse_score, read_verdicts
from exaone_eval.types import Generation, HarnessError

# (judge reply, score read from it on the 0-100 scale; None = no verdict)
VERDICT_CASES = [
    ("85", 85.0),
    ("85.5", 85.5),
    ("0", 0.0),
    ("100", 100.0),
    ("Score: 85", 85.0),
    ("score: 72", 72.0),
    ("**Score:** 92", 92.0),
    ("Score of 88 (very good)", 88.0),
    ('"95"', 95.0),
    ("90.", 90.0),
    ("I would rate this translation 78.", 78.0),
    ("85/100", 85.0),
    ("Score: 85/100", 85.0),
    ("It scores 70 out of 100.", 70.0),
    ("The translation has 3 minor errors. Score: 60", 60.0),
    ("150", None),
    ("Score: 101", None),
    ("-5", None),
    ("", None),
    ("garbage", None),
    ("I cannot evaluate this.", None),
    ("Between 70 and 80", None),
    ("85 - minor error in 2 words", None),
    ("1e5", None),
]


@pytest.mark.parametrize("reply,expected", VERDICT_CASES)
def test_a_judge_reply_reads_as_its_score_or_as_no_verdict(reply, expected):
    assert parse_score(reply, 0, 100) == expected


def test_the_scale_bounds_come_from_the_caller():
    assert parse_score("4", 1, 5) == 4.0
    assert parse_score("7", 1, 5) is None
    assert parse_score("4/5", 1, 5) == 4.0


def test_a_judge_request_is_one_greedy_non_reasoning_user_message():
    req = judge_request("Rate this.")
    assert req.messages == ({"role": "user", "content": "Rate this."},)
    assert req.sampling.temperature == 0.0
    assert req.sampling.max_tokens == JUDGE_MAX_TOKENS
    assert req.mode == "non-reasoning"


def _reply(text: str, error: str | None = None) -> Generation:
    return Generation(text=text, reasoning=None, answer=text, error=error)


def test_verdicts_average_the_readable_replies():
    v = read_verdicts([_reply("80"), _reply("Score: 90")])
    assert v.score == 85.0
    assert v.parsed == (80.0, 90.0)
    assert v.raw == ("80", "Score: 90")


def test_one_unreadable_reply_makes_the_whole_verdict_unreadable():
    v = read_verdicts([_reply("80"), _reply("no idea")])
    assert v.score is None
    assert v.parsed == (80.0, None)


def test_no_replies_is_no_verdict():
    assert read_verdicts([]).score is None


def test_the_judge_answer_part_is_read_not_its_reasoning():
    judged = Generation(text="<think>maybe 10</think>Score: 95", reasoning="maybe 10", answer="Score: 95")
    assert read_verdicts([judged]).score == 95.0


def test_a_failed_judge_call_is_refused_rather_than_scored():
    with pytest.raises(HarnessError, match="failed judge call"):
        read_verdicts([_reply("", error="http 500")])
