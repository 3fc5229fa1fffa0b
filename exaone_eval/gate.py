"""The CI regression gate: `exaone-eval gate --baseline RUN --candidate RUN [--config gate.toml]`.

Per benchmark, over the items both runs scored: each item's mean over its samples, the paired
difference candidate - baseline, a bootstrap CI of its mean (items resampled), and a verdict.
A regression is a drop that is significant (CI upper end < 0) and beyond the benchmark's
tolerance (configs/gate.toml). The gate also says how small a drop it could have seen at all.
Exit codes (through the CLI): 0 pass, 1 regression, 2 bad input (HarnessError).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from exaone_eval.registry import REGISTRY
from exaone_eval.paths import shipped
from exaone_eval.provenance import scorer_changes
from exaone_eval.rundir import Run, load_run, sample_benchmarks, sample_scores
from exaone_eval.stats import item_means, min_detectable_effect, paired_difference, sampling_noise_sd
from exaone_eval import csequence, planfile
from exaone_eval.types import HarnessError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class GateConfig:
    level: float = 0.95
    power: float = 0.80
    bootstrap: int = 2000
    default_tolerance: float = 1.0
    tolerance: dict[str, float] | None = None

    def tolerance_for(self, key: str) -> float:
        bench = key.partition("@")[0]
        return (self.tolerance or {}).get(bench, self.default_tolerance)


def load_config(path: Path | None) -> GateConfig:
    """configs/gate.toml (the shipped one when `path` is None), checked."""
    path = Path(path) if path is not None else shipped("configs") / "gate.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{path}: gate config not found") from None
    except tomllib.TOMLDecodeError as e:
        raise HarnessError(f"{path}: not valid TOML: {e}") from None
    known = {"level", "power", "bootstrap", "default_tolerance", "tolerance"}
    if set(raw) - known:
        raise HarnessError(f"{path}: unknown keys {sorted(set(raw) - known)}; expected {sorted(known)}")
    tolerance = raw.get("tolerance", {})
    unknown = [b for b in tolerance if b not in REGISTRY]
    if unknown:
        raise HarnessError(f"{path}: [tolerance] names unknown benchmarks {unknown}")
    for name, value in [*raw.items(), *tolerance.items()]:
        if name != "tolerance" and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise HarnessError(f"{path}: {name} = {value!r}; expected a number >= 0")
    if not isinstance(raw.get("bootstrap", 2000), int) or raw.get("bootstrap", 2000) < 100:
        raise HarnessError(f"{path}: bootstrap = {raw['bootstrap']!r}; expected an integer >= 100")
    for name in ("level", "power"):
        if not 0 < raw.get(name, 0.5) < 1:
            raise HarnessError(f"{path}: {name} = {raw[name]!r}; expected a number between 0 and 1")
    return GateConfig(
        level=float(raw.get("level", 0.95)),
        power=float(raw.get("power", 0.80)),
        bootstrap=int(raw.get("bootstrap", 2000)),
        default_tolerance=float(raw.get("default_tolerance", 1.0)),
        tolerance={b: float(v) for b, v in tolerance.items()},
    )


@dataclass(frozen=True)
class Verdict:
    key: str
    """The benchmark, or `<benchmark>@<budget>` for a budget sweep."""
    n_items: int
    k_baseline: int
    k_candidate: int
    baseline: float
    candidate: float
    diff: float
    ci_low: float
    ci_high: float
    tolerance: float
    detectable: float
    """The smallest true drop the gate sees with probability `power` (points; inf: none)."""
    verdict: str
    planned: dict | None = None
    """A candidate run made with `run --plan`: what it ran against the full run (see planned_verdict)."""

    @property
    def regression(self) -> bool:
        return self.verdict == "regression"


def compare(key: str, base: dict[str, list[float]], cand: dict[str, list[float]], cfg: GateConfig) -> Verdict:
    common = sorted(set(base) & set(cand))
    if not common:
        raise HarnessError(f"{key}: the two runs have no item ids in common; were they run on the same data?")
    b = {i: base[i] for i in common}
    c = {i: cand[i] for i in common}
    d = paired_difference(b, c, level=cfg.level, n=cfg.bootstrap)
    sd = max(d["sd"] if math.isfinite(d["sd"]) else 0.0, sampling_noise_sd(b, c))
    tolerance = cfg.tolerance_for(key)
    if d["ci_high"] < 0 and -d["diff"] > tolerance:
        verdict = "regression"
    elif d["ci_high"] < 0:
        verdict = "drop within tolerance"
    elif d["ci_low"] > 0:
        verdict = "improved"
    else:
        verdict = "no significant change"
    k_base, k_cand = max(len(v) for v in b.values()), max(len(v) for v in c.values())
    return Verdict(
        key=key,
        n_items=len(common),
        k_baseline=k_base,
        k_candidate=k_cand,
        baseline=100.0 * sum(item_means(b).values()) / len(common),
        candidate=100.0 * sum(item_means(c).values()) / len(common),
        diff=d["diff"],
        ci_low=d["ci_low"],
        ci_high=d["ci_high"],
        tolerance=tolerance,
        detectable=min_detectable_effect(sd, len(common), cfg.level, cfg.power, k=min(k_base, k_cand)),
        verdict=verdict,
    )


def check_comparable(baseline: Run, candidate: Run) -> list[str]:
    """The benchmarks both runs have samples for; HarnessError when the runs cannot be compared."""
    if baseline.mode != candidate.mode:
        raise HarnessError(f"mode differs: baseline {baseline.path} is {baseline.mode}, candidate {candidate.path} is {candidate.mode}")
    common = sorted(set(sample_benchmarks(baseline)) & set(sample_benchmarks(candidate)))
    if not common:
        raise HarnessError(f"no benchmark has samples in both {baseline.path}/samples and {candidate.path}/samples")
    for bench in common:
        vb, vc = baseline.versions.get(bench), candidate.versions.get(bench)
        for run, v in ((baseline, vb), (candidate, vc)):
            if v is None:
                raise HarnessError(f"{run.path / 'run.json'}: 'versions' has no entry for {bench}; cannot tell whether its scores are comparable")
        if vb != vc:
            raise HarnessError(f"{bench}: task version {vb} in the baseline but {vc} in the candidate; scores are not comparable")
    return common


def gate(baseline: Run, candidate: Run, cfg: GateConfig) -> tuple[list[Verdict], list[str]]:
    """The verdicts, and notes on what could not be compared."""
    verdicts, notes = [], []
    plan, stops = planned_run_of(baseline, candidate)
    for bench in check_comparable(baseline, candidate):
        if plan is not None and bench in stops:
            verdicts.append(planned_verdict(bench, plan, stops[bench], baseline, candidate, cfg))
            continue
        base, cand = sample_scores(baseline, bench), sample_scores(candidate, bench)
        for key in sorted(set(base) | set(cand)):
            if key not in cand or key not in base:
                notes.append(f"{key}: only in the {'baseline' if key in base else 'candidate'}; not gated")
                continue
            only = {"baseline": len(set(base[key]) - set(cand[key])), "candidate": len(set(cand[key]) - set(base[key]))}
            if any(only.values()):  # paired on the common items only: say what was left out
                notes.append(f"{key}: " + ", ".join(f"{n} item(s) only in the {run}" for run, n in only.items() if n)
                             + "; compared on the items both runs have")
            verdicts.append(compare(key, base[key], cand[key], cfg))
    only = sorted(set(sample_benchmarks(baseline)) ^ set(sample_benchmarks(candidate)))
    notes += [f"{b}: samples in one run only; not gated" for b in only]
    return verdicts, notes


def planned_run_of(baseline: Run, candidate: Run) -> tuple[planfile.Plan | None, dict]:
    """The plan a candidate ran (run.json `plan`) and where each planned benchmark stopped; (None,
    {}) for a full run. HarnessError when the plan is gone or was made from another baseline."""
    config = json.loads((candidate.path / "run.json").read_text(encoding="utf-8"))
    record = config.get("plan")
    if not record:
        return None, {}
    where = candidate.path / "run.json"
    if not isinstance(record, dict) or not isinstance(record.get("path"), str) or not isinstance(record.get("benchmarks"), dict):
        raise HarnessError(f"{where}: field 'plan' must hold the plan's 'path' and its 'benchmarks' stops")
    plan = planfile.load_plan(Path(record["path"]))
    mine = planfile.baseline_fingerprint(planfile.baseline_scores(baseline))
    if plan.baseline["fingerprint"] != mine:
        raise HarnessError(f"{plan.path}: field 'baseline.fingerprint' is {plan.baseline['fingerprint']}, but --baseline {baseline.path} "
                           f"has {mine}: the candidate's planned samples pair only with the run the plan was made from")
    for bench, stop in record["benchmarks"].items():
        if not (isinstance(stop, dict) and isinstance(stop.get("draws_run"), int) and stop["draws_run"] > 0):
            raise HarnessError(f"{where}: field 'plan.benchmarks.{bench}.draws_run' is missing; expected the number of draws the run made")
        if bench not in plan.benchmarks or not plan.benchmarks[bench].planned:
            raise HarnessError(f"{where}: field 'plan.benchmarks.{bench}' names a benchmark that {plan.path} does not plan")
    return plan, record["benchmarks"]


def planned_verdict(bench: str, plan: planfile.Plan, stop: dict, baseline: Run, candidate: Run, cfg: GateConfig) -> Verdict:
    """A planned benchmark's verdict: the stopping rule replayed on the candidate's samples (not
    taken from run.json), with the estimate of the full run's difference and its anytime bounds.

    Δ is the Hansen-Hurwitz estimate of the full run's paired difference from the draws used; the
    "CI" column holds the two one-sided anytime bounds at the plan's alpha (csequence.bounds).
    "regression" means the draws showed Δ < -tolerance; "within tolerance" that they showed
    Δ > -tolerance; "undecided" that the plan ran out first (it passes, listed as a blind spot).
    """
    b = plan.benchmarks[bench]
    units = planfile.unit_records(candidate, bench) or {}
    cand = {u: v[0] for u, v in units.items()}
    n_run = min(stop["draws_run"], len(b.draws))
    z = planfile.draw_values(b, cand, n_run)
    tol = cfg.tolerance_for(bench)
    decision = csequence.decide(z, b.bound, tol / 100.0, plan.alpha)
    used = decision.draws
    low, high = csequence.bounds(z[:used], b.bound, plan.alpha)
    diff = 100.0 * float(sum(z[:used]) / used)
    if decision.verdict == "regression":
        verdict = "regression"
    elif decision.verdict == "within tolerance":
        verdict = "improved" if low > 0 else "within tolerance (shown)"
    else:
        verdict = "undecided at the plan's end"
    base_units = planfile.baseline_scores(baseline)[bench]
    base_score = 100.0 * sum(base_units.values()) / len(base_units)
    run_units = planfile.units_up_to(b, n_run)
    spent = sum((units[u][1] or 0.0) for u in run_units if u in units)
    full = float(b.design.get("full_tokens") or 0.0)
    var_z = float(_var(z[:n_run]))
    power = csequence.power_at(var_z, len(b.draws), tol / 100.0, plan.alpha, b.bound)  # a drop of 2 x tolerance, all draws
    from statistics import NormalDist

    x = NormalDist().inv_cdf(cfg.power)
    x = x + math.sqrt(x * x + 2 * math.log(1 / plan.alpha))
    detectable = tol + 100.0 * x * math.sqrt(max(var_z, 1e-12)) / math.sqrt(len(b.draws))
    return Verdict(
        key=bench, n_items=len({i for i, _ in run_units}), k_baseline=b.k, k_candidate=b.k,
        baseline=base_score, candidate=base_score + diff, diff=diff, ci_low=100.0 * low, ci_high=100.0 * high,
        tolerance=tol, detectable=detectable, verdict=verdict,
        planned={"plan": str(plan.path), "draws_planned": len(b.draws), "draws_run": n_run, "draws_used": used,
                 "samples_run": len(run_units), "samples_full": b.units, "items_full": b.n_items,
                 "tokens_run": spent, "tokens_full_baseline": full, "token_share": spent / full if full else None,
                 "power_at_twice_tolerance": power, "alpha": plan.alpha},
    )


def _var(z: list[float]) -> float:
    n = len(z)
    if n < 2:
        return 0.0
    mean = sum(z) / n
    return sum((x - mean) ** 2 for x in z) / (n - 1)


def _pts(x: float) -> str:
    return "n/a (one item)" if math.isinf(x) else f"{x:.1f}"


def scorer_warnings(baseline: Run, candidate: Run, allow_scorer_change: bool) -> list[str]:
    """What differs between the runs' scorers (run.json `scorer_fingerprint`) on the benchmarks
    gated: HarnessError unless `allow_scorer_change`, then the warnings for the summary."""
    changes = scorer_changes(baseline.scorer_fingerprint, candidate.scorer_fingerprint, check_comparable(baseline, candidate),
                             files=(str(baseline.path / "run.json"), str(candidate.path / "run.json")))
    if changes and not allow_scorer_change:
        raise HarnessError(
            "the scorer differs between the runs, so the same output may get another verdict: " + "; ".join(changes)
            + ". Rescore the older run's samples with the current installation, or pass --allow-scorer-change to compare anyway"
        )
    return [f"scorer changed, compared anyway (--allow-scorer-change): {c}" for c in changes]


def data_warnings(baseline: Run, candidate: Run, allow_data_change: bool) -> list[str]:
    """Benchmarks whose runs were made on different rows (run.json `data_fingerprints`: another
    revision, a --data-dir file, edited questions): the same item ids then name other questions, so
    a paired difference means nothing. HarnessError unless `allow_data_change`, then the warnings
    for the summary. A run that recorded no fingerprint for a benchmark cannot show it is the same."""
    changes = []
    for bench in check_comparable(baseline, candidate):
        fb, fc = baseline.data_fingerprints.get(bench), candidate.data_fingerprints.get(bench)
        if fb is not None and fb == fc:
            continue
        changes.append(f"{bench}: data fingerprint {fb or 'not recorded'} in {baseline.path / 'run.json'}, "
                       f"{fc or 'not recorded'} in {candidate.path / 'run.json'}")
    if changes and not allow_data_change:
        raise HarnessError(
            "the runs were not made on the same data, so their items cannot be paired: " + "; ".join(changes)
            + ". Run both on the same data, or pass --allow-data-change to compare anyway"
        )
    return [f"data changed, compared anyway (--allow-data-change): {c}" for c in changes]


def summary(baseline: Run, candidate: Run, verdicts: list[Verdict], notes: list[str], cfg: GateConfig, warnings: list[str] | None = None) -> str:
    failed = [v for v in verdicts if v.regression]
    head = "FAIL: " + ", ".join(v.key for v in failed) + " regressed" if failed else "PASS: no regression"
    level = f"{cfg.level:.0%}"
    lines = [
        f"## exaone-eval gate: {head}",
        "",
        f"- baseline: `{baseline.path}` ({baseline.model}, {baseline.mode})",
        f"- candidate: `{candidate.path}` ({candidate.model}, {candidate.mode})",
        f"- regression = the {level} CI of the paired difference lies below 0 AND the drop exceeds the tolerance",
        *(f"- **warning**: {w}" for w in warnings or ()),
        "",
        f"| Benchmark | Items | k (base/cand) | Baseline | Candidate | Δ | {level} CI of Δ | Tolerance | Detectable drop | Verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        mark = "**regression**" if v.regression else v.verdict
        lines.append(
            f"| {v.key} | {v.n_items} | {v.k_baseline}/{v.k_candidate} | {v.baseline:.1f} | {v.candidate:.1f} | {v.diff:+.1f} "
            f"| [{v.ci_low:+.1f}, {v.ci_high:+.1f}] | {v.tolerance:.1f} | {_pts(v.detectable)} | {mark} |"
        )
    planned = [v for v in verdicts if v.planned]
    if planned:
        lines += ["", f"Planned run (`run --plan`): Δ estimates the full run's paired difference from the draws used; its "
                  f"\"CI\" is the pair of one-sided anytime bounds at alpha {planned[0].planned['alpha']} (docs/gate.md, \"Planned gates\").", "",
                  "| Benchmark | Draws used / run / planned | Items | Samples run / full run | Tokens run / full run | Power at 2 x tolerance |",
                  "|---|---|---|---|---|---|"]
        for v in planned:
            p = v.planned
            share = f"{p['tokens_run']:,.0f} / {p['tokens_full_baseline']:,.0f} ({p['token_share']:.1%})" if p["token_share"] is not None else "n/a"
            lines.append(f"| {v.key} | {p['draws_used']} / {p['draws_run']} / {p['draws_planned']} | {v.n_items} of {p['items_full']} "
                         f"| {p['samples_run']} / {p['samples_full']} ({p['samples_run'] / p['samples_full']:.1%}) | {share} "
                         f"| {p['power_at_twice_tolerance']:.2f} |")
    blind = [v for v in verdicts if v.detectable > v.tolerance and not v.planned or v.verdict == "undecided at the plan's end"]
    lines.append("")
    lines.append(
        f"Detectable drop: the smallest true drop this item count and k catch with {cfg.power:.0%} probability "
        f"at the {level} level (docs/gate.md)."
    )
    if blind:
        lines.append(
            "Blind spots (a drop of the tolerance would likely pass unnoticed; add items or samples): "
            + ", ".join(f"{v.key} (sees ≥ {_pts(v.detectable)} pts, tolerance {v.tolerance:.1f})" for v in blind)
        )
    lines += [f"- note: {n}" for n in notes]
    return "\n".join(lines) + "\n"


def run_gate(baseline: Path, candidate: Path, config: Path | None, out: Path | None, allow_scorer_change: bool = False,
             allow_data_change: bool = False) -> int:
    """Print and write the Markdown summary; return 0 (pass) or 1 (regression)."""
    cfg = load_config(config)
    base_run, cand_run = load_run(Path(baseline)), load_run(Path(candidate))
    warnings = data_warnings(base_run, cand_run, allow_data_change) + scorer_warnings(base_run, cand_run, allow_scorer_change)
    verdicts, notes = gate(base_run, cand_run, cfg)
    text = summary(base_run, cand_run, verdicts, notes, cfg, warnings)
    print(text)
    path = Path(out) if out is not None else cand_run.path / "gate.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    # The same verdicts for machines (`exaone-eval report` links each regression to its broken items).
    path.with_suffix(".json").write_text(json.dumps(as_json(base_run, cand_run, verdicts, notes, warnings), indent=1) + "\n", encoding="utf-8")
    return 1 if any(v.regression for v in verdicts) else 0


def as_json(baseline: Run, candidate: Run, verdicts: list[Verdict], notes: list[str], warnings: list[str]) -> dict:
    """gate.json: the summary's verdicts as data; an infinite detectable drop (one item) is null."""
    rows = [{k: (None if isinstance(x, float) and math.isinf(x) else x) for k, x in dataclasses.asdict(v).items()} for v in verdicts]
    return {"passed": not any(v.regression for v in verdicts), "baseline": str(baseline.path), "candidate": str(candidate.path),
            "verdicts": rows, "notes": notes, "warnings": warnings}
