"""HELMET's GPT-4o judge prompts, read at run time from the user's own copy of HELMET's scripts.

narrativeqa, infbench_sum_eng and multi_lexsum are scored by an LLM judge with the prompts of
princeton-nlp/HELMET `scripts/eval_gpt4_longqa.py` (`judge_prompt`) and `scripts/eval_gpt4_summ.py`
(`fluency_prompt`, `recall_prompt`, `precision_prompt` and their `_book` variants for InfiniteBench
novels). Those prompts are long (worked examples inside) and are not ours to ship, so the project
holds none of their text: the user copies the two scripts beside HELMET's data tree,
`DIR/helmet/scripts/` for `--data-dir DIR` (docs/helmet-longbench.md).

The files are parsed, never run: `ast` reads each module-level `name = "..."` assignment whose
value is a plain string literal (no f-string, no expression), and a prompt is taken by its
assignment name. The texts are `str.format` templates as HELMET uses them (`{{` is a literal brace).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

from exaone_eval.types import HarnessError

SCRIPTS = "scripts"
"""The folder, inside HELMET's data root (`DIR/helmet/`), that holds the user's copy of HELMET's scripts."""

# our name -> (HELMET's script, the assignment name in it)
PROMPT_SOURCES = {
    "longqa": ("eval_gpt4_longqa.py", "judge_prompt"),
    "fluency_legal": ("eval_gpt4_summ.py", "fluency_prompt"),
    "recall_legal": ("eval_gpt4_summ.py", "recall_prompt"),
    "precision_legal": ("eval_gpt4_summ.py", "precision_prompt"),
    "fluency_book": ("eval_gpt4_summ.py", "fluency_prompt_book"),
    "recall_book": ("eval_gpt4_summ.py", "recall_prompt_book"),
    "precision_book": ("eval_gpt4_summ.py", "precision_prompt_book"),
}
JUDGED = ("narrativeqa", "infbench_sum_eng", "multi_lexsum")


def scripts_dir(helmet_root: Path | None, data_dir) -> Path:
    """Where the scripts are looked for: `<HELMET data root>/scripts/` (`DIR/helmet/scripts/`)."""
    root = helmet_root if helmet_root is not None else Path(data_dir or "DIR") / "helmet"
    return root / SCRIPTS


def string_constants(path: Path) -> dict[str, str]:
    """Every module-level `name = "literal"` of a Python file, read with `ast` (the file is never
    executed or imported); a name bound more than once keeps its last value, as Python would.
    A name bound to anything but a plain string literal maps to None."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as e:
        raise HarnessError(f"helmet: cannot read {path}: {e.strerror or e}") from None
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as e:
        raise HarnessError(f"helmet: {path} line {e.lineno}: not valid Python ({e.msg}); expected HELMET's own script") from None
    found: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        literal = value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = literal
    return found


@functools.lru_cache(maxsize=8)
def load(scripts: str) -> dict[str, str]:
    """Our prompt name -> HELMET's text, from the scripts in folder `scripts`; a HarnessError names
    the file, and the assignment name, that is missing."""
    folder = Path(scripts)
    constants: dict[str, dict[str, str | None]] = {}
    prompts = {}
    for ours, (file, name) in PROMPT_SOURCES.items():
        path = folder / file
        if file not in constants:
            if not path.is_file():
                raise HarnessError(
                    f"helmet: {path} not found: {', '.join(JUDGED)} are scored by an LLM judge with HELMET's GPT-4o prompts, "
                    f"read from your copy of princeton-nlp/HELMET's scripts/{file}: put HELMET's scripts/eval_gpt4_longqa.py and "
                    f"scripts/eval_gpt4_summ.py in {folder} (beside the data tree of --data-dir DIR), or run without "
                    "--judge-base-url to leave those datasets unscored (docs/helmet-longbench.md)"
                )
            constants[file] = string_constants(path)
        if name not in constants[file]:
            raise HarnessError(f"helmet: {path} has no module-level assignment `{name} = \"...\"` (HELMET's judge prompt); "
                               f"expected HELMET's own scripts/{file}")
        text = constants[file][name]
        if text is None:
            raise HarnessError(f"helmet: {path}: `{name}` is not a plain string literal (an f-string or an expression); "
                               f"it is read, not run: expected HELMET's own scripts/{file}")
        prompts[ours] = text
    return prompts


def fingerprint(prompts: dict[str, str]) -> str:
    """A hash of the judge prompts used, for run.json."""
    return hashlib.sha256("\0".join(prompts[k] for k in sorted(prompts)).encode("utf-8")).hexdigest()[:16]
