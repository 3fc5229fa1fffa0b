"""`--backend vllm` refuses vLLM releases that run RoPE on EXAONE 4.0's global (NoPE) layers
(fixed by vLLM PR #23918, first released in 0.10.2); checked on fake version strings."""

from __future__ import annotations

import pytest
from conftest import AIME_ROWS, write_jsonl

from exaone_eval.backends import vllm as vllm_backend
from exaone_eval.backends.vllm import rope_bug
from exaone_eval.cli import main


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
