"""IFEval: verifiable instructions ("answer in fewer than 300 words", "no commas", ...).

Zhou et al., 2023, "Instruction-Following Evaluation for Large Language Models", arXiv:2311.07911.
Hub dataset `google/IFEval` (train, 541 rows: key, prompt, instruction_id_list, kwargs).
Feeds the "IFEval" row of Tables 3-6 (Instruction Following). The prompt is sent as it is; only
the answer part is checked (never the reasoning), by the official registry (scoring/ifeval.py).
Headline: prompt-level strict accuracy; metrics: all four accuracies.
"""

from __future__ import annotations

from exaone_eval.scoring.ifeval import check_instructions
from exaone_eval.types import Generation, Item, Score


def _clean_kwargs(kwargs: dict) -> dict:
    # The Hub's Arrow schema fills every one of the 24 argument fields, None where unused; the
    # google-research file has only the used ones. Drop exactly the Nones (not other falsy values).
    return {k: v for k, v in kwargs.items() if v is not None}


def to_item(row: dict) -> Item:
    return Item(
        id=str(row["key"]),
        messages=({"role": "user", "content": row["prompt"]},),
        reference=list(row["instruction_id_list"]),
        meta={"key": row["key"], "prompt": row["prompt"], "kwargs": [_clean_kwargs(k or {}) for k in row["kwargs"]]},
    )


def score(item: Item, gen: Generation) -> Score:
    verdicts = check_instructions(item.meta["key"], item.meta["prompt"], item.reference, item.meta["kwargs"], gen.answer)
    followed = [i for i, ok in zip(item.reference, verdicts["inst_level_strict"]) if ok]
    return Score(float(verdicts["prompt_level_strict"]), extracted=followed, detail=verdicts)


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """The four accuracies (0-100): prompt-level over prompts, instruction-level over instructions."""
    if not records:
        return {}
    out = {}
    for level in ("strict", "loose"):
        prompts = [s.detail[f"prompt_level_{level}"] for _, s in records if f"prompt_level_{level}" in s.detail]
        insts = [v for _, s in records for v in s.detail.get(f"inst_level_{level}", [])]
        out[f"prompt_level_{level}_acc"] = 100.0 * sum(prompts) / len(prompts) if prompts else float("nan")
        out[f"inst_level_{level}_acc"] = 100.0 * sum(insts) / len(insts) if insts else float("nan")
    return out
