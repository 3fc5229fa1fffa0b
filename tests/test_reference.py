"""results/reference/*.csv hold the report's numbers exactly: checked cell by cell against the report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exaone_eval.registry import get_spec
from exaone_eval.reference import TABLES, label_tokens, length_label, load_table, lookup, reference
from exaone_eval.types import HarnessError

REPORT_NAME = "seed/000_a73002a3aa2d0863.txt"
REPORT_CANDIDATES = [Path(__file__).resolve().parents[1].parent / "shared" / REPORT_NAME, Path("/work/shared") / REPORT_NAME]

# Typed from the report (value as printed, mark): meaningful even without the report text.
TYPED_CELLS = [
    (3, "mmlu_redux", "qwen3-32b", "", "90.9", "∗"),
    (3, "aime_2025", "exaone-4.0-32b", "", "85.3", ""),
    (4, "ruler", "exaone-4.0-32b", "", "88.2", ""),
    (4, "ko_longbench", "llama-4-maverick", "", "65.6", ""),
    (4, "bfcl_v3", "gemma-3-27b", "", "", ""),
    (5, "gpqa_diamond", "exaone-deep-2.4b", "", "54.3", "∗"),
    (6, "wmt24pp_es", "smollm3-3b", "", "84.0", ""),
    (6, "multi_if", "exaone-4.0-1.2b", "", "62.1", ""),
    (7, "aime_2025", "exaone-4.0-32b", "32k", "74.8", ""),
    (7, "livecodebench_v6", "exaone-4.0-1.2b", "1k", "29.3", ""),
    (9, "helmet", "exaone-4.0-32b", "128k/recall", "94.06", ""),
    (9, "helmet", "qwen3-1.7b", "64k/icl", "33.55", "†"),
    (10, "ruler", "gemma-3-27b", "4k", "95.5", ""),
    (10, "ruler", "qwen3-0.6b", "64k", "55.09", "†"),
    (11, "longbench", "exaone-4.0-1.2b", "64k/few_shot", "56.33", ""),
    (13, "ko_longbench", "exaone-4.0-1.2b", "up_to_64k", "69.8", ""),
]

# The report's column headers, in order, for the main tables (typed from the report).
MAIN_COLUMNS = {
    3: ("| EXAONE 4.0 32B (Reasoning)", ["exaone-4.0-32b", "phi-4-reasoning-plus", "magistral-small-2506", "qwen3-32b", "qwen3-235b", "deepseek-r1-0528"]),
    4: ("| EXAONE 4.0 32B (Non- reasoning)", ["exaone-4.0-32b", "phi-4", "mistral-small-2506", "gemma-3-27b", "qwen3-32b", "qwen3-235b", "llama-4-maverick", "deepseek-v3-0324"]),
    5: ("| EXAONE 4.0 1.2B (Reasoning)", ["exaone-4.0-1.2b", "exaone-deep-2.4b", "qwen3-0.6b", "qwen3-1.7b", "smollm3-3b"]),
    6: ("| EXAONE 4.0 1.2B (Non-reasoning)", ["exaone-4.0-1.2b", "qwen3-0.6b", "gemma-3-1b", "qwen3-1.7b", "smollm3-3b"]),
}
# How the appendix tables name models in their rows.
ROW_NAMES = {
    "mistral-small-2506": "Mistral-Small-2506", "qwen3-235b": "Qwen3 235B", "qwen3-32b": "Qwen3 32B",
    "llama-4-maverick": "LlaMA-4-Maverick", "exaone-4.0-32b": "EXAONE 4.0 32B", "smollm3-3b": "SmolLM 3B",
    "qwen3-1.7b": "Qwen3 1.7B", "qwen3-0.6b": "Qwen3 0.6B", "gemma-3-1b": "Gemma 3 1B",
    "exaone-3.5-2.4b": "EXAONE 3.5 2.4B", "exaone-4.0-1.2b": "EXAONE 4.0 1.2B",
}
GEMMA_27B = {9: "Gemma 3 27B", 10: "Geamma3 27B", 11: "Gemma3 27B"}  # the report spells it three ways


def printed(cell) -> str:
    return (cell.text or "N/A") + cell.marked


@pytest.fixture(scope="module")
def report_lines() -> list[str]:
    report = next((p for p in REPORT_CANDIDATES if p.exists()), None)
    if report is None:
        pytest.skip("the report text (../shared/seed or /work/shared/seed) is absent")
    return report.read_text(encoding="utf-8").splitlines()


def block(lines: list[str], header_prefix: str) -> list[list[str]]:
    """The table rows (cells stripped) from the line starting with `header_prefix` to the first non-table line."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_prefix))
    rows = []
    for line in lines[start + 1 :]:
        if not line.startswith("|") or line.startswith("| Small-size |"):  # Tables 5 and 6 touch
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def row_name(table: int, model: str) -> str:
    return GEMMA_27B[table] if model == "gemma-3-27b" else ROW_NAMES[model]


@pytest.mark.parametrize("table,bench,model,setting,text,mark", TYPED_CELLS)
def test_typed_cells_match_the_reference_csv(table, bench, model, setting, text, mark):
    cell = lookup(table, bench, model, setting)
    assert cell is not None
    assert (cell.text, cell.marked) == (text, mark)
    assert cell.value == (float(text) if text else None)


def test_every_table_has_the_reports_cell_count():
    # rows x columns of each table; Table 10 leaves out the small models' "-" at 128K.
    expected = {3: 17 * 6, 4: 22 * 8, 5: 17 * 5, 6: 22 * 5, 7: 4 * 7, 9: 18 * 7, 10: 6 * 6 + 6 * 5, 11: 18 * 5, 13: 6 * 2}
    assert {t: len(reference(t)) for t in TABLES} == expected


@pytest.mark.parametrize("table", [3, 4, 5, 6])
def test_main_table_cells_match_the_report_text(report_lines, table):
    header, models = MAIN_COLUMNS[table]
    rows = {r[0].lower(): r[1:] for r in block(report_lines, header)}
    for cell in reference(table):
        # Our Tau-Bench rows run tau2's tasks and their titles say so ("Tau-Bench (Airline), tau2").
        report_row = rows[get_spec(cell.benchmark).title.lower().removesuffix(", tau2")]
        assert report_row[models.index(cell.model)] == printed(cell), cell


def test_budget_table_cells_match_the_report_text(report_lines):
    rows = block(report_lines, "| Reasoning Budget")
    budgets = [b.lower() for b in report_lines[[i for i, l in enumerate(report_lines) if l.startswith("| Reasoning Budget")][0]].strip("| ").split(" | ")[1:]]
    section, seen = None, {}
    for r in rows:
        if all(c == "" for c in r[1:]):
            section = r[0]
            continue
        seen[(section, r[0])] = dict(zip(budgets, r[1:]))
    checked = 0
    for cell in reference(7):
        section = "EXAONE 4.0 32B" if cell.model == "exaone-4.0-32b" else "EXAONE 4.0 1.2B"
        assert seen[(section, get_spec(cell.benchmark).title)][cell.setting] == printed(cell), cell
        checked += 1
    assert checked == 28


@pytest.mark.parametrize("table,header,tasks", [
    (9, "| Context Len. | Model | Total Avg. | Recall", ["avg", "recall", "rag", "longqa", "summ", "rerank", "icl"]),
    (11, "| Context Len. | Model | Total Avg. | Single-doc QA", ["avg", "single_doc_qa", "multi_doc_qa", "summarization", "few_shot"]),
])
def test_task_table_cells_match_the_report_text(report_lines, table, header, tasks):
    length, seen = None, {}
    for r in block(report_lines, header):
        if all(c == "" for c in r[1:]):
            continue
        if re.fullmatch(r"\d+K", r[0]):
            length, r = r[0].lower(), r[1:]
        seen[(length, r[0].rstrip("†"))] = (r[0].endswith("†"), dict(zip(tasks, r[1:])))
    for cell in reference(table):
        cell_length, task = cell.setting.split("/")
        row_mark, values = seen[(cell_length, row_name(table, cell.model))]
        expected = values[task] + ("†" if row_mark else "")
        assert expected == printed(cell), cell


@pytest.mark.parametrize("table,header,settings", [
    (10, "| Model | 4K |", ["4k", "8k", "16k", "32k", "64k", "128k"]),
    (13, "| Model | Avg. up to 32K", ["up_to_32k", "up_to_64k"]),
])
def test_length_table_cells_match_the_report_text(report_lines, table, header, settings):
    seen = {r[0]: dict(zip(settings, r[1:])) for r in block(report_lines, header) if any(r[1:])}
    for cell in reference(table):
        assert seen[row_name(table, cell.model)][cell.setting] == printed(cell), cell
    # the "-" cells (small models are not evaluated at 128K) are the ones left out
    left_out = [(m, s) for m, row in seen.items() for s, v in row.items() if v == "-"]
    assert len(left_out) == (6 if table == 10 else 0)


def test_na_cells_are_kept_with_an_empty_value():
    cell = lookup(3, "bfcl_v3", "phi-4-reasoning-plus")
    assert cell is not None and cell.value is None and cell.text == ""


def test_a_csv_with_wrong_columns_names_the_file_and_line(tmp_path):
    path = tmp_path / "table3.csv"
    path.write_text("table,benchmark\n3,aime_2025\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=r"table3\.csv:1: columns"):
        load_table(path)


def test_a_non_numeric_value_names_the_file_and_line(tmp_path):
    path = tmp_path / "table3.csv"
    path.write_text(
        "table,category,benchmark,model,mode,setting,value,marked\n3,X,aime_2025,qwen3-32b,reasoning,,N/A,\n",
        encoding="utf-8",
    )
    with pytest.raises(HarnessError, match=r"table3\.csv:2: field 'value'"):
        load_table(path)


@pytest.mark.parametrize("key,label", [(4096, "4k"), ("len_8192", "8k"), ("128K", "128k"), ("64k", "64k"), ("3000", "3000"), ("avg", None)])
def test_length_labels_accept_tokens_and_k_forms(key, label):
    assert length_label(key) == label


def test_label_tokens_inverts_length_label():
    assert label_tokens("64k") == 65536 and label_tokens("3000") == 3000
