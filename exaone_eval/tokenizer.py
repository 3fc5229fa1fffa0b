"""The evaluated model's tokenizer, from local files only (the harness never reaches the Hub for it).

Needed only where lengths are counted in the model's own tokens (long-context prompts, the budget
sweep over a server); a run against a server needs nothing of the model otherwise.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from exaone_eval.types import HarnessError


def checkpoint_tokenizer(path: Path):
    """The checkpoint's tokenizer (with its chat template), from local files only."""
    from transformers import AutoTokenizer, PretrainedConfig

    kwargs = {}
    raw = json.loads((path / "config.json").read_text(encoding="utf-8"))
    if isinstance(raw.get("sliding_window_pattern"), str) and raw.get("layer_types") is None:
        # transformers' Exaone4Config crashes on the string form ("LLLG") when it has to expand it
        # itself, and AutoTokenizer parses config.json; tokenizer_config.json names the class anyway.
        kwargs["config"] = PretrainedConfig()
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True, **kwargs)
    except Exception as e:
        raise HarnessError(f"{path}: cannot load the tokenizer ({type(e).__name__}: {e})") from None


@lru_cache(maxsize=4)
def load_tokenizer(name: str, purpose: str = "this benchmark counts lengths in the evaluated model's own tokens"):
    """`name` is a local checkpoint / tokenizer folder or an HF id already in the local cache.
    `purpose` says, in a failure message, why the tokenizer is needed."""
    path = Path(name).expanduser()
    try:
        if (path / "config.json").is_file():
            return checkpoint_tokenizer(path)
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except HarnessError:
        raise
    except ImportError as e:
        raise HarnessError(f"{purpose}, and loading a tokenizer needs transformers: pip install 'exaone-eval[sweep]' ({e})") from None
    except Exception as e:  # transformers raises OSError, ValueError, ... for missing or broken files
        first = str(e).splitlines()[0][:200] if str(e) else ""
        raise HarnessError(
            f"{purpose}, which needs the model's tokenizer: {name!r} could not be loaded from local files "
            f"({type(e).__name__}: {first}); pass --tokenizer PATH (a folder with tokenizer.json and "
            "tokenizer_config.json) or an HF id already in the local cache"
        ) from None
