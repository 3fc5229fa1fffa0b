"""Long-context prompt building: seconds per 128K RULER sample, and peak RSS against prompt count.

1. RULER at 131072 tokens, per task: the first sample (which includes the haystack-size search)
   and the mean of the next `--samples` (the steady state), built without the cache, with
   `--tokenizer` (default: the demo model's SmolLM2 tokenizer when converted, else a word-level
   tokenizer written here: one token per word, so its prompts hold more text than a BPE's).
2. Peak RSS of `run` over a benchmark of 1, 10 and 100 prompts of 32K tokens (a word each)
   streamed through the runner's window to an instant in-process backend, each count in its own
   process (its VmHWM).

    python bench/long_context.py [--tokenizer DIR] [--tasks niah_single_2,qa_2] [--samples 3] [--skip-ruler]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def default_tokenizer(tmp: Path) -> str:
    from exaone_eval.model.gguf import cache_root

    demo = cache_root() / "smollm2-135m-instruct"
    if (demo / "tokenizer.json").is_file():
        return str(demo)
    from longctx_helpers import write_word_tokenizer

    return str(write_word_tokenizer(tmp / "word-tokenizer"))


def bench_ruler(tokenizer: str, tasks: list[str], samples: int) -> None:
    from exaone_eval.benchmarks.ruler import TASKS
    from exaone_eval.longctx import ruler_sizing as sizing
    from exaone_eval.longctx import ruler_synth as synth
    from exaone_eval.tokenizer import load_tokenizer

    counter = sizing.Counter(load_tokenizer(tokenizer))
    print(f"RULER at 131072 tokens, tokenizer {tokenizer}")
    print(f"{'task':<18} {'first (s)':>10} {'next, mean (s)':>15} {'tokens':>8}")
    steady = []
    for task in tasks:
        kind, args = TASKS[task]
        stream = synth.GENERATORS[kind](args, 131072, counter, 42).samples()
        start = time.perf_counter()
        sample = next(stream)
        first = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(samples):
            sample = next(stream)
        mean = (time.perf_counter() - start) / samples
        steady.append(mean)
        print(f"{task:<18} {first:>10.2f} {mean:>15.2f} {sample.meta['length']:>8}", flush=True)
    print(f"mean over tasks, steady state: {sum(steady) / len(steady):.2f} s per 128K sample; "
          f"peak RSS of this process: {peak_rss_mib():.0f} MiB")


def run_prompts(n: int) -> None:
    """Child: stream n prompts of 32K words through run_benchmark; print peak RSS (MiB)."""
    import pytest

    import test_lazy_window as t

    with tempfile.TemporaryDirectory() as tmp:
        patch = pytest.MonkeyPatch()
        if os.environ.get("BENCH_UNBOUNDED"):  # for contrast: one window holding every prompt
            from exaone_eval import windows

            patch.setattr(windows, "WINDOW_MIN", 10**9)
        t.run_fake(Path(tmp), patch, n)
        patch.undo()
    print(json.dumps({"prompts": n, "peak_rss_mib": peak_rss_mib()}))


def peak_rss_mib() -> float:
    """This process's peak RSS: VmHWM (ru_maxrss would carry over the parent's from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_memory() -> None:
    print("\nrun over N prompts of 32K tokens (window of max(concurrency=8, 8) samples, two in flight)")
    print(f"{'prompts':>8} {'peak RSS (MiB)':>15} {'unbounded window, for contrast':>31}")
    for n in (1, 10, 100):
        peaks = []
        for unbounded in ("", "1"):
            env = {**os.environ, "BENCH_UNBOUNDED": unbounded}
            out = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=True, env=env)
            peaks.append(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"])
        print(f"{n:>8} {peaks[0]:>15.1f} {peaks[1]:>31.1f}", flush=True)
    print(f"(one prompt is {len('word ' * 32768) / 2**20:.2f} MiB of text)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer")
    parser.add_argument("--tasks", default="niah_single_1,niah_single_2,niah_multikey_3,vt,cwe,fwe,qa_1,qa_2")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--skip-ruler", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return run_prompts(args.child)
    if not args.skip_ruler:
        with tempfile.TemporaryDirectory() as tmp:
            bench_ruler(args.tokenizer or default_tokenizer(Path(tmp)), args.tasks.split(","), args.samples)
    bench_memory()


if __name__ == "__main__":
    main()
