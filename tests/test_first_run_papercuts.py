"""Small things a first run trips on: `run --suite demo` needs no --model, and a directory
written by `score` can be gated (its mode is recorded: `score --mode`)."""

from __future__ import annotations

import json

from conftest import AIME_ROWS, write_jsonl

from exaone_eval.cli import build_parser, build_run_config, main


def test_run_suite_demo_without_a_model_uses_the_demo_model():
    cfg = build_run_config(build_parser().parse_args(["run", "--suite", "demo"]))
    assert cfg.model.name == "demo" and cfg.backend == "bundled" and "demo" in cfg.out.name


def test_other_suites_still_need_a_model(capsys):
    assert main(["run", "--suite", "reasoning"]) == 2
    assert "--suite reasoning needs --model" in capsys.readouterr().err


def _score(tmp_path, name: str, answers: dict[int, int], *extra: str) -> int:
    responses = write_jsonl(tmp_path / f"{name}.jsonl", [{"id": i, "response": f"<think>ok</think>\\boxed{{{a}}}"} for i, a in answers.items()])
    return main(["score", "--benchmark", "aime_2025", "--responses", str(responses), "--data-dir", str(tmp_path / "data"),
                 "--out", str(tmp_path / name), *extra])


def test_a_directory_written_by_score_can_be_gated(tmp_path, capsys):
    write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS)
    right = {row["problem_idx"]: row["answer"] for row in AIME_ROWS}
    assert _score(tmp_path, "base", right, "--mode", "reasoning", "--model", "ckpt-1") == 0
    assert _score(tmp_path, "cand", {i: a + 1 for i, a in right.items()}, "--mode", "reasoning") == 0
    run = json.loads((tmp_path / "cand" / "run.json").read_text())
    assert run["mode"] == "reasoning" and run["model"]["name"] == "cand"
    assert json.loads((tmp_path / "base" / "run.json").read_text())["model"]["name"] == "ckpt-1"
    assert main(["gate", "--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / "base"), "--out", str(tmp_path / "same.md")]) == 0
    assert main(["gate", "--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / "cand")]) == 1
    assert "aime_2025 regressed" in capsys.readouterr().out


def test_score_records_non_reasoning_by_default_and_the_gate_refuses_mixed_modes(tmp_path, capsys):
    write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS)
    right = {row["problem_idx"]: row["answer"] for row in AIME_ROWS}
    assert _score(tmp_path, "base", right, "--mode", "reasoning") == 0
    assert _score(tmp_path, "cand", right) == 0
    assert json.loads((tmp_path / "cand" / "run.json").read_text())["mode"] == "non-reasoning"
    assert main(["gate", "--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / "cand")]) == 2
    assert "mode differs" in capsys.readouterr().err
