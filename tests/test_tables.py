"""`exaone-eval tables`: the report's tables with made-up runs' numbers, CIs, deltas and missing-cell reasons."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
from conftest import AIME_ROWS, write_jsonl
from helpers import aime_solver

from exaone_eval import tables
from exaone_eval.registry import get_spec
from exaone_eval.tables import render
from exaone_eval.types import HarnessError


def make_run(root: Path, name: str, model: str, mode: str, scores: dict, benchmarks=None, budgets=None, samples=None,
             extra: dict | None = None) -> Path:
    """A run directory as the runner writes it (run.json, scores.json, samples/); `extra` adds
    run.json fields (limit, k, data_dir, task_options)."""
    d = root / name
    (d / "samples").mkdir(parents=True)
    config = {"model": {"name": model, "hf_id": model}, "mode": mode, "suite": "test",
              "benchmarks": benchmarks if benchmarks is not None else sorted(scores)}
    if budgets:
        config["budgets"] = budgets
    config.update(extra or {})
    (d / "run.json").write_text(json.dumps(config), encoding="utf-8")
    (d / "scores.json").write_text(json.dumps({key: full_run(key, mode, entry) for key, entry in scores.items()}), encoding="utf-8")
    for bench, records in (samples or {}).items():
        (d / "samples" / f"{bench}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return d


def full_run(key: str, mode: str, entry: dict) -> dict:
    """A scored entry without `n_items` / `k` gets those of a full run at the task's k, as the
    runner writes them: every item of the spec (30 where it does not say) and the mode's k."""
    if "score" not in entry:
        return entry
    spec = get_spec(key.partition("@")[0])
    k = spec.modes[mode].k if mode in spec.modes else 1
    return {"n_items": spec.items or spec.rows or 30, "k": k, **entry}


def score(value: float, lo: float | None = None, hi: float | None = None, metrics: dict | None = None, **counts) -> dict:
    """A scores.json entry; `counts` (n_items, k, score_basis, ...) override a full run's."""
    entry = {"score": value, "metrics": metrics or {}, **counts}
    if lo is not None:
        entry.update(ci_low=lo, ci_high=hi)
    return entry


def row_of(markdown: str, table: int, first_cell: str) -> list[str]:
    """The cells of the first row starting with `first_cell` in the section of Table `table`."""
    section = markdown.split(f"### Table {table}:")[1].split("### Table")[0]
    for line in (l for l in section.splitlines() if l.startswith("|")):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in Table {table}")


def header_of(markdown: str, table: int) -> list[str]:
    section = markdown.split(f"### Table {table}:")[1]
    line = next(l for l in section.splitlines() if l.startswith("| "))
    return [c.strip() for c in line.strip().strip("|").split("|")]


@pytest.fixture
def planned(monkeypatch):
    """Mark benchmarks as not built yet, whatever their spec says today."""

    def mark(*names: str) -> None:
        real = get_spec

        def fake(name: str):
            spec = real(name)
            return dataclasses.replace(spec, status="planned") if name in names else spec

        monkeypatch.setattr(tables, "get_spec", fake)

    return mark


def test_a_32b_reasoning_run_fills_table_3_with_score_ci_and_delta(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(80.04, 70.0, 88.5)})
    md = render([run], ["md"], tmp_path / "out")
    header = header_of(md, 3)
    assert header[-3:] == ["EXAONE 4.0 32B (this run)", "95% CI", "Δ vs EXAONE 4.0 32B"]
    row = row_of(md, 3, "AIME 2025")
    assert row[1:7] == ["85.3", "78.0∗", "62.8∗", "72.9∗", "81.5∗", "87.5∗"]  # the published columns
    assert row[-3:] == ["80.0", "[70.0, 88.5]", "-5.3"]
    assert "### Table 4:" not in md and "### Table 5:" not in md


def test_cells_the_run_did_not_cover_say_why(tmp_path, planned):
    planned("mmlu_redux")
    scores = {"gpqa_diamond": {"skipped": "gated dataset Idavidrein/gpqa: no access"},
              "mmlu_pro": {"skipped": "backend refused every request"}}
    run = make_run(tmp_path, "n", "32b", "non-reasoning", scores,
                   benchmarks=["aime_2025", "gpqa_diamond", "mmlu_pro", "ko_longbench"])
    md = render([run], ["md"], tmp_path / "out")
    reasons = {title: row_of(md, 4, title)[-3] for title in
               ["GPQA-Diamond", "MMLU-Pro", "MMLU-Redux", "Ko-LongBench (KO)", "AIME 2025", "IFEval"]}
    assert reasons["GPQA-Diamond"] == "gated: no access"
    assert reasons["MMLU-Pro"] == "backend refused every request"  # the runner's own reason
    assert reasons["MMLU-Redux"] == "not built yet"
    assert reasons["Ko-LongBench (KO)"] == "in-house data"
    assert reasons["AIME 2025"] == "not scored yet"  # listed in run.json, no score
    assert reasons["IFEval"] == "not run"


def test_a_benchmark_that_failed_while_running_shows_as_failed_not_as_a_number(tmp_path):
    scores = {"mmlu_pro": {"error": "mmlu_pro: 3 of 9 samples failed (first: ...)", "failed": 3, "sample_errors": ["..."]},
              "gpqa_diamond": {"error": "KeyError: 'x'\nTraceback ..."}}
    run = make_run(tmp_path, "n", "32b", "non-reasoning", scores, benchmarks=["gpqa_diamond", "mmlu_pro"])
    md = render([run], ["md"], tmp_path / "out")
    assert row_of(md, 4, "MMLU-Pro")[-3] == "failed (3 samples)"
    assert row_of(md, 4, "GPQA-Diamond")[-3] == "failed"


def test_reasoning_and_non_reasoning_runs_combine_into_their_tables(tmp_path):
    r = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(84.0, 80.0, 88.0)})
    n = make_run(tmp_path, "n", "32b", "non-reasoning", {"aime_2025": score(36.0, 30.0, 42.0)})
    md = render([r, n], ["md"], tmp_path / "out")
    assert row_of(md, 3, "AIME 2025")[-3:] == ["84.0", "[80.0, 88.0]", "-1.3"]
    assert row_of(md, 4, "AIME 2025")[-3:] == ["36.0", "[30.0, 42.0]", "+0.1"]


def test_a_1_2b_run_goes_to_table_5_against_the_1_2b_column(tmp_path):
    run = make_run(tmp_path, "s", "1.2b", "reasoning", {"ifeval": score(70.0, 65.0, 75.0)})
    md = render([run], ["md"], tmp_path / "out")
    assert "### Table 3:" not in md
    assert row_of(md, 5, "IFEval")[-3:] == ["70.0", "[65.0, 75.0]", "+2.2"]


def test_two_runs_of_one_model_and_mode_merge_into_one_column(tmp_path):
    a = make_run(tmp_path, "a", "32b", "reasoning", {"aime_2025": score(85.3, 80.0, 90.0)})
    b = make_run(tmp_path, "b", "32b", "reasoning", {"ifeval": score(83.7, 80.0, 86.0)})
    md = render([a, b], ["md"], tmp_path / "out")
    assert header_of(md, 3).count("EXAONE 4.0 32B (this run)") == 1
    assert row_of(md, 3, "AIME 2025")[-1] == "+0.0" and row_of(md, 3, "IFEval")[-1] == "+0.0"


def test_two_runs_scoring_the_same_benchmark_are_an_input_error(tmp_path):
    a = make_run(tmp_path, "a", "32b", "reasoning", {"aime_2025": score(85.0)})
    b = make_run(tmp_path, "b", "32b", "reasoning", {"aime_2025": score(80.0)})
    with pytest.raises(HarnessError, match="aime_2025 is scored in both"):
        render([a, b], ["md"], tmp_path / "out")


def test_another_model_gets_its_own_column_beside_the_32b_table(tmp_path):
    run = make_run(tmp_path, "d", "/models/my-ckpt", "reasoning", {"aime_2025": score(10.0, 5.0, 15.0)})
    md = render([run], ["md"], tmp_path / "out")
    assert header_of(md, 3)[-3] == "my-ckpt (this run)"
    assert row_of(md, 3, "AIME 2025")[-1] == "-75.3"
    assert "### Table 5:" not in md


def test_another_model_can_be_compared_with_the_1_2b_table_instead(tmp_path):
    run = make_run(tmp_path, "d", "demo", "non-reasoning", {"aime_2025": score(10.0, 5.0, 15.0)})
    md = render([run], ["md"], tmp_path / "out", against=("1.2b",))
    assert "### Table 4:" not in md
    assert row_of(md, 6, "AIME 2025")[-3:] == ["10.0", "[5.0, 15.0]", "-13.5"]


def test_a_benchmark_the_report_table_lacks_is_added_under_its_category(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"wmt24pp_es": score(90.0, 88.0, 92.0)})
    md = render([run], ["md"], tmp_path / "out")
    row = row_of(md, 3, "WMT24++ (ES)")
    assert row[1:7] == ["-"] * 6 and row[-3:] == ["90.0", "[88.0, 92.0]", ""]


def test_table_7_comes_from_budget_keys_in_scores(tmp_path):
    scores = {"aime_2025@65536": score(84.0, 78.0, 90.0), "aime_2025@1024": score(36.0, 30.0, 42.0)}
    run = make_run(tmp_path, "b", "32b", "reasoning", scores, benchmarks=["aime_2025"], budgets=[1024, 65536])
    md = render([run], ["md"], tmp_path / "out")
    assert "### Table 3:" not in md  # a budget run feeds Table 7 only
    row = row_of(md, 7, "AIME 2025 — EXAONE 4.0 32B (this run)")
    assert row[1] == "84.0" and row[7] == "36.0" and row[2:7] == [""] * 5
    assert row_of(md, 7, "Δ vs EXAONE 4.0 32B")[1::6] == ["-1.3", "+0.4"]


def test_table_7_falls_back_to_samples_that_carry_a_budget(tmp_path):
    records = [{"id": str(i), "sample": s, "seed": 0, "response": "", "extracted": None, "budget": b, "score": float(i < n)}
               for b, n in ((2048, 1), (4096, 3)) for i in range(4) for s in range(2)]
    run = make_run(tmp_path, "b", "1.2b", "reasoning", {}, benchmarks=["aime_2025"], budgets=[2048, 4096],
                   samples={"aime_2025": records})
    md = render([run], ["md"], tmp_path / "out")
    row = row_of(md, 7, "AIME 2025 — EXAONE 4.0 1.2B (this run)")
    header = header_of(md, 7)
    # 4 items x 2 samples: marked as a subset at another k (the footnote tests are below)
    assert row[header.index("4K")] == "75.0 [1]" and row[header.index("2K")] == "25.0 [1]"


def test_ruler_lengths_fill_table_10_in_any_length_spelling(tmp_path):
    metrics = {"4k": 95.0, "len_8192": 93.1, "131072": 87.0, "niah_single_1": 99.0}
    run = make_run(tmp_path, "n", "32b", "non-reasoning", {"ruler": score(87.0, 85.0, 89.0, metrics)})
    md = render([run], ["md"], tmp_path / "out")
    assert header_of(md, 10) == ["Model", "4K", "8K", "16K", "32K", "64K", "128K"]
    assert row_of(md, 10, "EXAONE 4.0 32B (this run)")[1:] == ["95.00", "93.10", "", "", "", "87.00"]
    assert row_of(md, 10, "Δ vs EXAONE 4.0 32B")[1:] == ["-1.26", "-1.75", "", "", "", "-1.18"]
    assert row_of(md, 4, "RULER")[-3:] == ["87.0", "[85.0, 89.0]", "-1.2"]


def test_helmet_tasks_fill_table_9_per_context_length(tmp_path):
    metrics = {"32k/avg": 44.0, "32k/recall": 75.0, "64k/avg": 40.0, "64k/recall": 70.0}
    cis = {"64k/avg": [38.0, 42.0]}
    entry = score(40.0, metrics=metrics) | {"metrics_ci": cis}
    run = make_run(tmp_path, "n", "1.2b", "non-reasoning", {"helmet": entry})
    md = render([run], ["md"], tmp_path / "out")
    section = md.split("### Table 9:")[1].split("### Table")[0]
    lines = [l for l in section.splitlines() if "this run" in l or "Δ vs" in l or "95% CI" in l]
    assert lines[0].startswith("| 32K | EXAONE 4.0 1.2B (this run) | 44.00 | 75.00 |")
    assert lines[1].startswith("|  | Δ vs EXAONE 4.0 1.2B | +1.50 | +1.48 |")
    assert lines[2].startswith("| 64K | EXAONE 4.0 1.2B (this run) | 40.00 | 70.00 |")
    assert "| [38.00, 42.00] |" in lines[4]


def test_long_context_tables_say_why_a_benchmark_is_missing(tmp_path, planned):
    planned("longbench")
    run = make_run(tmp_path, "n", "1.2b", "non-reasoning", {}, benchmarks=["longbench", "ko_longbench"])
    md = render([run], ["md"], tmp_path / "out")
    assert row_of(md, 11, "")[1:3] == ["EXAONE 4.0 1.2B (this run)", "not built yet"]
    assert row_of(md, 13, "EXAONE 4.0 1.2B (this run)")[1] == "in-house data"


def test_files_are_written_under_the_first_runs_tables_folder_by_default(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(80.0, 70.0, 88.5)})
    render([run], ["md", "csv"], None)
    assert (run / "tables" / "table3.md").read_text(encoding="utf-8").startswith("### Table 3:")
    with open(run / "tables" / "table3.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(tables.CSV_COLUMNS)
    mine = [r for r in rows if r["source"] != "report" and r["benchmark"] == "aime_2025"]
    assert mine[0]["value"] == "80.0" and mine[0]["ci_low"] == "70.0" and mine[0]["delta"] == "-5.3"
    assert mine[0]["compare_to"] == "exaone-4.0-32b"
    published = [r for r in rows if r["source"] == "report" and r["benchmark"] == "aime_2025" and r["model"] == "qwen3-32b"]
    assert published[0]["value"] == "72.9" and published[0]["marked"] == "∗"


def test_only_the_requested_formats_are_written(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(80.0)})
    render([run], ["csv"], tmp_path / "out")
    assert (tmp_path / "out" / "table3.csv").exists() and not (tmp_path / "out" / "table3.md").exists()


def test_an_unknown_format_is_an_input_error(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(80.0)})
    with pytest.raises(HarnessError, match="--format html"):
        render([run], ["html"], tmp_path / "out")


def test_a_run_without_scores_json_is_an_input_error(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {})
    (run / "scores.json").unlink()
    with pytest.raises(HarnessError, match="scores.json: missing"):
        render([run], ["md"], tmp_path / "out")


def test_a_missing_run_directory_is_an_input_error(tmp_path):
    with pytest.raises(HarnessError, match="not a run directory"):
        render([tmp_path / "nope"], ["md"], None)


def test_a_malformed_scores_entry_names_the_file_and_key(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": {"n_items": 3}})
    with pytest.raises(HarnessError, match=r"scores.json: 'aime_2025' has no numeric 'score'"):
        render([run], ["md"], tmp_path / "out")


def test_the_cli_prints_the_tables_and_writes_them(tmp_path, capsys):
    from exaone_eval.cli import main

    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(80.0, 70.0, 88.5)})
    assert main(["tables", str(run), "--format", "md", "--out", str(tmp_path / "t")]) == 0
    assert "| AIME 2025 | 85.3 |" in capsys.readouterr().out
    assert (tmp_path / "t" / "table3.md").exists()


def test_a_score_made_in_a_named_setting_shows_it_beside_the_value(tmp_path):
    entry = {**score(71.5, 70.0, 73.0), "setting": "native calling"}
    run = make_run(tmp_path, "r", "32b", "reasoning", {"bfcl_v3": entry})
    md = render([run], ["md", "csv"], tmp_path / "out")
    assert "71.5 (native calling)" in row_of(md, 3, "BFCL-v3")
    rows = list(csv.DictReader((tmp_path / "out" / "table3.csv").open(encoding="utf-8")))
    mine = [r for r in rows if r["benchmark"] == "bfcl_v3" and r["source"] != "report"]
    assert mine and mine[0]["setting"] == "native calling" and float(mine[0]["value"]) == 71.5


# --- marks: cells that are not the report's setting -------------------------------------------------


def footnotes(markdown: str, table: int) -> list[str]:
    """The footnote lines under Table `table` ("- [1] ...")."""
    section = markdown.split(f"### Table {table}:")[1].split("### Table")[0]
    return [l[2:] for l in section.splitlines() if l.startswith("- [")]


def run_rows_of(out: Path, table: int, benchmark: str) -> list[dict]:
    with open(out / f"table{table}.csv", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["source"] != "report" and r["benchmark"] == benchmark]


def test_a_limit_run_is_marked_with_how_many_of_the_items_it_scored(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"bfcl_v3": score(0.0, 0.0, 0.0, n_items=2)}, extra={"limit": 2})
    md = render([run], ["md"], tmp_path / "out")
    assert row_of(md, 3, "BFCL-v3")[-3] == "0.0 [1]"
    assert footnotes(md, 3) == ["[1] 2 of 4,441 items (--limit 2)"]


def test_a_limit_runs_delta_is_set_apart_in_parentheses_with_its_mark(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"bfcl_v3": score(0.0, 0.0, 0.0, n_items=2)}, extra={"limit": 2})
    md = render([run], ["md"], tmp_path / "out")
    assert row_of(md, 3, "BFCL-v3")[-1] == "(-63.9) [1]"
    assert "their Δ is in parentheses" in md.split("### Table 3:")[1]


def test_a_limit_run_says_so_in_the_csv_columns(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"bfcl_v3": score(0.0, 0.0, 0.0, n_items=2)}, extra={"limit": 2})
    render([run], ["csv"], tmp_path / "out")
    [row] = run_rows_of(tmp_path / "out", 3, "bfcl_v3")
    assert (row["n_items"], row["full_items"], row["k"], row["report_k"], row["data"]) == ("2", "4441", "1", "1", "package")
    assert row["like_for_like"] == "False" and row["coverage"] == "2 of 4,441 items (--limit 2)"
    assert float(row["delta"]) == pytest.approx(-63.9)  # kept, but flagged by like_for_like


def test_a_limit_run_of_a_set_without_a_known_size_says_first_n_items(tmp_path):
    metrics = {"1k": 50.0, "2k": 50.0}
    run = make_run(tmp_path, "d", "demo", "non-reasoning", {"ruler": score(50.0, metrics=metrics, n_items=8, k=1)},
                   extra={"limit": 8})
    md = render([run], ["md"], tmp_path / "out")
    assert footnotes(md, 4) == ["[1] first 8 items (--limit 8)"]
    assert row_of(md, 10, "demo (this run)")[-2:] == ["50.00 [1]", "50.00 [1]"]  # the appendix table too


def test_a_limit_above_the_set_size_is_a_full_run(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(85.3, 80.0, 90.0)}, extra={"limit": 100})
    md = render([run], ["md"], tmp_path / "out")
    assert row_of(md, 3, "AIME 2025")[-3:] == ["85.3", "[80.0, 90.0]", "+0.0"] and not footnotes(md, 3)


def test_a_k_override_is_footnoted_with_the_reports_k(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(100.0, 100.0, 100.0, k=4)}, extra={"k": 4})
    md = render([run], ["md", "csv"], tmp_path / "out")
    assert row_of(md, 3, "AIME 2025")[-3:] == ["100.0 [1]", "[100.0, 100.0]", "(+14.7) [1]"]
    assert footnotes(md, 3) == ["[1] k = 4 (report: 32)"]
    [row] = run_rows_of(tmp_path / "out", 3, "aime_2025")
    assert (row["k"], row["report_k"], row["like_for_like"]) == ("4", "32", "False")


def test_a_data_dir_run_is_footnoted_when_the_folder_holds_the_benchmarks_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "aime_2025.jsonl").write_text('{"problem_idx": 1, "problem": "1+1", "answer": "2"}\n', encoding="utf-8")
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(100.0, n_items=1)}, extra={"data_dir": str(data)})
    md = render([run], ["md", "csv"], tmp_path / "out")
    assert footnotes(md, 3) == ["[1] data from --data-dir"]  # one item of one's own data: not "1 of 30"
    [row] = run_rows_of(tmp_path / "out", 3, "aime_2025")
    assert (row["data"], row["like_for_like"]) == ("--data-dir", "False")


def test_a_data_dir_without_the_benchmarks_file_leaves_its_cell_on_the_hub_data(tmp_path):
    (tmp_path / "data").mkdir()
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(85.3)}, extra={"data_dir": str(tmp_path / "data")})
    render([run], ["csv"], tmp_path / "out")
    [row] = run_rows_of(tmp_path / "out", 3, "aime_2025")
    assert (row["data"], row["like_for_like"], row["delta"]) == ("hub", "True", "0.0")


def test_a_data_dir_that_is_not_on_this_machine_is_footnoted_as_unchecked(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(85.3)}, extra={"data_dir": "/elsewhere/data"})
    md = render([run], ["md"], tmp_path / "out")
    assert footnotes(md, 3) == ["[1] data from --data-dir /elsewhere/data unless it lacks aime_2025.jsonl (not here to check)"]


def test_a_full_canonical_run_has_no_mark_and_its_delta_as_before(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(80.04, 70.0, 88.5)}, extra={"limit": None, "k": None})
    md = render([run], ["md", "csv"], tmp_path / "out")
    assert row_of(md, 3, "AIME 2025")[-3:] == ["80.0", "[70.0, 88.5]", "-5.3"] and not footnotes(md, 3)
    [row] = run_rows_of(tmp_path / "out", 3, "aime_2025")
    assert (row["n_items"], row["full_items"], row["k"], row["report_k"], row["data"], row["like_for_like"], row["coverage"]) == \
        ("30", "30", "32", "32", "hub", "True", "")


def test_two_runs_combined_keep_each_cells_own_mark(tmp_path):
    full = make_run(tmp_path, "a", "32b", "reasoning", {"aime_2025": score(85.3)})
    smoke = make_run(tmp_path, "b", "32b", "reasoning", {"ifeval": score(50.0, n_items=5)}, extra={"limit": 5})
    md = render([full, smoke], ["md"], tmp_path / "out")
    assert row_of(md, 3, "AIME 2025")[-3] == "85.3"
    assert row_of(md, 3, "IFEval")[-3] == "50.0 [1]" and footnotes(md, 3) == ["[1] 5 of 541 items (--limit 5)"]


def test_cells_with_the_same_departure_share_one_footnote(tmp_path):
    scores = {"aime_2025": score(80.0, n_items=5), "hmmt_feb_2025": score(70.0, n_items=5)}
    run = make_run(tmp_path, "r", "32b", "reasoning", scores, extra={"limit": 5})
    md = render([run], ["md"], tmp_path / "out")
    assert row_of(md, 3, "AIME 2025")[-3] == "80.0 [1]" and row_of(md, 3, "HMMT Feb 2025")[-3] == "70.0 [1]"
    assert footnotes(md, 3) == ["[1] 5 of 30 items (--limit 5)"]


def test_a_suite_option_that_changes_the_items_is_footnoted(tmp_path):
    options = {**get_spec("ruler").options, "lengths": [1024, 2048], "samples": 1}
    run = make_run(tmp_path, "d", "demo", "non-reasoning", {"ruler": score(50.0, metrics={"2k": 50.0})},
                   extra={"task_options": {"ruler": options}})
    md = render([run], ["md"], tmp_path / "out")
    assert footnotes(md, 10) == ["[1] options lengths, samples differ from tasks/ruler.toml"]


def test_a_headline_computed_without_some_parts_is_marked_with_them(tmp_path):
    entry = score(60.0, score_basis="metrics['overall (missing multi_turn)']")
    run = make_run(tmp_path, "r", "32b", "reasoning", {"bfcl_v3": entry})
    md = render([run], ["md"], tmp_path / "out")
    assert footnotes(md, 3) == ["[1] headline (missing multi_turn)"]


def test_a_budget_cell_of_a_limit_run_is_marked_too(tmp_path):
    scores = {"aime_2025@1024": score(36.0, n_items=3)}
    run = make_run(tmp_path, "b", "32b", "reasoning", scores, benchmarks=["aime_2025"], budgets=[1024], extra={"limit": 3})
    md = render([run], ["md"], tmp_path / "out")
    header = header_of(md, 7)
    assert row_of(md, 7, "AIME 2025 — EXAONE 4.0 32B (this run)")[header.index("1K")] == "36.0 [1]"
    assert footnotes(md, 7) == ["[1] 3 of 30 items (--limit 3)"]


def test_a_malformed_limit_in_run_json_names_the_file_and_field(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(80.0)}, extra={"limit": "5"})
    with pytest.raises(HarnessError, match=r"run.json: field 'limit' is '5'; expected null or a positive integer"):
        render([run], ["md"], tmp_path / "out")


def test_a_malformed_n_items_in_scores_json_names_the_file_and_key(tmp_path):
    run = make_run(tmp_path, "r", "32b", "reasoning", {"aime_2025": score(80.0, n_items=2.5)})
    with pytest.raises(HarnessError, match=r"scores.json: 'aime_2025'.n_items is 2.5; expected a non-negative integer"):
        render([run], ["md"], tmp_path / "out")


def test_a_partial_run_counts_against_the_items_a_full_run_scores_not_the_rows(tmp_path):
    run = make_run(tmp_path, "n", "32b", "non-reasoning", {"wmt24pp_es": score(80.0, n_items=5)}, extra={"limit": 5})
    md = render([run], ["md"], tmp_path / "out")
    assert footnotes(md, 4) == ["[1] 5 of 960 items (--limit 5)"]  # WMT24++ drops 38 of its 998 rows


def test_a_marked_runs_curve_says_so_in_its_legend(tmp_path):
    scores = {"aime_2025@1024": score(36.0, n_items=3), "aime_2025@4096": score(50.0, n_items=3)}
    run = make_run(tmp_path, "b", "32b", "reasoning", scores, benchmarks=["aime_2025"], budgets=[1024, 4096], extra={"limit": 3})
    [table] = tables.build([tables.load_run(run)])
    labels = [label for label, _, _, is_report in tables.curve_panels(table)["AIME 2025"] if not is_report]
    assert labels == ["EXAONE 4.0 32B (this run) — not like-for-like (see table notes)"]


def test_a_real_runs_limit_k_and_data_dir_are_all_footnoted(tmp_path, fake_server):
    """Through the runner's own run.json and scores.json, not hand-written ones."""
    from exaone_eval.cli import main

    write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS)
    assert main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025", "--base-url", fake_server(aime_solver).url,
                 "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--no-progress", "--max-retries", "0",
                 "--k", "2", "--limit", "2"]) == 0
    md = render([tmp_path / "run"], ["md"], tmp_path / "out")
    assert row_of(md, 3, "AIME 2025")[-3] == "100.0 [1]"
    [note] = footnotes(md, 3)
    assert note.startswith("[1] first 2 items (--limit 2); k = 2 (report: 32); data from --data-dir, rows ")
