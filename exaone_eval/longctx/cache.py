"""The on-disk cache of generated long-context samples, and the fingerprints that key it.

A stream of samples (one task at one length) is deterministic given the tokenizer, the settings
and the source files, so its samples are written to `<cache_dir>/<benchmark>/<key>.jsonl` as
they are made and read back on the next run. The key hashes all three. A file holds the first n
samples of its stream; a run that wants more reads those, then regenerates the stream from its
start (it is deterministic), skips the n it has and appends the rest. A torn last line (a killed
run) is cut off. One writer at a time per file (flock); a second process generates without
writing.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


@lru_cache(maxsize=16)
def _file_digest(path: str, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_fingerprint(path: Path) -> str:
    """sha256 of a source file (hashed once per process and file version)."""
    st = Path(path).stat()
    return _file_digest(str(path), st.st_size, st.st_mtime)


def tokenizer_fingerprint(tokenizer) -> str:
    """What decides token counts and the chat wrapper: the tokenizer's full definition (vocab,
    merges, normalizer, added tokens) and its chat template."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    body = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True)
    return digest({"tokenizer": hashlib.sha256(body.encode()).hexdigest(), "chat_template": getattr(tokenizer, "chat_template", None),
                   "class": type(tokenizer).__name__})


class CachedStream:
    """The samples of one deterministic stream, from the cache file as far as it goes, then made."""

    def __init__(self, folder: Path, key: str, make: Callable[[], Iterator[dict]]):
        self.path = Path(folder) / f"{key}.jsonl"
        self.make = make

    def _cached(self) -> tuple[list[int], int]:
        """Byte offsets of the complete lines, and where the valid part ends."""
        offsets, end, last = [], 0, b""
        if not self.path.is_file():
            return offsets, 0
        with self.path.open("rb") as f:
            for line in f:
                if not line.endswith(b"\n"):  # only the last line can be torn (appends, one writer)
                    break
                offsets.append(end)
                end += len(line)
                last = line
        try:
            json.loads(last or b"{}")
        except ValueError:  # a torn line that happened to end in a newline
            offsets.pop()
            end -= len(last)
        return offsets, end

    def __iter__(self) -> Iterator[dict]:
        offsets, end = self._cached()
        with self.path.open("rb") if offsets else open(os.devnull, "rb") as f:
            for _ in offsets:  # one line at a time: a cached file of 128K prompts is never read whole
                yield json.loads(f.readline())
        have = len(offsets)
        writer = self._writer(end)
        try:
            for i, record in enumerate(self.make()):
                if i < have:
                    continue
                if writer is not None:
                    writer.write(json.dumps(record, ensure_ascii=False) + "\n")
                    writer.flush()
                yield record
        finally:
            if writer is not None:
                writer.close()

    def _writer(self, valid_end: int):
        """The cache file opened for appending after its valid part, under an exclusive lock; None
        when another process holds it (then this one only generates)."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "ab")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return None
        f.truncate(valid_end)  # a torn line from a killed run
        import io

        return io.TextIOWrapper(f, encoding="utf-8")
