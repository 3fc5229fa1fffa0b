"""Model presets, the report's decoding profiles, suites, and the resolved run config."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from exaone_eval.paths import shipped
from exaone_eval.types import MODES, HarnessError, Sampling

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Report section 3.3: reasoning mode samples at T=0.6, top-p 0.95 (presence penalty 1.5 for the
# 32B model only); non-reasoning mode is greedy at k=1, else the same sampling without the penalty.
REASONING_TEMPERATURE = 0.6
REASONING_TOP_P = 0.95


@dataclass(frozen=True)
class ModelPreset:
    name: str
    hf_id: str
    """What a server is asked for (the `model` field), and what vLLM / the bundled engine load."""
    reasoning_presence_penalty: float = 0.0
    max_context: int = 131072
    backend: str | None = None
    """A preset may insist on a backend (the demo model runs on the bundled engine)."""
    max_tokens_cap: int | None = None
    """Caps every benchmark's max tokens (the demo model is tiny and has an 8K context)."""


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    mode: str
    benchmarks: tuple[str, ...]
    limit: int | None = None
    budgets: tuple[int, ...] = ()
    answer_max_tokens: int | None = None
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_api_key: str | None = None
    options: dict = field(default_factory=dict)
    """Per-benchmark overrides of the task specs' `[options]` (`[<suite>.options.<benchmark>]`)."""


def _load_toml(name: str) -> dict:
    path = shipped("configs") / name
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise HarnessError(f"{path}: not valid TOML: {e}") from None


@lru_cache(maxsize=None)
def model_presets() -> dict[str, ModelPreset]:
    out = {}
    for name, raw in _load_toml("models.toml").items():
        try:
            out[name] = ModelPreset(name=name, **raw)
        except TypeError as e:
            raise HarnessError(f"{shipped('configs') / 'models.toml'}: [{name}]: {e}") from None
    return out


def resolve_model(name: str) -> ModelPreset:
    """A preset name (`32b`, `1.2b`, `demo`), or any local path / HF id taken as it is."""
    presets = model_presets()
    if name in presets:
        return presets[name]
    return ModelPreset(name=name, hf_id=name)


@lru_cache(maxsize=None)
def suites() -> dict[str, Suite]:
    from exaone_eval.registry import REGISTRY

    out = {}
    path = shipped("configs") / "suites.toml"
    for name, raw in _load_toml("suites.toml").items():
        mode = raw.get("mode")
        if mode not in MODES:
            raise HarnessError(f"{path}: [{name}] mode {mode!r}; expected one of {list(MODES)}")
        unknown = [b for b in raw.get("benchmarks", []) if b not in REGISTRY]
        if unknown:
            raise HarnessError(f"{path}: [{name}] unknown benchmarks {unknown}")
        out[name] = Suite(
            name=name,
            description=raw.get("description", ""),
            mode=mode,
            benchmarks=tuple(raw["benchmarks"]),
            limit=raw.get("limit"),
            budgets=tuple(raw.get("budgets", ())),
            answer_max_tokens=raw.get("answer_max_tokens"),
            options=_suite_options(path, name, raw.get("options", {}), REGISTRY),
        )
    return out


def _suite_options(path, suite: str, options, registry) -> dict:
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise HarnessError(f"{path}: [{suite}.options] must hold one table per benchmark, e.g. [{suite}.options.ruler]")
    unknown = [b for b in options if b not in registry]
    if unknown:
        raise HarnessError(f"{path}: [{suite}.options] unknown benchmarks {unknown}")
    return options


def get_suite(name: str) -> Suite:
    all_suites = suites()
    if name not in all_suites:
        raise HarnessError(f"unknown suite {name!r}; valid suites: {', '.join(all_suites)}")
    return all_suites[name]


def sampling_for(model: ModelPreset, mode: str, k: int, max_tokens: int, seed: int) -> Sampling:
    """The report's decoding profile for one sample."""
    if model.max_tokens_cap is not None:
        max_tokens = min(max_tokens, model.max_tokens_cap)
    if mode == "reasoning":
        return Sampling(
            temperature=REASONING_TEMPERATURE,
            top_p=REASONING_TOP_P,
            presence_penalty=model.reasoning_presence_penalty,
            max_tokens=max_tokens,
            seed=seed,
        )
    if k == 1:
        return Sampling(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=seed)
    return Sampling(temperature=REASONING_TEMPERATURE, top_p=REASONING_TOP_P, max_tokens=max_tokens, seed=seed)


def sample_seed(run_seed: int, benchmark: str, item_id: str, sample: int) -> int:
    """Each sample's own seed: distinct across samples and items, identical on a rerun."""
    digest = hashlib.sha256(f"{run_seed}\x1f{benchmark}\x1f{item_id}\x1f{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass
class RunConfig:
    """Everything a run needs, fully resolved; written to run.json."""

    suite: str
    mode: str
    model: ModelPreset
    backend: str
    benchmarks: list[str]
    out: Path
    base_urls: list[str] = field(default_factory=list)
    api_key: str | None = None
    limit: int | None = None
    k: int | None = None
    """Overrides every benchmark's k."""
    data_dir: Path | None = None
    concurrency: int = 64
    seed: int = 0
    request_timeout: float = 3600.0
    max_retries: int = 6
    unreachable_timeout: float = 60.0
    """openai backend: seconds with no server reachable before the run stops (docs/failover.md)."""
    budgets: tuple[int, ...] = ()
    answer_max_tokens: int | None = None
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_api_key: str | None = None
    tensor_parallel_size: int | None = None
    """vLLM backend: GPUs per model replica (vLLM's tensor parallelism); None: vLLM's default, 1."""
    data_parallel_size: int | None = None
    """vLLM backend: model replicas (vLLM's data parallelism); None: 1."""
    max_model_len: int | None = None
    """vLLM backend: context length to allocate KV cache for; None: the model's own."""
    gpu_memory_utilization: float | None = None
    """vLLM backend: share of each GPU's memory vLLM may take; None: vLLM's default."""
    tokenizer: str | None = None
    """`--tokenizer`: the model's tokenizer (local files) where lengths count in its tokens."""
    user_base_url: str | None = None
    """Conversations with a simulated user (Tau-Bench): the user model's OpenAI-compatible URL(s)."""
    user_model: str | None = None
    """The user simulator's model name there (the report used gpt-4.1-2025-04-14)."""
    user_api_key: str | None = None
    task_options: dict = field(default_factory=dict)
    """The suite's overrides of task specs' `[options]`, per benchmark (the demo's short RULER)."""
    sandbox: str = "auto"
    """Where model-written code runs (exaone_eval/sandbox.py): auto, bwrap, rlimits, or none (only when named)."""
