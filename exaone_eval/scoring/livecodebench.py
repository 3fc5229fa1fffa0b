"""LiveCodeBench's verdicts, harness side: runs the test driver (livecodebench_driver.py, inside
the sandbox) and judges each test's output as lcb_runner's testing_util does (grade_stdio:
stripped lines, equal or equal as Decimals; grade_call_based: `==`, a tuple read as a list),
stopping at the first failure. The expected outputs never leave the harness.
"""

from __future__ import annotations

import ast
import json
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources

from exaone_eval import sandbox
from exaone_eval.sandbox_policy import Limits

VERDICTS = ("passed", "wrong answer", "runtime error", "time limit", "memory limit", "output limit", "sandbox error", "no code")


def stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(x) for x in line.split()]
    except (InvalidOperation, ValueError):
        return None


def stdout_matches(output: str, expected: str) -> bool:
    """lcb_runner's grade_stdio: same number of stripped lines; each equal, or equal as Decimals."""
    got, want = stripped_lines(output), stripped_lines(expected)
    if len(got) != len(want):
        return False
    for a, b in zip(got, want):
        if a == b:
            continue
        da, db = _decimals(a), _decimals(b)
        if da is None or db is None or da != db:
            return False
    return True


class _Opaque:
    """A returned value that is no plain JSON type (a set, an object): equal to nothing."""

    def __eq__(self, other):
        return False

    __hash__ = object.__hash__


def _decode_value(obj):
    if isinstance(obj, list):
        return [_decode_value(v) for v in obj]
    if isinstance(obj, dict):
        if "__tuple__" in obj:
            return tuple(_decode_value(v) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {_hashable(_decode_value(k)): _decode_value(v) for k, v in obj["__dict__"]}
        return _Opaque()
    return obj


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _int(digits: str) -> int:
    # lcb_runner raises Python's 4300-digit limit on int <-> str to 50000 for its whole process;
    # the harness keeps the default and reads long integers through Decimal (exact) instead.
    return int(digits) if len(digits) < 4000 else int(Decimal(digits))


def value_matches(payload: bytes, expected: str) -> bool:
    """lcb_runner's grade_call_based: `prediction == json.loads(output)`, a tuple read as a list."""
    prediction = _decode_value(json.loads(payload.decode("utf-8", "surrogatepass"), parse_int=_int))
    if isinstance(prediction, tuple):
        prediction = list(prediction)
    return prediction == json.loads(expected, parse_int=_int)


def run_tests(code: str, reference: dict, *, timeout_s: float, memory_mb: int, output_limit_mb: int, box: sandbox.Sandbox) -> dict:
    """Run the code on every test of `reference` ({inputs, outputs, fn_name}), in the sandbox,
    until the first failure; the verdict record a sample keeps."""
    inputs, outputs, fn_name = reference["inputs"], reference["outputs"], reference["fn_name"]
    n = len(inputs)
    limits = Limits(
        wall_s=(timeout_s + 1) * n + 5,  # lcb_runner's global timeout
        cpu_s=int((timeout_s + 1) * n + 5),
        memory_mb=memory_mb,
        output_bytes=output_limit_mb << 20,
    )
    job = {"code": code, "fn_name": fn_name, "inputs": inputs, "timeout_s": timeout_s, "output_chars": limits.output_bytes}
    state = {"passed": 0, "verdict": None, "failed_test": None, "error": None}
    verdict_of = {"timeout": "time limit", "memory": "memory limit", "output": "output limit", "error": "runtime error"}

    def on_message(header: dict, payload: bytes) -> bool:
        if "test" not in header:
            return "done" not in header
        i = header["test"]
        if header.get("status") != "ok":
            state.update(verdict=verdict_of.get(header.get("status"), "runtime error"), failed_test=i, error=header.get("error"))
            return False
        try:
            ok = stdout_matches(payload.decode("utf-8", "replace"), outputs[i]) if fn_name is None else value_matches(payload, outputs[i])
        except (ValueError, IndexError, RecursionError):
            ok = False
        if not ok:
            state.update(verdict="wrong answer", failed_test=i)
            return False
        state["passed"] += 1
        return state["passed"] < n

    outcome = box.run(driver_source(), {"job.json": json.dumps(job).encode("utf-8", "surrogatepass")}, limits, on_message)
    verdict, failed = state["verdict"], state["failed_test"]
    if verdict is None:
        if state["passed"] == n and n > 0:
            verdict = "passed"
        elif outcome.error is not None:
            verdict = "sandbox error"
        elif outcome.output_exceeded:
            verdict = "output limit"
        elif outcome.timed_out or outcome.exit_code == -24:  # -24: SIGXCPU, past RLIMIT_CPU
            verdict = "time limit"
        else:  # it died, exited, or closed its result pipe before finishing
            verdict = "runtime error"
        failed = None if verdict == "passed" else state["passed"]
    return {"verdict": verdict, "failed_test": failed, "tests_passed": state["passed"], "n_tests": n,
            "error": state["error"] or outcome.error, "exit_code": outcome.exit_code,
            "stderr_tail": outcome.stderr_tail[-500:] or None, "seconds": round(outcome.seconds, 3)}


@lru_cache(maxsize=1)
def driver_source() -> str:
    return resources.files("exaone_eval.scoring").joinpath("livecodebench_driver.py").read_text(encoding="utf-8")


def driver_imports() -> tuple[str, ...]:
    """The modules the driver imports before its guard, as lcb_runner's process has them loaded
    (its LCB_RUNNER_IMPORTS; the driver runs only inside the sandbox, so it is read, not imported)."""
    tree = ast.parse(driver_source())
    return next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "LCB_RUNNER_IMPORTS")
