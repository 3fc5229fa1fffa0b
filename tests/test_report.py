"""`exaone-eval report` without a browser: what goes into the file, bad input, the gate's JSON.
What a person sees in the page is tested in tests/test_report_browser.py (headless Chromium)."""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from report_runs import HOSTILE, bfcl_prose, lcb, record, ruler, write_run

from exaone_eval.cli import main
from exaone_eval.report import build_report
from exaone_eval.report_data import COLUMNS, cap, verdict
from exaone_eval.types import HarnessError

ROOT = Path(__file__).resolve().parents[1]


def blobs(html: str) -> dict[str, dict]:
    """Each embedded benchmark blob, decoded as the page decodes it."""
    found = re.findall(r'<script type="application/gzip-base64" id="([^"]+)">([^<]*)</script>', html)
    return {blob_id: json.loads(gzip.decompress(base64.b64decode(text))) for blob_id, text in found}


def rows_by_column(blob: dict) -> list[dict]:
    return [dict(zip(blob["columns"], row)) for row in blob["rows"]]


VERDICT_CASES = [
    ({"score": 1.0, "extracted": "B"}, "correct"),
    ({"score": 0.0, "extracted": "C"}, "wrong"),
    ({"score": 0.5, "extracted": ["x"]}, "wrong"),  # a partial score is not correct
    ({"score": 0.0, "extracted": None}, "no answer"),
    ({"score": 0.0, "extracted": [], "detail": {"error_type": "ast_decoder:decoder_failed"}}, "wrong"),  # BFCL: no call is an answer
    ({"score": 0.0, "extracted": None, "reasoning_closed": False}, "truncated"),
    ({"score": 0.0, "extracted": "x", "detail": {"truncated": True}}, "truncated"),
    ({"score": 0.0, "extracted": "code", "detail": {"verdict": "sandbox error"}}, "error"),
    ({"score": 0.0, "extracted": "code", "detail": {"verdict": "runtime error"}}, "wrong"),  # the model's code failed
    ({"score": 0.0, "extracted": "user_stop", "detail": {"termination_reason": "agent_error"}}, "error"),
]


@pytest.mark.parametrize("rec, expected", VERDICT_CASES)
def test_each_sample_gets_the_verdict_class_the_browser_filters_by(rec, expected):
    assert verdict(rec) == expected


def test_a_long_text_keeps_its_head_and_tail_and_says_how_much_was_cut():
    text = "H" * 5_000 + "M" * 10_000 + "T" * 5_000
    kept = cap(text, 1_500)
    assert kept.startswith("H" * 1_000) and kept.endswith("T" * 500)
    assert "[… 18,500 characters not kept …]" in kept and len(kept) < 1_600
    assert cap("short", 1_500) == "short" and cap(None, 10) is None


def test_the_page_embeds_every_sample_with_its_verdict_gold_and_checker_detail(tmp_path):
    run = write_run(tmp_path / "run", {"ruler": [ruler("niah/1024/0", "8090293", "The number is 8090293."),
                                                 ruler("niah/1024/1", "1234", "I do not know.")],
                                       "livecodebench_v6": [lcb("abc1", True), lcb("abc2", False)]})
    html = build_report([run])
    data = blobs(html)
    assert set(data) == {"samples-0-ruler", "samples-0-livecodebench_v6"}
    assert data["samples-0-ruler"]["columns"] == list(COLUMNS)
    ruler_rows = {r["id"]: r for r in rows_by_column(data["samples-0-ruler"])}
    assert ruler_rows["niah/1024/0"]["verdict"] == "correct" and ruler_rows["niah/1024/0"]["gold"] == '["8090293"]'
    assert ruler_rows["niah/1024/1"]["verdict"] == "wrong" and data["samples-0-ruler"]["prompts"] == {}
    assert ruler_rows["niah/1024/1"]["prompt_tokens"] == 887  # the prompt is not in the samples file: its length is
    failing = next(r for r in rows_by_column(data["samples-0-livecodebench_v6"]) if r["id"] == "abc2")
    assert failing["detail"]["failed_test"] == 2 and "ZeroDivisionError" in failing["detail"]["stderr_tail"]
    assert failing["reasoning"] == "let me see"
    index = json.loads(re.search(r'<script type="application/json" id="report-index">(.*?)</script>', html).group(1))
    assert index["runs"][0]["benchmarks"][0]["counts"] == {"correct": 1, "wrong": 1, "truncated": 0, "no answer": 0, "error": 0}


def test_long_responses_are_capped_in_the_file_with_their_full_length(tmp_path):
    long_answer = "a" * 50_000 + "THE END"
    run = write_run(tmp_path / "run", {"ruler": [ruler("niah/1024/0", "7", long_answer)]})
    row = rows_by_column(blobs(build_report([run]))["samples-0-ruler"])[0]
    assert row["answer_chars"] == 50_007 and len(row["answer"]) < 2_100 and row["answer"].endswith("THE END")


def test_an_items_prompt_is_kept_once_for_its_k_samples(tmp_path):
    prompt = "Q" * 5_000
    recs = [record("7", 0.0, "no", sample=s, extracted="A", meta={"prompt": prompt}) for s in range(4)]
    data = blobs(build_report([write_run(tmp_path / "run", {"ifeval": recs})]))["samples-0-ifeval"]
    assert len(data["rows"]) == 4 and list(data["prompts"]) == ["7"]
    assert data["prompts"]["7"][1] == 5_000 and len(data["prompts"]["7"][0]) < 1_600


def test_prompts_come_from_the_runs_prompts_file_joined_on_the_prompt_hash(tmp_path):
    recs = [record("1", 1.0, "5", sample=s, extracted="5", prompt_hash="aaaa", reference="5") for s in range(2)]
    recs.append(record("2", 0.0, "7", extracted="7", prompt_hash="bbbb", reference="70"))
    run = write_run(tmp_path / "run", {"aime_2025": recs})
    long_text = "H" * 10_000 + "[… 480,000 characters not kept …]" + "T" * 10_000  # as results.PromptLog caps a 500K prompt
    lines = [{"prompt_hash": "aaaa", "messages": [{"role": "user", "content": "What is 2+3?"}], "chars": 12},
             {"prompt_hash": "bbbb", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": long_text}],
              "chars": 500_009},
             {"prompt_hash": "cccc", "prompt": "not a prompt of these samples", "chars": 29}]
    (run / "prompts").mkdir()
    (run / "prompts" / "aime_2025.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    data = blobs(build_report([run]))["samples-0-aime_2025"]
    rows = rows_by_column(data)
    assert [r["prompt"] for r in rows] == ["aaaa", "aaaa", "bbbb"] and set(data["prompts"]) == {"aaaa", "bbbb"}
    assert data["prompts"]["aaaa"] == ["What is 2+3?", 12]
    text, chars = data["prompts"]["bbbb"]
    assert chars == 500_009 and text.startswith("[system]\nBe brief.\n\n[user]\nHHH") and text.endswith("TTT")
    assert "[… 498,509 characters not kept …]" in text  # counted from the full prompt, not from the file's cut
    assert [r["gold"] for r in rows] == ["5", "5", "70"]  # the record's reference


def test_a_reference_kept_only_by_its_size_says_so(tmp_path):
    run = write_run(tmp_path / "run", {"livecodebench_v6": [{**lcb("abc1", True), "reference_size": 1_048_576}]})
    row = rows_by_column(blobs(build_report([run]))["samples-0-livecodebench_v6"])[0]
    assert row["gold"] is None and row["reference_size"] == 1_048_576


def test_model_output_and_ids_never_appear_as_markup_in_the_file(tmp_path):
    """The samples travel gzipped; the index (ids, paths) escapes every < > &: no text a model or a
    data file wrote can close a script element or open a tag."""
    run = write_run(tmp_path / "run", {"ruler": [ruler(HOSTILE, "7", HOSTILE)]})
    html = build_report([run])
    assert 'alert("pwned")' not in html and "onerror" not in html
    assert rows_by_column(blobs(html)["samples-0-ruler"])[0]["answer"] == HOSTILE  # kept, as data


def test_a_malformed_samples_line_is_refused_naming_the_file_and_line(tmp_path):
    run = write_run(tmp_path / "run", {"ruler": [ruler("a", "7", "7"), ruler("b", "7", "no")]})
    path = run / "samples" / "ruler.jsonl"
    path.write_text(path.read_text() + '{"id": "c", "sample": 0, "score": \n', encoding="utf-8")
    with pytest.raises(HarnessError, match=re.escape(f"{path}:3: not valid JSON")):
        build_report([run])
    path.write_text(json.dumps(ruler("a", "7", "7") | {"score": "high"}) + "\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=re.escape(f"{path}:1: field 'score' is 'high'")):
        build_report([run])


def test_a_run_without_samples_is_refused_naming_the_folder(tmp_path, capsys):
    run = write_run(tmp_path / "run", {})
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 2
    assert f"{run / 'samples'}: no samples/<benchmark>.jsonl files" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_the_command_writes_one_file_with_the_tables_and_says_where(tmp_path, capsys):
    run = write_run(tmp_path / "run", {"ruler": [ruler("a", "7", "7")]}, limit=1)
    assert main(["report", str(run), "--out", str(tmp_path / "out" / "report.html")]) == 0
    assert f"Report: {tmp_path / 'out' / 'report.html'}" in capsys.readouterr().out
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Table 10: RULER by context length" in html and "<svg" not in html  # no per-length metrics: no curve
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from the network


def test_two_runs_list_the_items_that_flipped_each_way(tmp_path):
    base = write_run(tmp_path / "base", {"ruler": [ruler("a", "7", "7"), ruler("b", "7", "7"), ruler("c", "7", "no")]}, model="base")
    cand = write_run(tmp_path / "cand", {"ruler": [ruler("a", "7", "7"), ruler("b", "7", "no"), ruler("c", "7", "7")]}, model="cand")
    html = build_report([base, cand])
    index = json.loads(re.search(r'id="report-index">(.*?)</script>', html).group(1))
    assert index["compare"]["groups"] == [{"key": "ruler", "benchmark": "ruler", "fixed": [["c", 0.0, 1.0]], "broken": [["b", 1.0, 0.0]]}]


def test_the_gate_writes_its_verdicts_as_json_and_the_report_links_each_regression(tmp_path):
    from exaone_eval.gate import run_gate

    base = write_run(tmp_path / "base", {"ruler": [ruler(str(i), "7", "7") for i in range(60)]}, model="base")
    cand = write_run(tmp_path / "cand", {"ruler": [ruler(str(i), "7", "7" if i < 20 else "no") for i in range(60)]}, model="cand")
    assert run_gate(base, cand, None, None) == 1
    gate = json.loads((cand / "gate.json").read_text(encoding="utf-8"))
    assert gate["passed"] is False and gate["verdicts"][0]["key"] == "ruler" and gate["verdicts"][0]["verdict"] == "regression"
    assert gate["verdicts"][0]["n_items"] == 60 and gate["baseline"] == str(base)
    html = build_report([base, cand])
    assert '<a class="gate-link" href="#compare/ruler/broken">ruler</a>' in html


def test_an_older_gate_summary_without_json_still_names_what_regressed(tmp_path):
    base = write_run(tmp_path / "base", {"ruler": [ruler("a", "7", "7")]}, model="base")
    cand = write_run(tmp_path / "cand", {"ruler": [ruler("a", "7", "no")]}, model="cand")
    (cand / "gate.md").write_text("## exaone-eval gate: FAIL: ruler regressed\n", encoding="utf-8")
    assert '<a class="gate-link" href="#compare/ruler/broken">ruler</a>' in build_report([base, cand])


def test_the_wheel_ships_the_templates(tmp_path):
    pytest.importorskip("hatchling", reason="hatchling (the build backend, in the dev extra) is not installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)],
                   check=True, capture_output=True)
    names = set(zipfile.ZipFile(next(tmp_path.glob("exaone_eval-*.whl"))).namelist())
    assert {f"exaone_eval/templates/{n}" for n in ("report.html.j2", "report.js", "report.css")} <= names


def test_two_checkpoints_saved_under_one_preset_get_tables_of_their_own(tmp_path):
    """`tables` refuses two runs that score the same benchmark for one model and mode; the report
    (a baseline and a candidate are often both `32b`) shows each run's tables, named by its folder."""
    base = write_run(tmp_path / "base", {"ruler": [ruler("x", "7", "7")]}, model="32b")
    cand = write_run(tmp_path / "cand", {"ruler": [ruler("x", "7", "no")]}, model="32b")
    html = build_report([base, cand])
    assert html.count('<table class="report-table" data-table="4">') == 2
    assert f'<span class="path">{cand}</span></h3>' in html and "one after the other" in html
