"""BFCL's decoders and simulated APIs, fed model output only through guards, and isolated.

BFCL (the `nvidia-bfcl` package, import `bfcl`) turns model output into Python and runs it:
its prompting decoders `eval` any arithmetic they find in an argument, and its multi-turn
executor (`execute_multi_turn_func_call`) builds `instance.method(args)` strings from the
model's calls and `eval`s them in its own module. Model output is hostile, so:

- `refuse_unsafe_arithmetic(text)` runs before every prompting decoder: arithmetic in an
  argument may hold numbers and operators only (and a small exponent);
- `call_refusal(call, methods)` runs before every model-written call string reaches BFCL's
  executor: a plain `name(literal, ..., kw=literal)` whose name is a method of the entry's API
  classes, with literal arguments only (no attribute access, no nested calls, no `**`, no
  dunder names). A refused call is never run: the model gets an execution error back, as BFCL
  feeds back a call that fails. Two MathAPI calls whose cost grows with their (literal)
  arguments are bounded too.

Isolation. BFCL caches API instances in its module globals, keyed by model name and entry id,
and the instances of its long-context scenarios share mutable data with module constants (a
TravelAPI booking can change a long-context credit card for every later instance). Every
execution here (one episode of the model, one check) gets a key of its own, its instances are
built fresh and deep-copied before BFCL sees them (so they own all their state), and they are
removed when it ends; the decimal and mpmath precision that MathAPI sets are restored. A verdict
never depends on another sample, entry or rerun in the same process.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import decimal
import importlib
import inspect
import itertools
import json

from exaone_eval.messages import tool_calls_of
from exaone_eval.types import Generation

NATIVE, PROMPTING = "native", "prompting"
STYLES = (NATIVE, PROMPTING)

# --- arithmetic guard of the prompting decoders ---------------------------------------------------

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


# --- decoding, as BFCL's handlers decode (OpenAI-compatible FC handler / prompting) --------------


def native_calls(gen: Generation) -> list[dict]:
    """The model's native calls as BFCL's FC handlers see them: `[{name: arguments}]`.

    Raises ValueError where BFCL's FC decoder fails: no calls at all (BFCL then decodes the
    text content, which fails) or arguments that are not JSON (BFCL's `json.loads` fails).
    """
    calls = tool_calls_of(gen)
    if not calls:
        raise ValueError("no tool calls (the model answered in text)")
    for call in calls:
        if "__unparsed__" in call["arguments"]:
            raise ValueError(f"the arguments of {call['name']!r} are not JSON")
    return [{call["name"]: call["arguments"]} for call in calls]


def decode_ast(gen: Generation, style: str, language: str = "Python") -> list[dict]:
    """BFCL's `decode_ast` for the style: `[{function name: {argument: value}}]`."""
    from bfcl.model_handler.utils import default_decode_ast_prompting

    if style == NATIVE:
        return native_calls(gen)
    if language == "Python":
        refuse_unsafe_arithmetic(gen.answer)
    return default_decode_ast_prompting(gen.answer, language)


def decode_execute(gen: Generation, style: str) -> list[str]:
    """BFCL's `decode_execute` for the style: call strings such as `cd(folder='docs')`."""
    from bfcl.model_handler.utils import convert_to_function_call, default_decode_execute_prompting

    if style == NATIVE:
        return convert_to_function_call(native_calls(gen))
    refuse_unsafe_arithmetic(gen.answer)
    return default_decode_execute_prompting(gen.answer)


# --- the call guard of the executor ---------------------------------------------------------------

# MathAPI computes on what it is given: an integer power or a precision can take the process
# down (`power(base=10, exponent=10**12)` written out as a literal). Bounds far above the data's.
MAX_INT_POWER_EXPONENT = 1024
MAX_PRECISION = 1000
REFUSED_CALL = "refused_by_exaone_eval()"
"""What the checker runs in place of a refused call: an undefined name, so BFCL's eval fails on
it (an execution error, as the refused call got during the episode) and nothing else happens."""


def call_refusal(call: str, methods: frozenset[str]) -> str | None:
    """Why the call string may not reach BFCL's executor, or None when it may.

    The message is what the model is told; for a name that is not one of the entry's methods it
    is BFCL's own (`name 'x' is not defined`, what its eval says for an unknown function).
    """
    try:
        node = ast.parse(call, mode="eval").body
    except (SyntaxError, ValueError):
        return "call refused: not a function call"
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        return "call refused: only a plain call `name(arg=value, ...)` may run"
    if node.func.id not in methods:
        return f"name '{node.func.id}' is not defined"
    values = {}
    for position, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            return "call refused: argument unpacking"
        values[position] = arg
    for keyword in node.keywords:
        if keyword.arg is None or keyword.arg.startswith("__"):
            return "call refused: argument unpacking or a dunder argument name"
        values[keyword.arg] = keyword.value
    literal = {}
    for name, value in values.items():
        try:
            literal[name] = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return f"call refused: the value of argument {name!r} is not a literal"
    return _math_refusal(node.func.id, literal)


def _math_refusal(name: str, args: dict) -> str | None:
    if name == "power":
        base, exponent = args.get("base", args.get(0)), args.get("exponent", args.get(1))
        if isinstance(base, int) and isinstance(exponent, int) and abs(exponent) > MAX_INT_POWER_EXPONENT:
            return f"call refused: integer exponent above {MAX_INT_POWER_EXPONENT}"
    if name in ("square_root", "logarithm"):
        precision = args.get("precision", args.get(1 if name == "square_root" else 2))
        if isinstance(precision, (int, float)) and abs(precision) > MAX_PRECISION:
            return f"call refused: precision above {MAX_PRECISION}"
    return None


# --- isolated simulated APIs ----------------------------------------------------------------------

_keys = itertools.count()


def _long_context(entry_id: str) -> bool:
    category = entry_id.rsplit("_", 1)[0]
    return "long_context" in category or "composite" in category  # BFCL's own rule


def api_methods(involved_classes: list[str]) -> frozenset[str]:
    """The public method names of the entry's API classes (what BFCL maps to `instance.method`)."""
    from bfcl.eval_checker.multi_turn_eval.multi_turn_utils import CLASS_FILE_PATH_MAPPING

    names = set()
    for class_name in involved_classes:
        cls = getattr(importlib.import_module(CLASS_FILE_PATH_MAPPING[class_name]), class_name)
        names |= {n for n, _ in inspect.getmembers(cls, predicate=inspect.isfunction) if not n.startswith("_")}
    return frozenset(names)


def _install(entry: dict, model_name: str) -> None:
    """Put fresh, self-owned instances where BFCL's executor looks for `model_name`'s instances
    of this entry (its own naming rule), so it uses them instead of building shared ones."""
    from bfcl.eval_checker.multi_turn_eval import multi_turn_utils as mtu

    for class_name in entry["involved_classes"]:
        cls = getattr(importlib.import_module(mtu.CLASS_FILE_PATH_MAPPING[class_name]), class_name)
        instance = cls()
        if class_name not in mtu.STATELESS_CLASSES:
            instance._load_scenario(copy.deepcopy(entry["initial_config"].get(class_name, {})), long_context=_long_context(entry["id"]))
        safe_name = model_name.replace("-", "_").replace(".", "_").replace("/", "_")
        vars(mtu)[f"{safe_name}_{entry['id']}_{class_name.lower()}_instance"] = copy.deepcopy(instance)


def _remove(key: str) -> None:
    from bfcl.eval_checker.multi_turn_eval import multi_turn_utils as mtu

    for name in [n for n in vars(mtu) if n.startswith(key + "_")]:
        del vars(mtu)[name]


@contextlib.contextmanager
def _numeric_context():
    """MathAPI sets the thread's decimal precision and mpmath's global one: restore both."""
    import mpmath

    dps = mpmath.mp.dps
    with decimal.localcontext():
        try:
            yield
        finally:
            mpmath.mp.dps = dps


class ApiSession:
    """One episode's simulated APIs: the entry's initial state, changed only by its own calls."""

    def __init__(self, entry: dict):
        self.entry = entry
        self.key = f"exaone_eval_{next(_keys)}"
        self.methods = api_methods(entry["involved_classes"])
        _install(entry, self.key)

    def execute(self, calls: list[str]) -> list[str]:
        """Each call's result (or error) text, in order; refused calls never run."""
        from bfcl.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call

        results = []
        for call in calls:
            reason = call_refusal(call, self.methods)
            if reason is not None:
                results.append(f"Error during execution: {reason}")
                continue
            with _numeric_context():
                out, _ = execute_multi_turn_func_call([call], self.entry["initial_config"], self.entry["involved_classes"],
                                                      self.key, self.entry["id"], long_context=_long_context(self.entry["id"]))
            results.extend(out)
        return results

    def close(self) -> None:
        _remove(self.key)

    def __enter__(self) -> "ApiSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_multi_turn(entry: dict, decoded_turns: list[list[list[str]]], ground_truth: list[list[str]]) -> dict:
    """BFCL's `multi_turn_checker` verdict (state and response checks after every turn), on fresh
    instances of its own; refused calls are replaced by a call that fails without running."""
    from bfcl.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    methods = api_methods(entry["involved_classes"])
    guarded = [[[REFUSED_CALL if call_refusal(c, methods) else c for c in step] for step in turn] for turn in decoded_turns]
    key = f"exaone_eval_{next(_keys)}"
    # The checker runs the model's calls as `<key>_eval` and the ground truth as `<key>_ground_truth_eval`.
    _install(entry, f"{key}_eval")
    _install(entry, f"{key}_ground_truth_eval")
    try:
        with _numeric_context():
            verdict = multi_turn_checker(guarded, ground_truth, entry, entry["id"].rsplit("_", 1)[0], key)
    except Exception as e:  # its asserts on instance counts; a malformed episode is simply wrong
        verdict = {"valid": False, "error_type": "multi_turn:checker_raised", "error_message": f"{type(e).__name__}: {e}"}
    finally:
        _remove(key)
    return verdict


def plain(value):
    """JSON values only (tuples become lists; anything else its repr)."""
    return json.loads(json.dumps(value, default=repr))
