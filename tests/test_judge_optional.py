"""The runner and a judged benchmark with no judge: a benchmark that needs one is skipped, one that
declares `JUDGE_OPTIONAL` runs and names what it could not score; a headline computed without some
of its parts is the score, and score_basis says which partial figure it is."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from exaone_eval.config import ModelPreset, RunConfig
from exaone_eval.results import entry_metric, headline_basis
from exaone_eval.runner import run_suite
from exaone_eval.score_jobs import Judge
from exaone_eval.types import HarnessError


def test_a_judged_benchmark_needs_a_judge_unless_it_declares_it_optional(monkeypatch):
    from types import SimpleNamespace

    from exaone_eval import registry

    modules = {"needs": SimpleNamespace(judge_requests=lambda item, gen: []),
               "optional": SimpleNamespace(judge_requests=lambda item, gen: [], JUDGE_OPTIONAL=True),
               "unjudged": SimpleNamespace()}
    monkeypatch.setattr(registry, "get_module", modules.__getitem__)
    assert Judge.wants("needs") and Judge.required("needs")
    assert Judge.wants("optional") and not Judge.required("optional")
    assert not Judge.wants("unjudged") and not Judge.required("unjudged")


def test_without_a_judge_a_benchmark_that_needs_one_is_skipped_and_reported(tmp_path):
    cfg = RunConfig(suite="t", mode="non-reasoning", model=ModelPreset(name="t", hf_id="m"), backend="openai",
                    benchmarks=["wmt24pp_es"], out=tmp_path / "run", base_urls=["http://127.0.0.1:9/v1"])
    with pytest.raises(HarnessError, match="wmt24pp_es needs an LLM judge"):
        asyncio.run(run_suite(cfg, backend=None, judge_backend=None, progress=False))
    assert json.loads((tmp_path / "run" / "scores.json").read_text())["wmt24pp_es"] == {"skipped": "no judge configured"}


@pytest.mark.parametrize("metrics, basis", [
    ({"avg": 50.0, "avg (missing x)": 40.0}, "avg"),
    ({"avg (missing narrativeqa, multi_lexsum)": 40.0, "8k/avg": 1.0}, "avg (missing narrativeqa, multi_lexsum)"),
    ({"average": 3.0, "8k/avg (missing x)": 1.0}, None),
])
def test_the_headline_is_its_own_metric_else_the_partial_one_that_names_what_it_lacks(metrics, basis):
    assert headline_basis("avg", metrics) == basis
    assert entry_metric(metrics, "avg") == metrics[basis] if basis else math.isnan(entry_metric(metrics, "avg"))
