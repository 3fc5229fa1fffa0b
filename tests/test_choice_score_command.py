"""`exaone-eval score` on hand-written responses for each multiple-choice benchmark: rows in the
Hub schema in a --data-dir, responses with <think> parts, known verdicts in samples/ and scores.json."""

from __future__ import annotations

import json

import pytest
from conftest import write_jsonl
from helpers import GPQA_ROW, KMMLU_ROW, MMMLU_ROW, PRO_ROW, REDUX_ROW

from exaone_eval.registry import get_module
from exaone_eval.cli import main


# benchmark -> (row, a right answer, a wrong answer, an answer with no letter)
CASES = {
    "mmlu_redux": (REDUX_ROW, "The answer is (B).", "The answer is (C).", "four"),
    "mmlu_pro": (PRO_ROW, "The answer is (B).", "Answer: A", "four"),
    "kmmlu_pro": (KMMLU_ROW, "정답: B", "정답은 (C)입니다", "사"),
    "kmmlu_redux": (KMMLU_ROW, "정답: B", "정답은 (C)입니다", "사"),
    "mmmlu_es": (MMMLU_ROW, "Respuesta: B", "Respuesta: C", "cuatro"),
}


def _ids(name: str, rows: list[dict]) -> list[str]:
    return [get_module(name).to_item(r).id for r in rows]


def _score(tmp_path, name, rows, responses) -> tuple[dict, list[dict]]:
    write_jsonl(tmp_path / "data" / f"{name}.jsonl", rows)
    write_jsonl(tmp_path / "responses.jsonl", responses)
    out = tmp_path / "out"
    code = main(["score", "--benchmark", name, "--responses", str(tmp_path / "responses.jsonl"),
                 "--data-dir", str(tmp_path / "data"), "--out", str(out)])
    assert code == 0
    scores = json.loads((out / "scores.json").read_text())[name]
    samples = [json.loads(line) for line in (out / "samples" / f"{name}.jsonl").read_text().splitlines()]
    return scores, samples


def _variant(row: dict, i: int) -> dict:
    """`row` with its own question (and its own id where the dataset has ids)."""
    out = dict(row)
    key = "question" if "question" in row else "Question"
    out[key] = f"{row[key]} (v{i})"
    for id_field in ("question_id", "Unnamed: 0"):
        if id_field in row:
            out[id_field] = i
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_score_reproduces_the_verdicts_of_hand_written_responses(tmp_path, name):
    row, right, wrong, blank = CASES[name]
    rows = [_variant(row, i) for i in range(3)]
    ids = _ids(name, rows)
    responses = [
        {"id": ids[0], "response": f"<think>Let me think. {wrong}</think>{right}"},
        {"id": ids[1], "response": f"<think>{right}</think>{wrong}"},
        {"id": ids[2], "response": f"<think>{right}</think>{blank}"},  # the answer only in the reasoning
    ]
    scores, samples = _score(tmp_path, name, rows, responses)
    by_id = {s["id"]: s for s in samples}
    assert [by_id[i]["score"] for i in ids] == [1.0, 0.0, 0.0]
    assert by_id[ids[2]]["extracted"] is None and by_id[ids[1]]["extracted"] is not None
    assert scores["n_items"] == 3 and abs(scores["score"] - 100 / 3) < 1e-9
    assert scores["no_answer"] == 1 and abs(scores["metrics"]["no_answer_pct"] - 100 / 3) < 1e-9


def test_score_uses_each_gpqa_samples_own_option_order(tmp_path):
    bench = get_module("gpqa_diamond")
    item = bench.to_item(GPQA_ROW)
    letters = [bench.sample_view(item, s).reference for s in range(4)]
    assert len(set(letters)) > 1
    responses = [{"id": "rec1", "sample": s, "response": f"<think>hm</think>Answer: {letters[s]}"} for s in range(4)]
    scores, samples = _score(tmp_path, "gpqa_diamond", [GPQA_ROW], responses)
    assert [s["score"] for s in sorted(samples, key=lambda s: s["sample"])] == [1.0] * 4
    assert scores["score"] == 100.0 and scores["k"] == 4
    # The same letter for every sample is right only where the order put the answer there.
    fixed = [{"id": "rec1", "sample": s, "response": f"Answer: {letters[0]}"} for s in range(4)]
    scores, _ = _score(tmp_path / "fixed", "gpqa_diamond", [GPQA_ROW], fixed)
    assert scores["score"] == 100.0 * sum(x == letters[0] for x in letters) / 4
