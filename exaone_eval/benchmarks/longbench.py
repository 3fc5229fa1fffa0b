"""LongBench v1, English: bilingual long-context understanding, the report's four categories.

Bai et al., "LongBench: A Bilingual, Multitask Benchmark for Long Context Understanding" (ACL 2024,
arXiv:2308.14508); Hub dataset `THUDM/LongBench` (one config per dataset, split `test`; columns
input, context, answers, length, dataset, language, all_classes, _id). Feeds the "LongBench v1" row
of Tables 4/6 (the total at the model's longest length) and Table 11 (per length and category).

As THUDM/LongBench's `pred.py` and `eval.py` (config/dataset2prompt.json, dataset2maxlen.json,
metrics.py):
- the prompt is the dataset's template filled with the row; a prompt longer than the length
  budget keeps its first and last halves in the model's own tokens (`middle_truncate`), the budget
  being the evaluated length minus the dataset's generation cap (the report's 128K / 32K / 64K);
- the chat template wraps every prompt except trec's and triviaqa's, which go as raw text (the
  official "chat models are better off without build prompts on these tasks");
- greedy, at most `dataset2maxlen` new tokens;
- score: the dataset's metric, max over the reference answers; trec and triviaqa first cut the
  prediction to its first line; per dataset round(100 x mean, 2); a category is the mean of its
  datasets, the total the mean of the four categories (the report's Table 11; samsum, which
  LongBench files under Few-shot, is not in the report's table and not run here).

Item id: `<length>/<dataset>/<_id>` (one item per row and length). `[options] lengths` says which
lengths each model gets. Data: the Hub repository's `data.zip` (members `data/<dataset>.jsonl`, the
files its loading script reads) at the pinned revision, or `--data-dir DIR/longbench.jsonl` with the
rows of all datasets (the `dataset` column says which), streamed row by row.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from exaone_eval.data import hub_file, local_file, read_jsonl, read_zip_jsonl
from exaone_eval.scoring.helmet import normalize_answer  # SQuAD's normalisation: LongBench's metrics.py has the same
from exaone_eval.scoring.long_context import (
    Fingerprint, PromptCache, check_row, continuation, label_tokens, length_label, start_build, middle_truncate,
   
)
from exaone_eval.types import BuildContext, Generation, HarnessError, Item, Score

NEEDS_TOKENIZER = True
"""Prompts are cut in the evaluated model's own tokens: the runner skips it, saying why, without one."""

ZIP_FILE = "data.zip"
ZIP_MEMBER = "data/{dataset}.jsonl"  # LongBench.py: os.path.join(data_dir, "data", f"{task_name}.jsonl")
FIELDS = ("input", "context", "answers", "length", "dataset", "language", "all_classes", "_id")

CATEGORIES = {
    "single_doc_qa": ("narrativeqa", "qasper", "multifieldqa_en"),
    "multi_doc_qa": ("hotpotqa", "2wikimqa", "musique"),
    "summarization": ("gov_report", "qmsum", "multi_news"),
    "few_shot": ("trec", "triviaqa"),
}
DATASETS = tuple(d for group in CATEGORIES.values() for d in group)

_MHQA = (
    "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\n"
    "The following are given passages.\n{context}\n\n"
    "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\n"
    "Question: {input}\nAnswer:"
)
# config/dataset2prompt.json, word for word (narrativeqa's "asconcisely" included).
PROMPTS = {
    "narrativeqa": (
        "You are given a story, which can be either a novel or a movie script, and a question. Answer the question "
        "asconcisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nStory: {context}\n\n"
        "Now, answer the question based on the story asconcisely as you can, using a single phrase if possible. "
        "Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:"
    ),
    "qasper": (
        'You are given a scientific article and a question. Answer the question as concisely as you can, using a single '
        'phrase or sentence if possible. If the question cannot be answered based on the information in the article, write '
        '"unanswerable". If the question is a yes/no question, answer "yes", "no", or "unanswerable". Do not provide any '
        'explanation.\n\nArticle: {context}\n\n Answer the question based on the above article as concisely as you can, '
        'using a single phrase or sentence if possible. If the question cannot be answered based on the information in the '
        'article, write "unanswerable". If the question is a yes/no question, answer "yes", "no", or "unanswerable". Do not '
        'provide any explanation.\n\nQuestion: {input}\n\nAnswer:'
    ),
    "multifieldqa_en": (
        "Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question based on the above "
        "text, only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:"
    ),
    "hotpotqa": _MHQA,
    "2wikimqa": _MHQA,
    "musique": _MHQA,
    "gov_report": (
        "You are given a report by a government agency. Write a one-page summary of the report.\n\nReport:\n{context}\n\n"
        "Now, write a one-page summary of the report.\n\nSummary:"
    ),
    "qmsum": (
        "You are given a meeting transcript and a query containing a question or instruction. Answer the query in one or "
        "more sentences.\n\nTranscript:\n{context}\n\nNow, answer the query based on the above meeting transcript in one or "
        "more sentences.\n\nQuery: {input}\nAnswer:"
    ),
    "multi_news": (
        "You are given several news passages. Write a one-page summary of all news. \n\nNews:\n{context}\n\n"
        "Now, write a one-page summary of all the news.\n\nSummary:"
    ),
    "trec": "Please determine the type of the question below. Here are some examples of questions.\n\n{context}\n{input}",
    "triviaqa": (
        "Answer the question based on the given passage. Only give me the answer and do not output any other words. "
        "The following are some examples.\n\n{context}\n\n{input}"
    ),
}
# config/dataset2maxlen.json: new tokens per answer.
MAX_NEW_TOKENS = {
    "narrativeqa": 128, "qasper": 128, "multifieldqa_en": 64, "hotpotqa": 32, "2wikimqa": 32, "musique": 32,
    "gov_report": 512, "qmsum": 512, "multi_news": 512, "trec": 64, "triviaqa": 32,
}
NO_CHAT_TEMPLATE = {"trec", "triviaqa"}  # pred.py's list, restricted to the datasets run here
FIRST_LINE_ONLY = {"trec", "triviaqa"}  # eval.py's list (samsum, lsht are not run)


# ---- metrics.py ------------------------------------------------------------------------------

def qa_f1_score(prediction: str, ground_truth: str) -> float:
    pred_tokens, truth_tokens = normalize_answer(prediction).split(), normalize_answer(ground_truth).split()
    num_same = sum((Counter(pred_tokens) & Counter(truth_tokens)).values())
    if num_same == 0:
        return 0.0
    precision, recall = num_same / len(pred_tokens), num_same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def rouge_score(prediction: str, ground_truth: str) -> float:
    """ROUGE-L F of the `rouge` package (pltrdy), as metrics.py; any failure (an empty prediction
    raises ValueError there) scores 0, as its bare `except` does."""
    from rouge import Rouge

    try:
        return Rouge().get_scores([prediction], [ground_truth], avg=True)["rouge-l"]["f"]
    except Exception:
        return 0.0


def classification_score(prediction: str, ground_truth: str, all_classes: list[str]) -> float:
    matches = [name for name in all_classes if name in prediction]
    # metrics.py removes from the list it is iterating, which skips the element after each removal;
    # kept as it is, since it decides which of two overlapping class names survive.
    for term in matches:
        if term in ground_truth and term != ground_truth:
            matches.remove(term)
    return 1.0 / len(matches) if ground_truth in matches else 0.0


METRIC = {
    **dict.fromkeys(("narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "musique", "triviaqa"), "qa_f1"),
    **dict.fromkeys(("gov_report", "qmsum", "multi_news"), "rouge"),
    "trec": "classification",
}


def score_prediction(dataset: str, prediction: str, answers: list[str], all_classes: list[str] | None) -> float:
    """eval.py's `scorer` for one prediction: the first-line cut, then the max over the answers."""
    if dataset in FIRST_LINE_ONLY:
        prediction = prediction.lstrip("\n").split("\n")[0]
    metric = METRIC[dataset]
    best = 0.0
    for truth in answers:
        if metric == "qa_f1":
            value = qa_f1_score(prediction, truth)
        elif metric == "rouge":
            value = rouge_score(prediction, truth)
        else:
            value = classification_score(prediction, truth, all_classes or [])
        best = max(best, value)
    return best


# ---- items -----------------------------------------------------------------------------------

def _source_rows(ctx: BuildContext, dataset: str) -> Iterator[dict]:
    path = local_file(ctx.spec, ctx.data_dir)
    if path is None:
        yield from read_zip_jsonl(_hub_zip(ctx.spec), ZIP_MEMBER.format(dataset=dataset))
        return
    if path.suffix != ".jsonl":
        raise HarnessError(f"{path}: longbench reads JSONL (streamed row by row); convert the parquet file to longbench.jsonl")
    yield from (row for row in read_jsonl(path) if row.get("dataset") == dataset)


def _hub_zip(spec) -> Path:
    """The Hub repository's data.zip at the pinned revision: THUDM/LongBench holds only its loading
    script (LongBench.py, which `datasets` >= 4 refuses) and this archive, which the script reads."""
    if not spec.revision:
        raise HarnessError(f"tasks/{spec.name}.toml: [source] revision is missing; LongBench's data.zip is read at a pinned commit")
    return hub_file("longbench", spec.hub_id, ZIP_FILE, revision=spec.revision, data_file="longbench.jsonl")


def _datasets(ctx: BuildContext) -> tuple[str, ...]:
    chosen = tuple(ctx.spec.options.get("datasets", DATASETS))
    unknown = [d for d in chosen if d not in DATASETS]
    if unknown:
        raise HarnessError(f"tasks/longbench.toml: [options] datasets: unknown {unknown}; expected some of {list(DATASETS)}")
    return chosen


def iter_items(ctx: BuildContext) -> Iterator[Item]:
    datasets = _datasets(ctx)
    tokenizer, lengths, tokenizer_id = start_build(ctx, datasets)
    cache = PromptCache(ctx.cache_dir and Path(ctx.cache_dir) / "longbench", {"version": ctx.spec.version, "tokenizer": tokenizer_id})
    source = Fingerprint()
    count = 0
    try:
        for dataset in datasets:
            for i, row in enumerate(_source_rows(ctx, dataset), 1):
                check_row(row, FIELDS, f"longbench {dataset} row {i}")
                source.add(row)
                prompt = PROMPTS[dataset].format(context=row["context"], input=row["input"])
                for length in lengths:
                    if ctx.limit is not None and count >= ctx.limit:
                        return
                    budget = length - MAX_NEW_TOKENS[dataset]
                    text = cache.get({"prompt": prompt, "budget": budget}, lambda: middle_truncate(tokenizer, prompt, budget))
                    yield _item(ctx, dataset, row, text, length)
                    count += 1
    finally:
        ctx.fingerprints.update({"source": source.hexdigest(), "prompt_cache": {"hits": cache.hits, "built": cache.misses}})


def _item(ctx: BuildContext, dataset: str, row: dict, prompt: str, length: int) -> Item:
    meta = {"dataset": dataset, "length": length_label(length), "all_classes": row["all_classes"]}
    if dataset in NO_CHAT_TEMPLATE:
        meta["raw_prompt"] = True
    if ctx.mode == "non-reasoning":  # the official caps; a reasoning model needs room to think
        meta["max_new_tokens"] = MAX_NEW_TOKENS[dataset]
    return Item(id=f"{length_label(length)}/{dataset}/{row['_id']}", messages=({"role": "user", "content": prompt},),
                reference=list(row["answers"]), meta=meta)


def score(item: Item, gen: Generation) -> Score:
    prediction = continuation(item, gen)
    value = score_prediction(item.meta["dataset"], prediction, item.reference, item.meta.get("all_classes"))
    return Score(value, prediction, {"metric": METRIC[item.meta["dataset"]]})


# ---- aggregation -----------------------------------------------------------------------------

HEADLINE_METRIC = "avg"


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """Per length: `<length>/<category>` and `<length>/avg` (Table 11), each dataset as
    `<dataset>@<length>`; `avg` is the total at the longest length run (the main tables' figure).
    A category with none of its datasets run is left out, and so is `<length>/avg` then."""
    values: dict[tuple[str, str], list[float]] = {}
    for item, s in records:
        values.setdefault((item.meta["length"], item.meta["dataset"]), []).append(s.value)
    out: dict[str, float] = {}
    lengths = sorted({length for length, _ in values}, key=label_tokens)
    for length in lengths:
        per_dataset = {d: round(100 * sum(v) / len(v), 2) for (l, d), v in values.items() if l == length}
        out.update({f"{d}@{length}": v for d, v in per_dataset.items()})
        categories = {}
        for category, members in CATEGORIES.items():
            present = [per_dataset[d] for d in members if d in per_dataset]
            if present:
                categories[category] = sum(present) / len(present)
                out[f"{length}/{category}"] = categories[category]
        if len(categories) == len(CATEGORIES):
            out[f"{length}/avg"] = sum(categories.values()) / len(categories)
        if length == lengths[-1] and categories:
            # The headline; a run of only some datasets (or a bootstrap resample that drew none of
            # one) averages the categories it has, and `avg_categories` says how many that is.
            out["avg"] = sum(categories.values()) / len(categories)
            out["avg_categories"] = float(len(categories))
    return out
