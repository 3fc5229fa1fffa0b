"""LiveCodeBench (code generation): contest problems from LeetCode, AtCoder and Codeforces, by date.

Jain et al., 2024, "LiveCodeBench: Holistic and Contamination Free Evaluation of Large Language
Models for Code", arXiv:2403.07974. Hub dataset `livecodebench/code_generation_lite` (split
`test`; `version_tag` release_v5 / release_v6). Feeds the "LiveCodeBench v5" and "LiveCodeBench
v6" rows of Tables 3-6 (Math / Coding) and LiveCodeBench v6 in Table 7. The shared logic of both
lives here; `livecodebench_v5.py` and `livecodebench_v6.py` name their task spec, whose
`[options]` hold what differs (release, date window) and the sandbox settings.

The report does not state its date windows. Defaults (tasks/): v5 = problems dated 2024-08-01 to
2025-02-01 of release_v5 (279 problems), v6 = 2025-02-01 to 2025-05-01 of release_v6 (175), both
ends included as in lcb_runner's `--start_date/--end_date`.

As the official runner `lcb_runner` (LiveCodeBench/LiveCodeBench @ 28fef95): the generic system
prompt and question template (with / without starter code); the code between the last two lines
that contain ``` ; stdin programs and call-based `class Solution` methods; stdout compared after
stripping, line by line, exactly or as whitespace-split Decimals; call-based results by `==`
(a returned tuple counts as a list); tests in order, stopping at the first failure; 6 s per test
and `(timeout + 1) * n_tests + 5` s for the whole generation. A generation is correct when every
test passes; the headline is pass@1 averaged over the k samples. The code runs only in
exaone_eval/sandbox.py, through the driver scoring/livecodebench_driver.py, and
scoring/livecodebench.py judges its outputs; every sample records its verdict class, the first
failing test and a stderr tail. docs/livecodebench.md has the rest,
docs/official-parity.md the intentional differences.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from exaone_eval import sandbox
from exaone_eval.scoring.livecodebench import VERDICTS, run_tests
from exaone_eval.types import Generation, HarnessError, Item, Score

SYSTEM_PROMPT = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will "
    "generate a correct Python program that matches the specification and passes all tests."
)
FORMAT_WITH_STARTER = "You will use the following starter code to write the solution to the problem and enclose your code within delimiters."
FORMAT_WITHOUT_STARTER = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the "
    "sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it "
    "reads the inputs, runs the algorithm and writes output to STDOUT."
)
QUESTION = "### Question:\n{question}\n\n### Format: {format}\n```python\n{code}\n```\n\n### Answer: (use the provided format with backticks)\n\n"

# The Hub repository keeps one JSONL file per release increment; release_vN is files 1..N.
RELEASE_FILES = {f"release_v{n}": [f"test{i if i > 1 else ''}.jsonl" for i in range(1, n + 1)] for n in range(1, 7)}

# ---- settings ([options] of tasks/<name>.toml) ------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    release: str
    start_date: datetime
    end_date: datetime
    timeout_s: float
    memory_mb: int
    output_limit_mb: int
    sandbox_pool: int
    """Sandboxes running at once; 0: one per CPU core."""


OPTION_TYPES = {"release": str, "start_date": str, "end_date": str, "timeout_s": (int, float), "memory_mb": int,
                "output_limit_mb": int, "sandbox_pool": int}


@lru_cache(maxsize=None)
def settings(name: str) -> Settings:
    from exaone_eval.registry import get_spec

    options, where = get_spec(name).options, f"tasks/{name}.toml [options]"
    for key, kind in OPTION_TYPES.items():
        if key not in options:
            raise HarnessError(f"{where}: missing key {key!r}")
        if not isinstance(options[key], kind) or isinstance(options[key], bool):
            raise HarnessError(f"{where}: {key!r} must be {getattr(kind, '__name__', 'a number')}, got {options[key]!r}")
    unknown = set(options) - set(OPTION_TYPES)
    if unknown:
        raise HarnessError(f"{where}: unknown keys {sorted(unknown)}; expected {sorted(OPTION_TYPES)}")
    if options["release"] not in RELEASE_FILES:
        raise HarnessError(f"{where}: 'release' is {options['release']!r}; expected one of {sorted(RELEASE_FILES)}")
    window = []
    for key in ("start_date", "end_date"):
        try:
            window.append(datetime.combine(date.fromisoformat(options[key]), datetime.min.time()))
        except ValueError:
            raise HarnessError(f"{where}: {key!r} is {options[key]!r}; expected a date YYYY-MM-DD") from None
    for key in ("timeout_s", "memory_mb", "output_limit_mb"):
        if options[key] <= 0:
            raise HarnessError(f"{where}: {key!r} must be > 0")
    if options["sandbox_pool"] < 0:
        raise HarnessError(f"{where}: 'sandbox_pool' must be >= 0 (0: one per CPU core)")
    return Settings(options["release"], window[0], window[1], float(options["timeout_s"]), options["memory_mb"],
                    options["output_limit_mb"], options["sandbox_pool"])


# ---- rows ---------------------------------------------------------------------------------------------


def contest_date(row: dict) -> datetime:
    value = row["contest_date"]
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        raise ValueError(f"contest_date {value!r} is not an ISO date") from None


def in_window(name: str, row: dict) -> bool:
    """lcb_runner's filter: start_date <= contest_date <= end_date (dates at midnight)."""
    s = settings(name)
    return s.start_date <= contest_date(row) <= s.end_date


def load_hub_rows(name: str, spec) -> list[dict]:
    """The release's JSONL files from the pinned Hub revision, in-window rows only. The repository's
    loading script (`version_tag=`) no longer runs in `datasets` >= 4, so the files are read directly."""
    from exaone_eval.data import load_hub

    s = settings(name)
    revision = spec.revision or "main"
    files = [f"hf://datasets/{spec.hub_id}@{revision}/{f}" for f in RELEASE_FILES[s.release]]
    rows = load_hub(name, "json", where=f"{spec.hub_id}@{revision} ({s.release})", data_files=files, split="train")
    return [row for row in rows if in_window(name, row)]


class PlainUnpickler(pickle.Unpickler):
    """LiveCodeBench pickles each problem's private tests as one JSON string. Unpickling dataset
    content could call anything a pickle names: this unpickler admits only pickle's plain
    opcodes (strings, numbers, lists, dicts, tuples) and refuses every global and persistent id."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refused: the pickle names {module}.{name}")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused: persistent id")


def decode_private_tests(text: str) -> list[dict]:
    """Plain JSON, or base64 -> zlib -> pickle -> JSON string (the Hub's encoding)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    raw = zlib.decompress(base64.b64decode(text.encode("utf-8")))
    decoded = PlainUnpickler(io.BytesIO(raw)).load()
    if not isinstance(decoded, str):
        raise ValueError(f"private_test_cases: expected a pickled JSON string, got {type(decoded).__name__}")
    return json.loads(decoded)


def to_item(row: dict) -> Item:
    metadata = json.loads(row["metadata"]) if isinstance(row["metadata"], str) else dict(row["metadata"] or {})
    public = json.loads(row["public_test_cases"]) if isinstance(row["public_test_cases"], str) else row["public_test_cases"]
    tests = list(public) + decode_private_tests(row["private_test_cases"])
    starter = row["starter_code"] or ""
    question = QUESTION.format(question=row["question_content"], format=FORMAT_WITH_STARTER if starter else FORMAT_WITHOUT_STARTER,
                               code=starter if starter else "# YOUR CODE HERE")
    return Item(
        id=str(row["question_id"]),
        messages=({"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}),
        # The tests stay out of `meta`, which every sample record repeats.
        reference={"inputs": [t["input"] for t in tests], "outputs": [t["output"] for t in tests],
                   "fn_name": metadata.get("func_name")},
        meta={"platform": row["platform"], "difficulty": row["difficulty"], "contest_date": str(row["contest_date"]),
              "title": row["question_title"], "n_tests": len(tests), "call_based": metadata.get("func_name") is not None},
    )


# ---- extraction and score -----------------------------------------------------------------------------


def extract_code(answer: str) -> str | None:
    """The lines between the last two lines that contain ``` (lcb_runner's extract_code); None
    when there are fewer than two."""
    lines = answer.split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return None
    return "\n".join(lines[fences[-2] + 1 : fences[-1]])


def score(name: str, item: Item, gen: Generation) -> Score:
    code = extract_code(gen.answer)
    if not code or not code.strip():
        return Score(0.0, extracted=None, detail={"verdict": "no code", "failed_test": None})
    s = settings(name)
    detail = run_tests(code, item.reference, timeout_s=s.timeout_s, memory_mb=s.memory_mb,
                       output_limit_mb=s.output_limit_mb, box=sandbox.current())
    return Score(1.0 if detail["verdict"] == "passed" else 0.0, extracted=code, detail=detail)


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """pass@1 by difficulty, and the share of each verdict class (0-100)."""
    if not records:
        return {}
    out = {}
    for level in ("easy", "medium", "hard"):
        values = [s.value for item, s in records if item.meta.get("difficulty") == level]
        if values:
            out[f"pass@1_{level}"] = 100.0 * sum(values) / len(values)
    for verdict in VERDICTS:
        out[f"verdict_{verdict.replace(' ', '_')}"] = 100.0 * sum(s.detail.get("verdict") == verdict for _, s in records) / len(records)
    return out


def scoring_executor(name: str, cfg) -> sandbox.SandboxPool:
    """The runner scores on this pool of sandboxes (threads that wait on sandboxed processes)."""
    return sandbox.SandboxPool(sandbox.pool_size(settings(name).sandbox_pool), getattr(cfg, "sandbox", "auto"))


def version_hooks(name: str) -> tuple:
    """`load_rows`, `keep_row`, `score`, `scoring_executor` bound to one registry name (v5 or v6):
    the two rows differ only in their task spec's release and window."""
    return (
        lambda spec, data_dir: load_hub_rows(name, spec),
        lambda row: in_window(name, row),
        lambda item, gen: score(name, item, gen),
        lambda cfg: scoring_executor(name, cfg),
    )
