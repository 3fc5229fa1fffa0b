"""Backends turn Requests into Generations (see exaone_eval.types.Backend). Each is imported only
when chosen: `openai` needs the openai package, `vllm` and `bundled` need torch."""

from __future__ import annotations

from exaone_eval.config import RunConfig
from exaone_eval.types import HarnessError

BACKENDS = ("openai", "vllm", "bundled")


def make_backend(cfg: RunConfig):
    if cfg.backend == "openai":
        return _openai(cfg, cfg.base_urls, cfg.model.hf_id, cfg.api_key, vllm_extras=True)
    if cfg.backend == "bundled":
        try:
            from exaone_eval.backends.bundled import BundledBackend
        except ImportError as e:
            raise HarnessError(f"the bundled backend needs torch and transformers: pip install 'exaone-eval[bundled]' ({e})") from None
        return BundledBackend(bundled_checkpoint(cfg.model.hf_id))
    if cfg.backend == "vllm":
        try:
            from exaone_eval.backends.vllm import VLLMBackend, check_vllm_release
        except ImportError as e:
            raise HarnessError(f"the vllm backend needs vLLM on a GPU machine: pip install 'exaone-eval[vllm]' ({e})") from None
        check_vllm_release()  # releases that run RoPE on EXAONE 4.0's NoPE layers are refused
        return VLLMBackend(
            str(bundled_checkpoint(cfg.model.hf_id)),  # `demo`: the converted SmolLM2 folder, which vLLM loads too
            tensor_parallel_size=cfg.tensor_parallel_size or 1,
            data_parallel_size=cfg.data_parallel_size or 1,
            max_model_len=cfg.max_model_len,
            gpu_memory_utilization=cfg.gpu_memory_utilization,
        )
    raise HarnessError(f"unknown backend {cfg.backend!r}; valid backends: {', '.join(BACKENDS)}")


def bundled_checkpoint(model: str):
    """The folder the bundled engine loads: `demo` is the converted SmolLM2 GGUF."""
    if model == "demo":
        from exaone_eval.model.gguf import demo_model_dir

        return demo_model_dir()
    return model


def make_judge_backend(cfg: RunConfig):
    if not cfg.judge_base_url:
        return None
    if not cfg.judge_model:
        raise HarnessError("--judge-base-url needs --judge-model (the judge's model name on that server)")
    # A hosted judge (the report's gpt-4.1) rejects vLLM-only fields: send none.
    return _openai(cfg, cfg.judge_base_url.split(","), cfg.judge_model, cfg.judge_api_key, vllm_extras=False)


DEFAULT_USER_MODEL = "gpt-4.1-2025-04-14"
"""The report's Tau-Bench user simulator."""


def make_user_backend(cfg: RunConfig):
    """The user simulator of conversations (Tau-Bench), on its own OpenAI-compatible server."""
    if not cfg.user_base_url:
        return None
    # The report's user is a hosted model that rejects vLLM-only fields: send none.
    return _openai(cfg, cfg.user_base_url.split(","), cfg.user_model or DEFAULT_USER_MODEL, cfg.user_api_key, vllm_extras=False)


def _openai(cfg: RunConfig, urls: list[str], model: str, api_key: str | None, vllm_extras: bool):
    """An OpenAI-compatible backend with the run's concurrency, timeout and retry settings."""
    from exaone_eval.backends.openai import OpenAIBackend

    return OpenAIBackend(urls, model=model, api_key=api_key, concurrency=cfg.concurrency,
                         request_timeout=cfg.request_timeout, max_retries=cfg.max_retries, vllm_extras=vllm_extras,
                         unreachable_timeout=cfg.unreachable_timeout)
