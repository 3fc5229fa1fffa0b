"""Same (item, response), same verdict, in any process, order or scoring worker (issue 13).

Every benchmark that `exaone-eval score` can score offline here scores the same saved responses in
separate processes that differ in PYTHONHASHSEED, in how far the global `random` was advanced
before main, in the order of the responses file, and in whether the scoring pool is on. Every
per-sample record must be identical. Conversations (Multi-IF), which `score` refuses, are scored
from saved episodes through the runner's `score_episode`, in the same two settings. The IFEval
rows include the two `keywords:letter_frequency` items whose letter is not a-z (google/IFEval keys
1122 and 1129): the official checker draws a random letter for them.
"""

from __future__ import annotations

import json
import os
import string
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_jsonl
from helpers import GPQA_ROW, KMMLU_ROW, MMMLU_ROW, PRO_ROW, REDUX_ROW
from lcb_rows import PAIR_OK, PAIR_TESTS, PAIR_STARTER, SUM_OK, SUM_TESTS, fenced, row

from exaone_eval.registry import REGISTRY, get_module, get_spec

ROOT = Path(__file__).resolve().parents[1]

# The 24 argument fields of google/IFEval's Arrow schema: a Hub row fills the unused ones with None.
IFEVAL_ARGS = ("num_highlights", "relation", "num_words", "num_placeholders", "prompt_to_repeat", "num_paragraphs",
               "first_word", "forbidden_words", "keywords", "keyword", "frequency", "num_sentences",
               "postscript_marker", "language", "let_relation", "letter", "let_frequency", "end_phrase",
               "num_bullets", "nth_paragraph", "section_spliter", "num_sections", "capital_relation",
               "capital_frequency")


def ifeval_row(key: int, prompt: str, instructions: list[tuple[str, dict]]) -> dict:
    return {"key": key, "prompt": prompt, "instruction_id_list": [i for i, _ in instructions],
            "kwargs": [{name: used.get(name) for name in IFEVAL_ARGS} for _, used in instructions]}


PITCH = 'Write a short startup pitch for "Sunnis ice cream". Contain 6 or more exclamation marks "!" in your response.'
# Keys, instructions and arguments as google/IFEval's rows 1122 and 1129 (our own prompt wording).
IFEVAL_LETTER_ROWS = [
    ifeval_row(1122, "make a tweet in lowercase letters only, with at least 4 hashtags starting with '#'",
               [("change_case:english_lowercase", {}),
                ("keywords:letter_frequency", {"let_relation": "at least", "letter": "#", "let_frequency": 4})]),
    ifeval_row(1129, PITCH + "\nFirst repeat the request word for word without change, then give your answer",
               [("keywords:letter_frequency", {"let_relation": "at least", "letter": "!", "let_frequency": 6}),
                ("combination:repeat_prompt", {"prompt_to_repeat": PITCH})]),
]


def letter_split_texts(count: int) -> list[str]:
    """Five texts; the j-th holds, `count` times each, the letters whose index in a-z has bit j set.
    Two different letters differ in some bit, so two different draws disagree on one of them."""
    return [" ".join(c * count for i, c in enumerate(string.ascii_lowercase) if i >> j & 1) for j in range(5)]


def ifeval_letter_responses(rows: list[dict]) -> dict[str, list[str]]:
    """Responses to rows 1122 and 1129 whose letter-frequency verdicts depend on the letter drawn."""
    out = {}
    for ifeval_row in rows:  # not `row`: that name is lcb_rows' row builder in this module
        position = ifeval_row["instruction_id_list"].index("keywords:letter_frequency")
        out[str(ifeval_row["key"])] = letter_split_texts(ifeval_row["kwargs"][position]["let_frequency"]) + ["#1 #2 #3 #4 !!!!!!"]
    return out


@pytest.fixture
def ifeval_letter_rows(request) -> list[dict]:
    """google/IFEval's own rows 1122 and 1129 when ../shared/data has them (the shared_data
    fixture), else IFEVAL_LETTER_ROWS: the test runs either way, on the real rows where it can."""
    try:
        shared = request.getfixturevalue("shared_data")
    except pytest.skip.Exception:
        return IFEVAL_LETTER_ROWS
    rows = [json.loads(line) for line in (shared / "ifeval.jsonl").read_text(encoding="utf-8").splitlines()]
    real = [r for r in rows if r["key"] in (1122, 1129)]
    assert [r["instruction_id_list"] for r in real] == [r["instruction_id_list"] for r in IFEVAL_LETTER_ROWS]
    return real


IFEVAL_OTHER_ROWS = [
    ifeval_row(1001, "Describe a cat without commas.", [("punctuation:no_comma", {})]),
    ifeval_row(1002, "Answer in Korean, in at least 5 words.",
               [("language:response_language", {"language": "ko"}),
                ("length_constraints:number_words", {"relation": "at least", "num_words": 5})]),
    ifeval_row(1003, "Wrap your answer in JSON.", [("detectable_format:json_format", {})]),
]

AIME_ROWS = [{"problem_idx": i, "problem": f"What is {i} times 7?", "answer": 7 * i, "problem_type": None} for i in (1, 2, 3)]
HMMT_ROWS = [{"problem_idx": 1, "problem": "Compute 1/576 as a fraction.", "answer": "\\frac{1}{576}", "problem_type": ["Algebra"]},
             {"problem_idx": 2, "problem": "Compute sqrt 8.", "answer": "2\\sqrt{2}", "problem_type": ["Algebra"]}]
KSM_ROWS = [{"question": "1 더하기 2는?", "original": "What is 1 plus 2?", "answer": 3.0},
            {"question": "1을 2로 나누면?", "original": "What is 1 over 2?", "answer": "\\frac{1}{2}"}]
MATH500_ROWS = [{"problem": "Convierte $(0,3)$ a coordenadas polares.", "solution": "...", "answer": "\\left( 3, \\frac{\\pi}{2} \\right)",
                 "subject": "Precalculus", "level": 2, "unique_id": "test/precalculus/807.json"},
                {"problem": "¿Cuánto es 2+2?", "solution": "...", "answer": "4", "subject": "Prealgebra", "level": 1,
                 "unique_id": "test/prealgebra/1.json"}]
AREA_DOC = {"name": "geometry.circle_area", "description": "Area of a circle.",
            "parameters": {"type": "dict", "properties": {"radius": {"type": "integer", "description": "The radius."}},
                           "required": ["radius"]}}
BFCL_ROWS = [
    {"id": "simple_7", "question": [[{"role": "user", "content": "Area of a circle of radius 3?"}]], "function": [AREA_DOC],
     "ground_truth": [{"geometry.circle_area": {"radius": [3]}}]},
    {"id": "irrelevance_4", "question": [[{"role": "user", "content": "Who wrote Hamlet?"}]], "function": [AREA_DOC]},
]



def multi_if_row(key: int, turns: list[tuple[str, list[str], list[dict]]]) -> dict:
    """A facebook/Multi-IF row as its CSV gives it: prompts, id lists and kwargs are JSON text."""
    row = {"key": str(key), "language": "English"}
    for k, (text, ids, kwargs) in enumerate(turns, 1):
        row[f"turn_{k}_prompt"] = json.dumps({"role": "user", "content": text})
        row[f"turn_{k}_instruction_id_list"] = json.dumps(ids)
        row[f"turn_{k}_kwargs"] = json.dumps([json.dumps(kw) for kw in kwargs])
    return row


MULTI_IF_ROWS = [
    multi_if_row(7, [("Write a tweet without commas.", ["punctuation:no_comma"], [{}]),
                     ("Now with at least 4 hashtags starting with '#'.", ["keywords:letter_frequency"],
                      [{"let_relation": "at least", "letter": "#", "let_frequency": 4}]),
                     ("Now in lowercase.", ["change_case:english_lowercase"], [{}])]),
]
# Saved conversations: the model's answer to each turn. Turn 2's letter check draws its letter.
MULTI_IF_ANSWERS = [["a tweet", text, "done"] for text in letter_split_texts(4)] + [["a, tweet", "#1 #2 #3 #4", "Done"]]
# Conversation benchmark -> (rows in the Hub schema, saved answers per turn, one list per sample)
CONVERSATION_CASES = {"multi_if": (MULTI_IF_ROWS, MULTI_IF_ANSWERS)}


def _variants(row: dict, n: int) -> list[dict]:
    """`row` n times, each with its own question (and id where the dataset has ids)."""
    out = []
    for i in range(n):
        variant = dict(row)
        text = "question" if "question" in row else "Question"
        variant[text] = f"{row[text]} (v{i})"
        for id_field in ("question_id", "Unnamed: 0", "Record ID"):
            if id_field in row:
                variant[id_field] = i if isinstance(row[id_field], int) else f"{row[id_field]}-{i}"
        out.append(variant)
    return out


CHOICE_ANSWERS = ["<think>A? no.</think>The answer is (B).", "Answer: C", "Respuesta: B", "정답: B", "four", "<think>never closed (B)"]
MATH_ANSWERS = ["<think>easy</think>\\boxed{7}", "\\boxed{14}", "It is 21.", "\\boxed{\\frac{2}{4}}", "\\boxed{2\\sqrt{2}}",
                "\\boxed{3.0}", "\\boxed{(3, \\pi/2)}", "<think>never closed \\boxed{7}"]

# LiveCodeBench rows in each version's date window; the solutions run in the sandbox. Four answers'
# verdicts depend on the sandboxed program's string hashes, i.e. on its hash seed.
LCB_ROWS = {version: [row("abc1", tests=SUM_TESTS, contest_date=date),
                      row("lc1", tests=PAIR_TESTS, fn_name="twoSum", starter=PAIR_STARTER, contest_date=date)]
            for version, date in (("livecodebench_v5", "2024-10-01T00:00:00"), ("livecodebench_v6", "2025-03-01T00:00:00"))}
HASH_DEPENDENT = [f"a, b = map(int, input().split())\nprint(a + b if hash({c!r}) % 2 else a - b)\n" for c in "pqrs"]
LCB_ANSWERS = [fenced(SUM_OK), fenced(PAIR_OK), fenced("print(0)\n"), "no code here"] + [fenced(c) for c in HASH_DEPENDENT]

# benchmark -> (rows in the Hub schema, answers: each answer is a saved response to every row)
CASES = {
    "aime_2025": (AIME_ROWS, MATH_ANSWERS),
    "hmmt_feb_2025": (HMMT_ROWS, MATH_ANSWERS + ["\\boxed{1/576}", "\\boxed{0.001736}"]),
    "ksm": (KSM_ROWS, MATH_ANSWERS),
    "math500_es": (MATH500_ROWS, MATH_ANSWERS + ["\\boxed{4}"]),
    "mmlu_redux": (_variants(REDUX_ROW, 2), CHOICE_ANSWERS),
    "mmlu_pro": (_variants(PRO_ROW, 2), CHOICE_ANSWERS),
    "gpqa_diamond": (_variants(GPQA_ROW, 2), CHOICE_ANSWERS),
    "kmmlu_pro": (_variants(KMMLU_ROW, 2), CHOICE_ANSWERS),
    "kmmlu_redux": (_variants(KMMLU_ROW, 2), CHOICE_ANSWERS),
    "mmmlu_es": (_variants(MMMLU_ROW, 2), CHOICE_ANSWERS),
    "ifeval": (IFEVAL_OTHER_ROWS,
               ["a calm cat sits and naps all day", "고양이는 아주 귀여운 동물이고 잠을 많이 잡니다", '{"cat": "calm"}', "Cats, dogs"]),
    "livecodebench_v5": (LCB_ROWS["livecodebench_v5"], LCB_ANSWERS),
    "livecodebench_v6": (LCB_ROWS["livecodebench_v6"], LCB_ANSWERS),
    "bfcl_v3": (BFCL_ROWS, ["[geometry.circle_area(radius=3)]", "[geometry.circle_area(radius=4)]",
                            "None of these functions apply.", "geometry.circle_area(radius=", "[]"]),
}
NOT_OFFLINE = {"wmt24pp_es": "scored by an LLM judge, which needs a judge server (its verdicts are the judge's, not a local function's)"}


def offline_benchmarks() -> tuple[set[str], set[str]]:
    """Ready benchmarks scored from saved outputs with nothing but their rows: (those `exaone-eval
    score` takes, the conversations without a user simulator, scored from saved episodes).
    Left out: the judged (NOT_OFFLINE), those whose prompts need the model's tokenizer (RULER), and
    conversations with a user simulator (Tau-Bench), whose episodes only a simulation produces."""
    scored, conversations = set(), set()
    for name, module_path in REGISTRY.items():
        if module_path is None or get_spec(name).status != "ready" or name in NOT_OFFLINE:
            continue
        module = get_module(name)
        if getattr(module, "NEEDS_TOKENIZER", False):
            continue
        if not hasattr(module, "converse") or getattr(module, "SCORES_SAVED_RESPONSES", False):
            scored.add(name)
        elif not getattr(module, "NEEDS_USER", False):
            conversations.add(name)
    return scored, conversations


def test_every_offline_scorer_has_rows_here():
    scored, conversations = offline_benchmarks()
    missing = (scored - set(CASES)) | (conversations - set(CONVERSATION_CASES))
    assert not missing, f"add Hub-schema rows and responses to CASES for {sorted(missing)}, so their verdicts are checked across processes"


def _item_id(name: str, row: dict) -> str:
    # BFCL's items are its rows' own ids (its to_item also needs the calling style).
    return row["id"] if name == "bfcl_v3" else get_module(name).to_item(row).id


def _responses(name: str, rows: list[dict], answers: list[str]) -> list[dict]:
    ids = [_item_id(name, row) for row in rows]
    return [{"id": item_id, "sample": s, "response": a} for item_id in ids for s, a in enumerate(answers)]


# Wraps `exaone-eval score`: the global random is advanced N times before main, then every
# benchmark named is scored from <folder>/<name>.jsonl (rows) and <folder>/<order>/<name>.jsonl.
# The scorers' libraries are imported first, so that the pool's forked workers inherit them
# instead of each importing sympy and nltk again (most of this test's time on a busy machine).
WRAPPER = """
import json, os, random, sys
from pathlib import Path
import math_verify
from exaone_eval.scoring.ifeval import _lm_eval_ifeval
_lm_eval_ifeval()
for _ in range(int(sys.argv[1])):
    random.random()
from exaone_eval.cli import main
folder, order, out, names, conversations = sys.argv[2:7]
codes = [main(["score", "--benchmark", name, "--responses", f"{folder}/{order}/{name}.jsonl", "--data-dir", folder,
               "--out", f"{out}/{name}"]) for name in filter(None, names.split(","))]
# Conversations: `score` refuses them, so the saved episodes go through the runner's own scoring
# function (score_episode), in the runner's scoring pool when it is on.
from exaone_eval.config import ModelPreset, RunConfig
from exaone_eval.conversation import score_episode
from exaone_eval.items import load_items
from exaone_eval.score_jobs import make_scoring_pool
from exaone_eval.types import Episode
for name in filter(None, conversations.split(",")):
    cfg = RunConfig(suite="t", mode="non-reasoning", model=ModelPreset("t", "t"), backend="none", benchmarks=[name],
                    out=Path(out), data_dir=Path(folder))
    items = {item.id: item for item in load_items(cfg, name)[0]}
    saved = [json.loads(line) for line in open(f"{folder}/{order}/{name}.jsonl", encoding="utf-8")]
    episodes = [Episode(messages=(), result={"answers": e["answers"]}, response=e["answers"][-1]) for e in saved]
    names_, found = [name] * len(saved), [items[e["id"]] for e in saved]
    if os.environ["EXAONE_EVAL_SCORING_POOL"] == "on":
        with make_scoring_pool() as pool:
            scores = list(pool.map(score_episode, names_, found, episodes))
    else:
        scores = list(map(score_episode, names_, found, episodes))
    records = [{"id": e["id"], "sample": e["sample"], "score": s.value, "extracted": s.extracted, "detail": s.detail}
               for e, s in zip(saved, scores)]
    Path(out, name, "samples").mkdir(parents=True)
    Path(out, name, "samples", name + ".jsonl").write_text("".join(json.dumps(r) + "\\n" for r in records), encoding="utf-8")
sys.exit(max(codes, default=0))
"""

# (pool, PYTHONHASHSEED, draws from the global random before main, responses order). The two
# processes differ in all four at once: a verdict that depends on any of them shows as a
# difference (a third process per factor would cost ~7 s of CPU each, mostly imports). The
# pool's workers are forked, so each starts from its parent's advanced state and takes responses
# in whatever order they come.
PROCESSES = [("off", "0", 0, "forward"), ("on", "1", 1000, "reversed")]


def score_in_processes(tmp_path: Path, cases: dict[str, tuple[list[dict], list[dict]]], conversations=()) -> list[Path]:
    """Score `cases` (name -> rows, saved responses or episodes) once per PROCESSES entry, all at
    once; the out folders. `conversations` names the cases that are conversations."""
    folder = tmp_path / "data"
    for name, (rows, responses) in cases.items():
        write_jsonl(folder / f"{name}.jsonl", rows)
        write_jsonl(folder / "forward" / f"{name}.jsonl", responses)
        write_jsonl(folder / "reversed" / f"{name}.jsonl", responses[::-1])
    (tmp_path / "wrapper.py").write_text(WRAPPER, encoding="utf-8")
    procs, outs = [], []
    for n, (pool, hash_seed, draws, order) in enumerate(PROCESSES):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "EXAONE_EVAL_SCORING_POOL": pool,
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        outs.append(tmp_path / f"out{n}")
        procs.append(subprocess.Popen([sys.executable, str(tmp_path / "wrapper.py"), str(draws), str(folder), order, str(outs[-1]),
                                       ",".join(n for n in cases if n not in conversations), ",".join(conversations)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for proc in procs:
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, output[-3000:]
    return outs


# Facts about one execution of model-written code, not verdicts: its wall time, and whether the
# finished child exited before the sandbox reaped it (exit code 0 or -9, and so its stderr tail).
EXECUTION_FACTS = ("seconds", "exit_code", "stderr_tail")


def verdicts(out: Path, name: str) -> dict[tuple[str, int], dict]:
    records = [json.loads(line) for line in (out / name / "samples" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    return {(r["id"], r["sample"]): {"score": r["score"], "extracted": r["extracted"],
                                     "detail": {k: v for k, v in r["detail"].items() if k not in EXECUTION_FACTS}}
            for r in records}


@pytest.mark.slow  # two fresh interpreters import every scorer: ~15 s of CPU
def test_every_offline_scorer_gives_identical_verdicts_across_processes_pools_and_orders(tmp_path, ifeval_letter_rows):
    scored, conversations = offline_benchmarks()
    names = sorted(scored & set(CASES))
    cases = {name: (CASES[name][0], _responses(name, *CASES[name])) for name in names}
    for name in sorted(conversations & set(CONVERSATION_CASES)):
        rows, answers = CONVERSATION_CASES[name]
        ids = [get_module(name).to_item(row).id for row in rows]
        cases[name] = (rows, [{"id": i, "sample": s, "answers": a} for i in ids for s, a in enumerate(answers)])
    letter_responses = ifeval_letter_responses(ifeval_letter_rows)
    rows, responses = cases["ifeval"]
    cases["ifeval"] = (rows + ifeval_letter_rows, responses + [
        {"id": item_id, "sample": s, "response": a} for item_id, answers in letter_responses.items() for s, a in enumerate(answers)])
    outs = score_in_processes(tmp_path, cases, conversations=sorted(conversations & set(CONVERSATION_CASES)))
    for name in cases:
        first = verdicts(outs[0], name)
        assert len(first) == len(cases[name][1])
        assert verdicts(outs[1], name) == first, f"{name}: the two processes disagree"
        if name not in names:
            continue  # conversations: verdicts only (no scores.json)
        # The figures too (not the CI: its bootstrap resamples the items in the file's order).
        figures = [json.loads((out / name / "scores.json").read_text())[name] for out in outs]
        assert figures[1]["score"] == pytest.approx(figures[0]["score"]), name
        assert figures[1]["metrics"] == pytest.approx(figures[0]["metrics"]), name
    # Not vacuous: the letter instruction passed on some responses and failed on others.
    position = {"1122": 1, "1129": 0}  # of keywords:letter_frequency in each row's instruction list
    letter = [v["detail"]["inst_level_strict"][position[item_id]]
              for (item_id, _), v in verdicts(outs[0], "ifeval").items() if item_id in position]
    assert 0 < sum(letter) < len(letter)
