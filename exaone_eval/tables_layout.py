"""How the report's tables are laid out: a run's cells beside the published ones, as Markdown
cells, tidy CSV rows, footnote marks and plot curves.

The cells themselves (which runs feed which table, and what a run has for each cell) are
exaone_eval/tables.py's; this module only places and formats them. docs/tables.md has the
layout (the marks, the CSV format).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from exaone_eval.coverage import Coverage
from exaone_eval.reference import MODEL_NAMES, RefCell, label_tokens, reference
from exaone_eval.registry import get_spec
from exaone_eval.rundir import Run

SIZES = ("32b", "1.2b")
EXAONE = {"32b": "exaone-4.0-32b", "1.2b": "exaone-4.0-1.2b"}
TITLES = {
    3: "Table 3: reasoning mode, mid-size and frontier models",
    4: "Table 4: non-reasoning mode, mid-size and frontier models",
    5: "Table 5: reasoning mode, small models",
    6: "Table 6: non-reasoning mode, small models",
    7: "Table 7: score against reasoning budget",
    9: "Table 9: HELMET by task",
    10: "Table 10: RULER by context length",
    11: "Table 11: LongBench by task",
    13: "Table 13: Ko-LongBench (average up to a context length)",
}
# Tables 9-13: how their columns are titled.
TASK_TITLES = {
    "avg": "Total Avg.", "recall": "Recall", "rag": "RAG", "longqa": "LongQA", "summ": "Summ", "rerank": "Rerank",
    "icl": "ICL", "single_doc_qa": "Single-doc QA", "multi_doc_qa": "Multi-doc QA", "summarization": "Summarization",
    "few_shot": "Few-shot Learning", "up_to_32k": "Avg. up to 32K", "up_to_64k": "Avg. up to 64K",
}
DIGITS = {9: 2, 10: 2, 11: 2}  # the report prints these with two decimals, the others with one


@dataclass(frozen=True)
class RunCell:
    """What a run has for one cell: a value (with its CI when known), or why there is none."""

    value: float | None = None
    ci: tuple[float, float] | None = None
    note: str = ""
    setting: str = ""
    """How the run was made, when the benchmark says (scores.json `setting`: BFCL's calling style)."""
    coverage: Coverage | None = None
    """What the value stands for (items, k, data) and how it departs from the report's setting."""


@dataclass(frozen=True)
class Source:
    """One evaluated model in one mode, merged over the runs given: a column or a row of a table."""

    model: str
    mode: str
    compare_to: str
    """The report's model id its Δ is taken against."""
    runs: tuple[Run, ...]
    scores: dict
    origin: dict[str, Run]
    """scores.json key -> the run whose entry `scores` holds (its --limit, --k, --data-dir apply)."""

    @property
    def label(self) -> str:
        size = next((s for s in SIZES if self.model == s), None)
        name = MODEL_NAMES[EXAONE[size]] if size else Path(self.model).name or self.model
        return f"{name} (this run)"

    @property
    def listed(self) -> set[str]:
        return {b for run in self.runs for b in run.benchmarks}


@dataclass
class Table:
    number: int
    markdown: str
    rows: list[dict] = field(default_factory=list)
    """Tidy CSV rows: every report cell and every run cell of the table."""
    header: list[str] = field(default_factory=list)
    body: list[list[str]] = field(default_factory=list)
    """The Markdown's cells, row by row (a lone `**Category**` cell opens a group): the HTML report shows the same."""
    footnotes: list[str] = field(default_factory=list)
    """The marks' texts, `[n] text`."""


@dataclass(frozen=True)
class RunRow:
    """One model's cells in a matrix table, placed after the report row it is compared with."""

    group: str
    anchor: tuple
    """The report row key it follows (and takes its Δ from)."""
    label: tuple[str, ...]
    cells: dict[str, RunCell]
    note: str = ""
    source: Source | None = None
    benchmark: str = ""



# --- formatting -----------------------------------------------------------------------------------


def _num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def _ref_text(cell: RefCell | None) -> str:
    if cell is None:
        return "-"
    return (cell.text or "N/A") + cell.marked


class Marks:
    """One table's footnotes: a number per distinct departure from the report's setting, put on
    every run cell that is not like-for-like (docs/tables.md, "Marks")."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def on(self, cell: RunCell) -> str:
        """The mark to append to the cell's value: "" for a like-for-like cell, else " [n]"."""
        if cell.coverage is None or cell.coverage.like_for_like:
            return ""
        return f" [{self.numbers.setdefault(cell.coverage.text, len(self.numbers) + 1)}]"

    def texts(self) -> list[str]:
        return [f"[{n}] {text}" for text, n in self.numbers.items()]

    def markdown(self) -> str:
        if not self.numbers:
            return ""
        lines = ["Marked cells are not like-for-like with the report; their Δ is in parentheses:", ""]
        return "\n\n" + "\n".join(lines + [f"- [{n}] {text}" for text, n in self.numbers.items()])


def _delta_text(delta: float | None, digits: int, mark: str) -> str:
    """A marked cell's Δ is kept (a smaller k still estimates the same avg@k) but set apart: in
    parentheses with the cell's mark, never read as a like-for-like difference."""
    if delta is None:
        return ""
    return f"{delta:+.{digits}f}" if not mark else f"({delta:+.{digits}f}){mark}"


def _md(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r + [""] * (len(header) - len(r))) + " |" for r in rows]
    return "\n".join(lines)


def _tidy(table: int, category: str, benchmark: str, model: str, mode: str, setting: str, source: str,
          value=None, ci=None, delta=None, note: str = "", marked: str = "", compare_to: str = "",
          cov: Coverage | None = None) -> dict:
    return {
        "table": table, "category": category, "benchmark": benchmark, "model": model, "mode": mode,
        "setting": setting, "source": source, "value": value, "ci_low": ci[0] if ci else None,
        "ci_high": ci[1] if ci else None, "delta": delta, "compare_to": compare_to, "note": note, "marked": marked,
        **(cov.csv_fields() if cov else dict.fromkeys(COVERAGE_COLUMNS)),
    }


def _report_rows(table: int) -> list[dict]:
    return [
        _tidy(c.table, c.category, c.benchmark, c.model, c.mode, c.setting, "report", c.value,
              note="" if c.text else "N/A", marked=c.marked)
        for c in reference(table)
    ]


def _delta(cell: RunCell, ref: RefCell | None) -> float | None:
    if cell.value is None or ref is None or ref.value is None:
        return None
    return cell.value - ref.value


COVERAGE_COLUMNS = ("n_items", "full_items", "k", "report_k", "data", "like_for_like", "coverage")
"""Filled for run cells with a value (Coverage.csv_fields), empty for report cells and reasons."""
CSV_COLUMNS = ("table", "category", "benchmark", "model", "mode", "setting", "source", "value", "ci_low", "ci_high",
               "delta", "compare_to", "note", "marked") + COVERAGE_COLUMNS


# --- Tables 3-6: benchmarks down, models across -----------------------------------------------


def main_table(number: int, sources: list[Source], cell_of: Callable[[Source, str], RunCell]) -> Table:
    """Tables 3-6; `cell_of(source, benchmark)` is what the source has for a benchmark's cell."""
    cells = reference(number)
    models = list(dict.fromkeys(c.model for c in cells))
    by_key = {(c.benchmark, c.model): c for c in cells}
    categories: dict[str, list[str]] = {}
    for c in cells:
        categories.setdefault(c.category, [])
        if c.benchmark not in categories[c.category]:
            categories[c.category].append(c.benchmark)
    for source in sources:  # benchmarks the runs cover that this report table lacks
        for bench in sorted(source.listed | {k for k in source.scores if "@" not in k}):
            if not any(bench in benches for benches in categories.values()):
                categories.setdefault(get_spec(bench).category, []).append(bench)

    header = ["Benchmark"] + [MODEL_NAMES[m] for m in models]
    for s in sources:
        header += [s.label, "95% CI", f"Δ vs {MODEL_NAMES[s.compare_to]}"]
    rows: list[list[str]] = []
    tidy = _report_rows(number)
    marks = Marks()
    for category, benches in categories.items():
        rows.append([f"**{category}**"])
        for bench in benches:
            row = [get_spec(bench).title] + [_ref_text(by_key.get((bench, m))) for m in models]
            for s in sources:
                cell = cell_of(s, bench)
                delta = _delta(cell, by_key.get((bench, s.compare_to)))
                if cell.value is None:
                    row += [cell.note, "", ""]
                else:
                    ci = f"[{_num(cell.ci[0], 1)}, {_num(cell.ci[1], 1)}]" if cell.ci else "n/a"
                    mark = marks.on(cell)
                    shown = _num(cell.value, 1) + (f" ({cell.setting})" if cell.setting else "") + mark
                    row += [shown, ci, _delta_text(delta, 1, mark)]
                tidy.append(_tidy(number, category, bench, s.label, s.mode, cell.setting, _run_paths(s), cell.value, cell.ci, delta,
                                  cell.note, compare_to=s.compare_to, cov=cell.coverage))
            rows.append(row)
    return Table(number, f"### {TITLES[number]}\n\n{_md(header, rows)}{marks.markdown()}", tidy, header, rows, marks.texts())


def _run_paths(source: Source) -> str:
    return ";".join(str(r.path) for r in source.runs)


# --- Tables 7 and 9-13: models (and lengths) down, settings across --------------------------------


def row_key(number: int, cell: RefCell) -> tuple[str, tuple, tuple[str, ...]]:
    """(group, row key, row label cells) of a report cell in a matrix table."""
    if number == 7:
        return MODEL_NAMES[cell.model], (cell.model, cell.benchmark), (get_spec(cell.benchmark).title,)
    if number in (9, 11):
        length = cell.setting.split("/")[0]
        return cell.category, (cell.model, length), (length.upper(), MODEL_NAMES[cell.model])
    return cell.category, (cell.model,), (MODEL_NAMES[cell.model],)


def col_key(number: int, setting: str) -> str:
    return setting.split("/", 1)[1] if number in (9, 11) else setting


def _col_title(key: str) -> str:
    return TASK_TITLES.get(key, key.upper())


def matrix_table(number: int, run_rows: list[RunRow]) -> Table:
    cells = reference(number)
    digits = DIGITS.get(number, 1)
    columns = list(dict.fromkeys(col_key(number, c.setting) for c in cells))
    for rr in run_rows:
        columns += [k for k in rr.cells if k not in columns]
    groups: dict[str, dict[tuple, tuple[tuple[str, ...], dict[str, RefCell]]]] = {}
    for c in cells:
        group, key, label = row_key(number, c)
        groups.setdefault(group, {}).setdefault(key, (label, {}))[1][col_key(number, c.setting)] = c
    for rr in run_rows:
        groups.setdefault(rr.group, {})

    n_label = 2 if number in (9, 11) else 1
    header = (["Context Len.", "Model"] if n_label == 2 else ["Benchmark" if number == 7 else "Model"]) + [_col_title(k) for k in columns]
    rows: list[list[str]] = []
    tidy = _report_rows(number)
    marks = Marks()
    for group, ref_rows in groups.items():
        rows.append([f"**{group}**"])
        placed = set()
        for key, (label, ref) in ref_rows.items():
            rows.append(list(label) + [_ref_text(ref.get(k)) for k in columns])
            for i, rr in enumerate(run_rows):
                if rr.group == group and rr.anchor == key:
                    rows += _run_lines(number, rr, columns, ref, digits, n_label, tidy, marks)
                    placed.add(i)
        for i, rr in enumerate(run_rows):
            if rr.group == group and i not in placed:
                rows += _run_lines(number, rr, columns, {}, digits, n_label, tidy, marks)
    return Table(number, f"### {TITLES[number]}\n\n{_md(header, rows)}{marks.markdown()}", tidy, header, rows, marks.texts())


def _run_lines(number, rr: RunRow, columns, ref: dict[str, RefCell], digits, n_label, tidy, marks: Marks) -> list[list[str]]:
    pad = [""] * (n_label - len(rr.label))
    setting_of = (lambda k: f"{rr.label[0].lower()}/{k}") if number in (9, 11) else (lambda k: k)
    category = rr.group if number != 7 else get_spec(rr.benchmark).category
    if rr.note:
        tidy.append(_tidy(number, category, rr.benchmark, rr.source.label, rr.source.mode, "", _run_paths(rr.source),
                          note=rr.note, compare_to=rr.source.compare_to))
        return [list(rr.label) + pad + [rr.note]]
    values, deltas, cis = [], [], []
    for k in columns:
        cell = rr.cells.get(k)
        if cell is None or cell.value is None:
            values.append(cell.note if cell else "")
            deltas.append("")
            cis.append("")
            continue
        delta = _delta(cell, ref.get(k))
        mark = marks.on(cell)
        values.append(_num(cell.value, digits) + mark)
        deltas.append(_delta_text(delta, digits, mark))
        cis.append(f"[{_num(cell.ci[0], digits)}, {_num(cell.ci[1], digits)}]" if cell.ci else "")
        tidy.append(_tidy(number, category, rr.benchmark, rr.source.label, rr.source.mode, setting_of(k),
                          _run_paths(rr.source), cell.value, cell.ci, delta, compare_to=rr.source.compare_to, cov=cell.coverage))
    lines = [list(rr.label) + pad + values]
    indent = [""] * (n_label - 1)
    if any(deltas):
        lines.append(indent + [f"Δ vs {MODEL_NAMES[rr.source.compare_to]}"] + deltas)
    if any(cis):
        lines.append(indent + ["95% CI"] + cis)
    return lines


# --- plots --------------------------------------------------------------------------------------------


def curve_panels(table: Table) -> dict[str, list[tuple[str, list[int], list[float], bool]]]:
    """{panel title: [(series label, x tokens, y scores, is_report)]}: each run's curve beside the
    report's curve of the model it is compared with."""
    compared = {r["compare_to"] for r in table.rows if r["source"] != "report"}
    series: dict[tuple[str, str, bool], dict[int, float]] = defaultdict(dict)
    for r in table.rows:
        is_report = r["source"] == "report"
        if r["value"] is None or (is_report and r["model"] not in compared):
            continue
        if table.number == 7:
            panel, x = get_spec(r["benchmark"]).title, r["setting"]
        elif table.number == 9:
            length, task = r["setting"].split("/")
            panel, x = TASK_TITLES.get(task, task), length
        else:
            panel, x = "RULER", r["setting"]
        label = MODEL_NAMES[r["model"]] + " (report)" if is_report else r["model"]
        if r.get("like_for_like") is False:  # the table's footnote mark cannot follow a curve: say it in the legend
            label += " — not like-for-like (see table notes)"
        series[(panel, label, is_report)][label_tokens(x)] = r["value"]
    with_run = {panel for panel, _, is_report in series if not is_report}
    panels: dict[str, list] = defaultdict(list)
    for (panel, label, is_report), points in series.items():
        if panel not in with_run:
            continue
        xs = sorted(points)
        panels[panel].append((label, xs, [points[x] for x in xs], is_report))
    return dict(panels)
