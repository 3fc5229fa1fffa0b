"""Hub sources that load with today's `datasets` (which refuses loading scripts): one file of a
dataset repository at a pinned revision (`data.hub_file`), its errors, and HELMET's script-only
sets read from parquet files with the converted sets' real columns and from Multi-LexSum's
release files. huggingface_hub is pointed at local files; every request is checked against the
pinned repository, revision and file name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exaone_eval import data
from exaone_eval.benchmarks import helmet_data as hd
from exaone_eval.benchmarks import helmet_sources as hs
from exaone_eval.types import HarnessError


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """`huggingface_hub.hf_hub_download` serving files written under tmp_path/hub/<repo>/<revision>/;
    a file not there is the Hub's EntryNotFoundError. Returns (root, requests made)."""
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError

    root, requests = tmp_path / "hub", []

    def download(*, repo_id, filename, repo_type, revision):
        requests.append((repo_id, repo_type, revision, filename))
        path = root / repo_id / revision / filename
        if repo_type != "dataset" or not path.is_file():
            raise EntryNotFoundError(f"404 Client Error. Entry Not Found for url: .../{repo_id}/resolve/{revision}/{filename}")
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    return root, requests


def write_parquet(path: Path, rows: list[dict], features: dict) -> None:
    """A parquet file as the Hub's conversion writes it: `datasets` features (ClassLabel ints) in
    the schema metadata."""
    import datasets

    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=datasets.Features(features)).to_parquet(str(path))


def trec_rows(n: int, prefix: str) -> list[dict]:
    return [{"text": f"{prefix} question {i}", "coarse_label": i % 6, "fine_label": i % 50} for i in range(n)]


def write_trec(root: Path, train: int = 600, test: int = 12) -> None:
    from datasets import ClassLabel, Value

    features = {"text": Value("string"), "coarse_label": ClassLabel(names=["ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"]),
                "fine_label": ClassLabel(num_classes=50)}
    base = root / "CogComp/trec" / "65752bf53af25bc935a0dce92fb5b6c930728450" / "default"
    write_parquet(base / "train" / "0000.parquet", trec_rows(train, "train"), features)
    write_parquet(base / "test" / "0000.parquet", trec_rows(test, "test"), features)


# ---- data.hub_file -----------------------------------------------------------------------------------

def test_hub_file_asks_for_the_pinned_revision_of_a_dataset_repository(hub):
    root, requests = hub
    (root / "org/set" / "abc123").mkdir(parents=True)
    (root / "org/set" / "abc123" / "data.zip").write_bytes(b"zip")
    path = data.hub_file("bench", "org/set", "data.zip", revision="abc123")
    assert path.read_bytes() == b"zip" and requests == [("org/set", "dataset", "abc123", "data.zip")]


def test_a_missing_hub_file_names_the_dataset_revision_file_and_the_offline_way(hub):
    with pytest.raises(HarnessError, match=r"^bench: cannot load org/set@abc123 file data\.zip from the Hugging Face Hub: "
                                           r"404 .*; pass --data-dir DIR with bench\.jsonl"):
        data.hub_file("bench", "org/set", "data.zip", revision="abc123")


def test_once_the_hub_is_unreachable_later_loads_fail_at_once(monkeypatch):
    import huggingface_hub

    calls = []

    def offline(**kwargs):
        calls.append(kwargs["filename"])
        raise ConnectionError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(HarnessError, match="Name or service not known"):
        data.hub_file("a", "org/a", "data.zip", revision="r")
    with pytest.raises(HarnessError, match="unreachable earlier in this run"):
        data.hub_file("b", "org/b", "x.parquet", revision="r", data_file="helmet/b.jsonl")
    with pytest.raises(HarnessError, match="unreachable earlier in this run"):
        data.load_hub("c", "org/c")
    assert calls == ["data.zip"]


def test_a_gated_hub_file_says_to_accept_its_terms(monkeypatch):
    import huggingface_hub

    def gated(**kwargs):
        raise PermissionError("403 Forbidden: access to dataset org/g is restricted (gated)")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", gated)
    with pytest.raises(HarnessError, match="gated and this machine has no access: accept its terms"):
        data.hub_file("g", "org/g", "f.parquet", revision="r", gated=True)


# ---- HELMET ICL: parquet instead of loading scripts ---------------------------------------------------

def test_trec_is_read_from_its_pinned_parquet_conversion_with_classlabel_ints(hub):
    root, requests = hub
    write_trec(root)
    examples = list(hd.icl(None, "icl_trec_coarse", 4096))
    assert requests == [("CogComp/trec", "dataset", "65752bf53af25bc935a0dce92fb5b6c930728450", f"default/{split}/0000.parquet")
                        for split in ("train", "test")]
    assert len(examples) == 12
    context = examples[0].fields["context"]
    assert context.count("\nlabel: ") == 200  # 200 shots at 4K
    # each example's mapping is a permutation of the 6 labels
    assert {int(line.split(": ")[1]) for line in context.splitlines() if line.startswith("label: ")} == set(range(6))


def test_banking77_is_read_from_the_commit_that_holds_its_parquet_files(hub):
    from datasets import ClassLabel, Value

    root, requests = hub
    base = root / "PolyAI/banking77" / "796a4623935746f71378f0ebd435635a8ce08e50" / "data"
    features = {"text": Value("string"), "label": ClassLabel(num_classes=77)}
    write_parquet(base / "train-00000-of-00001.parquet", [{"text": f"q {i}", "label": i % 77} for i in range(400)], features)
    write_parquet(base / "test-00000-of-00001.parquet", [{"text": f"t {i}", "label": i % 77} for i in range(5)], features)
    examples = list(hd.icl(None, "icl_banking77", 4096))
    assert {r[3] for r in requests} == {"data/train-00000-of-00001.parquet", "data/test-00000-of-00001.parquet"}
    assert len(examples) == 5 and examples[0].fields["context"].count("\nlabel: ") == 180


NLU_REVISION = "e71b2fe9a42ca804d595f3749b665f2eed896e8e"  # a commit of refs/convert/parquet


def test_the_nlu_split_is_datasets_train_test_split_of_the_converted_train_parquet(hub):
    import datasets
    from datasets import ClassLabel, Value

    root, requests = hub
    rows = [{"scenario": f"s{i % 18}", "label": i % 68, "text": f"utterance {i}"} for i in range(300)]
    write_parquet(root / "xingkunliuxtracta/nlu_evaluation_data" / NLU_REVISION / "default/train/0000.parquet", rows,
                  {"scenario": Value("string"), "label": ClassLabel(num_classes=68), "text": Value("string")})
    split = datasets.Dataset.from_list(rows).train_test_split(test_size=0.1, seed=42)
    examples = list(hd.icl(None, "icl_nlu", 4096))
    assert requests == [("xingkunliuxtracta/nlu_evaluation_data", "dataset", NLU_REVISION, "default/train/0000.parquet")]
    assert [e.fields["question"] for e in examples] == split["test"]["text"]


def test_a_missing_converted_file_says_which_and_how_to_run_offline(hub):
    with pytest.raises(HarnessError, match=r"CogComp/trec@65752bf.* file default/train/0000\.parquet.*"
                                           r"--data-dir DIR with helmet/trec\.jsonl with a 'split' column"):
        list(hd.icl(None, "icl_trec_fine", 4096))


# ---- Multi-LexSum: the script's own release files ------------------------------------------------------

MULTI_LEXSUM_REVISION = "055f5fa5300a5fdefb5b691c4d6c1e58f485b379"


def write_multi_lexsum(root: Path, cases: dict[str, list[dict]], sources: dict) -> None:
    base = root / "allenai/multi_lexsum" / MULTI_LEXSUM_REVISION / "releases" / "v20230518"
    base.mkdir(parents=True)
    for name, rows in cases.items():
        (base / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (base / "sources.json").write_text(json.dumps(sources))


def case(i: int, docs: list[str], short: str | None) -> dict:
    """A line of releases/v20230518/{train,dev,test}.json (the fields the loading script reads, and metadata it drops)."""
    return {"case_id": f"c{i}", "case_documents": docs, "case_metadata": {"court": "x"}, "summary/long": f"long {i}",
            "summary/short": short, "summary/tiny": None}


def test_multi_lexsum_rows_join_each_case_with_its_source_documents(hub):
    root, requests = hub
    write_multi_lexsum(root, {"dev.json": [case(1, ["d1", "d2"], "short 1")], "train.json": [case(2, [], None)]},
                       {"d1": {"doc_text": "first", "doc_title": "t"}, "d2": {"doc_text": "second"}})
    source = hs.MultiLexSum("v20230518", "helmet/multi_lexsum/{validation,train}.jsonl")
    assert source.rows("validation") == [{"id": "c1", "sources": ["first", "second"], "summary/long": "long 1",
                                          "summary/short": "short 1", "summary/tiny": None}]
    assert source.rows("train")[0]["summary/short"] is None
    files = [r[3] for r in requests]
    assert files == ["releases/v20230518/dev.json", "releases/v20230518/sources.json", "releases/v20230518/train.json"]
    assert {r[:3] for r in requests} == {("allenai/multi_lexsum", "dataset", MULTI_LEXSUM_REVISION)}  # sources.json read once


def test_a_case_whose_document_is_not_in_sources_json_is_named(hub):
    root, _ = hub
    write_multi_lexsum(root, {"dev.json": [case(1, ["d1"], "s"), case(2, ["gone"], "s")]}, {"d1": {"doc_text": "x"}})
    with pytest.raises(HarnessError, match=r"dev\.json:2: case c2: document 'gone' has no doc_text in sources\.json"):
        hs.MultiLexSum("v20230518", "x").rows("validation")


# ---- pins ----------------------------------------------------------------------------------------------

# Hub sets no public code pins by a full commit SHA (docs/data-sources.md lists them).
UNPINNED = {"kmmlu_pro", "kmmlu_redux", "ksm", "math500_es"}


def test_every_hub_set_is_pinned_to_a_commit_or_listed_as_unpinned():
    import re

    from exaone_eval.registry import all_specs

    specs = {s.name: s for s in all_specs() if s.hub_id and s.status == "ready"}
    hub = {name: s.revision for name, s in specs.items()}
    assert {name for name, revision in hub.items() if revision is None} == UNPINNED
    # HELMET's sets, all at a commit: its own data tree (tasks/helmet.toml), the script-only sets read
    # from files, and the sets `datasets` loads as they are
    helmet = [hub["helmet"], hs.MULTI_LEXSUM_REVISION, *(rev for rev, _ in hs.PARQUET_SOURCES.values()),
              *hs.HUB_REVISIONS.values()]
    pins = [r for r in hub.values() if r is not None] + helmet
    assert all(re.fullmatch(r"[0-9a-f]{40}", rev) for rev in pins)
    text = (Path(__file__).resolve().parents[1] / "docs" / "data-sources.md").read_text()
    assert [rev for rev in pins if rev not in text] == []
    unpinned_table = text[text.index("**Unpinned**"):]
    assert all(specs[name].hub_id in unpinned_table for name in UNPINNED)


def test_helmet_loads_each_datasets_set_at_its_pinned_commit(monkeypatch):
    import datasets

    asked = []

    def fake_load(path, name=None, split=None, revision=None, **kwargs):
        asked.append((path, name, split, revision))
        raise ConnectionError("offline")

    monkeypatch.setattr(data, "_hub_unreachable", None)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    for load in (lambda: hd.icl(None, "icl_clinic150", 4096), lambda: hd._infbench_rows(None, "longbook_qa_eng"),
                 lambda: hd.narrativeqa(None, 4096, None)):
        monkeypatch.setattr(data, "_hub_unreachable", None)
        with pytest.raises(HarnessError):
            list(load())
    assert asked == [("clinc/clinc_oos", "plus", "train", hs.HUB_REVISIONS["clinc/clinc_oos"]),
                     ("xinrongzhang2022/InfiniteBench", None, "longbook_qa_eng", hs.HUB_REVISIONS["xinrongzhang2022/InfiniteBench"]),
                     ("deepmind/narrativeqa", None, "test", hs.HUB_REVISIONS["deepmind/narrativeqa"])]
