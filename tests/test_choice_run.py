"""`exaone-eval run` on a multiple-choice benchmark against a scripted server that reads the options
it was shown: GPQA's per-sample orders reach the model, and the verdicts follow them."""

from __future__ import annotations

import json
import re

from conftest import write_jsonl

from exaone_eval.cli import main

ROWS = [
    {"Record ID": f"rec{i}", "Question": f"What is {i}+2?", "Correct Answer": str(i + 2),
     "Incorrect Answer 1": str(i + 10), "Incorrect Answer 2": str(i + 20), "Incorrect Answer 3": str(i + 30),
     "High-level domain": "Physics"}
    for i in range(3)
]


def solver(body: dict) -> dict:
    """Finds the option equal to the sum in the question and answers with its letter."""
    prompt = body["messages"][-1]["content"]
    a, b = map(int, re.search(r"What is (\d+)\+(\d+)\?", prompt).groups())
    letter = re.search(rf"^([A-D])\) {a + b}$", prompt, re.M).group(1)
    return {"content": f"<think>{a}+{b}={a + b}</think>Answer: {letter}", "completion_tokens": 5}


def test_a_gpqa_run_shows_each_sample_its_own_order_and_scores_it(tmp_path, fake_server):
    server = fake_server(solver)
    write_jsonl(tmp_path / "data" / "gpqa_diamond.jsonl", ROWS)
    code = main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "gpqa_diamond", "--base-url",
                 server.url, "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 0
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())["gpqa_diamond"]
    assert scores["score"] == 100.0 and scores["k"] == 4 and scores["n_items"] == 3
    prompts = {m["content"] for r in server.requests for m in r["messages"]}
    assert len(prompts) > 3  # the same question was shown in more than one order
    lines = (tmp_path / "run" / "samples" / "gpqa_diamond.jsonl").read_text().splitlines()
    samples = [json.loads(line) for line in lines]
    assert len(samples) == 12 and {s["extracted"] for s in samples} <= set("ABCD")
    assert all(sorted(s["item_meta"]["permutation"]) == [0, 1, 2, 3] for s in samples)  # the log shows the order
