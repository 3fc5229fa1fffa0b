"""Rows -> Items -> planned samples: what the runner asks the store and the backend for.

A benchmark's Items come from its rows (`to_item`, after `keep_row`) or from its own builder
(`iter_items(BuildContext)`, long prompts sized in the model's tokens, streamed); each Item
becomes k Planned samples with their own seeds and content-addressed keys.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from exaone_eval import registry
from exaone_eval.config import RunConfig, sample_seed, sampling_for
from exaone_eval.data import load_rows, origin_of, two_origins
from exaone_eval.store import request_key
from exaone_eval.tokenizer import load_tokenizer
from exaone_eval.types import BuildContext, HarnessError, Item, Request


@dataclass
class Planned:
    """One sample to produce: the (per-sample view of the) item and its request."""

    item: Item
    sample: int
    seed: int
    request: Request
    key: str


def plan(cfg: RunConfig, name: str, items: Iterable[Item]) -> list[Planned]:
    return list(plan_iter(cfg, name, items))


def plan_iter(cfg: RunConfig, name: str, items: Iterable[Item], only: set[tuple[str, int]] | None = None) -> Iterator[Planned]:
    """Each item's k samples, as the items come (a lazy source stays lazy). With `only` (a gate
    plan's (item id, sample) units: exaone_eval/planned_run.py), just those samples, with the
    seeds and sampling settings of the full run's k, so they pair with the baseline's."""
    spec = registry.get_spec(name)
    settings = spec.modes.get(cfg.mode)
    if settings is None:
        raise HarnessError(f"{name} has no [modes.{cfg.mode}] settings in tasks/{name}.toml")
    k = cfg.k or settings.k
    own_cap = getattr(registry.get_module(name), "max_tokens_for", None)  # RULER: each task's tokens_to_generate
    for item in items:
        # Long-context sets cap each item's answer (RULER's tokens_to_generate, LongBench's dataset2maxlen).
        max_tokens = own_cap(item) if own_cap is not None else item.meta.get("max_new_tokens", settings.max_tokens)
        for s in range(k):
            if only is not None and (item.id, s) not in only:
                continue
            seed = sample_seed(cfg.seed, name, item.id, s)
            view = registry.sample_view(name, item, s)
            # Some prompts go as raw text, without the chat template (see item_request).
            request = item_request(view, sampling_for(cfg.model, cfg.mode, k, max_tokens, seed), cfg.mode)
            yield Planned(view, s, seed, request, request_key(cfg.model.hf_id, request))


def item_request(item: Item, sampling, mode: str) -> Request:
    """The request for one sample. An item with `meta["raw_prompt"]` is sent as raw text, with no
    chat template (LongBench's few-shot sets, HELMET's non-chat tasks): a request without messages
    whose `prefix` is the prompt, which every backend continues as it is (the completions endpoint
    over a server); its generation's text starts with the prompt."""
    if item.meta.get("raw_prompt"):
        return Request(messages=(), tools=None, sampling=sampling, mode=mode, prefix=item.messages[-1]["content"])
    return Request(messages=item.messages, tools=item.tools, sampling=sampling, mode=mode, prefix=item.prefix)


def build_context(cfg: RunConfig, name: str) -> BuildContext:
    """What an `iter_items` builder gets: settings, data dir, the model's tokenizer, a cache."""
    from exaone_eval.model.gguf import cache_root

    tokenizer = cfg.tokenizer
    # The checkpoint carries its own; so does a preset that names a local checkpoint (the demo
    # model, also when it is evaluated through `serve` with --base-url).
    if tokenizer is None and (cfg.backend in ("bundled", "vllm") or cfg.model.backend == "bundled"):
        from exaone_eval.backends import bundled_checkpoint

        tokenizer = str(bundled_checkpoint(cfg.model.hf_id))
    spec = registry.get_spec(name)
    spec = dataclasses.replace(spec, options=task_options(cfg, name))
    return BuildContext(spec=spec, data_dir=cfg.data_dir, model=cfg.model, mode=cfg.mode,
                        limit=cfg.limit, cache_dir=cache_root() / "prompts", tokenizer_name=tokenizer,
                        tokenizer_loader=load_tokenizer)


def task_options(cfg: RunConfig, name: str) -> dict:
    """The spec's `[options]` with the suite's overrides on top."""
    return {**registry.get_spec(name).options, **cfg.task_options.get(name, {})}


def load_items(cfg: RunConfig, name: str) -> tuple[list[Item], str]:
    """Every item of a benchmark, as a list. A benchmark that builds its own (long) prompts gives its
    items here without their prompts (ids, references, meta: what `score` needs); `run` streams
    them instead (`stream_items`)."""
    spec = registry.get_spec(name)
    module = registry.get_module(name)
    if hasattr(module, "iter_items"):
        items, fingerprint = stream_items(cfg, name)
        return [without_prompt(item) for item in items], fingerprint()
    rows, fingerprint = load_rows(spec, cfg.data_dir)
    keep = getattr(module, "keep_row", None)  # rows the benchmark's own protocol excludes (e.g. WMT24++ bad sources)
    items: list[Item] = []
    first_at: dict[str, str] = {}  # item id -> where its row is
    repeats: dict[str, int] = {}
    for i, row in enumerate(rows):
        if keep is not None and not keep(row):
            continue
        where = origin_of(rows, i, f"row {i + 1}")
        try:
            item = module.to_item(row)
        except (KeyError, TypeError, ValueError) as e:
            raise HarnessError(f"{name}: {where}: cannot build a prompt ({type(e).__name__}: {e})") from None
        if item.id in first_at:
            if not ids_from_content(module, row):  # the dataset's own id column repeats: its data is wrong
                raise HarnessError(f"{name}: duplicate item id {item.id!r}: {two_origins(first_at[item.id], where)}")
            # An identical row (the rows have no id column): the official scorers count it again, so
            # it is an item of its own, told apart by its ordinal among the repeats.
            repeats[item.id] = repeats.get(item.id, 1) + 1
            item = dataclasses.replace(item, id=f"{item.id}#{repeats[item.id]}")
        first_at[item.id] = where
        items.append(item)
    if cfg.limit is not None:
        items = items[: cfg.limit]
    return items, fingerprint


def ids_from_content(module, row: dict) -> bool:
    """Whether the module's id for `row` is made from the row's content (`ID_FROM_CONTENT`: True,
    or a predicate on the row when only some rows lack an id column of their own)."""
    flag = getattr(module, "ID_FROM_CONTENT", False)
    return bool(flag(row) if callable(flag) else flag)


def stream_items(cfg: RunConfig, name: str) -> tuple[Iterator[Item], Callable[[], str]]:
    """A benchmark's items as an iterator (built as they are taken: see BuildContext), and a
    function that gives its data fingerprint once the iterator has started."""
    module = registry.get_module(name)
    if not hasattr(module, "iter_items"):
        items, fingerprint = load_items(cfg, name)
        return iter(items), lambda: fingerprint
    ctx = build_context(cfg, name)
    return itertools.islice(module.iter_items(ctx), cfg.limit), lambda: json.dumps(ctx.fingerprints, sort_keys=True)


def without_prompt(item: Item) -> Item:
    """What is kept of an item once its samples are generated and scored: never its prompt."""
    return dataclasses.replace(item, messages=(), tools=None, prefix=None)
