"""`--backend bundled`: the bundled PyTorch model and engine, in this process, no server.

Prompts go through the checkpoint's own chat template (transformers, local files only) with
`enable_thinking` (reasoning mode) and `tools`. Requests with the same messages, tools, mode
and prefix share one prefill, forked into one cache row per sample. One worker thread drives
the engine, so the event loop stays free and concurrent `generate` calls share one batch.

Each request's `max_tokens` is capped at what the model's context leaves after its prompt (the
engine would stop there anyway); a cap below the request's budget is recorded on the Generation
(`max_tokens_capped`), and a prompt that fills the context fails alone, naming both lengths.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from exaone_eval.backends.context import cap_record, fit_max_tokens, prompt_too_long
from exaone_eval.reasoning import BUDGET_FORCING_TEXT, render_chat, split_reasoning
from exaone_eval.tokenizer import checkpoint_tokenizer
from exaone_eval.types import Generation, HarnessError, Request

log = logging.getLogger(__name__)


def resolve_checkpoint(model_path: str | Path) -> Path:
    """A local checkpoint directory, or an HF id already in the local Hugging Face cache."""
    path = Path(model_path).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(model_path), local_files_only=True))
    except Exception:
        raise HarnessError(f"bundled backend: {model_path} is neither a local checkpoint directory "
                           "nor a model in the local Hugging Face cache") from None


class BundledBackend:
    def __init__(
        self,
        model_path: str | Path,
        *,
        dtype: str = "float32",
        device: str = "cpu",
        max_batch: int = 16,
        prefill_chunk: int = 512,
        threads: int | None = None,
        pack: bool = True,
    ):
        import torch

        from exaone_eval.model import load_model
        from exaone_eval.model.engine import Engine
        from exaone_eval.model.cpu_pack import pack_linears_for_cpu

        if threads is not None:
            torch.set_num_threads(threads)
        self.path = resolve_checkpoint(model_path)
        self.model = load_model(self.path, dtype=dtype, device=device)
        # The engine's own AVX2 kernels (else oneDNN), fused GEMMs: 2.3-3.5x transformers' decoding
        # speed on CPU (bench/engine.py); the same maths to float rounding.
        self.packed = pack and pack_linears_for_cpu(self.model) > 0
        self.tokenizer = checkpoint_tokenizer(self.path)
        if not getattr(self.tokenizer, "chat_template", None):
            raise HarnessError(f"{self.path}: the tokenizer has no chat template")
        self.engine = Engine(self.model, self.tokenizer, max_batch=max_batch, prefill_chunk=prefill_chunk)
        self._wake = threading.Condition()
        self._closed = False
        self._worker: threading.Thread | None = None

    def render(self, request: Request) -> str:
        """The prompt text: the chat template with the generation prompt, thinking per mode."""
        return render_chat(self.tokenizer, request)

    @property
    def max_context(self) -> int:
        """Prompts of this many tokens or more cannot be generated from (`exaone-eval serve` says so)."""
        return self.engine.max_positions

    def prompt_tokens(self, request: Request) -> int:
        """The request's prompt length in tokens, as the engine will count it."""
        prompt, prefix = self._prompt(request)
        return len(self.engine.encode(prompt + prefix))

    def _prompt(self, request: Request) -> tuple[str, str]:
        """(prompt, prefix) for the engine. Without messages the prefix is a raw prompt (the
        completions endpoint): continued as it is, no chat template, and not penalised as output."""
        if not request.messages:
            if not request.prefix:
                raise ValueError("a request needs messages or a prefix")
            return request.prefix, ""
        return self.render(request), request.prefix or ""

    async def generate(self, requests: Sequence[Request]) -> AsyncIterator[tuple[int, Generation]]:
        from exaone_eval.model.engine import Continuation, PromptGroup

        if self._closed:  # its worker is gone: work submitted now would wait forever
            raise HarnessError("the bundled backend was closed (aclose); make a new one to generate again")
        loop = asyncio.get_running_loop()
        results: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        groups: dict[tuple, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(_group_key(request), []).append(index)

        waiting = 0
        capped: dict[int, dict] = {}
        for indices in groups.values():
            first = requests[indices[0]]
            try:
                prompt, prefix = self._prompt(first)
            except Exception as e:
                for i in indices:
                    yield i, _failed(f"chat template failed: {type(e).__name__}: {e}")
                continue
            # The samples of a group share the prompt, hence the room the context leaves them.
            length = len(self.engine.encode(prompt + prefix))
            if length >= self.max_context:
                for i in indices:
                    yield i, _failed(prompt_too_long(length, self.max_context, whose="the model's context",
                                                     remedy="it has no more positions"))
                continue
            sent = {i: fit_max_tokens(requests[i].sampling.max_tokens, self.max_context, length) for i in indices}
            for i in indices:
                record = cap_record(requests[i].sampling.max_tokens, sent[i], self.max_context)
                if record is not None:
                    capped[i] = record
            samples = tuple(
                Continuation(
                    sampling=dataclasses.replace(requests[i].sampling, max_tokens=sent[i]),
                    # The budget caps reasoning, which only reasoning mode has.
                    reasoning_budget=requests[i].reasoning_budget if requests[i].mode == "reasoning" else None,
                    answer_max_tokens=requests[i].answer_max_tokens,
                    forcing_text=BUDGET_FORCING_TEXT,
                )
                for i in indices
            )

            def on_done(sample: int, completion, indices=indices) -> None:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(results.put_nowait, (indices[sample], completion))

            with self._wake:
                self.engine.submit(PromptGroup(prompt, samples, prefix=prefix, cancel=cancel), on_done)
                self._wake.notify()
            waiting += len(indices)
        if waiting:
            self._ensure_worker()
        try:
            for _ in range(waiting):
                index, completion = await results.get()
                yield index, _generation(requests[index], completion, capped.get(index))
        finally:
            cancel.set()  # a consumer that stops early frees the engine of its remaining samples

    def _ensure_worker(self) -> None:
        with self._wake:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._loop, name="bundled-engine", daemon=True)
                self._worker.start()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self.engine.has_work():
                    self._wake.wait()
                if self._closed:
                    return
            try:
                self.engine.step()
            except Exception as e:  # never leave a caller waiting: fail what is in flight or queued
                log.exception("bundled engine step failed")
                self.engine.fail(e)

    async def aclose(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._worker is not None:
            await asyncio.to_thread(self._worker.join)


def _group_key(request: Request) -> tuple:
    """Requests that render to the same prompt share one prefill."""
    return (
        json.dumps(request.messages, sort_keys=True, ensure_ascii=False, default=str),
        json.dumps(request.tools, sort_keys=True, ensure_ascii=False, default=str),
        request.mode,
        request.prefix or "",
    )


def _failed(message: str) -> Generation:
    return Generation(text="", reasoning=None, answer="", error=message, meta={"backend": "bundled"})


def _generation(request: Request, completion, capped: dict | None = None) -> Generation:
    if completion.error is not None:
        return _failed(completion.error)
    text = completion.text if request.messages else (request.prefix or "") + completion.text
    # Only a reasoning-mode text cut at its token cap is an unfinished reasoning.
    unfinished = request.mode == "reasoning" and completion.finish_reason == "length"
    split = split_reasoning(text, expect_reasoning=unfinished)
    meta = {"backend": "bundled"}
    if completion.forced_at is not None:
        meta["forced_at"] = completion.forced_at
    if request.reasoning_budget is not None:
        # The budget sweep truncates this reasoning at smaller budgets in the tokens as sampled
        # (re-encoding the text may split it differently); only budget requests carry them.
        meta["token_ids"] = list(completion.token_ids)
    return Generation(
        text=text,
        reasoning=split.reasoning,
        answer=split.answer,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        reasoning_closed=split.closed,
        max_tokens_capped=capped,
        meta=meta,
    )
