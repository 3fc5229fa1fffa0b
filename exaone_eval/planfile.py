"""The gate plan file (`exaone-eval gate plan` writes it, `run --plan` and `gate` read it), checked.

A plan is JSON (docs/gate.md, "Planned gates"):

    {"format": "exaone-eval gate plan", "version": 1,
     "baseline": {"path", "model", "mode", "suite", "seed", "k", "limit", "data_dir", "fingerprint"},
     "alpha": 0.05, "power": 0.95, "max_share": 0.25, "plan_seed": 0,
     "benchmarks": {"<bench>": {"planned": true, "k", "tolerance", "n_items", "units", "bound", "batch",
                                "draws": [[item id, sample, weight, baseline score], ...], "design": {...}},
                    "<bench>": {"planned": false, "reason": "..."}}}

`draws` is the random sequence of units (item, sample) to run, in order, drawn with replacement;
`weight` is 1 / (units * the unit's draw probability), so weight * (candidate - baseline) has
the full run's paired difference as its mean (exaone_eval/csequence.py). Every problem is a
HarnessError naming the file and the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from exaone_eval.rundir import Run, sample_benchmarks, sample_records
from exaone_eval.types import HarnessError

FORMAT = "exaone-eval gate plan"
VERSION = 1


@dataclass(frozen=True)
class Draw:
    item: str
    sample: int
    weight: float
    baseline: float
    """The baseline's score of this unit (0-1)."""


@dataclass(frozen=True)
class BenchPlan:
    name: str
    planned: bool
    reason: str | None = None
    """Why a benchmark runs whole (planned false)."""
    k: int = 1
    tolerance: float = 1.0
    """Points (0-100), as in configs/gate.toml."""
    n_items: int = 0
    units: int = 0
    """Items x k: the full run's samples."""
    bound: float = 1.0
    """m: every draw weight * (candidate - baseline) lies in [-m, m]."""
    batch: int = 1
    """Draws per look: the run stops a benchmark only between batches."""
    draws: tuple[Draw, ...] = ()
    design: dict = field(default_factory=dict)
    """Strata, expected costs and power: for people, not read by the run or the gate."""


@dataclass(frozen=True)
class Plan:
    path: Path
    baseline: dict
    alpha: float
    benchmarks: dict[str, BenchPlan]
    raw: dict

    @property
    def seed(self) -> int:
        return self.baseline["seed"]


def _fail(path: Path, where: str, what: str):
    raise HarnessError(f"{path}: field '{where}' {what}")


def _number(path, where, value, low=-math.inf, high=math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
        _fail(path, where, f"is {value!r}; expected a number in [{low}, {high}]")
    return float(value)


def _count(path, where, value, low=0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        _fail(path, where, f"is {value!r}; expected an integer >= {low}")
    return value


def load_plan(path: Path) -> Plan:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{path}: plan file not found") from None
    except json.JSONDecodeError as e:
        raise HarnessError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); expected a plan written by `exaone-eval gate plan`") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        _fail(path, "format", f"is {raw.get('format') if isinstance(raw, dict) else raw!r}; expected {FORMAT!r} (a plan written by `exaone-eval gate plan`)")
    if raw.get("version") != VERSION:
        _fail(path, "version", f"is {raw.get('version')!r}; this exaone-eval reads version {VERSION}")
    base = raw.get("baseline")
    if not isinstance(base, dict):
        _fail(path, "baseline", "is missing; expected an object describing the baseline run")
    for key in ("path", "model", "mode", "fingerprint"):
        if not isinstance(base.get(key), str) or not base[key]:
            _fail(path, f"baseline.{key}", f"is {base.get(key)!r}; expected a string")
    _count(path, "baseline.seed", base.get("seed"))
    for key in ("k", "limit"):
        if base.get(key) is not None:
            _count(path, f"baseline.{key}", base[key], 1)
    alpha = _number(path, "alpha", raw.get("alpha"), 1e-9, 0.5)
    benches = raw.get("benchmarks")
    if not isinstance(benches, dict) or not benches:
        _fail(path, "benchmarks", "is missing or empty; expected an object: benchmark -> its plan")
    out = {}
    for name, b in benches.items():
        where = f"benchmarks.{name}"
        if not isinstance(b, dict) or not isinstance(b.get("planned"), bool):
            _fail(path, f"{where}.planned", "is missing; expected true or false")
        if not b["planned"]:
            if not isinstance(b.get("reason"), str):
                _fail(path, f"{where}.reason", "is missing; a benchmark that runs whole says why")
            out[name] = BenchPlan(name, False, reason=b["reason"])
            continue
        draws = b.get("draws")
        if not isinstance(draws, list) or not draws:
            _fail(path, f"{where}.draws", "is missing or empty; expected [[item id, sample, weight, baseline score], ...]")
        k = _count(path, f"{where}.k", b.get("k"), 1)
        bound = _number(path, f"{where}.bound", b.get("bound"), 1e-9)
        parsed = []
        for i, d in enumerate(draws):
            if not (isinstance(d, list) and len(d) == 4 and isinstance(d[0], str)):
                _fail(path, f"{where}.draws[{i}]", f"is {d!r}; expected [item id (string), sample, weight, baseline score]")
            sample = _count(path, f"{where}.draws[{i}][1]", d[1])
            if sample >= k:
                _fail(path, f"{where}.draws[{i}][1]", f"is {sample}; expected a sample index below k = {k}")
            weight = _number(path, f"{where}.draws[{i}][2]", d[2], 1e-12, bound)
            score = _number(path, f"{where}.draws[{i}][3]", d[3], 0.0, 1.0)
            parsed.append(Draw(d[0], sample, weight, score))
        out[name] = BenchPlan(
            name, True, k=k,
            tolerance=_number(path, f"{where}.tolerance", b.get("tolerance"), 0.0),
            n_items=_count(path, f"{where}.n_items", b.get("n_items"), 1),
            units=_count(path, f"{where}.units", b.get("units"), 1),
            bound=bound,
            batch=_count(path, f"{where}.batch", b.get("batch"), 1),
            draws=tuple(parsed),
            design=b.get("design") if isinstance(b.get("design"), dict) else {},
        )
    return Plan(path=path, baseline=base, alpha=alpha, benchmarks=out, raw=raw)


def units_up_to(bench: BenchPlan, draws: int) -> set[tuple[str, int]]:
    """The distinct (item, sample) units among the first `draws` draws: what a run has to generate."""
    return {(d.item, d.sample) for d in bench.draws[:draws]}


def draw_values(bench: BenchPlan, candidate: dict[tuple[str, int], float], draws: int) -> list[float]:
    """Z_t = weight_t * (candidate - baseline) of the first `draws` draws, on the 0-1 scale: i.i.d.
    draws whose mean is the full run's paired difference. HarnessError when a unit has no score."""
    out = []
    for d in bench.draws[:draws]:
        if (d.item, d.sample) not in candidate:
            raise HarnessError(f"{bench.name}: item {d.item} sample {d.sample} of the plan has no score in the candidate run")
        out.append(d.weight * (candidate[(d.item, d.sample)] - d.baseline))
    return out


def baseline_fingerprint(scores: dict[str, dict[tuple[str, int], float]]) -> str:
    """A hash of the baseline's per-unit scores ({bench: {(item, sample): score}}): a plan pairs
    only with the run it was made from."""
    import hashlib

    h = hashlib.sha256()
    for bench in sorted(scores):
        for (item, sample), score in sorted(scores[bench].items()):
            h.update(f"{bench}\x1f{item}\x1f{sample}\x1f{score:.6g}\n".encode())
    return h.hexdigest()[:16]


def unit_records(run: Run, bench: str) -> dict[tuple[str, int], tuple[float, float | None, int]]:
    """{(item, sample): (score, completion tokens or None, response length in characters)} from
    samples/<bench>.jsonl; budget-sweep records are not units of a plan (None for such a file)."""
    out = {}
    for rec in sample_records(run.path / "samples" / f"{bench}.jsonl"):
        if "budget" in rec:
            return None
        tokens = rec.get("completion_tokens")
        tokens = float(tokens) if isinstance(tokens, (int, float)) and not isinstance(tokens, bool) else None
        out[(str(rec["id"]), rec["sample"])] = (float(rec["score"]), tokens, len(rec.get("response") or ""))
    return out


def baseline_scores(run: Run) -> dict[str, dict[tuple[str, int], float]]:
    """{bench: {(item, sample): score}} of every benchmark with unit samples (not a budget sweep)."""
    out = {}
    for bench in sample_benchmarks(run):
        units = unit_records(run, bench)
        if units:
            out[bench] = {u: v[0] for u, v in units.items()}
    return out
