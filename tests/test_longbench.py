"""LongBench v1 (English): the official metrics, middle truncation in the model's tokens, the
loaders on rows in the Hub schema, and a run on a fake server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from exaone_eval.benchmarks import longbench as lb
from exaone_eval.scoring.long_context import middle_truncate
from exaone_eval.types import Generation, HarnessError, Item, Score
from helpers import run_suite_on
from long_context_helpers import build_context, write_word_tokenizer


def row(dataset: str, n: int, context_words: int = 20, answers=None, all_classes=None) -> dict:
    """A row in the Hub schema of THUDM/LongBench."""
    return {
        "input": f"question{n} about {dataset}?", "context": " ".join(f"{dataset}w{i}" for i in range(context_words)),
        "answers": answers or [f"answer{n}"], "length": context_words, "dataset": dataset, "language": "en",
        "all_classes": all_classes, "_id": f"{dataset}-{n}",
    }


def all_rows(context_words: int = 20) -> list[dict]:
    rows = []
    for d in lb.DATASETS:
        classes = ["Human being", "Human", "Location"] if d == "trec" else None
        rows += [row(d, n, context_words, answers=["Human being"] if d == "trec" else None, all_classes=classes) for n in range(2)]
    return rows


@pytest.fixture
def tokenizer_dir(tmp_path) -> Path:
    texts = list(lb.PROMPTS.values()) + [r["input"] + " " + r["context"] + " " + " ".join(r["answers"]) for r in all_rows(400)]
    return write_word_tokenizer(tmp_path / "tok", texts)


def write_rows(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "longbench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


# ---- metrics ---------------------------------------------------------------------------------

@pytest.mark.parametrize("prediction, truth, expected", [
    ("The Eiffel Tower", "eiffel tower", 1.0),          # articles, case
    ("Paris, France.", "Paris", 2 * 0.5 * 1 / 1.5),     # punctuation removed, partial overlap
    ("", "Paris", 0.0),                                  # empty prediction
    ("a an the", "the", 0.0),                            # only articles: nothing left to match
    ("cat cat dog", "cat dog dog", 2 / 3),               # multiset overlap
])
def test_qa_f1_matches_squad_normalisation(prediction, truth, expected):
    assert lb.qa_f1_score(prediction, truth) == pytest.approx(expected)


def test_score_takes_the_best_of_several_reference_answers():
    assert lb.score_prediction("hotpotqa", "Barack Obama", ["Obama", "Barack Obama"], None) == 1.0
    assert lb.score_prediction("hotpotqa", "Barack Obama", ["Obama", "Michelle"], None) == pytest.approx(2 / 3)


def test_few_shot_predictions_are_cut_to_their_first_line():
    assert lb.score_prediction("triviaqa", "\n\nParis\nQuestion: next one", ["Paris"], None) == 1.0
    assert lb.score_prediction("hotpotqa", "Paris\nmore words here", ["Paris"], None) < 1.0


def test_classification_splits_credit_between_matched_classes():
    classes = ["Location", "Human", "Entity"]
    assert lb.classification_score("Location", "Location", classes) == 1.0
    assert lb.classification_score("Location or Human", "Location", classes) == 0.5
    assert lb.classification_score("Human", "Location", classes) == 0.0


def test_classification_drops_a_class_name_contained_in_the_answer():
    # "Human" is part of "Human being": it is not counted as a second guess.
    assert lb.classification_score("Human being", "Human being", ["Human", "Human being"]) == 1.0


def test_classification_keeps_the_official_remove_while_iterating_quirk():
    # Both "Hu" and "Human" are substrings of the answer; removing "Hu" makes the loop skip
    # "Human", which survives, so the answer shares its credit (the official code's behaviour).
    assert lb.classification_score("Human being", "Human being", ["Hu", "Human", "Human being"]) == 0.5


def test_rouge_is_rouge_l_f_and_an_empty_prediction_scores_zero():
    assert lb.rouge_score("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(1.0)
    assert 0 < lb.rouge_score("the cat sat", "the cat sat on the mat") < 1
    assert lb.rouge_score("", "the cat sat") == 0.0


def test_metrics_round_datasets_then_average_categories_then_the_four_categories():
    records = []
    for d in lb.DATASETS:
        value = {"narrativeqa": 1 / 3, "trec": 1.0}.get(d, 0.5)
        records.append((Item(f"32k/{d}/x", (), None, meta={"dataset": d, "length": "32k"}), Score(value)))
    out = lb.metrics(records)
    assert out["narrativeqa@32k"] == 33.33
    assert out["32k/single_doc_qa"] == pytest.approx((33.33 + 50 + 50) / 3)
    assert out["32k/few_shot"] == pytest.approx(75.0)
    expected = (out["32k/single_doc_qa"] + out["32k/multi_doc_qa"] + out["32k/summarization"] + out["32k/few_shot"]) / 4
    assert out["32k/avg"] == pytest.approx(expected)
    assert out["avg"] == out["32k/avg"]


def test_the_headline_is_the_total_at_the_longest_length():
    records = [(Item(f"{length}/{d}/x", (), None, meta={"dataset": d, "length": length}), Score(value))
               for length, value in (("32k", 1.0), ("64k", 0.5)) for d in lb.DATASETS]
    out = lb.metrics(records)
    assert out["32k/avg"] == 100.0 and out["64k/avg"] == 50.0 and out["avg"] == 50.0


# ---- truncation and items ----------------------------------------------------------------------

def test_middle_truncation_keeps_the_first_and_last_halves_in_tokens(tokenizer_dir):
    from exaone_eval.tokenizer import load_tokenizer

    tok = load_tokenizer(str(tokenizer_dir))
    words = [f"narrativeqaw{i}" for i in range(100)]
    cut = middle_truncate(tok, " ".join(words), 10)
    assert cut == " ".join(words[:5]) + " ".join(words[-5:])  # the halves are joined as decoded
    assert middle_truncate(tok, " ".join(words[:10]), 10) == " ".join(words[:10])


def test_items_are_built_per_length_with_the_answer_cap_subtracted(tokenizer_dir, tmp_path):
    from exaone_eval.tokenizer import load_tokenizer

    tok = load_tokenizer(str(tokenizer_dir))
    data = write_rows(tmp_path / "data", [row("hotpotqa", 0, context_words=400)])
    ctx = build_context("longbench", tokenizer_dir, tmp_path, max_context=65536, data_dir=data,
                        options={"lengths": {"65536": [200, 300]}, "datasets": ["hotpotqa"]})
    items = list(lb.iter_items(ctx))
    assert [i.id for i in items] == ["200/hotpotqa/hotpotqa-0", "300/hotpotqa/hotpotqa-0"]
    for item, length in zip(items, (200, 300)):
        prompt = item.messages[0]["content"]
        budget = length - lb.MAX_NEW_TOKENS["hotpotqa"]
        # two halves of budget // 2 tokens; where they meet, two words may fuse into one token
        assert budget - 1 <= len(tok(prompt)["input_ids"]) <= budget
        assert prompt.startswith("Answer the question based on the given passages.") and prompt.endswith("Answer:")
        assert item.meta["max_new_tokens"] == 32 and "raw_prompt" not in item.meta
    assert ctx.fingerprints["source"] and ctx.fingerprints["lengths"] == [200, 300]


def test_trec_and_triviaqa_go_without_the_chat_template(tokenizer_dir, tmp_path):
    data = write_rows(tmp_path / "data", all_rows())
    ctx = build_context("longbench", tokenizer_dir, tmp_path, max_context=65536, data_dir=data)
    items = list(lb.iter_items(ctx))
    assert len(items) == 2 * 2 * len(lb.DATASETS)  # two rows, 32K and 64K
    raw = {i.meta["dataset"] for i in items if i.meta.get("raw_prompt")}
    assert raw == {"trec", "triviaqa"}
    assert {i.id.split("/")[0] for i in items} == {"32k", "64k"}


PINNED = "5e628be450b7e67fb7ae6e201bd6d8f7056f7672"


def write_data_zip(path: Path, rows: list[dict]) -> Path:
    """THUDM/LongBench's data.zip in its real layout: one `data/<dataset>.jsonl` per dataset (the
    LongBench-E `_e` files and the Chinese sets beside them, which are not run here)."""
    import zipfile

    by_dataset: dict[str, list[dict]] = {}
    for r in rows:
        by_dataset.setdefault(r["dataset"], []).append(r)
    with zipfile.ZipFile(path, "w") as z:
        for name, members in by_dataset.items():
            z.writestr(f"data/{name}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in members))
        z.writestr("data/qasper_e.jsonl", json.dumps(row("qasper", 99)) + "\n")
        z.writestr("data/dureader.jsonl", json.dumps({**row("dureader", 0), "language": "zh"}) + "\n")
    return path


@pytest.fixture
def hub_zip(tmp_path, monkeypatch):
    """huggingface_hub.hf_hub_download serving a local data.zip, recording what was asked for."""
    import huggingface_hub

    calls = []

    def serve(rows):
        path = write_data_zip(tmp_path / "data.zip", rows)

        def download(**kwargs):
            calls.append(kwargs)
            return str(path)

        monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
        return calls

    return serve


def test_the_hub_source_is_the_pinned_data_zip_read_per_dataset(tokenizer_dir, tmp_path, hub_zip):
    calls = hub_zip([row(d, n) for d in lb.DATASETS for n in range(2)])
    items = list(lb.iter_items(build_context("longbench", tokenizer_dir, tmp_path, max_context=131072)))
    assert calls and all(c == {"repo_id": "THUDM/LongBench", "filename": "data.zip", "repo_type": "dataset", "revision": PINNED}
                         for c in calls)
    assert [i.id for i in items] == [f"128k/{d}/{d}-{n}" for d in lb.DATASETS for n in range(2)]
    assert items[0].reference == ["answer0"] and items[0].meta["dataset"] == "narrativeqa"


def test_a_dataset_missing_from_the_zip_names_the_member_expected(tokenizer_dir, tmp_path, hub_zip):
    hub_zip([row("narrativeqa", 0)])
    with pytest.raises(HarnessError, match=r"data\.zip: no member 'data/qasper\.jsonl'"):
        list(lb.iter_items(build_context("longbench", tokenizer_dir, tmp_path, max_context=131072)))


def test_a_bad_line_in_the_zip_names_the_member_and_line(tokenizer_dir, tmp_path, monkeypatch):
    import zipfile

    import huggingface_hub

    path = tmp_path / "data.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data/narrativeqa.jsonl", json.dumps(row("narrativeqa", 0)) + "\n{not json\n")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda **kwargs: str(path))
    with pytest.raises(HarnessError, match=r"data\.zip:data/narrativeqa\.jsonl:2: not valid JSON"):
        list(lb.iter_items(build_context("longbench", tokenizer_dir, tmp_path, max_context=131072)))


def test_an_unreachable_hub_says_to_use_data_dir(tokenizer_dir, tmp_path, monkeypatch):
    import huggingface_hub

    def offline(**kwargs):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(HarnessError, match="THUDM/LongBench@5e628be.* --data-dir DIR with longbench.jsonl"):
        list(lb.iter_items(build_context("longbench", tokenizer_dir, tmp_path, max_context=131072)))


def test_a_row_missing_a_hub_field_is_named(tokenizer_dir, tmp_path):
    bad = row("narrativeqa", 0)
    del bad["answers"]
    ctx = build_context("longbench", tokenizer_dir, tmp_path, max_context=131072, data_dir=write_rows(tmp_path / "d", [bad]))
    with pytest.raises(HarnessError, match="narrativeqa row 1: missing field 'answers'"):
        list(lb.iter_items(ctx))


def test_without_a_tokenizer_the_error_says_to_pass_one(tmp_path):
    ctx = build_context("longbench", None, tmp_path, max_context=131072, data_dir=write_rows(tmp_path / "d", all_rows()))
    with pytest.raises(HarnessError, match="--tokenizer"):
        next(lb.iter_items(ctx))


def test_a_raw_prompt_continuation_is_scored_without_its_prompt():
    item = Item("32k/triviaqa/1", ({"role": "user", "content": "Q: capital?\nAnswer:"},), ["Paris"],
                meta={"dataset": "triviaqa", "raw_prompt": True})
    text = "Q: capital?\nAnswer: Paris\nQ: next"
    s = lb.score(item, Generation(text=text, reasoning=None, answer=text))
    assert s.value == 1.0 and s.extracted == " Paris\nQ: next"


def test_a_saved_response_to_a_raw_prompt_item_is_the_continuation_itself():
    # `exaone-eval score` rebuilds items without their prompts (items.without_prompt).
    item = Item("32k/trec/1", (), ["Human being"], meta={"dataset": "trec", "raw_prompt": True, "all_classes": ["Human being"]})
    s = lb.score(item, Generation(text="Human being\nType: next", reasoning=None, answer="Human being\nType: next"))
    assert s.value == 1.0 and s.extracted == "Human being\nType: next"


# ---- end to end ----------------------------------------------------------------------------------

def test_a_run_on_a_fake_server_scores_every_dataset(tokenizer_dir, tmp_path, fake_server, monkeypatch):
    monkeypatch.setenv("EXAONE_EVAL_CACHE", str(tmp_path / "cache"))  # built prompts go to this test's folder
    from exaone_eval.config import ModelPreset, RunConfig

    rows = all_rows()

    def responder(body: dict) -> dict:
        prompt = body["prompt"] if "prompt" in body else body["messages"][-1]["content"]
        for r in rows:
            if r["input"] in prompt:  # answer right on the first row of each dataset only
                if r["_id"].endswith("-0"):
                    return {"content": ("Human being" if r["dataset"] == "trec" else r["answers"][0]) + "\nextra line"}
                return {"content": "no idea"}
        return {"content": ""}

    server = fake_server(responder)
    cfg = RunConfig(suite="t", mode="non-reasoning", model=ModelPreset(name="1.2b", hf_id="m", max_context=65536),
                    backend="openai", benchmarks=["longbench"], out=tmp_path / "run", base_urls=[server.url],
                    data_dir=write_rows(tmp_path / "data", rows), tokenizer=str(tokenizer_dir), max_retries=0)
    scores = asyncio.run(run_suite_on(cfg, server.url))
    entry = scores["longbench"]
    assert entry["n_items"] == 2 * 2 * len(lb.DATASETS)
    assert entry["metrics"]["64k/few_shot"] == pytest.approx(50.0)  # first line only: exact on one row of two
    assert entry["score"] == entry["metrics"]["64k/avg"]
    raw = [b for b in server.requests if "prompt" in b]
    assert len(raw) == 2 * 2 * 2 and all(b["max_tokens"] in (32, 64) for b in raw)  # trec 64, triviaqa 32
    chat = [b for b in server.requests if "messages" in b]
    assert {b["max_tokens"] for b in chat} == {128, 64, 32, 512}
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples" / "longbench.jsonl").read_text().splitlines()]
    trec = next(s for s in samples if s["id"] == "32k/trec/trec-0")
    assert trec["response"] == "Human being\nextra line" and trec["score"] == 1.0  # the prompt is not kept


def test_a_run_without_the_tokenizer_skips_longbench_and_says_why(tmp_path, fake_server, monkeypatch):
    monkeypatch.setenv("EXAONE_EVAL_CACHE", str(tmp_path / "cache"))  # built prompts go to this test's folder
    from exaone_eval.config import ModelPreset, RunConfig

    server = fake_server()
    cfg = RunConfig(suite="t", mode="non-reasoning", model=ModelPreset(name="1.2b", hf_id="m", max_context=65536),
                    backend="openai", benchmarks=["longbench"], out=tmp_path / "run", base_urls=[server.url],
                    data_dir=write_rows(tmp_path / "data", all_rows()), max_retries=0)

    with pytest.raises(HarnessError, match="--tokenizer"):
        asyncio.run(run_suite_on(cfg, server.url))
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    assert scores["longbench"]["skipped"] == "no tokenizer" and server.requests == []


def test_built_prompts_are_read_back_from_the_disk_cache(tokenizer_dir, tmp_path, monkeypatch):
    data = write_rows(tmp_path / "data", [row("qasper", 0, context_words=400)])
    options = {"lengths": {"65536": [200]}, "datasets": ["qasper"]}
    first_ctx = build_context("longbench", tokenizer_dir, tmp_path, max_context=65536, data_dir=data, options=options)
    first = list(lb.iter_items(first_ctx))
    assert first_ctx.fingerprints["prompt_cache"] == {"hits": 0, "built": 1}

    def no_tokenizing(*args):
        raise AssertionError("the prompt should come from the cache")

    monkeypatch.setattr(lb, "middle_truncate", no_tokenizing)
    again_ctx = build_context("longbench", tokenizer_dir, tmp_path, max_context=65536, data_dir=data, options=options)
    assert list(lb.iter_items(again_ctx)) == first
    assert again_ctx.fingerprints["prompt_cache"] == {"hits": 1, "built": 0}
    other_tokenizer = write_word_tokenizer(tmp_path / "tok2", ["different vocabulary"])
    with pytest.raises(AssertionError, match="from the cache"):  # another tokenizer is another address
        list(lb.iter_items(build_context("longbench", other_tokenizer, tmp_path, max_context=65536, data_dir=data, options=options)))


def test_tables_show_the_longest_length_in_table_6_and_every_length_in_table_11(tmp_path):
    from exaone_eval import tables

    records = [(Item(f"{length}/{d}/x", (), None, meta={"dataset": d, "length": length}), Score(value))
               for length, value in (("32k", 0.4), ("64k", 0.3)) for d in lb.DATASETS]
    metrics = lb.metrics(records)
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"model": {"name": "1.2b", "hf_id": "m"}, "mode": "non-reasoning",
                                              "suite": "t", "benchmarks": ["longbench"]}))
    (run / "scores.json").write_text(json.dumps({"longbench": {"score": metrics["avg"], "n_items": 44, "k": 1,
                                                               "ci_low": 29.0, "ci_high": 31.0, "metrics": metrics}}))
    markdown = tables.render([run], ["md"], tmp_path / "out")
    table6 = markdown.split("### Table 6:")[1].split("### Table")[0]
    assert any(line.startswith("| LongBench v1") and "30.0" in line for line in table6.splitlines())
    table11 = markdown.split("### Table 11:")[1].split("### Table")[0]
    assert "40.00" in table11 and "30.00" in table11  # the 32K and 64K totals
