"""`exaone-eval score`: verdicts on saved generations, with no model.

The responses file is JSONL, one object per generation: `{"id": <item id>, "response": <full
text incl. any <think> part>}`, optional `"sample"` (int). Each response goes through the same
reasoning split, scorers and aggregation as `run`, so the figures match.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from exaone_eval import registry
from exaone_eval.config import ModelPreset, RunConfig
from exaone_eval.provenance import scorer_fingerprint
from exaone_eval.reasoning import split_reasoning
from exaone_eval.items import Planned, load_items
from exaone_eval.results import PromptLog, aggregate, sample_record
from exaone_eval.score_jobs import Judge, benchmark_executor, make_scoring_pool, score_one
from exaone_eval.store import SampleStore, update_json, write_jsonl
from exaone_eval.types import Generation, HarnessError, Request, Sampling


def read_responses(path: Path, known_ids: set[str]) -> list[tuple[str, int, str, int | None]]:
    """(id, sample, response, seed) per line, checked; samples without a number count up per id."""
    if not path.is_file():
        raise HarnessError(f"{path}: no such file")
    rows, next_sample, seen = [], {}, set()
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise HarnessError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise HarnessError(f"{path}:{lineno}: expected a JSON object with 'id' and 'response'")
            for field, kind in (("id", (str, int)), ("response", str)):
                if field not in obj:
                    raise HarnessError(f"{path}:{lineno}: missing field {field!r}")
                if not isinstance(obj[field], kind) or isinstance(obj[field], bool):
                    raise HarnessError(f"{path}:{lineno}: field {field!r} must be a {'string' if field == 'response' else 'string or integer'}")
            item_id = str(obj["id"])
            if item_id not in known_ids:
                raise HarnessError(f"{path}:{lineno}: unknown item id {item_id!r} for this benchmark")
            sample = obj.get("sample", next_sample.get(item_id, 0))
            if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
                raise HarnessError(f"{path}:{lineno}: field 'sample' must be an integer >= 0")
            if (item_id, sample) in seen:
                raise HarnessError(f"{path}:{lineno}: a second response for id {item_id!r} sample {sample}")
            seen.add((item_id, sample))
            next_sample[item_id] = sample + 1
            seed = obj.get("seed") if isinstance(obj.get("seed"), int) else None
            rows.append((item_id, sample, obj["response"], seed))
    if not rows:
        raise HarnessError(f"{path}: no responses")
    return rows


def use_scoring_pool(name: str, n_responses: int) -> bool:
    """Worker processes for slow scorers (math-verify) on many responses. EXAONE_EVAL_SCORING_POOL
    = on / off forces the choice, so a test can show that no verdict depends on it."""
    forced = os.environ.get("EXAONE_EVAL_SCORING_POOL", "auto")
    if forced not in ("on", "off", "auto"):
        raise HarnessError(f"EXAONE_EVAL_SCORING_POOL={forced!r}; expected on, off or auto")
    if forced != "auto":
        return forced == "on"
    return getattr(registry.get_module(name), "SCORE_IN_PROCESSES", False) and n_responses > 64


def generation_from_text(text: str) -> Generation:
    split = split_reasoning(text)
    return Generation(text=text, reasoning=split.reasoning, answer=split.answer, reasoning_closed=split.closed)


def score_responses(
    name: str,
    responses: Path,
    out: Path,
    data_dir: Path | None = None,
    judge_base_url: str | None = None,
    judge_model: str | None = None,
    judge_api_key: str | None = None,
    tokenizer: str | None = None,
    sandbox: str = "auto",
) -> dict:
    spec = registry.get_spec(name)
    module = registry.get_module(name)
    if hasattr(module, "converse") and not getattr(module, "SCORES_SAVED_RESPONSES", False):
        raise HarnessError(f"{name} is a conversation (each turn depends on the model's earlier answers), so one saved "
                           "response per item cannot be scored: run it with `exaone-eval run`, whose store replays saved turns")
    cfg = RunConfig(suite="score", mode="non-reasoning", model=ModelPreset("responses", "responses"), backend="none",
                    benchmarks=[name], out=out, data_dir=data_dir, judge_base_url=judge_base_url,
                    judge_model=judge_model, judge_api_key=judge_api_key, tokenizer=tokenizer, sandbox=sandbox)
    items, fingerprint = load_items(cfg, name)
    by_id = {item.id: item for item in items}
    rows = read_responses(responses, set(by_id))
    planned, gens = [], {}
    for item_id, sample, text, seed in rows:
        key = f"{item_id}\x1f{sample}"
        view = registry.sample_view(name, by_id[item_id], sample)
        request = Request(messages=view.messages, sampling=Sampling(temperature=0.0), mode="non-reasoning", tools=view.tools)
        planned.append(Planned(view, sample, seed, request, key))
        gens[key] = generation_from_text(text)
    scores = asyncio.run(_score_all(cfg, name, planned, gens))
    write_jsonl(out / "samples" / f"{name}.jsonl", [sample_record(p, gens[p.key], scores[p.key]) for p in planned])
    PromptLog(out, name).add(planned)
    k = max(sum(1 for p in planned if p.item.id == i) for i in {p.item.id for p in planned})
    entry = aggregate(name, k, planned, scores, gens)
    update_json(out / "run.json", {"command": "score", "benchmark": name, "responses": str(responses),
                                   "versions": {name: spec.version}, "task_options": {name: spec.options},
                                   "data_fingerprints": {name: fingerprint}, "scorer_fingerprint": scorer_fingerprint([name])},
                merge_keys=("versions", "task_options", "data_fingerprints", "scorer_fingerprint"))
    update_json(out / "scores.json", {name: entry})
    return entry


async def _score_all(cfg: RunConfig, name: str, planned: list[Planned], gens: dict) -> dict:
    backend = None
    if Judge.wants(name):
        from exaone_eval.backends import make_judge_backend

        backend = make_judge_backend(cfg)
    if backend is None and Judge.required(name):
        raise HarnessError(f"{name} is scored by an LLM judge: pass --judge-base-url and --judge-model")
    if backend is not None:
        await backend.check()
        judge = Judge(backend, cfg.judge_model, SampleStore(cfg.out / "store.sqlite"))
        try:
            results = await asyncio.gather(*(judge.score(name, p, gens[p.key]) for p in planned))
        finally:
            await backend.aclose()
        return {p.key: s for p, s in zip(planned, results)}
    # Code scores on its own pool of sandboxes; slow scorers (math-verify) on worker processes.
    executor = benchmark_executor(cfg, name)
    if executor is None and use_scoring_pool(name, len(planned)):
        executor = make_scoring_pool()
    if executor is not None:
        loop = asyncio.get_running_loop()
        try:
            results = await asyncio.gather(*(loop.run_in_executor(executor, score_one, name, p.item, gens[p.key]) for p in planned))
        finally:
            executor.shutdown()
        return {p.key: s for p, s in zip(planned, results)}
    return {p.key: score_one(name, p.item, gens[p.key]) for p in planned}
