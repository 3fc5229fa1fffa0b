"""IFEval verdicts from the official instruction registry that lm-eval ships.

The checkers are not rewritten here: `lm_eval.tasks.ifeval.utils` holds the google-research
registry and its strict / loose test functions, so our verdicts equal lm-eval's (and Google's)
for the same response, including their rule that drops falsy kwargs before building a checker.

The checkers tokenize with NLTK's `punkt_tab`, which nltk would download at import time. We look
for an installed copy first (NLTK_DATA and nltk's own paths, then the copy the
`llama-index-core` wheel ships), download it only when that fails, and otherwise stop with a
message that says how to provide it.

Same response, same verdict, in any process. A few checkers draw an argument from Python's
global `random` when the item's own is unusable (google/IFEval keys 1122 and 1129 ask for the
"letter" '#' and '!', which `LetterFrequencyChecker` replaces by a random letter; a falsy kwarg,
which lm-eval drops, would do the same for other checkers). Google's code and lm-eval's copy use
whatever state the process's global generator is in, so those verdicts changed from run to run.
Here every such draw comes from a generator seeded by (item key, instruction index, instruction
id): the verdicts equal the official ones wherever the official code is deterministic, and are
the same everywhere otherwise (docs/official-parity.md, "Random fallbacks of the IFEval checkers").
"""

from __future__ import annotations

import hashlib
import random
import sys
import threading
from contextlib import contextmanager
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


def fallback_seed(key, index: int, instruction_id: str) -> int:
    """The seed of one instruction's random fallbacks: a function of the item alone."""
    digest = hashlib.sha256(f"{key}\x1f{index}\x1f{instruction_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


# The checkers call `random.choice(...)` etc. on the module `random` they imported; we cannot pass
# them a generator, and we do not edit lm-eval. So while one instruction is checked, the name
# `random` in each loaded lm-eval IFEval module points at a seeded `random.Random` instead (it has
# the same methods), and is put back afterwards. The lock keeps threads of one process from seeing
# each other's generator; each process (and each pool worker) has its own modules, so no lock is
# needed across processes. The global generator is never drawn from, nor reseeded.
_FALLBACK_LOCK = threading.Lock()
_CHECKER_MODULES = "lm_eval.tasks.ifeval"


@contextmanager
def seeded_fallbacks(seed: int):
    with _FALLBACK_LOCK:
        modules = [m for name, m in list(sys.modules.items())
                   if name.startswith(_CHECKER_MODULES) and getattr(m, "random", None) is random]
        generator = random.Random(seed)
        for module in modules:
            module.random = generator
        try:
            yield generator
        finally:
            for module in modules:
                module.random = random


def check_instructions(key, prompt: str, instruction_ids: list[str], kwargs: list[dict], response: str) -> dict:
    """The four IFEval verdicts for one response.

    `key` identifies the item (IFEval's `key`; a benchmark with turns, such as Multi-IF, includes
    the turn): it seeds the checkers' random fallbacks. Each instruction is checked on its own
    (the official functions check instructions independently, so the verdicts are the same), with
    its own seed, the same for the strict and the loose test.
    """
    utils = _lm_eval_ifeval()
    if len(kwargs) != len(instruction_ids):
        raise HarnessError(f"IFEval item {key}: {len(instruction_ids)} instructions but {len(kwargs)} kwargs entries; expected one per instruction")
    strict, loose = [], []
    for index, (instruction_id, instruction_kwargs) in enumerate(zip(instruction_ids, kwargs)):
        one = utils.InputExample(key=key, instruction_id_list=[instruction_id], prompt=prompt, kwargs=[instruction_kwargs])
        seed = fallback_seed(key, index, instruction_id)
        with seeded_fallbacks(seed):
            strict.append(bool(utils.test_instruction_following_strict(one, response).follow_all_instructions))
        with seeded_fallbacks(seed):
            loose.append(bool(utils.test_instruction_following_loose(one, response).follow_all_instructions))
    return {
        "prompt_level_strict": all(strict),
        "prompt_level_loose": all(loose),
        "inst_level_strict": strict,
        "inst_level_loose": loose,
    }
