"""The suite: every benchmark of a run, each checked before any generation, run by its driver,
and recorded as scored, skipped or failed; one benchmark's failure is not the suite's.

For each benchmark: rows become Items, each Item becomes k Requests with their own seeds
(exaone_eval/items.py), and the store answers every Request it has seen before. Only the rest go
to the backend; each generation is committed to the store the moment it arrives and handed to a
scoring pool, so scoring overlaps generation (exaone_eval/windows.py; conversations:
exaone_eval/conversation.py). When all samples are in, the samples file and the benchmark's entry
in scores.json are (re)written from the store (exaone_eval/results.py): a rerun regenerates
nothing it has.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from concurrent.futures import Executor

from exaone_eval import registry
from exaone_eval.config import RunConfig
from exaone_eval.conversation import run_conversations
from exaone_eval.items import build_context, load_items, stream_items, task_options
from exaone_eval.planned_run import run_planned_benchmark, start_planned_run
from exaone_eval.results import SamplesFailed
from exaone_eval.score_jobs import Judge, benchmark_executor, make_scoring_pool
from exaone_eval.store import SampleStore, update_json, write_atomic
from exaone_eval.types import Backend, HarnessError
from exaone_eval.windows import run_windows


async def run_benchmark(
    cfg: RunConfig,
    name: str,
    backend: Backend,
    store: SampleStore,
    pool: Executor | None,
    judge: Judge | None = None,
    progress: bool = True,
    user: Backend | None = None,
) -> dict:
    """Generate what the store lacks, score everything, write samples/<name>.jsonl; return the
    scores entry. Conversations drive their own turns; every other benchmark goes in windows."""
    if hasattr(registry.get_module(name), "converse"):
        return await run_conversations(cfg, name, backend, store, pool, user, progress)
    return await run_windows(cfg, name, backend, store, pool, judge, progress)


def run_json(cfg: RunConfig) -> dict:
    """run.json: the resolved config, package versions, git revision."""
    from exaone_eval.provenance import git_revision, package_versions, scorer_fingerprint

    config = dataclasses.asdict(cfg)
    config["out"] = str(cfg.out)
    config["data_dir"] = str(cfg.data_dir) if cfg.data_dir else None
    config.pop("api_key", None)  # never write a secret to disk
    config.pop("judge_api_key", None)
    config.pop("user_api_key", None)
    return {
        **config,
        "versions": {name: registry.get_spec(name).version for name in cfg.benchmarks},
        "task_options": {name: task_options(cfg, name) for name in cfg.benchmarks if task_options(cfg, name)},
        "packages": package_versions(),
        "scorer_fingerprint": scorer_fingerprint(cfg.benchmarks),
        "git_revision": git_revision(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


async def for_each_benchmark(cfg: RunConfig, store: SampleStore, run_one, precheck=None) -> dict:
    """Run `await run_one(name, pool)` for every benchmark of `cfg`; returns scores.json. Used by
    `run` and `sweep` alike.

    First, before any generation, every benchmark is checked (`check_benchmark`: its rows load and
    become items; `precheck(name)`: judge, user simulator, tokenizer). Those that cannot run are
    recorded as skipped with the reason and named at once on stderr; the others run. A benchmark
    that fails while running (samples that failed, a HarnessError, any exception of its own code)
    is recorded as failed (scores.json `{"error": ...}`, run.json `failures`) and the others go
    on. KeyboardInterrupt and cancellation end the run at once. At the end, a HarnessError lists
    every benchmark that did not finish, one short line each. A rerun with the same --out
    regenerates nothing stored and replaces a failure entry once that benchmark succeeds.
    """
    unfinished: dict[str, str] = {}  # name -> "skipped  <reason>" / "failed   <reason>"
    runnable = []
    for name in cfg.benchmarks:
        spec = registry.get_spec(name)
        if spec.status != "ready":
            reason = "in-house data" if spec.status == "in-house" else "not built yet"
            record_outcome(cfg, name, {"skipped": reason})
            continue
        blocked = precheck(name) if precheck else None
        if blocked is not None:  # no judge, user simulator or tokenizer: the flag to pass says it all
            entry = {"skipped": blocked[0]}
        else:
            blocked = check_benchmark(cfg, name)
            entry = {"skipped": blocked[0], "error": blocked[1]} if blocked else None
        if blocked is None:
            runnable.append(name)
            continue
        record_outcome(cfg, name, entry, blocked[1])
        unfinished[name] = f"skipped  {summary_line(name, blocked[1])}"
    if unfinished and runnable:  # fail fast: say now what will not run, not after hours of the rest
        _stderr_line(f"cannot run (skipped; the other {len(runnable)} run):\n" + "\n".join(f"  {line}" for line in unfinished.values()))
    pool = None
    try:
        for name in runnable:
            own = benchmark_executor(cfg, name)
            if own is None and pool is None and getattr(registry.get_module(name), "SCORE_IN_PROCESSES", False):
                pool = make_scoring_pool()
            try:
                await run_one(name, own if own is not None else pool)
            except Exception as e:  # one benchmark's failure, whatever it is, is not the suite's
                problem = failure_reason(e)
                entry = {"error": problem}
                if isinstance(e, SamplesFailed):
                    entry.update(failed=len(e.errors), sample_errors=e.errors[:MAX_SAMPLE_ERRORS], **e.extra)
                record_outcome(cfg, name, entry, problem)
                unfinished[name] = f"failed   {summary_line(name, problem)}"
            else:
                record_outcome(cfg, name, None)
            finally:
                if own is not None:
                    own.shutdown(cancel_futures=True)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        store.close()
    scores = json.loads((cfg.out / "scores.json").read_text())
    if unfinished:
        raise HarnessError(
            f"{len(unfinished)} of {len(cfg.benchmarks)} benchmarks did not finish (the others are scored; reasons in "
            f"{cfg.out / 'scores.json'}); rerun the same command with --out {cfg.out} to run only what is missing:\n"
            + "\n".join(f"  {line}" for line in unfinished.values())
        )
    return scores


MAX_SAMPLE_ERRORS = 50
"""A failed benchmark's entry keeps the reasons of at most this many failed samples."""


def check_benchmark(cfg: RunConfig, name: str) -> tuple[str, str] | None:
    """Whether a benchmark can start, checked before any generation: (short reason, problem) when
    not. Its rows load and become items; a long-context builder (sized in the model's tokens) only
    has to give its first item (tokenizer and source rows found), not build every prompt."""
    module = registry.get_module(name)
    try:
        if hasattr(module, "iter_items") and getattr(module, "NEEDS_TOKENIZER", False):
            items, _ = stream_items(cfg, name)
            next(items, None)
        else:
            load_items(cfg, name)
    except HarnessError as e:
        text = str(e)
        reason = ("gated: no access" if "gated" in text else "no tokenizer" if "--tokenizer" in text
                  else "data unavailable" if "Hub" in text or "--data-dir" in text else "bad data")
        return reason, text
    except Exception as e:  # a bug in the benchmark's loader: that benchmark cannot run, the others can
        return "cannot load its items", failure_reason(e)
    return None


def failure_reason(e: Exception) -> str:
    """What a failure is recorded as: a HarnessError's message; for any other exception (a bug),
    its type and message on the first line, the traceback after it (kept in scores.json for
    whoever fixes it, never printed)."""
    if isinstance(e, HarnessError):
        return str(e)
    import traceback

    return f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exception(type(e), e, e.__traceback__))


def summary_line(name: str, problem: str, width: int = 240) -> str:
    """One short line for the end-of-run summary: the first line of the reason, led by the name once,
    cut in the middle when long (its end often holds what to do: a line number, a flag to pass)."""
    first = problem.strip().splitlines()[0] if problem.strip() else "(no reason given)"
    line = first if first.startswith(f"{name}: ") else f"{name}: {first}"
    if len(line) <= width:
        return line
    half = (width - 3) // 2
    return f"{line[:half]} … {line[-half:]}"


def record_outcome(cfg: RunConfig, name: str, entry: dict | None, problem: str | None = None) -> None:
    """A benchmark's outcome in scores.json and run.json `failures`: a skip or failure `entry` replaces
    its entries (a sweep's `name@budget` ones too, which a failure leaves partial); success (None)
    drops a stale skip or failure entry from an earlier run and its line in `failures`."""
    scores_path, run_path = cfg.out / "scores.json", cfg.out / "run.json"
    scores = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    if entry is not None:
        scores = {key: e for key, e in scores.items() if key.partition("@")[0] != name}
        scores[name] = entry
    elif "score" not in scores.get(name, {"score": None}):  # a marker left from an earlier run
        del scores[name]
    write_atomic(scores_path, json.dumps(scores, indent=2, ensure_ascii=False, default=str) + "\n")
    failures = {**json.loads(run_path.read_text()).get("failures", {})} if run_path.exists() else {}
    failures.pop(name, None)
    if problem is not None:
        failures[name] = problem
    update_json(run_path, {"failures": failures})


def _stderr_line(message: str) -> None:
    print(f"exaone-eval: {message}", file=sys.stderr, flush=True)


async def run_suite(cfg: RunConfig, backend: Backend, judge_backend: Backend | None = None, progress: bool = True,
                    user_backend: Backend | None = None, plan=None) -> dict:
    """Run every benchmark of `cfg`; returns scores.json. With a gate `plan` (planfile.Plan), its
    planned benchmarks run only their planned samples, in batches, until decided (planned_run.py)."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    update_json(cfg.out / "run.json", run_json(cfg))
    if plan is not None:
        start_planned_run(cfg, plan)
    store = SampleStore(cfg.out / "store.sqlite")
    judge = Judge(judge_backend, cfg.judge_model or "judge", store) if judge_backend is not None else None

    def precheck(name: str):
        if Judge.required(name) and judge is None:
            return "no judge configured", f"{name} needs an LLM judge: pass --judge-base-url and --judge-model"
        if getattr(registry.get_module(name), "NEEDS_USER", False) and user_backend is None:
            return "no user simulator configured", f"{name} needs a user simulator: pass --user-base-url and --user-model"
        if getattr(registry.get_module(name), "NEEDS_TOKENIZER", False):  # long context: sized in the model's tokens
            try:
                build_context(cfg, name).tokenizer()
            except HarnessError as e:  # the others still run; the problem is listed with the others
                return "no tokenizer", str(e)
        return None

    async def run_one(name: str, pool) -> None:
        if plan is not None and name in plan.benchmarks and plan.benchmarks[name].planned:
            await run_planned_benchmark(cfg, name, plan, backend, store, pool, judge, progress)
            return
        await run_benchmark(cfg, name, backend, store, pool, judge, progress, user_backend)

    return await for_each_benchmark(cfg, store, run_one, precheck)
