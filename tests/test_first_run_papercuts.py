"""Small things a first run trips on: `run --suite demo` needs no --model, and a directory
written by `score` can be gated (its mode is recorded: `score --mode`)."""

from __future__ import annotations

import json

from conftest import AIME_ROWS, write_jsonl

from exaone_eval.cli import build_parser, main
from exaone_eval.cli_run import build_run_config


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


# ---- server URLs ----------------------------------------------------------------------------------


def test_a_base_url_without_a_scheme_is_refused_at_parsing_with_the_expected_form(capsys):
    import pytest

    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["run", "--suite", "reasoning", "--model", "32b", "--base-url", "127.0.0.1:8000/v1"])
    assert stop.value.code == 2
    assert "'127.0.0.1:8000/v1' is not a server URL; expected http://HOST:PORT/v1" in capsys.readouterr().err


def test_every_url_of_a_comma_separated_list_is_checked(capsys):
    import pytest

    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--suite", "reasoning", "--model", "32b", "--base-url", "http://a:1/v1,b:2/v1"])
    assert "'b:2/v1' is not a server URL" in capsys.readouterr().err


def test_a_404_from_a_base_url_without_v1_suggests_the_suffix(tmp_path, capsys):
    """A server whose routes live under /v1 (vLLM, `serve`) answers 404 to /chat/completions."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Under_v1_only(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _not_found(self) -> None:
            body = b'{"detail": "Not Found"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _not_found

    server = ThreadingHTTPServer(("127.0.0.1", 0), Under_v1_only)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS[:1])
        code = main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025", "--k", "1", "--base-url", url,
                     "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--max-retries", "0"])
    finally:
        server.shutdown()
    assert code == 2
    assert f"OpenAI-compatible servers serve under /v1, try --base-url {url}/v1" in capsys.readouterr().err


def test_base_url_with_the_demo_preset_evaluates_that_server():
    cfg = build_run_config(build_parser().parse_args(["run", "--suite", "demo", "--base-url", "http://127.0.0.1:8000/v1"]))
    assert cfg.backend == "openai" and cfg.base_urls == ["http://127.0.0.1:8000/v1"] and cfg.model.hf_id == "demo"


def test_base_url_with_an_in_process_backend_is_refused_in_one_line(capsys):
    assert main(["run", "--suite", "demo", "--backend", "bundled", "--base-url", "http://127.0.0.1:8000/v1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--base-url is for --backend openai; --backend bundled runs the model in this process" in err


# ---- stop signals ---------------------------------------------------------------------------------


def _slow_answer(body: dict) -> dict:
    return {"content": "\\boxed{1}"}


import pytest  # noqa: E402


@pytest.mark.parametrize("name, code", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_and_sighup_end_a_run_as_ctrl_c_does_naming_the_out_to_resume_with(tmp_path, fake_server, name, code):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import pytest

    server = fake_server(_slow_answer, delay=0.3)
    write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS)
    out = tmp_path / "run"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "exaone_eval.cli", "run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025",
         "--k", "50", "--concurrency", "2", "--no-progress", "--base-url", server.url, "--data-dir", str(tmp_path / "data"), "--out", str(out)],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)})
    deadline = time.monotonic() + 60
    while len(server.requests) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail(f"the run ended before it was signalled: {proc.stderr.read()}")
    proc.send_signal(getattr(signal, name))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert f"interrupted ({name})" in err and f"--out {out}" in err and "Traceback" not in err
