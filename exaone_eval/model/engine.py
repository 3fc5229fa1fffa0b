"""The bundled engine: batched generation with a KV cache, on one CPU (or one device).

A `PromptGroup` is one rendered prompt (plus any assistant `prefix`) and the samples to draw
from it. The engine prefills the prompt once and forks the cache into one row per sample, so
the k samples of an item share their prefill. Rows then decode together, one token per step;
a finished row leaves the batch and the next waiting prompt is admitted (continuous batching).

Reasoning budget: while a row's reasoning is open (no `</think>` yet) and it has generated
`reasoning_budget` tokens, it stops, its text so far plus the forcing text becomes its new
prefix, and it continues, capped at `answer_max_tokens`. The continuation is tokenized from
text exactly as a `Request.prefix` is, and token draws are keyed by position (`sampling.py`),
so a budget-b run equals "generate further, keep b tokens, force, continue from that prefix".
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from exaone_eval.model.sampling import (
    apply_presence_penalty,
    choose_tokens,
    uniform_draw,
)
from exaone_eval.reasoning import BUDGET_FORCING_TEXT, THINK_CLOSE
from exaone_eval.types import Sampling

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Continuation:
    """One sequence to draw from a prompt."""

    sampling: Sampling
    reasoning_budget: int | None = None
    """Force the answer once this many tokens of open reasoning were generated."""
    answer_max_tokens: int | None = None
    """The cap on the answer once the reasoning is closed by forcing or by the prefix."""
    forcing_text: str = BUDGET_FORCING_TEXT
    ignore_eos: bool = False
    """Generate exactly max_tokens (benchmarks)."""


@dataclass(frozen=True)
class PromptGroup:
    prompt: str
    """The rendered chat prompt (the chat template already applied)."""
    samples: tuple[Continuation, ...]
    prefix: str = ""
    """Assistant text already generated; the samples continue from it."""
    cancel: threading.Event | None = None
    """Once set, the group's unfinished samples are dropped without a completion."""


@dataclass(frozen=True)
class Completion:
    text: str
    """The prefix, then the generated text (with any forcing text), cut before a stop string."""
    finish_reason: str | None
    """`stop` (eos or stop string) or `length`; None with an error."""
    prompt_tokens: int
    completion_tokens: int
    """Tokens the model generated (all phases; forcing text excluded)."""
    token_ids: tuple[int, ...] = ()
    forced_at: int | None = None
    """Reasoning tokens generated when the budget forced the answer; None when not forced."""
    error: str | None = None


@dataclass(eq=False)
class _Seq:
    """A sample in flight (mutable engine state)."""

    cont: Continuation
    done: Callable[[Completion], None]
    prompt: str
    prefix_text: str
    cap: int
    reasoning_open: bool
    cancel: threading.Event | None = None
    generator: torch.Generator = field(default_factory=torch.Generator)
    prompt_tokens: int = 0
    length: int = 0
    """Position of the next token."""
    phase_ids: list[int] = field(default_factory=list)
    """Tokens generated since the last prefill (after `prefix_text`)."""
    token_ids: list[int] = field(default_factory=list)
    forced_at: int | None = None


@dataclass(eq=False)
class _Job:
    """A prompt waiting for (or holding) its prefill, and the samples still to admit."""

    prompt: str
    prefix: str
    seqs: list[_Seq]
    cache: object = None
    logits: torch.Tensor | None = None
    seen: torch.Tensor | None = None
    length: int = 0


def _deliver_to(on_done: Callable[[int, Completion], None], index: int) -> Callable[[Completion], None]:
    """The sample's callback; one that raises (its consumer went away) must not stop the batch."""

    def done(completion: Completion) -> None:
        try:
            on_done(index, completion)
        except Exception:
            log.exception("bundled engine: delivering a completion failed; it is dropped")

    return done


def _cancelled(seq: _Seq) -> bool:
    return seq.cancel is not None and seq.cancel.is_set()


def phase_cap(prefix: str, cont: Continuation) -> int:
    """Answer cap once the prefix has closed the reasoning, else the sample's max tokens."""
    if THINK_CLOSE in prefix and cont.answer_max_tokens is not None:
        return cont.answer_max_tokens
    return cont.sampling.max_tokens


def validate(cont: Continuation) -> None:
    s = cont.sampling
    if s.temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {s.temperature}")
    if not 0 < s.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {s.top_p}")
    if s.max_tokens <= 0:
        raise ValueError(f"max_tokens must be positive, got {s.max_tokens}")
    for name in ("reasoning_budget", "answer_max_tokens"):
        value = getattr(cont, name)
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")


class Engine:
    def __init__(self, model, tokenizer, max_batch: int = 16, prefill_chunk: int = 512):
        if max_batch <= 0 or prefill_chunk <= 0:
            raise ValueError("max_batch and prefill_chunk must be positive")
        self.model, self.tokenizer = model, tokenizer
        self.max_batch, self.prefill_chunk = max_batch, prefill_chunk
        config = model.config
        self.device = model.model.embed_tokens.weight.device
        self.max_positions = config.max_position_embeddings
        self.eos = set(config.eos_token_ids)
        if getattr(tokenizer, "eos_token_id", None) is not None:
            self.eos.add(tokenizer.eos_token_id)
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._seqs: list[_Seq] = []
        self._cache = None
        self._logits: torch.Tensor | None = None  # [B, V] next-token logits of the active rows
        self._seen: torch.Tensor | None = None  # [B, V] bool: tokens already in each row's output
        self.stats = {"prefill_tokens": 0, "prefill_s": 0.0, "decode_tokens": 0, "decode_s": 0.0}

    # ---- text <-> tokens ----------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        # The chat template writes any BOS itself; special tokens in the text are parsed as such.
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    # ---- submitting work (any thread) ---------------------------------------------------------

    def submit(self, group: PromptGroup, on_done: Callable[[int, Completion], None]) -> None:
        """Queue a prompt; `on_done(sample_index, completion)` is called (from the engine's
        thread) as each sample finishes. A bad sample gets an error completion at once."""
        seqs = []
        for index, cont in enumerate(group.samples):
            done = _deliver_to(on_done, index)
            try:
                validate(cont)
            except ValueError as e:
                done(Completion("", None, 0, 0, error=str(e)))
                continue
            seqs.append(_Seq(cont=cont, done=done, prompt=group.prompt, prefix_text=group.prefix, cancel=group.cancel,
                             cap=phase_cap(group.prefix, cont),
                             reasoning_open=cont.reasoning_budget is not None and THINK_CLOSE not in group.prefix))
        if seqs:
            with self._lock:
                self._queue.append(_Job(group.prompt, group.prefix, seqs))

    def has_work(self) -> bool:
        with self._lock:
            return bool(self._seqs or self._queue)

    def cache_bytes(self) -> int:
        """KV-cache bytes held by the rows in flight (0 with none): what a dropped row frees."""
        cache = self._cache
        return cache.nbytes() if cache is not None else 0

    def generate(self, groups: list[PromptGroup]) -> list[list[Completion]]:
        """Run groups to completion (blocking); completions in the order of the samples."""
        results = [[None] * len(g.samples) for g in groups]
        for gi, group in enumerate(groups):
            self.submit(group, lambda si, c, gi=gi: results[gi].__setitem__(si, c))
        self.run()
        return results

    def run(self) -> None:
        while self.has_work():
            self.step()

    # ---- the loop (one thread) ----------------------------------------------------------------

    def step(self) -> None:
        """Admit waiting prompts into free rows, choose one token for every row, advance."""
        with torch.inference_mode():
            self._admit()
            if not self._seqs:
                return
            try:
                self._decode_step()
            except Exception as e:  # a failed forward fails the rows in flight, not the engine
                self.fail(e, queued=False)

    def fail(self, error: Exception, queued: bool = True) -> None:
        """Fail the rows in flight (and, with `queued`, every waiting sample) with `error`."""
        seqs, self._seqs, self._cache, self._logits, self._seen = self._seqs, [], None, None, None
        if queued:
            with self._lock:
                jobs, self._queue = list(self._queue), deque()
            seqs += [seq for job in jobs for seq in job.seqs]
        for seq in seqs:
            seq.done(Completion("", None, seq.prompt_tokens, len(seq.token_ids), error=f"{type(error).__name__}: {error}"))

    def _decode_step(self) -> None:
        seqs = self._seqs
        logits = self._logits.float().cpu()  # sampling runs on the CPU, wherever the model is
        penalties = torch.tensor([s.cont.sampling.presence_penalty for s in seqs])
        if penalties.any():
            logits = apply_presence_penalty(logits, penalties, self._seen)
        sampling = [s.cont.sampling for s in seqs]
        uniforms = [uniform_draw(s.generator, p.seed, s.length) if p.temperature > 0 else None
                    for s, p in zip(seqs, sampling)]
        tokens = choose_tokens(logits, [p.temperature for p in sampling], [p.top_p for p in sampling],
                               [p.top_k for p in sampling], uniforms)
        self._seen[torch.arange(len(seqs)), torch.tensor(tokens)] = True

        keep = []
        for row, (seq, token) in enumerate(zip(seqs, tokens)):
            if not _cancelled(seq) and self._advance(seq, token):
                keep.append(row)
        if len(keep) < len(seqs):
            self._seqs = [seqs[r] for r in keep]
            if not keep:
                self._cache, self._logits, self._seen = None, None, None
                return
            self._cache = self._cache.select(keep)
            self._seen = self._seen[keep]
        started = time.perf_counter()
        next_ids = torch.tensor([[tokens[r]] for r in keep], device=self.device)
        self._logits = self.model(next_ids, self._cache, last_only=True)[:, 0]
        self.stats["decode_tokens"] += len(keep)
        self.stats["decode_s"] += time.perf_counter() - started

    def _advance(self, seq: _Seq, token: int) -> bool:
        """Record one generated token; finish or force the sequence. True if it stays in the batch."""
        seq.phase_ids.append(token)
        seq.token_ids.append(token)
        seq.length += 1
        cont = seq.cont
        if token in self.eos and not cont.ignore_eos:
            self._finish(seq, "stop", drop_last=True)
            return False
        stops = cont.sampling.stop
        if stops or seq.reasoning_open:
            tail = self.decode(seq.phase_ids[-(max((len(s) for s in stops), default=0) + len(THINK_CLOSE) + 8):])
            if any(s in tail for s in stops):
                self._finish(seq, "stop")
                return False
            if seq.reasoning_open and THINK_CLOSE in tail:
                seq.reasoning_open = False
        if seq.reasoning_open and len(seq.phase_ids) >= cont.reasoning_budget:
            self._force(seq)
            return False
        if len(seq.phase_ids) >= seq.cap or seq.length >= self.max_positions:
            self._finish(seq, "length")
            return False
        return True

    def _finish(self, seq: _Seq, reason: str, drop_last: bool = False) -> None:
        text = self.decode(seq.phase_ids[:-1] if drop_last else seq.phase_ids)
        cuts = [i for s in seq.cont.sampling.stop if (i := text.find(s)) >= 0]
        if cuts:
            text = text[: min(cuts)]
        seq.done(Completion(seq.prefix_text + text, reason, seq.prompt_tokens, len(seq.token_ids),
                            tuple(seq.token_ids), seq.forced_at))

    def _force(self, seq: _Seq) -> None:
        """Budget reached: the reasoning so far plus the forcing text become the prefix."""
        seq.forced_at = len(seq.phase_ids)
        seq.prefix_text = seq.prefix_text + self.decode(seq.phase_ids) + seq.cont.forcing_text
        seq.phase_ids = []
        seq.reasoning_open = False
        seq.cap = phase_cap(seq.prefix_text, seq.cont)
        with self._lock:
            self._queue.appendleft(_Job(seq.prompt, seq.prefix_text, [seq]))

    def _admit(self) -> None:
        while len(self._seqs) < self.max_batch:
            with self._lock:
                job = self._queue[0] if self._queue else None
            if job is None:
                return
            job.seqs = [seq for seq in job.seqs if not _cancelled(seq)]
            if job.seqs and job.cache is None:
                try:
                    self._prefill(job)
                except Exception as e:
                    with self._lock:
                        self._queue.remove(job)
                    for seq in job.seqs:
                        seq.done(Completion("", None, seq.prompt_tokens, len(seq.token_ids),
                                            error=f"{type(e).__name__}: {e}"))
                    continue
            take = job.seqs[: self.max_batch - len(self._seqs)]
            job.seqs = job.seqs[len(take):]
            if not job.seqs:
                with self._lock:
                    self._queue.remove(job)
            if not take:
                continue
            rows = job.cache.select([0] * len(take))  # fork the prefill: one row per sample
            for seq in take:
                seq.length = job.length
                seq.prompt_tokens = seq.prompt_tokens or job.length
            logits = job.logits.expand(len(take), -1)
            seen = job.seen.expand(len(take), -1)
            if self._cache is None:
                self._cache, self._logits, self._seen = rows, logits.clone(), seen.clone()
            else:
                self._cache.extend(rows)
                self._logits = torch.cat([self._logits, logits])
                self._seen = torch.cat([self._seen, seen])
            self._seqs.extend(take)

    def _prefill(self, job: _Job) -> None:
        ids = self.encode(job.prompt + job.prefix)
        if not ids:
            raise ValueError("empty prompt")
        if len(ids) >= self.max_positions:
            raise ValueError(f"prompt has {len(ids)} tokens; the model's context is {self.max_positions}")
        # The assistant's output starts after the rendered prompt: the prefix counts as output
        # (presence penalty), exactly as if this engine had generated it.
        output_start = len(self.encode(job.prompt)) if job.prefix else len(ids)
        started = time.perf_counter()
        cache = self.model.new_cache(1, len(ids))
        for start in range(0, len(ids), self.prefill_chunk):
            chunk = torch.tensor([ids[start:start + self.prefill_chunk]], device=self.device)
            logits = self.model(chunk, cache, last_only=True)
        self.stats["prefill_tokens"] += len(ids)
        self.stats["prefill_s"] += time.perf_counter() - started
        seen = torch.zeros(1, logits.shape[-1], dtype=torch.bool)
        seen[0, ids[output_start:]] = True
        job.cache, job.logits, job.seen, job.length = cache, logits[:, 0], seen, len(ids)
