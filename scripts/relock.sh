#!/usr/bin/env bash
# Refresh requirements-lock.txt: resolve every dependency afresh (the newest releases that the
# ranges in pyproject.toml allow) in a scratch virtual environment, then freeze it. Test the
# result before committing it:  scripts/relock.sh && ./install.sh && python3 -m pytest
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
: > "$scratch/no-lock.txt"  # install.sh with an empty lock resolves freely; its own == pins still hold
PYTHON="$scratch/venv/bin/python" EXAONE_EVAL_LOCK="$scratch/no-lock.txt" ./install.sh
{
  echo "# exaone-eval's locked dependencies: a pip constraints file that install.sh applies (-c)."
  echo "# Resolved $(date -u +%Y-%m-%d) for Python $("$scratch/venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') on $(uname -m) Linux by scripts/relock.sh; do not edit by hand."
  "$scratch/venv/bin/python" -m pip freeze --exclude-editable
} > requirements-lock.txt
echo "wrote requirements-lock.txt ($(grep -c '==' requirements-lock.txt) packages); now: ./install.sh && python3 -m pytest"
