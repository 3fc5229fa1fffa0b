"""BFCL-v3 (exaone_eval/benchmarks/bfcl_v3.py): prompt, official AST verdicts, data hook, v3 summaries."""

from __future__ import annotations

import copy
import json

import pytest

pytest.importorskip("bfcl", reason="nvidia-bfcl is not installed (see docs/demo.md)")

from exaone_eval.benchmarks import bfcl_v3  # noqa: E402
from exaone_eval.registry import get_spec  # noqa: E402
from exaone_eval.types import Episode, Generation, HarnessError, Item, Score  # noqa: E402
from helpers import gen  # noqa: E402

AREA_DOC = {
    "name": "geometry.circle_area",
    "description": "Area of a circle.",
    "parameters": {
        "type": "dict",
        "properties": {
            "radius": {"type": "integer", "description": "The radius."},
            "units": {"type": "string", "description": "Unit of length."},
        },
        "required": ["radius"],
    },
}
WEATHER_DOC = {
    "name": "get_weather",
    "description": "Current weather of a city.",
    "parameters": {"type": "dict", "properties": {"city": {"type": "string", "description": "City name."}}, "required": ["city"]},
}
SIMPLE_ROW = {
    "id": "simple_7",
    "question": [[{"role": "user", "content": "What is the area of a circle of radius 3?"}]],
    "function": [AREA_DOC],
    "ground_truth": [{"geometry.circle_area": {"radius": [3], "units": ["", "units"]}}],
}
PARALLEL_ROW = {
    "id": "parallel_2",
    "question": [[{"role": "user", "content": "Weather in Paris and in Rome?"}]],
    "function": [WEATHER_DOC],
    "ground_truth": [{"get_weather": {"city": ["Paris"]}}, {"get_weather": {"city": ["Rome"]}}],
}
IRRELEVANCE_ROW = {
    "id": "irrelevance_4",
    "question": [[{"role": "user", "content": "Who wrote Hamlet?"}]],
    "function": [AREA_DOC],
}
LIVE_RELEVANCE_ROW = {
    "id": "live_relevance_3-1-0",
    "question": [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Oslo?"}]],
    "function": [WEATHER_DOC],
}
JAVA_ROW = {
    "id": "java_5",
    "question": [[{"role": "user", "content": "Set the timeout of client `c` to 30."}]],
    "function": [
        {
            "name": "Client.setTimeout",
            "description": "Sets a timeout.",
            "parameters": {
                "type": "dict",
                "properties": {
                    "client": {"type": "any", "description": "The client."},
                    "seconds": {"type": "integer", "description": "Timeout in seconds."},
                },
                "required": ["client", "seconds"],
            },
        }
    ],
    "ground_truth": [{"Client.setTimeout": {"client": ["c"], "seconds": [30]}}],
}


def item_of(row: dict, style: str = "prompting") -> Item:
    return bfcl_v3.to_item(row, style)


def verdict(row: dict, answer: str) -> Score:
    return bfcl_v3.score(item_of(row), gen(answer))


@pytest.mark.parametrize(
    "row, answer, expected",
    [
        (SIMPLE_ROW, "[geometry.circle_area(radius=3)]", 1.0),
        (SIMPLE_ROW, "geometry.circle_area(radius=3, units='units')", 1.0),
        (SIMPLE_ROW, "```\n[geometry.circle_area(radius=3)]\n```", 1.0),
        (SIMPLE_ROW, "[geometry.circle_area(radius=4)]", 0.0),
        (SIMPLE_ROW, "[geometry.circle_area(radius=3, units='miles')]", 0.0),
        (SIMPLE_ROW, "[circle_area(radius=3)]", 0.0),
        (SIMPLE_ROW, "[geometry.circle_area(radius=3), geometry.circle_area(radius=3)]", 0.0),
        (PARALLEL_ROW, "[get_weather(city='Rome'), get_weather(city='Paris')]", 1.0),
        (PARALLEL_ROW, "[get_weather(city='Paris')]", 0.0),
        (JAVA_ROW, "[Client.setTimeout(client=c, seconds=30)]", 1.0),
        (JAVA_ROW, "[Client.setTimeout(client=c, seconds=31)]", 0.0),
        (IRRELEVANCE_ROW, "None of the given functions can answer who wrote Hamlet.", 1.0),
        (IRRELEVANCE_ROW, "[]", 1.0),
        (IRRELEVANCE_ROW, "[geometry.circle_area(radius=1)]", 0.0),
        (LIVE_RELEVANCE_ROW, "[get_weather(city='Oslo')]", 1.0),
        (LIVE_RELEVANCE_ROW, "I cannot help with that.", 0.0),
    ],
)
def test_official_ast_checker_verdicts(row, answer, expected):
    assert verdict(row, answer).value == expected


def test_a_correct_call_is_extracted_as_decoded_calls():
    s = verdict(SIMPLE_ROW, "[geometry.circle_area(radius=3)]")
    assert s.extracted == [{"geometry.circle_area": {"radius": 3}}]


def test_a_wrong_value_keeps_the_checker_error_type():
    s = verdict(SIMPLE_ROW, "[geometry.circle_area(radius=4)]")
    assert s.detail["error_type"] == "value_error:others"
    assert s.extracted == [{"geometry.circle_area": {"radius": 4}}]


def test_a_wrong_function_is_named_by_the_checker():
    assert verdict(SIMPLE_ROW, "[circle_area(radius=3)]").detail["error_type"] == "simple_function_checker:wrong_func_name"


def test_unparsable_output_is_no_answer_not_a_crash():
    s = verdict(SIMPLE_ROW, "The area is 28.27 square units.")
    assert (s.value, s.extracted) == (0.0, None)
    assert s.detail["error_type"] == "ast_decoder:decoder_failed"


def test_irrelevance_refusal_extracts_no_call():
    s = verdict(IRRELEVANCE_ROW, "I cannot answer that with these functions.")
    assert (s.value, s.extracted) == (1.0, [])


def test_only_the_answer_part_is_scored():
    item = item_of(SIMPLE_ROW)
    g = gen("[geometry.circle_area(radius=3)]", reasoning="maybe [geometry.circle_area(radius=9)]")
    assert bfcl_v3.score(item, g).value == 1.0


def test_prompt_is_bfcl_system_prompt_with_function_docs_then_the_question():
    from bfcl.model_handler.constant import DEFAULT_SYSTEM_PROMPT_WITHOUT_FUNC_DOC

    item = item_of(SIMPLE_ROW)
    system, user = item.messages
    assert system["role"] == "system" and system["content"].startswith(DEFAULT_SYSTEM_PROMPT_WITHOUT_FUNC_DOC)
    assert "Area of a circle. Note that the provided function is in Python 3 syntax." in system["content"]
    assert user == SIMPLE_ROW["question"][0][0]
    assert item.tools is None


def test_a_question_with_its_own_system_prompt_gets_bfcl_prompt_in_front():
    system = item_of(LIVE_RELEVANCE_ROW).messages[0]
    assert system["content"].startswith("You are an expert in composing functions.")
    assert system["content"].endswith("\n\nBe brief.")


def test_java_docs_get_bfcl_java_hints():
    content = item_of(JAVA_ROW).messages[0]["content"]
    assert "This is Java integer type parameter in string representation." in content


def test_item_keeps_bfcl_id_and_category_and_leaves_the_row_untouched():
    row = copy.deepcopy(SIMPLE_ROW)
    item = item_of(row)
    assert (item.id, item.meta["category"]) == ("simple_7", "simple")
    assert row == SIMPLE_ROW
    assert item_of(LIVE_RELEVANCE_ROW).meta["category"] == "live_relevance"


def test_a_row_of_an_unscored_category_is_refused():
    with pytest.raises(ValueError, match="multi_turn_composite"):
        item_of({**SIMPLE_ROW, "id": "multi_turn_composite_0"})


def test_an_ast_row_without_ground_truth_is_refused():
    row = {k: v for k, v in SIMPLE_ROW.items() if k != "ground_truth"}
    with pytest.raises(ValueError, match="ground_truth"):
        item_of(row)


def test_load_rows_reads_the_packaged_categories_with_their_ground_truth():
    rows = bfcl_v3.load_rows(get_spec("bfcl_v3"))
    assert len(rows) == get_spec("bfcl_v3").rows
    assert rows[0]["id"] == "simple_0"
    by_cat = {}
    for row in rows:
        by_cat.setdefault(bfcl_v3.category_of(row["id"]), []).append(row)
    assert len(by_cat["simple"]) == 400 and len(by_cat["live_relevance"]) == 18
    assert all("ground_truth" in r for c, rs in by_cat.items() if c not in bfcl_v3.RELEVANCE for r in rs)
    assert all("ground_truth" not in r for c in bfcl_v3.RELEVANCE for r in by_cat[c])
    json.dumps(rows)  # the data layer fingerprints rows as JSON


def test_repeated_package_ids_get_a_numbered_suffix():
    ids = [r["id"] for r in bfcl_v3.load_rows(get_spec("bfcl_v3"))]
    assert len(ids) == len(set(ids))
    assert "live_relevance_3-3-0" in ids and "live_relevance_3-3-0#2" in ids
    assert bfcl_v3.category_of("live_relevance_3-3-0#2") == "live_relevance"


def test_questions_and_answers_pair_by_bfcl_index():
    assert bfcl_v3.universal_index("live_multiple_1052-79-0") == bfcl_v3.universal_index("live_multiple_1052-279-0") == 1052
    assert bfcl_v3.universal_index("simple_12") == 12


def test_load_rows_refuses_an_unknown_category():
    import dataclasses

    spec = dataclasses.replace(get_spec("bfcl_v3"), configs=("simple", "exec_simple"))
    with pytest.raises(HarnessError, match="'exec_simple' is not supported"):
        bfcl_v3.load_rows(spec)


def records(values: dict[str, list[float]]) -> list[tuple[Item, Score]]:
    out = []
    for category, scores in values.items():
        for i, v in enumerate(scores):
            out.append((Item(id=f"{category}_{i}", messages=(), reference=None, meta={"category": category}), Score(v)))
    return out


def test_metrics_give_per_category_accuracy_in_percent():
    m = bfcl_v3.metrics(records({"simple": [1, 0, 1, 1], "irrelevance": [1, 0]}))
    assert m["simple"] == 75.0 and m["irrelevance"] == 50.0


def test_partial_summaries_name_what_they_miss():
    m = bfcl_v3.metrics(records({"simple": [1, 0]}))
    assert m["non_live_simple_ast (missing java, javascript)"] == 50.0
    assert m["non_live (missing java, javascript, multiple, parallel, parallel_multiple, irrelevance)"] == 50.0
    assert m["overall (missing java, javascript, multiple, parallel, parallel_multiple, irrelevance, live, multi_turn)"] == 50.0
    assert not any(k.startswith(("live", "overall ", "non_live ")) and "missing" not in k for k in m)


def test_non_live_is_the_mean_of_simple_ast_and_the_other_four():
    m = bfcl_v3.metrics(records({
        "simple": [1.0], "java": [0.0], "javascript": [0.5],            # simple AST = 50
        "multiple": [1.0], "parallel": [0.0], "parallel_multiple": [1.0], "irrelevance": [0.5],
    }))
    assert m["non_live_simple_ast"] == 50.0
    assert m["non_live"] == pytest.approx((50 + 100 + 0 + 100 + 50) / 5)


def test_live_is_weighted_by_items_and_overall_averages_non_live_and_live():
    all_non_live = {c: [1.0] for c in bfcl_v3.NON_LIVE}
    live = {"live_simple": [1.0, 1.0, 1.0], "live_multiple": [0.0], "live_parallel": [1.0], "live_parallel_multiple": [0.0],
            "live_irrelevance": [1.0, 1.0, 0.0, 0.0], "live_relevance": [1.0]}
    m = bfcl_v3.metrics(records({**all_non_live, **live}))
    assert m["live"] == pytest.approx(100 * 7 / 11)
    assert m["overall (missing multi_turn)"] == pytest.approx((100 + 100 * 7 / 11) / 2)


def test_the_spec_is_ready_and_lists_simple_first():
    spec = get_spec("bfcl_v3")
    assert spec.status == "ready" and spec.configs[0] == "simple"
    assert set(spec.configs) == set(bfcl_v3.SUPPORTED)


def test_plain_arithmetic_in_an_argument_is_evaluated_as_bfcl_does():
    item = item_of(SIMPLE_ROW)
    assert bfcl_v3.score(item, gen("[geometry.circle_area(radius=1+2)]")).value == 1.0


@pytest.mark.parametrize("payload", [
    "open({marker!r}, 'w').write('x') + 1",
    "__import__('pathlib').Path({marker!r}).touch() or 3",  # not a BinOp: never evaluated by BFCL either
    "len(str(open({marker!r}, 'w'))) * 1",
])
def test_model_output_that_would_run_code_is_never_evaluated(tmp_path, payload):
    marker = str(tmp_path / "ran")
    item = item_of(SIMPLE_ROW)
    s = bfcl_v3.score(item, gen(f"[geometry.circle_area(radius={payload.format(marker=marker)})]"))
    assert s.value == 0.0
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("answer", ["[geometry.circle_area(radius=10**10**9)]", "[geometry.circle_area(radius='a'*10**9)]"])
def test_arithmetic_bombs_are_refused_before_evaluation(answer):
    s = bfcl_v3.score(item_of(SIMPLE_ROW), gen(answer))
    assert s.value == 0.0 and s.extracted is None and "not evaluated" in s.detail["error"]


# --- native calling -------------------------------------------------------------------------------


def native_gen(*calls: tuple[str, dict | str], text: str = "") -> Generation:
    """A generation whose calls the server parsed (OpenAI `tool_calls`)."""
    tool_calls = tuple({"id": f"c{i}", "type": "function", "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                       for i, (name, args) in enumerate(calls))
    return Generation(text=text, reasoning=None, answer=text, tool_calls=tool_calls or None)


def native_verdict(row: dict, g: Generation) -> Score:
    return bfcl_v3.score(item_of(row, "native"), g)


@pytest.mark.parametrize("row, calls, expected", [
    (SIMPLE_ROW, [("geometry_circle_area", {"radius": 3})], 1.0),
    (SIMPLE_ROW, [("geometry_circle_area", {"radius": 4})], 0.0),
    (SIMPLE_ROW, [("geometry_circle_area", {"radius": 3}), ("geometry_circle_area", {"radius": 3})], 0.0),
    (PARALLEL_ROW, [("get_weather", {"city": "Rome"}), ("get_weather", {"city": "Paris"})], 1.0),
    (PARALLEL_ROW, [("get_weather", {"city": "Paris"})], 0.0),
    (JAVA_ROW, [("Client_setTimeout", {"client": "c", "seconds": "30"})], 1.0),
    (IRRELEVANCE_ROW, [], 1.0),
    (IRRELEVANCE_ROW, [("geometry_circle_area", {"radius": 1})], 0.0),
    (LIVE_RELEVANCE_ROW, [("get_weather", {"city": "Oslo"})], 1.0),
    (LIVE_RELEVANCE_ROW, [], 0.0),
])
def test_native_calls_get_the_official_verdicts(row, calls, expected):
    assert native_verdict(row, native_gen(*calls, text="" if calls else "No function fits.")).value == expected


def test_native_and_text_calling_decode_the_same_calls():
    native = native_verdict(PARALLEL_ROW, native_gen(("get_weather", {"city": "Rome"}), ("get_weather", {"city": "Paris"})))
    text = verdict(PARALLEL_ROW, "[get_weather(city='Rome'), get_weather(city='Paris')]")
    assert native.extracted == text.extracted == [{"get_weather": {"city": "Rome"}}, {"get_weather": {"city": "Paris"}}]


def test_native_calls_written_as_tool_call_blocks_are_read_too():
    g = gen('<tool_call>{"name": "geometry_circle_area", "arguments": {"radius": 3}}</tool_call>')
    assert native_verdict(SIMPLE_ROW, g).value == 1.0


def test_a_native_answer_without_calls_is_a_decoder_failure_as_in_bfcl():
    s = native_verdict(SIMPLE_ROW, native_gen(text="[geometry.circle_area(radius=3)]"))
    assert (s.value, s.extracted, s.detail["error_type"]) == (0.0, None, "ast_decoder:decoder_failed")


def test_native_arguments_that_are_not_json_fail_to_decode():
    s = native_verdict(SIMPLE_ROW, native_gen(("geometry_circle_area", "{radius: 3")))
    assert s.value == 0.0 and s.detail["error_type"] == "ast_decoder:decoder_failed"


def test_a_native_item_sends_the_docs_as_openai_tools_with_bfcl_names_and_no_system_prompt():
    item = item_of(SIMPLE_ROW, "native")
    assert item.messages == tuple(SIMPLE_ROW["question"][0])
    [tool] = item.tools
    assert tool["type"] == "function" and tool["function"]["name"] == "geometry_circle_area"
    assert tool["function"]["parameters"]["type"] == "object"
    assert tool["function"]["description"].endswith("Note that the provided function is in Python 3 syntax.")


def test_style_auto_is_native_for_exaone_models_and_prompting_for_others():
    from exaone_eval.config import resolve_model

    assert bfcl_v3.style_for({"style": "auto"}, resolve_model("32b")) == "native"
    assert bfcl_v3.style_for({}, resolve_model("LGAI-EXAONE/EXAONE-4.0-1.2B-AWQ")) == "native"
    assert bfcl_v3.style_for({"style": "auto"}, resolve_model("demo")) == "prompting"
    assert bfcl_v3.style_for({"style": "prompting"}, resolve_model("32b")) == "prompting"
    with pytest.raises(HarnessError, match="expected auto, native or prompting"):
        bfcl_v3.style_for({"style": "json"}, resolve_model("32b"))


def test_the_run_setting_names_the_calling_style():
    assert bfcl_v3.setting([(item_of(SIMPLE_ROW, "native"), Score(1.0))]) == "native calling"
    assert bfcl_v3.setting([(item_of(SIMPLE_ROW), Score(1.0))]) == "prompting"


# --- single-turn items as one-turn episodes -------------------------------------------------------


def one_turn_episode(g: Generation, closed: bool = True) -> Episode:
    from exaone_eval.messages import tool_calls_of

    turn = {"role": "agent", "reasoning_closed": closed, "answer": g.answer}
    return Episode(messages=(), result={"answer": g.answer, "tool_calls": tool_calls_of(g)}, response=g.text, turns=(turn,))


@pytest.mark.parametrize("style, g", [
    ("prompting", gen("[geometry.circle_area(radius=3)]")),
    ("prompting", gen("[geometry.circle_area(radius=4)]")),
    ("prompting", gen("The area is 28.27.")),
    ("native", native_gen(("geometry_circle_area", {"radius": 3}))),
    ("native", native_gen(("geometry_circle_area", {"radius": 4}))),
    ("native", native_gen(text="The area is 28.27.")),
])
def test_a_one_turn_episode_gets_the_verdict_of_its_generation(style, g):
    item = item_of(SIMPLE_ROW, style)
    assert bfcl_v3.score(item, one_turn_episode(g)) == bfcl_v3.score(item, g)


def test_a_one_turn_episode_cut_in_its_reasoning_scores_0_even_on_irrelevance():
    item = item_of(IRRELEVANCE_ROW)
    assert bfcl_v3.score(item, gen("")).value == 1.0
    s = bfcl_v3.score(item, one_turn_episode(gen(""), closed=False))
    assert s.value == 0.0 and s.detail["truncated"]


def test_a_multi_turn_item_cannot_be_scored_from_one_saved_response():
    row = {"id": "multi_turn_base_0", "question": [[{"role": "user", "content": "hi"}]], "function": [WEATHER_DOC],
           "initial_config": {}, "involved_classes": [], "ground_truth": [[]]}
    with pytest.raises(HarnessError, match="multi-turn conversation"):
        bfcl_v3.score(item_of(row), gen("[get_weather(city='x')]"))


def test_overall_is_complete_once_non_live_live_and_multi_turn_are_all_there():
    everything = {c: [1.0] for c in bfcl_v3.NON_LIVE + bfcl_v3.LIVE}
    multi = {"multi_turn_base": [1.0, 0.0], "multi_turn_miss_func": [0.0], "multi_turn_miss_param": [1.0], "multi_turn_long_context": [0.5]}
    m = bfcl_v3.metrics(records({**everything, **multi}))
    assert m["multi_turn"] == pytest.approx((50 + 0 + 100 + 50) / 4)
    assert m["overall"] == pytest.approx((100 + 100 + 50) / 3)
    assert not any("missing" in k for k in m)


def test_a_run_with_multi_turn_only_names_the_missing_groups():
    m = bfcl_v3.metrics(records({"multi_turn_base": [1.0]}))
    assert m["multi_turn (missing multi_turn_miss_func, multi_turn_miss_param, multi_turn_long_context)"] == 100.0
    assert "overall (missing non_live, live, multi_turn_miss_func, multi_turn_miss_param, multi_turn_long_context)" in m


def test_a_single_turn_run_in_native_style_reads_the_servers_tool_calls(tmp_path, fake_server):
    from conftest import write_jsonl

    from exaone_eval.cli import main

    server = fake_server(lambda body: {"content": "", "tool_calls": [
        {"id": "c0", "type": "function", "function": {"name": "geometry_circle_area", "arguments": '{"radius": 3}'}}]})
    write_jsonl(tmp_path / "data" / "bfcl_v3.jsonl", [SIMPLE_ROW])
    assert main(["run", "--suite", "non-reasoning", "--model", "32b", "--benchmarks", "bfcl_v3", "--base-url", server.url,
                 "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert server.requests[0]["tools"][0]["function"]["name"] == "geometry_circle_area"
    entry = json.loads((tmp_path / "run" / "scores.json").read_text())["bfcl_v3"]
    assert entry["metrics"]["simple"] == 100.0 and entry["setting"] == "native calling"
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["task_options"]["bfcl_v3"]["style"] == "auto" and '"style": "native"' in run["data_fingerprints"]["bfcl_v3"]


def test_a_data_dir_file_with_a_repeated_id_is_refused_with_both_lines(tmp_path, fake_server, capsys):
    from conftest import write_jsonl

    from exaone_eval.cli import main

    server = fake_server()
    write_jsonl(tmp_path / "data" / "bfcl_v3.jsonl", [SIMPLE_ROW, SIMPLE_ROW])
    assert main(["run", "--suite", "non-reasoning", "--model", "32b", "--benchmarks", "bfcl_v3", "--base-url", server.url,
                 "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    path = tmp_path / "data" / "bfcl_v3.jsonl"
    assert f"bfcl_v3: duplicate item id 'simple_7': {path}: lines 1 and 2" in capsys.readouterr().err


def test_a_miss_func_row_holds_its_held_back_docs_apart_from_the_offered_ones():
    import dataclasses

    spec = dataclasses.replace(get_spec("bfcl_v3"), configs=("multi_turn_miss_func",))
    row = bfcl_v3.load_rows(spec)[0]
    [(turn, docs)] = row["missed_function"].items()
    held = [d["name"] for d in docs]
    assert held and not {f["name"] for f in row["function"]} & set(held)
    assert row["question"][int(turn)] == [] and "ground_truth" in row


def test_saved_single_turn_responses_are_scored_without_a_model(tmp_path):
    from conftest import write_jsonl

    from exaone_eval.score_file import score_responses

    write_jsonl(tmp_path / "data" / "bfcl_v3.jsonl", [SIMPLE_ROW, PARALLEL_ROW])
    write_jsonl(tmp_path / "responses.jsonl", [
        {"id": "simple_7", "response": "<think>radius 3</think>[geometry.circle_area(radius=3)]"},
        {"id": "parallel_2", "response": "[get_weather(city='Paris')]"},
    ])
    entry = score_responses("bfcl_v3", tmp_path / "responses.jsonl", tmp_path / "out", data_dir=tmp_path / "data")
    assert entry["metrics"]["simple"] == 100.0 and entry["metrics"]["parallel"] == 0.0 and entry["setting"] == "prompting"
