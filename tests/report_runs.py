"""Run directories for the report tests, with sample records in the shapes the runner really writes
(runner.sample_record; copied from a demo run's BFCL / RULER samples and from LiveCodeBench runs on
the scripted server), so the report is tested on what it will meet."""

from __future__ import annotations

import json
from pathlib import Path

from exaone_eval.provenance import scorer_fingerprint
from exaone_eval.stats import summarize

HOSTILE = '</script><script>alert("pwned")</script><img src=x onerror="alert(2)">'


def record(item: str, score: float, answer: str, *, sample: int = 0, extracted=None, reasoning: str | None = None,
           closed: bool = True, detail: dict | None = None, meta: dict | None = None, **extra) -> dict:
    response = answer if reasoning is None else f"<think>{reasoning}</think>{answer}"
    return {"id": item, "sample": sample, "seed": 1000 + sample, "response": response, "extracted": extracted, "score": score,
            "reasoning": reasoning, "answer": answer, "reasoning_closed": closed, "finish_reason": "stop" if closed else "length",
            "prompt_tokens": 887, "completion_tokens": 10, "prompt_hash": "56f711c3e7b4d0a5", "detail": detail or {},
            "item_meta": meta, **extra}


def ruler(item: str, needle: str, answer: str) -> dict:
    """As the demo's RULER samples: the prompt is not kept, only its length in tokens."""
    found = needle if needle in answer else None
    return record(item, float(found is not None), answer, extracted=answer, detail={"references": [needle]},
                  meta={"task": "niah_single_1", "length": 1024, "tokens": 1015})


def bfcl_prose(item: str, answer: str) -> dict:
    """As the demo's BFCL samples (SmolLM2 answers in prose): the decoder finds no call."""
    transcript = [{"role": "system", "content": "You are an expert in composing functions."},
                  {"role": "user", "content": "Find the area of a triangle with a base of 10 units and height of 5 units."},
                  {"role": "assistant", "content": answer}]
    return record(item, 0.0, answer, detail={"category": "simple", "error_type": "ast_decoder:decoder_failed",
                                             "error": "SyntaxError: invalid syntax (<unknown>, line 1)"},
                  meta={"category": "simple", "style": "prompting"}, transcript=transcript, turns=[], result={})


def lcb(item: str, passed: bool, sample: int = 0) -> dict:
    """As LiveCodeBench's samples: the sandbox's verdict class, first failing test, stderr tail."""
    detail = {"verdict": "passed" if passed else "runtime error", "failed_test": None if passed else 2, "tests_passed": 3 if passed else 2,
              "n_tests": 3, "error": None if passed else "ZeroDivisionError('division by zero')", "exit_code": 0 if passed else 1,
              "stderr_tail": None if passed else "Traceback (most recent call last):\nZeroDivisionError: division by zero", "seconds": 0.7}
    code = "a, b = map(int, input().split())\nprint(a // b)"
    return record(item, float(passed), f"```python\n{code}\n```", sample=sample, extracted=code, reasoning="let me see",
                  detail=detail, meta={"platform": "atcoder", "difficulty": "easy", "n_tests": 3, "call_based": False})


def write_run(folder: Path, records: dict[str, list[dict]], *, model: str = "demo", mode: str = "non-reasoning",
              limit: int | None = None, extra_scores: dict | None = None) -> Path:
    """run.json, samples/<bench>.jsonl and scores.json (avg@k and its CI from the records, as the runner computes them)."""
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    scores = {}
    for bench, recs in records.items():
        (folder / "samples" / f"{bench}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
        per_item: dict[str, list[float]] = {}
        for r in recs:
            per_item.setdefault(r["id"], []).append(r["score"])
        scores[bench] = {**summarize(per_item), "k": max(map(len, per_item.values())), "metrics": {}, "n_samples": len(recs),
                         "truncated": sum(not r["reasoning_closed"] for r in recs), "no_answer": sum(r["extracted"] is None for r in recs)}
    scores.update(extra_scores or {})
    config = {"model": {"name": model}, "mode": mode, "suite": "test", "benchmarks": sorted(records), "limit": limit,
              "versions": {b: 1 for b in records},
              "scorer_fingerprint": {b: {**scorer_fingerprint([b])[b], "task_version": 1} for b in records},
              "data_fingerprints": {b: "rows-v1" for b in records}}
    (folder / "run.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "scores.json").write_text(json.dumps(scores), encoding="utf-8")
    return folder
