"""How much of a benchmark one scores.json entry covers, against what the report ran.

A table cell is like-for-like with the report's figure only when the run scored the benchmark's
full item set, at the report's k, on the canonical data (the pinned Hub revision or the package
the rows ship in), with the task spec's options and the headline's every part. Anything else is
said in words ("5 of 30 items (--limit 5)", "k = 4 (report: 32)", "data from --data-dir"), so a
`--limit 2` smoke run never reads as a score 60 points below the report. Read only from the run
directory and the task specs: no data is loaded. docs/tables.md ("Marks") has the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from exaone_eval.registry import TaskSpec, get_spec
from exaone_eval.data import local_file
from exaone_eval.rundir import Run


@dataclass(frozen=True)
class Coverage:
    """What one run cell stands for, and each way it departs from the report's setting."""

    n_items: int | None
    """Items scored (scores.json `n_items`); None when the entry does not say."""
    full_items: int | None
    """Items in a full run on the canonical data, when the task spec knows it."""
    k: int | None
    """Samples per item the run drew."""
    report_k: int | None
    """The task spec's k for the mode: the report's where the report states it (DESIGN.md)."""
    data: str
    """Where the rows came from: `hub`, `package` or `--data-dir`."""
    departures: tuple[str, ...] = ()
    """Each way the cell is not the report's setting, in words; empty: like-for-like."""

    @property
    def like_for_like(self) -> bool:
        return not self.departures

    @property
    def text(self) -> str:
        return "; ".join(self.departures)

    def csv_fields(self) -> dict:
        return {"n_items": self.n_items, "full_items": self.full_items, "k": self.k, "report_k": self.report_k,
                "data": self.data, "like_for_like": self.like_for_like, "coverage": self.text}


def full_items(spec: TaskSpec) -> int | None:
    """The item count of a full run, or None where it depends on the run: long-context items are
    built per context length up to the model's own longest (`[options] lengths`), so the spec's
    `rows` is not their count."""
    if spec.items is not None:
        return spec.items
    if "lengths" in spec.options:
        return None
    return spec.rows


def _data_source(run: Run, spec: TaskSpec) -> tuple[str, str]:
    """(`data` value, departure text or ""): --data-dir wins over every other source (data.py)."""
    canonical = "hub" if spec.hub_id else "package"
    if run.data_dir is None:
        return canonical, ""
    fingerprint = run.data_fingerprints.get(spec.name)
    rows = f", rows {fingerprint}" if fingerprint else ""
    folder = Path(run.data_dir)
    if not folder.is_dir():  # tables made on another machine: say what is known, not a guess
        return "--data-dir", f"data from --data-dir {run.data_dir} unless it lacks {spec.name}.jsonl (not here to check{rows})"
    if local_file(spec, folder) is None:
        return canonical, ""
    return "--data-dir", f"data from --data-dir{rows}"


def _items_text(n_items: int | None, full: int | None, limit: int | None, canonical: bool) -> str:
    """The item-count departure, or "". The full count is the canonical data's: with other data
    only the --limit is known to have cut the set."""
    if n_items is None:  # an entry from before n_items was recorded: only the flag is known
        return f"at most {limit:,} items (--limit {limit:,})" if limit is not None else ""
    flag = f" (--limit {limit:,})" if limit is not None else ""
    if canonical and full is not None:
        return f"{n_items:,} of {full:,} items{flag}" if n_items < full else ""
    if limit is not None and n_items >= limit:  # the limit cut it; fewer than the limit: the data had no more
        return f"first {n_items:,} items{flag}"
    return ""


def _options_text(run: Run, spec: TaskSpec) -> str:
    """Options the suite set away from the spec's (the demo's RULER lengths): other items, another
    setting. Unknown for runs that did not record their options."""
    if spec.name not in run.task_options:
        return ""
    used = run.task_options[spec.name]
    changed = sorted(key for key in used.keys() | spec.options.keys() if used.get(key) != spec.options.get(key))
    return f"options {', '.join(changed)} differ from tasks/{spec.name}.toml" if changed else ""


def _basis_text(entry: dict) -> str:
    """A headline computed without some of its parts: the runner names them in the metric it used
    (`score_basis` "metrics['overall (missing multi_turn)']", results.headline_basis)."""
    missing = re.search(r"\(missing ([^)]*)\)", str(entry.get("score_basis") or ""))
    return f"headline (missing {missing.group(1)})" if missing else ""


def coverage(run: Run, benchmark: str, entry: dict, mode: str) -> Coverage:
    """The coverage of `entry` (scores.json, or one built from samples) of `benchmark` in `run`."""
    spec = get_spec(benchmark)
    n_items = entry.get("n_items")
    k = entry.get("k") if entry.get("k") is not None else run.k
    report_k = spec.modes[mode].k if mode in spec.modes else None
    data, data_text = _data_source(run, spec)
    full = full_items(spec)
    departures = [
        _items_text(n_items, full, run.limit, canonical=not data_text),
        f"k = {k} (report: {report_k})" if k is not None and report_k is not None and k != report_k else "",
        data_text,
        _options_text(run, spec),
        _basis_text(entry),
    ]
    return Coverage(n_items, full, k, report_k, data, tuple(d for d in departures if d))
