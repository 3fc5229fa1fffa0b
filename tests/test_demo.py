"""The README's first command, `exaone-eval run --suite demo --model demo`, end to end (one item of each benchmark)."""

from __future__ import annotations

import json

import pytest

from exaone_eval.cli import main


@pytest.mark.slow
def test_the_demo_suite_runs_offline_on_the_bundled_demo_model_and_writes_a_run_directory(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("bfcl")
    pytest.importorskip("long_context_eval")
    pytest.importorskip("wonderwords")
    from exaone_eval.model.gguf import demo_model_dir
    from exaone_eval.types import HarnessError

    try:
        demo_model_dir()  # the ordinary cache: converted once, then reused
    except HarnessError as e:
        pytest.skip(str(e))
    assert main(["run", "--suite", "demo", "--model", "demo", "--limit", "1", "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    entry = json.loads((tmp_path / "run" / "scores.json").read_text())["bfcl_v3"]
    assert entry["n_items"] == 1 and entry["n_samples"] == 1 and entry["failed"] == 0
    sample = json.loads((tmp_path / "run" / "samples" / "bfcl_v3.jsonl").read_text().splitlines()[0])
    assert sample["id"] == "simple_0" and sample["response"].strip() and sample["completion_tokens"] > 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["backend"] == "bundled" and run["model"]["name"] == "demo"
    assert "bfcl_v3" in capsys.readouterr().out
    # RULER at demo size: sample 0 of niah_single_1 at 1K tokens, sized with the demo model's own tokenizer.
    ruler = json.loads((tmp_path / "run" / "scores.json").read_text())["ruler"]
    assert ruler["n_items"] == 1 and ruler["failed"] == 0 and 0.0 <= ruler["score"] <= 100.0 and "1k/niah_single_1" in ruler["metrics"]
    sample = json.loads((tmp_path / "run" / "samples" / "ruler.jsonl").read_text().splitlines()[0])
    assert sample["id"] == "niah_single_1/1024/0" and 1024 - 64 < sample["item_meta"]["tokens"] <= 1024
    assert run["task_options"]["ruler"]["lengths"] == [1024, 2048]
