"""The budget sweep on the bundled engine: truncated-then-forced answers equal direct budget runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from conftest import AIME_ROWS, write_jsonl  # noqa: E402

from exaone_eval.config import ModelPreset, RunConfig  # noqa: E402
from exaone_eval.items import load_items, plan  # noqa: E402
from exaone_eval.store import SampleStore, request_key  # noqa: E402
from exaone_eval.sweep import budget_request, run_sweep  # noqa: E402

BUDGETS = (4, 8, 16, 32)
ANSWER_MAX = 6


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def backend(tiny_backend):
    return tiny_backend


def _config(tmp_path: Path, backend) -> RunConfig:
    data = write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS).parent
    # The 32B profile's presence penalty is on: a prefix must count as output exactly as generated text.
    model = ModelPreset(name="tiny", hf_id=str(backend.path), reasoning_presence_penalty=1.5, max_tokens_cap=48)
    return RunConfig(suite="budget", mode="reasoning", model=model, backend="bundled", benchmarks=["aime_2025"],
                     out=tmp_path / "run", k=4, data_dir=data, budgets=BUDGETS, answer_max_tokens=ANSWER_MAX, seed=3)


async def _sweep_then_direct(cfg: RunConfig, backend):
    await run_sweep(cfg, backend, progress=False)
    records = [json.loads(line) for line in (cfg.out / "samples" / "aime_2025.jsonl").read_text().splitlines()]
    store = SampleStore(cfg.out / "store.sqlite")
    planned = plan(cfg, "aime_2025", load_items(cfg, "aime_2025")[0])
    requests = [(p, b, budget_request(p.request, b, ANSWER_MAX)) for p in planned for b in BUDGETS]
    direct = {}
    async for i, gen in backend.generate([r for _, _, r in requests]):
        p, b, _ = requests[i]
        direct[(p.item.id, p.sample, b)] = gen
    keys = [request_key(cfg.model.hf_id, r) for _, _, r in requests]
    swept = store.get_many(keys)
    store.close()
    pairs = {(p.item.id, p.sample, b): swept[key] for (p, b, _), key in zip(requests, keys)}
    return records, pairs, direct


@pytest.fixture(scope="module")
def swept(backend, tmp_path_factory):
    cfg = _config(tmp_path_factory.mktemp("sweep"), backend)
    return (cfg, *asyncio.run(_sweep_then_direct(cfg, backend)))


def test_every_budget_of_the_sweep_is_token_identical_to_a_direct_run_with_that_budget(swept):
    _, _, pairs, direct = swept
    assert pairs.keys() == direct.keys()
    for key, gen in pairs.items():
        assert gen.text == direct[key].text, key
        assert gen.completion_tokens == direct[key].completion_tokens, key
        assert gen.meta.get("forced_at") == direct[key].meta.get("forced_at"), key


def test_the_sweep_both_truncates_reasonings_and_reuses_samples_the_budget_never_bit(swept):
    _, records, _, _ = swept
    sources = {r["source"] for r in records if r["budget"] < max(BUDGETS)}
    assert sources == {"reused", "truncated"}
    assert all(r["source"] == "full" for r in records if r["budget"] == max(BUDGETS))


def test_a_truncated_pair_generates_only_its_answer(swept):
    _, records, _, _ = swept
    for r in records:
        if r["source"] == "truncated":
            assert 0 < r["generated_tokens"] <= ANSWER_MAX
            assert r["completion_tokens"] == r["budget"] + r["generated_tokens"]
        if r["source"] == "reused":
            assert r["generated_tokens"] == 0


def test_the_sweep_generates_fewer_tokens_than_separate_runs_per_budget(swept):
    cfg, _, _, direct = swept
    tokens = json.loads((cfg.out / "run.json").read_text())["sweep_tokens"]["aime_2025"]
    assert tokens["separate_runs"] == sum(g.completion_tokens for g in direct.values())
    assert tokens["generated"] < tokens["separate_runs"]


def test_the_bundled_backend_reports_the_sampled_tokens_of_a_budget_request(backend):
    from exaone_eval.types import Request, Sampling

    request = Request(messages=({"role": "user", "content": "w12 w13"},), mode="reasoning", reasoning_budget=4,
                      answer_max_tokens=3, sampling=Sampling(temperature=1.0, max_tokens=20, seed=5))

    async def one():
        return [gen async for _, gen in backend.generate([request])][0]

    gen = asyncio.run(one())
    ids = gen.meta["token_ids"]
    assert len(ids) == gen.completion_tokens
    assert backend.tokenizer.decode(ids[:4], skip_special_tokens=False) in gen.text
