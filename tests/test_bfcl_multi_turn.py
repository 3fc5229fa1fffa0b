"""BFCL-v3 multi-turn (exaone_eval/benchmarks/bfcl_v3.py, exaone_eval/scoring/bfcl.py): whole runs
against scripted servers that answer with BFCL's own ground truth, both calling styles, the call
guard, isolation, and resume mid-conversation."""

from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import json

import pytest

pytest.importorskip("bfcl", reason="nvidia-bfcl is not installed (see docs/bfcl.md)")

from conftest import write_jsonl  # noqa: E402

from exaone_eval.benchmarks import bfcl_v3  # noqa: E402
from exaone_eval.registry import get_spec  # noqa: E402
from exaone_eval.cli import main  # noqa: E402
from exaone_eval.scoring import bfcl as guard  # noqa: E402
from exaone_eval.types import Episode  # noqa: E402

SAMPLE_PER_CATEGORY = 2
TOOL_RESULTS_PREFIX = "[{'role': 'tool'"  # BFCL's prompting style feeds results back as a user message
TURN_ENDS = ("Done.", "I cannot help with that.")  # the scripted model's replies without calls: each ends a turn


@pytest.fixture(scope="module")
def multi_turn_rows() -> dict[str, list[dict]]:
    """The first entries of every multi-turn category whose first questions differ from all others
    chosen (categories reuse questions; the scripted model tells entries apart by them)."""
    spec = dataclasses.replace(get_spec("bfcl_v3"), configs=bfcl_v3.MULTI_TURN)
    out: dict[str, list[dict]] = {}
    seen: set[str] = set()
    for row in bfcl_v3.load_rows(spec):
        chosen = out.setdefault(bfcl_v3.category_of(row["id"]), [])
        if len(chosen) < SAMPLE_PER_CATEGORY and _first_question(row) not in seen:
            chosen.append(row)
            seen.add(_first_question(row))
    return out


def _first_question(row: dict) -> str:
    return next(m["content"] for m in row["question"][0] if m["role"] == "user")


def _keyword_call(call: str, row: dict) -> tuple[str, dict]:
    """A ground-truth call string as (name, keyword arguments): positional ones get their names
    from the API method's signature (the data writes `sort('report.pdf')`)."""
    from bfcl.eval_checker.multi_turn_eval.multi_turn_utils import CLASS_FILE_PATH_MAPPING
    import importlib

    node = ast.parse(call, mode="eval").body
    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    if node.args:
        for class_name in row["involved_classes"]:
            cls = getattr(importlib.import_module(CLASS_FILE_PATH_MAPPING[class_name]), class_name)
            if hasattr(cls, node.func.id):
                names = [p for p in inspect.signature(getattr(cls, node.func.id)).parameters if p != "self"]
                kwargs.update({names[i]: ast.literal_eval(a) for i, a in enumerate(node.args)})
    return node.func.id, kwargs


def _calls_reply(calls: list[tuple[str, dict]], style: str, id_prefix: str) -> dict:
    """A reply making `calls`: server-parsed tool calls (native) or BFCL's `[f(a=1)]` text (prompting)."""
    if style == "native":
        return {"content": "", "tool_calls": [
            {"id": f"{id_prefix}_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(kwargs)}}
            for i, (name, kwargs) in enumerate(calls)
        ]}
    text = ", ".join(f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})" for name, kwargs in calls)
    return {"content": f"[{text}]"}


def _has_tool_results(message: dict) -> bool:
    return message["role"] == "tool" or message["content"].startswith(TOOL_RESULTS_PREFIX)


def _turns_answered(messages: list[dict]) -> int:
    return sum(1 for m in messages if m["role"] == "assistant" and m["content"] in TURN_ENDS)


def script(rows: list[dict], style: str, wrong: bool = False):
    """A scripted model: at each user turn it makes that turn's ground-truth calls in one step, then
    answers in text once it has the results (which ends the turn). `wrong` answers in text only."""
    by_question = {_first_question(r): r for r in rows}

    def respond(body: dict) -> dict:
        messages = body["messages"]
        row = by_question[next(m["content"] for m in messages if m["role"] == "user")]
        if _has_tool_results(messages[-1]):
            return {"content": TURN_ENDS[0]}
        turn = _turns_answered(messages)
        calls = [_keyword_call(c, row) for c in row["ground_truth"][turn]]
        if wrong or not calls:
            return {"content": TURN_ENDS[1]}
        return _calls_reply(calls, style, f"call_{turn}")

    return respond


def looping_script(row: dict, style: str, loop_turn: int, ground_truth_first: bool = True):
    """The ground-truth script, except that in `loop_turn` the model never stops calling: after that
    turn's ground-truth calls (or at once, without `ground_truth_first`) it calls `pwd` step after
    step until BFCL's step limit ends the turn. `pwd` changes no state, so the looping itself leaves
    the state and response checks as the ground-truth calls made them."""
    play = script([row], style)

    def respond(body: dict) -> dict:
        messages = body["messages"]
        if _turns_answered(messages) == loop_turn and (_has_tool_results(messages[-1]) or not ground_truth_first):
            return _calls_reply([("pwd", {})], style, f"loop_{len(messages)}")
        return play(body)

    return respond


def run(tmp_path, url: str, rows: list[dict], style: str, out: str = "run", *extra: str) -> int:
    data = tmp_path / "data"
    write_jsonl(data / "bfcl_v3.jsonl", rows)
    model = "32b" if style == "native" else "plain-model"  # `auto`: native for EXAONE, else prompting
    return main(["run", "--suite", "non-reasoning", "--model", model, "--benchmarks", "bfcl_v3", "--base-url", url,
                 "--data-dir", str(data), "--out", str(tmp_path / out), "--no-progress", "--max-retries", "0", *extra])


def samples(tmp_path, out: str = "run") -> list[dict]:
    return [json.loads(line) for line in (tmp_path / out / "samples" / "bfcl_v3.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("style", ["native", "prompting"])
def test_the_ground_truth_played_turn_by_turn_scores_100_in_every_category(tmp_path, fake_server, multi_turn_rows, style):
    rows = [r for category in bfcl_v3.MULTI_TURN for r in multi_turn_rows[category]]
    server = fake_server(script(rows, style))
    assert run(tmp_path, server.url, rows, style) == 0
    entry = json.loads((tmp_path / "run" / "scores.json").read_text())["bfcl_v3"]
    assert all(entry["metrics"][c] == 100.0 for c in bfcl_v3.MULTI_TURN)
    assert entry["metrics"]["multi_turn"] == 100.0 and entry["setting"] == ("native calling" if style == "native" else "prompting")
    assert all(s["score"] == 1.0 and s["detail"].get("error_type") is None for s in samples(tmp_path))


@pytest.mark.parametrize("style", ["native", "prompting"])
def test_a_script_that_never_calls_scores_0(tmp_path, fake_server, multi_turn_rows, style):
    rows = [multi_turn_rows[c][0] for c in bfcl_v3.MULTI_TURN]
    server = fake_server(script(rows, style, wrong=True))
    assert run(tmp_path, server.url, rows, style) == 0
    assert [s["score"] for s in samples(tmp_path)] == [0.0] * len(rows)
    assert {s["detail"]["error_type"] for s in samples(tmp_path)} == {"multi_turn:empty_turn_model_response"}


def test_native_style_sends_tools_and_one_tool_message_per_call(tmp_path, fake_server, multi_turn_rows):
    row = multi_turn_rows["multi_turn_base"][0]
    server = fake_server(script([row], "native"))
    run(tmp_path, server.url, [row], "native")
    first, second = server.requests[0], server.requests[1]
    assert {t["function"]["name"] for t in first["tools"]} == {f["name"] for f in row["function"]}
    assert first["messages"] == row["question"][0]  # no system prompt in native style, as BFCL's FC handler
    tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == len(row["ground_truth"][0])
    assert [m["tool_call_id"] for m in tool_messages] == [f"call_0_{i}" for i in range(len(tool_messages))]


def test_prompting_style_puts_bfcl_system_prompt_first_and_results_in_a_user_message(tmp_path, fake_server, multi_turn_rows):
    from bfcl.model_handler.constant import DEFAULT_SYSTEM_PROMPT_WITHOUT_FUNC_DOC

    row = multi_turn_rows["multi_turn_base"][0]
    server = fake_server(script([row], "prompting"))
    run(tmp_path, server.url, [row], "prompting")
    first, second = server.requests[0], server.requests[1]
    assert "tools" not in first and first["messages"][0]["content"].startswith(DEFAULT_SYSTEM_PROMPT_WITHOUT_FUNC_DOC)
    assert second["messages"][-1]["role"] == "user" and second["messages"][-1]["content"].startswith(TOOL_RESULTS_PREFIX)


def test_miss_func_adds_the_held_back_functions_at_their_turn_with_bfcl_user_text(tmp_path, fake_server, multi_turn_rows):
    from bfcl.model_handler.constant import DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC

    row = multi_turn_rows["multi_turn_miss_func"][0]
    turn, docs = next(iter(row["missed_function"].items()))
    server = fake_server(script([row], "native"))
    run(tmp_path, server.url, [row], "native")
    held = {d["name"] for d in docs}
    before = [r for r in server.requests if r["messages"][-1].get("content") != DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC
              and not any(m.get("content") == DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC for m in r["messages"])]
    after = [r for r in server.requests if r not in before]
    assert before and after
    assert all(not held & {t["function"]["name"] for t in r["tools"]} for r in before)
    assert all(held <= {t["function"]["name"] for t in r["tools"]} for r in after)


# --- the step limit -------------------------------------------------------------------------------
# BFCL (`BaseHandler.inference_multi_turn_FC` / `_prompting`) stops a turn after MAXIMUM_STEP_LIMIT + 1
# executed steps and drops the entry's later turns; its `multi_turn_runner` then fails an entry only
# when its turns are fewer than the ground truth's, and sends every other to `multi_turn_checker`.


def bfcl_verdict(row: dict, decoded: list[list[list[str]]]) -> dict:
    """BFCL's own verdict on decoded calls: its runner's turn-count rule (eval_runner.py cannot be
    imported without an inference stack; test_bfcl_code_still_has_the_step_limit_rules_mirrored_here
    pins the rule in its source), then its `multi_turn_checker` called directly, unguarded (the
    calls here are plain), under a model name of its own whose API instances are removed after."""
    from bfcl.eval_checker.multi_turn_eval import multi_turn_utils
    from bfcl.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    if len(decoded) != len(row["ground_truth"]):
        return {"valid": False, "error_type": "multi_turn:force_terminated"}
    model_name = "bfcl_direct_check"
    try:
        return multi_turn_checker(decoded, row["ground_truth"], copy.deepcopy(row), bfcl_v3.category_of(row["id"]), model_name)
    finally:
        for name in [n for n in vars(multi_turn_utils) if n.startswith(model_name)]:
            delattr(multi_turn_utils, name)


def test_bfcl_code_still_has_the_step_limit_rules_mirrored_here():
    import importlib.resources

    from bfcl.model_handler.constant import MAXIMUM_STEP_LIMIT

    package = importlib.resources.files("bfcl")
    handler = (package / "model_handler" / "base_handler.py").read_text(encoding="utf-8")
    runner = (package / "eval_checker" / "eval_runner.py").read_text(encoding="utf-8")
    assert MAXIMUM_STEP_LIMIT == 20
    assert handler.count("if count > MAXIMUM_STEP_LIMIT:") == 2  # the FC and the prompting loop
    assert handler.count("if force_quit:\n                break") == 2  # after the turn is kept: the entry ends
    rule = runner.index("if len(multi_turn_model_result_list) != len(multi_turn_ground_truth_list):")
    assert '"error_type": "multi_turn:force_terminated"' in runner[rule:rule + 1000]
    assert "force_quit" not in runner  # the runner never sees the handler's flag, only the turns


@pytest.mark.parametrize("style", ["native", "prompting"])
def test_the_step_limit_in_the_last_turn_still_gets_the_calls_checked_and_bfcl_verdict(
        tmp_path, fake_server, multi_turn_rows, style):
    from bfcl.model_handler.constant import MAXIMUM_STEP_LIMIT

    row = multi_turn_rows["multi_turn_base"][0]
    last = len(row["ground_truth"]) - 1
    server = fake_server(looping_script(row, style, loop_turn=last))
    assert run(tmp_path, server.url, [row], style) == 0
    sample = samples(tmp_path)[0]
    assert len(sample["result"]["turns"][last]) == MAXIMUM_STEP_LIMIT + 1
    assert len(sample["extracted"]) == len(row["ground_truth"])
    assert bfcl_verdict(row, sample["extracted"])["valid"] is True
    assert sample["score"] == 1.0 and sample["detail"].get("error_type") is None


@pytest.mark.parametrize("style", ["native", "prompting"])
def test_the_step_limit_in_the_last_turn_without_the_right_calls_fails_on_the_checks_as_in_bfcl(
        tmp_path, fake_server, multi_turn_rows, style):
    row = multi_turn_rows["multi_turn_base"][0]
    server = fake_server(looping_script(row, style, loop_turn=len(row["ground_truth"]) - 1, ground_truth_first=False))
    assert run(tmp_path, server.url, [row], style) == 0
    sample = samples(tmp_path)[0]
    official = bfcl_verdict(row, sample["extracted"])
    assert official["valid"] is False and official["error_type"] != "multi_turn:force_terminated"  # judged, not cut
    assert sample["score"] == 0.0 and sample["detail"]["error_type"] == official["error_type"]


@pytest.mark.parametrize("style", ["native", "prompting"])
def test_the_step_limit_in_an_earlier_turn_ends_the_episode_and_it_fails_as_force_terminated(
        tmp_path, fake_server, multi_turn_rows, style):
    from bfcl.model_handler.constant import MAXIMUM_STEP_LIMIT

    row = multi_turn_rows["multi_turn_base"][0]
    server = fake_server(looping_script(row, style, loop_turn=0))
    assert run(tmp_path, server.url, [row], style) == 0
    assert len(server.requests) == MAXIMUM_STEP_LIMIT + 1  # the later turns are never asked
    sample = samples(tmp_path)[0]
    assert len(sample["extracted"]) == 1 < len(row["ground_truth"])
    assert bfcl_verdict(row, sample["extracted"])["error_type"] == "multi_turn:force_terminated"
    assert sample["score"] == 0.0 and sample["detail"]["error_type"] == "multi_turn:force_terminated"
    assert "(1) does not match the length of the ground truth turns" in sample["detail"]["error"]


@pytest.mark.parametrize("loop_turn", [0, -1], ids=["first turn", "last turn"])
def test_the_sample_records_that_the_step_limit_stopped_the_episode_and_where(
        tmp_path, fake_server, multi_turn_rows, loop_turn):
    from bfcl.model_handler.constant import MAXIMUM_STEP_LIMIT

    row = multi_turn_rows["multi_turn_base"][0]
    turn = loop_turn % len(row["ground_truth"])
    server = fake_server(looping_script(row, "native", loop_turn=turn))
    run(tmp_path, server.url, [row], "native")
    sample = samples(tmp_path)[0]
    expected = {"reason": "step_limit", "turn": turn, "steps": MAXIMUM_STEP_LIMIT + 1}
    assert sample["result"]["terminated"] == expected and sample["detail"]["terminated"] == expected


def test_an_episode_that_ends_on_its_own_records_no_termination(tmp_path, fake_server, multi_turn_rows):
    row = multi_turn_rows["multi_turn_base"][0]
    [sample] = _episode_of(tmp_path, fake_server, row)
    assert sample["result"]["terminated"] is None and "terminated" not in sample["detail"]


def test_the_row_and_scores_json_give_the_episodes_termination_as_every_conversation_does(tmp_path, fake_server, multi_turn_rows):
    done, looping = multi_turn_rows["multi_turn_base"][:2]
    play, loop = script([done], "native"), looping_script(looping, "native", loop_turn=0)
    first_question = _first_question(looping)
    # `looping` never stops calling in its first turn; `done` plays the ground truth to its end.
    asked = lambda body: next(m["content"] for m in body["messages"] if m["role"] == "user")  # noqa: E731
    server = fake_server(lambda body: loop(body) if asked(body) == first_question else play(body))
    assert run(tmp_path, server.url, [done, looping], "native") == 0
    by_id = {s["id"]: s["termination"] for s in samples(tmp_path)}
    assert by_id == {done["id"]: "completed", looping["id"]: "step_limit"}
    entry = json.loads((tmp_path / "run" / "scores.json").read_text())["bfcl_v3"]
    assert entry["terminations"] == {"completed": 1, "step_limit": 1}


def test_native_and_text_calling_decode_to_the_same_calls(tmp_path, fake_server, multi_turn_rows):
    row = multi_turn_rows["multi_turn_base"][0]
    extracted = {}
    for style in ("native", "prompting"):
        server = fake_server(script([row], style))
        run(tmp_path, server.url, [row], style, style)
        # BFCL's two decoders join arguments with "," and ", ": compare the calls, not the spelling
        extracted[style] = [[[_keyword_call(c, row) for c in step] for step in turn] for turn in samples(tmp_path, style)[0]["extracted"]]
    assert extracted["native"] == extracted["prompting"]
    assert len(extracted["native"]) == len(row["ground_truth"])


def test_a_killed_run_resumes_mid_conversation_without_regenerating_finished_turns(tmp_path, fake_server, multi_turn_rows):
    row = multi_turn_rows["multi_turn_base"][0]
    dying = fake_server(script([row], "native"), die_after=3)
    assert run(tmp_path, dying.url, [row], "native") == 2  # a turn failed: the run stops and says how to resume
    done = [json.dumps(r["messages"]) for r in dying.requests[:3]]
    fresh = fake_server(script([row], "native"))
    assert run(tmp_path, fresh.url, [row], "native") == 0
    asked = [json.dumps(r["messages"]) for r in fresh.requests]
    assert not set(done) & set(asked)
    assert samples(tmp_path)[0]["score"] == 1.0


# --- isolation ------------------------------------------------------------------------------------


def _episode_of(tmp_path, fake_server, row, style="native", out="run", k="1") -> list[dict]:
    server = fake_server(script([row], style))
    run(tmp_path, server.url, [row], style, out, "--k", k)
    return samples(tmp_path, out)


def test_the_same_entry_checked_twice_gets_the_same_verdict(multi_turn_rows):
    row = multi_turn_rows["multi_turn_base"][0]
    item = bfcl_v3.to_item(row, "native")
    decoded = [[turn] if turn else [] for turn in row["ground_truth"]]
    turns = [[{"decoded": d} for d in turn] for turn in decoded]
    episode = Episode(messages=(), result={"turns": turns, "terminated": None})
    assert [bfcl_v3.score(item, episode).value for _ in range(3)] == [1.0, 1.0, 1.0]
    wrong = Episode(messages=(), result={"turns": [[] for _ in decoded], "terminated": None})
    assert bfcl_v3.score(item, wrong).value == 0.0
    assert bfcl_v3.score(item, episode).value == 1.0


def test_two_samples_of_one_entry_each_start_from_the_initial_state(tmp_path, fake_server, multi_turn_rows):
    row = multi_turn_rows["multi_turn_base"][0]
    rows = _episode_of(tmp_path, fake_server, row, k="2")
    assert [r["score"] for r in rows] == [1.0, 1.0]
    results = [[step.get("results") for turn in r["result"]["turns"] for step in turn] for r in rows]
    assert results[0] == results[1]  # the second sample saw the same tool results, not the first one's state


def test_no_api_instance_outlives_its_episode_or_check(tmp_path, fake_server, multi_turn_rows):
    from bfcl.eval_checker.multi_turn_eval import multi_turn_utils

    _episode_of(tmp_path, fake_server, multi_turn_rows["multi_turn_long_context"][0])
    assert not [name for name in vars(multi_turn_utils) if name.startswith("exaone_eval_")]


def test_a_long_context_booking_does_not_change_the_next_entrys_credit_cards():
    from bfcl.eval_checker.multi_turn_eval.func_source_code import long_context

    before = json.dumps(long_context.CREDIT_CARD_EXTENSION, sort_keys=True)
    entry = {"id": "multi_turn_long_context_999", "initial_config": {"TravelAPI": {}}, "involved_classes": ["TravelAPI"]}
    with guard.ApiSession(entry) as apis:
        from bfcl.eval_checker.multi_turn_eval import multi_turn_utils

        instance = next(v for k, v in vars(multi_turn_utils).items() if k.startswith(apis.key))
        card = next(iter(instance.credit_card_list))
        instance.credit_card_list[card]["balance"] = -1  # what a booking does to a card
    assert json.dumps(long_context.CREDIT_CARD_EXTENSION, sort_keys=True) == before


# --- the call guard -------------------------------------------------------------------------------

METHODS = frozenset({"cd", "echo", "power", "square_root"})


@pytest.mark.parametrize("call", [
    "cd(folder='docs')", "echo(content='a cd(x) inside a string', file_name='f.txt')", "cd('docs')",
    "power(base=2, exponent=10)", "echo(content={'a': [1, 2.5, None, True]})", "cd(folder=-1)",
])
def test_plain_calls_with_literal_arguments_pass_the_guard(call):
    assert guard.call_refusal(call, METHODS) is None


@pytest.mark.parametrize("call, reason", [
    ("open(file='x', mode='w')", "name 'open' is not defined"),
    ("cd(folder=__import__('os').getcwd())", "not a literal"),
    ("cd(folder=open('x').read())", "not a literal"),
    ("cd.__globals__(folder='x')", "plain call"),
    ("os.system(command='id')", "plain call"),
    ("cd(folder=cd(folder='x'))", "not a literal"),
    ("cd(**{'folder': 'x'})", "unpacking"),
    ("cd(__class__='x')", "dunder"),
    ("cd(folder='a'); open('x', 'w')", "not a function call"),
    ("cd(folder=1 + 1)", "not a literal"),
    ("power(base=10, exponent=1000000000000)", "exponent"),
    ("square_root(number=2, precision=100000000)", "precision"),
])
def test_calls_that_could_run_code_or_exhaust_the_machine_are_refused(call, reason):
    assert reason in guard.call_refusal(call, METHODS)


@pytest.mark.parametrize("call", [
    "echo(content=open({marker!r}, 'w').write('x'), file_name='a.txt')",
    "echo(content=__import__('pathlib').Path({marker!r}).touch(), file_name='a.txt')",
    "open({marker!r}, 'w')",
])
def test_a_refused_call_never_runs_and_the_model_is_told_why(tmp_path, call):
    entry = {"id": "multi_turn_base_999", "initial_config": {"GorillaFileSystem": {"root": {"w": {"type": "directory", "contents": {}}}}},
             "involved_classes": ["GorillaFileSystem"]}
    marker = str(tmp_path / "ran")
    with guard.ApiSession(entry) as apis:
        [result] = apis.execute([call.format(marker=marker)])
    assert result.startswith("Error during execution:")
    assert not (tmp_path / "ran").exists()


def test_native_calls_with_injected_names_or_argument_names_never_run(tmp_path, fake_server, multi_turn_rows):
    marker = tmp_path / "ran"
    row = multi_turn_rows["multi_turn_base"][0]
    payloads = [
        {"name": f"__import__('pathlib').Path({str(marker)!r}).touch() or cd", "arguments": json.dumps({"folder": "x"})},
        {"name": "cd", "arguments": json.dumps({f"folder='x', y=open({str(marker)!r}, 'w')": 1})},
    ]
    server = fake_server(lambda body: {"content": "Done."} if body["messages"][-1]["role"] == "tool" else {
        "content": "", "tool_calls": [{"id": f"c{i}", "type": "function", "function": p} for i, p in enumerate(payloads)]})
    run(tmp_path, server.url, [row], "native")
    assert not marker.exists()
    results = [step["results"] for turn in samples(tmp_path)[0]["result"]["turns"] for step in turn if "results" in step]
    assert results and all(r.startswith("Error during execution:") for rs in results for r in rs)


def test_arithmetic_that_would_run_code_in_the_text_decoder_never_runs(tmp_path, fake_server, multi_turn_rows):
    marker = tmp_path / "ran"
    row = multi_turn_rows["multi_turn_base"][0]
    server = fake_server(lambda body: {"content": f"[cd(folder=open({str(marker)!r}, 'w').write('x') + 1)]"})
    run(tmp_path, server.url, [row], "prompting")
    assert not marker.exists()
    first_step = samples(tmp_path)[0]["result"]["turns"][0][0]
    assert first_step["decoded"] is None and "not evaluated" in first_step["decode_error"]
