"""The conversation mechanism's pieces: reading tool calls, history entries, per-turn seeds."""

from __future__ import annotations

import json

import pytest

from exaone_eval.conversation import answer_text, assistant_message, tool_calls_of, turn_seed
from exaone_eval.types import Generation


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
