"""IFEval verdicts from the official instruction registry that lm-eval ships.

The checkers are not rewritten here: `lm_eval.tasks.ifeval.utils` holds the google-research
registry and its strict / loose test functions, so our verdicts equal lm-eval's (and Google's)
for the same response, including their rule that drops falsy kwargs before building a checker.

The checkers tokenize with NLTK's `punkt_tab`, which nltk would download at import time. We look
for an installed copy first (NLTK_DATA and nltk's own paths, then the copy the
`llama-index-core` wheel ships), download it only when that fails, and otherwise stop with a
message that says how to provide it.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from exaone_eval.types import HarnessError

PUNKT = "tokenizers/punkt_tab"
_BUNDLED_CACHE = Path("llama_index") / "core" / "_static" / "nltk_cache"

PUNKT_MISSING = (
    "IFEval's checkers need NLTK's punkt_tab data, which is not installed and could not be downloaded. "
    "Provide it offline with `pip install --no-deps llama-index-core` (its wheel ships a copy), or "
    "online with `python -m nltk.downloader punkt_tab`, or point NLTK_DATA at a folder holding tokenizers/punkt_tab"
)


def _bundled_nltk_dirs() -> list[Path]:
    return [Path(p) / _BUNDLED_CACHE for p in sys.path if p and (Path(p) / _BUNDLED_CACHE / PUNKT).is_dir()]


@lru_cache(maxsize=None)
def ensure_punkt() -> None:
    """Make nltk find punkt_tab without a download when a copy is installed."""
    import nltk

    try:
        nltk.data.find(PUNKT)
        return
    except LookupError:
        pass
    for folder in _bundled_nltk_dirs():
        nltk.data.path.append(str(folder))
        try:
            nltk.data.find(PUNKT)
            return
        except LookupError:
            continue
    try:
        ok = nltk.download("punkt_tab", quiet=True, raise_on_error=False)
    except Exception:  # offline: nltk raises URL errors of several kinds
        ok = False
    if not ok:
        raise HarnessError(PUNKT_MISSING)


@lru_cache(maxsize=None)
def _lm_eval_ifeval():
    ensure_punkt()
    from langdetect import DetectorFactory
    from lm_eval.tasks.ifeval import utils

    # langdetect samples at random unless seeded; neither Google's code nor lm-eval seeds it, so
    # the language checker's verdict on a mixed-language answer could flip between runs.
    DetectorFactory.seed = 0
    return utils


def check_instructions(key: int, prompt: str, instruction_ids: list[str], kwargs: list[dict], response: str) -> dict:
    """The four IFEval verdicts for one response."""
    utils = _lm_eval_ifeval()
    inp = utils.InputExample(key=key, instruction_id_list=instruction_ids, prompt=prompt, kwargs=kwargs)
    strict = utils.test_instruction_following_strict(inp, response)
    loose = utils.test_instruction_following_loose(inp, response)
    return {
        "prompt_level_strict": bool(strict.follow_all_instructions),
        "prompt_level_loose": bool(loose.follow_all_instructions),
        "inst_level_strict": [bool(x) for x in strict.follow_instruction_list],
        "inst_level_loose": [bool(x) for x in loose.follow_instruction_list],
    }
