"""Conversations: benchmarks whose next request depends on the model's earlier answers.

Multi-IF (turn k's prompt holds the model's answers to turns 1..k-1), BFCL multi-turn (the
model's calls run against simulated APIs and the results go back to it) and Tau-Bench (a
simulated user answers the agent) all drive their own turns through a `chat` callable
(exaone_eval.types.Chat) that this module implements over the run's store:

- every turn is one Request under its own content-addressed key, its seed derived from the
  sample's seed, the role and that role's turn index; a finished turn is committed before the
  episode goes on, so a killed run replays finished turns from the store at no cost and resumes
  at the first missing one (the episode's code is deterministic given the same answers);
- `role="agent"` is the model under test with the run's decoding profile; `role="user"` is the
  user simulator on its own backend (`--user-base-url`, `--user-model`), at temperature 0;
- every call is recorded (`Episode.turns`) for the sample row;
- an episode gets `episode_timeout_s` seconds of wall time (the benchmark's `[options]`); one that
  runs past it is cut and counted as that sample's error (`wall_time`), never scored: a cut that
  depends on the machine's speed would make the score depend on it too. Its finished turns are
  stored, so a rerun resumes it from the first missing turn. The limits that decide a verdict
  (tau2's max_steps, BFCL's step limit) are the benchmark's own and count steps, not seconds.

Episodes of different samples run concurrently; a slow conversation never holds up the others.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
from typing import Sequence

from exaone_eval import registry
from exaone_eval.config import sampling_for
from exaone_eval.items import Planned, plan_iter, stream_items, task_options
from exaone_eval.messages import tool_calls_of
from exaone_eval.results import Progress, SamplesFailed, sample_record, write_results
from exaone_eval.score_jobs import collect_scores, settled
from exaone_eval.store import SampleStore, request_key
from exaone_eval.types import Backend, Generation, HarnessError, Request, Sampling, TurnFailed

ROLES = ("agent", "user")
USER_MAX_TOKENS = 4096
"""A user simulator's reply is a chat message; tau2's own user has no token cap."""
DEFAULT_EPISODE_TIMEOUT_S = 3600.0
"""An episode's wall time when its task spec sets no `episode_timeout_s`. A safety net, not a
verdict: a typical Tau-Bench episode is 10-40 steps (5-20 agent turns), a BFCL entry a few turns,
Multi-IF three, so an hour is far past a healthy episode on a served model and still ends a stuck
one within the run. A cut episode keeps its stored turns, so a limit that proves too short costs
a rerun, not the work."""
WALL_TIME = "wall_time"
"""The termination reason of an episode the run cut at `episode_timeout_s`."""


def episode_timeout(name: str, options: dict) -> float:
    """The benchmark's `episode_timeout_s` (seconds, > 0), checked before any episode starts."""
    value = options.get("episode_timeout_s", DEFAULT_EPISODE_TIMEOUT_S)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise HarnessError(f"{name}: [options] episode_timeout_s (tasks/{name}.toml or the suite's override) "
                           f"must be a number of seconds > 0, got {value!r}")
    return float(value)


def turn_seed(sample_seed: int, role: str, turn: int) -> int:
    """The seed of one turn: distinct per sample, role and turn, identical on a rerun."""
    digest = hashlib.sha256(f"{sample_seed}\x1f{role}\x1f{turn}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclasses.dataclass
class ChatSettings:
    """What every chat of one benchmark run shares."""

    benchmark: str
    store: SampleStore
    agent: Backend
    agent_model: str
    model_preset: object
    mode: str
    k: int
    max_tokens: int
    user: Backend | None = None
    user_model: str | None = None
    options: dict = dataclasses.field(default_factory=dict)
    """The benchmark's `[options]` with the suite's overrides (items.task_options)."""


class StoreChat:
    """The `chat` callable of one sample's episode (see exaone_eval.types.Chat)."""

    def __init__(self, settings: ChatSettings, item_id: str, sample: int, sample_seed: int):
        self.s = settings
        self.item_id, self.sample, self.sample_seed = item_id, sample, sample_seed
        self.options = settings.options
        self.counts = {role: 0 for role in ROLES}
        self.turns: list[dict] = []
        self.generated = 0
        """Turns this process generated (the rest came from the store)."""

    def _request(self, role: str, turn: int, messages: Sequence[dict], tools, max_tokens: int | None) -> tuple[Request, Backend, str]:
        seed = turn_seed(self.sample_seed, role, turn)
        tools = tuple(tools) if tools else None
        if role == "agent":
            sampling = sampling_for(self.s.model_preset, self.s.mode, self.s.k, max_tokens or self.s.max_tokens, seed)
            return Request(messages=tuple(messages), sampling=sampling, mode=self.s.mode, tools=tools), self.s.agent, self.s.agent_model
        if self.s.user is None:
            raise HarnessError(f"{self.s.benchmark} needs a user simulator: pass --user-base-url and --user-model")
        sampling = Sampling(temperature=0.0, max_tokens=max_tokens or USER_MAX_TOKENS, seed=seed)
        return Request(messages=tuple(messages), sampling=sampling, mode="non-reasoning", tools=tools), self.s.user, self.s.user_model or "user"

    async def __call__(self, messages: Sequence[dict], *, tools: Sequence[dict] | None = None,
                       role: str = "agent", max_tokens: int | None = None) -> Generation:
        if role not in ROLES:
            raise ValueError(f"chat role must be one of {ROLES}, got {role!r}")
        turn = self.counts[role]
        self.counts[role] += 1
        request, backend, model = self._request(role, turn, messages, tools, max_tokens)
        key = request_key(model, request)
        gen = self.s.store.get_many([key]).get(key)
        replayed = gen is not None
        if gen is None:
            async for _, gen in backend.generate([request]):
                pass
            if gen is None or gen.error is not None:
                raise TurnFailed(f"{role} turn {turn}: {gen.error if gen is not None else 'no generation'}")
            self.s.store.put(key, gen, benchmark=self.s.benchmark, item_id=self.item_id, sample=self.sample, model=model, role=role)
            self.generated += 1
        self.turns.append({
            "role": role,
            "turn": turn,
            "seed": request.sampling.seed,
            "key": key[:16],
            "replayed": replayed,
            "reasoning": gen.reasoning,
            "answer": gen.answer,
            "tool_calls": tool_calls_of(gen) or None,
            "finish_reason": gen.finish_reason,
            "reasoning_closed": gen.reasoning_closed,
            "prompt_tokens": gen.prompt_tokens,
            "completion_tokens": gen.completion_tokens,
            **({"max_tokens_capped": gen.max_tokens_capped} if gen.max_tokens_capped else {}),
        })
        return gen


def episode_generation(turns: Sequence[dict], response: str) -> Generation:
    """One Generation standing for a whole episode in the run's counts: the agent's tokens summed,
    unfinished when any agent turn's reasoning was cut at max tokens."""
    agent = [t for t in turns if t["role"] == "agent"]
    tokens = [t["completion_tokens"] for t in agent if t["completion_tokens"] is not None]
    return Generation(
        text=response,
        reasoning=None,
        answer=response,
        finish_reason=agent[-1]["finish_reason"] if agent else None,
        completion_tokens=sum(tokens) if tokens else None,
        reasoning_closed=all(t["reasoning_closed"] for t in agent),
        # The episode was cut by the context, not by the budget, when any agent turn was.
        max_tokens_capped=next((t["max_tokens_capped"] for t in agent if t.get("max_tokens_capped")), None),
    )


async def run_conversations(cfg, name: str, backend: Backend, store: SampleStore, pool, user: Backend | None, progress: bool) -> dict:
    """`runner.run_benchmark` for a benchmark with `converse`: every sample is one episode."""
    module = registry.get_module(name)
    settings = registry.get_spec(name).modes.get(cfg.mode)
    if settings is None:
        raise HarnessError(f"{name} has no [modes.{cfg.mode}] settings in tasks/{name}.toml")
    if getattr(module, "NEEDS_USER", False) and user is None:
        raise HarnessError(f"{name} needs a user simulator: pass --user-base-url and --user-model")
    k = cfg.k or settings.k
    options = task_options(cfg, name)
    timeout = episode_timeout(name, options)
    # The items with their prompts (items.load_items strips built prompts); a conversation's
    # items are few and small.
    item_iter, fingerprint_of = stream_items(cfg, name)
    items = list(item_iter)
    fingerprint = fingerprint_of()
    shared = ChatSettings(name, store, backend, cfg.model.hf_id, cfg.model, cfg.mode, k, settings.max_tokens,
                          user, cfg.user_model, options)
    # Each sample's seed, per-sample view and first request as for any benchmark; the key only
    # names the episode here (its turns have keys of their own).
    planned = list(plan_iter(cfg, name, items))

    loop = asyncio.get_running_loop()
    bound = asyncio.Semaphore(max(1, cfg.concurrency))
    bar = Progress(name, len(planned), 0, progress)
    episodes: dict = {}
    gens: dict[str, Generation] = {}
    futures: dict[str, asyncio.Future] = {}
    errors: list[str] = []
    cut = 0  # episodes cut at the wall-time limit

    async def one(p: Planned) -> None:
        nonlocal cut
        chat = StoreChat(shared, p.item.id, p.sample, p.seed)
        async with bound:  # the clock starts once the episode has its slot, not while it queues
            try:
                episode = await within(timeout, module.converse(p.item, chat))
            except EpisodeTimedOut:
                cut += 1
                errors.append(f"item {p.item.id} sample {p.sample}: {WALL_TIME}: the episode ran past episode_timeout_s = "
                              f"{timeout:g} s after {len(chat.turns)} turns (they are stored: a rerun resumes it)")
                return
            except TurnFailed as e:
                errors.append(f"item {p.item.id} sample {p.sample}: {e}")
                return
            except Exception as e:  # the episode's own code failed: this sample's error, not the run's
                errors.append(f"item {p.item.id} sample {p.sample}: the episode raised {type(e).__name__}: {e}")
                return
        episode = dataclasses.replace(episode, turns=tuple(chat.turns))
        episodes[p.key] = episode
        gens[p.key] = episode_generation(episode.turns, episode.response)
        bar.update(gens[p.key])
        if pool is not None:
            futures[p.key] = loop.run_in_executor(pool, score_episode, name, p.item, episode)
        else:
            futures[p.key] = settled(score_episode, name, p.item, episode)

    try:
        await asyncio.gather(*(one(p) for p in planned))
    finally:
        bar.close()
    scores, failed = await collect_scores(futures)
    errors.extend(f"item {p.item.id} sample {p.sample}: {failed[p.key]}" for p in planned if p.key in failed)
    records = []
    for p in planned:
        if p.key in scores:
            e = episodes[p.key]
            records.append({**sample_record(p, gens[p.key], scores[p.key]), "termination": e.termination,
                            "transcript": list(e.messages), "turns": list(e.turns), "result": e.result})
    # Why each episode ended (scored or not), and how many the run cut: one count per reason.
    ends = collections.Counter(e.termination for e in episodes.values())
    if cut:
        ends[WALL_TIME] = cut
    terminations = dict(sorted(ends.items()))
    entry = write_results(cfg, name, k, planned, scores, gens, records, fingerprint, errors,
                          turns=sum(len(e.turns) for e in episodes.values()), terminations=terminations)
    if errors:  # a rerun resumes each failed episode from its stored turns (a scored-only failure replays them all)
        raise SamplesFailed(name, errors, len(planned), what="conversations", extra={"terminations": terminations})
    return entry


class EpisodeTimedOut(Exception):
    """An episode ran past its wall-time limit (it has been cancelled)."""


async def within(seconds: float, episode):
    """Await the coroutine `episode` for at most `seconds`, else cancel it and raise EpisodeTimedOut.

    Not `asyncio.wait_for`: its TimeoutError could not be told from one the episode's own code
    raised. The cancellation reaches the episode at the turn it awaits; one that runs on a thread
    (Tau-Bench) stops asking for turns when it is cancelled.
    """
    task = asyncio.ensure_future(episode)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    finally:
        if not task.done():  # timed out, or the run itself is being cancelled
            task.cancel()
    if not done:
        await asyncio.gather(task, return_exceptions=True)  # let it unwind before the sample is reported
        raise EpisodeTimedOut
    return task.result()


def score_episode(name: str, item, episode):
    """The benchmark's verdict on a whole episode (a truncated turn is the benchmark's to judge:
    a cut reasoning has an empty answer, which its checks fail)."""
    return registry.get_module(name).score(item, episode)
