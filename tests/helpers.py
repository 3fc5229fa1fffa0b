"""Small helpers the tests share (not fixtures)."""

from __future__ import annotations

import re

from exaone_eval.types import Generation


def gen(answer: str, reasoning: str | None = None, closed: bool = True) -> Generation:
    text = answer if reasoning is None else f"<think>{reasoning}</think>{answer}"
    return Generation(text=text, reasoning=reasoning, answer=answer, reasoning_closed=closed)


def aime_solver(body: dict) -> dict:
    """A scripted model that answers AIME_ROWS correctly: it evaluates the arithmetic in the prompt."""
    prompt = body["messages"][-1]["content"]
    a, op, b = re.search(r"What is (\d+)([+*])(\d+)", prompt).groups()
    value = int(a) + int(b) if op == "+" else int(a) * int(b)
    return {"content": f"<think>easy</think>The answer is \\boxed{{{value}}}.", "completion_tokens": 7}


# One Hub-schema row of each multiple-choice set, the answer being B ("4") everywhere.
REDUX_ROW = {"question": "2+2?", "choices": ["3", "4", "5", "6"], "answer": 1, "error_type": "ok", "source": None,
             "correct_answer": None, "potential_reason": None, "subject": "elementary_mathematics"}
PRO_ROW = {"question_id": 1, "question": "2+2?", "options": ["3", "4", "5", "N/A"], "answer": "B", "answer_index": 1,
           "cot_content": "", "category": "math", "src": "x"}
GPQA_ROW = {"Record ID": "rec1", "Question": "2+2?", "Correct Answer": "4", "Incorrect Answer 1": "3",
            "Incorrect Answer 2": "5", "Incorrect Answer 3": "6", "High-level domain": "Physics"}
KMMLU_ROW = {"question": "2+2는?", "options": ["3", "4", "5", "6"], "solution": "2", "license_name": "변호사"}
MMMLU_ROW = {"Unnamed: 0": 0, "Question": "¿2+2?", "A": "3", "B": "4", "C": "5", "D": "6", "Answer": "B",
             "Subject": "elementary_mathematics"}


def items_from_data_dir(folder, name: str, rows: list[dict]) -> list:
    """The items `load_items` makes of `rows` given as `--data-dir folder` (`<name>.jsonl`), twice
    over: a second load must give the same ids (asserted here, for every caller)."""
    from conftest import write_jsonl

    from exaone_eval.config import ModelPreset, RunConfig
    from exaone_eval.items import load_items

    write_jsonl(folder / f"{name}.jsonl", rows)
    cfg = RunConfig(suite="t", mode="non-reasoning", model=ModelPreset("t", "t"), backend="openai", benchmarks=[name],
                    out=folder / "run", data_dir=folder)
    items = load_items(cfg, name)[0]
    assert [item.id for item in load_items(cfg, name)[0]] == [item.id for item in items]
    return items


async def run_suite_on(cfg, model_url: str, judge_url: str | None = None) -> dict:
    """`run_suite(cfg)` against OpenAI-compatible servers (fake ones in tests), closing them after."""
    from exaone_eval.backends.openai import OpenAIBackend
    from exaone_eval.runner import run_suite

    backend = OpenAIBackend([model_url], "m", max_retries=0)
    judge = OpenAIBackend([judge_url], "j", max_retries=0) if judge_url else None
    try:
        return await run_suite(cfg, backend, judge, progress=False)
    finally:
        await backend.aclose()
        if judge is not None:
            await judge.aclose()


CPU_KERNELS = ["avx2", "onednn"]  # the two CPU GEMM paths of pack_linears_for_cpu


def pack_for_cpu(model, kernel: str) -> None:
    """Pack `model` with the named CPU kernel (cpu_gemm's AVX2 kernels or oneDNN), or skip the test
    where that kernel can't run here."""
    import pytest

    from exaone_eval.model import cpu_gemm
    from exaone_eval.model.cpu_pack import pack_linears_for_cpu

    if kernel == "avx2":
        try:
            cpu_gemm.library()
        except cpu_gemm.GemmUnavailable as e:
            pytest.skip(f"the AVX2 kernels can't be built here: {e}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXAONE_EVAL_CPU_GEMM", kernel)
        if not pack_linears_for_cpu(model):
            pytest.skip("this torch build has no oneDNN linear")
    assert model.cpu_gemm == kernel
