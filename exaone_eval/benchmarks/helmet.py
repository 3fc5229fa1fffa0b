"""HELMET: How to Evaluate Long-context Models Effectively and Thoroughly, six of its seven categories.

Yen et al., "HELMET: How to Evaluate Long-Context Language Models Effectively and Thoroughly"
(ICLR 2025, arXiv:2410.02694); code princeton-nlp/HELMET, data `princeton-nlp/HELMET` on the Hub
plus the Hub sets its loaders name. Feeds the "HELMET" row of Tables 4/6 (the total at the
model's longest length) and Table 9 (per length: avg, recall, rag, longqa, summ, rerank, icl).

The report drops Cite, so the total here is the mean of six categories (HELMET's own has seven).
Per category, as HELMET's configs/*.yaml and scripts/collect_results.py:
- Recall (json_kv substring EM; ruler_niah_mk_2, _mk_3, _mv RULER recall), no chat template;
- RAG (kilt_nq, kilt_triviaqa, kilt_hotpotqa, kilt_popqa with popularity < 10^3; substring EM),
  no chat template, answer cut at its first newline;
- Re-rank (msmarco, NDCG@10), no chat template, cut at a newline;
- ICL (trec_coarse, trec_fine, banking77, clinic150, nlu; exact match of the label), no chat
  template, cut at a newline;
- LongQA (narrativeqa: the GPT-4o judge's fluency x correctness / 3; infbench_qa_eng ROUGE-L F1;
  infbench_choice_eng exact match), chat template;
- Summ (infbench_sum_eng, multi_lexsum: the GPT-4o judge's fluency x key-point F1), chat template.
A dataset's figure is the mean over its samples x 100, a category the mean of its datasets.

Prompts: HELMET's templates (`PROMPTS`). Without the chat template the prompt is the user
template, a newline and the answer prefix ("Answer:"), sent as raw text; the prefix is put back in
front of the output before parsing, as eval.py does. The model's context is the length: a prompt
longer than the length minus the answer cap loses the end of its document (`fit_context`).
Selection and demos: `helmet_data.py`. The judge prompts are HELMET's own, read at run time from
the user's copy of HELMET's scripts (`helmet_judge.py`); without a judge (`--judge-base-url`) the
judged datasets are not scored and the LongQA / Summ figures and the total say so in their names.

Item id: `<length>/<dataset>/<key>`. `[options] lengths` says which lengths each model gets;
`[options] datasets` may narrow the datasets; `[options] llama2_tokenizer` names the Llama-2
tokenizer HELMET cuts InfiniteBench documents with (local files).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from exaone_eval.benchmarks import helmet_data as hd
from exaone_eval.benchmarks import helmet_judge as hj
from exaone_eval.benchmarks import helmet_sources as hs
from exaone_eval.scoring import helmet as hm
from exaone_eval.scoring.judge import judge_request
from exaone_eval.scoring.long_context import (
    Fingerprint, PromptCache, continuation, label_tokens, length_label, start_build, token_ids,
)
from exaone_eval.types import BuildContext, Generation, HarnessError, Item, Request, Score


NEEDS_TOKENIZER = True
"""Prompts are cut in the evaluated model's own tokens: the runner skips it, saying why, without one."""


@dataclass(frozen=True)
class Task:
    category: str
    max_new_tokens: int
    chat: bool
    """HELMET's `use_chat_template` for the task's config."""
    stop_newline: bool
    metric: str
    """The figure collect_results.py reads for the dataset."""
    limit: int = 100
    """`max_test_samples`."""


NEEDS_TOKENIZER = True
"""Prompts are cut in the evaluated model's own tokens: the runner skips it, saying why, without one."""

TASKS = {
    "json_kv": Task("recall", 100, False, False, "substring_exact_match"),
    "ruler_niah_mk_2": Task("recall", 50, False, False, "ruler_recall"),
    "ruler_niah_mk_3": Task("recall", 100, False, False, "ruler_recall"),
    "ruler_niah_mv": Task("recall", 50, False, False, "ruler_recall"),
    "kilt_nq": Task("rag", 20, False, True, "substring_exact_match"),
    "kilt_triviaqa": Task("rag", 20, False, True, "substring_exact_match"),
    "kilt_hotpotqa": Task("rag", 20, False, True, "substring_exact_match"),
    "kilt_popqa": Task("rag", 20, False, True, "substring_exact_match"),
    "msmarco_rerank_psg": Task("rerank", 200, False, True, "NDCG@10"),
    "icl_trec_coarse": Task("icl", 20, False, True, "exact_match", limit=500),
    "icl_trec_fine": Task("icl", 20, False, True, "exact_match", limit=500),
    "icl_banking77": Task("icl", 20, False, True, "exact_match", limit=500),
    "icl_clinic150": Task("icl", 20, False, True, "exact_match", limit=500),
    "icl_nlu": Task("icl", 20, False, True, "exact_match", limit=500),
    "narrativeqa": Task("longqa", 100, True, False, "gpt-4-score"),
    "infbench_qa_eng": Task("longqa", 10, True, False, "rougeL_f1"),
    "infbench_choice_eng": Task("longqa", 10, True, False, "exact_match"),
    "infbench_sum_eng": Task("summ", 1200, True, False, "gpt-4-f1"),
    "multi_lexsum": Task("summ", 400, True, False, "gpt-4-f1"),
}
CATEGORIES = ("recall", "rag", "longqa", "summ", "rerank", "icl")  # Table 9's order
_RULER_MV = ("Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. I will quiz you "
             "about the {type_needle_v} afterwards.\n{context}\nWhat are all the special magic {type_needle_v} for {query} "
             "mentioned in the provided text?")
_RULER_NIAH = ("A special magic {type_needle_v} is hidden within the following text. Make sure to memorize it. I will quiz you "
               "about the {type_needle_v} afterwards.\n{context}\nWhat is the special magic {type_needle_v} for {query} "
               "mentioned in the provided text?")
_RAG = ("Use the given documents to write a concise and short answer to the question. Write your answer in the following "
        "format:\nAnswer: [answer]\n\n{demos}{context}\n\nQuestion: {question}")
_ICL = ("Use the provided mapping from the text to label to assign a label to the text. Only output \"label: {{label}}\" and "
        "nothing else. \n\n{context}\n\n{question}")
# dataset -> (user template, answer prefix ("system template"), separator between them)
PROMPTS = {
    "json_kv": ("{context}\n\nExtract the value corresponding to the specified key in the JSON object below.\n\n{demos}Key: {question}",
                "Corresponding value:", "\n"),
    "ruler_niah_mk_2": (_RULER_NIAH, "The special magic {type_needle_v} for {query} mentioned in the provided text is", "\n"),
    "ruler_niah_mk_3": (_RULER_NIAH, "The special magic {type_needle_v} for {query} mentioned in the provided text is", "\n"),
    "ruler_niah_mv": (_RULER_MV, "The special magic {type_needle_v} for {query} mentioned in the provided text are", "\n"),
    **{d: (_RAG, "Answer:", "\n") for d in ("kilt_nq", "kilt_triviaqa", "kilt_hotpotqa", "kilt_popqa")},
    "msmarco_rerank_psg": (
        "You are provided with a list of documents, each indicated by their ID. Rank each document based on their relevance to "
        "the question in descending order from most relelvant to least relevant texts. Include all documents in the rankings. "
        "Write your answer using the unique IDs, with the following format:\nRanking: ID3 > ID1 > ID2\n\n{demos}{context}\n\n"
        "Query: {question}", "Ranking:", "\n"),
    **{d: (_ICL, "label:", "\n") for d in TASKS if d.startswith("icl_")},
    "narrativeqa": ("You are given a story, which can be either a novel or a movie script, and a question. Answer the question "
                    "as concisely as you can, using a single phrase if possible.\n\n{demo}{context}\n\nQuestion: {question}",
                    "Answer:", "\n"),
    "multi_lexsum": (
        "You are given the legal documents in a civil rights lawsuit, and you are tasked to summarize the case. Write a concise "
        "summary of one paragraph (200 to 250 words). The summary should contain a short description of the background, the "
        "parties involved, and the outcomes of the case.\n\n{demo}Legal documents:\n{context}\n\nNow please summarize the case.",
        "Summary:", "\n\n"),
    "infbench_qa_eng": ("You are given a story and a question. Answer the question as concisely as you can, using a single phrase "
                        "if possible.\n\n{demo}{context}\n\nQuestion: {question}", "Answer:", "\n\n"),
    "infbench_choice_eng": (
        "You are given a story and a question with multiple choices. Choose the best answer from the options provided. Only one "
        "of the following options is correct, output the answer using one single letter (A, B, C, or D). Don't say anything "
        "else.\n\n{demo}{context}\n\nQuestion: {question}\nOptions:\n{options}", "Answer:", "\n\n"),
    "infbench_sum_eng": (
        "You are given a book and you are tasked to summarize it. Write a summary of about 1000 to 1200 words. Only write about "
        "the plot and characters of the story. Do not discuss the themes or background of the book. Do not provide any "
        "analysis or commentary.\n\n{demo}{context}\n\nNow summarize the book.", "Summary:", "\n\n"),
}


# ---- items -----------------------------------------------------------------------------------

def _datasets(ctx: BuildContext) -> tuple[str, ...]:
    chosen = tuple(ctx.spec.options.get("datasets", TASKS))
    for d in chosen:
        if d not in TASKS:
            raise HarnessError(f"tasks/helmet.toml: [options] datasets: unknown {d!r}; expected some of {list(TASKS)}")
    return chosen


def _examples(ctx: BuildContext, dataset: str, length: int, llama2) -> Iterator[hd.Example]:
    if dataset == "json_kv":
        return hd.json_kv(ctx.data_dir, length)
    if dataset.startswith("ruler_"):
        return hd.ruler(ctx.data_dir, dataset, length)
    if dataset.startswith("kilt_"):
        return hd.kilt(ctx.data_dir, dataset, length)
    if dataset == "msmarco_rerank_psg":
        return hd.msmarco(ctx.data_dir, length)
    if dataset.startswith("icl_"):
        return hd.icl(ctx.data_dir, dataset, length, TASKS[dataset].limit)
    if dataset == "narrativeqa":
        return hd.narrativeqa(ctx.data_dir, length, llama2())
    if dataset == "multi_lexsum":
        return hd.multi_lexsum(ctx.data_dir, length, llama2())
    return hd.infbench(ctx.data_dir, dataset, length, llama2())


def render(tokenizer, dataset: str, fields: dict, mode: str) -> tuple[str, int]:
    """(prompt text, its length in tokens) as HELMET's `tokenize` counts it: the raw prompt with
    the tokenizer's special tokens, or the chat template's text without adding any."""
    user, prefix, sep = PROMPTS[dataset]
    if TASKS[dataset].chat:
        text = user.format(**fields)
        chat = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True,
                                             enable_thinking=mode == "reasoning")
        return text, len(token_ids(tokenizer, chat, add_special_tokens=False))
    text = user.format(**fields) + sep + prefix.format(**fields)
    return text, len(token_ids(tokenizer, text))


def fit_context(tokenizer, dataset: str, fields: dict, budget: int, mode: str) -> str:
    """`model_utils.tokenize`: a prompt over `budget` tokens loses as many tokens from the end of its
    document (cut at a token's character offset), then is rendered again."""
    text, n = render(tokenizer, dataset, fields, mode)
    if n <= budget:
        return text
    cut = n - budget
    offsets = tokenizer(fields["context"], return_offsets_mapping=True)["offset_mapping"]
    context = fields["context"][: offsets[-cut][0]] if cut <= len(offsets) else ""
    return render(tokenizer, dataset, {**fields, "context": context}, mode)[0]


def _llama2_loader(ctx: BuildContext):
    def load():
        from exaone_eval.tokenizer import load_tokenizer

        name = ctx.spec.options.get("llama2_tokenizer", "meta-llama/Llama-2-7b-hf")
        return load_tokenizer(name, purpose="HELMET cuts NarrativeQA, InfiniteBench and Multi-LexSum documents in Llama-2 tokens "
                                            "(tasks/helmet.toml [options] llama2_tokenizer)")
    return load


def iter_items(ctx: BuildContext) -> Iterator[Item]:
    datasets = _datasets(ctx)
    tokenizer, lengths, tokenizer_id = start_build(ctx, datasets)
    judge_scripts = _judge_scripts(ctx, datasets)
    cache = PromptCache(ctx.cache_dir and Path(ctx.cache_dir) / "helmet",
                        {"version": ctx.spec.version, "tokenizer": tokenizer_id, "mode": ctx.mode})
    source, count = Fingerprint(), 0
    try:
        for length in lengths:
            for dataset in datasets:
                budget = length - TASKS[dataset].max_new_tokens
                for example in _examples(ctx, dataset, length, _llama2_loader(ctx)):
                    if ctx.limit is not None and count >= ctx.limit:
                        return
                    source.add({"dataset": dataset, "key": example.key, "answer": example.answer})
                    prompt = cache.get({"dataset": dataset, "budget": budget, "fields": example.fields},
                                       lambda: fit_context(tokenizer, dataset, example.fields, budget, ctx.mode))
                    yield _item(ctx, dataset, length, example, prompt, judge_scripts)
                    count += 1
    finally:
        ctx.fingerprints.update({"source": source.hexdigest(), "prompt_cache": {"hits": cache.hits, "built": cache.misses}})


def _judge_scripts(ctx: BuildContext, datasets: tuple[str, ...]) -> str | None:
    """The folder of the user's copy of HELMET's judge scripts, when a judged dataset is run; run.json
    records a hash of the prompts found there (None: not there, and needed only with a judge)."""
    if not any(d in JUDGED for d in datasets):
        return None
    folder = str(hj.scripts_dir(hs.helmet_dir(ctx.data_dir), ctx.data_dir))
    try:
        ctx.fingerprints["judge_prompts"] = hj.fingerprint(hj.load(folder))
    except HarnessError as e:  # raised again when a judge asks for them; without a judge they are not needed
        ctx.fingerprints["judge_prompts"] = None
        ctx.fingerprints["judge_prompts_problem"] = str(e)
    return folder


def _item(ctx: BuildContext, dataset: str, length: int, example: hd.Example, prompt: str, judge_scripts: str | None) -> Item:
    task = TASKS[dataset]
    meta = {"dataset": dataset, "length": length_label(length), **example.meta}
    if dataset in JUDGED:
        meta["judge_scripts"] = judge_scripts
    if not task.chat:
        meta["raw_prompt"] = True
        meta["output_prefix"] = PROMPTS[dataset][1].format(**example.fields)
    if ctx.mode == "non-reasoning":  # HELMET's caps; a reasoning model needs room to think
        meta["max_new_tokens"] = task.max_new_tokens
    return Item(id=f"{length_label(length)}/{dataset}/{example.key}", messages=({"role": "user", "content": prompt},),
                reference=example.answer, meta=meta)


# ---- scoring ---------------------------------------------------------------------------------

def model_output(item: Item, gen: Generation) -> str:
    """The output as HELMET scores it: cut at the first newline where the config stops there (the
    same text a stop string gives), the answer prefix put back in front for raw prompts."""
    text = continuation(item, gen)
    if TASKS[item.meta["dataset"]].stop_newline:
        text = text.split("\n", 1)[0]
    return item.meta.get("output_prefix", "") + text


def sample_metric(item: Item, output: str) -> tuple[float, object]:
    """(the dataset's collect_results metric on 0-1, what was extracted) for one output."""
    dataset, answer = item.meta["dataset"], item.reference
    if dataset.startswith("ruler_"):
        return hm.ruler_recall(output, answer), output
    if dataset == "json_kv":
        metrics, parsed = hm.best_of_raw_and_parsed(output, answer, "corresponding value:")
        return metrics["substring_exact_match"], parsed
    if dataset == "msmarco_rerank_psg":
        ranking = hm.parse_rankings(output)
        return hm.ndcg_at_10(ranking, item.meta["qrels"]), list(ranking)
    if dataset.startswith("icl_"):
        parsed = hm.parse_output(output, "label:")
        return hm.calculate_metrics(parsed, answer)["exact_match"], parsed
    if dataset == "infbench_choice_eng":
        # load_infbench's choice_post_process: EM of the raw or parsed output, or the "A. option" text in it
        metrics, parsed = hm.best_of_raw_and_parsed(output, answer)
        exact = metrics["exact_match"] or answer[1].lower() in output.lower()
        return float(exact), parsed
    metrics, parsed = hm.best_of_raw_and_parsed(output, answer)
    return metrics[TASKS[dataset].metric], parsed


def judge_requests(item: Item, gen: Generation) -> list[Request]:
    """The GPT-4o judge calls of narrativeqa, infbench_sum_eng and multi_lexsum (`JUDGED`); none
    for the other datasets, whose metrics need no judge."""
    build = JUDGED.get(item.meta["dataset"])
    return [] if build is None else build(item, model_output(item, gen))


def _summ_requests(item: Item, output: str) -> list[Request]:
    """eval_gpt4_summ.py: fluency, key-point recall and sentence precision prompts (book variants
    for InfiniteBench), at most 4096 judge tokens as HELMET asks."""
    summary = output.strip()
    keypoints = "\n".join(f"{i + 1}. {kp}" for i, kp in enumerate(item.meta["keypoints"]))
    expert = item.meta["expert_summary"]
    kind = "book" if item.meta["dataset"] == "infbench_sum_eng" else "legal"
    prompts = hj.load(item.meta["judge_scripts"])
    fluency, recall, precision = (prompts[f"{part}_{kind}"] for part in ("fluency", "recall", "precision"))
    return [judge_request(fluency.format(text=summary), max_tokens=4096),
            judge_request(recall.format(keypoints=keypoints, summary=summary), max_tokens=4096),
            judge_request(precision.format(expert_summary=expert, summary=summary), max_tokens=4096)]


def parse_longqa_output(output: str, prefix: str = "Answer:") -> str | None:
    """eval_gpt4_longqa.py's own `parse_output`: newlines become spaces first, so the answer is the
    whole output after the prefix."""
    return hm.parse_output(output.replace("\n", " "), prefix)


def _longqa_requests(item: Item, output: str) -> list[Request]:
    """eval_gpt4_longqa.py: one fluency + correctness call; the answers as Python prints the list;
    at most 2048 judge tokens (HELMET's OpenAIModel default)."""
    prompt = hj.load(item.meta["judge_scripts"])["longqa"].format(question=item.meta["question"], correct_answers=str(item.reference),
                                         parsed_output=parse_longqa_output(output))
    return [judge_request(prompt, max_tokens=2048)]


JUDGED = {"narrativeqa": _longqa_requests, "infbench_sum_eng": _summ_requests, "multi_lexsum": _summ_requests}


def parse_json(text: str, json_block_fallback: bool = True) -> dict | None:
    """eval_gpt4_summ.py's `parse_json`: the last `{...}` of the reply, else the last ```json block
    (eval_gpt4_longqa.py's has no fallback)."""
    matches = re.findall(r"\{.*?\}", text, re.DOTALL)
    if not matches:
        return None
    blocks = re.findall(r"(?:```json)(.+)(?:```)", text, re.DOTALL)[-1:] if json_block_fallback else []
    for candidate in (matches[-1], *blocks):
        try:
            parsed = json.loads(candidate)
            return parsed if isinstance(parsed, dict) else None
        except (json.JSONDecodeError, ValueError):
            continue
    return None


def summ_f1(fluency: dict, recall: dict, precision: dict, n_keypoints: int) -> float:
    """fluency x the F1 of key-point recall and sentence precision."""
    rec = recall["recall"] / n_keypoints if n_keypoints > 0 else 0
    prec = precision["precision"] / precision["sentence_count"] if precision["sentence_count"] > 0 else 0
    return fluency["fluency"] * 2 * rec * prec / (rec + prec) if rec + prec > 0 else 0.0


JUDGE_OPTIONAL = True
"""Runs without a judge: `score(item, gen)` (no judgments) marks the judged datasets' samples
`not_scored`, and `metrics` names what its figures lack."""
NOT_SCORED = "needs an LLM judge"


def score(item: Item, gen: Generation, judgments: list[Generation] | None = None) -> Score:
    output = model_output(item, gen)
    dataset = item.meta["dataset"]
    if dataset not in JUDGED:
        value, extracted = sample_metric(item, output)
        return Score(float(value), extracted, {"metric": TASKS[dataset].metric})
    if judgments is None:  # the run has no judge (the runner passes a list, maybe empty, when it has one)
        return Score(0.0, output.strip(), {"metric": TASKS[dataset].metric, "not_scored": NOT_SCORED})
    replies = [j.answer for j in judgments or []]
    parsed = [parse_json(r, json_block_fallback=dataset != "narrativeqa") for r in replies]
    detail = {"metric": TASKS[dataset].metric, "judge_raw": replies}
    try:
        if dataset == "narrativeqa":  # fluency (0/1) x correctness (0-3), on 0-1 (collect_results' x 100/3)
            [verdict] = parsed
            value = verdict["fluency"] * verdict["correctness"] / 3
        else:
            value = summ_f1(*parsed, n_keypoints=len(item.meta["keypoints"]))
    except (TypeError, KeyError, ValueError, ZeroDivisionError):  # no reply, or one without the fields asked for
        # HELMET leaves such a sample out of the dataset's mean; so does `metrics`
        return Score(0.0, None, {**detail, "judge_unparsable": True})
    return Score(float(value), output.strip(), {**detail, "judge_scores": parsed})


# ---- aggregation -----------------------------------------------------------------------------

HEADLINE_METRIC = "avg"


def _named(name: str, missing: list[str]) -> str:
    """A figure computed without some of its datasets names them, as bfcl_v3's summaries do:
    a partial figure is never read as the full one."""
    return f"{name} (missing {', '.join(missing)})" if missing else name


def metrics(records: list[tuple[Item, Score]]) -> dict[str, float]:
    """Per length: each dataset as `<dataset>@<length>` (mean x 100, judge-unparsable samples left
    out as HELMET does), `<length>/<category>` and `<length>/avg` (the mean of the six, Table 9);
    `avg` is the total at the longest length run (the main tables' figure). Datasets run without
    a judge (`not_scored`) have no figure, and every figure that lacks them says so in its name:
    `128k/longqa (missing narrativeqa)`, `avg (missing narrativeqa, infbench_sum_eng, multi_lexsum)`."""
    values: dict[tuple[str, str], list[float]] = {}
    unscored: dict[str, set[str]] = {}
    for item, s in records:
        if s.detail.get("not_scored"):
            unscored.setdefault(item.meta["length"], set()).add(item.meta["dataset"])
        elif not s.detail.get("judge_unparsable") or s.detail.get("truncated"):  # an unfinished reasoning is a 0
            values.setdefault((item.meta["length"], item.meta["dataset"]), []).append(s.value)
    out: dict[str, float] = {}
    lengths = sorted({length for length, _ in values}, key=label_tokens)
    for length in lengths:
        per_dataset = {d: 100 * sum(v) / len(v) for (l, d), v in values.items() if l == length}
        missing = [d for d in TASKS if d in unscored.get(length, set()) and d not in per_dataset]
        out.update({f"{d}@{length}": v for d, v in per_dataset.items()})
        categories = {}
        for category in CATEGORIES:
            present = [v for d, v in per_dataset.items() if TASKS[d].category == category]
            if present:
                categories[category] = sum(present) / len(present)
                out[_named(f"{length}/{category}", [d for d in missing if TASKS[d].category == category])] = categories[category]
        run_categories = set(categories) | {TASKS[d].category for d in missing}
        if len(run_categories) == len(CATEGORIES):
            out[_named(f"{length}/avg", missing)] = sum(categories.values()) / len(categories)
        if length == lengths[-1] and categories:
            out[_named("avg", missing)] = sum(categories.values()) / len(categories)
            out["avg_categories"] = float(len(categories))
    return out


def setting(records: list[tuple[Item, Score]]) -> str:
    """Shown beside the headline in the main tables: which judged datasets it lacks, if any."""
    unscored = {item.meta["dataset"] for item, s in records if s.detail.get("not_scored")}
    if not unscored:
        return ""
    return f"partial: no judge, without {', '.join(d for d in TASKS if d in unscored)}"
