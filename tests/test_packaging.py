"""`pip install .` (not only editable) ships tasks/, configs/ and the report's numbers in the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_every_task_spec_config_and_reference_table_and_lists_from_them(tmp_path):
    pytest.importorskip("hatchling", reason="hatchling (the build backend, in the dev extra) is not installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("exaone_eval-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, pattern in (("tasks", "*.toml"), ("configs", "*.toml"), ("results/reference", "*.csv")):
        shipped = "reference" if folder == "results/reference" else folder
        for path in (ROOT / folder).glob(pattern):
            assert f"exaone_eval/_shipped/{shipped}/{path.name}" in names
    assert "exaone_eval/model/cpu_gemm.c" in names  # the engine's CPU kernels are built from it on first use
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # Run from the unpacked wheel alone (not the checkout): `list` reads the shipped specs.
    out = subprocess.run([sys.executable, "-c", "import exaone_eval, sys; from exaone_eval.cli import main; print(exaone_eval.__file__); sys.exit(main(['list']))"],
                         cwd=tmp_path, env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0].startswith(str(unpacked))
    assert "aime_2025" in out and "ko_longbench" in out
