"""The reasoning-budget sweep of Table 7, by truncation: one long reasoning per sample, not seven.

Report section 3.5: when the reasoning reaches the budget b, stop, append BUDGET_FORCING_TEXT and
generate the answer (at most `answer_max_tokens`, 8K). Sampling is prefix-consistent: the first b
tokens of a reasoning sampled under a larger budget B are distributed exactly as a reasoning
sampled under budget b (on the bundled engine, whose draws are keyed by position, they are the
same tokens). So each sample is generated once under the largest budget B, and for every smaller
budget b:
- if the reasoning was still open after b tokens: its first b tokens plus the forcing text become
  a `Request.prefix`, and only the answer is generated (the prompt and reasoning prefix are
  reused: vLLM's prefix cache, the completions endpoint with a raw prompt);
- otherwise (it closed, or ended, within b tokens) the budget never bit: the sample under B is
  also the sample under b, and nothing is generated.
docs/sweep.md gives the argument. Every (sample, budget) pair is stored under the key of the
direct budget-b request, so a rerun resumes and `samples/<benchmark>.jsonl` records `budget`;
scores.json gets one `<benchmark>@<budget>` entry per budget (the format `tables` reads).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

from exaone_eval import registry
from exaone_eval.config import RunConfig
from exaone_eval.reasoning import BUDGET_FORCING_TEXT, THINK_CLOSE, render_chat
from exaone_eval.items import Planned, load_items, plan
from exaone_eval.results import Progress, PromptLog, SamplesFailed, aggregate, sample_record
from exaone_eval.runner import for_each_benchmark, run_json
from exaone_eval.score_jobs import collect_scores, score_one
from exaone_eval.store import SampleStore, request_key, update_json, write_jsonl
from exaone_eval.types import Backend, Generation, HarnessError, Request, Score

DEFAULT_ANSWER_MAX_TOKENS = 8192  # the report's cap on the forced answer


def parse_budgets(text: str) -> tuple[int, ...]:
    """`1k,2k,64k` (k = 1024) or plain token counts -> sorted distinct budgets."""
    budgets = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(k?)", part)
        if match is None or int(match.group(1)) < 1:
            raise HarnessError(f"--budgets: {part!r} is not a token count (expected e.g. 1k,2k,4k or 1024,2048)")
        budgets.add(int(match.group(1)) * (1024 if match.group(2) else 1))
    if not budgets:
        raise HarnessError("--budgets: expected at least one budget, e.g. 1k,2k,4k,8k,16k,32k,64k")
    return tuple(sorted(budgets))


# ---- the model's tokens -----------------------------------------------------------------------------


class Tokens:
    """The model's tokens of a generation, for counting and truncating its reasoning."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def decode(self, ids: list[int]) -> str:
        # As the bundled engine decodes: special tokens (`</think>`) kept, spaces untouched.
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def generated_ids(self, gen: Generation) -> list[int]:
        """The generated tokens: exactly as sampled when the backend reports them (the bundled
        engine's `token_ids`), else the text re-encoded (an OpenAI-compatible server returns text)."""
        if gen.meta.get("token_ids") is not None:
            return list(gen.meta["token_ids"])
        text = gen.text
        if gen.meta.get("forced_at") is not None:  # only the reasoning before the forcing text counts
            cut = text.find(BUDGET_FORCING_TEXT)
            text = text[:cut] if cut >= 0 else text
        return self.tokenizer.encode(text, add_special_tokens=False)

    def open_reasoning_tokens(self, gen: Generation, ids: list[int]) -> int:
        """Tokens generated while the reasoning was open, counting the one that closed (or ended)
        it: the smallest budget under which this sample is not forced."""
        if gen.meta.get("forced_at") is not None:
            return int(gen.meta["forced_at"])
        if THINK_CLOSE not in self.decode(ids):
            return len(ids)  # it never closed: ended by eos or max tokens
        lo, hi = 1, len(ids)  # the first prefix whose text holds `</think>`
        while lo < hi:
            mid = (lo + hi) // 2
            if THINK_CLOSE in self.decode(ids[:mid]):
                hi = mid
            else:
                lo = mid + 1
        return lo


def load_chat_tokenizer(name: str):
    """The model's tokenizer with its chat template, from local files only (no Hub access)."""
    from exaone_eval.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(name, purpose="the budget sweep over an OpenAI-compatible server renders raw prompts for the completions endpoint")
    if not getattr(tokenizer, "chat_template", None):
        raise HarnessError(f"--tokenizer {name}: the tokenizer has no chat template")
    return tokenizer


def prepare_tokens(backend: Backend, cfg: RunConfig, tokenizer: str | None = None) -> Tokens:
    """The tokenizer the sweep counts with; an OpenAI-compatible backend also gets its renderer."""
    own = getattr(backend, "tokenizer", None)
    if own is not None:  # the bundled engine samples with its own tokenizer
        if tokenizer is not None:
            raise HarnessError(f"--tokenizer is for the openai backend; the {cfg.backend} backend uses the checkpoint's own")
        return Tokens(own)
    if hasattr(backend, "render"):
        loaded = load_chat_tokenizer(tokenizer or cfg.model.hf_id)
        backend.render = lambda request: render_chat(loaded, request)
        return Tokens(loaded)
    raise HarnessError(f"the {cfg.backend} backend cannot run the budget sweep (it needs a tokenizer and prefixes)")


# ---- one benchmark ------------------------------------------------------------------------------------


@dataclass
class Pair:
    """One (sample, budget): the direct budget-b request (its key is the store key) and its source."""

    planned: Planned
    budget: int
    source: str = ""
    """`full` (generated under the largest budget), `reused` (the budget never bit) or `truncated`."""
    generated_tokens: int | None = None
    """Tokens generated for this pair by the sweep (0 when reused)."""


def budget_request(request: Request, budget: int, answer_max_tokens: int) -> Request:
    return dataclasses.replace(request, reasoning_budget=budget, answer_max_tokens=answer_max_tokens)


def continuation(request: Request, prefix: str, answer_max_tokens: int) -> Request:
    """Continue from a truncated reasoning plus the forcing text: only the answer is generated."""
    return dataclasses.replace(request, reasoning_budget=None, answer_max_tokens=answer_max_tokens, prefix=prefix)


def _strip(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k != "token_ids"}


def reused(full: Generation, budget: int, largest: int) -> Generation:
    return dataclasses.replace(full, meta={**_strip(full.meta), "budget": budget, "reused_from": largest, "generated_tokens": 0})


def joined(full: Generation, answer: Generation, budget: int, largest: int) -> Generation:
    """The budget-b generation: `answer` continued the first b reasoning tokens plus the forcing
    text, and its text starts with that prefix. Token counts are those of a direct budget-b run."""
    return dataclasses.replace(
        answer,
        prompt_tokens=full.prompt_tokens,
        completion_tokens=budget + (answer.completion_tokens or 0),
        meta={**_strip(answer.meta), "budget": budget, "forced_at": budget, "truncated_from": largest,
              "generated_tokens": answer.completion_tokens},
    )


class Sweep:
    """The sweep of one benchmark: generates what the store lacks, then scores every pair."""

    def __init__(self, cfg: RunConfig, name: str, backend: Backend, store: SampleStore, tokens: Tokens, progress: bool):
        self.cfg, self.name, self.backend, self.store, self.tokens = cfg, name, backend, store, tokens
        self.budgets = tuple(sorted(cfg.budgets))
        self.largest = self.budgets[-1]
        self.answer_max = cfg.answer_max_tokens or DEFAULT_ANSWER_MAX_TOKENS
        self.progress = progress
        self.errors: list[str] = []

    def pairs(self, planned: list[Planned]) -> dict[int, list[Pair]]:
        """budget -> the pairs of every sample, keyed by the direct budget-b request."""
        model = self.cfg.model.hf_id
        out = {}
        for b in self.budgets:
            out[b] = []
            for p in planned:
                request = budget_request(p.request, b, self.answer_max)
                out[b].append(Pair(dataclasses.replace(p, request=request, key=request_key(model, request)), b))
        return out

    def _put(self, pair: Pair, gen: Generation) -> None:
        p = pair.planned
        self.store.put(p.key, gen, benchmark=self.name, item_id=p.item.id, sample=p.sample, model=self.cfg.model.hf_id)

    async def generate(self, by_budget: dict[int, list[Pair]]) -> dict[str, Generation]:
        keys = [pair.planned.key for pairs in by_budget.values() for pair in pairs]
        gens = self.store.get_many(keys)
        n = len(by_budget[self.largest])
        # sample index -> its smaller-budget pairs still missing
        missing = {i: [by_budget[b][i] for b in self.budgets[:-1] if by_budget[b][i].planned.key not in gens] for i in range(n)}
        fulls = [by_budget[self.largest][i] for i in range(n)]
        to_generate = [i for i in range(n) if fulls[i].planned.key not in gens]
        tasks: list[asyncio.Task] = []
        bar = Progress(f"{self.name} @{self.largest}", n, n - len(to_generate), self.progress)
        for i in range(n):  # samples whose full generation is already stored continue at once
            if i not in to_generate and missing[i]:
                tasks.append(asyncio.ensure_future(self.derive(fulls[i], gens[fulls[i].planned.key], missing[i], gens)))
        try:
            async for j, gen in self.backend.generate([fulls[i].planned.request for i in to_generate]):
                i = to_generate[j]
                if gen.error is not None:
                    self.errors.append(gen.error)
                    continue
                self._put(fulls[i], gen)
                gens[fulls[i].planned.key] = gen
                bar.update(gen)
                if missing[i]:  # the answers under smaller budgets start while other samples still reason
                    tasks.append(asyncio.ensure_future(self.derive(fulls[i], gen, missing[i], gens)))
        finally:
            bar.close()
            await asyncio.gather(*tasks)
        return gens

    async def derive(self, full_pair: Pair, full: Generation, pairs: list[Pair], gens: dict[str, Generation]) -> None:
        """The smaller budgets of one sample: reuse where the budget never bit, else truncate and force."""
        ids = self.tokens.generated_ids(full)
        opened = self.tokens.open_reasoning_tokens(full, ids)
        to_force = []
        for pair in pairs:
            if opened <= pair.budget:
                gen = reused(full, pair.budget, self.largest)
                self._put(pair, gen)
                gens[pair.planned.key] = gen
            else:
                prefix = self.tokens.decode(ids[: pair.budget]) + BUDGET_FORCING_TEXT
                to_force.append((pair, continuation(full_pair.planned.request, prefix, self.answer_max)))
        async for j, answer in self.backend.generate([request for _, request in to_force]):
            pair = to_force[j][0]
            if answer.error is not None:
                self.errors.append(answer.error)
                continue
            gen = joined(full, answer, pair.budget, self.largest)
            self._put(pair, gen)
            gens[pair.planned.key] = gen


def _source(gen: Generation) -> tuple[str, int | None]:
    if "reused_from" in gen.meta:
        return "reused", 0
    if "truncated_from" in gen.meta:
        return "truncated", gen.meta.get("generated_tokens")
    return "full", gen.completion_tokens


async def _score_all(name: str, pairs: list[Pair], gens: dict[str, Generation], pool) -> tuple[dict[str, Score], dict[str, str]]:
    """The scores, and why each sample whose scoring failed has none (see score_jobs.collect_scores)."""
    loop = asyncio.get_running_loop()
    futures = {}
    for pair in pairs:
        key = pair.planned.key
        if key in gens and key not in futures:
            futures[key] = (loop.run_in_executor(pool, score_one, name, pair.planned.item, gens[key]) if pool is not None
                            else asyncio.to_thread(score_one, name, pair.planned.item, gens[key]))
    return await collect_scores(futures)


async def sweep_benchmark(cfg: RunConfig, name: str, backend: Backend, store: SampleStore, tokens: Tokens,
                          pool=None, progress: bool = True) -> dict:
    """Generate, score and write one benchmark's sweep; returns its `<name>@<budget>` entries."""
    if registry.get_spec(name).modes.get(cfg.mode) is None:
        raise HarnessError(f"{name} has no [modes.{cfg.mode}] settings in tasks/{name}.toml")
    if hasattr(registry.get_module(name), "judge_requests"):
        raise HarnessError(f"{name}: the budget sweep does not run judged benchmarks")
    items, fingerprint = load_items(cfg, name)
    planned = plan(cfg, name, items)
    PromptLog(cfg.out, name).add(planned)  # every budget's samples share their item's prompt
    k = cfg.k or registry.get_spec(name).modes[cfg.mode].k
    sweep = Sweep(cfg, name, backend, store, tokens, progress)
    by_budget = sweep.pairs(planned)
    gens = await sweep.generate(by_budget)
    all_pairs = [pair for pairs in by_budget.values() for pair in pairs]
    scores, failed = await _score_all(name, all_pairs, gens, pool)
    sweep.errors += [f"item {pair.planned.item.id} sample {pair.planned.sample} budget {pair.budget}: {failed[pair.planned.key]}"
                     for pair in all_pairs if pair.planned.key in failed]

    entries, records = {}, []
    generated = direct = 0
    for b, pairs in by_budget.items():
        used = 0
        for pair in pairs:
            gen = gens.get(pair.planned.key)
            if gen is None or pair.planned.key not in scores:  # failed: in sweep.errors, retried by a rerun
                continue
            pair.source, pair.generated_tokens = _source(gen)
            used += pair.generated_tokens or 0
            direct += gen.completion_tokens or 0
            records.append({**sample_record(pair.planned, gen, scores[pair.planned.key]), "budget": b,
                            "source": pair.source, "generated_tokens": pair.generated_tokens})
        entry = aggregate(name, k, [pair.planned for pair in pairs], scores, gens)
        entry.update(budget=b, generated_tokens=used, failed=sum(pair.planned.key not in scores for pair in pairs))
        entries[f"{name}@{b}"] = entry
        generated += used
    write_jsonl(cfg.out / "samples" / f"{name}.jsonl", records)
    update_json(cfg.out / "run.json", {
        "data_fingerprints": {name: fingerprint},
        # What the sweep generated, beside what separate runs per budget would have (exactly the
        # same samples: a direct budget-b run's completion tokens).
        "sweep_tokens": {name: {"generated": generated, "separate_runs": direct}},
    }, merge_keys=("data_fingerprints", "sweep_tokens"))
    update_json(cfg.out / "scores.json", entries)
    if sweep.errors:
        raise SamplesFailed(name, sweep.errors, len(all_pairs), what="budget-sweep requests or scorings")
    return entries


async def run_sweep(cfg: RunConfig, backend: Backend, tokenizer: str | None = None, progress: bool = True) -> dict:
    """The sweep over every benchmark of `cfg` (`cfg.budgets`); returns scores.json. As with
    `run_suite`, a benchmark that cannot run is recorded as skipped and the others still run."""
    if not cfg.budgets:
        raise HarnessError("the budget sweep needs budgets (--budgets 1k,2k,...)")
    if cfg.mode != "reasoning":
        raise HarnessError(f"the budget sweep caps the reasoning: it runs in reasoning mode, not {cfg.mode}")
    tokens = prepare_tokens(backend, cfg, tokenizer)
    cfg.out.mkdir(parents=True, exist_ok=True)
    update_json(cfg.out / "run.json", {**run_json(cfg), "tokenizer": tokenizer or cfg.model.hf_id})
    store = SampleStore(cfg.out / "store.sqlite")

    async def sweep_one(name: str, pool) -> None:
        await sweep_benchmark(cfg, name, backend, store, tokens, pool, progress)

    return await for_each_benchmark(cfg, store, sweep_one)


def token_summary(out: Path) -> str:
    """One line per benchmark: tokens the sweep generated against separate runs per budget."""
    tokens = json.loads((Path(out) / "run.json").read_text()).get("sweep_tokens", {})
    lines = []
    for name, t in tokens.items():
        ratio = f" ({t['generated'] / t['separate_runs']:.2f}x)" if t["separate_runs"] else ""
        lines.append(f"{name}: generated {t['generated']:,} tokens; separate runs per budget: {t['separate_runs']:,}{ratio}")
    return "\n".join(lines)
