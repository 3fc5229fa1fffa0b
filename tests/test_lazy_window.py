"""The runner streams a benchmark that builds its own prompts: a bounded window ahead of
generation, prompts dropped once generated and scored, memory flat in the number of prompts;
`--tokenizer` on `run`; answer prefixes through a server's completions endpoint."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
import types
from pathlib import Path

import pytest

from exaone_eval import registry
from exaone_eval.config import ModelPreset, RunConfig
from exaone_eval.runner import run_benchmark
from exaone_eval.windows import WINDOW_MIN
from exaone_eval.store import SampleStore
from exaone_eval.types import Generation, Item, Score

PROMPT_WORDS = 32768  # one word per token under a word tokenizer: 32K-token prompts


def fake_module(n_items: int, log: dict) -> types.ModuleType:
    """A long-context benchmark of `n_items` 32K-word prompts that logs how far building runs ahead."""
    module = types.ModuleType("fake_long")

    def iter_items(ctx):
        for i in range(n_items):
            log["built"] += 1
            log["ahead"] = max(log["ahead"], log["built"] - log["generated"])
            yield Item(id=str(i), messages=({"role": "user", "content": f"{i} " + "word " * PROMPT_WORDS},), reference="ok",
                       prefix=" Answer:", meta={"n": i})

    module.iter_items = iter_items
    module.score = lambda item, gen: Score(1.0 if gen.answer == item.reference else 0.0, gen.answer)
    return module


class InstantBackend:
    """Answers every request at once; counts what it generated."""

    def __init__(self, log: dict):
        self.log = log

    async def generate(self, requests):
        for i, request in enumerate(requests):
            await asyncio.sleep(0)
            self.log["generated"] += 1
            self.log["prefixes"].add(request.prefix)
            yield i, Generation(text="ok", reasoning=None, answer="ok", completion_tokens=1)


def run_fake(tmp_path: Path, monkeypatch, n_items: int, concurrency: int = 8) -> tuple[dict, dict]:
    log = {"built": 0, "generated": 0, "ahead": 0, "prefixes": set()}
    module = fake_module(n_items, log)
    real_get_module = registry.get_module
    monkeypatch.setattr(registry, "get_module", lambda name: module if name == "ruler" else real_get_module(name))
    out = tmp_path / f"run{n_items}"
    cfg = RunConfig(suite="s", mode="non-reasoning", model=ModelPreset("m", "m"), backend="openai", benchmarks=["ruler"],
                    out=out, concurrency=concurrency)
    store = SampleStore(out / "store.sqlite")
    try:
        entry = asyncio.run(run_benchmark(cfg, "ruler", InstantBackend(log), store, None, progress=False))
    finally:
        store.close()
    return entry, log


def test_prompts_are_built_at_most_about_three_windows_ahead_of_generation(tmp_path, monkeypatch):
    entry, log = run_fake(tmp_path, monkeypatch, 60, concurrency=4)
    window = max(4, WINDOW_MIN)
    assert entry["n_items"] == 60 and entry["score"] == 100.0 and log["generated"] == 60
    assert log["ahead"] <= 3 * window < 60


def test_samples_file_and_run_json_keep_no_prompts(tmp_path, monkeypatch):
    run_fake(tmp_path, monkeypatch, 12)
    samples = (tmp_path / "run12" / "samples" / "ruler.jsonl").read_text()
    assert len(samples.splitlines()) == 12 and "word word" not in samples
    assert json.loads(samples.splitlines()[0])["item_meta"] == {"n": 0}


def test_answer_prefixes_reach_the_backend(tmp_path, monkeypatch):
    _, log = run_fake(tmp_path, monkeypatch, 3)
    assert log["prefixes"] == {" Answer:"}


def test_a_rerun_generates_nothing_it_has(tmp_path, monkeypatch):
    run_fake(tmp_path, monkeypatch, 10)
    entry, log = run_fake(tmp_path, monkeypatch, 10)  # the same out dir: run10
    assert log["generated"] == 0 and entry["n_samples"] == 10


def peak_bytes(tmp_path, monkeypatch, n_items: int) -> int:
    tracemalloc.start()
    try:
        run_fake(tmp_path, monkeypatch, n_items)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_stays_flat_from_1_to_100_prompts_of_32k_tokens(tmp_path, monkeypatch):
    prompt_bytes = len("word " * PROMPT_WORDS)
    one, ten, hundred = (peak_bytes(tmp_path, monkeypatch, n) for n in (1, 10, 100))
    # Unbounded, 100 prompts would add ~100 prompts' worth; bounded, it stays within a few windows.
    assert hundred - one < 40 * prompt_bytes
    assert hundred < 2.5 * ten


# ---- the CLI: --tokenizer on run, the missing-tokenizer error, prefixes over a server ----------------------


def test_run_without_a_tokenizer_says_to_pass_tokenizer(tmp_path, fake_server, capsys):
    from exaone_eval.cli import main

    server = fake_server()
    code = main(["run", "--suite", "non-reasoning", "--model", "some/model", "--benchmarks", "ruler", "--base-url", server.url,
                 "--out", str(tmp_path / "r"), "--no-progress"])
    assert code == 2 and "pass --tokenizer PATH" in capsys.readouterr().err
    assert json.loads((tmp_path / "r" / "scores.json").read_text())["ruler"] == {"skipped": "no tokenizer"}


def test_a_missing_tokenizer_skips_ruler_and_the_other_benchmarks_still_run(tmp_path, fake_server, shared_data, capsys):
    from exaone_eval.cli import main

    server = fake_server()
    code = main(["run", "--suite", "non-reasoning", "--model", "some/model", "--benchmarks", "ruler,aime_2025", "--base-url", server.url,
                 "--data-dir", str(shared_data), "--limit", "1", "--out", str(tmp_path / "r"), "--no-progress"])
    scores = json.loads((tmp_path / "r" / "scores.json").read_text())
    assert code == 2 and scores["ruler"] == {"skipped": "no tokenizer"} and scores["aime_2025"]["n_items"] == 1


def test_ruler_over_a_server_sends_the_chat_template_and_answer_prefix_as_raw_text(tmp_path, fake_server, monkeypatch):
    pytest.importorskip("long_context_eval")
    pytest.importorskip("wonderwords")
    from longctx_helpers import write_word_tokenizer

    from exaone_eval.cli import main

    prompts = []

    def responder(body):
        prompts.append(body.get("prompt"))
        return {"text": " 1234567.", "completion_tokens": 3}

    monkeypatch.setenv("EXAONE_EVAL_CACHE", str(tmp_path / "cache"))  # the sample cache, not the user's
    server = fake_server(responder)
    tok = write_word_tokenizer(tmp_path / "tok")
    out = tmp_path / "r"
    code = main(["run", "--suite", "demo", "--model", "some/model", "--backend", "openai", "--benchmarks", "ruler",
                 "--base-url", server.url, "--tokenizer", str(tok), "--limit", "2", "--out", str(out), "--no-progress"])
    assert code == 0
    assert len(prompts) == 2 and all(p.startswith("<|user|>\n") and "<|assistant|>\n The special magic number for" in p for p in prompts)
    run = json.loads((out / "run.json").read_text())
    assert run["tokenizer"] == str(tok) and run["task_options"]["ruler"]["lengths"] == [1024, 2048]
    assert json.loads(run["data_fingerprints"]["ruler"])["tokenizer_name"] == str(tok)
    entry = json.loads((out / "scores.json").read_text())["ruler"]
    assert entry["n_items"] == 2 and 0.0 <= entry["score"] <= 100.0 and set(entry["metrics"]) >= {"1k", "1k/niah_single_1"}
    assert len(list((tmp_path / "cache" / "prompts" / "ruler").glob("*.jsonl"))) == 2
