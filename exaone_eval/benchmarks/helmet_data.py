"""HELMET's test sets, row by row, as princeton-nlp/HELMET `data.py` selects and formats them.

Each loader yields `Example`s: the template fields (context, question, demos, ...), the answer and
what the scorer needs. Selection follows HELMET exactly where it is seeded: `random.seed(42)` then
`random.sample` over the sorted question keys (RAG, Re-rank), the HF `Dataset.shuffle(seed)` order
(which is numpy's `default_rng(seed).permutation(n)`; `tests/test_helmet.py` checks that against
`datasets`), per-sample demo shuffles seeded by a SHA-256 of the key, ICL's label balancing.

Big files are read twice, streamed: once for the keys or the row count (to draw the sample as
HELMET does), once to build the drawn rows; only the small demo files are held whole.

Where the files and Hub splits are found (HELMET's `data/` tree under `--data-dir`, a local JSONL,
or the Hub at a pinned revision): `helmet_sources`.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import Iterator

from exaone_eval.benchmarks.helmet_sources import HUB_REVISIONS, MultiLexSum, data_file, helmet_dir, hub_split, split_rows
from exaone_eval.data import read_jsonl
from exaone_eval.scoring.long_context import check_row, hub_rows
from exaone_eval.types import HarnessError

SEED = 42
LENGTHS = (4096, 8192, 16384, 32768, 65536, 131072)  # scripts/generate_configs.py: 4k ... 128k


@dataclass
class Example:
    key: str
    """A stable id within its dataset (the row's own id, else its position in the file)."""
    fields: dict
    """What the prompt templates are filled with (context, question, demos, ...)."""
    answer: object
    meta: dict = field(default_factory=dict)


def hf_permutation(n: int, seed: int) -> list[int]:
    """The row order of `datasets.Dataset.shuffle(seed=seed)` on n rows."""
    import numpy as np

    return [int(i) for i in np.random.default_rng(seed).permutation(n)]


def key_seed(key) -> int:
    """HELMET's per-question demo seed: SHA-256 of the key, mod 2**31."""
    return int(hashlib.sha256(str(key).encode("utf-8")).hexdigest(), 16) % 2**31


def _index_of(length: int) -> int:
    if length not in LENGTHS:
        raise HarnessError(f"helmet: length {length} has no HELMET config; HELMET's lengths are {list(LENGTHS)}")
    return LENGTHS.index(length)


# ---- Recall: JSON KV and RULER (configs/recall.yaml) -------------------------------------------

def json_kv(data_dir, length: int, shots: int = 2, limit: int = 100) -> Iterator[Example]:
    path = data_file(data_dir, f"json_kv/test_k{['50', '105', '220', '440', '900', '1800'][_index_of(length)]}_dep6.jsonl")
    n = sum(1 for _ in read_jsonl(path))
    chosen = set(hf_permutation(n, SEED)[:limit])
    for i, row in enumerate(read_jsonl(path)):
        if i in chosen:
            check_row(row, ("context", "question", "answer", "demos"), f"{path}: row {i + 1}")
            demos = "\n\n".join(f"Key: {k}\nCorresponding value: {v}" for k, v in row["demos"][:shots])
            yield Example(str(row.get("id", i)), {"context": row["context"], "question": row["question"],
                                                  "demos": demos + ("\n\n" if shots > 0 else "")}, row["answer"])


RULER_FOLDERS = {"ruler_niah_mk_2": "niah_multikey_2", "ruler_niah_mk_3": "niah_multikey_3", "ruler_niah_mv": "niah_multivalue"}


def ruler(data_dir, dataset: str, length: int, limit: int = 100) -> Iterator[Example]:
    path = data_file(data_dir, f"ruler/{RULER_FOLDERS[dataset]}/validation_{length}.jsonl")
    n = sum(1 for _ in read_jsonl(path))
    chosen = set(hf_permutation(n, SEED)[:limit])
    for i, row in enumerate(read_jsonl(path)):
        if i in chosen:
            check_row(row, ("context", "type_needle_v"), f"{path}: row {i + 1}")
            query = row.get("query", row.get("question", ""))
            answer = row["answer"] if "answer" in row else row["outputs"]
            yield Example(str(row.get("index", i)), {"context": row["context"], "query": query, "question": query,
                                                     "type_needle_v": row["type_needle_v"]}, list(answer))


# ---- RAG: KILT (configs/rag.yaml) --------------------------------------------------------------

KILT_FILES = {  # dataset -> (test file pattern, demo file, dep); {k} is the passage count of the length
    "kilt_nq": ("kilt/nq-dev-multikilt_1000_k{k}_dep6.jsonl", "kilt/nq-train-multikilt_1000_k3_dep6.jsonl"),
    "kilt_triviaqa": ("kilt/triviaqa-dev-multikilt_1000_k{k}_dep6.jsonl", "kilt/triviaqa-train-multikilt_1000_k3_dep6.jsonl"),
    "kilt_hotpotqa": ("kilt/hotpotqa-dev-multikilt_1000_k{k}_dep3.jsonl", "kilt/hotpotqa-train-multikilt_1000_k3_dep3.jsonl"),
    "kilt_popqa": ("kilt/popqa_test_1000_k{k}_dep6.jsonl", "kilt/popqa_test_1000_k3_dep6.jsonl"),
}
POPQA_THRESHOLD = 3  # HELMET runs `kilt_popqa_3`: questions whose log10(subject popularity) < 3
PASSAGE = "Document (Title: {title}): {text}"


def _passages(ctxs: list[dict]) -> str:
    return "\n\n".join(PASSAGE.format(**c) for c in ctxs)


def kilt(data_dir, dataset: str, length: int, shots: int = 2, limit: int = 100) -> Iterator[Example]:
    test_pattern, demo_name = KILT_FILES[dataset]
    path = data_file(data_dir, test_pattern.format(k=["20", "50", "105", "220", "440", "1000"][_index_of(length)]))
    popqa = dataset == "kilt_popqa"

    def keep(row) -> bool:
        return not popqa or math.log10(row["s_pop"]) < POPQA_THRESHOLD

    demos = [row for row in read_jsonl(data_file(data_dir, demo_name)) if keep(row)]
    first = next(iter(read_jsonl(path)), {})
    key = "id" if "id" in first else "question"  # nq has no id: questions are taken as unique
    keys = sorted({row[key] for row in read_jsonl(path) if keep(row)})
    random.seed(SEED)  # eval.py seeds before loading; load_qa's sample is the first draw
    chosen = set(random.sample(keys, min(limit, len(keys))))
    for i, row in enumerate(read_jsonl(path)):
        if not keep(row) or row[key] not in chosen:
            continue
        check_row(row, ("question", "answers", "ctxs"), f"{path}: row {i + 1}")
        demo_text = ""
        if shots > 0:
            pool = [d for d in demos if d[key] != row[key]] if popqa else demos  # popqa has one split
            picked = _first_unique([pool[j] for j in hf_permutation(len(pool), key_seed(row[key]))], key, shots)
            demo_text = "\n\n".join(f"{_passages(d['ctxs'])}\n\nQuestion: {d['question']}\nAnswer: {d['answers'][0]}"
                                    for d in picked) + "\n\n"
        yield Example(f"{i}", {"context": _passages(row["ctxs"]), "question": row["question"], "demos": demo_text},
                      list(row["answers"]))


def _first_unique(rows: list[dict], key: str, n: int) -> list[dict]:
    """`drop_duplicates(key).select(range(n))`: the first n rows with distinct keys."""
    out, seen = [], set()
    for row in rows:
        if row[key] not in seen:
            seen.add(row[key])
            out.append(row)
        if len(out) == n:
            break
    if len(out) < n:
        raise HarnessError(f"helmet: the demo file has fewer than {n} distinct questions")
    return out


# ---- Re-rank: MS MARCO (configs/rerank.yaml) ---------------------------------------------------

def _rerank_passage(c: dict, titled: bool) -> str:
    return f"[ID: {c['id']}] Document (Title: {c['title']}): {c['text']}" if titled else f"[ID: {c['id']}] Document: {c['text']}"


def msmarco(data_dir, length: int, shots: int = 2, limit: int = 100) -> Iterator[Example]:
    path = data_file(data_dir, f"msmarco/test_reranking_data_k{['14', '50', '130', '285', '600', '1000'][_index_of(length)]}_dep3.jsonl")
    demos = list(read_jsonl(data_file(data_dir, "msmarco/test_reranking_data_k10_dep3.jsonl")))
    first = next(iter(read_jsonl(path)), {})
    key = "qid" if "qid" in first else "query"
    random.seed(SEED)  # load_msmarco_rerank seeds itself
    keys = sorted({row[key] for row in read_jsonl(path)})
    chosen = set(random.sample(keys, min(limit, len(keys))))
    n_chosen = sum(1 for row in read_jsonl(path) if row[key] in chosen)
    if len(demos) > 2 * n_chosen:  # HELMET drops demo queries that are also test queries, once
        demos = [d for d in demos if d["qid"] not in chosen]
        per_sample_filter = False
    else:
        per_sample_filter = True
    for i, row in enumerate(read_jsonl(path)):
        if row[key] not in chosen:
            continue
        check_row(row, ("qid", "query", "ctxs"), f"{path}: row {i + 1}")
        titled = "title" in row["ctxs"][0]
        demo_text = ""
        if shots > 0:
            pool = [d for d in demos if d["qid"] != row["qid"]] if per_sample_filter else demos
            for d in _first_unique([pool[j] for j in hf_permutation(len(pool), key_seed(row["qid"]))], "qid", shots):
                ranking = " > ".join(c["id"] for c in sorted(d["ctxs"], key=lambda c: c["label"], reverse=True))
                demo_text += "\n\n".join(_rerank_passage(c, titled) for c in d["ctxs"]) + f"\n\nQuery: {d['query']}\nRanking: {ranking}" + "\n\n"
        qrels = {c["id"]: int(c["label"]) for c in row["ctxs"]}
        context = "\n\n".join(_rerank_passage(c, titled) for c in row["ctxs"])
        yield Example(str(row["qid"]), {"context": context, "question": row["query"], "demos": demo_text},
                      None, {"qrels": qrels})


# ---- ICL (configs/icl.yaml) ---------------------------------------------------------------------

# dataset -> (Hub id, config, test split, text field, label field, number of labels, shots per length)
ICL = {
    "icl_trec_coarse": ("CogComp/trec", None, "test", "text", "coarse_label", 6, (200, 400, 800, 1600, 3300, 6600)),
    "icl_trec_fine": ("CogComp/trec", None, "test", "text", "fine_label", 50, (200, 400, 800, 1600, 3200, 6400)),
    "icl_banking77": ("PolyAI/banking77", None, "test", "text", "label", 77, (180, 360, 720, 1450, 2900, 5900)),
    "icl_clinic150": ("clinc/clinc_oos", "plus", "validation", "text", "intent", 151, (220, 440, 880, 1750, 3525, 7050)),
    "icl_nlu": ("xingkunliuxtracta/nlu_evaluation_data", None, None, "text", "label", 68, (250, 510, 1020, 2040, 4080, 8296)),
}
def balance_labels(rows: list[dict], label_field: str, shots: int, seed: int) -> list[dict]:
    """`load_icl.balance_labels`: rounds of one example per label (labels in order of first
    appearance), each round shuffled, cut to `shots`. HELMET's quirks kept: the first draw takes
    `rounds % n` examples of a label, then tops up with further draws."""
    rand = random.Random(seed)
    by_label: dict = {}
    for row in rows:
        by_label.setdefault(row[label_field], []).append(row)
    rounds = math.ceil(shots / len(by_label))
    table: list[list[dict]] = [[] for _ in range(rounds)]
    for samples in by_label.values():
        indices = rand.sample(range(len(samples)), rounds % len(samples))
        while len(indices) < rounds:
            indices += rand.sample(range(len(samples)), min(rounds - len(indices), len(samples)))
        for r, idx in enumerate(indices):
            table[r].append(samples[idx])
    for group in table:
        rand.shuffle(group)
    return [row for group in table for row in group][:shots]


def icl(data_dir, dataset: str, length: int, limit: int = 500) -> Iterator[Example]:
    hub_id, config, test_split, text_field, label_field, num_labels, shots_by_length = ICL[dataset]
    shots = shots_by_length[_index_of(length)]
    if test_split is None:  # nlu: one split, HELMET holds out 10% (datasets' train_test_split, seed 42)
        everything = hub_split(data_dir, hub_id, config, "train")
        order = hf_permutation(len(everything), SEED)
        n_test = math.ceil(0.1 * len(everything))
        test, train = [everything[i] for i in order[:n_test]], [everything[i] for i in order[n_test:]]
    else:
        train, test = hub_split(data_dir, hub_id, config, "train"), hub_split(data_dir, hub_id, config, test_split)
    if len(test) > limit:
        test = balance_labels([test[i] for i in hf_permutation(len(test), SEED)], label_field, limit, SEED)
    for i, row in enumerate(test):
        local_seed = (int(hashlib.sha256(row[text_field].encode("utf-8")).hexdigest(), 16) + SEED) % 2**31
        demos = balance_labels(train, label_field, shots, local_seed)
        mapping = list(range(num_labels))  # labels become random integers, a fresh mapping per example
        random.seed(local_seed)
        random.shuffle(mapping)
        context = "\n\n".join(f"{d[text_field]}\nlabel: {mapping[int(d[label_field])]}" for d in demos)
        yield Example(str(i), {"context": context, "question": row[text_field]}, str(mapping[int(row[label_field])]))


# ---- LongQA and Summ: InfiniteBench, NarrativeQA, Multi-LexSum (configs/longqa.yaml, summ.yaml) --
# HELMET first cuts each document to a fixed budget in Llama-2 tokens ("so that every model sees
# the same amount of information"), then the model's own truncation fits the prompt to the length.

OMITTED = " ... [the rest of the text is omitted]"
# dataset -> the tokens HELMET reserves besides the document (its name postfix is length - this)
RESERVED = {"narrativeqa": 200 + 100, "infbench_qa_eng": 200 + 10, "infbench_choice_eng": 200 + 10,
            "infbench_sum_eng": 200 + 1200, "multi_lexsum": 300 + 400}


def llama2_length(llama2, text: str) -> int:
    return len(llama2(text)["input_ids"])


def truncate_llama2(llama2, text: str, max_length: int) -> str:
    """`data.truncate_llama2`: keep `max_length - len(tokens(OMITTED))` Llama-2 tokens (by character
    offsets, BOS counted as HELMET's tokenizer call counts it), then append OMITTED."""
    encoded = llama2(text, return_offsets_mapping=True)
    if len(encoded["input_ids"]) <= max_length:
        return text
    separator = len(llama2(OMITTED)["input_ids"])
    return text[: encoded["offset_mapping"][max_length - separator][1]] + OMITTED


INFBENCH_SPLITS = {"infbench_qa_eng": "longbook_qa_eng", "infbench_choice_eng": "longbook_choice_eng",
                   "infbench_sum_eng": "longbook_sum_eng"}


def _infbench_rows(data_dir, split: str) -> list[dict]:
    root = helmet_dir(data_dir)
    if root is not None and (root / "infbench" / f"{split}.jsonl").is_file():
        return list(read_jsonl(root / "infbench" / f"{split}.jsonl"))
    try:
        from datasets import Features, Sequence, Value
    except ImportError as e:  # pragma: no cover - datasets is a core dependency
        raise HarnessError(f"helmet: loading InfiniteBench needs datasets ({e})") from None
    features = Features({"id": Value("int64"), "context": Value("string"), "input": Value("string"),
                         "answer": Sequence(Value("string")), "options": Sequence(Value("string"))})
    hub_id = "xinrongzhang2022/InfiniteBench"
    return list(hub_rows("helmet", hub_id, None, split, f"helmet/infbench/{split}.jsonl", revision=HUB_REVISIONS[hub_id],
                         features=features))


def infbench(data_dir, dataset: str, length: int, llama2, shots: int = 2, limit: int = 100) -> Iterator[Example]:
    """`data.load_infbench`: rows of the InfiniteBench split (`DIR/helmet/infbench/<split>.jsonl`,
    the original InfiniteBench file names, or the Hub), demos are two other questions of the same
    split (shuffle seed 42) with the story elided, documents cut to the Llama-2 budget."""
    rows = _infbench_rows(data_dir, INFBENCH_SPLITS[dataset])
    for i, row in enumerate(rows):
        check_row(row, ("id", "context", "input", "answer", "options"), f"helmet {dataset} row {i + 1}")
        row["question"] = row["input"]
        if dataset == "infbench_choice_eng":
            letter = chr(ord("A") + list(row["options"]).index(row["answer"][0]))
            row["options_text"] = "A. {}\nB. {}\nC. {}\nD. {}".format(*row["options"])
            row["answer"] = [letter, f"{letter}. {row['answer'][0]}"]
    keypoints = _summary_keypoints(data_dir) if dataset == "infbench_sum_eng" else {}
    kept = [r for r in rows if llama2_length(llama2, r["context"]) >= 65536]  # HELMET's sanity filter
    budget = length - RESERVED[dataset]
    for index in hf_permutation(len(kept), SEED)[:limit]:
        row = kept[index]
        demo = ""
        if shots > 0:
            others = [r for r in rows if r["id"] != row["id"]]
            picked = [others[j] for j in hf_permutation(len(others), SEED)[:shots]]
            if dataset == "infbench_qa_eng":
                text = "\n\n".join(f"[story text]\nQuestion: {d['question']}\nAnswer: {d['answer'][0]}" for d in picked)
            elif dataset == "infbench_choice_eng":
                text = "\n\n".join(f"[story text]\nQuestion: {d['question']}\nOptions:\n{d['options_text']}\nAnswer: {d['answer'][0]}"
                                   for d in picked)
            else:
                text = "\n\n".join(f"[story text]\nSummary: {d['answer'][0].strip()}" for d in picked)
            demo = f"For example:\n\n{text}\n\nNow, read the following story:\n\n"
        fields = {"context": truncate_llama2(llama2, row["context"], budget), "question": row["question"], "demo": demo,
                  "options": row.get("options_text", "")}
        meta = {}
        if dataset == "infbench_sum_eng":  # what the judge compares the summary with
            if str(row["id"]) not in keypoints:
                raise HarnessError(f"helmet: infbench/longbook_sum_eng_keypoints.jsonl has no key points for id {row['id']}")
            meta = {"keypoints": keypoints[str(row["id"])], "expert_summary": row["answer"][0]}
        yield Example(str(row["id"]), fields, list(row["answer"]), meta)


def _summary_keypoints(data_dir) -> dict[str, list[str]]:
    """HELMET's GPT-4o key points of the InfiniteBench reference summaries (its data/ tree)."""
    path = data_file(data_dir, "infbench/longbook_sum_eng_keypoints.jsonl")
    return {str(check_row(r, ("id", "keypoints"), str(path))["id"]): list(r["keypoints"]) for r in read_jsonl(path)}


def _seeded_demo_indices(n: int, key: str, shots: int) -> list[int]:
    """HELMET draws these demos from an unseeded `shuffle()` (a different pair on every run); here
    the draw is seeded by the example's key, so a rerun builds the same prompt."""
    return hf_permutation(n, key_seed(key))[:shots]


def narrativeqa(data_dir, length: int, llama2, shots: int = 2, limit: int = 100) -> Iterator[Example]:
    """`data.load_narrativeqa`: test questions (shuffle seed 42) whose story is longer than 131072
    Llama-2 tokens (at every length, as HELMET), the first 100, stories cut to the Llama-2 budget,
    two question/answer demos from the train split. Rows: the Hub's `narrativeqa` schema, from
    `DIR/helmet/narrativeqa/{test,train}.jsonl` or the Hub."""
    def rows(split):
        return split_rows(data_dir, "narrativeqa", "deepmind/narrativeqa", None, split)

    doc_tokens: dict[str, int] = {}  # one story serves many questions: count it once
    long_enough = []
    for i, row in enumerate(rows("test")):
        check_row(row, ("document", "question", "answers"), f"helmet narrativeqa test row {i + 1}")
        doc = row["document"]
        if doc["id"] not in doc_tokens:
            doc_tokens[doc["id"]] = llama2_length(llama2, doc["text"])
        long_enough.append(doc_tokens[doc["id"]] > 131072)
    chosen = [i for i in hf_permutation(len(long_enough), SEED) if long_enough[i]][:limit]
    train = [{"question": r["question"]["text"], "answer": r["answers"][0]["text"]} for r in rows("train")] if shots > 0 else []
    wanted = set(chosen)
    budget = length - RESERVED["narrativeqa"]
    for i, row in enumerate(rows("test")):
        if i not in wanted:
            continue
        key = f"{row['document']['id']}-{i}"
        demo = ""
        if shots > 0:
            picked = [train[j] for j in _seeded_demo_indices(len(train), key, shots)]
            demo = ("For example:\n\n" + "\n\n".join(f"Question: {d['question']}\nAnswer: {d['answer']}" for d in picked)
                    + "\n\nNow, use the following story to answer the question:\n\n")
        fields = {"context": truncate_llama2(llama2, row["document"]["text"], budget), "question": row["question"]["text"],
                  "demo": demo}
        yield Example(key, fields, [a["text"] for a in row["answers"]], {"question": row["question"]["text"]})


def multi_lexsum(data_dir, length: int, llama2, shots: int = 2, limit: int = 100) -> Iterator[Example]:
    """`data.load_multi_lexsum`: validation cases with a short summary whose joined sources reach
    65536 Llama-2 tokens, 100 of them (shuffle seed 42) when there are more, sources cut to the
    Llama-2 budget, two short summaries of train cases as demos; the judge's key points from
    HELMET's `multi_lexsum/multi_lexsum_val.jsonl`. Rows: allenai/multi_lexsum (v20230518) from
    `DIR/helmet/multi_lexsum/{validation,train}.jsonl` or the Hub's release files (helmet_sources)."""
    hub = MultiLexSum("v20230518", "helmet/multi_lexsum/{validation,train}.jsonl")

    def rows(split):
        root = helmet_dir(data_dir)
        if root is not None and (root / "multi_lexsum" / f"{split}.jsonl").is_file():
            return read_jsonl(root / "multi_lexsum" / f"{split}.jsonl")
        return hub.rows(split)

    def usable(row) -> bool:
        return row.get("summary/short") is not None

    long_enough = []
    for i, row in enumerate(rows("validation")):
        check_row(row, ("id", "sources", "summary/long", "summary/short"), f"helmet multi_lexsum validation row {i + 1}")
        long_enough.append(usable(row) and llama2_length(llama2, "\n\n".join(row["sources"])) >= 65536)
    kept = [i for i, ok in enumerate(long_enough) if ok]
    chosen = set([kept[j] for j in hf_permutation(len(kept), SEED)[:limit]] if len(kept) > limit else kept)
    train = [r["summary/short"] for r in rows("train") if usable(r)] if shots > 0 else []
    path = data_file(data_dir, "multi_lexsum/multi_lexsum_val.jsonl")
    keypoints = {str(r["id"]): list(r["summary/short_keypoints"]) for r in read_jsonl(path) if "summary/short_keypoints" in r}
    budget = length - RESERVED["multi_lexsum"]
    for i, row in enumerate(rows("validation")):
        if i not in chosen:
            continue
        demo = ""
        if shots > 0:
            picked = [train[j] for j in _seeded_demo_indices(len(train), str(row["id"]), shots)]
            demo = ("Example summaries:\n\n" + "\n\n".join(f"Summary: {s}" for s in picked)
                    + "\n\nNow, write a summary of the following legal documents.\n")
        if str(row["id"]) not in keypoints:
            raise HarnessError(f"helmet: {path} has no key points for case {row['id']}")
        fields = {"context": truncate_llama2(llama2, "\n\n".join(row["sources"]), budget), "demo": demo, "question": ""}
        yield Example(str(row["id"]), fields, row["summary/short"],
                      {"keypoints": keypoints[str(row["id"])], "expert_summary": row["summary/long"]})
