"""What LongBench and HELMET share: lengths per model, length labels, rows streamed from
`--data-dir` or the Hub, prompt truncation in the model's own tokens, the raw-prompt continuation.

Rows are streamed one at a time (a JSONL file is read line by line, a Hub split is iterated from
its memory-mapped Arrow table), so a builder holds one source row and its prompt at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

from exaone_eval.types import Generation, HarnessError, Item


def lengths_for(spec, max_context: int) -> list[int]:
    """The context lengths (tokens) a model is evaluated at: `[options] lengths`, a table keyed by
    the model's `max_context` (configs/models.toml); a model not in it gets its `max_context`."""
    table = spec.options.get("lengths", {})
    if not isinstance(table, dict):
        raise HarnessError(f"tasks/{spec.name}.toml: [options] lengths must be a table max_context -> [lengths], got {table!r}")
    lengths = table.get(str(max_context), [max_context])
    if not isinstance(lengths, list) or not lengths or not all(isinstance(n, int) and n > 0 for n in lengths):
        raise HarnessError(f"tasks/{spec.name}.toml: [options] lengths.{max_context} must be a list of positive integers, got {lengths!r}")
    return sorted(lengths)


def length_label(tokens: int) -> str:
    """`32k` for 32768 (the metric names of Tables 9 and 11); a length that is not a multiple of
    1024 stays a number."""
    return f"{tokens // 1024}k" if tokens % 1024 == 0 else str(tokens)


def label_tokens(label: str) -> int:
    return int(label[:-1]) * 1024 if label.endswith("k") else int(label)


def hub_rows(bench: str, hub_id: str, config: str | None, split: str, data_file: str, **kwargs) -> Iterator[dict]:
    """A Hub split row by row; a failure (offline, gated, gone) says to use `--data-dir`."""
    from exaone_eval.data import load_hub

    ds = load_hub(bench, hub_id, config, data_file=data_file, split=split, **kwargs)
    yield from ds


def check_row(row: dict, fields: tuple[str, ...], origin: str) -> dict:
    missing = [f for f in fields if f not in row]
    if missing:
        raise HarnessError(f"{origin}: missing field {missing[0]!r}; rows need {list(fields)}")
    return row


class Fingerprint:
    """A running hash of the source rows a builder read, for run.json."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def add(self, row: dict) -> None:
        self._h.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode())
        self._h.update(b"\n")

    def hexdigest(self) -> str:
        return self._h.hexdigest()[:16]


def token_ids(tokenizer, text: str, add_special_tokens: bool = True) -> list[int]:
    return tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]


def middle_truncate(tokenizer, prompt: str, max_length: int) -> str:
    """LongBench's `pred.py`: a prompt longer than `max_length` tokens keeps its first and last
    `int(max_length / 2)` tokens (the instructions sit at both ends), decoded without special tokens."""
    ids = token_ids(tokenizer, prompt)
    if len(ids) <= max_length:
        return prompt
    half = int(max_length / 2)
    return tokenizer.decode(ids[:half], skip_special_tokens=True) + tokenizer.decode(ids[-half:], skip_special_tokens=True)


def continuation(item: Item, gen: Generation) -> str:
    """The model's text for a raw-prompt item: the runner's generation text starts with the prompt
    (a raw continuation); a saved response (`exaone-eval score`) is the continuation itself, and
    its item comes without the prompt (`items.without_prompt`), so there is nothing to cut."""
    if item.meta.get("raw_prompt"):
        if not item.messages:
            return gen.text
        prompt = item.messages[-1]["content"]
        if gen.text.startswith(prompt):
            return gen.text[len(prompt):]
        return gen.text
    return gen.answer


def tokenizer_fingerprint(tokenizer) -> str:
    """What decides how a text is tokenized and wrapped: the fast tokenizer's full definition
    (vocabulary, merges, normalizer, special tokens) and the chat template."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    definition = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    template = getattr(tokenizer, "chat_template", None) or ""
    return hashlib.sha256(f"{definition}\x1f{template}".encode()).hexdigest()[:16]


def start_build(ctx, datasets) -> tuple[object, list[int], str]:
    """The tokenizer, the lengths to build (capped by the model's context) and the tokenizer's
    fingerprint, recorded with the datasets in run.json: how every long-context builder starts."""
    tokenizer = ctx.tokenizer()
    lengths = lengths_for(ctx.spec, ctx.model.max_context)
    tokenizer_id = tokenizer_fingerprint(tokenizer)
    ctx.fingerprints.update({"tokenizer": ctx.tokenizer_name, "tokenizer_fingerprint": tokenizer_id, "lengths": lengths,
                             "datasets": list(datasets)})
    return tokenizer, lengths, tokenizer_id


class PromptCache:
    """Built prompts on disk, one file per prompt, addressed by a hash of everything that decides
    it: the benchmark's settings (`salt`: version, mode, tokenizer fingerprint) and the source
    content and length (`parts`). A rerun (a resumed run, another length's retry) reads a prompt
    instead of tokenizing a document again; a changed source row, tokenizer or setting is a new
    address, so nothing is ever stale. `ctx.cache_dir` None turns it off."""

    def __init__(self, root, salt: dict):
        self.root = Path(root) if root is not None else None
        self.salt = json.dumps(salt, sort_keys=True)
        self.hits = self.misses = 0

    def get(self, parts: dict, build) -> str:
        if self.root is None:
            return build()
        key = hashlib.sha256(f"{self.salt}\x1e{json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)}".encode()).hexdigest()
        path = self.root / key[:2] / f"{key}.txt"
        try:
            text = path.read_text(encoding="utf-8")
            self.hits += 1
            return text
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        text = build()
        self.misses += 1
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")  # written whole, then renamed: never half a prompt
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError:  # a read-only or full disk costs speed, not the run
            pass
        return text
