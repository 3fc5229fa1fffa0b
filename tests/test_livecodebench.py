"""LiveCodeBench v5/v6: prompt, extraction, rows (private-test decoding, date window, Hub loader),
and the sandboxed verdicts against lcb_runner's semantics (LiveCodeBench/LiveCodeBench @ 28fef95,
evaluation/testing_util.py), on hand-made rows in the Hub schema."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest
from helpers import gen
from lcb_rows import PAIR_OK, PAIR_ROW, PAIR_TESTS, SUM_OK, SUM_ROW, SUM_TESTS, encode_private, fenced, row

from exaone_eval import registry, sandbox, sandbox_policy
from exaone_eval.benchmarks import livecodebench as lcb
from exaone_eval.scoring import livecodebench as verdicts
from exaone_eval.benchmarks import livecodebench_v5, livecodebench_v6
from exaone_eval.types import HarnessError

FAST = dataclasses.replace(lcb.settings("livecodebench_v6"), timeout_s=1.0)


@pytest.fixture(scope="module")
def box():
    box = sandbox.resolve("auto")
    yield box
    box.close()


def verdict(box, code: str, row_: dict) -> dict:
    return verdicts.run_tests(code, lcb.to_item(row_).reference, timeout_s=FAST.timeout_s, memory_mb=FAST.memory_mb,
                              output_limit_mb=FAST.output_limit_mb, box=box)


# ---- prompt and extraction ------------------------------------------------------------------------


def test_a_stdin_problem_gets_the_generic_system_prompt_and_the_stdin_format():
    system, user = lcb.to_item(SUM_ROW).messages
    assert system == {"role": "system", "content": lcb.SYSTEM_PROMPT}
    assert user["content"].startswith("### Question:\nSolve problem abc1.\n\n### Format: Read the inputs from stdin")
    assert user["content"].endswith("```python\n# YOUR CODE HERE\n```\n\n### Answer: (use the provided format with backticks)\n\n")


def test_a_call_based_problem_shows_its_starter_code():
    user = lcb.to_item(PAIR_ROW).messages[1]["content"]
    assert "### Format: You will use the following starter code" in user
    assert f"```python\n{PAIR_ROW['starter_code']}\n```\n\n### Answer:" in user


def test_the_code_between_the_last_two_fence_lines_is_extracted():
    answer = "first\n```python\nprint(1)\n```\nthen a better one:\n```python\nprint(2)\n```\nok"
    assert lcb.extract_code(answer) == "print(2)"


def test_fewer_than_two_fence_lines_is_no_code_and_scores_zero():
    assert lcb.extract_code("```python\nprint(1)") is None
    score = livecodebench_v6.score(lcb.to_item(SUM_ROW), gen("no code here"))
    assert score.value == 0.0 and score.extracted is None and score.detail["verdict"] == "no code"


# ---- rows -----------------------------------------------------------------------------------------


def test_encoded_and_plain_private_tests_decode_to_the_same_tests():
    plain = row("x", tests=SUM_TESTS, encode=False)
    assert lcb.to_item(plain).reference == lcb.to_item(SUM_ROW).reference
    assert lcb.to_item(SUM_ROW).reference["inputs"] == [t["input"] for t in SUM_TESTS]


class _CallsSomething:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_the_restricted_unpickler_refuses_a_pickle_that_would_call_anything(capsys):
    import base64
    import zlib

    hostile = base64.b64encode(zlib.compress(pickle.dumps(_CallsSomething()))).decode()
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        lcb.decode_private_tests(hostile)
    assert "must never run" not in capsys.readouterr().out


def test_a_pickled_non_string_is_refused():
    import base64
    import zlib

    with pytest.raises(ValueError, match="expected a pickled JSON string"):
        lcb.decode_private_tests(base64.b64encode(zlib.compress(pickle.dumps([1, 2]))).decode())


@pytest.mark.parametrize("date_, v5, v6", [
    ("2024-07-31T23:59:59", False, False),
    ("2024-08-01T00:00:00", True, False),
    ("2024-12-15T10:00:00", True, False),
    ("2025-02-01T00:00:00", True, True),   # both ends included, as lcb_runner's filter
    ("2025-02-01T12:00:00", False, True),
    ("2025-05-01T00:00:00", False, True),
    ("2025-05-02T00:00:00", False, False),
])
def test_the_date_window_keeps_rows_by_contest_date(date_, v5, v6):
    r = {**SUM_ROW, "contest_date": date_}
    assert (livecodebench_v5.keep_row(r), livecodebench_v6.keep_row(r)) == (v5, v6)


def test_the_hub_loader_reads_the_releases_files_at_the_pinned_revision_and_keeps_the_window(monkeypatch):
    import datasets

    calls = []
    rows = [{**SUM_ROW, "question_id": "old", "contest_date": "2024-01-01T00:00:00"}, SUM_ROW, PAIR_ROW]

    def fake_load_dataset(path, *args, **kwargs):
        calls.append((path, kwargs))
        return rows

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    spec = registry.get_spec("livecodebench_v6")
    loaded = livecodebench_v6.load_rows(spec, None)
    assert [r["question_id"] for r in loaded] == ["abc1", "lc1"]
    (path, kwargs), = calls
    assert path == "json" and kwargs["split"] == "train"
    prefix = f"hf://datasets/livecodebench/code_generation_lite@{spec.revision}/"
    assert kwargs["data_files"] == [prefix + f for f in ("test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl")]


def test_an_unreachable_hub_is_a_harness_error_that_points_at_data_dir(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(HarnessError, match="--data-dir"):
        livecodebench_v5.load_rows(registry.get_spec("livecodebench_v5"), None)


def test_a_bad_option_in_the_task_spec_names_the_file_and_key(monkeypatch):
    spec = registry.get_spec("livecodebench_v6")
    bad = dataclasses.replace(spec, options={**spec.options, "start_date": "March 1st"})
    monkeypatch.setattr(registry, "get_spec", lambda name: bad)
    lcb.settings.cache_clear()
    try:
        with pytest.raises(HarnessError, match=r"tasks/livecodebench_v6.toml \[options\]: 'start_date'"):
            lcb.settings("livecodebench_v6")
    finally:
        lcb.settings.cache_clear()


def test_the_specs_default_windows_are_the_issues():
    assert (lcb.settings("livecodebench_v5").release, str(lcb.settings("livecodebench_v5").start_date.date()),
            str(lcb.settings("livecodebench_v5").end_date.date())) == ("release_v5", "2024-08-01", "2025-02-01")
    assert (lcb.settings("livecodebench_v6").release, str(lcb.settings("livecodebench_v6").start_date.date()),
            str(lcb.settings("livecodebench_v6").end_date.date())) == ("release_v6", "2025-02-01", "2025-05-01")


# ---- verdicts (sandboxed) against lcb_runner's semantics ---------------------------------------------
# Each row: code, expected verdict, expected index of the first failing test (None when passed).
# The expected verdicts follow testing_util.py: grade_stdio / grade_call_based.

STDIN_CASES = [
    ("correct", SUM_OK, "passed", None),
    ("trailing spaces and blank lines are stripped", "a, b = map(int, input().split())\nprint(f'  {a + b}  \\n\\n')", "passed", None),
    ("numbers compare as Decimals", "a, b = map(int, input().split())\nprint(f'{a + b}.000')", "passed", None),
    ("a line of numbers compares element-wise", "a, b = map(int, input().split())\nprint(a + b, '')", "passed", None),
    ("an extra line is wrong", "a, b = map(int, input().split())\nprint(a + b)\nprint()\nprint(1)", "wrong answer", 0),
    ("a word is not a number", "input()\nprint('three')", "wrong answer", 0),
    ("wrong on the second test", "a, b = map(int, input().split())\nprint(a + b if a == 1 else 0)", "wrong answer", 1),
    ("runtime error on the third test", "a, b = map(int, input().split())\nprint(a + b if a > 0 else 1 // 0)", "runtime error", 2),
    ("does not compile", "def solve(:\n    pass", "runtime error", 0),
    ("exit() after printing ends the test normally", "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(0)\nprint(99)", "passed", None),
    ("sys.stdin.buffer works (the 2025-05 fix)", "import sys\na, b = map(int, sys.stdin.buffer.read().split())\nprint(a + b)", "passed", None),
    # The preamble's `from builtins import *` binds the real `open`, so lcb_runner's patched open
    # never reaches the code: open(0) reads the process's empty stdin there too.
    ("open(0) reads an empty stdin", "a, b = map(int, open(0).read().split())\nprint(a + b)", "runtime error", 0),
    ("a __main__ guard is run", "def main():\n    a, b = map(int, input().split())\n    print(a + b)\n\nif __name__ == '__main__':\n    main()", "passed", None),
    ("iterating sys.stdin fails there too", "import sys\nfor line in sys.stdin:\n    a, b = map(int, line.split())\n    print(a + b)", "runtime error", 0),
    ("reading past the input is an error", "input()\ninput()\nprint(3)", "runtime error", 0),
    ("an endless loop hits the per-test timer", "while True:\n    pass", "time limit", 0),
]


@pytest.mark.parametrize("label, code, expected, failed_test", STDIN_CASES, ids=[c[0] for c in STDIN_CASES])
def test_stdin_verdicts_follow_lcb_runner(box, label, code, expected, failed_test):
    result = verdict(box, code, SUM_ROW)
    assert (result["verdict"], result["failed_test"]) == (expected, failed_test), result


CALL_CASES = [
    ("correct", PAIR_OK, "passed", None),
    ("a returned tuple counts as a list", "class Solution:\n    def twoSum(self, nums, target):\n        return (0, 1) if target == 9 else (1, 2)", "passed", None),
    ("nested tuples are not lists", "class Solution:\n    def twoSum(self, nums, target):\n        return [(0, 1)][0] if target == 9 else [(1,), 2]", "wrong answer", 1),
    ("floats equal to the integers pass", "class Solution:\n    def twoSum(self, nums, target):\n        return [0.0, 1.0] if target == 9 else [1.0, 2.0]", "passed", None),
    ("a set is not a list", "class Solution:\n    def twoSum(self, nums, target):\n        return {0, 1}", "wrong answer", 0),
    ("the Solution instance is reused across tests",
     "class Solution:\n    calls = 0\n    def twoSum(self, nums, target):\n        self.calls += 1\n        return [0, 1] if self.calls == 1 else [9, 9]", "wrong answer", 1),
    ("an exception is a runtime error", "class Solution:\n    def twoSum(self, nums, target):\n        return nums[99]", "runtime error", 0),
    ("the wrong method name is a runtime error", "class Solution:\n    def other(self, nums, target):\n        return [0, 1]", "runtime error", 0),
    ("an endless loop hits the per-test timer", "class Solution:\n    def twoSum(self, nums, target):\n        while True:\n            pass", "time limit", 0),
]


@pytest.mark.parametrize("label, code, expected, failed_test", CALL_CASES, ids=[c[0] for c in CALL_CASES])
def test_call_based_verdicts_follow_lcb_runner(box, label, code, expected, failed_test):
    result = verdict(box, code, PAIR_ROW)
    assert (result["verdict"], result["failed_test"]) == (expected, failed_test), result


NUMPY_PAIR = ("import numpy as np\n\nclass Solution:\n    def twoSum(self, nums, target):\n        a = np.array(nums)\n"
              "        i, j = np.argwhere(np.triu(a[:, None] + a[None, :] == target, 1))[0]\n        return sorted([int(i), int(j)])\n")


def test_a_call_based_solution_that_imports_numpy_and_uses_it_passes(box):
    # lcb_runner's process has numpy loaded before its guard disables os.putenv (which numpy's
    # import calls), so this passes there; the driver pre-imports it the same way.
    result = verdict(box, NUMPY_PAIR, PAIR_ROW)
    assert (result["verdict"], result["error"]) == ("passed", None), result


def test_a_stdin_solution_that_imports_numpy_passes(box):
    code = "import numpy as np\nvalues = np.array(input().split(), dtype=np.int64)\nprint(int(values.sum()))"
    result = verdict(box, code, SUM_ROW)
    assert (result["verdict"], result["error"]) == ("passed", None), result


def test_a_solution_that_imports_multiprocessing_passes(box):
    # multiprocessing's import calls os.getcwd, which the guard disables: loaded before it, as there.
    code = "import multiprocessing\na, b = map(int, input().split())\nprint(a + b)"
    assert verdict(box, code, SUM_ROW)["verdict"] == "passed"


def test_the_sandbox_preloads_every_module_the_driver_imports_before_its_guard():
    # Otherwise each run would import them itself (numpy: ~0.1 s) instead of finding them loaded.
    imports = verdicts.driver_imports()
    assert "numpy" in imports and "multiprocessing" in imports
    assert set(imports) <= set(sandbox_policy.PRELOAD)


def test_a_stdin_program_with_a_top_level_class_solution_is_a_runtime_error_as_in_lcb_runner(box):
    # compile_code looks the entry up on `Solution()` wherever "class Solution" is in the code;
    # make_function has moved the class into wrapped_function, so lcb_runner gives -4 on every test.
    code = "class Solution:\n    def solve(self):\n        a, b = map(int, input().split())\n        print(a + b)\n\nSolution().solve()"
    result = verdict(box, code, SUM_ROW)
    assert (result["verdict"], result["failed_test"]) == ("runtime error", 0), result
    assert "Solution" in result["error"]


ENTRY_CASES = [
    ("a stdin program whose class name starts with Solution fails (a substring test)",
     "class SolutionFinder:\n    pass\n\na, b = map(int, input().split())\nprint(a + b)", SUM_ROW, "runtime error"),
    ("a stdin program naming class Solution only in a comment passes (make_function drops comments)",
     "# not a class Solution here\na, b = map(int, input().split())\nprint(a + b)", SUM_ROW, "passed"),
    ("a stdin program with a __main__ guard and a class Solution fails",
     "class Solution:\n    def solve(self):\n        a, b = map(int, input().split())\n        print(a + b)\n\n"
     "if __name__ == '__main__':\n    Solution().solve()", SUM_ROW, "runtime error"),
    ("a call-based solution defining the function at top level passes",
     "def twoSum(nums, target):\n    return [0, 1] if target == 9 else [1, 2]", PAIR_ROW, "passed"),
]


@pytest.mark.parametrize("label, code, row_, expected", ENTRY_CASES, ids=[c[0] for c in ENTRY_CASES])
def test_the_entry_is_looked_up_as_lcb_runners_compile_code_does(box, label, code, row_, expected):
    assert verdict(box, code, row_)["verdict"] == expected


def test_a_returned_integer_of_5000_digits_is_compared_exactly(box):
    big = "7" * 5000
    row_ = row("big", tests=[{"input": "1", "output": big}], fn_name="f", starter="class Solution:\n    def f(self, x):\n        ")
    code = "class Solution:\n    def f(self, x):\n        return int('7' * 5000) + x - 1"
    assert verdict(box, code, row_)["verdict"] == "passed"
    assert verdict(box, code.replace("- 1", ""), row_)["verdict"] == "wrong answer"


def test_a_sample_records_verdict_first_failing_test_and_stderr_tail(monkeypatch):
    monkeypatch.setattr(lcb, "settings", lambda name: FAST)
    code = "import sys\nprint('debugging', file=sys.stderr)\na, b = map(int, input().split())\nprint(a - b)"
    score = livecodebench_v6.score(lcb.to_item(SUM_ROW), gen(fenced(code)))
    assert score.value == 0.0 and score.extracted == code
    assert score.detail["verdict"] == "wrong answer" and score.detail["failed_test"] == 0
    assert "debugging" in score.detail["stderr_tail"]


def test_a_correct_generation_scores_one(monkeypatch):
    monkeypatch.setattr(lcb, "settings", lambda name: FAST)
    score = livecodebench_v6.score(lcb.to_item(PAIR_ROW), gen(fenced(PAIR_OK)))
    assert score.value == 1.0 and score.detail["verdict"] == "passed" and score.detail["tests_passed"] == len(PAIR_TESTS)


def test_metrics_give_pass_at_1_by_difficulty_and_verdict_shares():
    from exaone_eval.types import Score

    records = [(lcb.to_item(SUM_ROW), Score(1.0, "x", {"verdict": "passed"})),
               (lcb.to_item(PAIR_ROW), Score(0.0, "x", {"verdict": "time limit"}))]
    m = lcb.metrics(records)
    assert m["pass@1_easy"] == 100.0 and m["pass@1_medium"] == 0.0
    assert m["verdict_passed"] == 50.0 and m["verdict_time_limit"] == 50.0


def test_a_private_test_row_round_trips_through_the_hub_encoding():
    assert json.loads(json.dumps(lcb.decode_private_tests(encode_private(SUM_TESTS)))) == SUM_TESTS
