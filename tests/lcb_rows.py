"""Hand-made LiveCodeBench rows in the Hub schema (code_generation_lite), and solutions for them."""

from __future__ import annotations

import base64
import json
import pickle
import zlib


def encode_private(tests: list[dict]) -> str:
    """The Hub's encoding of private tests: a JSON string, pickled, zlib-compressed, base64."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def row(question_id: str, *, tests: list[dict], public: int = 1, fn_name: str | None = None, starter: str = "",
        contest_date: str = "2025-03-01T00:00:00", difficulty: str = "easy", encode: bool = True) -> dict:
    testtype = "functional" if fn_name else "stdin"
    tests = [{**t, "testtype": testtype} for t in tests]
    private = tests[public:]
    return {
        "question_title": f"problem {question_id}",
        "question_content": f"Solve problem {question_id}.",
        "platform": "leetcode" if fn_name else "atcoder",
        "question_id": question_id,
        "contest_id": "c1",
        "contest_date": contest_date,
        "starter_code": starter,
        "difficulty": difficulty,
        "public_test_cases": json.dumps(tests[:public]),
        "private_test_cases": encode_private(private) if encode else json.dumps(private),
        "metadata": json.dumps({"func_name": fn_name} if fn_name else {}),
    }


# "abc1": read two integers, print their sum. "lc1": twoSum-like call-based problem.
SUM_TESTS = [{"input": "1 2\n", "output": "3\n"}, {"input": "10 20\n", "output": "30\n"}, {"input": "-5 5\n", "output": "0\n"}]
SUM_ROW = row("abc1", tests=SUM_TESTS)
PAIR_TESTS = [{"input": "[2, 7, 11, 15]\n9", "output": "[0, 1]"}, {"input": "[3, 2, 4]\n6", "output": "[1, 2]"}]
PAIR_STARTER = "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        "
PAIR_ROW = row("lc1", tests=PAIR_TESTS, fn_name="twoSum", starter=PAIR_STARTER, difficulty="medium")

SUM_OK = "a, b = map(int, input().split())\nprint(a + b)\n"
PAIR_OK = ("class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n        for i, x in enumerate(nums):\n"
           "            if target - x in seen:\n                return [seen[target - x], i]\n            seen[x] = i\n")


def fenced(code: str) -> str:
    return "Here is my solution.\n```python\n" + code.rstrip("\n") + "\n```\n"
