"""WMT24++ English -> Spanish (Mexico), scored by an LLM judge against the human reference.

Deutsch et al., "WMT24++: Expanding the Language Coverage of WMT24 to 55 Languages & Dialects"
(2025, arXiv:2502.12404); Hub dataset `google/wmt24pp`, config `en-es_MX`, split `train`, 998
segments. Feeds the "WMT24++ (ES)" row (Multilinguality) of Tables 3-6.

Rows: as the dataset card recommends (and the paper does), segments with `is_bad_source` (38 of
998: the canary line, bare URLs, HTML, emoji) are left out, leaving 960 (`keep_row`, which the
runner must apply when it loads rows); the reference is `target`, the post-edited translation,
not `original_target`. Item id: `segment_id`, which the card calls globally unique.

The model sees the translation prompt of the WMT24++ paper for en->es_MX (`PROMPT`). The report
(section 3.3, footnote: gpt-4.1-2025-04-14 as judge) scores the translation with "the
reference-based direct assessment method used in WMT24++", its Appendix D.5 / Figure 7 giving the
prompt. Figure 7 is an image that our text copy of the report lacks, so `JUDGE_PROMPT` is the
reference-based direct-assessment prompt of GEMBA-DA (Kocmi & Federmann, 2023,
arXiv:2302.14520), the 0-100 "no meaning preserved" .. "perfect meaning and grammar" scale that
direct assessment means: check it against Figure 7 before comparing numbers with the report.

Score: the judge's 0-100 number divided by 100, so the headline (mean x 100) is the mean judge
score on its own 0-100 scale, as the report prints it (e.g. 90.7). A reply with no readable
score, or one outside 0-100, scores 0 and is counted in `judge_unparsable`; an empty translation
(nothing after the reasoning, or a reasoning cut at max tokens) scores 0 without a judge call.
"""

from __future__ import annotations

from exaone_eval.scoring.judge import judge_request, read_verdicts
from exaone_eval.types import Generation, HarnessError, Item, Request, Score

SOURCE_LANG, TARGET_LANG, TARGET_REGION, TARGET_CODE = "English", "Spanish", "Mexico", "es_MX"

# The WMT24++ paper's translation prompt, filled in for en -> es_MX.
PROMPT = (
    f"You are a professional {SOURCE_LANG} to {TARGET_LANG} translator, tasked with providing translations "
    f"suitable for use in {TARGET_REGION} ({TARGET_CODE}). Your goal is to accurately convey the meaning and "
    f"nuances of the original {SOURCE_LANG} text while adhering to {TARGET_LANG} grammar, vocabulary, and "
    f"cultural sensitivities.\n"
    f"Please translate the following {SOURCE_LANG} text into {TARGET_LANG} ({TARGET_CODE}):\n\n"
    "{source}\n\n"
    f"Produce only the {TARGET_LANG} translation, without any additional explanations or commentary."
)

# Reference-based direct assessment (GEMBA-DA with reference); the reply should be a number 0-100.
JUDGE_PROMPT = (
    f"Score the following translation from {SOURCE_LANG} to {TARGET_LANG} with respect to the human reference "
    'on a continuous scale from 0 to 100, where a score of zero means "no meaning preserved" and a score of '
    'one hundred means "perfect meaning and grammar".\n\n'
    f'{SOURCE_LANG} source: "{{source}}"\n'
    f'{TARGET_LANG} human reference: "{{reference}}"\n'
    f'{TARGET_LANG} translation: "{{translation}}"\n'
    "Score: "
)
SCALE = (0.0, 100.0)


def keep_row(row: dict) -> bool:
    """False for the segments the WMT24++ authors drop from evaluation (`is_bad_source`)."""
    flag = row["is_bad_source"]
    if not isinstance(flag, bool):
        raise HarnessError(f"wmt24pp_es: segment {row.get('segment_id')}: is_bad_source must be true/false, got {flag!r}")
    return not flag


def to_item(row: dict) -> Item:
    return Item(
        id=str(row["segment_id"]),
        messages=({"role": "user", "content": PROMPT.format(source=row["source"])},),
        reference=row["target"],
        meta={"source": row["source"], "domain": row["domain"], "document_id": row["document_id"]},
    )


def _translation(gen: Generation) -> str:
    return gen.answer.strip() if gen.reasoning_closed else ""


def judge_requests(item: Item, gen: Generation) -> list[Request]:
    """The judge call for one translation; none for an empty one (scored 0 without asking)."""
    translation = _translation(gen)
    if not translation:
        return []
    prompt = JUDGE_PROMPT.format(source=item.meta["source"], reference=item.reference, translation=translation)
    return [judge_request(prompt)]


def score(item: Item, gen: Generation, judgments: list[Generation]) -> Score:
    translation = _translation(gen)
    if not translation:
        return Score(0.0, None, {"reason": "empty translation", "translation": ""})
    if not judgments:
        raise HarnessError(
            f"wmt24pp_es: item {item.id}: no judge reply to score; this benchmark needs a judge "
            "(--judge-base-url URL --judge-model NAME)"
        )
    verdict = read_verdicts(judgments, *SCALE)
    detail = {"translation": translation, "judge_raw": list(verdict.raw), "judge_scores": list(verdict.parsed)}
    if verdict.score is None:
        return Score(0.0, None, {**detail, "reason": "judge_unparsable"})
    return Score(verdict.score / SCALE[1], verdict.score, detail)


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """Counts (not percentages) of the samples that got no judge score, by cause."""
    reasons = [s.detail.get("reason") for _, s in records]
    return {
        "judge_unparsable": float(reasons.count("judge_unparsable")),
        "empty_translation": float(reasons.count("empty translation")),
    }
