"""The conversation mechanism's pieces: reading tool calls, history entries, per-turn seeds; and
the episode's wall-time limit (a cut episode is that sample's error, resumed by a rerun)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import threading
import time
import types

import pytest

from exaone_eval import registry
from exaone_eval.config import ModelPreset, RunConfig
from exaone_eval.conversation import DEFAULT_EPISODE_TIMEOUT_S, episode_timeout, turn_seed
from exaone_eval.items import task_options
from exaone_eval.messages import answer_text, assistant_message, tool_calls_of
from exaone_eval.types import Episode, Generation, HarnessError, Item, Score


def _gen(answer: str, tool_calls=None) -> Generation:
    return Generation(text=answer, reasoning=None, answer=answer, tool_calls=tool_calls)


def test_server_parsed_tool_calls_are_read_with_their_json_arguments():
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Seoul"}'}}
    assert tool_calls_of(_gen("", (call,))) == [{"id": "c1", "name": "get_weather", "arguments": {"city": "Seoul"}}]


def test_tool_call_blocks_in_raw_text_are_read_in_order():
    text = 'Let me check.<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>\n<tool_call>{"name": "b", "arguments": {}}</tool_call>'
    calls = tool_calls_of(_gen(text))
    assert [(c["name"], c["arguments"]) for c in calls] == [("a", {"x": 1}), ("b", {})]
    assert answer_text(_gen(text)) == "Let me check."


def test_a_malformed_tool_call_block_is_no_call():
    assert tool_calls_of(_gen("<tool_call>{not json}</tool_call><tool_call>[1, 2]</tool_call>")) == []


def test_unparseable_server_arguments_are_kept_visible_not_dropped():
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    assert tool_calls_of(_gen("", (call,)))[0]["arguments"] == {"__unparsed__": "{oops"}


def test_the_history_entry_of_a_call_carries_it_in_openai_form_without_reasoning():
    gen = Generation(text="<think>hm</think>ok<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1}}</tool_call>",
                     reasoning="hm", answer='ok<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>')
    message = assistant_message(gen)
    assert message["content"] == "ok"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"a": 1}
    assert "hm" not in json.dumps(message)


def test_a_plain_answer_is_a_plain_assistant_message():
    assert assistant_message(_gen("hello")) == {"role": "assistant", "content": "hello"}


@pytest.mark.parametrize("a, b", [((1, "agent", 0), (1, "agent", 1)), ((1, "agent", 0), (1, "user", 0)), ((1, "agent", 0), (2, "agent", 0))])
def test_turn_seeds_differ_by_sample_role_and_turn(a, b):
    assert turn_seed(*a) != turn_seed(*b)
    assert turn_seed(*a) == turn_seed(*a)


# ---------------------------------------------------------------- the wall-time limit (issue 17)

TURNS = 5


def five_turn_module() -> types.ModuleType:
    """A conversation of one item that always takes TURNS agent turns (stands in for multi_if)."""
    module = types.ModuleType("five_turns")

    def iter_items(ctx):
        yield Item(id="a", messages=({"role": "user", "content": "count with me"},), reference=None)

    async def converse(item, chat):
        messages = list(item.messages)
        for _ in range(TURNS):
            gen = await chat(messages)
            messages += [assistant_message(gen), {"role": "user", "content": "go on"}]
        return Episode(messages=tuple(messages), response=gen.answer)

    module.iter_items, module.converse = iter_items, converse
    module.score = lambda item, episode: Score(1.0, episode.response)
    return module


@pytest.fixture
def five_turns(monkeypatch):
    module = five_turn_module()
    real = registry.get_module
    monkeypatch.setattr(registry, "get_module", lambda name: module if name == "multi_if" else real(name))


def config(tmp_path, **options) -> RunConfig:
    return RunConfig(suite="t", mode="non-reasoning", model=ModelPreset("m", "m"), backend="openai", benchmarks=["multi_if"],
                     out=tmp_path / "run", k=1, task_options={"multi_if": options} if options else {})


def run_on(cfg: RunConfig, url: str) -> dict:
    from exaone_eval.backends.openai import OpenAIBackend
    from exaone_eval.runner import run_suite

    async def go():
        # A request timeout well under the hour default: if the cut failed, the test would fail, not hang.
        backend = OpenAIBackend([url], "m", max_retries=0, request_timeout=60)
        try:
            return await run_suite(cfg, backend, None, progress=False)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def stalls_after(n: int, release: threading.Event):
    """A server responder that answers `n` requests, then stalls on each until `release` is set."""
    answered = itertools.count()

    def respond(body: dict) -> dict:
        if next(answered) >= n:
            release.wait(60)
        return {"content": "and on"}

    return respond


def cut_run(tmp_path, fake_server) -> tuple[HarnessError, float]:
    """A run whose server stalls after 2 turns, under a 3 s limit (room for those turns on a loaded
    machine): (the run's error, its duration)."""
    release = threading.Event()
    server = fake_server(stalls_after(2, release))
    started = time.monotonic()
    try:
        with pytest.raises(HarnessError) as raised:
            run_on(config(tmp_path, episode_timeout_s=3), server.url)
    finally:
        release.set()
    return raised.value, time.monotonic() - started


def scores_of(tmp_path) -> dict:
    return json.loads((tmp_path / "run" / "scores.json").read_text())


def test_an_episode_past_its_wall_time_fails_that_sample_as_wall_time_without_hanging_the_run(tmp_path, fake_server, five_turns):
    error, elapsed = cut_run(tmp_path, fake_server)
    assert "multi_if: 1 of 1 conversations failed (first: item a sample 0: wall_time:" in str(error)
    assert elapsed < 40  # cut at 3 s, not left to the 60 s request timeout (loose: a busy machine)
    entry = scores_of(tmp_path)["multi_if"]
    assert entry["terminations"] == {"wall_time": 1} and entry["failed"] == 1 and "score" not in entry
    assert entry["sample_errors"] == ["item a sample 0: wall_time: the episode ran past episode_timeout_s = 3 s after "
                                      "2 turns (they are stored: a rerun resumes it)"]
    assert (tmp_path / "run" / "samples" / "multi_if.jsonl").read_text() == ""  # no zero kept for it


def test_a_rerun_resumes_a_cut_episode_from_its_stored_turns_and_scores_it(tmp_path, fake_server, five_turns):
    cut_run(tmp_path, fake_server)
    again = fake_server(lambda body: {"content": "and on"})
    entry = run_on(config(tmp_path), again.url)["multi_if"]  # the default limit, an hour
    assert len(again.requests) == TURNS - 2  # the two stored turns are replayed, not asked again
    [row] = [json.loads(line) for line in (tmp_path / "run" / "samples" / "multi_if.jsonl").read_text().splitlines()]
    assert [t["replayed"] for t in row["turns"]] == [True, True] + [False] * (TURNS - 2)
    assert row["termination"] == "completed" and row["score"] == 1.0
    assert entry["terminations"] == {"completed": 1} and entry["failed"] == 0


def test_the_wall_time_limit_comes_from_the_task_options_and_a_suite_overrides_it(tmp_path):
    cfg = dataclasses.replace(config(tmp_path), benchmarks=["tau_bench_airline"])
    spec_value = registry.get_spec("tau_bench_airline").options["episode_timeout_s"]
    assert episode_timeout("tau_bench_airline", task_options(cfg, "tau_bench_airline")) == spec_value == 3600
    overridden = dataclasses.replace(cfg, task_options={"tau_bench_airline": {"episode_timeout_s": 90}})
    assert episode_timeout("tau_bench_airline", task_options(overridden, "tau_bench_airline")) == 90.0
    assert episode_timeout("multi_if", {}) == DEFAULT_EPISODE_TIMEOUT_S  # a spec without the setting


@pytest.mark.parametrize("value", [0, -5, "1h", True])
def test_a_wall_time_limit_that_is_not_a_positive_number_of_seconds_is_refused_naming_the_option(value):
    with pytest.raises(HarnessError, match=r"bfcl_v3: \[options\] episode_timeout_s .* must be a number of seconds > 0"):
        episode_timeout("bfcl_v3", {"episode_timeout_s": value})
