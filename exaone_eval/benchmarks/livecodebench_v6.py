"""LiveCodeBench v6: the "LiveCodeBench v6" row of Tables 3-6 and Table 7 (reasoning budget).

All logic is shared with v5/v6 in livecodebench.py (paper, prompt, extraction, verdicts, sandbox);
this module only names its task spec, tasks/livecodebench_v6.toml, whose [options] hold the
release and date window (default: problems dated 2025-02-01 to 2025-05-01 of release_v6 (175); the report does not state its window) and the sandbox
settings.
"""

from __future__ import annotations

from exaone_eval.benchmarks import livecodebench
from exaone_eval.benchmarks.livecodebench import metrics, to_item  # noqa: F401  (the module's hooks)
from exaone_eval.types import Generation, Item, Score

NAME = "livecodebench_v6"


def load_rows(spec, data_dir) -> list[dict]:
    return livecodebench.load_hub_rows(NAME, spec)


def keep_row(row: dict) -> bool:
    return livecodebench.in_window(NAME, row)


def score(item: Item, gen: Generation) -> Score:
    return livecodebench.score(NAME, item, gen)


def scoring_executor(cfg):
    return livecodebench.scoring_executor(NAME, cfg)
