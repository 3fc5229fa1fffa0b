"""LiveCodeBench v6: the "LiveCodeBench v6" row of Tables 3-6 and Table 7 (reasoning budget).

All logic is shared with v5/v6 in livecodebench.py (paper, prompt, extraction, verdicts, sandbox);
this module only names its task spec, tasks/livecodebench_v6.toml, whose [options] hold the
release and date window (default: problems dated 2025-02-01 to 2025-05-01 of release_v6 (175); the report does not state its window) and the sandbox
settings.
"""

from __future__ import annotations

from exaone_eval.benchmarks import livecodebench
from exaone_eval.benchmarks.livecodebench import metrics, to_item  # noqa: F401  (the module's hooks)

load_rows, keep_row, score, scoring_executor = livecodebench.version_hooks("livecodebench_v6")
