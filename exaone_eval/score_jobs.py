"""Where a sample's verdict is computed: in this process, on a pool of scoring processes, on a
benchmark's own executor (sandboxes), or through an LLM judge; and collecting those verdicts,
a scorer's crash being that sample's error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor

from exaone_eval import registry
from exaone_eval.config import RunConfig
from exaone_eval.items import Planned
from exaone_eval.store import SampleStore, request_key, update_json
from exaone_eval.types import Backend, Generation, HarnessError, Item, Score


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
