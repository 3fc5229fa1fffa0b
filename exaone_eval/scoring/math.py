"""Math answers: the last \\boxed{...} of the answer part, compared with math-verify.

MathArena (AIME 2025, HMMT Feb 2025) and Qwen's evaluation both take the last boxed expression.
With no \\boxed{} at all, AIME and HMMT read the last integer, as MathArena's configs
(`strict_parsing: false`) do (`score_matharena`); KSM and MATH500 (ES) read no answer, where
HRM8K's math-verify mode would read whatever math-verify finds: an intentional difference that
tests/test_official_parity.py names. math-verify decides equivalence (\\frac{1}{2} = 0.5 =
\\dfrac12; 070 = 70); one trailing period is dropped first ("70." = 70), as MathArena and Qwen's
normalisers do. Where MathArena's own parser misreads a form (\\boxed{\\text{117}},
\\boxed{\\textbf{70}}), math-verify reads the number and we count it. A string fast path answers
the common exact matches before the symbolic check, which costs milliseconds.
"""

from __future__ import annotations

import re
import threading

from exaone_eval.types import Score

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_INTEGER = re.compile(r"[+-]?\d+")
_LAST_INTEGER = re.compile(r"\b\d+\b")  # MathArena's extract_last_integer pattern
_TIMEOUT_S = 5  # math-verify's own default, per parse and per verify
# math-verify compares a decimal with an exact value to 6 decimal places by default (1/576 =
# 0.001736). MathArena's check_answers wants them within 1e-10: its rows compare to 10 places.
MATHARENA_FLOAT_ROUNDING = 10


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every \\boxed{...} / \\fbox{...} with balanced braces, in order."""
    found = []
    for match in _BOXED.finditer(text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    found.append((match.start(), i + 1, text[start:i]))
                    break
    return found


def last_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (or \\fbox{...}), braces balanced; None when absent."""
    found = _boxes(text)
    return found[-1][2].strip() if found else None


def boxes_of_last_line(text: str) -> str | None:
    """Every outermost box on the last line that has one, joined by ", " (MathArena's reading when
    the gold answer is a list: "\\boxed{2} and \\boxed{3}" -> "2, 3"); None when there is no box."""
    outer, end = [], -1
    for start, stop, content in _boxes(text):
        if start >= end:
            outer.append((text.count("\n", 0, start), content.strip()))
            end = stop
    if not outer:
        return None
    last = outer[-1][0]
    return ", ".join(content for line, content in outer if line == last)


def _plain(s: str) -> str:
    s = s.strip().strip("$").strip()
    s = re.sub(r"\\[,!;: ]|\s+", "", s)
    if _INTEGER.fullmatch(s):
        return str(int(s))  # 070 -> 70
    return s


def math_equal(gold: str, answer: str, float_rounding: int = 6) -> bool:
    """True when `answer` is mathematically the same as `gold` (both LaTeX or plain); decimals are
    compared with exact values to `float_rounding` decimal places."""
    answer = answer.strip().removesuffix(".")  # "\\boxed{70.}" ends a sentence
    if _plain(gold) == _plain(answer):
        return True
    return symbolic_equal(gold, answer, float_rounding)


def symbolic_equal(gold: str, answer: str, float_rounding: int = 6) -> bool:
    """math-verify's verdict alone (no string fast path); False when either side does not parse."""
    from math_verify import parse, verify  # imported here: it pulls in sympy (~1 s)

    # math-verify's timeouts use signal.alarm, which only the main thread may set: elsewhere
    # (a runner scoring in a worker thread) run without its timeout rather than crash.
    timeout = _TIMEOUT_S if threading.current_thread() is threading.main_thread() else None
    gold_parsed = parse(f"${gold}$", parsing_timeout=timeout)
    answer_parsed = parse(f"$\\boxed{{{answer}}}$", parsing_timeout=timeout)
    if not gold_parsed or not answer_parsed:
        return False
    return bool(verify(gold_parsed, answer_parsed, float_rounding=float_rounding, timeout_seconds=timeout))


def score_boxed(reference, answer_text: str, list_answer: bool = False, float_rounding: int = 6) -> Score:
    """Score the last boxed expression of `answer_text` against `reference`; with `list_answer`,
    every box of the last line that has one, as a list."""
    extracted = boxes_of_last_line(answer_text) if list_answer else last_boxed(answer_text)
    if extracted is None:
        return Score(0.0, None, {"reason": "no \\boxed{} answer"})
    return Score(float(math_equal(str(reference), extracted, float_rounding)), extracted)


def score_matharena(reference: str, answer_text: str) -> Score:
    """MathArena's reading (AIME 2025, HMMT Feb 2025): a gold answer with a comma is a list, and a
    list answer may be boxed piece by piece on one line (runner.py: `list_answer = "," in answer`);
    a decimal must match an exact answer to 10 places. With no \boxed{} at all, MathArena's
    AIME/HMMT configs (`strict_parsing: false`, parser.py `extract_last_integer`) read the last
    integer of the text, and so do we: the same output gets the same verdict."""
    score = score_boxed(reference, answer_text, "," in reference, MATHARENA_FLOAT_ROUNDING)
    if score.extracted is not None:
        return score
    integers = _LAST_INTEGER.findall(answer_text)
    if not integers:
        return Score(0.0, None, {"reason": "no \\boxed{} answer and no integer"})
    extracted = str(int(integers[-1]))
    return Score(float(math_equal(str(reference), extracted, MATHARENA_FLOAT_ROUNDING)), extracted,
                 {"fallback": "last integer (MathArena strict_parsing: false)"})
