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


CPU_KERNELS = ["avx2", "onednn"]  # the two CPU GEMM paths of pack_linears_for_cpu


def pack_for_cpu(model, kernel: str) -> None:
    """Pack `model` with the named CPU kernel (cpu_gemm's AVX2 kernels or oneDNN), or skip the test
    where that kernel can't run here."""
    import pytest

    from exaone_eval.model import cpu_gemm
    from exaone_eval.model.modeling import pack_linears_for_cpu

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
