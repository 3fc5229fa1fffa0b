"""`exaone-eval report RUN_DIR [RUN_DIR ...] --out report.html`: one self-contained HTML file.

The page opens from disk with no server and no network (a CI artifact): the report's tables with
the runs' numbers beside the published ones (the same cells and marks as `exaone-eval tables`),
each run's counts, the budget and length curves as inline SVG, a sample browser per benchmark and,
for two runs of the same mode, the items whose verdict flipped, linked from the gate's verdicts.
Data collection is exaone_eval/report_data.py; the markup is exaone_eval/templates/ (Jinja2,
autoescaped: run labels and paths are user input, model output never reaches the template).
docs/report.md has the details and the measured size and speed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from exaone_eval import report_data, report_svg
from exaone_eval.rundir import Run, load_run
from exaone_eval.tables import build
from exaone_eval.tables_layout import TITLES, Table, curve_panels
from exaone_eval.types import HarnessError

TEMPLATES = Path(__file__).parent / "templates"
RUN_COUNTS = ("score", "ci_low", "ci_high", "n_items", "k", "n_samples", "truncated", "no_answer", "failed")


@dataclass
class RunView:
    run: Run
    label: str
    benchmarks: list[report_data.Benchmark]
    entries: list[dict]
    """One row per scores.json entry: the benchmark's figures, or why it has none."""


def _entries(run: Run) -> list[dict]:
    rows = []
    for key, entry in run.scores.items():
        row = {"key": key, **{name: entry.get(name) for name in RUN_COUNTS}}
        row["why"] = entry.get("skipped") or entry.get("error") or ""
        rows.append(row)
    return rows


def _labels(runs: list[Run]) -> list[str]:
    """`model (mode)`, with the folder name where two runs would read the same."""
    plain = [f"{r.model} ({r.mode})" for r in runs]
    return [f"{p} — {r.path.name}" if plain.count(p) > 1 else p for p, r in zip(plain, runs)]


def _tables(runs: list[Run], against: tuple[str, ...]) -> tuple[list[tuple[str, Table]], str]:
    """The tables of all runs together; runs of the same model and mode that score the same
    benchmark (a baseline and a candidate checkpoint saved under one preset) cannot share a
    column, so each then gets tables of its own, named by its directory. Returns ([(which run or "",
    table)], a note for the page)."""
    scored = [r for r in runs if r.has_scores]
    if not scored:
        return [], "no run has a scores.json yet: no tables"
    try:
        return [("", t) for t in build(scored, against)], ""
    except HarnessError as e:
        if "is scored in both" not in str(e):
            raise
    tables = []
    for run in scored:
        tables += [(str(run.path), t) for t in build([run], against)]
    return tables, "The runs share a model and a mode, so each run's tables are shown one after the other."


def _chart(table: Table) -> dict | None:
    panels = curve_panels(table) if table.number in (7, 9, 10) else {}
    if not panels:
        return None
    return {"title": TITLES[table.number],
            "panels": [{"svg": report_svg.panel_svg(name, series), "legend": report_svg.legend(series)} for name, series in panels.items()]}


def _comparison(views: list[RunView]) -> dict | None:
    """Two runs in the same mode with benchmarks in common: the first is the baseline, the second
    the candidate (the order of `gate --baseline --candidate`)."""
    if len(views) != 2 or views[0].run.mode != views[1].run.mode:
        return None
    base, cand = ({b.name: b for b in v.benchmarks} for v in views)
    common = sorted(set(base) & set(cand))
    if not common:
        return None
    groups = []
    for name in common:
        by_key: dict[str, dict[str, list]] = {}
        for f in report_data.flips(base[name], cand[name]):
            by_key.setdefault(f.key, {"fixed": [], "broken": []})[f.kind].append([f.item, round(f.baseline, 4), round(f.candidate, 4)])
        keys = sorted(set(base[name].item_means) & set(cand[name].item_means))
        groups += [{"key": key, "benchmark": name, **by_key.get(key, {"fixed": [], "broken": []})} for key in keys]
    gate = report_data.read_gate(views[0].run, views[1].run)
    return {"groups": groups, "gate": gate}


def _script_json(data) -> str:
    """JSON safe inside <script type="application/json">: no `<`, `>` or `&` that could close the
    element or open a comment (ids and paths come from files a user or a model wrote)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def build_report(run_dirs: list[Path], against: tuple[str, ...] = ("32b",)) -> str:
    """The whole page as one string."""
    import jinja2
    from markupsafe import Markup

    if not run_dirs:
        raise HarnessError("report: give at least one run directory")
    runs, seen = [], set()
    for d in run_dirs:
        run = load_run(Path(d))
        if run.path.resolve() not in seen:
            seen.add(run.path.resolve())
            runs.append(run)
    views = [RunView(run, label, [report_data.load_benchmark(run, i, name) for name in report_data.benchmarks_of(run)], _entries(run))
             for i, (run, label) in enumerate(zip(runs, _labels(runs)))]
    tables, tables_note = _tables(runs, against)
    comparison = _comparison(views)
    index = {
        "runs": [{"label": v.label, "path": str(v.run.path),
                  "benchmarks": [{"name": b.name, "blob": b.blob_id, "n": b.n, "counts": b.counts} for b in v.benchmarks]}
                 for v in views],
        "verdicts": report_data.VERDICTS,
        "compare": None if comparison is None else {"groups": comparison["groups"]},
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(
        views=views,
        tables=tables,
        tables_note=tables_note,
        charts=[c for c in (_chart(t) for _, t in tables) if c],
        comparison=comparison,
        index_json=Markup(_script_json(index)),
        style=Markup((TEMPLATES / "report.css").read_text(encoding="utf-8")),
        script=Markup((TEMPLATES / "report.js").read_text(encoding="utf-8")),
        generated=time.strftime("%Y-%m-%d %H:%M:%S"),
    )


def write_report(run_dirs: list[Path], out: Path, against: tuple[str, ...] = ("32b",)) -> str:
    """Write the page to `out`; return the line to print."""
    html = build_report(run_dirs, against)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return f"Report: {out} ({len(html.encode('utf-8')) / 1e6:.1f} MB); open it in a browser (no server needed)"
