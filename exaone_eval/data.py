"""Where a benchmark's rows come from: `--data-dir` files, a module's own source, or the Hub.

Order: `DIR/<benchmark>.jsonl` (or `.parquet`, `.csv`) when `--data-dir` has it, in the SAME schema as the
Hub dataset it replaces; else the module's `load_rows(spec, data_dir)` hook when it has one (data
shipped inside a package, e.g. BFCL's); else `datasets.load_dataset` on the spec's pinned Hub id.
Every row is checked for the spec's required fields, so a bad file fails here, naming file, line
and field, never later inside a scorer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Iterator

from exaone_eval.benchmarks import TaskSpec
from exaone_eval.types import HarnessError


def read_jsonl(path: Path) -> Iterator[dict]:
    """One JSON object per line, streamed; a bad line is a HarnessError naming file and line."""
    return (row for _, row in read_jsonl_lines(path))


def read_jsonl_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) per non-blank line, streamed."""
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise HarnessError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise HarnessError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield lineno, row


class Rows(list):
    """Rows read from a file, with the line each came from beside them (never inside them: the rows
    and their fingerprint stay exactly as the file has them), so an error can name `file:line`."""

    def __init__(self, path: Path, numbered: Iterable[tuple[int, dict]]):
        numbered = list(numbered)
        super().__init__(row for _, row in numbered)
        self.path = path
        self.lines = [lineno for lineno, _ in numbered]

    def origin(self, index: int) -> str:
        return f"{self.path}:{self.lines[index]}"


def origin_of(rows: list[dict], index: int, fallback: str) -> str:
    """Where rows[index] came from: `file:line` for a JSONL file's rows, else `fallback`."""
    return rows.origin(index) if isinstance(rows, Rows) else fallback


def two_origins(first: str, repeat: str) -> str:
    """`f.jsonl: lines 3 and 9` for two rows of one file, else `first and repeat`."""
    path, _, line = repeat.rpartition(":")
    if line.isdigit() and first.startswith(path + ":"):
        return f"{path}: lines {first[len(path) + 1:]} and {line}"
    return f"{first} and {repeat}"


def _read_jsonl(path: Path) -> list[dict]:
    return Rows(path, read_jsonl_lines(path))


def _read_parquet(path: Path) -> list[dict]:
    import pandas as pd

    try:
        return pd.read_parquet(path).to_dict(orient="records")
    except Exception as e:  # pyarrow raises many types for a bad file
        raise HarnessError(f"{path}: cannot read parquet ({e})") from None


def _read_csv(path: Path) -> list[dict]:
    import pandas as pd

    try:  # keep_default_na=False: an empty cell stays "" (as the Hub's CSV loader and Multi-IF's code read it)
        return pd.read_csv(path, keep_default_na=False, dtype=str).to_dict(orient="records")
    except Exception as e:  # pandas raises ParserError, UnicodeDecodeError, ... for a bad file
        raise HarnessError(f"{path}: cannot read CSV ({e})") from None


def local_file(spec: TaskSpec, data_dir: Path | None) -> Path | None:
    if data_dir is None:
        return None
    for ext in ("jsonl", "parquet", "csv"):
        path = Path(data_dir) / f"{spec.name}.{ext}"
        if path.is_file():
            return path
    return None


def _load_hub(spec: TaskSpec) -> list[dict]:
    if not spec.hub_id:
        raise HarnessError(f"{spec.name}: no Hub dataset; pass --data-dir DIR with {spec.name}.jsonl")
    rows: list[dict] = []
    for config in spec.configs or (None,):
        ds = load_hub(spec.name, spec.hub_id, config, gated=spec.gated, split=spec.split, revision=spec.revision)
        for row in ds:
            if len(spec.configs) > 1:
                row[spec.config_column or "config"] = config
            rows.append(row)
    return rows


_hub_unreachable: Exception | None = None
"""The connection error of the first Hub load that could not reach the Hub, in this process."""


def load_hub(bench: str, path: str, config: str | None = None, *, gated: bool = False, where: str | None = None,
             data_file: str | None = None, **kwargs):
    """`datasets.load_dataset(path, config, **kwargs)` for every Hub load of the harness: a failure
    is a HarnessError that names the dataset and says how to run offline (`--data-dir DIR` with
    `data_file`), and once the Hub is found unreachable, later loads fail at once
    (huggingface_hub retries ~25 s per dataset; once is enough)."""
    global _hub_unreachable
    where = where or path + (f" (config {config})" if config else "")
    data_file = data_file or f"{bench}.jsonl"
    offline_hint = f"pass --data-dir DIR with {data_file} (rows in the Hub schema) to run offline"
    if _hub_unreachable is not None:
        first = str(_hub_unreachable).splitlines()[0][:200] if str(_hub_unreachable) else type(_hub_unreachable).__name__
        raise HarnessError(f"{bench}: cannot load {where}: the Hugging Face Hub was unreachable earlier in this run ({first}); {offline_hint}")
    import datasets

    try:
        return datasets.load_dataset(path, config, **kwargs)
    except Exception as e:  # datasets / huggingface_hub raise a zoo of types; classify by message
        if _is_offline(e):
            _hub_unreachable = e
        text = f"{type(e).__name__}: {e}".lower()
        if gated and any(w in text for w in ("gated", "401", "403", "unauthorized", "access")):
            raise HarnessError(
                f"{bench}: the Hub dataset {where} is gated and this machine has no access: accept its terms "
                f"on the Hub and set HF_TOKEN, or pass --data-dir DIR with {data_file}"
            ) from None
        gated_hint = " (it is gated: accept its terms on the Hub and set HF_TOKEN)" if gated else ""
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise HarnessError(f"{bench}: cannot load {where} from the Hugging Face Hub{gated_hint}: {first}; {offline_hint}") from None


def _is_offline(e: Exception) -> bool:
    text = f"{type(e).__name__}: {e}"
    return isinstance(e, ConnectionError) or any(
        w in text for w in ("Couldn't reach", "LocalEntryNotFoundError", "Name or service not known", "Connection refused")
    )


def check_fields(spec: TaskSpec, rows: list[dict], origin: str) -> None:
    for i, row in enumerate(rows, 1):
        missing = [f for f in spec.fields if f not in row]
        if missing:
            raise HarnessError(
                f"{origin}: row {i}: missing field {missing[0]!r}; {spec.name} rows need {list(spec.fields)}"
            )


def load_rows(spec: TaskSpec, data_dir: Path | None = None) -> tuple[list[dict], str]:
    """The benchmark's rows (Hub schema) and a fingerprint of them for run.json."""
    from exaone_eval.benchmarks import get_module

    path = local_file(spec, data_dir)
    if path is not None:
        rows = {".parquet": _read_parquet, ".csv": _read_csv}.get(path.suffix, _read_jsonl)(path)
        origin = str(path)
    elif hasattr(get_module(spec.name), "load_rows"):
        rows = get_module(spec.name).load_rows(spec, data_dir)
        origin = f"{spec.name} (packaged data)"
    else:
        rows = _load_hub(spec)
        origin = f"{spec.hub_id}@{spec.revision or 'main'}"
    check_fields(spec, rows, origin)
    return rows, fingerprint(rows)


def fingerprint(rows: list[dict]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]
