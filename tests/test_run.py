"""`exaone-eval run` end to end against scripted servers: outputs, resume, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import AIME_ROWS, write_jsonl
from helpers import aime_solver

from exaone_eval.cli import main
from exaone_eval.fake_server import FakeOpenAIServer


def _run(tmp_path: Path, url: str, *extra: str) -> int:
    data = tmp_path / "data"
    if not (data / "aime_2025.jsonl").exists():
        write_jsonl(data / "aime_2025.jsonl", AIME_ROWS)
    return main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025", "--base-url", url,
                 "--data-dir", str(data), "--out", str(tmp_path / "run"), "--no-progress", "--max-retries", "0", *extra])


def _samples(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "run" / "samples" / "aime_2025.jsonl").read_text().splitlines()]


def test_a_run_writes_the_run_directory_contract(tmp_path, fake_server):
    server = fake_server(aime_solver)
    assert _run(tmp_path, server.url, "--k", "2") == 0
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())["aime_2025"]
    assert scores["score"] == 100.0 and scores["n_items"] == 3 and scores["k"] == 2
    assert {"ci_low", "ci_high", "metrics", "truncated"} <= set(scores)
    samples = _samples(tmp_path)
    assert len(samples) == 6
    assert {"id", "sample", "seed", "response", "extracted", "score"} <= set(samples[0])
    assert isinstance(samples[0]["id"], str) and samples[0]["extracted"] == "5"
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["model"]["hf_id"] == "LGAI-EXAONE/EXAONE-4.0-32B" and "aime_2025" in run["data_fingerprints"]
    assert run["packages"]["exaone-eval"]


def test_each_sample_has_its_own_seed_and_a_rerun_reproduces_them(tmp_path, fake_server):
    server = fake_server(aime_solver)
    _run(tmp_path, server.url, "--k", "4")
    seeds = [r["seed"] for r in server.requests]
    assert len(set(seeds)) == 12
    other = fake_server(aime_solver)
    _run(tmp_path / "again", other.url, "--k", "4")
    assert sorted(r["seed"] for r in other.requests) == sorted(seeds)


def test_the_reports_decoding_settings_are_sent(tmp_path, fake_server):
    server = fake_server(aime_solver)
    _run(tmp_path, server.url, "--k", "1")
    body = server.requests[0]
    assert (body["temperature"], body["top_p"], body["presence_penalty"], body["max_tokens"]) == (0.6, 0.95, 1.5, 65536)


def test_rerunning_the_same_command_generates_nothing_again(tmp_path, fake_server):
    first = fake_server(aime_solver)
    _run(tmp_path, first.url, "--k", "2")
    second = fake_server(aime_solver)
    assert _run(tmp_path, second.url, "--k", "2") == 0
    assert second.requests == []
    assert len(_samples(tmp_path)) == 6


def test_a_server_that_dies_mid_run_loses_nothing_finished_and_the_rerun_completes(tmp_path, fake_server, capsys):
    dying = fake_server(aime_solver, die_after=4)
    assert _run(tmp_path, dying.url, "--k", "3", "--concurrency", "1") == 2
    err = capsys.readouterr().err
    assert "5 of 9 samples failed" in err and "rerun the same command" in err
    assert len(_samples(tmp_path)) == 4
    healthy = fake_server(aime_solver)
    assert _run(tmp_path, healthy.url, "--k", "3") == 0
    assert len(healthy.requests) == 5
    assert len(_samples(tmp_path)) == 9


def test_an_unreachable_server_is_a_one_line_error_with_exit_code_2(tmp_path, capsys):
    assert _run(tmp_path, "http://127.0.0.1:9/v1") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") <= 1 and "cannot reach the server at http://127.0.0.1:9/v1" in err
    assert "Traceback" not in err


def test_a_truncated_reasoning_scores_zero_and_is_counted(tmp_path, fake_server):
    server = fake_server(lambda body: {"content": "thinking \\boxed{5}", "finish_reason": "length"})
    _run(tmp_path, server.url, "--k", "1")
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())["aime_2025"]
    assert scores["truncated"] == 3 and scores["score"] == 0.0


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_kill_9_mid_run_loses_at_most_the_requests_in_flight(tmp_path):
    """A real process killed with SIGKILL; the rerun only asks for what was not stored."""
    data = tmp_path / "data"
    write_jsonl(data / "aime_2025.jsonl", AIME_ROWS)

    def slow(body):
        time.sleep(0.05)
        return aime_solver(body)

    with FakeOpenAIServer(slow) as server:
        def cmd(url: str) -> list[str]:
            return [sys.executable, "-m", "exaone_eval.cli", "run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025",
                    "--base-url", url, "--data-dir", str(data), "--out", str(tmp_path / "run"), "--k", "40", "--concurrency", "2", "--no-progress"]

        proc = subprocess.Popen(cmd(server.url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while server.answered < 20 and time.time() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        answered = server.answered
    # Its scoring workers die with it instead of waiting forever on their queue.
    deadline = time.time() + 5
    while _processes_mentioning(str(tmp_path)) and time.time() < deadline:
        time.sleep(0.1)
    assert _processes_mentioning(str(tmp_path)) == []
    assert 20 <= answered < 120
    with FakeOpenAIServer(aime_solver) as again:
        subprocess.run(cmd(again.url), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        regenerated = len(again.requests)
    # Everything answered before the kill was stored, except what was in flight (at most 2).
    assert 120 - answered <= regenerated <= 120 - answered + 2
    assert len(_samples(tmp_path)) == 120


def test_run_json_keeps_every_benchmarks_fingerprint_as_they_are_written_one_by_one(tmp_path):
    from exaone_eval.store import update_json

    path = tmp_path / "run.json"
    update_json(path, {"model": "m", "data_fingerprints": {"a": "1"}}, merge_keys=("data_fingerprints",))
    update_json(path, {"data_fingerprints": {"b": "2"}}, merge_keys=("data_fingerprints",))
    update_json(path, {"model": "n"})
    assert json.loads(path.read_text()) == {"model": "n", "data_fingerprints": {"a": "1", "b": "2"}}
