"""BFCL-v3: the Berkeley Function Calling Leaderboard, every scored category.

Patil et al., "The Berkeley Function Calling Leaderboard (BFCL)", ICML 2025
(gorilla.cs.berkeley.edu/leaderboard); data, decoders, simulated APIs and checkers from the PyPI
package `nvidia-bfcl` (import `bfcl`), installed with `pip install --no-deps nvidia-bfcl==26.3`
plus the few dependencies it imports (see docs/bfcl.md). Feeds the "BFCL-v3" row of Tables 3-6
(Agentic Tool Use), and is the benchmark of the offline `demo` suite.

Categories: non-live (simple = python, java, javascript; multiple; parallel; parallel_multiple;
irrelevance), live (live_simple, live_multiple, live_parallel, live_parallel_multiple,
live_irrelevance, live_relevance) and multi-turn (multi_turn_base, multi_turn_miss_func,
multi_turn_miss_param, multi_turn_long_context: 200 each). Item ids are BFCL's own.

Calling style (`[options] style` in tasks/bfcl_v3.toml, resolved per run and recorded with its
scores): `native` sends the function docs as OpenAI `tools` (BFCL's `convert_to_tool`, dots in
names become `_`) and reads the server's parsed calls (vLLM's hermes parser for EXAONE) or
`<tool_call>` blocks, as BFCL's OpenAI-compatible FC handler does; `prompting` puts the docs in
BFCL's system prompt and decodes `[func(arg=val)]` text with BFCL's decoders. `auto` (the
default) is native for EXAONE models and prompting for any other (the demo model's chat template
has no tools).

Every item is a conversation (`converse`). A single-turn item is one agent turn, judged by BFCL's
`ast_checker`; the irrelevance / relevance categories pass when the output holds no call / a
call, as BFCL's `relevance_file_runner` rules. A multi-turn item runs BFCL's inference loop
(`bfcl_handler.py`: per user turn, the model's calls run on BFCL's simulated APIs and the results
go back, step after step, up to BFCL's step limit). It is then judged as BFCL's `multi_turn_runner` judges it: an episode with fewer turns than
the ground truth fails (`multi_turn:force_terminated`), any other goes to BFCL's
`multi_turn_checker` (state and execution-response checks after each turn). Model output
reaches BFCL's `eval` only through the guards of exaone_eval/scoring/bfcl.py, and every
execution and check is isolated there.

Overall, as the final v3 leaderboard defines it (the package computes an older formula):
Overall = mean(Non-live, Live, Multi-turn); Non-live = mean(simple AST = mean of python, java,
javascript; multiple; parallel; parallel_multiple; irrelevance); Live = item-weighted over the
live categories; Multi-turn = mean of its four. It is the headline once every part is present.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
from pathlib import Path

from exaone_eval.benchmarks.bfcl_handler import converse_multi_turn, tools_of
from exaone_eval.messages import assistant_message, tool_calls_of
from exaone_eval.scoring.bfcl import NATIVE, PROMPTING, STYLES, check_multi_turn, decode_ast, plain
from exaone_eval.types import BuildContext, Episode, Generation, HarnessError, Item, Score

INSTALL_HINT = (
    "pip install --no-deps nvidia-bfcl==26.3 tenacity mpmath tree-sitter==0.21.3 "
    "tree-sitter-java==0.21.0 tree-sitter-javascript==0.21.4"
)
# The model name BFCL's ast_checker sees. Prompt-style output keeps dotted names, so it must not
# be one of BFCL's FC models; native calls have `_` for `.` (OpenAI names allow no dots), and the
# checker compares them so for the names in its UNDERSCORE_TO_DOT list, where the package's own
# OpenAI handler adds a native-calling model (and so do we, on first use).
CHECKER_MODEL = {PROMPTING: "exaone-eval-prompting", NATIVE: "exaone-eval-native-FC"}

NON_LIVE_SIMPLE = ("simple", "java", "javascript")
NON_LIVE = NON_LIVE_SIMPLE + ("multiple", "parallel", "parallel_multiple", "irrelevance")
LIVE = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance")
MULTI_TURN = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
SUPPORTED = NON_LIVE + LIVE + MULTI_TURN
RELEVANCE = ("irrelevance", "live_irrelevance", "live_relevance")
LANGUAGE = {"java": "Java", "javascript": "JavaScript"}

SCORES_SAVED_RESPONSES = True
"""`exaone-eval score` judges saved single-turn responses (a multi-turn item is refused there)."""

HEADLINE_METRIC = "overall"
"""The report's BFCL-v3 figure; the runner makes it the headline once it is complete (a partial
run's headline is the mean over items, and its summaries name what they miss)."""


def check_ready() -> None:
    try:
        import bfcl.eval_checker.ast_eval.ast_checker  # noqa: F401
        import bfcl.eval_checker.multi_turn_eval.multi_turn_checker  # noqa: F401
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


# --- rows ---------------------------------------------------------------------------------------


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


def _with_function_docs(entry: dict, folder: Path) -> dict:
    """A multi-turn entry as BFCL's `process_multi_turn_test_case` prepares it: the docs of its API
    classes in `function`, minus the held-back ones, which `missed_function` maps (turn -> docs).
    Written here because that helper lives in the package's CLI module, whose imports need an
    inference stack the harness does not install."""
    from bfcl.constant import MULTI_TURN_FUNC_DOC_FILE_MAPPING

    functions = []
    for class_name in entry["involved_classes"]:
        functions += _read_entries(folder / "multi_turn_func_doc" / MULTI_TURN_FUNC_DOC_FILE_MAPPING[class_name])
    missed: dict[str, list[dict]] = {}
    for turn, names in entry.get("missed_function", {}).items():
        missed[turn] = []
        for name in names:  # BFCL moves the first doc of each name
            index = next((i for i, doc in enumerate(functions) if doc["name"] == name), None)
            if index is not None:
                missed[turn].append(functions.pop(index))
    return {**entry, "function": functions, **({"missed_function": missed} if "missed_function" in entry else {})}


def load_rows(spec, data_dir: Path | None = None) -> list[dict]:
    """The rows of the spec's categories from nvidia-bfcl's data files: BFCL's test entries with
    the matching `ground_truth` of `possible_answer/` merged in (none for the relevance
    categories), multi-turn entries with their function docs. `data_dir` is not used: the data
    layer reads `DIR/bfcl_v3.jsonl` (rows of this same shape) itself before asking this hook."""
    check_ready()
    folder = Path(str(importlib.resources.files("bfcl") / "data"))
    rows = []
    for category in spec.configs or SUPPORTED:
        if category not in SUPPORTED:
            raise HarnessError(f"tasks/{spec.name}.toml: category {category!r} is not supported; expected some of {list(SUPPORTED)}")
        entries = _unique_ids(_read_entries(folder / f"BFCL_v3_{category}.json"))
        if category in MULTI_TURN:
            entries = [_with_function_docs(entry, folder) for entry in entries]
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


# --- items ----------------------------------------------------------------------------------------


def style_for(options: dict, model) -> str:
    """The calling style of a run: `[options] style`, where `auto` means native for EXAONE models."""
    style = options.get("style", "auto")
    if style == "auto":
        return NATIVE if "exaone" in f"{model.name} {model.hf_id}".lower() else PROMPTING
    if style not in STYLES:
        raise HarnessError(f"tasks/bfcl_v3.toml: [options] style is {style!r}; expected auto, native or prompting")
    return style


def iter_items(ctx: BuildContext):
    """The items of a run, in its calling style (it depends on the model under test)."""
    from exaone_eval.data import load_rows as data_rows, origin_of, two_origins

    style = style_for(ctx.spec.options, ctx.model)
    rows, fingerprint = data_rows(ctx.spec, ctx.data_dir)
    ctx.fingerprints.update(rows=fingerprint, style=style)
    first_at: dict[str, str] = {}  # item id -> where its row is
    for i, row in enumerate(rows):
        where = origin_of(rows, i, f"row {i + 1}")
        try:
            item = to_item(row, style)
        except (KeyError, TypeError, ValueError) as e:
            raise HarnessError(f"bfcl_v3: {where}: cannot build a prompt ({type(e).__name__}: {e})") from None
        if item.id in first_at:
            raise HarnessError(f"bfcl_v3: duplicate item id {item.id!r}: {two_origins(first_at[item.id], where)}")
        first_at[item.id] = where
        yield item


def first_messages(question: list[dict], functions: list[dict], category: str, style: str) -> list[dict]:
    """The first turn's messages: the question as it is (native), or with BFCL's system prompt
    holding the docs with BFCL's language hints in front (prompting)."""
    from bfcl.model_handler.utils import func_doc_language_specific_pre_processing, system_prompt_pre_processing_chat_model

    if style == NATIVE:
        return copy.deepcopy(question)
    docs = func_doc_language_specific_pre_processing(copy.deepcopy(functions), category)
    return system_prompt_pre_processing_chat_model(copy.deepcopy(question), docs, category)


def to_item(row: dict, style: str) -> Item:
    item_id = str(row["id"])
    category = category_of(item_id)
    if category not in SUPPORTED:
        raise ValueError(f"id {item_id!r}: category {category!r} is not a supported BFCL-v3 category")
    if category not in RELEVANCE and "ground_truth" not in row:
        raise ValueError(f"id {item_id!r}: missing field 'ground_truth'")
    multi_turn = category in MULTI_TURN
    if multi_turn and not re.fullmatch(r"\w+", item_id):  # BFCL's executor names API instances after it
        raise ValueError(f"id {item_id!r}: a multi-turn id may hold letters, digits and '_' only")
    if not multi_turn and len(row["question"]) != 1:
        raise ValueError(f"id {item_id!r}: a single-turn entry needs exactly one turn in 'question'")
    messages = first_messages(row["question"][0], row["function"], category, style)
    tools = tools_of(copy.deepcopy(row["function"]), category) if style == NATIVE else None
    if multi_turn:
        entry = {key: row[key] for key in ("id", "question", "function", "initial_config", "involved_classes")}
        reference = {"entry": {**entry, "missed_function": row.get("missed_function", {})}, "ground_truth": row["ground_truth"]}
    else:
        # The checker reads the original docs (types before the language hints), as BFCL's runner does.
        reference = {"functions": row["function"], "ground_truth": row.get("ground_truth")}
    return Item(id=item_id, messages=tuple(messages), reference=reference, tools=tuple(tools) if tools else None,
                meta={"category": category, "style": style})


# --- the episode ----------------------------------------------------------------------------------


async def converse(item: Item, chat) -> Episode:
    if item.meta["category"] in MULTI_TURN:
        return await converse_multi_turn(item, chat)
    gen = await chat(list(item.messages), tools=list(item.tools) if item.tools else None)
    return Episode(messages=item.messages + (assistant_message(gen),), result={"answer": gen.answer, "tool_calls": tool_calls_of(gen)},
                   response=gen.text)


# --- verdicts -------------------------------------------------------------------------------------


def score(item: Item, outcome: Episode | Generation) -> Score:
    """The verdict on an episode (a run) or on one saved generation (`exaone-eval score`)."""
    if item.meta["category"] in MULTI_TURN:
        if not isinstance(outcome, Episode):
            raise HarnessError(f"bfcl_v3: {item.id} is a multi-turn conversation; it is scored from a run, not from one response")
        return score_multi_turn(item, outcome)
    if isinstance(outcome, Generation):
        return score_single_turn(item, outcome)
    agent = [t for t in outcome.turns if t["role"] == "agent"]
    if not all(t["reasoning_closed"] for t in agent):  # the harness-wide rule for a cut reasoning
        return Score(0.0, None, {"category": item.meta["category"], "truncated": True})
    calls = outcome.result["tool_calls"]
    gen = Generation(text=outcome.response, reasoning=None, answer=outcome.result["answer"],
                     tool_calls=tuple({"id": c["id"], "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls) or None)
    return score_single_turn(item, gen)


def _checker_model(style: str) -> str:
    from bfcl.model_handler.constant import UNDERSCORE_TO_DOT

    name = CHECKER_MODEL[style]
    if style == NATIVE and name not in UNDERSCORE_TO_DOT:
        UNDERSCORE_TO_DOT.append(name)
    return name


def score_single_turn(item: Item, gen: Generation) -> Score:
    from bfcl.eval_checker.ast_eval.ast_checker import ast_checker
    from bfcl.utils import is_empty_output, is_function_calling_format_output

    category, style = item.meta["category"], item.meta["style"]
    language = "Python" if category in RELEVANCE else LANGUAGE.get(category, "Python")
    try:
        decoded, decode_error = decode_ast(gen, style, language), None
    except Exception as e:  # the decoders raise SyntaxError, AssertionError, ValueError, ... on free text
        decoded, decode_error = None, f"{type(e).__name__}: {e}"

    if category in RELEVANCE:
        has_call = decoded is not None and not is_empty_output(decoded)
        detail = {"category": category, "has_call": has_call}
        return Score(float(has_call == (category == "live_relevance")), extracted=plain(decoded) if has_call else [], detail=detail)

    if decoded is None:
        return Score(0.0, None, {"category": category, "error_type": "ast_decoder:decoder_failed", "error": decode_error})
    if not is_function_calling_format_output(decoded):
        return Score(0.0, None, {"category": category, "error_type": "ast_decoder:decoder_wrong_output_format"})
    ref = item.reference
    try:
        verdict = ast_checker(ref["functions"], decoded, ref["ground_truth"], language, category, _checker_model(style))
    except Exception as e:  # the official runner would crash here; a malformed call is simply wrong
        verdict = {"valid": False, "error": [f"{type(e).__name__}: {e}"], "error_type": "ast_checker:raised"}
    detail = {"category": category}
    if not verdict["valid"]:
        detail.update(error_type=verdict.get("error_type"), error=plain(verdict.get("error")))
    return Score(float(verdict["valid"]), extracted=plain(decoded), detail=detail)


def score_multi_turn(item: Item, episode: Episode) -> Score:
    """BFCL's multi_turn_runner: an episode whose turns are fewer than the ground truth's fails
    (BFCL reads that as force-terminated); otherwise each turn's decoded, non-empty steps go to
    BFCL's multi_turn_checker. The step limit itself is no verdict: reached in the last turn, it
    leaves every turn in place and the calls are checked like any others."""
    ground_truth = item.reference["ground_truth"]
    decoded = [[step["decoded"] for step in turn if step["decoded"] and step["decoded"] != [""]] for turn in episode.result["turns"]]
    detail = {"category": item.meta["category"], "steps": [len(turn) for turn in episode.result["turns"]]}
    if episode.result["terminated"] is not None:
        detail["terminated"] = episode.result["terminated"]
    if len(decoded) != len(ground_truth):
        # BFCL's message word for word, so our sample and its score file read alike.
        error = (f"Model was force-terminated during inference phase. The length of the model result turns ({len(decoded)}) "
                 f"does not match the length of the ground truth turns ({len(ground_truth)}).")
        return Score(0.0, decoded, {**detail, "error_type": "multi_turn:force_terminated", "error": error})
    verdict = check_multi_turn(item.reference["entry"], decoded, ground_truth)
    if not verdict["valid"]:
        detail.update(error_type=verdict.get("error_type"), error=verdict.get("error_message"))
    return Score(float(verdict["valid"]), extracted=decoded, detail=detail)


# --- summaries ------------------------------------------------------------------------------------


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
    javascript)`: a partial figure is never read as the full one.
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
    multi_turn = [acc[c] for c in MULTI_TURN if c in acc]
    if multi_turn:
        summaries["multi_turn"] = (_mean(multi_turn), _missing(acc, *((c, (c,)) for c in MULTI_TURN)))
    totals = [summaries[g][0] for g in ("non_live", "live", "multi_turn") if g in summaries]
    if totals:
        missing = _missing(acc, ("non_live", NON_LIVE), ("live", LIVE), ("multi_turn", MULTI_TURN))
        summaries["overall"] = (_mean(totals), missing)

    for name, (value, missing) in summaries.items():
        out[f"{name} (missing {', '.join(missing)})" if missing else name] = value
    return out


def setting(records: list[tuple[Item, Score]]) -> str:
    """How the run called functions, shown beside its score in the tables."""
    styles = sorted({item.meta["style"] for item, _ in records})
    return "/".join(f"{s} calling" if s == NATIVE else s for s in styles)
