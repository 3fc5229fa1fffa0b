"""The report's published numbers (results/reference/table<N>.csv), as data.

One row per table cell: `table, category, benchmark, model, mode, setting, value, marked`.
`value` is the report's text exactly ("90.60" stays "90.60"); an empty value is a cell the report
prints as N/A. `marked` holds the report's mark on the cell: "∗" in Tables 3-6, "†" in Tables
9-13 (Qwen3 0.6B / 1.7B stretched to 64K with YaRN, report section 3.3). `setting` says which
cell of a benchmark: empty for the main tables, the budget for Table 7 ("64k"), the context
length for RULER ("4k"), `<length>/<task>` for HELMET and LongBench ("128k/recall"), and
`up_to_32k` / `up_to_64k` for Ko-LongBench. See docs/tables.md.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from exaone_eval.paths import shipped
from exaone_eval.types import HarnessError

COLUMNS = ("table", "category", "benchmark", "model", "mode", "setting", "value", "marked")
TABLES = (3, 4, 5, 6, 7, 9, 10, 11, 13)

# Stable model ids -> the names the report's tables print.
MODEL_NAMES: dict[str, str] = {
    "exaone-4.0-32b": "EXAONE 4.0 32B",
    "exaone-4.0-1.2b": "EXAONE 4.0 1.2B",
    "phi-4-reasoning-plus": "Phi 4 reasoning-plus",
    "magistral-small-2506": "Magistral Small-2506",
    "qwen3-32b": "Qwen 3 32B",
    "qwen3-235b": "Qwen 3 235B",
    "deepseek-r1-0528": "DeepSeek R1-0528",
    "phi-4": "Phi 4",
    "mistral-small-2506": "Mistral Small-2506",
    "gemma-3-27b": "Gemma 3 27B",
    "llama-4-maverick": "Llama 4 Maverick",
    "deepseek-v3-0324": "DeepSeek V3-0324",
    "exaone-deep-2.4b": "EXAONE Deep 2.4B",
    "qwen3-0.6b": "Qwen 3 0.6B",
    "qwen3-1.7b": "Qwen 3 1.7B",
    "smollm3-3b": "SmolLM 3 3B",
    "gemma-3-1b": "Gemma 3 1B",
    "exaone-3.5-2.4b": "EXAONE 3.5 2.4B",
}


@dataclass(frozen=True)
class RefCell:
    table: int
    category: str
    """Tables 3-7: the benchmark's category; Tables 9-13: the size group (Mid-Size, Small-Size)."""
    benchmark: str
    model: str
    """A key of MODEL_NAMES."""
    mode: str
    setting: str
    value: float | None
    """None where the report prints N/A."""
    text: str
    """The value exactly as printed ("" for N/A)."""
    marked: str


def _cell(path: Path, line: int, row: dict) -> RefCell:
    def bad(field: str, expected: str) -> HarnessError:
        return HarnessError(f"{path}:{line}: field {field!r} is {row.get(field)!r}; expected {expected}")

    try:
        table = int(row["table"])
    except (TypeError, ValueError):
        raise bad("table", "an integer") from None
    if row["model"] not in MODEL_NAMES:
        raise bad("model", f"one of {', '.join(MODEL_NAMES)}")
    text = row["value"] or ""
    try:
        value = float(text) if text else None
    except ValueError:
        raise bad("value", "a number or empty (N/A)") from None
    return RefCell(table, row["category"], row["benchmark"], row["model"], row["mode"], row["setting"] or "", value, text, row["marked"] or "")


def load_table(path: Path) -> list[RefCell]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise HarnessError(f"{path}:1: columns are {reader.fieldnames}; expected {list(COLUMNS)}")
        return [_cell(path, n, row) for n, row in enumerate(reader, start=2)]


@lru_cache(maxsize=None)
def reference(table: int) -> tuple[RefCell, ...]:
    """The cells of one report table, in the report's order (rows top to bottom, columns left to right)."""
    if table not in TABLES:
        raise HarnessError(f"no reference table {table}; the report's tables here are {list(TABLES)}")
    return tuple(load_table(shipped("reference") / f"table{table}.csv"))


def lookup(table: int, benchmark: str, model: str, setting: str = "") -> RefCell | None:
    for cell in reference(table):
        if (cell.benchmark, cell.model, cell.setting) == (benchmark, model, setting):
            return cell
    return None


_LENGTH = re.compile(r"^(?:len_)?(\d+)([kK]?)$")


def length_label(key: str | int) -> str | None:
    """A context length or reasoning budget as the tables write it: 4096, "len_4096", "4K" -> "4k".

    None when `key` is not a length. Multiples of 1024 become "<n>k"; others stay as the number.
    """
    m = _LENGTH.match(str(key).strip())
    if not m:
        return None
    n = int(m.group(1)) * (1024 if m.group(2) else 1)
    return f"{n // 1024}k" if n % 1024 == 0 else str(n)


def label_tokens(label: str) -> int:
    """ "4k" -> 4096 (the inverse of length_label)."""
    return int(label[:-1]) * 1024 if label.endswith("k") else int(label)
