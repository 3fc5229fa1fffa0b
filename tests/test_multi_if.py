"""Multi-IF (English) and the conversation mechanism it runs on: turn chaining, scoring as
facebookresearch/Multi-IF's metrics.py, resume mid-conversation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exaone_eval.benchmarks import multi_if
from exaone_eval.cli import main
from exaone_eval.types import Episode

NO_COMMA = "punctuation:no_comma"
LOWER = "change_case:english_lowercase"
WORDS = "length_constraints:number_words"


def _row(key: int, turns: list[tuple[str, list[str], list[dict]] | None], language: str = "English") -> dict:
    """A row as the Hub's CSV gives it: prompts, id lists and kwargs are JSON text."""
    row = {"key": str(key), "language": language}
    for k in (1, 2, 3):
        turn = turns[k - 1] if k <= len(turns) else None
        if turn is None:
            row.update({f"turn_{k}_prompt": "None", f"turn_{k}_instruction_id_list": "[]", f"turn_{k}_kwargs": "[]"})
            continue
        text, ids, kwargs = turn
        row[f"turn_{k}_prompt"] = json.dumps({"role": "user", "content": text})
        row[f"turn_{k}_instruction_id_list"] = json.dumps(ids)
        row[f"turn_{k}_kwargs"] = json.dumps([json.dumps(k_) for k_ in kwargs])
    return row


ROWS = [
    _row(1, [("Describe a cat. Do not use commas.", [NO_COMMA], [{}]),
             ("Now in lowercase only.", [LOWER], [{}]),
             ("Now in fewer than 20 words.", [WORDS], [{"num_words": 20, "relation": "less than"}])]),
    _row(2, [("Name a colour. No commas.", [NO_COMMA], [{}]),
             ("Again in lowercase.", [LOWER], [{}])]),
    _row(3, [("Hola.", [NO_COMMA], [{}])], language="Spanish"),
]


def _episode(item, answers: list[str]) -> Episode:
    return Episode(messages=(), result={"answers": answers}, response=answers[-1])


def test_only_english_rows_are_kept():
    assert [multi_if.keep_row(r) for r in ROWS] == [True, True, False]


def test_a_row_becomes_a_conversation_of_its_non_empty_turns():
    item = multi_if.to_item(ROWS[1])
    assert item.id == "2"
    assert [t["turn"] for t in item.reference] == [1, 2]
    assert item.messages == ({"role": "user", "content": "Name a colour. No commas."},)
    assert item.reference[0]["kwargs"] == [{}]


def test_rows_with_parsed_json_values_read_the_same_as_csv_text():
    parsed = {key: (json.loads(v) if key.endswith(("_list", "_kwargs")) else v) for key, v in ROWS[0].items()}
    assert multi_if.to_item(parsed).reference == multi_if.to_item(ROWS[0]).reference


def test_a_turn_with_mismatched_kwargs_is_refused():
    bad = dict(ROWS[0], turn_1_kwargs=json.dumps([]))
    with pytest.raises(ValueError, match="1 instructions but 0 kwargs"):
        multi_if.to_item(bad)


def test_every_turn_is_checked_against_its_own_instructions():
    item = multi_if.to_item(ROWS[0])
    # turn 2 asks for lowercase only (a comma is allowed there); turn 3 for fewer than 20 words
    score = multi_if.score(item, _episode(item, ["A cat is soft and calm", "a cat, purring", "A Cat"]))
    assert [score.detail["turns"][k]["strict"] for k in "123"] == [[True], [True], [True]]
    score = multi_if.score(item, _episode(item, ["A cat, soft", "A cat", " ".join(["word"] * 25)]))
    assert [score.detail["turns"][k]["strict"] for k in "123"] == [[False], [False], [False]]
    assert score.extracted == [False, False, False]


def test_lowercase_turn_fails_on_a_capital_letter():
    item = multi_if.to_item(ROWS[1])
    score = multi_if.score(item, _episode(item, ["Red", "Red again"]))
    assert score.detail["turns"]["2"] == {"strict": [False], "loose": [False]}


def test_loose_accepts_an_answer_whose_first_line_breaks_the_rule():
    item = multi_if.to_item(ROWS[1])
    score = multi_if.score(item, _episode(item, ["Sure, here it is:\nRed", "red"]))
    assert score.detail["turns"]["1"] == {"strict": [False], "loose": [True]}


def test_an_empty_answer_follows_nothing():
    item = multi_if.to_item(ROWS[1])
    score = multi_if.score(item, _episode(item, ["", ""]))
    assert score.value == 0.0
    assert score.detail["turns"]["1"] == {"strict": [False], "loose": [False]}


def test_metrics_are_the_four_accuracies_per_turn_and_their_mean_over_turns():
    a, b = multi_if.to_item(ROWS[0]), multi_if.to_item(ROWS[1])
    records = [
        (a, multi_if.score(a, _episode(a, ["no commas here", "the cat sleeps on the warm mat all day long", "one two three"]))),
        (b, multi_if.score(b, _episode(b, ["Red, green", "the colour red is warm and bright in the evening sun"]))),
    ]
    m = multi_if.metrics(records)
    assert m["turn_1_prompt_level_strict_acc"] == 50.0 and m["turn_1"] == 50.0
    assert m["turn_2"] == 100.0
    assert m["turn_3"] == 100.0  # only item 1 has a third turn
    assert m["overall"] == pytest.approx((50.0 + 100.0 + 100.0) / 3)


def _conversation_server(fake_server, **kwargs):
    """Answers each turn with a reasoning part and an answer that names the turn number."""

    def respond(body: dict) -> dict:
        turn = sum(1 for m in body["messages"] if m["role"] == "user")
        return {"content": f"<think>thinking about turn {turn}</think>answer to turn {turn}", "completion_tokens": 5}

    return fake_server(respond, **kwargs)


def _run(tmp_path: Path, url: str, *extra: str) -> int:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    import pandas as pd

    pd.DataFrame(ROWS).to_csv(data / "multi_if.csv", index=False)
    return main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "multi_if", "--base-url", url,
                 "--data-dir", str(data), "--out", str(tmp_path / "run"), "--no-progress", "--max-retries", "0", *extra])


def test_each_turn_sends_the_earlier_answers_without_their_reasoning(tmp_path, fake_server):
    server = _conversation_server(fake_server)
    assert _run(tmp_path, server.url) == 0
    third = [r for r in server.requests if len(r["messages"]) == 5]
    assert len(third) == 1
    history = third[0]["messages"]
    assert history[1] == {"role": "assistant", "content": "answer to turn 1"}
    assert history[3] == {"role": "assistant", "content": "answer to turn 2"}
    assert all("thinking" not in m["content"] for m in history)
    assert len(server.requests) == 5  # 3 turns + 2 turns; the Spanish row is not run


def test_a_conversation_sample_row_keeps_the_whole_transcript(tmp_path, fake_server):
    server = _conversation_server(fake_server)
    _run(tmp_path, server.url)
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples" / "multi_if.jsonl").read_text().splitlines()]
    first = next(r for r in rows if r["id"] == "1")
    assert [m["role"] for m in first["transcript"]] == ["user", "assistant"] * 3
    assert [t["reasoning"] for t in first["turns"]] == [f"thinking about turn {k}" for k in (1, 2, 3)]
    assert len({t["seed"] for t in first["turns"]}) == 3
    assert first["response"] == "answer to turn 3"
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())["multi_if"]
    assert scores["n_items"] == 2 and "turn_1" in scores["metrics"] and scores["score"] == scores["metrics"]["overall"]


def test_a_run_killed_mid_conversation_resumes_without_regenerating_finished_turns(tmp_path, fake_server):
    dying = _conversation_server(fake_server, die_after=2)
    assert _run(tmp_path, dying.url, "--concurrency", "1") == 2
    healthy = _conversation_server(fake_server)
    assert _run(tmp_path, healthy.url) == 0
    assert len(healthy.requests) == 5 - 2  # the two finished turns replay from the store
    resumed = json.loads((tmp_path / "run" / "samples" / "multi_if.jsonl").read_text().splitlines()[0])
    assert sum(t["replayed"] for t in resumed["turns"]) >= 1


def test_a_keyword_that_is_not_a_valid_regex_does_not_end_the_run(tmp_path, fake_server):
    # Multi-IF's keywords:existence raises on it (its whole evaluation stops); ours records the error.
    bad = _row(9, [("Mention '('.", ["keywords:existence", "punctuation:no_comma"], [{"keywords": ["("]}, {}])])
    data = tmp_path / "data"
    data.mkdir()
    (data / "multi_if.jsonl").write_text(json.dumps(bad) + "\n")
    server = _conversation_server(fake_server)
    assert main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "multi_if", "--base-url", server.url,
                 "--data-dir", str(data), "--out", str(tmp_path / "run"), "--no-progress", "--max-retries", "0"]) == 0
    row = json.loads((tmp_path / "run" / "samples" / "multi_if.jsonl").read_text().splitlines()[0])
    turn = row["detail"]["turns"]["1"]
    assert turn["strict"] == [False, True] and "keywords:existence: error" in turn["errors"][0]


def test_a_rerun_of_a_finished_run_sends_nothing(tmp_path, fake_server):
    _run(tmp_path, _conversation_server(fake_server).url)
    again = _conversation_server(fake_server)
    assert _run(tmp_path, again.url) == 0
    assert again.requests == []


def test_the_hub_loader_asks_for_the_pinned_revision_and_keeps_english(tmp_path, monkeypatch):
    import datasets

    from exaone_eval.config import ModelPreset, RunConfig
    from exaone_eval.items import load_items

    asked = {}

    def fake_load(path, name=None, split=None, revision=None, **kwargs):
        asked.update(path=path, split=split, revision=revision)
        return [dict(r) for r in ROWS]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    cfg = RunConfig(suite="reasoning", mode="reasoning", model=ModelPreset("m", "m"), backend="openai",
                    benchmarks=["multi_if"], out=tmp_path)
    items, _ = load_items(cfg, "multi_if")
    assert asked == {"path": "facebook/Multi-IF", "split": "train", "revision": "0ab97ce0b45c7f57772e8ba2ac1616f4b00bd3aa"}
    assert [i.id for i in items] == ["1", "2"]
