"""LiveCodeBench through `exaone-eval run` and `score`: --data-dir rows in the Hub schema, a
scripted server, sandboxed scoring on a pool that overlaps generation, what run.json records."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from conftest import write_jsonl
from lcb_rows import PAIR_OK, PAIR_ROW, SUM_OK, SUM_ROW, fenced, row

from exaone_eval.registry import get_spec
from exaone_eval.benchmarks import livecodebench as lcb
from exaone_eval.cli import main

OLD_ROW = {**SUM_ROW, "question_id": "abc0", "contest_date": "2024-01-05T00:00:00"}  # outside v6's window
SOLUTIONS = {"abc1": SUM_OK, "lc1": "class Solution:\n    def twoSum(self, nums, target):\n        return [0, 0]\n"}


def solver(body: dict) -> dict:
    prompt = body["messages"][-1]["content"]
    qid = prompt.split("Solve problem ", 1)[1].split(".", 1)[0]
    return {"content": "<think>let me see</think>" + fenced(SOLUTIONS[qid]), "completion_tokens": 9}


@pytest.fixture
def data_dir(tmp_path):
    write_jsonl(tmp_path / "data" / "livecodebench_v6.jsonl", [OLD_ROW, SUM_ROW, PAIR_ROW])
    return tmp_path / "data"


@pytest.fixture
def fast(monkeypatch):
    """1 s per test instead of 6 (the task spec's other settings kept)."""
    quick = dataclasses.replace(lcb.settings("livecodebench_v6"), timeout_s=1.0)
    monkeypatch.setattr(lcb, "settings", lambda name: quick)
    return quick


def _run(tmp_path, url, data_dir, *extra) -> int:
    return main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "livecodebench_v6", "--base-url", url,
                 "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--no-progress", "--max-retries", "0", *extra])


def test_a_run_scores_in_window_rows_in_the_sandbox_and_records_verdicts(tmp_path, fake_server, data_dir, fast):
    server = fake_server(solver)
    assert _run(tmp_path, server.url, data_dir, "--k", "2") == 0
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())["livecodebench_v6"]
    assert scores["n_items"] == 2 and scores["k"] == 2 and scores["score"] == 50.0
    assert scores["metrics"]["verdict_passed"] == 50.0 and scores["metrics"]["verdict_wrong_answer"] == 50.0
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples" / "livecodebench_v6.jsonl").read_text().splitlines()]
    assert {s["id"] for s in samples} == {"abc1", "lc1"}
    wrong = next(s for s in samples if s["id"] == "lc1")
    assert wrong["detail"]["verdict"] == "wrong answer" and wrong["detail"]["failed_test"] == 0
    assert "stderr_tail" in wrong["detail"] and wrong["extracted"].startswith("class Solution")
    assert "inputs" not in json.dumps(wrong["item_meta"])  # the tests stay out of every sample record
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["scoring"]["livecodebench_v6"]["isolation"] in ("bwrap", "rlimits")
    assert run["sandbox"] == "auto" and run["task_options"]["livecodebench_v6"]["start_date"] == "2025-02-01"


@pytest.mark.parametrize("isolation", ["rlimits", "none"])
def test_a_named_isolation_is_used_and_recorded_in_run_json(tmp_path, fake_server, data_dir, fast, isolation):
    server = fake_server(solver)
    assert _run(tmp_path, server.url, data_dir, "--k", "1", "--sandbox", isolation) == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["scoring"]["livecodebench_v6"]["isolation"] == isolation and run["sandbox"] == isolation
    assert json.loads((tmp_path / "run" / "scores.json").read_text())["livecodebench_v6"]["score"] == 50.0


def test_slow_verdicts_run_in_parallel_while_generation_goes_on(tmp_path, fake_server, monkeypatch):
    # Eight problems whose solutions all sleep past the 1 s timer, on a pool of eight sandboxes:
    # one after another they would take over 8 s.
    n = 8
    quick = dataclasses.replace(lcb.settings("livecodebench_v6"), timeout_s=1.0, sandbox_pool=n)
    monkeypatch.setattr(lcb, "settings", lambda name: quick)
    rows = [row(f"s{i}", tests=[{"input": "1\n", "output": "1\n"}]) for i in range(n)]
    write_jsonl(tmp_path / "data" / "livecodebench_v6.jsonl", rows)
    server = fake_server(lambda body: {"content": fenced("import time\ntime.sleep(30)"), "completion_tokens": 3})
    started = time.monotonic()
    assert _run(tmp_path, server.url, tmp_path / "data", "--k", "1") == 0
    elapsed = time.monotonic() - started
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples" / "livecodebench_v6.jsonl").read_text().splitlines()]
    assert [s["detail"]["verdict"] for s in samples] == ["time limit"] * n
    assert elapsed < 0.75 * n * quick.timeout_s, f"verdicts did not overlap: {elapsed:.1f} s"


def test_score_command_scores_saved_responses_in_the_sandbox(tmp_path, data_dir, fast):
    responses = tmp_path / "responses.jsonl"
    write_jsonl(responses, [{"id": "abc1", "response": fenced(SUM_OK)}, {"id": "lc1", "response": f"<think>hm</think>{fenced(PAIR_OK)}"},
                            {"id": "lc1", "response": "no code at all"}])
    assert main(["score", "--benchmark", "livecodebench_v6", "--responses", str(responses), "--data-dir", str(data_dir),
                 "--out", str(tmp_path / "out")]) == 0
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())["livecodebench_v6"]
    assert scores["score"] == 75.0  # abc1: 1/1, lc1: 1/2
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["scoring"]["livecodebench_v6"]["isolation"] in ("bwrap", "rlimits")
    assert run["task_options"]["livecodebench_v6"]["release"] == "release_v6"


@pytest.mark.parametrize("name", ["livecodebench_v5", "livecodebench_v6"])
def test_list_shows_the_date_window_from_the_task_spec(name, capsys):
    options = get_spec(name).options
    assert main(["list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(name))
    assert "ready" in line and options["start_date"] in line and options["end_date"] in line
    assert "the report does not state its window" in line
