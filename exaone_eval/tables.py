"""The report's tables with this run's numbers beside them: `exaone-eval tables RUN_DIR...`.

Each table keeps the report's layout and published columns and adds, for every model the runs
evaluated, the run's score, its 95% CI and the difference from the report's figure for the model
it is compared with. Cells a run did not fill say why; cells that are not like-for-like with the
report (a subset of items, another k, other data: exaone_eval/coverage.py) carry a footnote mark
and their Δ in parentheses. docs/tables.md has the details (which run feeds which table, the
metric names read for Tables 7 and 9-13, the marks, the CSV format). How the cells are laid out
(Markdown, CSV rows, plot curves): exaone_eval/tables_layout.py.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

from exaone_eval.coverage import coverage
from exaone_eval.reference import MODEL_NAMES, label_tokens, length_label, reference
from exaone_eval.registry import get_spec
from exaone_eval.rundir import Run, load_run, sample_benchmarks, sample_scores
from exaone_eval.stats import summarize
from exaone_eval.tables_layout import (CSV_COLUMNS, EXAONE, SIZES, TITLES, RunCell, RunRow, Source, Table, col_key,
                                       curve_panels, main_table, matrix_table, row_key)
from exaone_eval.types import HarnessError

FORMATS = ("md", "csv")
MAIN_TABLE = {("32b", "reasoning"): 3, ("32b", "non-reasoning"): 4, ("1.2b", "reasoning"): 5, ("1.2b", "non-reasoning"): 6}
# Tables 9-13: the long-context benchmark each shows.
LONG_TABLE = {9: "helmet", 10: "ruler", 11: "longbench", 13: "ko_longbench"}


# --- which runs feed which table ----------------------------------------------------------------


def _merge(runs: list[Run]) -> tuple[dict, dict[str, Run]]:
    """(scores of all runs, key -> the run each entry comes from)."""
    merged: dict = {}
    where: dict[str, Run] = {}
    for run in runs:
        for key, entry in run.scores.items():
            if key in merged and "score" in merged[key] and "score" in entry:
                raise HarnessError(
                    f"{key} is scored in both {where[key].path} and {run.path} (model {run.model}, {run.mode}): pass only one of them"
                )
            if key not in merged or "score" in entry:
                merged[key], where[key] = entry, run
    return merged, where


def _sources(runs: list[Run], against: tuple[str, ...]) -> list[tuple[str, Source]]:
    """(size compared with, Source) for each model+mode; other models count as each size in `against`."""
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        groups[(run.model, run.mode)].append(run)
    out = []
    for (model, mode), group in groups.items():
        for size in (model,) if model in SIZES else against:
            out.append((size, Source(model, mode, EXAONE[size], tuple(group), *_merge(group))))
    return out


def run_cell(source: Source, benchmark: str, key: str | None = None) -> RunCell:
    """The run's headline score for `benchmark` (scores.json `key`, default the benchmark), or why not."""
    entry = source.scores.get(key or benchmark) or {}
    if "score" in entry:
        has_ci = isinstance(entry.get("ci_low"), (int, float)) and isinstance(entry.get("ci_high"), (int, float))
        return RunCell(float(entry["score"]), (float(entry["ci_low"]), float(entry["ci_high"])) if has_ci else None,
                       setting=str(entry.get("setting") or ""),
                       coverage=coverage(source.origin[key or benchmark], benchmark, entry, source.mode))
    if not entry and key:  # a sweep's benchmark that was skipped or failed has one entry, not one per budget
        entry = source.scores.get(benchmark) or {}
    return RunCell(note=_why_missing(source, benchmark, entry))


def _why_missing(source: Source, benchmark: str, entry: dict) -> str:
    spec = get_spec(benchmark)
    if spec.status == "in-house":
        return "in-house data"
    if "skipped" in entry:
        reason = entry["skipped"]  # the runner's words: "gated: no access", "no judge configured", ...
        return "gated: no access" if "gated" in reason.lower() else reason
    if "error" in entry:  # failed while running; the reason is in scores.json (and the run's summary)
        return f"failed ({entry['failed']} samples)" if entry.get("failed") else "failed"
    if spec.status == "planned":
        return "not built yet"
    if benchmark in source.listed:
        return "not scored yet"
    return "not run"


# --- Tables 7 and 9-13: the run's rows -----------------------------------------------------------


def _group_of(number: int, compare_to: str) -> str:
    for c in reference(number):
        if c.model == compare_to:
            return row_key(number, c)[0]
    return "This run"


# Tables 9-13: scores.json metric name -> the table's setting (None: not a cell of this table).
def _long_setting(number: int, key: str) -> str | None:
    if number == 10:
        return length_label(key)
    if number == 13:
        return f"up_to_{length_label(key[6:])}" if key.startswith("up_to_") and length_label(key[6:]) else None
    length, _, task = key.partition("/")
    return f"{length_label(length)}/{task}" if task and length_label(length) else None


def long_rows(number: int, sources: list[Source]) -> list[RunRow]:
    bench = LONG_TABLE[number]
    out = []
    for s in sources:
        group = _group_of(number, s.compare_to)
        note_label = ("", s.label) if number in (9, 11) else (s.label,)
        entry = s.scores.get(bench) or {}
        if "score" not in entry:
            note = run_cell(s, bench).note
            out.append(RunRow(group, (s.compare_to,), note_label, {}, note=note, source=s, benchmark=bench))
            continue
        cis = entry.get("metrics_ci") or {}
        cov = run_cell(s, bench).coverage  # the entry's items, k and data stand behind each of its metrics
        by_length: dict[str, dict[str, RunCell]] = defaultdict(dict)
        for name, value in (entry.get("metrics") or {}).items():
            setting = _long_setting(number, name)
            if setting is None or not isinstance(value, (int, float)):
                continue
            ci = cis.get(name)
            cell = RunCell(float(value), (float(ci[0]), float(ci[1])) if ci else None, coverage=cov)
            length = setting.split("/")[0] if number in (9, 11) else ""
            by_length[length][col_key(number, setting)] = cell
        if not by_length:
            note = f"no {bench} metrics in scores.json (expected names: see docs/tables.md)"
            out.append(RunRow(group, (s.compare_to,), note_label, {}, note=note, source=s, benchmark=bench))
        for length in sorted(by_length, key=label_tokens, reverse=True) if number in (9, 11) else [""]:
            if number in (9, 11):
                out.append(RunRow(group, (s.compare_to, length), (length.upper(), s.label), by_length[length], source=s, benchmark=bench))
            else:
                out.append(RunRow(group, (s.compare_to,), (s.label,), by_length[""], source=s, benchmark=bench))
    return out


def budget_rows(sources: list[Source]) -> list[RunRow]:
    """Table 7 rows from `<benchmark>@<budget>` scores, or from samples that carry a `budget`."""
    out = []
    for s in sources:
        per_bench: dict[str, dict[str, RunCell]] = defaultdict(dict)
        for key, entry in s.scores.items():
            bench, _, budget = key.partition("@")
            if budget and "score" in entry and length_label(budget):
                per_bench[bench][length_label(budget)] = run_cell(s, bench, key)
        for run in s.runs:
            for bench in sample_benchmarks(run):
                for key, per_item in sample_scores(run, bench).items():
                    budget = key.partition("@")[2]
                    if budget and length_label(budget) not in per_bench[bench]:
                        summary = summarize(per_item)
                        counted = {"n_items": len(per_item), "k": max(map(len, per_item.values()), default=0)}
                        per_bench[bench][length_label(budget)] = RunCell(summary["score"], (summary["ci_low"], summary["ci_high"]),
                                                                         coverage=coverage(run, bench, counted, s.mode))
        benches = list(dict.fromkeys([c.benchmark for c in reference(7)] + sorted(per_bench)))
        group = MODEL_NAMES[s.compare_to]
        for bench in benches:
            if bench not in per_bench and bench not in s.listed:
                continue
            label = (get_spec(bench).title + f" — {s.label}",)
            if per_bench.get(bench):
                out.append(RunRow(group, (s.compare_to, bench), label, per_bench[bench], source=s, benchmark=bench))
            else:
                out.append(RunRow(group, (s.compare_to, bench), label, {}, note=run_cell(s, bench).note, source=s, benchmark=bench))
    return out


# --- the command ------------------------------------------------------------------------------------


def _sizes(text: str) -> tuple[str, ...]:
    sizes = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    bad = [s for s in sizes if s not in SIZES]
    if bad or not sizes:
        raise HarnessError(f"--against {text!r}: expected a comma list of {', '.join(SIZES)}")
    return sizes


def build(runs: list[Run], against: tuple[str, ...] = ("32b",)) -> list[Table]:
    """Every table the runs feed, in the report's order."""
    _sizes(",".join(against))
    budget_runs = [r for r in runs if r.is_budget_run]
    main_runs = [r for r in runs if not r.is_budget_run]
    tables = []
    by_table: dict[int, list[Source]] = defaultdict(list)
    for size, source in _sources(main_runs, against):
        by_table[MAIN_TABLE[(size, source.mode)]].append(source)
    for number in (3, 4, 5, 6):
        if by_table[number]:
            tables.append(main_table(number, by_table[number], run_cell))
    if budget_runs:
        tables.append(matrix_table(7, budget_rows([s for _, s in _sources(budget_runs, against)])))
    for number, bench in LONG_TABLE.items():
        feeding = [
            s for size, s in _sources(main_runs, against)
            if s.mode == "non-reasoning" and (bench in s.listed or bench in s.scores)
        ]
        if feeding:
            tables.append(matrix_table(number, long_rows(number, feeding)))
    return tables


def render(run_dirs: list[Path], formats: list[str], out: Path | None, against: tuple[str, ...] = ("32b",)) -> str:
    """Write table<N>.md / .csv (and PNG plots) for the runs; return the Markdown for stdout."""
    if not run_dirs:
        raise HarnessError("tables: give at least one run directory")
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise HarnessError(f"--format {','.join(bad)}: expected a comma list of {', '.join(FORMATS)}")
    seen, runs = set(), []
    for d in run_dirs:
        run = load_run(d)
        if not run.has_scores:
            raise HarnessError(f"{run.path / 'scores.json'}: missing; the run has not been scored yet (exaone-eval run resumes it)")
        if run.path.resolve() not in seen:
            seen.add(run.path.resolve())
            runs.append(run)
    tables = build(runs, tuple(against))
    out = Path(out) if out is not None else runs[0].path / "tables"
    out.mkdir(parents=True, exist_ok=True)
    for t in tables:
        if "md" in formats:
            (out / f"table{t.number}.md").write_text(t.markdown + "\n", encoding="utf-8")
        if "csv" in formats:
            (out / f"table{t.number}.csv").write_text(to_csv(t.rows), encoding="utf-8")
    parts = [f"# exaone-eval tables\n\nRuns: {', '.join(str(r.path) for r in runs)}"]
    parts += [t.markdown for t in tables]
    parts.append(_plots(tables, out))
    parts.append(f"Written to {out}/ (" + ", ".join(f"table<N>.{f}" for f in formats) + ")")
    return "\n\n".join(p for p in parts if p) + "\n"


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else round(v, 4) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()




# --- plots --------------------------------------------------------------------------------------------


def _plots(tables: list[Table], out: Path) -> str:
    """Table 7's budget curve and Tables 9 / 10 against context length, when the runs have the data."""
    wanted = [t for t in tables if t.number in (7, 9, 10) and any(r["source"] != "report" and r["value"] is not None for r in t.rows)]
    if not wanted:
        return ""
    try:
        from exaone_eval import plots
    except ImportError as e:  # plots.py imports matplotlib at the top
        return f"Plots skipped: {e} (pip install 'exaone-eval[plots]')"
    written = []
    for t in wanted:
        panels = curve_panels(t)
        path = out / f"table{t.number}.png"
        xlabel = "reasoning budget (tokens)" if t.number == 7 else "context length (tokens)"
        plots.line_panels(panels, path, TITLES[t.number], xlabel)
        written.append(path.name)
    return "Plots: " + ", ".join(written)
