"""PNG plots: the budget curve and RULER / HELMET against context length, from made-up runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import exaone_eval
from exaone_eval.tables import render

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_run(root: Path, name: str, model: str, scores: dict, budgets=None) -> Path:
    d = root / name
    d.mkdir(parents=True)
    config = {"model": {"name": model}, "mode": "reasoning" if budgets else "non-reasoning", "suite": "t",
              "benchmarks": sorted({k.partition("@")[0] for k in scores})}
    if budgets:
        config["budgets"] = budgets
    (d / "run.json").write_text(json.dumps(config), encoding="utf-8")
    (d / "scores.json").write_text(json.dumps(scores), encoding="utf-8")
    return d


def assert_png(path: Path) -> None:
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 10_000  # axes, two curves, labels: not an empty canvas
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width > 300 and height > 200


def test_the_budget_curve_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    scores = {f"aime_2025@{b}": {"score": s, "n_items": 30, "k": 32} for b, s in ((1024, 30.0), (4096, 40.0), (65536, 80.0))}
    run = make_run(tmp_path, "b", "32b", scores, budgets=[1024, 4096, 65536])
    text = render([run], ["md"], tmp_path / "out")
    assert "Plots: table7.png" in text
    assert_png(tmp_path / "out" / "table7.png")


def test_ruler_and_helmet_against_length_are_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    scores = {
        "ruler": {"score": 80.0, "n_items": 10, "k": 1, "metrics": {"4k": 90.0, "32k": 85.0, "64k": 80.0}},
        "helmet": {"score": 40.0, "n_items": 10, "k": 1, "metrics": {"32k/avg": 42.0, "64k/avg": 40.0, "64k/recall": 70.0}},
    }
    run = make_run(tmp_path, "n", "1.2b", scores)
    render([run], ["md"], tmp_path / "out")
    assert_png(tmp_path / "out" / "table10.png")
    assert_png(tmp_path / "out" / "table9.png")


def test_tables_without_curve_data_write_no_plot(tmp_path):
    run = make_run(tmp_path, "n", "32b", {"ifeval": {"score": 80.0, "n_items": 10, "k": 1}})
    text = render([run], ["md"], tmp_path / "out")
    assert "Plots" not in text and not list((tmp_path / "out").glob("*.png"))


def test_plots_are_skipped_with_a_note_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.delitem(sys.modules, "exaone_eval.plots", raising=False)
    monkeypatch.delattr(exaone_eval, "plots", raising=False)
    run = make_run(tmp_path, "n", "32b", {"ruler": {"score": 80.0, "n_items": 10, "k": 1, "metrics": {"4k": 90.0}}})
    text = render([run], ["md"], tmp_path / "out")
    assert "Plots skipped:" in text and "exaone-eval[plots]" in text
    assert (tmp_path / "out" / "table10.md").exists() and not (tmp_path / "out" / "table10.png").exists()
