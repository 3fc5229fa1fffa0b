"""Where HELMET's rows are read from: its data/ tree, local JSONL files, or the Hub.

The synthetic, RAG and Re-rank sets are files of HELMET's `data/` tree (the Hub's
`princeton-nlp/HELMET` data.tar.gz): `--data-dir DIR` with that tree as `DIR/helmet/` (or
`DIR/data/`). ICL and LongQA / Summ come from the Hub datasets HELMET's loaders name, or
`DIR/helmet/<name>.jsonl` in their Hub schema with a `split` column (ICL), or
`DIR/helmet/<name>/<split>.jsonl` (LongQA / Summ). Selection and formatting: `helmet_data`.

Script-only Hub sets: `datasets` >= 4 refuses loading scripts ("Dataset scripts are no longer supported"), and HELMET's
`data.py` loads four script-only repositories. Each is read here from files that need no script,
at a pinned revision, through `data.hub_file` (docs/data-sources.md says where each SHA was found):

- CogComp/trec, xingkunliuxtracta/nlu_evaluation_data: the Hub's own parquet conversion (a commit
  of branch `refs/convert/parquet`, files `<config>/<split>/0000.parquet`). Columns as the script's features:
  trec `text, coarse_label, fine_label`, nlu `text, scenario, label`; labels are ClassLabel ints,
  as the script gave them, so HELMET's `int(label)` mapping is unchanged.
- PolyAI/banking77: the Hub's dataset viewer could not convert it (its script fails there), but a
  commit of the repository holds the data as parquet (`data/<split>-00000-of-00001.parquet`,
  columns `text, label`, label a ClassLabel int).
- allenai/multi_lexsum: no parquet anywhere; its script's own source files are read and joined as
  the script joins them: `releases/<version>/{train,dev,test}.json` (JSON lines: `case_id`,
  `case_documents`, `summary/long|short|tiny`) and `sources.json` (`{doc id: {"doc_text": ...}}`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from exaone_eval.data import hub_file, read_jsonl, read_parquet_rows
from exaone_eval.scoring.long_context import hub_rows
from exaone_eval.types import HarnessError

# Hub id -> (revision, file of a split); each revision a commit SHA (docs/data-sources.md).
PARQUET_SOURCES = {
    # a commit of refs/convert/parquet
    "CogComp/trec": ("65752bf53af25bc935a0dce92fb5b6c930728450", "default/{split}/0000.parquet"),
    "PolyAI/banking77": ("796a4623935746f71378f0ebd435635a8ce08e50", "data/{split}-00000-of-00001.parquet"),
    # a commit of refs/convert/parquet
    "xingkunliuxtracta/nlu_evaluation_data": ("e71b2fe9a42ca804d595f3749b665f2eed896e8e", "default/{split}/0000.parquet"),
}

MULTI_LEXSUM = "allenai/multi_lexsum"
MULTI_LEXSUM_REVISION = "055f5fa5300a5fdefb5b691c4d6c1e58f485b379"

# The sets HELMET's loaders read with `datasets` as they are: Hub id -> the commit they load at
# (docs/data-sources.md). The ids are the repositories' own; HELMET names the first two by their
# old names (`clinc_oos`, `narrativeqa`), which the Hub redirects to these.
HUB_REVISIONS = {
    "clinc/clinc_oos": "155b9c710419136e17307b80d0a13e68cd46b4ec",
    "deepmind/narrativeqa": "2e643e7363944af1c33a652d1c87320d0871c4e4",
    "xinrongzhang2022/InfiniteBench": "90f0394333616266d9fe85824ceaf505093cbaa5",
}
MULTI_LEXSUM_FILES = {"train": "train.json", "validation": "dev.json", "test": "test.json"}  # the script's split names


def parquet_split(hub_id: str, split: str, data_file: str) -> list[dict]:
    """One split of a script-only ICL set, from its parquet file at the pinned revision."""
    revision, pattern = PARQUET_SOURCES[hub_id]
    return read_parquet_rows(hub_file("helmet", hub_id, pattern.format(split=split), revision=revision, data_file=data_file))


class MultiLexSum:
    """Rows of one Multi-LexSum release in the script's features (`id`, `sources`, `summary/long`,
    `summary/short`, `summary/tiny`). sources.json (most of the download) is read once, on the
    first split asked for, and kept for the next."""

    def __init__(self, version: str, data_file: str):
        self.version, self.data_file = version, data_file
        self._sources: dict | None = None

    def _file(self, name: str) -> Path:
        return hub_file("helmet", MULTI_LEXSUM, f"releases/{self.version}/{name}", revision=MULTI_LEXSUM_REVISION,
                        data_file=self.data_file)

    def rows(self, split: str) -> list[dict]:
        if split not in MULTI_LEXSUM_FILES:
            raise HarnessError(f"helmet: {MULTI_LEXSUM} has no split {split!r}; expected one of {list(MULTI_LEXSUM_FILES)}")
        path = self._file(MULTI_LEXSUM_FILES[split])
        sources = self._load_sources()
        out = []
        for i, case in enumerate(read_jsonl(path), 1):
            missing = [f for f in ("case_id", "case_documents", "summary/long", "summary/short", "summary/tiny") if f not in case]
            if missing:
                raise HarnessError(f"{path}:{i}: missing field {missing[0]!r}")
            unknown = [d for d in case["case_documents"] if "doc_text" not in sources.get(d, {})]
            if unknown:
                raise HarnessError(f"{path}:{i}: case {case['case_id']}: document {unknown[0]!r} has no doc_text in sources.json")
            out.append({"id": case["case_id"], "sources": [sources[d]["doc_text"] for d in case["case_documents"]],
                        **{k: case[k] for k in ("summary/long", "summary/short", "summary/tiny")}})
        return out

    def _load_sources(self) -> dict:
        if self._sources is None:
            path = self._file("sources.json")
            try:
                with path.open(encoding="utf-8") as f:
                    self._sources = json.load(f)
            except json.JSONDecodeError as e:
                raise HarnessError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
            if not isinstance(self._sources, dict):
                raise HarnessError(f"{path}: expected a JSON object of documents by id")
        return self._sources


# ---- where files are -------------------------------------------------------------------------


def helmet_dir(data_dir) -> Path | None:
    """HELMET's data/ tree under `--data-dir`: `DIR/helmet/` (or `DIR/data/`), else None."""
    if data_dir is None:
        return None
    for name in ("helmet", "data"):
        if (Path(data_dir) / name).is_dir():
            return Path(data_dir) / name
    return None


def data_file(data_dir, relative: str) -> Path:
    """A file of HELMET's data/ tree (the synthetic, RAG and Re-rank sets), or a HarnessError saying where to put it."""
    root = helmet_dir(data_dir)
    if root is None or not (root / relative).is_file():
        where = f"{Path(data_dir) / 'helmet' / relative}" if data_dir else f"DIR/helmet/{relative}"
        raise HarnessError(
            f"helmet: {where} not found: HELMET's synthetic, RAG and Re-rank sets are files of its data/ tree "
            "(princeton-nlp/HELMET on the Hub, data.tar.gz at the revision tasks/helmet.toml pins): pass --data-dir DIR "
            "with that tree extracted as DIR/helmet/"
        )
    return root / relative


ICL_FILES = {"CogComp/trec": "trec", "PolyAI/banking77": "banking77", "clinc/clinc_oos": "clinc_oos",
             "xingkunliuxtracta/nlu_evaluation_data": "nlu_evaluation_data"}


def hub_split(data_dir, hub_id: str, config: str | None, split: str, **kwargs) -> list[dict]:
    """One split of a Hub dataset, or the rows of `DIR/helmet/<name>.jsonl` whose `split` is it."""
    name = ICL_FILES.get(hub_id) or hub_id.split("/")[-1]
    root = helmet_dir(data_dir)
    if root is not None and (root / f"{name}.jsonl").is_file():
        path = root / f"{name}.jsonl"
        rows = [r for r in read_jsonl(path) if r.get("split") == split]
        if not rows:
            raise HarnessError(f"{path}: no rows with split {split!r} (HELMET needs the {split} split of {hub_id})")
        return rows
    expected = f"helmet/{name}.jsonl with a 'split' column"
    if hub_id in PARQUET_SOURCES:  # a script-only repository: its parquet files instead
        return parquet_split(hub_id, split, expected)
    return list(hub_rows("helmet", hub_id, config, split, expected, revision=HUB_REVISIONS[hub_id], **kwargs))


def split_rows(data_dir, name: str, hub_id: str, config: str | None, split: str, **kwargs) -> Iterator[dict]:
    """`DIR/helmet/<name>/<split>.jsonl` streamed, else the Hub split."""
    root = helmet_dir(data_dir)
    if root is not None and (root / name / f"{split}.jsonl").is_file():
        return read_jsonl(root / name / f"{split}.jsonl")
    return hub_rows("helmet", hub_id, config, split, f"helmet/{name}/{split}.jsonl", revision=HUB_REVISIONS[hub_id], **kwargs)
