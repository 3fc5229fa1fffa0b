"""Planned gates: `gate plan` -> `run --plan` -> `gate` end to end on scripted servers, the plan
file's validation, the stopping rule's error rate, and the allocation over accuracy strata."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import write_jsonl

from exaone_eval.cli import main
from exaone_eval.csequence import decide, rejects
from exaone_eval.gate_plan import design_benchmark
from exaone_eval.planfile import load_plan
from exaone_eval.types import HarnessError

ROWS = [{"question_id": i, "question": f"q{i}?", "options": ["3", "4", "5", "6"], "answer": "B", "answer_index": 1,
         "cot_content": "", "category": "math", "src": "x"} for i in range(600)]


def model(accuracy: int):
    """A scripted model: items whose hash is below accuracy - 10 are always solved, the next 20
    solved by about half the seeds, the rest never; the cost of an answer depends on the item."""
    def respond(body: dict) -> dict:
        q = body["messages"][-1]["content"]
        h = zlib.crc32(q.encode()) % 100
        ok = h < accuracy - 10 or (h < accuracy + 10 and zlib.crc32(f"{q}|{body.get('seed')}".encode()) % 2 == 0)
        return {"content": "The answer is (B)." if ok else "The answer is (A).", "completion_tokens": 10 + h}
    return respond


@pytest.fixture
def planned(tmp_path, fake_server):
    """A baseline run (k = 2) and its plan at a 5-point tolerance; `run(name, accuracy)` runs a candidate with the plan."""
    write_jsonl(tmp_path / "data" / "mmlu_pro.jsonl", ROWS)
    (tmp_path / "gate.toml").write_text("[tolerance]\nmmlu_pro = 5.0\n", encoding="utf-8")

    def run(name: str, accuracy: int, *extra: str) -> tuple[int, list]:
        server = fake_server(model(accuracy))
        code = main(["run", "--suite", "non-reasoning", "--model", "32b", "--benchmarks", "mmlu_pro", "--base-url", server.url,
                     "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / name), "--no-progress", "--max-retries", "0", *extra])
        return code, server.requests

    assert run("base", 60, "--k", "2")[0] == 0
    assert main(["gate", "plan", "--baseline", str(tmp_path / "base"), "--out", str(tmp_path / "plan.json"),
                 "--config", str(tmp_path / "gate.toml")]) == 0
    return run


def gate(tmp_path: Path, name: str) -> tuple[int, str]:
    code = main(["gate", "--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / name),
                 "--config", str(tmp_path / "gate.toml"), "--out", str(tmp_path / f"{name}.md")])
    return code, (tmp_path / f"{name}.md").read_text(encoding="utf-8")


def test_an_unchanged_candidate_stops_early_and_passes(tmp_path, planned):
    code, requests = planned("same", 60, "--plan", str(tmp_path / "plan.json"))
    assert code == 0
    plan = load_plan(tmp_path / "plan.json").benchmarks["mmlu_pro"]
    stop = json.loads((tmp_path / "same" / "run.json").read_text())["plan"]["benchmarks"]["mmlu_pro"]
    assert stop["decision"] == "within tolerance" and stop["draws_run"] < len(plan.draws)  # stopped before the plan's end
    assert len(requests) == stop["samples"] < 0.25 * 1200
    # The planned samples carry the full run's seeds: each pairs with the baseline's sample.
    base = {(r["id"], r["sample"]): r["seed"] for r in map(json.loads, (tmp_path / "base" / "samples" / "mmlu_pro.jsonl").read_text().splitlines())}
    for r in map(json.loads, (tmp_path / "same" / "samples" / "mmlu_pro.jsonl").read_text().splitlines()):
        assert base[(r["id"], r["sample"])] == r["seed"]
    code, text = gate(tmp_path, "same")
    assert code == 0 and "PASS: no regression" in text
    row = next(line for line in text.splitlines() if line.startswith("| mmlu_pro |") and "within tolerance (shown)" in line)
    assert "| 2/2 |" in row
    assert "Planned run (`run --plan`)" in text and f"/ {len(plan.draws)} |" in text and "/ 1200 (" in text


def test_a_regressed_candidate_is_caught_with_few_samples(tmp_path, planned):
    code, requests = planned("worse", 40, "--plan", str(tmp_path / "plan.json"))
    assert code == 0
    stop = json.loads((tmp_path / "worse" / "run.json").read_text())["plan"]["benchmarks"]["mmlu_pro"]
    assert stop["decision"] == "regression" and len(requests) < 0.15 * 1200
    code, text = gate(tmp_path, "worse")
    assert code == 1 and "FAIL: mmlu_pro regressed" in text and "**regression**" in text
    verdict = json.loads((tmp_path / "worse.json").read_text())["verdicts"][0]
    assert verdict["ci_high"] < -5.0  # the draws showed the drop beyond the tolerance
    assert verdict["planned"]["token_share"] < 0.15


def test_a_rerun_with_the_plan_generates_nothing_again(tmp_path, planned):
    planned("same", 60, "--plan", str(tmp_path / "plan.json"))
    code, requests = planned("same", 60, "--plan", str(tmp_path / "plan.json"))
    assert code == 0 and requests == []


def test_the_plan_must_match_the_baseline_seed_and_run(tmp_path, planned, capsys):
    assert planned("other-seed", 60, "--plan", str(tmp_path / "plan.json"), "--seed", "3")[0] == 2
    assert "its baseline ran with --seed 0" in capsys.readouterr().err
    planned("same", 60, "--plan", str(tmp_path / "plan.json"))
    planned("base2", 55, "--k", "2")  # another baseline: the candidate's samples do not pair with it
    assert main(["gate", "--baseline", str(tmp_path / "base2"), "--candidate", str(tmp_path / "same"),
                 "--config", str(tmp_path / "gate.toml")]) == 2
    assert "baseline.fingerprint" in capsys.readouterr().err


def write_plan(tmp_path: Path, planned_fixture_dir: Path, edit) -> Path:
    plan = json.loads((planned_fixture_dir / "plan.json").read_text())
    edit(plan)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


@pytest.mark.parametrize("edit, field", [
    (lambda p: p.update(format="something else"), "'format'"),
    (lambda p: p.update(version=9), "'version'"),
    (lambda p: p["baseline"].pop("seed"), "'baseline.seed'"),
    (lambda p: p.update(alpha=2), "'alpha'"),
    (lambda p: p["benchmarks"]["mmlu_pro"].update(draws=[]), "'benchmarks.mmlu_pro.draws'"),
    (lambda p: p["benchmarks"]["mmlu_pro"]["draws"].__setitem__(3, ["7", 5, 1.0, 1.0]), "'benchmarks.mmlu_pro.draws[3][1]'"),
    (lambda p: p["benchmarks"]["mmlu_pro"]["draws"].__setitem__(0, [7, 0, 1.0, 1.0]), "'benchmarks.mmlu_pro.draws[0]'"),
    (lambda p: p["benchmarks"]["mmlu_pro"]["draws"].__setitem__(2, ["7", 0, 1.0, 1.5]), "'benchmarks.mmlu_pro.draws[2][3]'"),
    (lambda p: p["benchmarks"]["mmlu_pro"].pop("batch"), "'benchmarks.mmlu_pro.batch'"),
    (lambda p: p["benchmarks"].update(aime_2025={"planned": False}), "'benchmarks.aime_2025.reason'"),
])
def test_a_bad_plan_file_names_the_file_and_the_field(tmp_path, planned, edit, field):
    path = write_plan(tmp_path, tmp_path, edit)
    with pytest.raises(HarnessError) as e:
        load_plan(path)
    assert str(e.value).startswith(f"{path}: field {field}")


def test_a_plan_that_is_not_json_or_missing_is_an_input_error(tmp_path, capsys):
    (tmp_path / "plan.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(HarnessError, match=r"plan.json:1: not valid JSON"):
        load_plan(tmp_path / "plan.json")
    assert main(["run", "--suite", "non-reasoning", "--model", "32b", "--benchmarks", "mmlu_pro", "--base-url", "http://127.0.0.1:9/v1",
                 "--plan", str(tmp_path / "missing.json"), "--out", str(tmp_path / "run")]) == 2
    assert "missing.json: plan file not found" in capsys.readouterr().err


def test_a_small_benchmark_runs_whole_and_the_plan_says_why(tmp_path):
    from exaone_eval.gate_plan import plan_entry

    units = {(str(i), s): (float((i + s) % 2), 100.0, 400) for i in range(30) for s in range(4)}
    entry = plan_entry("aime_2025", units, 3.0, 0.05, 0.95, 0.25, 0)
    assert entry["planned"] is False and entry["reason"].startswith("30 items: too few to plan for")


def test_the_allocation_follows_the_paired_variance_and_never_drops_a_stratum():
    """k = 8: items solved by some of their samples carry the paired variance and get most draws
    per unit; always and never solved items get few, but some; cheaper items are drawn more."""
    rng = np.random.default_rng(0)
    p = np.concatenate([np.zeros(300), np.ones(300), rng.uniform(0.2, 0.8, 300)])
    scores = (rng.random((900, 8)) < p[:, None]).astype(float)
    costs = np.full((900, 8), 100.0)
    entry = design_benchmark([str(i) for i in range(900)], scores, costs, tolerance=2.0, max_share=0.5)
    assert entry["planned"]
    weight_of = {d[0]: d[2] for d in entry["draws"]}
    mid = [weight_of[str(i)] for i in range(600, 900) if str(i) in weight_of and 0 < scores[i].mean() < 1]
    never = [weight_of[str(i)] for i in range(300) if str(i) in weight_of]
    assert never and mid and np.mean(mid) < np.mean(never)  # weight = 1 / (U pi): mid items drawn more often
    strata = {s["stratum"]: s for s in entry["design"]["strata"]}
    assert strata["never solved"]["rms_difference"] > 0  # little information, not none
    assert strata["accuracy 25-50%"]["rms_difference"] > strata["always solved"]["rms_difference"]
    # Several samples of one item are drawn (the k the plan spends on it): the k logic on k > 1.
    per_item = {}
    for d in entry["draws"]:
        per_item.setdefault(d[0], set()).add(d[1])
    assert max(len(s) for s in per_item.values()) > 1 and all(0 <= d[1] < 8 for d in entry["draws"])
    cheap = costs.copy()
    cheap[600:] = 25.0  # the same items, four times cheaper: drawn about twice as often (1 / sqrt(cost))
    cheaper = design_benchmark([str(i) for i in range(900)], scores, cheap, tolerance=2.0, max_share=0.5)
    share = lambda e: np.mean([int(d[0]) >= 600 for d in e["draws"]])  # noqa: E731
    assert share(cheaper) > share(entry)


def test_the_weighted_draws_estimate_the_full_difference_without_bias():
    rng = np.random.default_rng(1)
    base = (rng.random((2000, 1)) < 0.5).astype(float)
    cand = base.copy()
    cand[rng.choice(np.nonzero(base[:, 0])[0], 60, replace=False)] = 0  # a 3-point drop
    entry = design_benchmark([str(i) for i in range(2000)], base, np.full((2000, 1), 50.0), tolerance=1.0, max_share=1.0)
    z = [d[2] * (cand[int(d[0]), 0] - d[3]) for d in entry["draws"]]
    assert np.mean(z) == pytest.approx(-0.03, abs=0.01)


def test_stopping_at_any_look_keeps_false_alarms_below_alpha():
    """At the boundary (true difference exactly -tolerance) the regression test must fire at most
    alpha of the time, over every look of a long sequence."""
    rng = np.random.default_rng(2)
    fired = 0
    for _ in range(300):
        d = rng.choice([-1.0, 0.0, 1.0], size=3000, p=[0.15, 0.75, 0.10])  # mean -0.05
        d = d - d.mean() - 0.01  # the draws' own mean exactly at -tolerance
        fired += rejects(d, 1.1, -0.01, -1, 0.05) is not None
    assert fired / 300 <= 0.05


def test_the_stopping_rule_decides_clear_cases_early():
    assert decide([0.0] * 2000, 1.0, 0.01, 0.05).verdict == "within tolerance"
    dropped = -(np.random.default_rng(3).random(2000) < 0.06).astype(float)
    d = decide(dropped, 1.0, 0.01, 0.05)
    assert d.verdict == "regression" and d.draws < 1000
    assert decide([-0.01] * 50, 1.0, 0.01, 0.05).verdict == "undecided"  # exactly at the tolerance: no claim
