"""BFCL-v3 (exaone_eval/benchmarks/bfcl_v3.py): prompt, official AST verdicts, data hook, v3 summaries."""

from __future__ import annotations

import copy
import json

import pytest

pytest.importorskip("bfcl", reason="nvidia-bfcl is not installed (see docs/demo.md)")

from exaone_eval.benchmarks import bfcl_v3, get_spec  # noqa: E402
from exaone_eval.types import HarnessError, Item, Score  # noqa: E402
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


def verdict(row: dict, answer: str) -> Score:
    return bfcl_v3.score(bfcl_v3.to_item(row), gen(answer))


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
    item = bfcl_v3.to_item(SIMPLE_ROW)
    g = gen("[geometry.circle_area(radius=3)]", reasoning="maybe [geometry.circle_area(radius=9)]")
    assert bfcl_v3.score(item, g).value == 1.0


def test_prompt_is_bfcl_system_prompt_with_function_docs_then_the_question():
    from bfcl.model_handler.constant import DEFAULT_SYSTEM_PROMPT_WITHOUT_FUNC_DOC

    item = bfcl_v3.to_item(SIMPLE_ROW)
    system, user = item.messages
    assert system["role"] == "system" and system["content"].startswith(DEFAULT_SYSTEM_PROMPT_WITHOUT_FUNC_DOC)
    assert "Area of a circle. Note that the provided function is in Python 3 syntax." in system["content"]
    assert user == SIMPLE_ROW["question"][0][0]
    assert item.tools is None


def test_a_question_with_its_own_system_prompt_gets_bfcl_prompt_in_front():
    system = bfcl_v3.to_item(LIVE_RELEVANCE_ROW).messages[0]
    assert system["content"].startswith("You are an expert in composing functions.")
    assert system["content"].endswith("\n\nBe brief.")


def test_java_docs_get_bfcl_java_hints():
    content = bfcl_v3.to_item(JAVA_ROW).messages[0]["content"]
    assert "This is Java integer type parameter in string representation." in content


def test_item_keeps_bfcl_id_and_category_and_leaves_the_row_untouched():
    row = copy.deepcopy(SIMPLE_ROW)
    item = bfcl_v3.to_item(row)
    assert (item.id, item.meta["category"]) == ("simple_7", "simple")
    assert row == SIMPLE_ROW
    assert bfcl_v3.to_item(LIVE_RELEVANCE_ROW).meta["category"] == "live_relevance"


def test_a_multi_turn_row_is_refused():
    with pytest.raises(ValueError, match="multi_turn_base"):
        bfcl_v3.to_item({**SIMPLE_ROW, "id": "multi_turn_base_0"})


def test_an_ast_row_without_ground_truth_is_refused():
    row = {k: v for k, v in SIMPLE_ROW.items() if k != "ground_truth"}
    with pytest.raises(ValueError, match="ground_truth"):
        bfcl_v3.to_item(row)


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

    spec = dataclasses.replace(get_spec("bfcl_v3"), configs=("simple", "multi_turn_base"))
    with pytest.raises(HarnessError, match="'multi_turn_base' is not supported"):
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
    item = bfcl_v3.to_item(SIMPLE_ROW)
    assert bfcl_v3.score(item, gen("[geometry.circle_area(radius=1+2)]")).value == 1.0


@pytest.mark.parametrize("payload", [
    "open({marker!r}, 'w').write('x') + 1",
    "__import__('pathlib').Path({marker!r}).touch() or 3",  # not a BinOp: never evaluated by BFCL either
    "len(str(open({marker!r}, 'w'))) * 1",
])
def test_model_output_that_would_run_code_is_never_evaluated(tmp_path, payload):
    marker = str(tmp_path / "ran")
    item = bfcl_v3.to_item(SIMPLE_ROW)
    s = bfcl_v3.score(item, gen(f"[geometry.circle_area(radius={payload.format(marker=marker)})]"))
    assert s.value == 0.0
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("answer", ["[geometry.circle_area(radius=10**10**9)]", "[geometry.circle_area(radius='a'*10**9)]"])
def test_arithmetic_bombs_are_refused_before_evaluation(answer):
    s = bfcl_v3.score(bfcl_v3.to_item(SIMPLE_ROW), gen(answer))
    assert s.value == 0.0 and s.extracted is None and "not evaluated" in s.detail["error"]
