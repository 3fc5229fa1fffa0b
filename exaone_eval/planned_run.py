"""`run --plan PLAN`: a benchmark's planned samples in batches, stopped once the decision is reached.

The plan (exaone_eval/planfile.py, made by `gate plan`) lists a random sequence of units
(item, sample) drawn from the baseline's full run. Batch after batch, the units drawn so far are
run by the ordinary windowed driver, restricted to them (`run_windows(only=...)`: same seeds and
sampling as a full run, so each pairs with the baseline's sample); the store answers the units
of earlier batches and any unit drawn twice. After each batch the stopping rule
(exaone_eval/csequence.py `decide`) looks at the draws: once it shows the paired difference
below or above -tolerance, the benchmark stops. Its error bound holds at every look, so looking
after each batch and stopping early does not inflate false alarms.

run.json `plan` records which plan ran and where each benchmark stopped; `gate` recomputes the
decision from the samples and checks it against the plan it names.
"""

from __future__ import annotations

import json
from concurrent.futures import Executor

from exaone_eval.config import RunConfig
from exaone_eval.csequence import decide
from exaone_eval.planfile import BenchPlan, Plan, draw_values, units_up_to
from exaone_eval.score_jobs import Judge
from exaone_eval.store import SampleStore, update_json
from exaone_eval.types import Backend, HarnessError
from exaone_eval.windows import run_windows


def unit_scores(cfg: RunConfig, name: str) -> dict[tuple[str, int], float]:
    """{(item, sample): score} of the samples file the driver just wrote."""
    out = {}
    with open(cfg.out / "samples" / f"{name}.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                out[(str(rec["id"]), rec["sample"])] = float(rec["score"])
    return out


async def run_planned_benchmark(cfg: RunConfig, name: str, plan: Plan, backend: Backend, store: SampleStore,
                                pool: Executor | None, judge: Judge | None = None, progress: bool = True) -> dict:
    """Run the plan's draws of `name` batch by batch until decided (or the draws run out); return
    the scores entry (of the samples run) with the stop recorded in run.json `plan`."""
    bench: BenchPlan = plan.benchmarks[name]
    upto = 0
    while True:
        upto = min(upto + bench.batch, len(bench.draws))
        entry = await run_windows(cfg, name, backend, store, pool, judge, progress, only=units_up_to(bench, upto))
        scores = unit_scores(cfg, name)
        decision = decide(draw_values(bench, scores, upto), bench.bound, bench.tolerance / 100.0, plan.alpha)
        if decision.verdict != "undecided" or upto == len(bench.draws):
            break
    stop = {"draws_run": upto, "draws_planned": len(bench.draws), "decided_at": decision.draws if decision.verdict != "undecided" else None,
            "decision": decision.verdict, "samples": len(units_up_to(bench, upto)),
            "tokens": sum(r for r in _tokens(cfg, name))}
    update_json(cfg.out / "run.json", {"plan": {**_plan_header(cfg), "benchmarks": {**_plan_header(cfg).get("benchmarks", {}), name: stop}}})
    # The entry's score is the plain mean over the samples run, which the plan drew unevenly (more
    # where the paired variance is): say so where tables read it; the gate estimates the difference.
    entry = {**entry, "planned": f"{stop['samples']} planned samples of {bench.units} (gate plan {plan.path.name}); not the full benchmark's score"}
    update_json(cfg.out / "scores.json", {name: entry})
    return entry


def _tokens(cfg: RunConfig, name: str):
    with open(cfg.out / "samples" / f"{name}.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line).get("completion_tokens") or 0


def _plan_header(cfg: RunConfig) -> dict:
    run = json.loads((cfg.out / "run.json").read_text(encoding="utf-8"))
    return run.get("plan") or {}


def start_planned_run(cfg: RunConfig, plan: Plan) -> None:
    """run.json `plan`: which plan this run follows (its path and baseline), before any benchmark runs.
    A rerun of the same directory with another plan is refused: its samples would mix two draws."""
    previous = _plan_header(cfg) if (cfg.out / "run.json").exists() else {}
    if previous and previous.get("baseline_fingerprint") != plan.baseline["fingerprint"]:
        raise HarnessError(f"{cfg.out / 'run.json'}: this run followed another plan ({previous.get('path')}); use a new --out")
    update_json(cfg.out / "run.json", {"plan": {"path": str(plan.path.resolve()), "baseline": plan.baseline["path"],
                                                "baseline_fingerprint": plan.baseline["fingerprint"],
                                                "benchmarks": previous.get("benchmarks", {})}})
