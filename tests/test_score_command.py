"""`exaone-eval score`: saved generations, no model, same figures as `run`."""

from __future__ import annotations

import json

import pytest
from conftest import AIME_ROWS, write_jsonl
from helpers import aime_solver

from exaone_eval.cli import main


@pytest.fixture
def data_dir(tmp_path):
    write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS)
    return tmp_path / "data"


def _score(tmp_path, data_dir, rows=None, text=None):
    path = tmp_path / "responses.jsonl"
    if text is not None:
        path.write_text(text)
    else:
        write_jsonl(path, rows)
    return main(["score", "--benchmark", "aime_2025", "--responses", str(path), "--data-dir", str(data_dir), "--out", str(tmp_path / "out")])


def test_score_gives_known_verdicts_and_writes_the_run_files(tmp_path, data_dir):
    rows = [
        {"id": "1", "response": "<think>2+3</think>\\boxed{5}"},
        {"id": "1", "response": "\\boxed{6}"},
        {"id": 2, "response": "<think>\\boxed{70}</think>I forgot."},
        {"id": "3", "response": "<think>never closed \\boxed{2}"},
    ]
    assert _score(tmp_path, data_dir, rows) == 0
    entry = json.loads((tmp_path / "out" / "scores.json").read_text())["aime_2025"]
    assert entry["score"] == pytest.approx(100 * (0.5 + 0 + 0) / 3)
    assert entry["truncated"] == 1 and entry["no_answer"] == 2 and entry["k"] == 2
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples" / "aime_2025.jsonl").read_text().splitlines()]
    assert [(s["id"], s["sample"], s["score"]) for s in samples] == [("1", 0, 1.0), ("1", 1, 0.0), ("2", 0, 0.0), ("3", 0, 0.0)]


def test_score_reproduces_the_figures_of_run(tmp_path, data_dir, fake_server):
    server = fake_server(aime_solver)
    main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025", "--base-url", server.url, "--data-dir", str(data_dir),
          "--out", str(tmp_path / "run"), "--k", "2", "--no-progress"])
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples" / "aime_2025.jsonl").read_text().splitlines()]
    _score(tmp_path, data_dir, [{"id": s["id"], "sample": s["sample"], "response": s["response"]} for s in samples])
    ran = json.loads((tmp_path / "run" / "scores.json").read_text())["aime_2025"]
    scored = json.loads((tmp_path / "out" / "scores.json").read_text())["aime_2025"]
    for key in ("score", "n_items", "k", "ci_low", "ci_high", "truncated", "no_answer"):
        assert scored[key] == ran[key], key


@pytest.mark.parametrize("text,message", [
    ('{"id": "1", "response": "x"}\nnot json\n', r"responses\.jsonl:2: not valid JSON"),
    ('{"id": "1"}\n', r"responses\.jsonl:1: missing field 'response'"),
    ('{"id": "99", "response": "x"}\n', r"responses\.jsonl:1: unknown item id '99'"),
    ('{"id": "1", "response": 5}\n', r"responses\.jsonl:1: field 'response' must be a string"),
    ('{"id": "1", "response": "a", "sample": 0}\n{"id": "1", "response": "b", "sample": 0}\n', r"responses\.jsonl:2: a second response"),
    ('[1, 2]\n', r"responses\.jsonl:1: expected a JSON object"),
    ('', r"responses\.jsonl: no responses"),
])
def test_a_malformed_responses_file_is_a_one_line_error_naming_the_line(tmp_path, data_dir, capsys, text, message):
    import re

    assert _score(tmp_path, data_dir, text=text) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err
