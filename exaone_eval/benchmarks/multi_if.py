"""Multi-IF (English): IFEval-style verifiable instructions, checked by Multi-IF's own code, over three turns.

He et al., 2024, "Multi-IF: Benchmarking LLMs on Multi-Turn and Multilingual Instructions
Following", arXiv:2410.15553; code facebookresearch/Multi-IF (`metrics.py`, `utils.py`). Hub
dataset `facebook/Multi-IF` (`multiIF_20241018.csv`, split `train`, 4,501 rows in 8 languages);
the report's "Multi-IF (EN)" row of Tables 3-6 (Instruction Following) keeps the 909 English
conversations (`keep_row`). Item id: the dataset's `key`.

A conversation (`converse`): turn k sends the conversation so far, the model's own answers to
turns 1..k-1 included, then `turn_k_prompt` (a JSON chat message). As in EXAONE's chat template,
only the answer of an earlier turn goes back, never its reasoning. A turn whose prompt is empty or
the string "None" is skipped, as `metrics_gen` skips it; the official chaining would send the
placeholder text "None" to the model for any later turn, so we stop the conversation there
instead (no English row has a gap; docs/official-parity.md).

Scoring, as `metrics.py` does it, with Multi-IF's own checkers (scoring/multi_if_checks.py: its
`ifeval.py` is not Google's IFEval; four instructions check differently, and word and sentence
counts follow the answer's language): each turn's answer is checked against that turn's
instructions, built from the kwargs as the data gives them (no falsy filtering, unlike IFEval's
runner); an answer of the form `[{"response": ...}]` is scored on that response; strict: the
answer itself, when non-empty; loose: any of the eight variants (first / last line dropped,
asterisks removed). A checker that raises (where Multi-IF's run would stop) counts as not
followed, with the error in the turn's detail. Per turn: prompt-level and instruction-level
accuracy, strict and loose; the turn's figure is the mean of those four (`turn_k_<language>_overall`
in `metrics_gen`). Headline: the mean over the three turns' figures. The report does not define
"Multi-IF (EN)"; this mean is the common reading of it (Qwen3's and EXAONE's reports list one
number per language).
"""

from __future__ import annotations

import json

from exaone_eval.scoring.multi_if_checks import check_turn
from exaone_eval.types import Episode, Item, Score

TURNS = (1, 2, 3)
LANGUAGE = "English"
HEADLINE_METRIC = "overall"


def keep_row(row: dict) -> bool:
    return row.get("language") == LANGUAGE


def _json_field(row: dict, name: str):
    """CSV rows hold JSON text; JSONL rows may hold the parsed value already."""
    value = row.get(name)
    if isinstance(value, str):
        return json.loads(value)
    return value


def _turn(row: dict, k: int) -> dict | None:
    prompt = row.get(f"turn_{k}_prompt")
    if prompt is None or (isinstance(prompt, str) and prompt.strip() in ("", "None")):
        return None
    message = json.loads(prompt) if isinstance(prompt, str) else prompt
    if not isinstance(message, dict) or not isinstance(message.get("content"), str):
        raise ValueError(f"turn_{k}_prompt must be a chat message with a 'content' string")
    instruction_ids = _json_field(row, f"turn_{k}_instruction_id_list")
    kwargs = [json.loads(k_) if isinstance(k_, str) else k_ for k_ in _json_field(row, f"turn_{k}_kwargs")]
    if len(kwargs) != len(instruction_ids):
        raise ValueError(f"turn_{k}: {len(instruction_ids)} instructions but {len(kwargs)} kwargs")
    return {"message": {"role": message.get("role", "user"), "content": message["content"]},
            "instruction_id_list": list(instruction_ids), "kwargs": [dict(k_ or {}) for k_ in kwargs]}


def to_item(row: dict) -> Item:
    turns = []
    for k in TURNS:
        turn = _turn(row, k)
        if turn is None:
            break  # see the module docstring: a gap ends the conversation
        turns.append({"turn": k, **turn})
    if not turns:
        raise ValueError("turn_1_prompt is empty")
    return Item(id=str(row["key"]), messages=(turns[0]["message"],), reference=turns, meta={"language": row.get("language")})


async def converse(item: Item, chat) -> Episode:
    messages: list[dict] = []
    answers = []
    for turn in item.reference:
        messages.append(turn["message"])
        gen = await chat(messages)
        answers.append(gen.answer)  # an unfinished reasoning has no answer: every check fails
        messages.append({"role": "assistant", "content": gen.answer})
    return Episode(messages=tuple(messages), result={"answers": answers}, response=answers[-1])


def score(item: Item, episode: Episode) -> Score:
    answers = episode.result["answers"]
    turns = {}
    for turn, answer in zip(item.reference, answers):
        turns[str(turn["turn"])] = check_turn(f"{item.id}:{turn['turn']}", turn["instruction_id_list"], turn["kwargs"], answer)
    per_turn = [_four_way([v]) for v in turns.values()]
    value = sum(per_turn) / len(per_turn) if per_turn else 0.0
    followed = [all(v["strict"]) for v in turns.values()]
    return Score(value, extracted=followed, detail={"turns": turns})


def _four_way(verdicts: list[dict]) -> float:
    """The mean of prompt-level and instruction-level accuracy, strict and loose (0-1)."""
    parts = []
    for level in ("strict", "loose"):
        parts.append(sum(all(v[level]) for v in verdicts) / len(verdicts))
        n = sum(len(v[level]) for v in verdicts)
        parts.append(sum(sum(v[level]) for v in verdicts) / n if n else 0.0)
    return sum(parts) / 4


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """Per turn the four accuracies and their mean (0-100); `overall` is the mean over turns."""
    out: dict[str, float] = {}
    figures = []
    for k in TURNS:
        verdicts = [s.detail["turns"][str(k)] for _, s in records if str(k) in s.detail.get("turns", {})]
        if not verdicts:
            continue
        for level in ("strict", "loose"):
            out[f"turn_{k}_prompt_level_{level}_acc"] = 100.0 * sum(all(v[level]) for v in verdicts) / len(verdicts)
            n = sum(len(v[level]) for v in verdicts)
            out[f"turn_{k}_inst_level_{level}_acc"] = 100.0 * sum(sum(v[level]) for v in verdicts) / n if n else float("nan")
        out[f"turn_{k}"] = 100.0 * _four_way(verdicts)
        figures.append(out[f"turn_{k}"])
    if figures:
        out[HEADLINE_METRIC] = sum(figures) / len(figures)
    return out
