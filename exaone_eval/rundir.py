"""Reading a finished run directory: run.json, scores.json and samples/<benchmark>.jsonl.

The writer is the runner (DESIGN.md, "Run directory"); `tables` and `gate` only read. Every
malformed file raises HarnessError naming the file (and line) and what was expected.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from exaone_eval.types import MODES, HarnessError


@dataclass(frozen=True)
class Run:
    path: Path
    model: str
    """run.json `model.name`: `32b`, `1.2b`, `demo`, or a path / HF id."""
    mode: str
    suite: str | None
    benchmarks: tuple[str, ...]
    budgets: tuple[int, ...]
    """Non-empty for a budget sweep (Table 7)."""
    versions: dict[str, int]
    """Each benchmark's task-spec version when the run was made."""
    scores: dict[str, dict] = field(default_factory=dict)
    """scores.json as written; {} when the run has no scores.json yet."""
    has_scores: bool = False
    scorer_fingerprint: dict[str, dict] | None = None
    """run.json `scorer_fingerprint` (benchmark -> task version and scorer package versions);
    None for runs made before it was recorded."""
    data_fingerprints: dict[str, str] = field(default_factory=dict)
    """run.json `data_fingerprints` (benchmark -> fingerprint of the rows it was run on)."""
    limit: int | None = None
    """run.json `limit` (`--limit N`: only the first N items of each benchmark); None: every item."""
    k: int | None = None
    """run.json `k` (`--k N`, overriding every task's k); None: each task's own k."""
    data_dir: str | None = None
    """run.json `data_dir` (`--data-dir DIR`, whose `<benchmark>.jsonl` files win over the Hub)."""
    task_options: dict[str, dict] = field(default_factory=dict)
    """run.json `task_options` (benchmark -> its resolved `[options]`: the spec's, with the suite's on top);
    {} for runs made before it was recorded."""

    @property
    def is_budget_run(self) -> bool:
        return bool(self.budgets) or any("@" in key for key in self.scores)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{path}: missing") from None
    except json.JSONDecodeError as e:
        raise HarnessError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a JSON object")
    return data


def _check_scores(path: Path, scores: dict) -> None:
    for key, entry in scores.items():
        if not isinstance(entry, dict):
            raise HarnessError(f"{path}: {key!r} is not an object")
        marker = next((m for m in ("skipped", "error") if m in entry), None)  # not run, or failed while running
        if marker is not None:
            if not isinstance(entry[marker], str):
                raise HarnessError(f"{path}: {key!r}.{marker} must be a string (the reason)")
            continue
        if not isinstance(entry.get("score"), (int, float)):
            raise HarnessError(f"{path}: {key!r} has no numeric 'score' (and no 'skipped' or 'error' reason)")
        if not isinstance(entry.get("metrics", {}), dict):
            raise HarnessError(f"{path}: {key!r}.metrics must be an object")
        for count in ("n_items", "k", "n_samples"):  # the tables say how much of a benchmark a cell covers from these
            if count in entry and not _is_count(entry[count]):
                raise HarnessError(f"{path}: {key!r}.{count} is {entry[count]!r}; expected a non-negative integer")


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _optional_count(path: Path, config: dict, name: str, meaning: str) -> int | None:
    value = config.get(name)
    if value is not None and not (_is_count(value) and value > 0):
        raise HarnessError(f"{path / 'run.json'}: field {name!r} is {value!r}; expected null or a positive integer ({meaning})")
    return value


def load_run(path: Path) -> Run:
    path = Path(path)
    if not path.is_dir():
        raise HarnessError(f"{path}: not a run directory (no such directory)")
    config = _read_json(path / "run.json")
    model = config.get("model")
    name = model.get("name") if isinstance(model, dict) else model
    if not isinstance(name, str) or not name:
        raise HarnessError(f"{path / 'run.json'}: field 'model.name' missing; expected the model's preset name or path")
    mode = config.get("mode")
    if mode not in MODES:
        raise HarnessError(f"{path / 'run.json'}: field 'mode' is {mode!r}; expected one of {list(MODES)}")
    versions = config.get("versions") or {}
    if not isinstance(versions, dict):
        raise HarnessError(f"{path / 'run.json'}: field 'versions' must map benchmark -> int")
    budgets = config.get("budgets") or []
    if not isinstance(budgets, list) or not all(isinstance(b, int) and not isinstance(b, bool) for b in budgets):
        raise HarnessError(f"{path / 'run.json'}: field 'budgets' is {budgets!r}; expected a list of token counts")
    fingerprint = config.get("scorer_fingerprint")
    if fingerprint is not None and not (isinstance(fingerprint, dict) and all(isinstance(v, dict) for v in fingerprint.values())):
        raise HarnessError(f"{path / 'run.json'}: field 'scorer_fingerprint' must map benchmark -> {{package: version}}")
    data = config.get("data_fingerprints") or {}
    if not (isinstance(data, dict) and all(isinstance(v, str) for v in data.values())):
        raise HarnessError(f"{path / 'run.json'}: field 'data_fingerprints' must map benchmark -> fingerprint string")
    limit = _optional_count(path, config, "limit", "--limit: items per benchmark")
    k = _optional_count(path, config, "k", "--k: samples per item")
    data_dir = config.get("data_dir")
    if data_dir is not None and not (isinstance(data_dir, str) and data_dir):
        raise HarnessError(f"{path / 'run.json'}: field 'data_dir' is {data_dir!r}; expected null or the --data-dir path")
    options = config.get("task_options") or {}
    if not (isinstance(options, dict) and all(isinstance(v, dict) for v in options.values())):
        raise HarnessError(f"{path / 'run.json'}: field 'task_options' must map benchmark -> {{option: value}}")
    scores_path = path / "scores.json"
    scores = _read_json(scores_path) if scores_path.exists() else {}
    _check_scores(scores_path, scores)
    return Run(
        path=path,
        model=name,
        mode=mode,
        suite=config.get("suite"),
        benchmarks=tuple(config.get("benchmarks") or ()),
        budgets=tuple(budgets),
        versions={str(name): v for name, v in versions.items()},
        scores=scores,
        has_scores=scores_path.exists(),
        scorer_fingerprint=fingerprint,
        data_fingerprints={str(name): v for name, v in data.items()},
        limit=limit,
        k=k,
        data_dir=data_dir,
        task_options={str(name): dict(v) for name, v in options.items()},
    )


def sample_benchmarks(run: Run) -> list[str]:
    """The benchmarks with a samples file, sorted."""
    folder = run.path / "samples"
    return sorted(p.stem for p in folder.glob("*.jsonl")) if folder.is_dir() else []


def sample_records(path: Path) -> Iterator[dict]:
    """Each record of a samples file (samples/<benchmark>.jsonl), in file order, checked as it is
    read: a JSON object with 'id', an integer 'sample' and a 'score' in 0-1. HarnessError names
    the file and line of a bad record (the file alone when it is missing)."""
    try:
        lines = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise HarnessError(f"{path}: missing") from None
    with lines:
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise HarnessError(f"{path}:{n}: not valid JSON ({e.msg}); expected one sample record per line") from None
            if not isinstance(rec, dict):
                raise HarnessError(f"{path}:{n}: expected a JSON object (a sample record)")
            score = rec.get("score")
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1 or math.isnan(score):
                raise HarnessError(f"{path}:{n}: field 'score' is {score!r}; expected a number in 0-1")
            if "id" not in rec or isinstance(rec.get("sample"), bool) or not isinstance(rec.get("sample"), int):
                raise HarnessError(f"{path}:{n}: needs 'id' and an integer 'sample'")
            yield rec


def sample_scores(run: Run, benchmark: str) -> dict[str, dict[str, list[float]]]:
    """{key: {item id: [score of each sample]}} from samples/<benchmark>.jsonl.

    `key` is the benchmark name, or `<benchmark>@<budget>` for records of a budget sweep (each
    budget is its own set of samples). A repeated (id, sample[, budget]) keeps the last record.
    """
    latest: dict[tuple, float] = {}
    for rec in sample_records(run.path / "samples" / f"{benchmark}.jsonl"):
        budget = rec.get("budget")
        key = benchmark if budget is None else f"{benchmark}@{int(budget)}"
        latest[(key, str(rec["id"]), rec["sample"])] = float(rec["score"])
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (key, item, _sample), score in sorted(latest.items()):
        out[key][item].append(score)
    return {key: dict(items) for key, items in out.items()}
