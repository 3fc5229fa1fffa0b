"""The architecture contract (pyproject.toml [tool.importlinter], docs/architecture.md) holds:
each layer imports only from the layers below it, and no package's modules import in a circle.
CI runs `lint-imports` too; this runs the same contracts under plain pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept():
    pytest.importorskip("importlinter", reason="import-linter is not installed (the `dev` extra brings it)")
    # The checkout's package, whatever is installed: the contracts are about this source tree.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
                          "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
