"""`exaone-eval gate` on synthetic paired runs: regressions fail, noise and improvements pass, bad input is exit 2."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from exaone_eval.gate import GateConfig, compare, load_config, run_gate
from exaone_eval.provenance import scorer_fingerprint
from exaone_eval.types import HarnessError


def item_probs(n: int, seed: int = 0) -> np.ndarray:
    """Per-item solve rates spread over 0.05-0.95, as on a real benchmark."""
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=n)


def make_run(root: Path, name: str, probs: np.ndarray, k: int, seed: int, bench: str = "mmlu_pro",
             mode: str = "reasoning", version: int = 1, budget: int | None = None, first_id: int = 0,
             data: str = "rows-v1") -> Path:
    """A run directory whose samples/<bench>.jsonl draws k Bernoulli(p_i) scores per item."""
    d = root / name
    (d / "samples").mkdir(parents=True, exist_ok=True)
    config = {"model": {"name": name, "hf_id": name}, "mode": mode, "suite": "test", "benchmarks": [bench], "versions": {bench: version},
              "scorer_fingerprint": {bench: {**scorer_fingerprint([bench])[bench], "task_version": version}},
              "data_fingerprints": {bench: data}}
    (d / "run.json").write_text(json.dumps(config), encoding="utf-8")
    rng = np.random.default_rng(seed)
    with open(d / "samples" / f"{bench}.jsonl", "a", encoding="utf-8") as f:
        for i, p in enumerate(probs):
            for s in range(k):
                rec = {"id": str(first_id + i), "sample": s, "seed": seed, "response": "", "extracted": None,
                       "score": float(rng.random() < p)}
                if budget is not None:
                    rec["budget"] = budget
                f.write(json.dumps(rec) + "\n")
    return d


def gate_of(tmp_path: Path, base: Path, cand: Path, **kwargs) -> tuple[int, str]:
    out = tmp_path / "gate.md"
    code = run_gate(base, cand, kwargs.get("config"), out)
    return code, out.read_text(encoding="utf-8")


def test_a_clear_regression_fails_the_gate(tmp_path):
    p = item_probs(300)
    base = make_run(tmp_path, "base", p, k=2, seed=1)
    cand = make_run(tmp_path, "cand", np.clip(p - 0.15, 0, 1), k=2, seed=2)
    code, text = gate_of(tmp_path, base, cand)
    assert code == 1
    assert text.startswith("## exaone-eval gate: FAIL: mmlu_pro regressed")
    assert "| mmlu_pro | 300 | 2/2 |" in text and "**regression**" in text


def test_sampling_noise_alone_passes(tmp_path):
    p = item_probs(300)
    base = make_run(tmp_path, "base", p, k=2, seed=1)
    cand = make_run(tmp_path, "cand", p, k=2, seed=2)  # same model, other seeds
    code, text = gate_of(tmp_path, base, cand)
    assert code == 0
    assert "PASS: no regression" in text and "no significant change" in text


def test_a_large_improvement_passes(tmp_path):
    p = item_probs(300)
    base = make_run(tmp_path, "base", p, k=2, seed=1)
    cand = make_run(tmp_path, "cand", np.clip(p + 0.2, 0, 1), k=2, seed=2)
    code, text = gate_of(tmp_path, base, cand)
    assert code == 0 and "| improved |" in text


def test_a_significant_drop_within_tolerance_passes(tmp_path):
    p = item_probs(2000)
    base = make_run(tmp_path, "base", p, k=4, seed=1)
    cand = make_run(tmp_path, "cand", np.clip(p - 0.03, 0, 1), k=4, seed=2)
    config = tmp_path / "gate.toml"
    config.write_text("default_tolerance = 1.0\n[tolerance]\nmmlu_pro = 5.0\n", encoding="utf-8")
    code, text = gate_of(tmp_path, base, cand, config=config)
    assert code == 0 and "drop within tolerance" in text and "| 5.0 |" in text


def test_the_summary_is_written_into_the_candidate_by_default(tmp_path, capsys):
    p = item_probs(50)
    base = make_run(tmp_path, "base", p, k=1, seed=1)
    cand = make_run(tmp_path, "cand", p, k=1, seed=1)
    assert run_gate(base, cand, None, None) == 0
    assert (cand / "gate.md").read_text(encoding="utf-8") in capsys.readouterr().out


def test_only_common_items_are_compared(tmp_path):
    p = item_probs(100)
    base = make_run(tmp_path, "base", p, k=1, seed=1)
    cand = make_run(tmp_path, "cand", p[:60], k=1, seed=1)
    _, text = gate_of(tmp_path, base, cand)
    assert "| mmlu_pro | 60 | 1/1 |" in text
    assert "- note: mmlu_pro: 40 item(s) only in the baseline; compared on the items both runs have" in text


def test_the_detectable_drop_shrinks_with_more_items_and_is_reported(tmp_path):
    cfg = GateConfig()

    def detectable(n: int, k: int) -> float:
        rng = np.random.default_rng(n * 10 + k)
        p = rng.uniform(0.05, 0.95, size=n)
        base = {str(i): list((rng.random(k) < p[i]).astype(float)) for i in range(n)}
        cand = {str(i): list((rng.random(k) < p[i]).astype(float)) for i in range(n)}
        return compare("mmlu_pro", base, cand, cfg).detectable

    small, large = detectable(100, 4), detectable(1600, 4)
    assert 0 < large < small
    assert small / large == pytest.approx(4.0, rel=0.25)  # 1/sqrt(n): 16x the items, a quarter of the drop
    assert detectable(400, 16) < detectable(400, 1)  # more samples per item, less noise
    # sd of the paired difference of two k-sample means of Bernoulli(p): sqrt(2 E[p(1-p)] / k),
    # with E[p(1-p)] = 0.5 - (0.25 + 0.9^2 / 12) for p uniform on 0.05-0.95
    expected = 2.80 * 100 * math.sqrt(2 * (0.5 - 0.25 - 0.9**2 / 12) / 4) / math.sqrt(100)
    assert small == pytest.approx(expected, rel=0.15)


def test_identical_greedy_runs_do_not_claim_a_perfect_gate(tmp_path):
    p = item_probs(50)
    base = make_run(tmp_path, "base", p, k=1, seed=1)
    cand = make_run(tmp_path, "cand", p, k=1, seed=1)  # the same scores: observed sd 0
    _, text = gate_of(tmp_path, base, cand)
    row = next(l for l in text.splitlines() if l.startswith("| mmlu_pro"))
    assert row.split("|")[9].strip() == "15.7"  # 100 * 2.80^2 / 50 flipped samples


def test_a_blind_benchmark_is_called_out(tmp_path):
    p = item_probs(30)  # an AIME-sized benchmark at k = 1
    base = make_run(tmp_path, "base", p, k=1, seed=1, bench="aime_2025")
    cand = make_run(tmp_path, "cand", p, k=1, seed=2, bench="aime_2025")
    _, text = gate_of(tmp_path, base, cand)
    assert "Blind spots" in text and "aime_2025 (sees ≥" in text


def test_budget_samples_are_gated_per_budget(tmp_path):
    p = item_probs(200)
    base = make_run(tmp_path, "base", p, k=2, seed=1, bench="aime_2025", budget=1024)
    make_run(tmp_path, "base", p, k=2, seed=3, bench="aime_2025", budget=4096)
    cand = make_run(tmp_path, "cand", p, k=2, seed=2, bench="aime_2025", budget=1024)
    make_run(tmp_path, "cand", np.clip(p - 0.3, 0, 1), k=2, seed=4, bench="aime_2025", budget=4096)
    code, text = gate_of(tmp_path, base, cand)
    assert code == 1 and "FAIL: aime_2025@4096 regressed" in text
    assert "| aime_2025@1024 | 200 |" in text


def test_mismatched_modes_are_an_input_error(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1, mode="reasoning")
    cand = make_run(tmp_path, "cand", p, k=1, seed=1, mode="non-reasoning")
    with pytest.raises(HarnessError, match="mode differs"):
        run_gate(base, cand, None, tmp_path / "g.md")


def test_mismatched_benchmark_versions_are_an_input_error(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1, version=1)
    cand = make_run(tmp_path, "cand", p, k=1, seed=1, version=2)
    with pytest.raises(HarnessError, match="task version 1 in the baseline but 2"):
        run_gate(base, cand, None, tmp_path / "g.md")


def test_a_run_without_recorded_versions_is_an_input_error(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1)
    cand = make_run(tmp_path, "cand", p, k=1, seed=1)
    config = json.loads((cand / "run.json").read_text())
    del config["versions"]
    (cand / "run.json").write_text(json.dumps(config))
    with pytest.raises(HarnessError, match="'versions' has no entry for mmlu_pro"):
        run_gate(base, cand, None, tmp_path / "g.md")


def test_no_common_benchmark_is_an_input_error(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1, bench="mmlu_pro")
    cand = make_run(tmp_path, "cand", p, k=1, seed=1, bench="ifeval")
    with pytest.raises(HarnessError, match="no benchmark has samples in both"):
        run_gate(base, cand, None, tmp_path / "g.md")


def test_no_common_items_is_an_input_error(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1)
    cand = make_run(tmp_path, "cand", p, k=1, seed=1, first_id=1000)
    with pytest.raises(HarnessError, match="no item ids in common"):
        run_gate(base, cand, None, tmp_path / "g.md")


def test_a_missing_run_directory_is_an_input_error(tmp_path):
    base = make_run(tmp_path, "base", item_probs(5), k=1, seed=1)
    with pytest.raises(HarnessError, match="not a run directory"):
        run_gate(base, tmp_path / "missing", None, None)


def test_a_bad_sample_record_names_the_file_and_line(tmp_path):
    p = item_probs(5)
    base = make_run(tmp_path, "base", p, k=1, seed=1)
    cand = make_run(tmp_path, "cand", p, k=1, seed=1)
    with open(cand / "samples" / "mmlu_pro.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"id": "0", "sample": 1, "score": 7}) + "\n")
    with pytest.raises(HarnessError, match=r"mmlu_pro.jsonl:6: field 'score' is 7"):
        run_gate(base, cand, None, tmp_path / "g.md")


def test_a_config_naming_an_unknown_benchmark_is_an_input_error(tmp_path):
    config = tmp_path / "gate.toml"
    config.write_text("[tolerance]\nmmlu_proo = 1.0\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=r"unknown benchmarks \['mmlu_proo'\]"):
        load_config(config)


def test_the_shipped_config_has_a_tolerance_for_every_benchmark():
    from exaone_eval.registry import REGISTRY

    cfg = load_config(None)
    assert set(cfg.tolerance) == set(REGISTRY)
    assert cfg.level == 0.95 and all(0 < t <= 5 for t in cfg.tolerance.values())


def test_the_cli_gates_two_runs_the_runner_wrote_with_exit_codes_0_1_2(tmp_path, capsys):
    """End to end: `exaone-eval run` against a scripted server twice, then `exaone-eval gate`."""
    from exaone_eval.cli import main
    from exaone_eval.fake_server import FakeOpenAIServer

    rows = [{"problem_idx": i, "problem": f"Problem {i}: what is {i} squared?", "answer": i * i, "problem_type": None} for i in range(1, 41)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "aime_2025.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    def solver(wrong_below: int):
        def respond(body: dict) -> dict:
            i = int(body["messages"][-1]["content"].split("Problem ")[1].split(":")[0])
            answer = -1 if i <= wrong_below else i * i  # the candidate forgets the first problems
            return {"content": f"<think>...</think>\\boxed{{{answer}}}", "completion_tokens": 5}
        return respond

    for name, wrong in (("base", 0), ("cand", 30)):
        with FakeOpenAIServer(solver(wrong)) as server:
            code = main(["run", "--suite", "reasoning", "--model", "32b", "--backend", "openai", "--base-url", server.url,
                         "--benchmarks", "aime_2025", "--data-dir", str(tmp_path / "data"), "--k", "2",
                         "--out", str(tmp_path / name), "--no-progress"])
            assert code == 0
    assert main(["gate", "--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / "base"), "--out", str(tmp_path / "self.md")]) == 0
    assert main(["gate", "--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / "cand")]) == 1
    assert "| aime_2025 | 40 | 2/2 | 100.0 | 25.0 | -75.0 |" in (tmp_path / "cand" / "gate.md").read_text(encoding="utf-8")
    assert main(["gate", "--baseline", str(tmp_path / "base"), "--candidate", str(tmp_path / "nowhere")]) == 2


def _edit_run_json(run: Path, edit) -> None:
    config = json.loads((run / "run.json").read_text())
    edit(config)
    (run / "run.json").write_text(json.dumps(config))


def _with_other_lm_eval(config: dict) -> None:
    config["scorer_fingerprint"]["ifeval"]["lm-eval"] = "0.0.1"


def test_runs_scored_by_another_package_version_are_refused_naming_what_changed(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1, bench="ifeval")
    cand = make_run(tmp_path, "cand", p, k=1, seed=1, bench="ifeval")
    _edit_run_json(cand, _with_other_lm_eval)
    installed = scorer_fingerprint(["ifeval"])["ifeval"]["lm-eval"]
    with pytest.raises(HarnessError, match=rf"ifeval: lm-eval {re.escape(str(installed))} in the baseline, 0.0.1 in the candidate.*--allow-scorer-change"):
        run_gate(base, cand, None, tmp_path / "g.md")


def test_allow_scorer_change_compares_anyway_and_says_so_in_the_summary(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1, bench="ifeval")
    cand = make_run(tmp_path, "cand", p, k=1, seed=1, bench="ifeval")
    _edit_run_json(cand, _with_other_lm_eval)
    code = run_gate(base, cand, None, tmp_path / "g.md", allow_scorer_change=True)
    text = (tmp_path / "g.md").read_text(encoding="utf-8")
    assert code == 0 and "| ifeval | 20 |" in text
    assert "- **warning**: scorer changed, compared anyway (--allow-scorer-change): ifeval: lm-eval" in text


def test_a_run_without_a_scorer_fingerprint_is_refused_unless_allowed(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1)
    cand = make_run(tmp_path, "cand", p, k=1, seed=1)
    _edit_run_json(base, lambda config: config.pop("scorer_fingerprint"))
    with pytest.raises(HarnessError, match=r"base/run.json has no scorer_fingerprint"):
        run_gate(base, cand, None, tmp_path / "g.md")
    assert run_gate(base, cand, None, tmp_path / "g.md", allow_scorer_change=True) == 0
    assert "scorer is unknown" in (tmp_path / "g.md").read_text(encoding="utf-8")


def test_a_scorer_change_on_a_benchmark_that_is_not_gated_does_not_matter(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1)
    cand = make_run(tmp_path, "cand", p, k=1, seed=1)
    _edit_run_json(cand, lambda config: config["scorer_fingerprint"].update(aime_2025={"task_version": 1, "math-verify": "0.0.1"}))
    assert run_gate(base, cand, None, tmp_path / "g.md") == 0
    assert "warning" not in (tmp_path / "g.md").read_text(encoding="utf-8")


def test_the_cli_refuses_a_scorer_change_with_exit_2_unless_allowed(tmp_path, capsys):
    from exaone_eval.cli import main

    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1, bench="ifeval")
    cand = make_run(tmp_path, "cand", p, k=1, seed=1, bench="ifeval")
    _edit_run_json(cand, _with_other_lm_eval)
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand)]) == 2
    assert "lm-eval" in capsys.readouterr().err
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--allow-scorer-change"]) == 0


def test_runs_made_on_different_data_are_refused_naming_the_benchmark_and_both_fingerprints(tmp_path, capsys):
    from exaone_eval.cli import main

    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1, data="aaaa1111")
    cand = make_run(tmp_path, "cand", p, k=1, seed=1, data="bbbb2222")  # same ids, other questions
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand)]) == 2
    err = capsys.readouterr().err
    assert "mmlu_pro: data fingerprint aaaa1111 in" in err and "bbbb2222 in" in err and "--allow-data-change" in err


def test_allow_data_change_compares_anyway_and_says_so_in_the_summary(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1, data="aaaa1111")
    cand = make_run(tmp_path, "cand", p, k=1, seed=1, data="bbbb2222")
    assert run_gate(base, cand, None, tmp_path / "g.md", allow_data_change=True) == 0
    text = (tmp_path / "g.md").read_text(encoding="utf-8")
    assert "- **warning**: data changed, compared anyway (--allow-data-change): mmlu_pro: data fingerprint aaaa1111" in text


def test_a_run_that_recorded_no_data_fingerprint_is_refused_unless_allowed(tmp_path):
    p = item_probs(20)
    base = make_run(tmp_path, "base", p, k=1, seed=1)
    cand = make_run(tmp_path, "cand", p, k=1, seed=1)
    _edit_run_json(base, lambda config: config.pop("data_fingerprints"))
    with pytest.raises(HarnessError, match=r"mmlu_pro: data fingerprint not recorded in .*base/run.json, rows-v1 in"):
        run_gate(base, cand, None, tmp_path / "g.md")
    assert run_gate(base, cand, None, tmp_path / "g.md", allow_data_change=True) == 0


@pytest.mark.parametrize("path", ["configs/github-actions-gate.yml", "docs/gate.md"])
def test_the_example_workflow_commands_parse_with_the_cli(path):
    """Every `exaone-eval ...` line of the example workflow (and its copy in the docs) is a valid command."""
    import shlex

    from exaone_eval.cli import build_parser

    text = (Path(__file__).resolve().parents[1] / path).read_text(encoding="utf-8").replace("\\\n", " ")
    commands = [line.strip() for line in text.splitlines()
                if line.strip().startswith("exaone-eval ") and "[--" not in line]  # not the usage synopsis
    assert {c.split()[1] for c in commands} >= {"run", "gate"}
    for command in commands:
        argv = shlex.split(command.split("||")[0].replace("$", "X"))[1:]
        build_parser().parse_args(argv)  # SystemExit (a failed test) on an unknown flag
