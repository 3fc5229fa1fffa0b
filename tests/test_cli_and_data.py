"""The CLI contract, data loading (Hub code on Hub-schema rows, --data-dir), and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from conftest import AIME_ROWS, write_jsonl

from exaone_eval.registry import REGISTRY, get_spec
from exaone_eval.cli import build_parser, main
from exaone_eval.data import load_rows
from exaone_eval.types import HarnessError


def test_list_shows_every_benchmark_and_suite_and_never_imports_torch():
    code = "import sys; from exaone_eval.cli import main; main(['list']); assert 'torch' not in sys.modules and 'openai' not in sys.modules"
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert time.monotonic() - start < 5
    for name in REGISTRY:
        assert name in out
    for suite in ("reasoning", "non-reasoning", "budget", "demo"):
        assert suite in out
    assert "in-house" in out  # Ko-LongBench says it is unpublished


@pytest.mark.parametrize("argv,valid", [
    (["run", "--suite", "nope", "--model", "32b"], "valid suites: reasoning"),
    (["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime2025"], "valid names: mmlu_redux"),
    (["run", "--suite", "reasoning", "--model", "32b", "--backend", "tgi", "--base-url", "http://x"], "valid backends: openai"),
    (["score", "--benchmark", "nope", "--responses", "f.jsonl"], "valid names:"),
])
def test_unknown_names_are_answered_with_the_valid_ones(argv, valid, capsys, tmp_path):
    assert main(argv + (["--out", str(tmp_path / "o")] if argv[0] == "run" else [])) == 2
    assert valid in capsys.readouterr().err


def test_every_flag_of_every_command_has_help_text():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    assert {"list", "run", "score", "tables", "gate"} <= set(subparsers)
    for name, sub in subparsers.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_a_bad_flag_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--suite", "reasoning", "--model", "32b", "--k", "zero"])
    assert e.value.code == 2
    assert "--k: expected a whole number" in capsys.readouterr().err


def test_a_data_file_missing_a_field_names_file_row_and_field(tmp_path):
    rows = [dict(AIME_ROWS[0]), {"problem_idx": 2, "problem": "x"}]
    write_jsonl(tmp_path / "aime_2025.jsonl", rows)
    with pytest.raises(HarnessError, match=r"aime_2025\.jsonl: row 2: missing field 'answer'"):
        load_rows(get_spec("aime_2025"), tmp_path)


def test_a_data_file_with_broken_json_names_the_line(tmp_path):
    (tmp_path / "aime_2025.jsonl").write_text(json.dumps(AIME_ROWS[0]) + "\n{oops\n")
    with pytest.raises(HarnessError, match=r"aime_2025\.jsonl:2: not valid JSON"):
        load_rows(get_spec("aime_2025"), tmp_path)


def test_data_dir_wins_over_the_hub(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("the Hub was asked"))
    write_jsonl(tmp_path / "aime_2025.jsonl", AIME_ROWS)
    rows, fp = load_rows(get_spec("aime_2025"), tmp_path)
    assert rows == AIME_ROWS and len(fp) == 16


def test_hub_loading_asks_for_the_pinned_dataset_and_accepts_hub_schema_rows(monkeypatch):
    import datasets

    calls = []

    def fake_load(path, name=None, split=None, revision=None):
        calls.append((path, name, split, revision))
        # The Hub's Arrow schema: every kwargs struct carries all argument fields, None where unused.
        return [{"key": 1000, "prompt": "Write.", "instruction_id_list": ["punctuation:no_comma"],
                 "kwargs": [{"num_words": None, "relation": None, "end_phrase": None}]}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    spec = get_spec("ifeval")
    rows, _ = load_rows(spec, None)
    assert calls == [("google/IFEval", None, "train", spec.revision)]
    from exaone_eval.benchmarks import ifeval

    assert ifeval.to_item(rows[0]).meta["kwargs"] == [{}]


def test_an_unreachable_hub_says_how_to_run_offline(monkeypatch):
    import datasets

    def offline(*a, **k):
        raise ConnectionError("Couldn't reach 'google/IFEval' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(HarnessError, match="pass --data-dir DIR with ifeval.jsonl"):
        load_rows(get_spec("ifeval"), None)


def test_once_the_hub_is_unreachable_every_loader_fails_at_once_and_says_so(monkeypatch):
    import datasets

    calls = []

    def offline(*a, **k):
        calls.append(a)
        raise ConnectionError("Couldn't reach 'google/IFEval' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(HarnessError):
        load_rows(get_spec("ifeval"), None)
    from exaone_eval.benchmarks import livecodebench_v6

    with pytest.raises(HarnessError, match="livecodebench_v6: .*unreachable earlier in this run.*livecodebench_v6.jsonl"):
        livecodebench_v6.load_rows(get_spec("livecodebench_v6"), None)
    assert len(calls) == 1


def test_a_gated_dataset_without_access_says_exactly_that(monkeypatch):
    import datasets

    def gated(*a, **k):
        raise PermissionError("Dataset 'Idavidrein/gpqa' is a gated dataset on the Hub. You must be authenticated to access it.")

    monkeypatch.setattr(datasets, "load_dataset", gated)
    with pytest.raises(HarnessError, match="is gated and this machine has no access: accept its terms on the Hub and set HF_TOKEN"):
        load_rows(get_spec("gpqa_diamond"), None)


def test_a_suite_run_skips_unbuilt_benchmarks_visibly(tmp_path, fake_server):
    server = fake_server()
    write_jsonl(tmp_path / "d" / "aime_2025.jsonl", AIME_ROWS)
    code = main(["run", "--suite", "non-reasoning", "--model", "1.2b", "--benchmarks", "ko_longbench,aime_2025", "--base-url", server.url,
                 "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path / "r"), "--k", "1", "--no-progress"])
    assert code == 0
    scores = json.loads((tmp_path / "r" / "scores.json").read_text())
    assert scores["ko_longbench"] == {"skipped": "in-house data"}
    assert scores["aime_2025"]["n_items"] == 3


def test_a_run_with_an_unloadable_benchmark_still_prints_what_did_run(tmp_path, fake_server, capsys, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("offline")))
    server = fake_server()
    write_jsonl(tmp_path / "d" / "aime_2025.jsonl", AIME_ROWS)
    code = main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025,ifeval", "--base-url", server.url,
                 "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path / "r"), "--k", "1", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 2
    assert "aime_2025" in captured.out and "data unavailable" in captured.out
    assert "ifeval: cannot load google/IFEval" in captured.err


def test_once_the_hub_is_unreachable_later_benchmarks_fail_fast_without_asking_again(monkeypatch):
    import datasets

    calls = []

    def offline(*a, **k):
        calls.append(a[0])
        raise ConnectionError("Couldn't reach 'google/IFEval' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    for name in ("ifeval", "mmlu_pro"):
        with pytest.raises(HarnessError, match=f"pass --data-dir DIR with {name}.jsonl"):
            load_rows(get_spec(name), None)
    assert calls == ["google/IFEval"]
