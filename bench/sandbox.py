"""Verdicts per second: LiveCodeBench's sandboxed scorer vs the in-host `exec` pool, same solutions.

The in-host side is what lighteval, evalscope and OpenCompass do with LiveCodeBench's
testing_util: a multiprocessing pool whose forked workers `exec` the model's code in their own
interpreter, one fresh fork per generation as lcb_runner's check_correctness does (here without
its extra Manager process), running the very same test driver in-process.
The sandboxed side is `exaone_eval.scoring.livecodebench.run_tests`: one sandbox (bwrap
namespaces, or the rlimits fallback) per generation, on a pool of threads. Both get the same
solutions in the same order and the same number of workers, and must agree on every verdict.

Solutions (one problem with --tests stdin tests): correct, wrong (fails at a random test), and
slow (an endless loop at a random test: a time limit). Prints both rates side by side and their
ratio (the target: sandboxed >= 0.5x in-host).

    python bench/sandbox.py [--correct 60] [--wrong 60] [--slow 6] [--tests 20] [--timeout 6] [--workers N] [--isolation auto]
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exaone_eval import sandbox  # noqa: E402
from exaone_eval.benchmarks import livecodebench as lcb  # noqa: E402
from exaone_eval.scoring import livecodebench as judging  # noqa: E402

CORRECT = "n = int(input())\nvalues = list(map(int, input().split()))\nprint(sum(values) * n)\n"
WRONG = "n = int(input())\nvalues = list(map(int, input().split()))\nprint(sum(values) * n + (n == {bad}))\n"
SLOW = "n = int(input())\nvalues = list(map(int, input().split()))\nwhile n == {bad}:\n    pass\nprint(sum(values) * n)\n"


def make_tests(n_tests: int, rng: random.Random) -> dict:
    inputs, outputs = [], []
    for i in range(1, n_tests + 1):
        values = [rng.randint(-1000, 1000) for _ in range(200)]
        inputs.append(f"{i}\n{' '.join(map(str, values))}\n")
        outputs.append(f"{sum(values) * i}\n")
    return {"inputs": inputs, "outputs": outputs, "fn_name": None}


def make_solutions(args, rng: random.Random) -> list[tuple[str, str]]:
    """(expected verdict, code), shuffled."""
    solutions = [("passed", CORRECT)] * args.correct
    solutions += [("wrong answer", WRONG.format(bad=rng.randint(1, args.tests))) for _ in range(args.wrong)]
    solutions += [("time limit", SLOW.format(bad=rng.randint(1, args.tests))) for _ in range(args.slow)]
    rng.shuffle(solutions)
    return solutions


# ---- in-host: the driver exec'd inside pool workers ---------------------------------------------------

_DRIVER = None


def in_host_verdict(job_dir: str, reference: dict) -> str:
    """The driver runs in this worker's own interpreter on the job written to `job_dir`; the
    expected outputs are compared as the sandboxed path does (same messages, same comparison)."""
    messages = []
    saved = sys.stdout
    try:
        exec(_DRIVER, {"__name__": "__main__", "__file__": os.path.join(job_dir, "main.py"),
                       "_send": lambda header, payload=b"": messages.append((header, payload))})
    except BaseException:  # noqa: BLE001  (the code may raise anything; in-host there is no boundary)
        pass
    finally:
        sys.stdout = saved
    for header, payload in messages:
        if "test" not in header:
            continue
        if header["status"] != "ok":
            return {"timeout": "time limit", "memory": "memory limit", "output": "output limit"}.get(header["status"], "runtime error")
        if not judging.stdout_matches(payload.decode(), reference["outputs"][header["test"]]):
            return "wrong answer"
    return "passed" if any(h.get("done") for h, _ in messages) else "runtime error"


def _init_worker(driver: str) -> None:
    global _DRIVER
    _DRIVER = driver


def run_in_host(solutions, reference, timeout_s: float, workers: int) -> tuple[list[str], float]:
    ctx = multiprocessing.get_context("fork")
    root = Path(tempfile.mkdtemp(prefix="bench-inhost-"))
    try:
        jobs = []
        for i, (_, code) in enumerate(solutions):
            (root / str(i)).mkdir()
            (root / str(i) / "job.json").write_text(json.dumps({"code": code, "fn_name": None, "inputs": reference["inputs"],
                                                                 "timeout_s": timeout_s, "output_chars": 32 << 20}))
            jobs.append((str(root / str(i)), reference))
        # lcb_runner's process has numpy and the rest of the driver's pre-guard imports loaded
        # before it forks a solution's process; without them here each fork would import them.
        for name in judging.driver_imports():
            importlib.import_module(name)
        started = time.perf_counter()
        # One solution per forked worker (maxtasksperchild=1): the driver's guard disables os
        # functions in the process it runs in, as lcb_runner's does, so a worker is not reused.
        with ctx.Pool(workers, initializer=_init_worker, initargs=(judging.driver_source(),), maxtasksperchild=1) as pool:
            verdicts = pool.starmap(in_host_verdict, jobs, chunksize=1)
        return verdicts, time.perf_counter() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_sandboxed(solutions, reference, settings, box, workers: int) -> tuple[list[str], float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        verdicts = list(pool.map(lambda code: judging.run_tests(code, reference, timeout_s=settings.timeout_s, memory_mb=settings.memory_mb, output_limit_mb=settings.output_limit_mb, box=box)["verdict"], [c for _, c in solutions]))
    return verdicts, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--correct", type=int, default=60)
    parser.add_argument("--wrong", type=int, default=60)
    parser.add_argument("--slow", type=int, default=6)
    parser.add_argument("--tests", type=int, default=20, help="tests per problem")
    parser.add_argument("--timeout", type=float, default=6.0, help="seconds per test (lcb_runner: 6)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--isolation", default="auto", choices=sandbox.ISOLATIONS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    reference = make_tests(args.tests, rng)
    solutions = make_solutions(args, rng)
    settings = replace(lcb.settings("livecodebench_v6"), timeout_s=args.timeout)
    box = sandbox.resolve(args.isolation)
    expected = [v for v, _ in solutions]

    in_host, t_host = run_in_host(solutions, reference, args.timeout, args.workers)
    boxed, t_box = run_sandboxed(solutions, reference, settings, box, args.workers)
    n = len(solutions)
    print(f"{n} solutions ({args.correct} correct, {args.wrong} wrong, {args.slow} slow), {args.tests} tests each, "
          f"{args.timeout:g} s per test, {args.workers} workers, {os.cpu_count()} CPUs")
    print(f"{'':<28} {'seconds':>8} {'verdicts/s':>11} {'agree with expected':>20}")
    print(f"{'in-host exec pool':<28} {t_host:>8.2f} {n / t_host:>11.2f} {sum(a == b for a, b in zip(in_host, expected)):>14}/{n}")
    print(f"{'sandboxed (' + box.isolation + ')':<28} {t_box:>8.2f} {n / t_box:>11.2f} {sum(a == b for a, b in zip(boxed, expected)):>14}/{n}")
    ratio = (n / t_box) / (n / t_host)
    print(f"sandboxed / in-host rate: {ratio:.2f}x (target >= 0.5x: {'met' if ratio >= 0.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
