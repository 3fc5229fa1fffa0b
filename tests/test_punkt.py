"""IFEval's NLTK data: found offline when a copy is installed, else a clear message."""

from __future__ import annotations

import pytest

from exaone_eval.scoring import ifeval as scoring
from exaone_eval.types import HarnessError


def test_the_copy_in_the_llama_index_core_wheel_is_found_without_a_download():
    dirs = scoring._bundled_nltk_dirs()
    if not dirs:
        pytest.skip("llama-index-core is not installed")
    assert (dirs[0] / "tokenizers" / "punkt_tab" / "english").is_dir()


def test_without_any_copy_and_offline_the_error_says_how_to_provide_it(monkeypatch):
    import nltk

    def missing(*a, **k):
        raise LookupError("punkt_tab")

    monkeypatch.setattr(nltk.data, "find", missing)
    monkeypatch.setattr(scoring, "_bundled_nltk_dirs", lambda: [])
    monkeypatch.setattr(nltk, "download", lambda *a, **k: False)
    scoring.ensure_punkt.cache_clear()
    try:
        with pytest.raises(HarnessError, match="pip install --no-deps llama-index-core"):
            scoring.ensure_punkt()
    finally:
        scoring.ensure_punkt.cache_clear()
