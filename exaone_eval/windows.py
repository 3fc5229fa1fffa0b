"""One benchmark's samples, generated and scored in windows: items x k samples -> store ->
backend -> scorer -> samples file and scores entry.

A benchmark whose prompts are a list goes as one window; one that builds its own long prompts
goes in bounded windows, built while the previous one generates (see `run_windows`).
Conversations have their own driver (exaone_eval/conversation.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from concurrent.futures import Executor

from exaone_eval import registry
from exaone_eval.config import RunConfig
from exaone_eval.items import Planned, build_context, plan_iter, stream_items, without_prompt
from exaone_eval.results import Progress, PromptLog, SamplesFailed, sample_record, write_results
from exaone_eval.score_jobs import Judge, collect_scores, score_one, settled
from exaone_eval.store import SampleStore
from exaone_eval.types import Backend, Generation, Score


WINDOW_MIN = 8
"""A lazy benchmark's window is max(--concurrency, WINDOW_MIN) samples; two windows are in flight."""


async def run_windows(
    cfg: RunConfig,
    name: str,
    backend: Backend,
    store: SampleStore,
    pool: Executor | None,
    judge: Judge | None = None,
    progress: bool = True,
    only: set[tuple[str, int]] | None = None,
) -> dict:
    """Generate what the store lacks, score everything, write samples/<name>.jsonl; return the scores entry.

    A benchmark with a list of items goes as one window. One that builds its own long prompts
    (`iter_items`) goes in windows of `max(concurrency, WINDOW_MIN)` samples, built in a thread
    while the previous window generates; at most two windows are in flight, so the backend is fed
    without a gap and at most about three windows of prompts are in memory. A prompt is dropped
    once its samples are generated and scored: the samples file and the aggregate keep none, and
    prompts/<name>.jsonl has kept it (capped) once.
    """
    module = registry.get_module(name)
    k = cfg.k or registry.get_spec(name).modes[cfg.mode].k
    lazy = hasattr(module, "iter_items")
    items, fingerprint = stream_items(cfg, name)
    planned_source = plan_iter(cfg, name, items, only)  # only: a gate plan's samples (planned_run.py)
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
    prompts = PromptLog(cfg.out, name)

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
        prompts.add(window)  # before the prompts are dropped just below
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


def give_renderer(backend: Backend, cfg: RunConfig, name: str) -> None:
    """Requests with an answer prefix (RULER) go to a server's completions endpoint as raw text:
    an OpenAI-compatible backend renders them with the model's tokenizer (the one that sized them)."""
    if getattr(backend, "render", False) is None:
        from exaone_eval.reasoning import render_chat

        tokenizer = build_context(cfg, name).tokenizer()
        backend.render = lambda request: render_chat(tokenizer, request)
