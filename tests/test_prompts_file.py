"""prompts/<benchmark>.jsonl: each distinct prompt of a run kept once (capped), joined to the sample
records on `prompt_hash`; and the gold in every sample record (`reference`, or `reference_size`
when it is large)."""

from __future__ import annotations

import asyncio
import json
import types
from pathlib import Path

from conftest import AIME_ROWS, write_jsonl
from helpers import aime_solver

from exaone_eval import registry
from exaone_eval.cli import main
from exaone_eval.config import ModelPreset, RunConfig
from exaone_eval.items import Planned
from exaone_eval.results import PROMPT_CAP, REFERENCE_CAP, PromptLog, prompt_hash, sample_record
from exaone_eval.runner import run_benchmark
from exaone_eval.store import SampleStore
from exaone_eval.types import Generation, Item, Request, Sampling, Score


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_aime(tmp_path: Path, url: str) -> int:
    write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS)
    return main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025", "--base-url", url, "--k", "2",
                 "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--no-progress"])


def test_a_run_keeps_each_distinct_prompt_once_joined_on_the_samples_prompt_hash(tmp_path, fake_server):
    assert run_aime(tmp_path, fake_server(aime_solver).url) == 0
    samples = read_lines(tmp_path / "run" / "samples" / "aime_2025.jsonl")
    prompts = read_lines(tmp_path / "run" / "prompts" / "aime_2025.jsonl")
    assert len(samples) == 6 and len(prompts) == 3  # 3 items x k = 2 samples, one prompt per item
    assert {p["prompt_hash"] for p in prompts} == {s["prompt_hash"] for s in samples}
    by_hash = {p["prompt_hash"]: p for p in prompts}
    first = by_hash[next(s["prompt_hash"] for s in samples if s["id"] == "2")]
    assert first["messages"][0]["role"] == "user" and first["messages"][0]["content"].startswith("What is 10*7?")
    assert first["chars"] == len(first["messages"][0]["content"]) and "tools" not in first


def test_a_rerun_on_the_same_directory_adds_no_prompt_lines(tmp_path, fake_server):
    server = fake_server(aime_solver)
    assert run_aime(tmp_path, server.url) == 0
    before = (tmp_path / "run" / "prompts" / "aime_2025.jsonl").read_bytes()
    assert run_aime(tmp_path, server.url) == 0
    assert (tmp_path / "run" / "prompts" / "aime_2025.jsonl").read_bytes() == before


def test_every_sample_record_of_a_math_run_keeps_its_gold(tmp_path, fake_server):
    assert run_aime(tmp_path, fake_server(aime_solver).url) == 0
    samples = read_lines(tmp_path / "run" / "samples" / "aime_2025.jsonl")
    assert {(s["id"], s["reference"]) for s in samples} == {("1", "5"), ("2", "70"), ("3", "2")}


def planned(reference, messages=({"role": "user", "content": "2+2?"},), prefix=None) -> Planned:
    item = Item(id="1", messages=messages, reference=reference)
    request = Request(messages=messages, sampling=Sampling(temperature=0.0), mode="non-reasoning", prefix=prefix)
    return Planned(item, 0, 7, request, "key")


def test_a_small_reference_is_recorded_and_a_large_one_only_by_its_size():
    gen, score = Generation(text="4", reasoning=None, answer="4"), Score(1.0, "4")
    small = sample_record(planned({"inputs": ["1 2"], "outputs": ["3"]}), gen, score)
    assert small["reference"] == {"inputs": ["1 2"], "outputs": ["3"]} and "reference_size" not in small
    tests = {"inputs": ["9" * 1_000] * 50, "outputs": ["1"] * 50}  # LiveCodeBench-like: 50 big test inputs
    large = sample_record(planned(tests), gen, score)
    assert "reference" not in large and large["reference_size"] == len(json.dumps(tests)) > REFERENCE_CAP


def test_raw_prompts_that_differ_get_different_hashes():
    # A raw-prompt request has no messages: its prompt is the prefix, which the hash must cover.
    a, b = (planned(None, messages=(), prefix=text).request for text in ("Passage one. Answer:", "Passage two. Answer:"))
    assert prompt_hash(a) != prompt_hash(b)


def long_module(n_items: int, words: int) -> types.ModuleType:
    """A benchmark that builds its own long prompts (as RULER does), item i's prompt opening with
    `START i` and closing with `END i`, half of them raw prompts (LongBench's few-shot sets)."""
    module = types.ModuleType("fake_long")

    def iter_items(ctx):
        for i in range(n_items):
            text = f"START {i} " + "word " * words + f"END {i}"
            yield Item(id=str(i), messages=({"role": "system", "content": "Be brief."}, {"role": "user", "content": text}),
                       reference="ok", meta={"raw_prompt": True} if i % 2 else {}, prefix=None if i % 2 else " Answer:")

    module.iter_items = iter_items
    module.score = lambda item, gen: Score(1.0, gen.answer)
    return module


class Instant:
    async def generate(self, requests):
        for i, _ in enumerate(requests):
            await asyncio.sleep(0)
            yield i, Generation(text="ok", reasoning=None, answer="ok", completion_tokens=1)


def run_long(tmp_path: Path, monkeypatch, n_items: int, words: int) -> Path:
    real = registry.get_module
    monkeypatch.setattr(registry, "get_module", lambda name: long_module(n_items, words) if name == "ruler" else real(name))
    cfg = RunConfig(suite="s", mode="non-reasoning", model=ModelPreset("m", "m"), backend="openai", benchmarks=["ruler"],
                    out=tmp_path / "run", concurrency=2)
    store = SampleStore(cfg.out / "store.sqlite")
    try:
        asyncio.run(run_benchmark(cfg, "ruler", Instant(), store, None, progress=False))
    finally:
        store.close()
    return cfg.out / "prompts" / "ruler.jsonl"


def test_a_long_prompt_keeps_its_head_and_tail_up_to_the_cap_and_its_full_length(tmp_path, monkeypatch):
    path = run_long(tmp_path, monkeypatch, 20, 40_000)  # 200,000-character prompts, in windows of 8
    prompts = read_lines(path)
    assert len(prompts) == 20  # every window's prompts written before the window dropped them
    chat, raw = prompts[0], prompts[1]
    user = chat["messages"][1]["content"]
    assert chat["messages"][0]["content"] == "Be brief." and chat["prefix"] == " Answer:"  # the short parts whole
    assert user.startswith("START 0 ") and user.endswith("END 0") and "characters not kept" in user
    assert chat["chars"] == len("Be brief.") + len(f"START 0 {'word ' * 40_000}END 0") + len(" Answer:")
    assert raw["prompt"].startswith("START 1 ") and raw["prompt"].endswith("END 1") and raw["chars"] == len(f"START 1 {'word ' * 40_000}END 1")
    assert "messages" not in raw
    assert max(len(line) for line in path.read_text().splitlines()) < PROMPT_CAP + 500  # not 200,000
    samples = read_lines(tmp_path / "run" / "samples" / "ruler.jsonl")
    assert {s["prompt_hash"] for s in samples} == {p["prompt_hash"] for p in prompts}


def test_a_line_cut_by_a_killed_run_is_dropped_and_written_again(tmp_path):
    log = PromptLog(tmp_path, "b")
    log.add([planned(None, messages=({"role": "user", "content": "one"},)), planned(None, messages=({"role": "user", "content": "two"},))])
    path = tmp_path / "prompts" / "b.jsonl"
    whole = path.read_text()
    path.write_text(whole[: len(whole) - 10])  # killed while appending the second line
    PromptLog(tmp_path, "b").add([planned(None, messages=({"role": "user", "content": "two"},))])
    assert path.read_text() == whole
