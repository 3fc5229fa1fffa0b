"""The budget sweep against a scripted OpenAI-compatible server, with a tiny local tokenizer.

The scripted model (completions endpoint only) reasons in vocabulary words `w20 w21 ...`:
- item 1 (2+3) closes its reasoning after 7 tokens, item 3 (1+1) after 3;
- item 2 (10*7) never closes: 16 words, then the budget forces its answer.
A forced answer is right only when at least 8 words of reasoning came before the forcing text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from conftest import AIME_ROWS, write_jsonl  # noqa: E402
from lcb_rows import SUM_OK, SUM_ROW, fenced  # noqa: E402

from exaone_eval.backends.openai import OpenAIBackend  # noqa: E402
from exaone_eval.config import ModelPreset, RunConfig  # noqa: E402
from exaone_eval.reasoning import BUDGET_FORCING_TEXT  # noqa: E402
from exaone_eval.sweep import Tokens, parse_budgets, run_sweep  # noqa: E402
from exaone_eval.types import Generation, HarnessError, Request, Sampling  # noqa: E402

BUDGETS = (4, 8, 16)
WORDS = [f"w{i}" for i in range(20, 40)]
ANSWERS = {"2+3": 5, "10*7": 70, "1+1": 2}
CLOSES_AFTER = {"2+3": 6, "1+1": 2}  # reasoning words before `</think>`


def scripted_model(body: dict) -> dict:
    prompt = body["prompt"]
    if "### Question:" in prompt:  # LiveCodeBench: reasons one word, then answers with a program
        return {"text": "w20 </think> " + fenced(SUM_OK), "completion_tokens": 3}
    question = re.search(r"What is (\S+)\?", prompt).group(1)
    right = ANSWERS[question]
    if prompt.endswith(BUDGET_FORCING_TEXT):  # answer after a forced stop
        reasoning = prompt.rsplit("<think>", 1)[1][: -len(BUDGET_FORCING_TEXT)].split()
        value = right if len(reasoning) >= 8 else 0
        return {"text": f"\\boxed{{{value}}}", "completion_tokens": 1}
    if question in CLOSES_AFTER:
        words = WORDS[: CLOSES_AFTER[question]]
        return {"text": " ".join(words) + f" </think> \\boxed{{{right}}}", "completion_tokens": len(words) + 2}
    n = body["max_tokens"]
    return {"text": " ".join(WORDS[:n]), "completion_tokens": n, "finish_reason": "length"}


@pytest.fixture
def tokenizer_dir(tmp_path):
    from exaone_eval.model.tiny import write_tiny_tokenizer

    return write_tiny_tokenizer(tmp_path / "tokenizer", 64)


def _config(tmp_path: Path, model: str = "tiny", k: int = 1, benchmarks: tuple[str, ...] = ("aime_2025",)) -> RunConfig:
    data = write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS).parent
    write_jsonl(data / "livecodebench_v6.jsonl", [SUM_ROW])
    return RunConfig(suite="budget", mode="reasoning", model=ModelPreset(name=model, hf_id=model), backend="openai",
                     benchmarks=list(benchmarks), out=tmp_path / "run", k=k, data_dir=data,
                     budgets=BUDGETS, answer_max_tokens=8192)


def _sweep(cfg: RunConfig, url: str, tokenizer: str | None, max_retries: int = 6) -> dict:
    async def go():
        backend = OpenAIBackend([url], model=cfg.model.hf_id, max_retries=max_retries)
        try:
            return await run_sweep(cfg, backend, tokenizer=tokenizer, progress=False)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_budgets_parse_k_suffixes_and_sort():
    assert parse_budgets("64k, 1k,2K,1024") == (1024, 2048, 65536)


@pytest.mark.parametrize("text", ["", "1k,x", "0", "-2k", "1.5k"])
def test_a_malformed_budget_list_is_an_input_error(text):
    with pytest.raises(HarnessError, match="--budgets"):
        parse_budgets(text)


def test_scores_per_budget_land_in_scores_json_as_tables_reads_them(tmp_path, fake_server, tokenizer_dir):
    server = fake_server(scripted_model)
    scores = _sweep(_config(tmp_path), server.url, str(tokenizer_dir))
    assert {b: round(scores[f"aime_2025@{b}"]["score"], 1) for b in BUDGETS} == {4: 33.3, 8: 100.0, 16: 100.0}
    assert scores["aime_2025@4"]["n_items"] == 3 and scores["aime_2025@4"]["k"] == 1

    from exaone_eval.rundir import load_run, sample_scores

    run = load_run(tmp_path / "run")
    assert run.is_budget_run and run.budgets == BUDGETS
    per_budget = sample_scores(run, "aime_2025")
    assert set(per_budget) == {f"aime_2025@{b}" for b in BUDGETS}
    assert per_budget["aime_2025@4"] == {"1": [0.0], "2": [0.0], "3": [1.0]}


def test_livecodebench_v6_runs_in_the_sweep_with_sandboxed_verdicts_per_budget(tmp_path, fake_server, tokenizer_dir):
    server = fake_server(scripted_model)
    scores = _sweep(_config(tmp_path, benchmarks=("aime_2025", "livecodebench_v6")), server.url, str(tokenizer_dir))
    assert {b: scores[f"livecodebench_v6@{b}"]["score"] for b in BUDGETS} == {4: 100.0, 8: 100.0, 16: 100.0}
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["scoring"]["livecodebench_v6"]["isolation"] in ("bwrap", "rlimits")


def test_only_budgets_the_reasoning_exceeded_send_a_request_with_the_truncated_reasoning(tmp_path, fake_server, tokenizer_dir):
    server = fake_server(scripted_model)
    _sweep(_config(tmp_path), server.url, str(tokenizer_dir))
    assert all("prompt" in body for body in server.requests)  # the completions endpoint only
    full = [b for b in server.requests if b["prompt"].endswith("<think> ")]
    assert sorted(b["max_tokens"] for b in full) == [16, 16, 16]  # one reasoning per sample, at the largest budget
    forced = sorted(b["prompt"].rsplit("<think> ", 1)[1] for b in server.requests if b["prompt"].endswith(BUDGET_FORCING_TEXT))
    assert forced == sorted([
        "w20 w21 w22 w23" + BUDGET_FORCING_TEXT,  # item 1 at budget 4 (it closed after 7 tokens)
        "w20 w21 w22 w23" + BUDGET_FORCING_TEXT,  # item 2 at budget 4
        " ".join(WORDS[:8]) + BUDGET_FORCING_TEXT,  # item 2 at budget 8
        " ".join(WORDS[:16]) + BUDGET_FORCING_TEXT,  # item 2 forced at the largest budget itself
    ])
    assert all(b["max_tokens"] == 8192 for b in server.requests if b["prompt"].endswith(BUDGET_FORCING_TEXT))
    assert len(server.requests) == 3 + 4


def test_samples_record_each_budget_and_where_its_answer_came_from(tmp_path, fake_server, tokenizer_dir):
    _sweep(_config(tmp_path), fake_server(scripted_model).url, str(tokenizer_dir))
    lines = (tmp_path / "run" / "samples" / "aime_2025.jsonl").read_text().splitlines()
    records = {(r["id"], r["budget"]): r for r in map(json.loads, lines)}
    assert len(records) == 9
    assert [records[("3", b)]["source"] for b in BUDGETS] == ["reused", "reused", "full"]
    assert [records[("1", b)]["source"] for b in BUDGETS] == ["truncated", "reused", "full"]
    assert records[("1", 8)]["response"] == records[("1", 16)]["response"]
    assert records[("2", 4)]["generated_tokens"] == 1 and records[("2", 4)]["completion_tokens"] == 5


def test_a_rerun_resumes_and_generates_nothing(tmp_path, fake_server, tokenizer_dir):
    cfg = _config(tmp_path)
    first = _sweep(cfg, fake_server(scripted_model).url, str(tokenizer_dir))
    again = fake_server(scripted_model)
    assert _sweep(cfg, again.url, str(tokenizer_dir)) == first
    assert again.requests == []


def test_a_sweep_extended_to_smaller_budgets_reuses_the_stored_reasonings(tmp_path, fake_server, tokenizer_dir):
    cfg = _config(tmp_path)
    largest_only = fake_server(scripted_model)
    _sweep(dataclasses.replace(cfg, budgets=(16,)), largest_only.url, str(tokenizer_dir))
    assert len(largest_only.requests) == 3 + 1  # item 2 is forced in a second call
    rest = fake_server(scripted_model)
    scores = _sweep(cfg, rest.url, str(tokenizer_dir))
    assert all(b["prompt"].endswith(BUDGET_FORCING_TEXT) for b in rest.requests) and len(rest.requests) == 3
    assert round(scores["aime_2025@4"]["score"], 1) == 33.3


def test_an_interrupted_sweep_finishes_on_rerun_without_redoing_stored_samples(tmp_path, fake_server, tokenizer_dir):
    def no_forced_answers(body: dict) -> dict:  # drops the connection on every answer after a forced stop
        if body["prompt"].endswith(BUDGET_FORCING_TEXT):
            raise ConnectionAbortedError("scripted failure")
        return scripted_model(body)

    cfg = _config(tmp_path)
    with pytest.raises(HarnessError, match="rerun the same command"):
        _sweep(cfg, fake_server(no_forced_answers).url, str(tokenizer_dir), max_retries=0)
    again = fake_server(scripted_model)
    scores = _sweep(cfg, again.url, str(tokenizer_dir))
    assert round(scores["aime_2025@4"]["score"], 1) == 33.3
    # Items 1 and 3 finished their reasoning in the first run; item 2 needed a forced answer.
    restarted = [b["prompt"] for b in again.requests if b["prompt"].endswith("<think> ")]
    assert len(restarted) == 1 and "10*7" in restarted[0]
    assert len(again.requests) == 2 + 3


def test_without_a_local_tokenizer_the_sweep_says_it_needs_one(tmp_path, fake_server):
    cfg = _config(tmp_path, model=str(tmp_path / "no-such-model"))
    with pytest.raises(HarnessError, match="needs the model's tokenizer.*--tokenizer"):
        _sweep(cfg, fake_server(scripted_model).url, None)


def test_reasoning_is_counted_in_the_models_tokens_up_to_the_closing_tag(tokenizer_dir):
    from transformers import AutoTokenizer

    tokens = Tokens(AutoTokenizer.from_pretrained(str(tokenizer_dir)))
    closed = Generation(text="w20 w21 w22 </think> w30", reasoning="w20 w21 w22", answer="w30")
    ids = tokens.generated_ids(closed)
    assert tokens.open_reasoning_tokens(closed, ids) == 4
    forced = Generation(text="w20 w21" + BUDGET_FORCING_TEXT + "w31", reasoning=None, answer="w31", meta={"forced_at": 2})
    assert tokens.decode(tokens.generated_ids(forced)) == "w20 w21"
    assert tokens.open_reasoning_tokens(forced, tokens.generated_ids(forced)) == 2


# ---- the openai backend's completions path ---------------------------------------------------------


def _request(**kw) -> Request:
    return Request(messages=({"role": "user", "content": "What is 10*7?"},), mode="reasoning",
                   sampling=Sampling(temperature=0.6, max_tokens=64, seed=1), **kw)


def _one(backend: OpenAIBackend, request: Request) -> Generation:
    async def go():
        out = [gen async for _, gen in backend.generate([request])][0]
        await backend.aclose()
        return out

    return asyncio.run(go())


def _rendering_backend(url: str) -> OpenAIBackend:
    backend = OpenAIBackend([url], model="m")
    backend.render = lambda r: "<bos> user " + r.messages[0]["content"] + " assistant <think> "
    return backend


def test_a_budget_request_reaching_its_budget_is_forced_in_a_second_call(fake_server):
    server = fake_server(scripted_model)
    gen = _one(_rendering_backend(server.url), _request(reasoning_budget=5, answer_max_tokens=9))
    assert [b["max_tokens"] for b in server.requests] == [5, 9]
    assert server.requests[1]["prompt"].endswith("w24" + BUDGET_FORCING_TEXT)
    assert gen.text == "w20 w21 w22 w23 w24" + BUDGET_FORCING_TEXT + "\\boxed{0}"
    assert gen.meta["forced_at"] == 5 and gen.completion_tokens == 6 and gen.reasoning_closed


def test_a_reasoning_closed_within_its_budget_continues_its_answer_to_max_tokens(fake_server):
    first = {"text": "w20 w21 </think> The", "completion_tokens": 4, "finish_reason": "length"}
    rest = {"text": " answer is \\boxed{70}.", "completion_tokens": 6}
    server = fake_server(lambda body: first if body["prompt"].endswith("<think> ") else rest)
    gen = _one(_rendering_backend(server.url), _request(reasoning_budget=4, answer_max_tokens=9))
    assert [b["max_tokens"] for b in server.requests] == [4, 60]
    assert gen.answer == "The answer is \\boxed{70}." and "forced_at" not in gen.meta


def test_a_prefix_that_closed_the_reasoning_is_continued_with_the_answer_cap(fake_server):
    server = fake_server(lambda body: {"text": "\\boxed{70}", "completion_tokens": 3})
    prefix = "w20 w21" + BUDGET_FORCING_TEXT
    gen = _one(_rendering_backend(server.url), _request(prefix=prefix, answer_max_tokens=9))
    assert server.requests[0]["prompt"] == "<bos> user What is 10*7? assistant <think> " + prefix
    assert server.requests[0]["max_tokens"] == 9
    assert gen.text == prefix + "\\boxed{70}" and gen.answer == "\\boxed{70}"


def test_a_prefix_request_without_a_chat_renderer_fails_naming_the_tokenizer(fake_server):
    server = fake_server(scripted_model)
    gen = _one(OpenAIBackend([server.url], model="m"), _request(prefix="w20"))
    assert "tokenizer" in gen.error and server.requests == []


# ---- the command line ----------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str) -> int:
    from exaone_eval.cli import main

    data = write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS).parent
    write_jsonl(data / "livecodebench_v6.jsonl", [SUM_ROW])
    return main([*args, "--model", "tiny", "--benchmarks", "aime_2025", "--k", "1", "--data-dir", str(data),
                 "--out", str(tmp_path / "run"), "--no-progress"])


def test_the_sweep_command_prints_each_budget_and_the_tokens_it_saved(tmp_path, fake_server, tokenizer_dir, capsys):
    server = fake_server(scripted_model)
    assert _cli(tmp_path, "sweep", "--budgets", "4,8,16", "--base-url", server.url, "--tokenizer", str(tokenizer_dir)) == 0
    out = capsys.readouterr().out
    assert "aime_2025@4" in out and "aime_2025@16" in out
    assert "separate runs per budget" in out
    assert json.loads((tmp_path / "run" / "run.json").read_text())["budgets"] == list(BUDGETS)


def test_run_with_the_budget_suite_is_the_sweep(tmp_path, fake_server, tokenizer_dir):
    server = fake_server(scripted_model)
    assert _cli(tmp_path, "run", "--suite", "budget", "--base-url", server.url, "--tokenizer", str(tokenizer_dir)) == 0
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    assert sorted(scores) == sorted(f"aime_2025@{b}" for b in (1024, 2048, 4096, 8192, 16384, 32768, 65536))
    assert all("prompt" in body for body in server.requests)


def test_a_tokenizer_outside_the_budget_sweep_is_accepted_and_recorded(tmp_path, fake_server, tokenizer_dir):
    # `run` takes --tokenizer for every suite (long-context benchmarks size prompts with it).
    server = fake_server()  # chat requests: the tokenizer changes nothing for AIME
    assert _cli(tmp_path, "run", "--suite", "reasoning", "--base-url", server.url, "--tokenizer", str(tokenizer_dir)) == 0
    assert json.loads((tmp_path / "run" / "run.json").read_text())["tokenizer"] == str(tokenizer_dir)
