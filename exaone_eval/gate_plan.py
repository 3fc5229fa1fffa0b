"""`exaone-eval gate plan --baseline RUN --out PLAN`: which samples a candidate must run for its
gate to reach the full run's decision, at a fraction of the cost (docs/gate.md, "Planned gates").

The method, per benchmark:

1. Units. The full run is N items x k samples = U units (item, sample), each with the baseline's
   score b_u and its generated tokens c_u (the cost a candidate is expected to pay for that unit).
2. Strata by the baseline's per-item accuracy p_i (never solved, always solved, and for k > 1
   four bins between). Within a stratum every unit gets the same predicted second moment of the
   paired difference e_u = candidate_u - b_u:
       E[e_u^2] = (b_u - p~_i)^2 + p~_i (1 - p~_i)  +  b_u * design_drop / accuracy,
   the candidate sampling the item as the baseline does (p~_i: p_i shrunk a little toward the
   benchmark's accuracy, so an item solved in all k samples still may fail: little information,
   not none) plus the design regression, which takes a share of the baseline's successes.
3. Neyman allocation with costs (Cochran, Sampling Techniques, 5.5), at the unit level: unit u is
   drawn with probability pi_u proportional to sigma_h / sqrt(cost_h) of its stratum. Draws are
   with replacement; a unit drawn twice is generated once (the store answers the second).
4. Each draw t gives Z_t = e_u / (U pi_u): i.i.d., bounded in [-m, m] (m = max 1/(U pi_u)), with
   mean exactly the full run's paired difference D (Hansen-Hurwitz). The betting test of
   exaone_eval/csequence.py then decides "D < -tolerance" (regression) or "D > -tolerance" (no
   regression beyond the tolerance) with error <= alpha at any stopping time, whatever the
   candidate is: the randomness it relies on is the plan's own draw.
5. The sequence is as long as the smallest of: enough draws for `power` at the design drop
   (2 x tolerance) and at no change, or `max_share` of the full run's tokens. A benchmark with
   fewer than MIN_ITEMS items, uneven k, a budget sweep or conversations, or whose capped plan has
   under MIN_POWER at the design drop, runs whole: the plan says why.

What is guaranteed, and under which assumptions, is in docs/gate.md.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from exaone_eval import registry
from exaone_eval.csequence import power_at, sample_size
from exaone_eval.gate import GateConfig, load_config
from exaone_eval.planfile import FORMAT, VERSION, baseline_fingerprint, unit_records
from exaone_eval.rundir import load_run, sample_benchmarks
from exaone_eval.types import HarnessError

MIN_ITEMS = 100
"""Fewer items than this run whole: the full gate's bootstrap over a few dozen items is itself
coarse (AIME's 30 problems), and a plan would save little."""
MIN_POWER = 0.5
"""A plan whose capped length gives less power than this at the design drop runs whole instead."""
PRIOR_WEIGHT = 0.05
"""Pseudo-samples of the benchmark's accuracy added to each item's (k samples) in p~_i."""
DESIGN_FACTOR = 2.0
"""The design drop, in tolerances: the plan is sized to show a drop of 2 x tolerance."""
BATCHES = 100
"""About how many looks a full-length plan gets (the batch is 1% of the units, at least MIN_BATCH)."""
MIN_BATCH = 20
UNIFORM_SHARE = 0.4
"""The share of the draw probability spread evenly over all units (see design_benchmark)."""


def strata_of(p: np.ndarray, k: int) -> np.ndarray:
    """Stratum labels of items by baseline accuracy: 0 never solved, 5 always solved, 1-4 the
    quarters between (only k > 1 can be between)."""
    return np.where(p <= 0, 0, np.where(p >= 1, 5, 1 + np.minimum((p * 4).astype(int), 3)))


STRATUM_NAMES = {0: "never solved", 1: "accuracy 0-25%", 2: "accuracy 25-50%", 3: "accuracy 50-75%",
                 4: "accuracy 75-100%", 5: "always solved"}


def design_benchmark(items: list[str], scores: np.ndarray, costs: np.ndarray, tolerance: float, alpha: float = 0.05,
                     power: float = 0.95, max_share: float = 0.25, seed: int = 0) -> dict:
    """One benchmark's plan entry (the JSON of planfile.BenchPlan) from its baseline: `items` (N
    ids), `scores` (N x k, 0-1), `costs` (N x k generated tokens, > 0). Tolerance in points."""
    n, k = scores.shape
    units = n * k
    tol = tolerance / 100.0
    drop = DESIGN_FACTOR * tol
    p = scores.mean(axis=1)
    accuracy = float(p.mean())
    p_shrunk = (k * p + PRIOR_WEIGHT * accuracy) / (k + PRIOR_WEIGHT)
    ps = p_shrunk[:, None]
    # E[e_u^2] under no change (the candidate samples as the baseline does) and under the design drop.
    second_null = (scores - ps) ** 2 + ps * (1 - ps)
    second_drop = second_null + scores * min(drop / max(accuracy, 1e-9), 1.0)
    stratum = strata_of(p, k)
    sigma = np.zeros(units)
    cost = np.maximum(costs.reshape(-1), 1e-9)
    strat_units = np.repeat(stratum, k)
    rows = []
    for h in sorted(set(stratum.tolist())):
        mask = strat_units == h
        s_h = math.sqrt(float(second_drop.reshape(-1)[mask].mean()))
        c_h = float(cost[mask].mean())
        sigma[mask] = max(s_h, 1e-6) / math.sqrt(c_h)  # Neyman with costs: sigma_h / sqrt(c_h)
        rows.append({"stratum": STRATUM_NAMES[h], "items": int((stratum == h).sum()), "units": int(mask.sum()),
                     "rms_difference": round(s_h, 4), "mean_tokens": round(c_h, 1)})
    # Defensive mixture (Hesterberg 1995): a share of every draw is uniform, so no weight exceeds
    # 1 / UNIFORM_SHARE. The betting test can stake at most ~1/m per draw, so a large m (units the
    # allocation almost never draws) would slow every decision, even when nothing changed.
    pi = (1 - UNIFORM_SHARE) * sigma / sigma.sum() + UNIFORM_SHARE / units
    weight = 1.0 / (units * pi)
    bound = float(weight.max())

    def var_z(second: np.ndarray, mean: float) -> float:  # Hansen-Hurwitz: sum E[e^2] / (U^2 pi) - D^2
        return float((second.reshape(-1) / (units * units * pi)).sum() - mean * mean)

    v_null, v_drop = var_z(second_null, 0.0), var_z(second_drop, -drop)
    needed = max(sample_size(v_drop, drop - tol, alpha, power, bound), sample_size(v_null, tol, alpha, power, bound))

    def expected(n_draws: int) -> tuple[float, float]:  # shares of distinct units and of tokens
        fresh = 1 - np.exp(n_draws * np.log1p(-np.minimum(pi, 1 - 1e-12)))
        return float(fresh.sum() / units), float((fresh * cost).sum() / cost.sum())

    # The longest sequence allowed: max_share of the full run's tokens (bisection on draws).
    lo, hi = 1, 50 * units
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if expected(mid)[1] <= max_share else (lo, mid - 1)
    length = int(min(needed, lo))
    power_drop = power_at(v_drop, length, drop - tol, alpha, bound)
    power_null = power_at(v_null, length, tol, alpha, bound)
    design = {
        "strata": rows,
        "accuracy": round(100 * accuracy, 2),
        "design_drop": round(100 * drop, 3),
        "draws_needed_for_power": int(needed),
        "predicted_power_at_design_drop": round(power_drop, 3),
        "predicted_power_at_no_change": round(power_null, 3),
        "max_share_of_full_tokens": round(expected(length)[1], 4),
        "max_share_of_full_samples": round(expected(length)[0], 4),
        "full_tokens": float(cost.sum()),
    }
    if power_drop < MIN_POWER:
        return {"planned": False, "design": design,
                "reason": (f"too noisy to plan for: within {max_share:.0%} of the full run's tokens a drop of "
                           f"{100 * drop:.1f} points would be shown with probability {power_drop:.2f} only; runs whole")}
    rng = np.random.default_rng(seed)
    picks = rng.choice(units, size=length, p=pi)
    draws = [[items[u // k], int(u % k), float(weight[u]), float(scores.reshape(-1)[u])] for u in picks]
    return {"planned": True, "k": k, "tolerance": tolerance, "n_items": n, "units": units, "bound": bound,
            "batch": max(MIN_BATCH, units // BATCHES), "draws": draws, "design": design}


def make_plan(baseline: Path, out: Path, config: Path | None = None, max_share: float = 0.25, seed: int = 0,
              alpha: float = 0.05, power: float = 0.95) -> dict:
    """Write the plan for every benchmark with samples in the baseline; return it."""
    cfg: GateConfig = load_config(config)
    run = load_run(Path(baseline))
    if not 0 < max_share <= 1:
        raise HarnessError(f"--max-share {max_share}: expected a share of the full run between 0 and 1")
    benches = sample_benchmarks(run)
    if not benches:
        raise HarnessError(f"{run.path / 'samples'}: no samples to plan from")
    seed_of_run = json.loads((run.path / "run.json").read_text(encoding="utf-8")).get("seed", 0)
    plan = {"format": FORMAT, "version": VERSION,
            "baseline": {"path": str(run.path), "model": run.model, "mode": run.mode, "suite": run.suite,
                         "seed": int(seed_of_run) if isinstance(seed_of_run, int) else 0, "k": run.k, "limit": run.limit,
                         "data_dir": run.data_dir},
            "alpha": alpha, "power": power, "max_share": max_share, "plan_seed": seed, "benchmarks": {}}
    all_scores = {}
    for bench in benches:
        units = unit_records(run, bench)
        entry = plan_entry(bench, units, cfg.tolerance_for(bench), alpha, power, max_share, seed)
        plan["benchmarks"][bench] = entry
        if units:
            all_scores[bench] = {u: v[0] for u, v in units.items()}
    plan["baseline"]["fingerprint"] = baseline_fingerprint(all_scores)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(plan, indent=1) + "\n", encoding="utf-8")
    return plan


def plan_entry(bench: str, units: dict | None, tolerance: float, alpha: float, power: float, max_share: float, seed: int) -> dict:
    if units is None:
        return {"planned": False, "reason": "a budget sweep: its budgets share each sample's reasoning; runs whole"}
    if bench in registry.REGISTRY and hasattr(registry.get_module(bench), "converse"):
        return {"planned": False, "reason": "a conversation benchmark: its driver runs every task; runs whole"}
    by_item: dict[str, dict[int, tuple]] = defaultdict(dict)
    for (item, sample), value in units.items():
        by_item[item][sample] = value
    ks = {tuple(sorted(s)) for s in by_item.values()}
    if len(ks) != 1 or list(next(iter(ks))) != list(range(len(next(iter(ks))))):
        return {"planned": False, "reason": "the baseline's items do not all have samples 0..k-1; runs whole"}
    if len(by_item) < MIN_ITEMS:
        return {"planned": False, "reason": f"{len(by_item)} items: too few to plan for (fewer than {MIN_ITEMS}); runs whole"}
    items = sorted(by_item)
    k = len(next(iter(ks)))
    scores = np.array([[by_item[i][s][0] for s in range(k)] for i in items])
    tokens = [[by_item[i][s][1] for s in range(k)] for i in items]
    if all(t is not None for row in tokens for t in row):
        costs, basis = np.array(tokens, dtype=float), "completion_tokens"
    else:  # no token counts recorded (a `score` of saved responses): characters / 4
        costs, basis = np.array([[by_item[i][s][2] / 4 for s in range(k)] for i in items], dtype=float), "response characters / 4"
    entry = design_benchmark(items, scores, np.maximum(costs, 1.0), tolerance, alpha, power, max_share, seed)
    entry.setdefault("design", {})["cost_basis"] = basis
    return entry


def describe(plan: dict) -> str:
    """What `gate plan` prints: one line per benchmark."""
    lines = [f"plan for baseline {plan['baseline']['path']} ({plan['baseline']['model']}, {plan['baseline']['mode']}); "
             f"alpha {plan['alpha']}, power {plan['power']}, at most {plan['max_share']:.0%} of the full run's tokens"]
    for name, b in plan["benchmarks"].items():
        if not b["planned"]:
            lines.append(f"  {name}: {b['reason']}")
            continue
        d = b["design"]
        lines.append(f"  {name}: up to {len(b['draws'])} draws of {b['units']} samples ({b['n_items']} items x k={b['k']}), "
                     f"at most {d['max_share_of_full_tokens']:.0%} of the tokens; power {d['predicted_power_at_design_drop']:.2f} "
                     f"at a {d['design_drop']:.1f}-point drop (tolerance {b['tolerance']:.1f}); cost basis: {d['cost_basis']}")
    return "\n".join(lines)
