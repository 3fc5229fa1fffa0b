"""What `exaone-eval report` shows, read from run directories: samples, verdicts, flips, the gate.

The page (exaone_eval/report.py renders it) embeds every sample of every benchmark, so a 50,000-
sample run must stay a file a browser opens in seconds: each text is cut to a cap (its head and
tail, the full length noted), a benchmark's samples are one compact JSON blob (column names once,
then rows), gzipped and base64-encoded; the page decodes a blob only when its benchmark is opened.
Nothing here renders HTML and nothing here trusts model output: the page inserts every text as
text, never as markup.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from exaone_eval.rundir import Run, sample_records
from exaone_eval.types import HarnessError

# Caps in characters (bench/report.py measured the file they give: docs/report.md). A reasoning
# keeps its head and its tail (where the answer forms), an answer and a message mostly their head.
PROMPT_CAP = 1_500
ANSWER_CAP = 2_000
REASONING_CAP = 1_200
MESSAGE_CAP = 1_000
DETAIL_STRING_CAP = 500
EXTRACTED_CAP = 1_000
GOLD_CAP = 1_000

VERDICTS = ("correct", "wrong", "truncated", "no answer", "error")
COLUMNS = ("id", "sample", "budget", "verdict", "score", "extracted", "gold", "prompt_tokens",
           "answer", "answer_chars", "reasoning", "reasoning_chars", "finish", "completion_tokens", "detail",
           "conversation", "turns", "prompt", "reference_size")
"""The blob's column names, written once per benchmark; the page reads each row by these names. A
prompt is kept once (`prompts`: key -> [text, full length]; a row's `prompt` column is its key, the
prompt_hash for a prompt from prompts/<bench>.jsonl, else the item id): the samples that share it
share the text."""


def cap(text: str | None, limit: int, full: int | None = None) -> str | None:
    """`text` cut to about `limit` characters: two thirds head, one third tail, with a marker
    saying how much was left out (the full length travels beside it). `full`: the length of the
    text `text` was itself cut from (a prompt in prompts/<bench>.jsonl), so the marker counts
    everything not shown."""
    if text is None or len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]}\n[… {max(len(text), full or 0) - head - tail:,} characters not kept …]\n{text[-tail:]}"


def _cap_json(value, limit: int = DETAIL_STRING_CAP, depth: int = 0):
    """Checker details as kept: long strings cut, deep or long containers shortened."""
    if isinstance(value, str):
        return cap(value, limit)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if depth > 6:
        return cap(json.dumps(value, ensure_ascii=False, default=str), limit)
    if isinstance(value, dict):
        return {str(k): _cap_json(v, limit, depth + 1) for k, v in list(value.items())[:60]}
    if isinstance(value, (list, tuple)):
        kept = [_cap_json(v, limit, depth + 1) for v in value[:60]]
        return kept + ([f"[… {len(value) - 60} more]"] if len(value) > 60 else [])
    return value


def _text(value) -> str | None:
    """An extracted answer or a gold as one string (lists and objects as JSON)."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def verdict(rec: dict) -> str:
    """The class the sample browser filters by. Same rules as the run's counts: a reasoning cut at
    max tokens is `truncated` (scores.json `truncated`), no extracted answer is `no answer`."""
    detail = rec.get("detail") if isinstance(rec.get("detail"), dict) else {}
    if _is_error(rec, detail):
        return "error"
    if rec.get("reasoning_closed") is False or detail.get("truncated") is True:
        return "truncated"
    if rec["score"] >= 1:
        return "correct"
    if rec.get("extracted") is None:
        return "no answer"
    return "wrong"


def _is_error(rec: dict, detail: dict) -> bool:
    """Something other than the model's answer decided the verdict: the harness's sandbox failed
    (LiveCodeBench), a Tau-Bench episode ended on an agent or user-simulator error, or the record
    carries an error of its own. A wrong call or a runtime error in the model's code is `wrong`."""
    return bool(
        rec.get("error")
        or detail.get("verdict") == "sandbox error"
        or detail.get("termination_reason") in ("agent_error", "user_error")
    )


def _gold(rec: dict, detail: dict) -> str | None:
    """The reference where the record keeps one: the scorer's detail, the item's reference (results.
    sample_record keeps it when small), or the item's meta."""
    meta = rec.get("item_meta") if isinstance(rec.get("item_meta"), dict) else {}
    for value in (detail.get("reference"), detail.get("references"), detail.get("gold"), rec.get("reference"),
                  meta.get("answer"), meta.get("reference")):
        if value is not None:
            return cap(_text(value), GOLD_CAP)
    task = meta.get("task")
    if isinstance(task, dict) and task.get("evaluation_criteria"):  # Tau-Bench: the actions and facts it checks
        return cap(json.dumps(task["evaluation_criteria"], ensure_ascii=False, indent=1), GOLD_CAP)
    return None


def read_prompts(path: Path, wanted: set) -> dict[str, list]:
    """{prompt_hash: [text capped at PROMPT_CAP, full length]} from prompts/<bench>.jsonl (written by
    results.PromptLog), for the hashes in `wanted`. A run from before that file has none; a line
    cut by a killed run is passed over (the run's next start rewrites it; the prompt is only shown)."""
    prompts: dict[str, list] = {}
    if not path.is_file():
        return prompts
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            digest = rec.get("prompt_hash") if isinstance(rec, dict) else None
            if isinstance(digest, str) and digest in wanted and digest not in prompts:
                chars = rec.get("chars") if isinstance(rec.get("chars"), int) else None
                prompts[digest] = [cap(prompt_text(rec), PROMPT_CAP, chars), chars]
    return prompts


def prompt_text(rec: dict) -> str:
    """A prompts/<bench>.jsonl record as one text: the raw prompt, or the messages (a lone user
    message as it is, several under their roles), the answer prefix, and the tools' names."""
    if isinstance(rec.get("prompt"), str):
        return rec["prompt"]
    messages = [m for m in rec.get("messages") or () if isinstance(m, dict)]
    texts = [m.get("content") if isinstance(m.get("content"), str) else _text(m.get("content")) or "" for m in messages]
    if len(messages) == 1 and messages[0].get("role") == "user":
        text = texts[0]
    else:
        text = "\n\n".join(f"[{m.get('role')}]\n{t}" for m, t in zip(messages, texts))
    if isinstance(rec.get("prefix"), str):
        text += f"\n\n[the answer starts with]\n{rec['prefix']}"
    if isinstance(rec.get("tools"), list) and rec["tools"]:
        names = [str((t.get("function") or t).get("name")) if isinstance(t, dict) else "?" for t in rec["tools"]]
        text += f"\n\n[tools offered: {', '.join(names)}]"
    return text


def _prompt(rec: dict) -> str | None:
    """The prompt where the record itself keeps it (runs from before prompts/<bench>.jsonl, and
    conversations, whose transcript opens with it)."""
    meta = rec.get("item_meta") if isinstance(rec.get("item_meta"), dict) else {}
    for value in (rec.get("prompt"), meta.get("prompt"), meta.get("question")):
        if isinstance(value, str):
            return value
    for message in rec.get("transcript") or ():
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return None


def _conversation(rec: dict) -> list[list] | None:
    """[role, text, full length, tool calls as JSON or None] per message of the transcript."""
    transcript = rec.get("transcript")
    if not isinstance(transcript, list):
        return None
    out = []
    for m in transcript:
        if not isinstance(m, dict):
            continue
        content = m.get("content") if isinstance(m.get("content"), str) else _text(m.get("content"))
        calls = m.get("tool_calls")
        out.append([str(m.get("role")), cap(content or "", MESSAGE_CAP), len(content or ""),
                    cap(json.dumps(calls, ensure_ascii=False), MESSAGE_CAP) if calls else None])
    return out


def _turns(rec: dict) -> list[list] | None:
    """[role, turn, reasoning, answer, tool calls, finish reason] per generated turn (agent or user simulator)."""
    turns = rec.get("turns")
    if not isinstance(turns, list):
        return None
    return [[str(t.get("role")), t.get("turn"), cap(t.get("reasoning"), REASONING_CAP), cap(t.get("answer"), MESSAGE_CAP),
             cap(json.dumps(t["tool_calls"], ensure_ascii=False), MESSAGE_CAP) if t.get("tool_calls") else None,
             t.get("finish_reason")] for t in turns if isinstance(t, dict)]


def compact_row(rec: dict, prompt_key: str | None = None) -> list:
    """One sample as the page's row (COLUMNS order); `prompt_key`: where its prompt is in `prompts`."""
    detail = rec.get("detail") if isinstance(rec.get("detail"), dict) else {}
    answer = rec.get("answer") if isinstance(rec.get("answer"), str) else rec.get("response")
    reasoning = rec.get("reasoning") if isinstance(rec.get("reasoning"), str) else None
    answer = answer if isinstance(answer, str) else ""
    return [
        str(rec["id"]), rec["sample"], rec.get("budget"), verdict(rec), round(float(rec["score"]), 4),
        cap(_text(rec.get("extracted")), EXTRACTED_CAP), _gold(rec, detail), rec.get("prompt_tokens"),
        cap(answer, ANSWER_CAP), len(answer), cap(reasoning, REASONING_CAP), len(reasoning) if reasoning is not None else None,
        rec.get("finish_reason"), rec.get("completion_tokens"), _cap_json(detail) or None,
        _conversation(rec), _turns(rec), prompt_key, rec.get("reference_size"),
    ]


def read_samples(path: Path) -> list[dict]:
    """Every record of a samples file, checked; a repeated (id, sample, budget) keeps the last
    (the runner appends on resume). HarnessError names the file and line of a bad record."""
    latest: dict[tuple, dict] = {}
    for rec in sample_records(path):
        latest[(str(rec["id"]), rec["sample"], rec.get("budget"))] = rec
    return list(latest.values())


@dataclass
class Benchmark:
    """One benchmark's samples in one run, ready to embed."""

    name: str
    blob_id: str
    n: int
    counts: dict[str, int]
    blob: str
    """gzip + base64 of {"columns": COLUMNS, "rows": [...], "prompts": {id: [text, length]}}."""
    item_means: dict[str, dict[str, float]] = field(default_factory=dict)
    """{key (benchmark, or benchmark@budget): {item id: mean score}}: what flips are computed from."""


def encode(payload) -> str:
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def load_benchmark(run: Run, run_index: int, name: str) -> Benchmark:
    records = read_samples(run.path / "samples" / f"{name}.jsonl")
    prompts = read_prompts(run.path / "prompts" / f"{name}.jsonl", {r.get("prompt_hash") for r in records})
    keys = []
    for r in records:
        key = r.get("prompt_hash") if r.get("prompt_hash") in prompts else str(r["id"])
        if key not in prompts:
            prompt = _prompt(r)
            if prompt is not None:
                prompts[key] = [cap(prompt, PROMPT_CAP), len(prompt)]
        keys.append(key if key in prompts else None)
    rows = [compact_row(r, key) for r, key in zip(records, keys)]
    counts = {v: 0 for v in VERDICTS}
    at = COLUMNS.index("verdict")
    for row in rows:
        counts[row[at]] += 1
    scores: dict[str, dict[str, list[float]]] = {}
    for r in records:
        key = name if r.get("budget") is None else f"{name}@{r['budget']}"
        scores.setdefault(key, {}).setdefault(str(r["id"]), []).append(float(r["score"]))
    means = {key: {item: sum(v) / len(v) for item, v in items.items()} for key, items in scores.items()}
    blob_id = f"samples-{run_index}-{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
    return Benchmark(name, blob_id, len(rows), counts, encode({"columns": COLUMNS, "rows": rows, "prompts": prompts}), means)


def benchmarks_of(run: Run) -> list[str]:
    folder = run.path / "samples"
    names = sorted(p.stem for p in folder.glob("*.jsonl")) if folder.is_dir() else []
    if not names:
        raise HarnessError(f"{folder}: no samples/<benchmark>.jsonl files; nothing to show (is {run.path} a finished run?)")
    return names


# --- two runs: flipped items and the gate ---------------------------------------------------------


@dataclass(frozen=True)
class Flip:
    key: str
    item: str
    baseline: float
    candidate: float

    @property
    def kind(self) -> str:
        return "fixed" if self.candidate > self.baseline else "broken"


def flips(base: Benchmark, cand: Benchmark) -> list[Flip]:
    """Items whose mean score moved between the runs (for k = 1: whose verdict changed), on the
    items both runs scored, the biggest moves first."""
    out = []
    for key in sorted(set(base.item_means) & set(cand.item_means)):
        b, c = base.item_means[key], cand.item_means[key]
        out += [Flip(key, item, b[item], c[item]) for item in sorted(set(b) & set(c)) if abs(b[item] - c[item]) > 1e-9]
    return sorted(out, key=lambda f: (-abs(f.candidate - f.baseline), f.key, f.item))


@dataclass(frozen=True)
class GateSummary:
    passed: bool
    regressed: tuple[str, ...]
    """Gated keys (benchmark or benchmark@budget) that regressed."""
    verdicts: tuple[dict, ...]
    source: Path
    note: str = ""


def read_gate(baseline: Run, candidate: Run) -> GateSummary | None:
    """The gate's summary in the candidate run directory (gate.json, written by `exaone-eval gate`;
    else the verdict line of gate.md), or None when the gate has not been run there."""
    path = candidate.path / "gate.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise HarnessError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(data, dict) or not isinstance(data.get("verdicts"), list):
            raise HarnessError(f"{path}: expected an object with a 'verdicts' list (as exaone-eval gate writes it)")
        verdicts = tuple(v for v in data["verdicts"] if isinstance(v, dict))
        note = ""
        if data.get("baseline") and Path(data["baseline"]).resolve() != baseline.path.resolve():
            note = f"the gate compared against {data['baseline']}, not {baseline.path}"
        return GateSummary(not any(v.get("verdict") == "regression" for v in verdicts),
                           tuple(str(v.get("key")) for v in verdicts if v.get("verdict") == "regression"), verdicts, path, note)
    path = candidate.path / "gate.md"
    if path.is_file():  # a summary from before gate.json: its first line names what regressed
        head = path.read_text(encoding="utf-8").splitlines()[:1]
        match = re.match(r"## exaone-eval gate: FAIL: (.*) regressed", head[0]) if head else None
        regressed = tuple(k.strip() for k in match.group(1).split(",")) if match else ()
        return GateSummary(not regressed, regressed, (), path)
    return None
