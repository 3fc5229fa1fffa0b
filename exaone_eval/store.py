"""The sample store: every finished generation, durably, under a content-addressed key.

One SQLite file per run directory (`store.sqlite`, WAL mode). A generation counts only once its
row is committed, so `kill -9` at any moment loses at most the requests in flight, and a rerun
of the same command finds every finished sample by key and never generates it again. The key
hashes what determines the output: the model, the rendered request (messages, tools, mode,
budget, prefix) and its sampling parameters including the seed. Judge calls live here too,
under the judge model's name.

The human-readable `samples/<benchmark>.jsonl` files are derived from this store after scoring.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

from exaone_eval.types import Generation, Request


def _fields(obj) -> dict:
    """A dataclass as a dict, nested dataclasses too, but without `dataclasses.asdict`'s deep copy
    of every message (a fifth of the harness's time per request against a fast server)."""
    return {f.name: (_fields(v) if dataclasses.is_dataclass(v) else v) for f in dataclasses.fields(obj) for v in (getattr(obj, f.name),)}


def request_key(model: str, request: Request) -> str:
    payload = json.dumps({"model": model, "request": _fields(request)}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def generation_to_json(gen: Generation) -> str:
    return json.dumps(dataclasses.asdict(gen), ensure_ascii=False)


def generation_from_json(text: str) -> Generation:
    raw = json.loads(text)
    if raw.get("tool_calls") is not None:
        raw["tool_calls"] = tuple(raw["tool_calls"])
    return Generation(**raw)


class SampleStore:
    """Finished generations of one run directory."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a commit survives the process being killed (the WAL is in the OS cache); only
        # a power cut may drop the last commits, which a rerun simply regenerates.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS generations (
                key TEXT PRIMARY KEY,
                benchmark TEXT NOT NULL,
                item_id TEXT NOT NULL,
                sample INTEGER NOT NULL,
                role TEXT NOT NULL,
                model TEXT NOT NULL,
                generation TEXT NOT NULL,
                created REAL NOT NULL
            )"""
        )

    def get_many(self, keys: list[str]) -> dict[str, Generation]:
        found: dict[str, Generation] = {}
        for start in range(0, len(keys), 500):  # SQLite caps bound parameters
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, text in self._db.execute(f"SELECT key, generation FROM generations WHERE key IN ({marks})", chunk):
                found[key] = generation_from_json(text)
        return found

    def put(self, key: str, gen: Generation, *, benchmark: str, item_id: str, sample: int, model: str, role: str = "generation") -> None:
        if gen.error is not None:
            raise ValueError("failed generations are not stored: a rerun must retry them")
        self._db.execute(
            "INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key, benchmark, item_id, sample, role, model, generation_to_json(gen), time.time()),
        )

    def count(self, benchmark: str | None = None) -> int:
        if benchmark is None:
            return self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM generations WHERE benchmark = ?", (benchmark,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file so that a reader (or a crash) never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_jsonl(path: Path, records: list[dict]) -> None:
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records))


def update_json(path: Path, updates: dict, merge_keys: tuple[str, ...] = ()) -> dict:
    """Merge `updates` into the JSON object at `path` (created if absent) and rewrite it atomically.

    Top-level keys are replaced, except those in `merge_keys`, whose dict values are merged one
    level down (run.json's per-benchmark `data_fingerprints`, written benchmark by benchmark).
    """
    current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for key in merge_keys:
        if key in updates:
            updates = {**updates, key: {**current.get(key, {}), **updates[key]}}
    current.update(updates)
    write_atomic(path, json.dumps(current, indent=2, ensure_ascii=False, default=str) + "\n")
    return current
