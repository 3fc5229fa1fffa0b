"""What a benchmark's samples become: the sample records, the benchmark's scores.json entry
(avg@k, CI, metrics, counts), the files they are written to, and the progress bar and summary
table a person watches.

Shared by both drivers of a benchmark, the windowed one (exaone_eval/windows.py) and the
conversation one (exaone_eval/conversation.py), and by `score` and `sweep`.

A sample record names its prompt by `prompt_hash`; the prompt itself is kept once per run in
prompts/<benchmark>.jsonl (`PromptLog`), capped, so k samples of a 128K-token prompt do not copy it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Iterable

from exaone_eval import registry, stats
from exaone_eval.config import RunConfig
from exaone_eval.items import Planned
from exaone_eval.store import update_json, write_jsonl
from exaone_eval.types import Generation, HarnessError, Request, Score


def response_text(request: Request, gen: Generation) -> str:
    """The response as the samples file keeps it: for a raw-prompt request (no messages) the
    text after the prompt, so a 128K-token prompt is not copied into every sample record."""
    if not request.messages and request.prefix and gen.text.startswith(request.prefix):
        return gen.text[len(request.prefix):]
    return gen.text


PROMPT_CAP = 20_000
"""Characters of a prompt that prompts/<benchmark>.jsonl keeps: its head and its tail (a 128K-token
RULER prompt is about 500K characters; the instructions open it and the question closes it)."""
REFERENCE_CAP = 2_000
"""A reference whose JSON is longer (LiveCodeBench's test lists, up to megabytes) is not copied into
each of its k sample records: the record keeps its size only."""


def prompt_hash(request: Request) -> str:
    """The prompt's identity, shared by the sample records and prompts/<benchmark>.jsonl. A chat
    prompt alone hashes its messages (as it always has); tools and an answer prefix are part of
    what the model saw, and a raw-prompt request has no messages at all (its prompt is the prefix),
    so those hash all three."""
    payload = request.messages if request.prefix is None and not request.tools else {
        "messages": request.messages, "tools": request.tools, "prefix": request.prefix}
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def head_tail(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, half head and half tail, with a marker saying how many
    characters in the middle are not kept."""
    if len(text) <= limit:
        return text
    head = limit // 2
    return f"{text[:head]}\n[… {len(text) - limit:,} characters not kept …]\n{text[len(text) - (limit - head):]}"


def _shares(lengths: list[int], cap: int) -> list[int]:
    """Characters each text keeps when together they may keep `cap`: the short ones (a system
    prompt, an answer prefix) whole, the long ones an equal share of what is left."""
    keep, left = [0] * len(lengths), cap
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    for n, i in enumerate(order):
        keep[i] = min(lengths[i], left // (len(order) - n))
        left -= keep[i]
    return keep


def prompt_record(request: Request, digest: str | None = None) -> dict:
    """One line of prompts/<benchmark>.jsonl: `prompt_hash`, the prompt (`messages`, or `prompt`
    for a raw-prompt request), `prefix` and `tools` when present, and `chars`, the prompt's full
    length in characters; the texts are capped at PROMPT_CAP characters in all."""
    digest = digest or prompt_hash(request)
    if not request.messages and request.prefix is not None:  # raw text, no chat template (items.item_request)
        return {"prompt_hash": digest, "prompt": head_tail(request.prefix, PROMPT_CAP), "chars": len(request.prefix)}
    texts = [m.get("content") if isinstance(m.get("content"), str) else "" for m in request.messages]
    texts.append(request.prefix or "")
    keep = _shares([len(t) for t in texts], PROMPT_CAP)
    messages = [{**m, "content": head_tail(t, n)} if isinstance(m.get("content"), str) else dict(m)
                for m, t, n in zip(request.messages, texts, keep)]
    return {"prompt_hash": digest, "messages": messages,
            **({"prefix": head_tail(texts[-1], keep[-1])} if request.prefix is not None else {}),
            **({"tools": list(request.tools)} if request.tools else {}),
            "chars": sum(map(len, texts))}


class PromptLog:
    """prompts/<benchmark>.jsonl: each distinct prompt of the run once, joined to the sample records
    on `prompt_hash`. Appended as windows finish, so a long-context benchmark writes a prompt
    before it drops it; a rerun appends only the prompts the file lacks (the file sits beside
    samples/, not in it: every samples/*.jsonl is a benchmark to the gate and the tables)."""

    def __init__(self, out: Path, name: str):
        self.path = Path(out) / "prompts" / f"{name}.jsonl"
        self.seen: set[str] = set()
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        """The hashes already written. A run killed while appending leaves its last line cut: the
        file is truncated after the last whole line, and that prompt is written again."""
        end = 0
        with self.path.open("rb") as f:
            for line in f:
                try:
                    self.seen.add(json.loads(line)["prompt_hash"])
                except (ValueError, KeyError, TypeError):
                    break
                end += len(line)
        if end < os.path.getsize(self.path):
            os.truncate(self.path, end)

    def add(self, planned: Iterable[Planned]) -> None:
        lines = []
        for p in planned:
            if p.request is None or (not p.request.messages and p.request.prefix is None):
                continue  # no prompt to keep: a window's kept view (windows.py), an item scored without its built prompt
            digest = prompt_hash(p.request)
            if digest not in self.seen:
                self.seen.add(digest)
                lines.append(json.dumps(prompt_record(p.request, digest), ensure_ascii=False, default=str) + "\n")
        if lines:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write("".join(lines))


def reference_fields(reference) -> dict:
    """The gold as a sample record keeps it: `reference` when its JSON is at most REFERENCE_CAP
    characters, else only `reference_size` (that JSON's length)."""
    size = len(json.dumps(reference, ensure_ascii=False, default=str))
    return {"reference": reference} if size <= REFERENCE_CAP else {"reference_size": size}


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
        "prompt_hash": prompt_hash(p.request),
        **reference_fields(p.item.reference),
        "detail": score.detail,
        "item_meta": p.item.meta or None,
        **({"max_tokens_capped": gen.max_tokens_capped} if gen.max_tokens_capped else {}),
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
    # Samples whose max tokens the context cut below the benchmark's budget (not like the report's).
    entry["context_capped"] = sum(gens[p.key].max_tokens_capped is not None for p in done)
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
