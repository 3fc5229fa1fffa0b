"""HELMET's metrics (princeton-nlp/HELMET `utils.py`, `data.py` post-processing), reimplemented.

The answer normalisation, F1 and (substring) exact match are DensePhrases'/DrQA's; ROUGE comes
from `rouge_score` (as HELMET), NDCG@10 from `pytrec_eval` (trec_eval, as HELMET via BEIR).
Every metric is on 0-1; HELMET's "metric after parsing" rule (score the raw output and the
parsed answer line, keep the larger value per metric) lives in `best_of_raw_and_parsed`.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache

_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower, drop punctuation, drop articles, squeeze whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCTUATION)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1_score(prediction: str, truth: str) -> float:
    pred, gold = normalize_answer(prediction), normalize_answer(truth)
    # yes / no / noanswer must match exactly (HotpotQA's rule)
    if (pred in ("yes", "no", "noanswer") or gold in ("yes", "no", "noanswer")) and pred != gold:
        return 0.0
    pred_tokens, gold_tokens = pred.split(), gold.split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _answers(answers) -> list[str]:
    """A string, a list of strings, or a list of lists of strings (flattened), as HELMET accepts."""
    if isinstance(answers, str):
        return [answers]
    if answers and isinstance(answers[0], list):
        return [a for group in answers for a in group]
    return list(answers)


@lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL", "rougeLsum"], use_stemmer=True)


def calculate_metrics(prediction: str, answers) -> dict[str, float]:
    """`utils.calculate_metrics`: each metric is the max over the reference answers."""
    golds = _answers(answers)
    rouges = [_rouge().score(target=a, prediction=prediction) for a in golds]
    out = {
        "exact_match": float(max(normalize_answer(prediction) == normalize_answer(a) for a in golds)),
        "f1": max(f1_score(prediction, a) for a in golds),
        "substring_exact_match": float(max(normalize_answer(a) in normalize_answer(prediction) for a in golds)),
    }
    for kind in ("rougeL", "rougeLsum"):
        out[f"{kind}_f1"] = max(r[kind].fmeasure for r in rouges)
        out[f"{kind}_recall"] = max(r[kind].recall for r in rouges)
    return out


def parse_output(output: str, prefix: str = "Answer:") -> str | None:
    """`utils.parse_output`: the rest of the line after the first `prefix` (case-insensitive),
    else the first line; the prefix is stripped once more (chat models repeat it)."""
    patterns = [re.compile(f"(?:{prefix})(.*)(?:\n|$)", flags=re.IGNORECASE), re.compile(r"(?:^)(.*)(?:\n|$)")]
    for pattern in patterns:
        match = pattern.search(output)
        if match is not None:
            return re.sub(f"^{re.escape(prefix)}", "", match[1].strip(), flags=re.IGNORECASE).strip()
    return None


def best_of_raw_and_parsed(output: str, answers, prefix: str = "Answer:") -> tuple[dict[str, float], str | None]:
    """`data.default_post_process`: metrics of the whole output and of the parsed answer, max per metric."""
    metrics = calculate_metrics(output, answers)
    parsed = parse_output(output, prefix)
    if parsed is not None:
        metrics = {k: max(v, w) for (k, v), w in zip(metrics.items(), calculate_metrics(parsed, answers).values())}
    return metrics, parsed


def ruler_recall(output: str, answers: list[str]) -> float:
    """`data.load_ruler`'s post-processing: the share of the needles found, case-insensitive substring."""
    return sum(a.lower() in output.lower() for a in answers) / len(answers)


def parse_rankings(output: str) -> dict[str, int]:
    """`utils.parse_rankings`: the longest `ID > ID > ...` chain, as doc id -> score (first is highest)."""
    output = re.sub(r"[\[\]:]", "", output).lower().replace("id", "")
    longest = ""
    for m in re.finditer(r"(\d+)(?:\s*>\s*(\d+))*", output):
        if len(m.group(0)) > len(longest):
            longest = m.group(0)
    ranking = [n.strip() for n in longest.split(">") if n.strip().isdigit()] if longest else [output]
    scores: dict[str, int] = {}
    for i, doc in enumerate(ranking):
        scores.setdefault(doc, len(ranking) - i)
    return scores


def ndcg_at_10(ranking: dict[str, int], qrels: dict[str, int]) -> float:
    """trec_eval's ndcg_cut_10 for one query (pytrec_eval), rounded to 5 places as HELMET's
    `calculate_retrieval_metrics` does."""
    import pytrec_eval

    scores = pytrec_eval.RelevanceEvaluator({"q": qrels}, {"ndcg_cut.10"}).evaluate({"q": {d: float(s) for d, s in ranking.items()}})
    return round(scores["q"]["ndcg_cut_10"], 5) if scores else 0.0
