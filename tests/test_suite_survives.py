"""A suite survives its benchmarks: data problems found before any generation, a benchmark that
fails while running recorded (scores.json, run.json, the tables) while the others are scored,
scorer crashes kept as that sample's error and retried on resume, never a traceback."""

from __future__ import annotations

import asyncio
import json
import types
from pathlib import Path

import pytest
from conftest import AIME_ROWS, write_jsonl
from helpers import PRO_ROW, aime_solver, run_suite_on

from exaone_eval import registry
from exaone_eval.cli import main
from exaone_eval.config import ModelPreset, RunConfig
from exaone_eval.types import Episode, HarnessError, Item, Score


def solver(body: dict) -> dict:
    """Answers the AIME rows right, and every multiple-choice question with B."""
    if "What is" in body["messages"][-1]["content"]:
        return aime_solver(body)
    return {"content": "The answer is (B)."}


def run(tmp_path: Path, url: str, names: str, *extra: str) -> int:
    data = tmp_path / "data"
    if not (data / "aime_2025.jsonl").exists():
        write_jsonl(data / "aime_2025.jsonl", AIME_ROWS)
    if not (data / "mmlu_pro.jsonl").exists():
        write_jsonl(data / "mmlu_pro.jsonl", [PRO_ROW])
    return main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", names, "--base-url", url, "--k", "1",
                 "--data-dir", str(data), "--out", str(tmp_path / "run"), "--no-progress", "--max-retries", "0", *extra])


def scores_of(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "run" / "scores.json").read_text())


def failures_of(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "run" / "run.json").read_text()).get("failures", {})


def summary_lines(err: str) -> list[str]:
    """The indented one-line-per-benchmark summary under the final error."""
    tail = err[err.index("exaone-eval: error:"):]
    return [line.strip() for line in tail.splitlines()[1:] if line.startswith("  ")]


def test_a_repeated_dataset_id_in_a_data_file_is_one_error_naming_both_lines_and_the_rest_is_scored(tmp_path, fake_server, capsys):
    path = write_jsonl(tmp_path / "data" / "mmlu_pro.jsonl", [PRO_ROW, {**PRO_ROW, "question_id": 2}, PRO_ROW])
    server = fake_server(solver)
    assert run(tmp_path, server.url, "mmlu_pro,aime_2025") == 2
    err = capsys.readouterr().err
    problem = f"mmlu_pro: duplicate item id '1': {path}: lines 1 and 3"
    assert summary_lines(err) == [f"skipped  {problem}"]
    assert err.count(f"{path}: lines 1 and 3") == 2  # said once up front (before any generation), once in the summary
    assert err.index(problem) < err.index("exaone-eval: error:")
    scores = scores_of(tmp_path)
    assert scores["mmlu_pro"] == {"skipped": "bad data", "error": problem}
    assert scores["aime_2025"]["score"] == 100.0 and failures_of(tmp_path) == {"mmlu_pro": problem}
    assert all("What is" in body["messages"][-1]["content"] for body in server.requests)


def test_a_benchmark_whose_samples_fail_is_recorded_and_the_next_one_is_still_scored(tmp_path, fake_server, capsys):
    server = fake_server(solver, fail_first=[500, 500, 500])  # aime_2025's three requests, then all is well
    assert run(tmp_path, server.url, "aime_2025,mmlu_pro", "--concurrency", "1") == 2
    out, err = capsys.readouterr()
    scores = scores_of(tmp_path)
    assert scores["mmlu_pro"]["score"] == 100.0 and "error" not in scores["mmlu_pro"]
    failed = scores["aime_2025"]
    assert "score" not in failed and failed["failed"] == 3 and failed["error"].startswith("aime_2025: 3 of 3 samples failed")
    assert len(failed["sample_errors"]) == 3 and failures_of(tmp_path) == {"aime_2025": failed["error"]}
    (line,) = summary_lines(err)
    assert line.startswith("failed   aime_2025: 3 of 3 samples failed") and len(line) <= 250
    assert "rerun the same command with --out" in err and "Traceback" not in err
    assert any(row.startswith("aime_2025") and "failed (3 samples)" in row for row in out.splitlines())


def test_rerunning_after_a_failure_generates_only_what_failed_and_clears_the_failure(tmp_path, fake_server, capsys):
    run(tmp_path, fake_server(solver, fail_first=[500, 500, 500]).url, "aime_2025,mmlu_pro", "--concurrency", "1")
    again = fake_server(solver)
    assert run(tmp_path, again.url, "aime_2025,mmlu_pro") == 0
    assert len(again.requests) == 3 and all("What is" in body["messages"][-1]["content"] for body in again.requests)
    scores = scores_of(tmp_path)
    assert scores["aime_2025"]["score"] == 100.0 and "error" not in scores["aime_2025"]
    assert failures_of(tmp_path) == {}


def test_a_scorer_crash_is_that_samples_error_never_a_zero_and_resume_only_rescores_it(tmp_path, fake_server, capsys, monkeypatch):
    module = registry.get_module("aime_2025")
    real_score = module.score

    def crashes_on_item_2(item, gen):
        if item.id == "2":
            raise ZeroDivisionError("scripted scorer bug")
        return real_score(item, gen)

    monkeypatch.setattr(module, "score", crashes_on_item_2)
    assert run(tmp_path, fake_server(solver).url, "aime_2025") == 2
    entry = scores_of(tmp_path)["aime_2025"]
    assert entry["failed"] == 1 and entry["sample_errors"] == ["item 2 sample 0: the scorer raised ZeroDivisionError: scripted scorer bug"]
    samples = (tmp_path / "run" / "samples" / "aime_2025.jsonl").read_text().splitlines()
    assert sorted(json.loads(s)["id"] for s in samples) == ["1", "3"]  # not scored 0: not in the samples at all
    assert "Traceback" not in capsys.readouterr().err
    monkeypatch.setattr(module, "score", real_score)
    again = fake_server(solver)
    assert run(tmp_path, again.url, "aime_2025") == 0
    assert again.requests == [] and scores_of(tmp_path)["aime_2025"]["score"] == 100.0


def test_a_bug_in_a_benchmarks_own_code_fails_that_benchmark_with_a_one_line_summary(tmp_path, fake_server, capsys, monkeypatch):
    module = registry.get_module("mmlu_pro")
    monkeypatch.setattr(module, "metrics", lambda records: {}["no such metric"])  # raises KeyError after scoring
    assert run(tmp_path, fake_server(solver).url, "mmlu_pro,aime_2025") == 2
    err = capsys.readouterr().err
    assert summary_lines(err) == ["failed   mmlu_pro: KeyError: 'no such metric'"] and "Traceback" not in err
    entry = scores_of(tmp_path)["mmlu_pro"]
    assert entry["error"].startswith("KeyError: 'no such metric'\nTraceback")  # kept for whoever fixes it
    assert scores_of(tmp_path)["aime_2025"]["score"] == 100.0


def conversation_module() -> types.ModuleType:
    """A two-item conversation whose scorer crashes on item "b"."""
    module = types.ModuleType("fake_conversation")

    def iter_items(ctx):
        yield from (Item(id=i, messages=({"role": "user", "content": f"hello {i}"},), reference="ok") for i in ("a", "b"))

    async def converse(item, chat):
        gen = await chat(item.messages)
        return Episode(messages=item.messages, response=gen.answer)

    def score(item, episode):
        if item.id == "b":
            raise RuntimeError("scripted episode scorer bug")
        return Score(1.0, episode.response)

    module.iter_items, module.converse, module.score = iter_items, converse, score
    return module


def test_a_conversation_scorer_crash_is_recorded_as_that_samples_error_without_a_traceback(tmp_path, fake_server, monkeypatch):
    module = conversation_module()
    real_get_module = registry.get_module
    monkeypatch.setattr(registry, "get_module", lambda name: module if name == "multi_if" else real_get_module(name))
    cfg = RunConfig(suite="t", mode="non-reasoning", model=ModelPreset("m", "m"), backend="openai", benchmarks=["multi_if"],
                    out=tmp_path / "run", k=1)
    with pytest.raises(HarnessError, match="multi_if: 1 of 2 conversations failed") as raised:
        asyncio.run(run_suite_on(cfg, fake_server().url))
    assert "Traceback" not in str(raised.value)
    entry = scores_of(tmp_path)["multi_if"]
    assert entry["sample_errors"] == ["item b sample 0: the scorer raised RuntimeError: scripted episode scorer bug"]
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples" / "multi_if.jsonl").read_text().splitlines()]
    assert [s["id"] for s in samples] == ["a"]
