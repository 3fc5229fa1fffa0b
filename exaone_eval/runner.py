"""items x k samples -> store -> backend -> scorer -> aggregate.

For each benchmark: rows become Items, each Item becomes k Requests with their own seeds
(exaone_eval/items.py), and
the store answers every Request it has seen before. Only the rest go to the backend; each
generation is committed to the store the moment it arrives and handed to a scoring pool, so
scoring overlaps generation. When all samples are in, the samples file and the benchmark's entry
in scores.json are (re)written from the store: a rerun regenerates nothing it has.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor

from exaone_eval import registry, stats
from exaone_eval.config import RunConfig
from exaone_eval.store import SampleStore, request_key, update_json, write_atomic, write_jsonl
from exaone_eval.items import Planned, build_context, load_items, plan_iter, stream_items, task_options, without_prompt
from exaone_eval.types import Backend, Generation, HarnessError, Item, Request, Score


def score_one(benchmark: str, item: Item, gen: Generation, judgments: list[Generation] | None = None) -> Score:
    """The benchmark's verdict, with the harness-wide rule that an unfinished reasoning scores 0."""
    module = registry.get_module(benchmark)
    score = module.score(item, gen) if judgments is None else module.score(item, gen, judgments)
    if not gen.reasoning_closed:
        score = dataclasses.replace(score, value=0.0, detail={**score.detail, "truncated": True})
    return score


def make_scoring_pool(workers: int | None = None) -> Executor:
    """Processes for scorers that cost milliseconds (math-verify), started by fork so they
    inherit what the parent already imported."""
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_die_with_parent)


def _die_with_parent() -> None:
    """A scoring worker whose run is killed (kill -9) would otherwise wait forever on its queue:
    on Linux, ask the kernel to kill it when its parent dies."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: workers exit when they next read from the closed queue


def benchmark_executor(cfg: RunConfig, name: str) -> Executor | None:
    """A benchmark's own scoring executor (`scoring_executor(cfg)`: code benchmarks score on a pool
    of sandboxes), with what it is recorded in run.json under `scoring`; None for the others."""
    make = getattr(registry.get_module(name), "scoring_executor", None)
    if make is None:
        return None
    executor = make(cfg)
    update_json(cfg.out / "run.json", {"scoring": {name: getattr(executor, "record", None)}}, merge_keys=("scoring",))
    return executor


def response_text(request: Request, gen: Generation) -> str:
    """The response as the samples file keeps it: for a raw-prompt request (no messages) the
    text after the prompt, so a 128K-token prompt is not copied into every sample record."""
    if not request.messages and request.prefix and gen.text.startswith(request.prefix):
        return gen.text[len(request.prefix):]
    return gen.text


def sample_record(p: Planned, gen: Generation, score: Score) -> dict:
    return {
        "id": p.item.id,
        "sample": p.sample,
        "seed": p.seed,
        "response": response_text(p.request, gen),
        "extracted": score.extracted,
        "score": score.value,
        "reasoning": gen.reasoning,
        "answer": gen.answer,
        "reasoning_closed": gen.reasoning_closed,
        "finish_reason": gen.finish_reason,
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "prompt_hash": hashlib.sha256(json.dumps(p.request.messages, ensure_ascii=False).encode()).hexdigest()[:16],
        "detail": score.detail,
        "item_meta": p.item.meta or None,
    }


def aggregate(name: str, k: int, planned: list[Planned], scores: dict[str, Score], gens: dict[str, Generation]) -> dict:
    """The benchmark's entry of scores.json."""
    per_item: dict[str, list[float]] = {}
    records = []
    for p in planned:
        if p.key in scores:
            per_item.setdefault(p.item.id, []).append(scores[p.key].value)
            records.append((p.item, scores[p.key]))
    entry = stats.summarize(per_item)
    entry["k"] = k
    module = registry.get_module(name)
    extra = getattr(module, "metrics", None)
    entry["metrics"] = extra(records) if extra else {}
    describe = getattr(module, "setting", None)
    if describe is not None and records:  # how it was run, shown beside the score (BFCL's calling style)
        entry["setting"] = describe(records)
    headline = getattr(module, "HEADLINE_METRIC", None)
    if hasattr(module, "headline_metric"):  # the headline depends on what was run (RULER: the longest length)
        headline = module.headline_metric(entry["metrics"])
    basis = headline_basis(headline, entry["metrics"])
    if basis is not None:
        # The report's figure is not a plain mean over items (BFCL's overall averages category
        # groups): the CI comes from resampling items and recomputing that figure.
        entry["score"] = entry["metrics"][basis]
        entry["ci_low"], entry["ci_high"] = stats.bootstrap_statistic(
            records, lambda rs: entry_metric(extra(rs), headline), key=lambda r: r[0].id)
        entry["score_basis"] = f"metrics[{basis!r}]"
    done = [p for p in planned if p.key in gens]
    entry["n_samples"] = len(done)
    entry["truncated"] = sum(not gens[p.key].reasoning_closed for p in done)
    entry["no_answer"] = sum(scores[p.key].extracted is None for p in done if p.key in scores)
    tokens = [gens[p.key].completion_tokens for p in done if gens[p.key].completion_tokens is not None]
    entry["mean_completion_tokens"] = sum(tokens) / len(tokens) if tokens else None
    entry["version"] = registry.get_spec(name).version
    return {key: (None if isinstance(v, float) and math.isnan(v) else v) for key, v in entry.items()}


def headline_basis(headline: str | None, metrics: dict) -> str | None:
    """The metric that is the headline: `headline` itself, else the same figure computed without
    some of its parts, which names them (`<headline> (missing a, b)`: bfcl_v3, helmet without a
    judge); score_basis then says the score is partial."""
    if headline is None or headline in metrics:
        return headline
    return next((m for m in metrics if m.startswith(f"{headline} (missing ")), None)


def entry_metric(metrics: dict, headline: str) -> float:
    basis = headline_basis(headline, metrics)
    return metrics[basis] if basis is not None else math.nan


class Progress:
    """A tqdm bar per benchmark: done/total, generated tokens/s, ETA."""

    def __init__(self, name: str, total: int | None, done: int, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=done, desc=name, unit="sample", disable=not enabled, dynamic_ncols=True)
        self.tokens = 0
        self.start = time.monotonic()

    def update(self, gen: Generation) -> None:
        self.tokens += gen.completion_tokens or 0
        elapsed = max(time.monotonic() - self.start, 1e-9)
        self.bar.set_postfix_str(f"{self.tokens / elapsed:,.0f} tok/s", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


WINDOW_MIN = 8
"""A lazy benchmark's window is max(--concurrency, WINDOW_MIN) samples; two windows are in flight."""


async def run_benchmark(
    cfg: RunConfig,
    name: str,
    backend: Backend,
    store: SampleStore,
    pool: Executor | None,
    judge: "Judge | None" = None,
    progress: bool = True,
    user: Backend | None = None,
) -> dict:
    """Generate what the store lacks, score everything, write samples/<name>.jsonl; return the scores entry.

    A benchmark with a list of items goes as one window. One that builds its own long prompts
    (`iter_items`) goes in windows of `max(concurrency, WINDOW_MIN)` samples, built in a thread
    while the previous window generates; at most two windows are in flight, so the backend is fed
    without a gap and at most about three windows of prompts are in memory. A prompt is dropped
    once its samples are generated and scored: the samples file and the aggregate keep none.
    """
    module = registry.get_module(name)
    if hasattr(module, "converse"):  # conversations drive their own turns
        from exaone_eval.conversation import run_conversations

        return await run_conversations(cfg, name, backend, store, pool, user, progress)
    k = cfg.k or registry.get_spec(name).modes[cfg.mode].k
    lazy = hasattr(module, "iter_items")
    items, fingerprint = stream_items(cfg, name)
    planned_source = plan_iter(cfg, name, items)
    if lazy:  # total unknown until the builder is done
        size, first = max(cfg.concurrency, WINDOW_MIN), None
    else:  # all of it at once, as before: the items are in memory anyway
        first = list(planned_source)
        size = max(len(first), 1)
    bar = Progress(name, None if lazy else len(first), 0, progress)
    loop = asyncio.get_running_loop()
    gens: dict[str, Generation] = {}
    scores: dict[str, Score] = {}
    kept: list[list[Planned]] = []  # per window, in order: the planned samples without their prompts
    records: list[list[dict]] = []
    errors: list[str] = []

    def submit_score(futures: dict, p: Planned, gen: Generation) -> None:
        if judge is not None and judge.wants(name):
            futures[p.key] = asyncio.ensure_future(judge.score(name, p, gen))
        elif pool is not None:
            futures[p.key] = loop.run_in_executor(pool, score_one, name, p.item, gen)
        else:
            futures[p.key] = settled(score_one, name, p.item, gen)

    async def run_window(slot: int, window: list[Planned]) -> None:
        found = store.get_many([p.key for p in window])
        pending = [p for p in window if p.key not in found]
        bar.bar.update(len(window) - len(pending))
        if lazy and any(p.request.prefix for p in pending):
            give_renderer(backend, cfg, name)
        futures: dict[str, asyncio.Future] = {}
        for p in window:
            if p.key in found:
                submit_score(futures, p, found[p.key])
        async for index, gen in backend.generate([p.request for p in pending]):
            p = pending[index]
            if gen.error is not None:
                errors.append(f"item {p.item.id} sample {p.sample}: {gen.error}")
                continue
            store.put(p.key, gen, benchmark=name, item_id=p.item.id, sample=p.sample, model=cfg.model.hf_id)
            found[p.key] = gen
            bar.update(gen)
            submit_score(futures, p, gen)
        window_scores, failed = await collect_scores(futures)
        errors.extend(f"item {p.item.id} sample {p.sample}: {failed[p.key]}" for p in window if p.key in failed)
        records[slot] = [sample_record(p, found[p.key], window_scores[p.key]) for p in window if p.key in window_scores]
        kept[slot] = [dataclasses.replace(p, item=without_prompt(p.item), request=None) if lazy else p for p in window]
        gens.update({p.key: found[p.key] for p in window if p.key in found})
        scores.update(window_scores)

    in_flight: set[asyncio.Task] = set()
    try:
        while True:
            while len(in_flight) >= 2:
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            if first is not None:
                window, first = first, []
            else:  # build the next window off the event loop: generation goes on meanwhile
                window = await asyncio.to_thread(lambda: list(itertools.islice(planned_source, size)))
            if not window:
                break
            kept.append([])
            records.append([])
            in_flight.add(asyncio.ensure_future(run_window(len(kept) - 1, window)))
            del window
        for task in asyncio.as_completed(list(in_flight)):
            await task
        in_flight = set()
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        bar.close()
    planned = [p for window in kept for p in window]
    entry = write_results(cfg, name, k, planned, scores, gens, [r for window in records for r in window], fingerprint(), errors)
    if errors:
        raise SamplesFailed(name, errors, len(planned))
    return entry


class SamplesFailed(HarnessError):
    """Some samples of a benchmark have no score (their generation or their scoring failed): the
    benchmark is recorded as failed with their reasons, and a rerun retries only those samples
    (a generation in the store is not asked for again; only its scoring reruns)."""

    def __init__(self, name: str, errors: list[str], total: int, what: str = "samples", extra: dict | None = None):
        super().__init__(f"{name}: {len(errors)} of {total} {what} failed (first: {errors[0]})")
        self.errors = errors
        self.extra = extra or {}
        """Counts the failure entry keeps beside the errors (a conversation's `terminations`)."""


def write_results(cfg: RunConfig, name: str, k: int, planned: list[Planned], scores: dict[str, Score],
                  gens: dict[str, Generation], records: list[dict], fingerprint: str, errors: list[str], **extra) -> dict:
    """samples/<name>.jsonl, the benchmark's scores.json entry and its data fingerprint in run.json."""
    write_jsonl(cfg.out / "samples" / f"{name}.jsonl", records)
    entry = {**aggregate(name, k, planned, scores, gens), "failed": len(errors), **extra}
    update_json(cfg.out / "run.json", {"data_fingerprints": {name: fingerprint}}, merge_keys=("data_fingerprints",))
    update_json(cfg.out / "scores.json", {name: entry})
    return entry


def give_renderer(backend: Backend, cfg: RunConfig, name: str) -> None:
    """Requests with an answer prefix (RULER) go to a server's completions endpoint as raw text:
    an OpenAI-compatible backend renders them with the model's tokenizer (the one that sized them)."""
    if getattr(backend, "render", False) is None:
        from exaone_eval.reasoning import render_chat

        tokenizer = build_context(cfg, name).tokenizer()
        backend.render = lambda request: render_chat(tokenizer, request)


def settled(fn, *args) -> asyncio.Future:
    """`fn(*args)` run now, as a done future: its result, or its exception (a scorer's crash is
    that sample's error, collected with the others by `collect_scores`)."""
    fut = asyncio.get_running_loop().create_future()
    try:
        fut.set_result(fn(*args))
    except Exception as e:
        fut.set_exception(e)
    return fut


async def collect_scores(futures: dict) -> tuple[dict[str, Score], dict[str, str]]:
    """Await every scoring future: the scores, and for each sample whose scoring raised, why (a
    scorer crash is that sample's error to report and retry, never a zero to hide, and it does
    not stop the other samples)."""
    scores: dict[str, Score] = {}
    failed: dict[str, str] = {}
    for key, fut in futures.items():
        try:
            scores[key] = await fut
        except HarnessError as e:  # a judge call that failed, ...: the message says it all
            failed[key] = f"scoring failed: {e}"
        except Exception as e:
            failed[key] = f"the scorer raised {type(e).__name__}: {e}"
    return scores, failed


class Judge:
    """Sends a benchmark's judge requests through a judge backend, cached in the run's store."""

    def __init__(self, backend: Backend, model: str, store: SampleStore):
        self.backend, self.model, self.store = backend, model, store

    @staticmethod
    def wants(name: str) -> bool:
        return hasattr(registry.get_module(name), "judge_requests")

    @staticmethod
    def required(name: str) -> bool:
        """A judged benchmark cannot run without a judge unless it says `JUDGE_OPTIONAL = True` (HELMET:
        only 3 of its datasets are judged; without a judge it scores the others and names the gap)."""
        return Judge.wants(name) and not getattr(registry.get_module(name), "JUDGE_OPTIONAL", False)

    async def score(self, name: str, p: Planned, gen: Generation) -> Score:
        requests = registry.get_module(name).judge_requests(p.item, gen) if gen.reasoning_closed else []
        keys = [request_key(self.model, r) for r in requests]
        found = self.store.get_many(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        async for j, judged in self.backend.generate([requests[i] for i in missing]):
            if judged.error is not None:
                raise HarnessError(f"{name}: judge call failed for item {p.item.id}: {judged.error}")
            key = keys[missing[j]]
            self.store.put(key, judged, benchmark=name, item_id=p.item.id, sample=p.sample, model=self.model, role="judge")
            found[key] = judged
        return score_one(name, p.item, gen, [found[key] for key in keys])


def scored_entries_table(scores: dict, only: list[str] | None = None) -> str:
    """The end-of-run summary: one line per benchmark."""
    lines = [f"{'benchmark':<20} {'score':>7} {'95% CI':>15} {'items':>6} {'k':>4} {'trunc':>6} {'no ans':>7}"]
    for name, e in scores.items():
        if only is not None and name not in only:
            continue
        if "skipped" in e:
            lines.append(f"{name:<20} {'—':>7}  skipped: {e['skipped']}")
            continue
        if "error" in e:  # failed while running: the reason is in the error summary and scores.json
            lines.append(f"{name:<20} {'—':>7}  failed" + (f" ({e['failed']} samples)" if e.get("failed") else ""))
            continue
        ci = f"[{_fmt(e.get('ci_low'))}, {_fmt(e.get('ci_high'))}]"
        lines.append(
            f"{name:<20} {_fmt(e.get('score')):>7} {ci:>15} {e.get('n_items', 0):>6} {e.get('k', 0):>4} "
            f"{e.get('truncated', 0):>6} {e.get('no_answer', 0):>7}"
        )
    return "\n".join(lines)


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.1f}"



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
                    user_backend: Backend | None = None) -> dict:
    """Run every benchmark of `cfg`; returns scores.json."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    update_json(cfg.out / "run.json", run_json(cfg))
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
        await run_benchmark(cfg, name, backend, store, pool, judge, progress, user_backend)

    return await for_each_benchmark(cfg, store, run_one, precheck)
