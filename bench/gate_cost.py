"""What a planned gate costs and how often it agrees with the full gate, on real per-item outputs.

    python bench/gate_cost.py PATH_TO_MMLU_PRO_RESULTS [--replicates 2] [--models N]

PATH holds the per-question outputs that TIGER-AI-Lab/MMLU-Pro publishes under `eval_results/`
(model_outputs_<model>_5shots.json, unzipped; a list of records with `question_id`, `answer`,
`pred` and the response in `generated_text` or `model_outputs`). None of it is in this repository.

Cases, each gated twice: by the full-data paired gate (exaone_eval.gate.compare on all 12,032
questions) and by a plan made from the baseline (exaone_eval.gate_plan.design_benchmark) whose
draws are run batch by batch with the stopping rule of `run --plan`:
- real checkpoint pairs (successive releases of one family), in both directions;
- injected drops: a model against itself with 0, 1, 2, 3, 5, 10 points of its correct answers
  flipped to wrong (the flipped questions drawn at random).
MMLU-Pro's results have one sample per question and no token counts: k = 1, and the cost of a
question is its response's length in characters / 4 (a proxy, not tokens).
It prints per case group and overall: agreement with the full gate (target >= 95%), false alarms
when nothing changed (<= 5%), and the share of requests and of tokens spent (<= 20% on average,
stretch <= 10%), each marked met / not met.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exaone_eval.csequence import decide  # noqa: E402
from exaone_eval.gate import GateConfig, compare, load_config  # noqa: E402
from exaone_eval.gate_plan import design_benchmark  # noqa: E402

PAIRS = [  # (older, newer): successive releases of one family in eval_results/
    ("Llama-2-7b-hf", "Meta-Llama-3-8B"),
    ("Meta-Llama-3-8B", "Meta-Llama-3_1-8B"),
    ("Llama-2-70b-hf", "Meta-Llama-3-70B"),
    ("Meta-Llama-3-70B", "Meta-Llama-3_1-70B"),
    ("Mistral-7B-v0.1", "Mistral-7B-v0.2-hf"),
    ("Mistral-7B-Instruct-v0.1", "Mistral-7B-Instruct-v0.2"),
]
DROPS = (0, 1, 2, 3, 5, 10)


def load(folder: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """{model: {question id: (correct 0/1, cost = response characters / 4)}}."""
    models = {}
    for path in sorted(glob.glob(str(folder / "**" / "model_outputs_*.json"), recursive=True)):
        name = os.path.basename(path)[len("model_outputs_"):].rsplit("_", 1)[0]
        records = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = {}
        for r in records:
            if not isinstance(r, dict) or "question_id" not in r:  # a few files hold stray strings
                continue
            text = r.get("generated_text") or r.get("model_outputs") or ""
            rows[str(r["question_id"])] = (float(r.get("pred") == r.get("answer")), max(len(text) / 4, 1.0))
        models[name] = rows
    if not models:
        raise SystemExit(f"{folder}: no model_outputs_*.json files (unzip eval_results/*.zip there)")
    return models


def planned(base: np.ndarray, cand: np.ndarray, cost: np.ndarray, ids: list[str], tol: float, seed: int) -> dict:
    """Plan from the baseline, run its draws batch by batch until decided: the decision and the
    shares of requests and tokens (the candidate's tokens are estimated by the baseline's)."""
    plan = design_benchmark(ids, base[:, None], cost[:, None], tol, seed=seed)
    if not plan["planned"]:
        return {"decision": None, "requests": 1.0, "tokens": 1.0, "reason": plan["reason"]}
    index = {i: n for n, i in enumerate(ids)}
    rows = np.array([index[d[0]] for d in plan["draws"]])
    weights = np.array([d[2] for d in plan["draws"]])
    z = weights * (cand[rows] - base[rows])
    upto = 0
    while True:
        upto = min(upto + plan["batch"], len(z))
        decision = decide(z[:upto], plan["bound"], tol / 100, 0.05)
        if decision.verdict != "undecided" or upto == len(z):
            break
    run = np.unique(rows[:upto])
    return {"decision": decision.verdict == "regression", "requests": len(run) / len(ids),
            "tokens": float(cost[run].sum() / cost.sum()), "draws": upto}


def mark(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="folder of MMLU-Pro's eval_results JSON files (unzipped)")
    parser.add_argument("--replicates", type=int, default=2, help="plans (plan seeds) per case (default 2)")
    parser.add_argument("--models", type=int, default=0, help="only the first N models for injected drops (default all)")
    args = parser.parse_args()
    started = time.time()
    models = load(Path(args.results))
    cfg: GateConfig = load_config(None)
    tol = cfg.tolerance_for("mmlu_pro")
    full_set = [m for m, rows in models.items() if len(rows) >= 12000]
    ids = sorted(set.intersection(*(set(models[m]) for m in full_set)))
    print(f"{len(models)} models read; {len(full_set)} with >= 12,000 questions; {len(ids)} questions in all of them; "
          f"tolerance {tol} points (configs/gate.toml); cost = response characters / 4 (MMLU-Pro has no token counts)")

    def arrays(name):
        rows = models[name]
        return np.array([rows[i][0] for i in ids]), np.array([rows[i][1] for i in ids])

    def full_gate(base, cand) -> bool:
        b = {i: [float(x)] for i, x in zip(ids, base)}
        c = {i: [float(x)] for i, x in zip(ids, cand)}
        return compare("mmlu_pro", b, c, cfg).regression

    cases = []  # (group, full decision, planned result)
    rng = np.random.default_rng(12345)
    for old, new in PAIRS:
        if old not in models or new not in models:
            print(f"  (pair {old} -> {new} not in the folder; skipped)")
            continue
        for a, b in ((old, new), (new, old)):
            base, cost = arrays(a)
            cand, _ = arrays(b)
            full = full_gate(base, cand)
            for r in range(args.replicates):
                cases.append(("real pairs", f"{a} -> {b}", full, planned(base, cand, cost, ids, tol, seed=r), 100 * (cand - base).mean()))
    chosen = full_set[: args.models] if args.models else full_set
    for name in chosen:
        base, cost = arrays(name)
        correct = np.nonzero(base == 1)[0]
        for drop in DROPS:
            flips = int(round(drop / 100 * len(ids)))
            for r in range(args.replicates):
                cand = base.copy()
                cand[rng.choice(correct, size=min(flips, len(correct)), replace=False)] = 0
                full = full_gate(base, cand) if r == 0 or flips else False
                cases.append((f"drop {drop}", name, full, planned(base, cand, cost, ids, tol, seed=100 + r), -100 * flips / len(ids)))

    print(f"\n{'cases':<12} {'n':>4} {'full: regr.':>11} {'planned: regr.':>14} {'agree':>7} {'requests':>9} {'tokens':>8}")
    groups = ["real pairs", *(f"drop {d}" for d in DROPS)]
    for g in groups:
        rows = [c for c in cases if c[0] == g]
        if not rows:
            continue
        agree = np.mean([c[2] == bool(c[3]["decision"]) for c in rows])
        print(f"{g:<12} {len(rows):>4} {sum(c[2] for c in rows):>11} {sum(bool(c[3]['decision']) for c in rows):>14} "
              f"{agree:>7.1%} {np.mean([c[3]['requests'] for c in rows]):>9.1%} {np.mean([c[3]['tokens'] for c in rows]):>8.1%}")
    print("\nreal pairs, one line per direction (full-data Δ, full gate, planned gate, tokens):")
    for c in cases:
        if c[0] == "real pairs":
            print(f"  {c[1]:<52} Δ {c[4]:+6.2f}  full {'FAIL' if c[2] else 'pass'}  planned {'FAIL' if c[3]['decision'] else 'pass'}  tokens {c[3]['tokens']:.1%}")
    agreement = np.mean([c[2] == bool(c[3]["decision"]) for c in cases])
    no_change = [c for c in cases if c[0] == "drop 0"]
    false_alarms = np.mean([bool(c[3]["decision"]) for c in no_change]) if no_change else float("nan")
    tokens = np.mean([c[3]["tokens"] for c in cases])
    requests = np.mean([c[3]["requests"] for c in cases])
    print(f"\n{len(cases)} cases ({args.replicates} plan seeds each), {time.time() - started:.0f} s")
    print(f"agreement with the full-data gate: {agreement:.1%} (target >= 95%): {mark(agreement >= 0.95)}")
    print(f"false alarms when nothing changed: {false_alarms:.1%} (target <= 5%): {mark(false_alarms <= 0.05)}")
    print(f"share of the full run spent: requests {requests:.1%}, tokens {tokens:.1%} (target <= 20%): {mark(tokens <= 0.20)}; "
          f"stretch <= 10%: {mark(tokens <= 0.10)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
