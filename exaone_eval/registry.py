"""The explicit registry: benchmark name -> module, and the task spec each module is driven by.

A primitive: the data loader, the config and the run's provenance read task specs here without
importing any benchmark; `get_module` loads an adapter by name (importlib), only when one runs.

A benchmark module (one file in exaone_eval/benchmarks/) exposes:
  - `to_item(row: dict) -> Item`                    one Hub row -> one prompt
  - `score(item: Item, gen: Generation) -> Score`   the official scorer's verdict on the answer part
and optionally:
  - `sample_view(item: Item, sample: int) -> Item`  a per-sample variant (e.g. GPQA's option shuffle)
  - `metrics(records: list[tuple[Item, Score]]) -> dict[str, float]`  extra 0-100 figures
  - `setting(records) -> str`                       how it was run (BFCL's calling style): scores.json
                                                    `setting`, shown beside the score in the tables
  - `keep_row(row: dict) -> bool`                   rows the benchmark's protocol excludes (WMT24++ bad sources)
  - `load_rows(spec, data_dir) -> list[dict]`       rows that ship in a package instead of the Hub (BFCL)
  - `judge_requests(item, gen) -> list[Request]`    an LLM judge scores it: `score(item, gen, judgments)`
  - `JUDGE_OPTIONAL = True`                         runs without a judge too: `score(item, gen)` marks the
                                                    judged items not scored, `metrics` names the gap (HELMET)
  - `iter_items(ctx: BuildContext) -> Iterator[Item]` builds its own prompts instead of `to_item`
                                                    (long context: sized in the model's tokens, lazily;
                                                    the runner holds only a bounded window of them)
  - `NEEDS_TOKENIZER = True`                        it needs the evaluated model's tokenizer (skipped, saying why, without)
  - `headline_metric(metrics: dict) -> str | None`  which metric is the headline `score` (RULER: the
                                                    longest length), when HEADLINE_METRIC is not fixed
A conversation (the model's answers decide what it is asked next: Multi-IF, BFCL multi-turn,
Tau-Bench) exposes instead of `score(item, gen)`:
  - `async converse(item, chat: Chat) -> Episode`   drives its turns through `chat` (exaone_eval.conversation)
  - `score(item: Item, episode: Episode) -> Score`  the verdict on the whole episode
  - `NEEDS_USER = True`                             it talks to a user simulator (`--user-base-url`)
  - `SCORES_SAVED_RESPONSES = True`                 `score(item, gen)` also judges one saved response
                                                    (`exaone-eval score`; BFCL's single-turn items)

No imports of benchmark modules happen here: `list` stays fast and never imports torch.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType

from exaone_eval.paths import shipped
from exaone_eval.types import MODES, HarnessError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# name -> module path, or None while the benchmark is not built yet (listed as such, never skipped silently).
REGISTRY: dict[str, str | None] = {
    "mmlu_redux": "exaone_eval.benchmarks.mmlu_redux",
    "mmlu_pro": "exaone_eval.benchmarks.mmlu_pro",
    "gpqa_diamond": "exaone_eval.benchmarks.gpqa_diamond",
    "aime_2025": "exaone_eval.benchmarks.aime_2025",
    "hmmt_feb_2025": "exaone_eval.benchmarks.hmmt_feb_2025",
    "livecodebench_v5": "exaone_eval.benchmarks.livecodebench_v5",
    "livecodebench_v6": "exaone_eval.benchmarks.livecodebench_v6",
    "ifeval": "exaone_eval.benchmarks.ifeval",
    "multi_if": "exaone_eval.benchmarks.multi_if",
    "helmet": "exaone_eval.benchmarks.helmet",
    "ruler": "exaone_eval.benchmarks.ruler",
    "longbench": "exaone_eval.benchmarks.longbench",
    "bfcl_v3": "exaone_eval.benchmarks.bfcl_v3",
    "tau_bench_airline": "exaone_eval.benchmarks.tau_bench_airline",
    "tau_bench_retail": "exaone_eval.benchmarks.tau_bench_retail",
    "kmmlu_pro": "exaone_eval.benchmarks.kmmlu_pro",
    "kmmlu_redux": "exaone_eval.benchmarks.kmmlu_redux",
    "ksm": "exaone_eval.benchmarks.ksm",
    "ko_longbench": None,
    "mmmlu_es": "exaone_eval.benchmarks.mmmlu_es",
    "math500_es": "exaone_eval.benchmarks.math500_es",
    "wmt24pp_es": "exaone_eval.benchmarks.wmt24pp_es",
}


@dataclass(frozen=True)
class ModeSettings:
    k: int
    max_tokens: int


@dataclass(frozen=True)
class TaskSpec:
    """tasks/<name>.toml, checked. Settings live here; prompts and regexes live in the module."""

    name: str
    title: str
    """The row label in the report's tables."""
    category: str
    version: int
    """Bumped when scores stop being comparable with earlier runs."""
    status: str
    """`ready`, `planned` (not built yet) or `in-house` (unpublished data)."""
    hub_id: str | None
    revision: str | None
    configs: tuple[str, ...]
    """Hub config names; more than one means the rows of all are concatenated (config in `config_column`)."""
    config_column: str | None
    split: str | None
    id_field: str | None
    fields: tuple[str, ...]
    """Columns every row must have."""
    gated: bool
    rows: int | None
    """The full dataset's row count, for `list`."""
    modes: dict[str, ModeSettings] = field(default_factory=dict)
    note: str = ""
    options: dict = field(default_factory=dict)
    """The benchmark's own settings (`[options]`: date windows, lengths, sandbox pool size, ...);
    the module reads and checks them, and run.json records them."""
    items: int | None = None
    """The item count of a full run where it is not `rows` (the protocol drops rows: WMT24++);
    the tables say "5 of <items> items" for a partial run."""

    @property
    def module(self) -> str | None:
        return REGISTRY[self.name]


_KNOWN_KEYS = {"name", "title", "category", "version", "status", "source", "modes", "note", "options"}
_SOURCE_KEYS = {"hub_id", "revision", "configs", "config_column", "split", "id_field", "fields", "gated", "rows", "items"}


def _spec_error(path, msg: str) -> HarnessError:
    return HarnessError(f"{path}: {msg}")


def _parse_spec(name: str, path) -> TaskSpec:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _spec_error(path, "missing task spec") from None
    except tomllib.TOMLDecodeError as e:
        raise _spec_error(path, f"not valid TOML: {e}") from None
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise _spec_error(path, f"unknown keys {sorted(unknown)}; expected {sorted(_KNOWN_KEYS)}")
    if raw.get("name") != name:
        raise _spec_error(path, f"field 'name' is {raw.get('name')!r}, expected {name!r}")
    src = raw.get("source", {})
    unknown = set(src) - _SOURCE_KEYS
    if unknown:
        raise _spec_error(path, f"unknown keys in [source]: {sorted(unknown)}; expected {sorted(_SOURCE_KEYS)}")
    modes = {}
    for mode, m in raw.get("modes", {}).items():
        if mode not in MODES:
            raise _spec_error(path, f"[modes.{mode}]: unknown mode; expected one of {list(MODES)}")
        try:
            modes[mode] = ModeSettings(k=int(m["k"]), max_tokens=int(m["max_tokens"]))
        except (KeyError, TypeError, ValueError):
            raise _spec_error(path, f"[modes.{mode}] needs integer 'k' and 'max_tokens'") from None
        if modes[mode].k < 1 or modes[mode].max_tokens < 1:
            raise _spec_error(path, f"[modes.{mode}]: k and max_tokens must be >= 1")
    status = raw.get("status", "ready")
    if status not in ("ready", "planned", "in-house"):
        raise _spec_error(path, f"field 'status' is {status!r}; expected ready, planned or in-house")
    if status == "ready" and REGISTRY[name] is None:
        raise _spec_error(path, "status is 'ready' but the registry has no module for it")
    configs = src.get("configs", [])
    if isinstance(configs, str):
        configs = [configs]
    for key in ("title", "category"):
        if not isinstance(raw.get(key), str):
            raise _spec_error(path, f"field {key!r} must be a string")
    items = src.get("items")
    if items is not None and (not isinstance(items, int) or isinstance(items, bool) or items < 1):
        raise _spec_error(path, f"[source] items is {items!r}; expected a positive integer (the item count of a full run)")
    return TaskSpec(
        name=name,
        title=raw["title"],
        category=raw["category"],
        version=int(raw.get("version", 1)),
        status=status,
        hub_id=src.get("hub_id"),
        revision=src.get("revision"),
        configs=tuple(configs),
        config_column=src.get("config_column"),
        split=src.get("split"),
        id_field=src.get("id_field"),
        fields=tuple(src.get("fields", ())),
        gated=bool(src.get("gated", False)),
        rows=src.get("rows"),
        modes=modes,
        note=raw.get("note", ""),
        options=_options(path, raw.get("options", {})),
        items=items,
    )


def _options(path, options) -> dict:
    if not isinstance(options, dict):
        raise _spec_error(path, "[options] must be a table")
    return options


def check_name(name: str) -> str:
    if name not in REGISTRY:
        raise HarnessError(f"unknown benchmark {name!r}; valid names: {', '.join(REGISTRY)}")
    return name


@lru_cache(maxsize=None)
def get_spec(name: str) -> TaskSpec:
    check_name(name)
    return _parse_spec(name, shipped("tasks") / f"{name}.toml")


def all_specs() -> list[TaskSpec]:
    return [get_spec(n) for n in REGISTRY]


@lru_cache(maxsize=None)
def get_module(name: str) -> ModuleType:
    spec = get_spec(name)
    if spec.module is None:
        what = "in-house and unpublished" if spec.status == "in-house" else "not built yet"
        raise HarnessError(f"benchmark {name!r} is {what}" + (f": {spec.note}" if spec.note else ""))
    return importlib.import_module(spec.module)


def sample_view(name: str, item, sample: int):
    fn = getattr(get_module(name), "sample_view", None)
    return item if fn is None else fn(item, sample)
