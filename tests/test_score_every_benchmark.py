"""`exaone-eval score` through the CLI, for every benchmark of the registry: each gets a tiny
`--data-dir` in its Hub schema (the rows the other tests use) and one saved response per item.
A benchmark that can be scored from saved responses exits 0 with its figures; one that cannot
(a conversation, an LLM-judged set without a judge, an unpublished set) exits 2 with a one-line
error that says why, never a traceback. Long-context items come back without their prompts
(`items.without_prompt`); LongBench's raw-prompt items (trec, triviaqa) once crashed here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_jsonl
from test_bench_wmt24pp_es import ROW as WMT_ROW
from test_helmet import write_recall_tree
from test_longbench import all_rows as longbench_rows
from test_same_verdicts_everywhere import CASES

from exaone_eval.registry import REGISTRY, get_module, get_spec
from exaone_eval.cli import main

# benchmark -> what its one-line error says: it cannot be scored from saved responses (here).
REFUSED = {
    "multi_if": "is a conversation",
    "tau_bench_airline": "is a conversation",
    "tau_bench_retail": "is a conversation",
    "wmt24pp_es": "scored by an LLM judge: pass --judge-base-url",
    "ko_longbench": "in-house and unpublished",
}
LONG_CONTEXT = {"longbench", "helmet", "ruler"}


def test_every_registered_benchmark_is_covered_here():
    assert set(REGISTRY) == set(CASES) | set(REFUSED) | LONG_CONTEXT


def _long_context_data(name: str, data: Path, tmp_path: Path, monkeypatch) -> Path:
    """The data and tokenizer a long-context benchmark rebuilds its items from; RULER and HELMET
    narrowed (through their specs' options) to one small task."""
    monkeypatch.setenv("EXAONE_EVAL_CACHE", str(tmp_path / "cache"))
    if name == "ruler":
        pytest.importorskip("long_context_eval")
        from longctx_helpers import write_word_tokenizer

        for key, value in (("lengths", [4096]), ("tasks", ["niah_single_1"]), ("samples", 2)):
            monkeypatch.setitem(get_spec("ruler").options, key, value)
        return write_word_tokenizer(tmp_path / "tok")
    from long_context_helpers import write_word_tokenizer

    if name == "longbench":
        from exaone_eval.benchmarks import longbench

        rows = longbench_rows()
        write_jsonl(data / "longbench.jsonl", rows)
        texts = list(longbench.PROMPTS.values()) + [f"{r['input']} {r['context']}" for r in rows]
        return write_word_tokenizer(tmp_path / "tok", texts)
    write_recall_tree(data, n=2, context_words=50, kvs="1800")  # json_kv at 128K
    monkeypatch.setitem(get_spec("helmet").options, "datasets", ["json_kv"])
    return write_word_tokenizer(tmp_path / "tok", ["w0 key0 value0"])


def _item_ids(name: str, data: Path, tokenizer: Path | None, tmp_path: Path) -> list[str]:
    """The ids `score` will rebuild (what `load_items` gives for this --data-dir)."""
    from exaone_eval.config import ModelPreset, RunConfig
    from exaone_eval.items import load_items

    cfg = RunConfig(suite="score", mode="non-reasoning", model=ModelPreset("responses", "responses"), backend="none",
                    benchmarks=[name], out=tmp_path / "ids", data_dir=data, tokenizer=str(tokenizer) if tokenizer else None)
    return [item.id for item in load_items(cfg, name)[0]]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_score_never_crashes(name, tmp_path, monkeypatch, capsys):
    data, tokenizer, extra = tmp_path / "data", None, []
    if name in CASES:
        rows, answers = CASES[name]
        write_jsonl(data / f"{name}.jsonl", rows)
        ids = [row["id"] if name == "bfcl_v3" else get_module(name).to_item(row).id for row in rows]
        responses = [{"id": item_id, "response": answers[i % len(answers)]} for i, item_id in enumerate(ids)]
    elif name in LONG_CONTEXT:
        tokenizer = _long_context_data(name, data, tmp_path, monkeypatch)
        extra = ["--tokenizer", str(tokenizer)]
        ids = _item_ids(name, data, tokenizer, tmp_path)
        responses = [{"id": item_id, "response": "Human being\nmore" if i % 2 else "value0"} for i, item_id in enumerate(ids)]
    else:
        responses = [{"id": "any", "response": "anything"}]
        if name == "wmt24pp_es":  # its rows load; the missing judge is what stops it
            write_jsonl(data / "wmt24pp_es.jsonl", [WMT_ROW])
            responses = [{"id": get_module(name).to_item(WMT_ROW).id, "response": "Un empujón final"}]
    write_jsonl(tmp_path / "responses.jsonl", responses)
    out = tmp_path / "out"
    code = main(["score", "--benchmark", name, "--responses", str(tmp_path / "responses.jsonl"), "--data-dir", str(data),
                 "--out", str(out), *extra])
    err = capsys.readouterr().err
    if name in REFUSED:
        assert code == 2 and REFUSED[name] in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        return
    assert code == 0, err
    entry = json.loads((out / "scores.json").read_text())[name]
    samples = (out / "samples" / f"{name}.jsonl").read_text().splitlines()
    assert len(samples) == len(responses) and entry["n_items"] == len(set(ids)) > 0
    assert 0.0 <= entry["score"] <= 100.0
