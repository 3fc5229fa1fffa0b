"""The budget sweep by truncation vs one separate run per budget, side by side (not a test).

    python bench/sweep.py [--budgets 16,32,64,128] [--answer-max-tokens 8] [--limit 4] [--k 4] [--aime] [--threads N]

On the offline demo model (SmolLM2-135M-Instruct on the bundled engine, CPU), with four short
arithmetic questions in the AIME 2025 schema (or, with --aime, the real rows from
`../shared/data/aime_2025.jsonl`: longer prompts, so prefill dominates on a CPU), it runs
- the sweep: each sample reasons once under the largest budget; smaller budgets truncate that
  reasoning, append the forcing text and generate only the answer;
- separate runs: one run per budget, each sample generated from scratch under that budget;
and prints the tokens each generated (and what one full-budget run alone generates), the
engine's prefill and decode token counts, the wall time of each, and how many (sample, budget) texts are identical between the two (on the bundled
engine all of them should be: token draws are keyed by position).

The report's setting has 7 budgets (1K..64K) and answers of a few hundred tokens; the demo keeps
the same shape at a CPU's scale: budgets 16..128 and an answer cap of 8 (the budget-to-answer
ratio of 64K to ~4K answers). The sweep costs 1 + (n-1) * answer / (largest + answer) full runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHARED_AIME = Path(__file__).resolve().parents[2] / "shared" / "data" / "aime_2025.jsonl"
ARITHMETIC = [
    {"problem_idx": i + 1, "problem": f"What is {a} + {b}?", "answer": a + b, "problem_type": None}
    for i, (a, b) in enumerate([(17, 25), (120, 33), (9, 91), (48, 52)])
]


def data_dir(tmp: Path, aime: bool) -> tuple[Path, str]:
    if aime:
        if not SHARED_AIME.is_file():
            raise SystemExit(f"--aime needs {SHARED_AIME}")
        return SHARED_AIME.parent, f"AIME 2025 ({SHARED_AIME})"
    (tmp / "aime_2025.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ARITHMETIC))
    return tmp, "four arithmetic questions in the AIME 2025 schema"


def config(out: Path, data: Path, args, budgets: tuple[int, ...], model_dir: Path):
    from exaone_eval.config import ModelPreset, RunConfig

    # max_tokens: room for the largest budget and its answer, as the report's 64K + 8K.
    model = ModelPreset(name="demo", hf_id=str(model_dir), max_tokens_cap=max(budgets) + args.answer_max_tokens)
    return RunConfig(suite="budget", mode="reasoning", model=model, backend="bundled", benchmarks=["aime_2025"],
                     out=out, limit=args.limit, k=args.k, data_dir=data, budgets=budgets,
                     answer_max_tokens=args.answer_max_tokens, seed=0)


def records(out: Path) -> dict[tuple, dict]:
    lines = (out / "samples" / "aime_2025.jsonl").read_text().splitlines()
    return {(r["id"], r["sample"], r["budget"]): r for r in map(json.loads, lines)}


async def timed_sweep(cfg, backend) -> dict:
    """Wall seconds and the engine's prefill / decode token counts of one sweep (or run)."""
    from exaone_eval.sweep import run_sweep

    before = dict(backend.engine.stats)
    started = time.perf_counter()
    await run_sweep(cfg, backend, progress=False)
    wall = time.perf_counter() - started
    return {"wall": wall, **{k: backend.engine.stats[k] - before[k] for k in ("prefill_tokens", "decode_tokens")}}


async def main(args) -> None:
    import torch

    from exaone_eval.backends.bundled import BundledBackend
    from exaone_eval.model.gguf import demo_model_dir
    from exaone_eval.sweep import parse_budgets

    if args.threads:
        torch.set_num_threads(args.threads)
    budgets = parse_budgets(args.budgets)
    model_dir = demo_model_dir()
    backend = BundledBackend(model_dir, max_batch=args.max_batch)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    data, source = data_dir(tmp, args.aime)
    print(f"demo model {model_dir}; data: {source}; {args.limit} items x k={args.k}; budgets {list(budgets)}; "
          f"answers capped at {args.answer_max_tokens} tokens; {torch.get_num_threads()} threads")
    try:
        sweep = await timed_sweep(config(tmp / "sweep", data, args, budgets, model_dir), backend)
        separate = {b: await timed_sweep(config(tmp / f"separate-{b}", data, args, (b,), model_dir), backend) for b in budgets}
    finally:
        await backend.aclose()

    swept = records(tmp / "sweep")
    direct = {key: r for b in budgets for key, r in records(tmp / f"separate-{b}").items()}
    sweep_tokens = sum(r["generated_tokens"] or 0 for r in swept.values())
    full_tokens = sum(r["completion_tokens"] for (_, _, b), r in swept.items() if b == budgets[-1])
    separate_tokens = sum(r["completion_tokens"] for r in direct.values())
    identical = sum(swept[key]["response"] == direct[key]["response"] for key in direct)
    sources = {s: sum(r["source"] == s for r in swept.values()) for s in ("full", "reused", "truncated")}
    total = {k: sum(run[k] for run in separate.values()) for k in ("wall", "prefill_tokens", "decode_tokens")}
    full = separate[budgets[-1]]

    print(f"\n{'':<30} {'generated tokens':>16} {'x one full run':>14} {'engine decode':>13} {'engine prefill':>14} {'wall s':>7}")
    rows = [(f"one full-budget run ({budgets[-1]})", full_tokens, full),
            ("sweep by truncation", sweep_tokens, sweep),
            (f"separate runs ({len(budgets)})", separate_tokens, total)]
    for label, tokens, run in rows:
        print(f"{label:<30} {tokens:>16,} {tokens / full_tokens:>14.2f} {run['decode_tokens']:>13,} "
              f"{run['prefill_tokens']:>14,} {run['wall']:>7.1f}")
    print(f"\nsweep pairs: {sources['full']} full, {sources['reused']} reused (the budget never bit), "
          f"{sources['truncated']} truncated + forced")
    print(f"identical to the separate run of the same budget: {identical}/{len(direct)} (sample, budget) texts")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="16,32,64,128")
    parser.add_argument("--answer-max-tokens", type=int, default=8)
    parser.add_argument("--limit", type=int, default=4, help="items")
    parser.add_argument("--k", type=int, default=4, help="samples per item")
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--aime", action="store_true", help="the real AIME 2025 rows from ../shared/data (long prompts)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    asyncio.run(main(parser.parse_args()))
