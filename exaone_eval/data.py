"""Where a benchmark's rows come from: `--data-dir` files, a module's own source, or the Hub.

Order: `DIR/<benchmark>.jsonl` (or `.parquet`, `.csv`) when `--data-dir` has it, in the SAME schema as the
Hub dataset it replaces; else the module's `load_rows(spec, data_dir)` hook when it has one (data
shipped inside a package, e.g. BFCL's); else `datasets.load_dataset` on the spec's pinned Hub id.
Every row is checked for the spec's required fields, so a bad file fails here, naming file, line
and field, never later inside a scorer.

Every Hub access goes through `load_hub` (a `datasets` load) or `hub_file` (one file of a dataset
repository, for script-only repositories that `datasets` >= 4 refuses): both pin a revision, name
the dataset in their errors, say how to run offline, and stop trying once the Hub is unreachable.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Iterator

from exaone_eval.registry import TaskSpec
from exaone_eval.types import HarnessError


def read_jsonl(path: Path) -> Iterator[dict]:
    """One JSON object per line, streamed; a bad line is a HarnessError naming file and line."""
    return (row for _, row in read_jsonl_lines(path))


def read_jsonl_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) per non-blank line, streamed."""
    with path.open(encoding="utf-8") as f:
        yield from _json_lines(f, str(path))


def read_zip_jsonl(path: Path, member: str) -> Iterator[dict]:
    """The JSON lines of one member of a zip archive (LongBench's data.zip), streamed; a bad line
    is a HarnessError naming archive, member and line."""
    import io
    import zipfile

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise HarnessError(f"{path}: not a readable zip archive ({e})") from None
    with archive:
        names = archive.namelist()
        if member not in names:
            raise HarnessError(f"{path}: no member {member!r} (it holds {len(names)} files, e.g. {sorted(names)[:3]})")
        with archive.open(member) as raw:
            yield from (row for _, row in _json_lines(io.TextIOWrapper(raw, encoding="utf-8"), f"{path}:{member}"))


def _json_lines(lines, origin: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) per non-blank line; a bad line is a HarnessError naming `origin:line`."""
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise HarnessError(f"{origin}:{lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise HarnessError(f"{origin}:{lineno}: expected a JSON object, got {type(row).__name__}")
        yield lineno, row


def read_parquet_rows(path: Path) -> list[dict]:
    """A parquet file's rows as plain Python values (lists stay lists, ints stay ints: pyarrow's
    `to_pylist`, where pandas would give numpy arrays)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... for a bad file
        raise HarnessError(f"{path}: cannot read parquet ({e})") from None


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
    where = where or path + (f" (config {config})" if config else "")

    def load():
        import datasets

        return datasets.load_dataset(path, config, **kwargs)

    return _from_hub(bench, where, data_file or f"{bench}.jsonl", gated, load)


def hub_file(bench: str, repo_id: str, filename: str, *, revision: str, gated: bool = False,
             data_file: str | None = None) -> Path:
    """One file of a Hub dataset repository at `revision` (`huggingface_hub.hf_hub_download`, kept
    in its cache), for the sources `datasets` >= 4 cannot load: repositories that hold only a
    loading script and its data files (LongBench's data.zip), or the Hub's parquet conversion of
    one. The same errors as `load_hub`, and the same fail-fast once the Hub is unreachable."""

    def download():
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=repo_id, filename=filename, repo_type="dataset", revision=revision))

    return _from_hub(bench, f"{repo_id}@{revision} file {filename}", data_file or f"{bench}.jsonl", gated, download)


def _from_hub(bench: str, where: str, data_file: str, gated: bool, fetch):
    global _hub_unreachable
    offline_hint = f"pass --data-dir DIR with {data_file} (rows in the Hub schema) to run offline"
    if _hub_unreachable is not None:
        first = str(_hub_unreachable).splitlines()[0][:200] if str(_hub_unreachable) else type(_hub_unreachable).__name__
        raise HarnessError(f"{bench}: cannot load {where}: the Hugging Face Hub was unreachable earlier in this run ({first}); {offline_hint}")
    try:
        return fetch()
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
    # huggingface_hub >= 1 speaks httpx (ConnectError), older versions requests; offline mode and a
    # missing cache entry read as LocalEntryNotFoundError.
    text = f"{type(e).__name__}: {e}"
    return isinstance(e, ConnectionError) or any(
        w in text for w in ("Couldn't reach", "LocalEntryNotFoundError", "Name or service not known", "Connection refused",
                            "ConnectError", "ConnectTimeout", "Network is unreachable", "Temporary failure in name resolution")
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
    from exaone_eval.registry import get_module

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
