"""The contracts every part of the harness speaks: Item, Sampling, Request, Generation, Score, Backend.

Benchmarks produce Items and consume Generations; backends consume Requests and produce
Generations; the runner joins them. Nothing else crosses those seams.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Literal, Protocol, Sequence

Mode = Literal["reasoning", "non-reasoning"]
MODES: tuple[str, ...] = ("reasoning", "non-reasoning")


@dataclass(frozen=True)
class Item:
    """One benchmark question, ready to be sent to a model."""

    id: str
    """The dataset's own id for the row (IFEval `key`, AIME `problem_idx`, ...), as a string."""
    messages: tuple[dict, ...]
    """Chat messages (`{"role": ..., "content": ...}`) that make up the prompt."""
    reference: Any
    """What the scorer compares against (a letter, a number, a list of instructions, ...)."""
    tools: tuple[dict, ...] | None = None
    """OpenAI-style tool schemas offered to the model, or None."""
    meta: dict = field(default_factory=dict)
    """Whatever else the scorer or a reader needs (subject, instruction kwargs, ...)."""
    prefix: str | None = None
    """Assistant text the answer starts with (RULER's answer prefix): the request's `prefix`."""


@dataclass(frozen=True)
class Sampling:
    """Decoding settings of one request."""

    temperature: float
    """0 means greedy."""
    top_p: float = 1.0
    top_k: int = -1
    """-1 means no top-k cut."""
    presence_penalty: float = 0.0
    max_tokens: int = 32768
    """The cap on generated tokens (reasoning and answer together)."""
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    """One generation to make: a rendered prompt and how to decode it."""

    messages: tuple[dict, ...]
    sampling: Sampling
    mode: Mode
    """`reasoning` turns the chat template's thinking on (`enable_thinking`)."""
    tools: tuple[dict, ...] | None = None
    reasoning_budget: int | None = None
    """Budget forcing: cap the reasoning at this many tokens, then force the answer."""
    answer_max_tokens: int | None = None
    """With a reasoning budget: the cap on the forced answer part (the report uses 8K)."""
    prefix: str | None = None
    """Assistant text already generated (e.g. a truncated reasoning plus the forcing text):
    the backend continues from it. Used by the budget sweep."""


@dataclass(frozen=True)
class Generation:
    """What a backend returns for one Request."""

    text: str
    """The full text, including any `<think>...</think>` part."""
    reasoning: str | None
    """The reasoning part (None when the model did not reason)."""
    answer: str
    """The text after the reasoning: the only part that is scored."""
    finish_reason: str | None = None
    """`stop`, `length`, `tool_calls`, ... as the server says."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_closed: bool = True
    """False when the reasoning never reached `</think>` (cut at max tokens): scored as wrong."""
    tool_calls: tuple[dict, ...] | None = None
    """OpenAI-style tool calls the model made, when the server parsed them."""
    error: str | None = None
    """Set when the backend failed: the sample is not stored and a rerun retries it."""
    max_tokens_capped: dict | None = None
    """Set when the context left less room than the request's max tokens: `{"asked": 32768,
    "sent": 7000, "context": 8192}` (asked, what the model could generate, the context). Such a
    sample is cut by the context, not by the benchmark's budget (scores.json: `context_capped`)."""
    meta: dict = field(default_factory=dict)
    """Backend details worth keeping (server url, latency, forced budget, ...)."""


@dataclass(frozen=True)
class Score:
    """The verdict on one generation."""

    value: float
    """0-1."""
    extracted: Any = None
    """The answer found in the response, or None when there was none (distinct from wrong)."""
    detail: dict = field(default_factory=dict)
    """Checker details for the sample log (per-instruction verdicts, judge output, ...)."""


@dataclass
class BuildContext:
    """What a benchmark that builds its own prompts (`iter_items`) may use: long-context sets whose
    prompts are sized in the evaluated model's own tokens (RULER, HELMET, LongBench)."""

    spec: Any
    """The benchmark's TaskSpec (settings in `spec.options`)."""
    data_dir: Any
    """`--data-dir` (a Path) or None."""
    model: Any
    """The run's ModelPreset (`max_context` says the longest length to build)."""
    mode: str
    limit: int | None
    """`--limit`: at most this many items (the builder may stop early)."""
    cache_dir: Any
    """A folder (Path) for generated datasets, keyed by the builder's own fingerprint."""
    tokenizer_name: str | None = None
    """`--tokenizer`, else the checkpoint of the bundled/vllm backend, else None."""
    tokenizer_loader: Callable[[str], Any] | None = None
    """Loads `tokenizer_name` (exaone_eval.tokenizer.load_tokenizer), handed in by whoever builds the
    context: the contracts import nothing of the package."""
    fingerprints: dict = field(default_factory=dict)
    """The builder records source and settings fingerprints here; run.json keeps them."""

    def tokenizer(self):
        """The evaluated model's tokenizer (local files only); a HarnessError says how to give it."""
        if not self.tokenizer_name:
            raise HarnessError(
                f"{self.spec.name} sizes its prompts in the evaluated model's own tokens and needs its tokenizer: "
                "pass --tokenizer PATH (a folder with tokenizer.json, or an HF id in the local cache)"
            )
        if self.tokenizer_loader is None:
            raise TypeError("BuildContext has a tokenizer_name but no tokenizer_loader to load it with")
        return self.tokenizer_loader(self.tokenizer_name)


@dataclass(frozen=True)
class Episode:
    """What one conversation produced (Multi-IF, BFCL multi-turn, Tau-Bench): what the benchmark's
    `score(item, episode)` reads and the sample row keeps."""

    messages: tuple[dict, ...]
    """The conversation as chat messages (system / user / assistant with `tool_calls` / tool), the
    assistant turns holding their answers only: reasoning is dropped, as EXAONE's chat template drops it."""
    result: dict = field(default_factory=dict)
    """Benchmark-specific and JSON-serialisable: what `score` needs beyond `messages` (per-turn
    answers, decoded calls, why the episode ended, ...)."""
    response: str = ""
    """The text the sample row shows as `response` (e.g. the last answer of the model under test)."""
    turns: tuple[dict, ...] = ()
    """Filled by the runner: one record per chat call (role, turn, seed, reasoning, answer,
    tool_calls, finish_reason, token counts), in call order."""
    termination: str = "completed"
    """Why the episode ended, in the benchmark's official words where it has them (tau2's
    TerminationReason values: user_stop, agent_stop, max_steps, too_many_errors, agent_error,
    user_error; BFCL's step limit: step_limit); `completed` for one that ran its natural course
    (Multi-IF's three turns, BFCL's last turn answered). The sample row keeps it as `termination`
    and scores.json counts each reason; the run's own wall-time cut (`wall_time`) is no episode
    (docs/conversations.md)."""


class Chat(Protocol):
    """How a conversation benchmark talks (`async def converse(item, chat) -> Episode`).

    One call is one turn: a Request through the run's store under its own key, its seed derived
    from the sample's seed, the role and the turn's index, so a rerun replays finished turns from
    the store and goes on from the first missing one. `role="agent"` is the model under test (the
    run's backend and decoding profile); `role="user"` is the user simulator (its own backend,
    `--user-base-url`, temperature 0). A turn that fails after the backend's retries raises
    TurnFailed: the sample is not stored and a rerun resumes it.
    """

    options: dict
    """The benchmark's `[options]` as this run resolved them (tasks/<name>.toml with the suite's
    overrides): where an episode reads its limits (Tau-Bench's max_steps and max_errors)."""

    async def __call__(self, messages: Sequence[dict], *, tools: Sequence[dict] | None = None,
                       role: str = "agent", max_tokens: int | None = None) -> Generation:
        ...


class Backend(Protocol):
    """Turns requests into generations. Knows nothing of benchmarks."""

    def generate(self, requests: Sequence[Request]) -> AsyncIterator[tuple[int, Generation]]:
        """Yield `(index into requests, generation)` as each finishes, in any order.

        A failed request yields a Generation with `error` set; it never raises for one request.
        """
        ...


class HarnessError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits with code 2."""


class TurnFailed(Exception):
    """A conversation turn the backend could not produce (after its retries): the episode stops,
    its finished turns stay in the store, and a rerun resumes it."""
