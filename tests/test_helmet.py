"""HELMET: its metrics on hand-made cases, the sample selection against `datasets`, the loaders on
files in HELMET's data/ layout and rows in the Hub schema, truncation in the model's tokens, the
judge prompts read from (stand-in) copies of HELMET's scripts, the summary judge, the six-category
aggregation, partial figures without a judge, and runs on fake servers."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from pathlib import Path

import pytest

from exaone_eval.benchmarks import helmet as hl
from exaone_eval.benchmarks import helmet_data as hd
from exaone_eval.benchmarks import helmet_judge as hj
from exaone_eval.scoring import helmet as hm
from exaone_eval.types import Generation, HarnessError, Item, Score
from helpers import run_suite_on
from long_context_helpers import build_context, write_word_tokenizer


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def gen(text: str) -> Generation:
    return Generation(text=text, reasoning=None, answer=text.strip())


@pytest.fixture
def tokenizer_dir(tmp_path) -> Path:
    return write_word_tokenizer(tmp_path / "tok", [p[0] + " " + p[1] for p in hl.PROMPTS.values()])


# Hand-made stand-ins for HELMET's scripts/eval_gpt4_longqa.py and eval_gpt4_summ.py: the same
# assignment names and template fields, our own short text (the project ships none of HELMET's).
# Each would fail if it were run: the harness must only read it.
STAND_IN_LONGQA = '''import module_that_does_not_exist  # reading this file must never run it
judge_prompt = """Judge the answer; reply {{"fluency": 0 or 1, "correctness": 0 to 3}}.
Question: {question}
Correct answers: {correct_answers}
Answer: {parsed_output}
"""
'''
STAND_IN_SUMM = '''raise SystemExit("a judge script must never be run")
fluency_prompt = """Rate the fluency of this legal summary; reply {{"fluency": 0 or 1}}.
Text: "{text}"
"""
fluency_prompt_book = """Rate the fluency of this book summary; reply {{"fluency": 0 or 1}}.
Text: "{text}"
"""
recall_prompt = """Count the legal key points the summary holds; reply {{"recall": n}}.
Key points:
{keypoints}

Summary: <start of summary>{summary}<end of summary>
"""
recall_prompt_book = """Count the plot key points the summary holds; reply {{"recall": n}}.
Key points:
{keypoints}

Summary: <start of summary>{summary}<end of summary>
"""
precision_prompt = """Count the legal summary's supported sentences; reply {{"precision": n, "sentence_count": m}}.
Expert summary: <start of summary>{expert_summary}<end of summary>

Summary: <start of summary>{summary}<end of summary>
"""
precision_prompt_book = """Count the book summary's supported sentences; reply {{"precision": n, "sentence_count": m}}.
Expert summary: <start of summary>{expert_summary}<end of summary>

Summary: <start of summary>{summary}<end of summary>
"""
'''


def write_judge_scripts(data_dir: Path, longqa: str = STAND_IN_LONGQA, summ: str = STAND_IN_SUMM) -> Path:
    folder = data_dir / "helmet" / "scripts"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "eval_gpt4_longqa.py").write_text(longqa)
    (folder / "eval_gpt4_summ.py").write_text(summ)
    return folder


@pytest.fixture
def judge_scripts(tmp_path) -> str:
    return str(write_judge_scripts(tmp_path / "judge"))


# ---- metrics ---------------------------------------------------------------------------------

@pytest.mark.parametrize("prediction, answers, metric, expected", [
    ("The answer is Paris.", ["paris"], "substring_exact_match", 1.0),
    ("Paris", ["London", "the Paris"], "exact_match", 1.0),              # articles dropped, best answer
    ("", ["Paris"], "substring_exact_match", 0.0),                        # empty prediction
    ("yes it is", ["yes"], "f1", 0.0),                                    # yes/no must match exactly
    ("Paris France", ["Paris"], "f1", 2 / 3),
    ("Paris", [["London"], ["Paris"]], "exact_match", 1.0),               # nested answer lists flatten
])
def test_calculate_metrics_follows_helmet(prediction, answers, metric, expected):
    assert hm.calculate_metrics(prediction, answers)[metric] == pytest.approx(expected)


def test_parse_output_takes_the_line_after_the_prefix_else_the_first_line():
    assert hm.parse_output("Answer: Paris\nQuestion: x") == "Paris"
    assert hm.parse_output("answer: answer: Paris") == "Paris"  # repeated prefix stripped once more
    assert hm.parse_output("Paris is it\nmore") == "Paris is it"
    assert hm.parse_output("label: 12", "label:") == "12"


def test_the_parsed_answer_can_only_raise_a_metric():
    metrics, parsed = hm.best_of_raw_and_parsed("Answer: Paris\nand much more text", ["Paris"])
    assert parsed == "Paris" and metrics["exact_match"] == 1.0


def test_ruler_recall_counts_the_share_of_needles_found():
    assert hm.ruler_recall("values are 123 and 456", ["123", "456", "789"]) == pytest.approx(2 / 3)
    assert hm.ruler_recall("ABC", ["abc"]) == 1.0


def test_parse_rankings_takes_the_longest_chain_and_ignores_id_markup():
    assert hm.parse_rankings("Ranking: [ID: 3] > [ID: 1] > 2, then 7 > 8") == {"3": 3, "1": 2, "2": 1}
    assert hm.parse_rankings("3 > 1 > 3") == {"3": 3, "1": 2}  # a repeated id keeps its first place
    assert hm.parse_rankings("no numbers") == {"no numbers": 1}


def test_ndcg_at_10_is_trec_evals():
    qrels = {"1": 2, "2": 0, "3": 1}
    assert hm.ndcg_at_10({"1": 3, "3": 2, "2": 1}, qrels) == 1.0
    dcg = 1 / math.log2(2) + 2 / math.log2(3)  # trec_eval's gain is the label itself; "9" is unjudged
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert hm.ndcg_at_10({"3": 3, "1": 2, "9": 1}, qrels) == pytest.approx(round(dcg / ideal, 5))


def test_choice_accepts_the_letter_or_the_option_text():
    item = Item("x", (), ["B", "B. The dog"], meta={"dataset": "infbench_choice_eng"})
    assert hl.sample_metric(item, "B")[0] == 1.0
    assert hl.sample_metric(item, "I think it is b. the dog, clearly")[0] == 1.0
    assert hl.sample_metric(item, "A")[0] == 0.0


# ---- selection -----------------------------------------------------------------------------------

def test_hf_permutation_is_the_order_of_datasets_shuffle():
    import datasets

    ds = datasets.Dataset.from_dict({"i": list(range(257))})
    assert hd.hf_permutation(257, 42) == ds.shuffle(seed=42)["i"]
    assert hd.hf_permutation(257, hd.key_seed("q1")) == ds.shuffle(seed=hd.key_seed("q1"))["i"]


def test_balance_labels_gives_each_label_its_share():
    rows = [{"label": i % 4, "n": i} for i in range(40)]
    picked = hd.balance_labels(rows, "label", 8, seed=3)
    assert sorted(r["label"] for r in picked) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert hd.balance_labels(rows, "label", 8, seed=3) == picked  # seeded


# ---- loaders on HELMET's files -------------------------------------------------------------------

def kilt_row(i: int, k: int = 3, pop: float = 100.0) -> dict:
    return {"id": f"q{i}", "question": f"who is {i}?", "answers": [f"person{i}"], "s_pop": pop,
            "ctxs": [{"title": f"T{i}-{j}", "text": f"passage {j} of {i}", "has_answer": j == 0} for j in range(k)]}


def test_kilt_samples_100_questions_and_takes_demos_from_other_rows(tmp_path):
    root = tmp_path / "data" / "helmet" / "kilt"
    jsonl(root / "nq-dev-multikilt_1000_k20_dep6.jsonl", [kilt_row(i, 2) for i in range(150)])
    jsonl(root / "nq-train-multikilt_1000_k3_dep6.jsonl", [kilt_row(1000 + i) for i in range(10)])
    examples = list(hd.kilt(tmp_path / "data", "kilt_nq", 4096))
    assert len(examples) == 100 and len({e.fields["question"] for e in examples}) == 100
    import random

    random.seed(42)
    expected = set(random.sample(sorted(f"q{i}" for i in range(150)), 100))
    assert {f"q{e.key}" for e in examples} == expected  # keys are row positions = i here
    demo = examples[0].fields["demos"]
    assert demo.count("\nAnswer: person10") == 2 and demo.endswith("\n\n")
    assert examples[0].fields["context"].startswith("Document (Title: T")


def test_popqa_keeps_only_unpopular_subjects_and_never_demos_the_question_itself(tmp_path):
    root = tmp_path / "data" / "helmet" / "kilt"
    rows = [kilt_row(i, 2, pop=50.0 if i % 2 else 5000.0) for i in range(20)]
    jsonl(root / "popqa_test_1000_k20_dep6.jsonl", rows)
    jsonl(root / "popqa_test_1000_k3_dep6.jsonl", rows)
    examples = list(hd.kilt(tmp_path / "data", "kilt_popqa", 4096))
    assert len(examples) == 10
    for e in examples:
        assert e.fields["question"] not in e.fields["demos"]


def test_a_missing_helmet_file_names_where_it_was_expected(tmp_path):
    with pytest.raises(HarnessError, match="json_kv/test_k1800_dep6.jsonl not found.*DIR/helmet"):
        next(hd.json_kv(tmp_path, 131072))


def test_json_kv_and_ruler_take_helmets_shuffled_first_100(tmp_path):
    root = tmp_path / "data" / "helmet"
    jsonl(root / "json_kv" / "test_k50_dep6.jsonl",
          [{"context": "{}", "question": f"k{i}", "answer": f"v{i}", "demos": [["a", "1"], ["b", "2"], ["c", "3"]], "num_kvs": 1}
           for i in range(120)])
    jsonl(root / "ruler" / "niah_multivalue" / "validation_4096.jsonl",
          [{"index": i, "context": "hay", "query": f"q{i}", "outputs": ["1", "2"], "type_needle_v": "numbers"} for i in range(120)])
    kv = list(hd.json_kv(tmp_path / "data", 4096))
    assert {e.answer for e in kv} == {f"v{i}" for i in hd.hf_permutation(120, 42)[:100]}
    assert kv[0].fields["demos"] == "Key: a\nCorresponding value: 1\n\nKey: b\nCorresponding value: 2\n\n"
    niah = list(hd.ruler(tmp_path / "data", "ruler_niah_mv", 4096))
    assert len(niah) == 100 and niah[0].answer == ["1", "2"]


def test_msmarco_keeps_qrels_and_shows_demo_rankings_by_label(tmp_path):
    root = tmp_path / "data" / "helmet" / "msmarco"

    def q(i):
        return {"qid": f"{i}", "query": f"query {i}", "ctxs": [{"id": f"{i}{j}", "text": f"doc {j}", "label": j % 3} for j in range(3)]}

    jsonl(root / "test_reranking_data_k14_dep3.jsonl", [q(i) for i in range(5)])
    jsonl(root / "test_reranking_data_k10_dep3.jsonl", [q(100 + i) for i in range(20)])
    examples = list(hd.msmarco(tmp_path / "data", 4096))
    assert len(examples) == 5
    assert examples[0].meta["qrels"] == {"00": 0, "01": 1, "02": 2}
    assert examples[0].fields["context"].startswith("[ID: 00] Document: doc 0")
    assert "Ranking: 1" in examples[0].fields["demos"] and " > " in examples[0].fields["demos"]


def test_icl_reads_a_per_dataset_jsonl_with_a_split_column(tmp_path):
    rows = [{"text": f"q {i}", "label": i % 77, "split": "train"} for i in range(400)]
    rows += [{"text": f"t {i}", "label": i % 77, "split": "test"} for i in range(5)]
    jsonl(tmp_path / "helmet" / "banking77.jsonl", rows)
    examples = list(hd.icl(tmp_path, "icl_banking77", 4096))
    assert len(examples) == 5 and examples[0].fields["context"].count("\nlabel: ") == 180


# ---- items: prompts and truncation ---------------------------------------------------------------

def write_recall_tree(root: Path, n: int = 3, context_words: int = 5000, kvs: str = "50") -> None:
    jsonl(root / "helmet" / "json_kv" / f"test_k{kvs}_dep6.jsonl",
          [{"context": " ".join(f"w{j}" for j in range(context_words)), "question": f"key{i}", "answer": f"value{i}",
            "demos": [["a", "1"], ["b", "2"]], "num_kvs": 1} for i in range(n)])


def test_a_long_prompt_loses_the_end_of_its_document_to_fit_the_length(tokenizer_dir, tmp_path):
    from exaone_eval.tokenizer import load_tokenizer

    write_recall_tree(tmp_path / "d")
    ctx = build_context("helmet", tokenizer_dir, tmp_path, max_context=4096, data_dir=tmp_path / "d",
                        options={"datasets": ["json_kv"]})
    items = list(hl.iter_items(ctx))
    tok = load_tokenizer(str(tokenizer_dir))
    for item in items:
        prompt = item.messages[0]["content"]
        assert len(tok(prompt)["input_ids"]) == 4096 - 100
        assert prompt.startswith("w0 w1 w2") and "w4999" not in prompt  # the document's end went
        assert prompt.endswith("\nCorresponding value:") and item.meta["raw_prompt"] and item.meta["max_new_tokens"] == 100
    assert items[0].id.startswith("4k/json_kv/")


def test_a_short_prompt_is_left_whole(tokenizer_dir, tmp_path):
    write_recall_tree(tmp_path / "d", context_words=10)
    ctx = build_context("helmet", tokenizer_dir, tmp_path, max_context=4096, data_dir=tmp_path / "d",
                        options={"datasets": ["json_kv"]})
    prompt = next(hl.iter_items(ctx)).messages[0]["content"]
    assert prompt.startswith(" ".join(f"w{j}" for j in range(10)) + "\n\nExtract the value")


def test_chat_tasks_count_the_chat_template_tokens(tokenizer_dir, tmp_path):
    from exaone_eval.tokenizer import load_tokenizer

    tok = load_tokenizer(str(tokenizer_dir))
    fields = {"context": " ".join(f"w{j}" for j in range(500)), "question": "q", "demo": "", "options": "A. x"}
    text = hl.fit_context(tok, "infbench_qa_eng", fields, 300, "non-reasoning")
    chat = tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
    assert len(tok(chat, add_special_tokens=False)["input_ids"]) == 300


def test_an_unknown_dataset_is_refused(tokenizer_dir, tmp_path):
    ctx = build_context("helmet", tokenizer_dir, tmp_path, max_context=4096, options={"datasets": ["alce_asqa"]})
    with pytest.raises(HarnessError, match="unknown 'alce_asqa'"):
        next(hl.iter_items(ctx))


def test_a_length_helmet_has_no_config_for_is_refused(tokenizer_dir, tmp_path):
    write_recall_tree(tmp_path / "d")
    ctx = build_context("helmet", tokenizer_dir, tmp_path, max_context=5000, data_dir=tmp_path / "d",
                        options={"datasets": ["json_kv"]})
    with pytest.raises(HarnessError, match="length 5000 has no HELMET config"):
        next(hl.iter_items(ctx))


# ---- InfiniteBench and the summary judge -------------------------------------------------------

def write_infbench(root: Path, n: int = 4) -> None:
    story = " ".join(f"s{j}" for j in range(70000))
    jsonl(root / "helmet" / "infbench" / "longbook_sum_eng.jsonl",
          [{"id": i, "context": story, "input": "", "answer": [f"summary {i}"], "options": []} for i in range(n)])
    jsonl(root / "helmet" / "infbench" / "longbook_choice_eng.jsonl",
          [{"id": i, "context": story, "input": f"who {i}?", "answer": ["dog"], "options": ["cat", "dog", "cow", "pig"]}
           for i in range(n)])
    jsonl(root / "helmet" / "infbench" / "longbook_sum_eng_keypoints.jsonl",
          [{"id": i, "keypoints": ["point one", "point two"]} for i in range(n)])


def test_infbench_cuts_stories_in_llama2_tokens_and_adds_two_demos(tokenizer_dir, tmp_path):
    from exaone_eval.tokenizer import load_tokenizer

    write_infbench(tmp_path / "d")
    llama2 = load_tokenizer(str(tokenizer_dir))  # any tokenizer stands in for Llama-2's here
    examples = list(hd.infbench(tmp_path / "d", "infbench_choice_eng", 65536, llama2))
    assert len(examples) == 4 and examples[0].answer == ["B", "B. dog"]
    context = examples[0].fields["context"]
    # HELMET keeps the token at index budget - len(OMITTED) too: with Llama-2's BOS at index 0 that
    # is exactly the budget; this test tokenizer adds no BOS, so one more
    assert context.endswith(hd.OMITTED) and len(llama2(context)["input_ids"]) == 65536 - 210 + 1
    assert examples[0].fields["demo"].startswith("For example:\n\n[story text]\nQuestion: who")
    assert examples[0].fields["demo"].count("[story text]") == 2


def judge_item(scripts: str = "unused") -> Item:
    return Item("4k/infbench_sum_eng/0", ({"role": "user", "content": "summarize"},), ["expert"],
                meta={"dataset": "infbench_sum_eng", "length": "4k", "keypoints": ["a", "b", "c", "d"], "expert_summary": "expert",
                      "judge_scripts": scripts})


def test_the_judge_prompts_are_read_by_name_from_the_scripts_without_running_them(judge_scripts):
    prompts = hj.load(judge_scripts)
    assert set(prompts) == set(hj.PROMPT_SOURCES)
    assert prompts["longqa"].startswith("Judge the answer;") and prompts["fluency_book"].startswith("Rate the fluency of this book")
    assert prompts["recall_legal"].startswith("Count the legal key points")


def test_a_missing_judge_script_names_the_file_expected(tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "eval_gpt4_longqa.py").write_text(STAND_IN_LONGQA)
    with pytest.raises(HarnessError, match=r"scripts/eval_gpt4_summ\.py not found.*--data-dir"):
        hj.load(str(tmp_path / "scripts"))


def test_a_script_without_a_prompt_names_the_file_and_the_missing_assignment(tmp_path):
    folder = write_judge_scripts(tmp_path, summ=STAND_IN_SUMM.replace("recall_prompt_book =", "recall_book_prompt ="))
    with pytest.raises(HarnessError, match=r"eval_gpt4_summ\.py has no module-level assignment `recall_prompt_book"):
        hj.load(str(folder))


def test_a_prompt_that_is_not_a_plain_string_literal_is_refused(tmp_path):
    folder = write_judge_scripts(tmp_path, longqa='judge_prompt = f"Answer: {answer}"\n')
    with pytest.raises(HarnessError, match=r"eval_gpt4_longqa\.py: `judge_prompt` is not a plain string literal"):
        hj.load(str(folder))


def test_judging_without_the_scripts_says_where_to_put_them(tmp_path):
    with pytest.raises(HarnessError, match=r"nowhere/eval_gpt4_longqa\.py not found.*or run without --judge-base-url"):
        hl.judge_requests(judge_item(str(tmp_path / "nowhere")), gen("A fine summary."))


def test_a_summary_gets_fluency_recall_and_precision_judge_calls(judge_scripts):
    requests = hl.judge_requests(judge_item(judge_scripts), gen("A fine summary."))
    assert len(requests) == 3
    prompts = [r.messages[0]["content"] for r in requests]
    assert prompts[0].startswith("Rate the fluency of this book summary") and prompts[0].endswith('Text: "A fine summary."\n')
    assert "Key points:\n1. a\n2. b\n3. c\n4. d\n\nSummary: <start of summary>A fine summary.<end of summary>" in prompts[1]
    assert "Expert summary: <start of summary>expert<end of summary>" in prompts[2]
    assert hl.judge_requests(Item("x", (), ["a"], meta={"dataset": "kilt_nq"}), gen("a")) == []


def test_the_summary_score_is_fluency_times_key_point_f1():
    replies = [gen('ok {"fluency": 1}'), gen('reasoning... {"supported_key_points": [1, 2], "recall": 2}'),
               gen('```json\n{"precision": 3, "sentence_count": 4}\n```')]
    s = hl.score(judge_item(), gen("A fine summary."), replies)
    assert s.value == pytest.approx(2 * 0.5 * 0.75 / 1.25)
    s0 = hl.score(judge_item(), gen("x"), [gen('{"fluency": 0}'), replies[1], replies[2]])
    assert s0.value == 0.0


def test_an_unreadable_judge_reply_leaves_the_sample_out_of_the_mean():
    bad = hl.score(judge_item(), gen("x"), [gen("no json here"), gen('{"recall": 1}'), gen('{"precision": 1, "sentence_count": 1}')])
    assert bad.detail["judge_unparsable"]
    good = hl.score(judge_item(), gen("x"), [gen('{"fluency": 1}'), gen('{"recall": 4}'), gen('{"precision": 1, "sentence_count": 1}')])
    out = hl.metrics([(judge_item(), bad), (judge_item(), good)])
    assert out["infbench_sum_eng@4k"] == 100.0


# ---- aggregation and a run ------------------------------------------------------------------------

def test_the_total_is_the_mean_of_the_six_categories():
    records = []
    value = {"recall": 1.0, "rag": 0.5, "longqa": 0.25, "summ": 0.0, "rerank": 0.5, "icl": 0.75}
    for d in hl.TASKS:
        records.append((Item(f"8k/{d}/0", (), None, meta={"dataset": d, "length": "8k"}), Score(value[hl.TASKS[d].category])))
    out = hl.metrics(records)
    assert out["8k/recall"] == 100.0 and out["8k/icl"] == 75.0
    assert out["8k/avg"] == pytest.approx(100 * sum(value.values()) / 6)
    assert out["avg"] == out["8k/avg"] and out["avg_categories"] == 6


def test_without_a_judge_the_judged_datasets_are_named_missing_from_longqa_summ_and_the_total():
    value = {"recall": 1.0, "rag": 0.5, "longqa": 0.25, "summ": 0.0, "rerank": 0.5, "icl": 0.75}
    records = []
    for d in hl.TASKS:
        item = Item(f"8k/{d}/0", (), None, meta={"dataset": d, "length": "8k"})
        records.append((item, hl.score(item, gen("x")) if d in hl.JUDGED else Score(value[hl.TASKS[d].category])))
    out = hl.metrics(records)
    judged = "narrativeqa, infbench_sum_eng, multi_lexsum"
    assert out["8k/longqa (missing narrativeqa)"] == 25.0 and "8k/longqa" not in out
    assert not any(k.startswith("8k/summ") for k in out) and "narrativeqa@8k" not in out
    five = 100 * sum(v for c, v in value.items() if c != "summ") / 5
    assert out[f"8k/avg (missing {judged})"] == pytest.approx(five) and out[f"avg (missing {judged})"] == pytest.approx(five)
    assert "avg" not in out and "8k/avg" not in out and out["avg_categories"] == 5
    assert hl.setting(records) == f"partial: no judge, without {judged}"


def run_helmet(tmp_path, tokenizer_dir, data: Path, datasets: list[str], model_url: str, judge_url: str | None) -> dict:
    from exaone_eval import registry
    from exaone_eval.config import ModelPreset, RunConfig

    cfg = RunConfig(suite="t", mode="non-reasoning", model=ModelPreset(name="t", hf_id="m", max_context=131072),
                    backend="openai", benchmarks=["helmet"], out=tmp_path / "run", base_urls=[model_url],
                    data_dir=data, tokenizer=str(tokenizer_dir), judge_model="j" if judge_url else None, max_retries=0)

    spec = registry.get_spec("helmet")
    patched = dataclasses.replace(spec, options={**spec.options, "datasets": datasets, "llama2_tokenizer": str(tokenizer_dir)})
    original = registry.get_spec
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "get_spec", lambda name: patched if name == "helmet" else original(name))
        return asyncio.run(run_suite_on(cfg, model_url, judge_url))


def helmet_model(body: dict) -> dict:
    if "prompt" in body:  # json_kv, raw: answer right for key0 and key1 only, then run on
        key = body["prompt"].rsplit("Key: ", 1)[1].split("\n")[0]
        value = key.replace("key", "value") if key in ("key0", "key1") else "nothing"
        return {"content": f" {value}\nKey: more"}
    return {"content": "A fine summary."}


def test_a_run_on_fake_servers_scores_recall_and_summaries(tokenizer_dir, tmp_path, fake_server, monkeypatch):
    monkeypatch.setenv("EXAONE_EVAL_CACHE", str(tmp_path / "cache"))  # built prompts go to this test's folder
    data = tmp_path / "d"
    write_recall_tree(data, n=4, context_words=50, kvs="1800")
    write_infbench(data, n=2)
    write_judge_scripts(data)

    def judge(body: dict) -> dict:
        prompt = body["messages"][0]["content"]
        if prompt.startswith("Rate the fluency"):
            return {"content": '{"fluency": 1}'}
        if '"recall"' in prompt:
            return {"content": '{"recall": 1}'}
        return {"content": '{"precision": 1, "sentence_count": 1}'}

    model_server, judge_server = fake_server(helmet_model), fake_server(judge)
    scores = run_helmet(tmp_path, tokenizer_dir, data, ["json_kv", "infbench_sum_eng"], model_server.url, judge_server.url)
    entry = scores["helmet"]
    assert entry["metrics"]["json_kv@128k"] == 50.0
    assert entry["metrics"]["128k/summ"] == pytest.approx(100 * 2 * 0.5 * 1 / 1.5)  # 1 of 2 key points, 1 of 1 sentences
    assert entry["score"] == entry["metrics"]["avg"] and entry["score_basis"] == "metrics['avg']" and not entry["setting"]
    raw = [b for b in model_server.requests if "prompt" in b]
    assert len(raw) == 4 and all(b["max_tokens"] == 100 for b in raw)
    assert len(judge_server.requests) == 3 * 2
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert hj.fingerprint(hj.load(str(data / "helmet" / "scripts"))) in run["data_fingerprints"]["helmet"]


def test_without_a_judge_a_run_scores_the_other_datasets_and_marks_the_total_partial(tokenizer_dir, tmp_path, fake_server,
                                                                                      monkeypatch):
    monkeypatch.setenv("EXAONE_EVAL_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "d"  # no copy of HELMET's judge scripts either: without a judge none is needed
    write_recall_tree(data, n=4, context_words=50, kvs="1800")
    write_infbench(data, n=2)
    model_server = fake_server(helmet_model)
    entry = run_helmet(tmp_path, tokenizer_dir, data, ["json_kv", "infbench_sum_eng"], model_server.url, None)["helmet"]
    assert "skipped" not in entry and entry["metrics"]["json_kv@128k"] == 50.0
    assert entry["score"] == entry["metrics"]["avg (missing infbench_sum_eng)"] == 50.0
    assert entry["score_basis"] == "metrics['avg (missing infbench_sum_eng)']" and "avg" not in entry["metrics"]
    assert entry["setting"] == "partial: no judge, without infbench_sum_eng"
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples" / "helmet.jsonl").read_text().splitlines()]
    summaries = [s for s in samples if "/infbench_sum_eng/" in s["id"]]
    assert len(summaries) == 2 and all(s["detail"]["not_scored"] == "needs an LLM judge" for s in summaries)


# ---- NarrativeQA and Multi-LexSum ------------------------------------------------------------------

def narrativeqa_row(i: int, doc: str, words: int) -> dict:
    """A row in the Hub schema of `narrativeqa` (deepmind)."""
    return {"document": {"id": doc, "kind": "gutenberg", "url": "", "file_size": 0, "word_count": words, "start": "", "end": "",
                         "summary": {"text": "", "tokens": [], "url": "", "title": ""},
                         "text": " ".join(f"{doc}w{j}" for j in range(words))},
            "question": {"text": f"who is {i}?", "tokens": []}, "answers": [{"text": f"hero {i}", "tokens": []}, {"text": "x", "tokens": []}]}


def test_narrativeqa_keeps_questions_on_stories_over_128k_llama2_tokens(tokenizer_dir, tmp_path, monkeypatch):
    import datasets

    from exaone_eval.tokenizer import load_tokenizer

    test = [narrativeqa_row(i, "long" if i % 2 else "short", 131073 if i % 2 else 500) for i in range(6)]
    train = [narrativeqa_row(100 + i, "t", 3) for i in range(5)]
    asked = set()

    def load_dataset(hub_id, config, split, revision):
        asked.add((hub_id, revision))
        return test if split == "test" else train

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    llama2 = load_tokenizer(str(tokenizer_dir))
    examples = list(hd.narrativeqa(None, 32768, llama2))
    assert asked == {("deepmind/narrativeqa", "2e643e7363944af1c33a652d1c87320d0871c4e4")}
    assert sorted(e.fields["question"] for e in examples) == ["who is 1?", "who is 3?", "who is 5?"]
    e = examples[0]
    assert e.answer == [f"hero {e.fields['question'][7]}", "x"] and e.fields["context"].endswith(hd.OMITTED)
    assert e.fields["demo"].startswith("For example:\n\nQuestion: who is 10") and e.fields["demo"].count("Answer: hero 10") == 2
    assert e.fields["demo"] == next(hd.narrativeqa(None, 32768, llama2)).fields["demo"]  # seeded: a rerun agrees


def test_narrativeqa_is_judged_on_fluency_times_correctness(judge_scripts):
    item = Item("32k/narrativeqa/d-1", (), ["hero 1", "x"],
                meta={"dataset": "narrativeqa", "length": "32k", "question": "who?", "judge_scripts": judge_scripts})
    [request] = hl.judge_requests(item, gen("He is\nhero 1"))
    prompt = request.messages[0]["content"]
    assert prompt.endswith("Question: who?\nCorrect answers: ['hero 1', 'x']\nAnswer: He is hero 1\n")
    assert request.sampling.max_tokens == 2048
    assert hl.score(item, gen("hero 1"), [gen('fine {"fluency": 1, "correctness": 2}')]).value == pytest.approx(2 / 3)
    assert hl.score(item, gen("hero 1"), [gen("```json\n{bad}\n```")]).detail["judge_unparsable"]


def test_multi_lexsum_takes_long_cases_and_their_key_points(tokenizer_dir, tmp_path):
    from exaone_eval.tokenizer import load_tokenizer

    root = tmp_path / "helmet" / "multi_lexsum"
    cases = [{"id": f"c{i}", "sources": ["doc " * 40000, "more " * 30000 if i != 2 else ""], "summary/long": f"long {i}",
              "summary/short": None if i == 3 else f"short {i}", "summary/tiny": ""} for i in range(5)]
    jsonl(root / "validation.jsonl", cases)
    jsonl(root / "train.jsonl", [{"id": f"t{i}", "sources": [], "summary/long": "", "summary/short": f"train {i}"} for i in range(4)])
    jsonl(root / "multi_lexsum_val.jsonl", [{"id": f"c{i}", "summary/short_keypoints": [f"kp {i}"]} for i in range(5)])
    examples = list(hd.multi_lexsum(tmp_path, 65536, load_tokenizer(str(tokenizer_dir))))
    assert [e.key for e in examples] == ["c0", "c1", "c4"]  # c2 too short, c3 has no short summary
    assert examples[0].meta == {"keypoints": ["kp 0"], "expert_summary": "long 0"}
    assert examples[0].fields["demo"].startswith("Example summaries:\n\nSummary: train ")


def test_helmet_prompts_are_cached_per_tokenizer_and_source(tokenizer_dir, tmp_path, monkeypatch):
    write_recall_tree(tmp_path / "d")
    options = {"datasets": ["json_kv"]}
    first_ctx = build_context("helmet", tokenizer_dir, tmp_path, max_context=4096, data_dir=tmp_path / "d", options=options)
    first = list(hl.iter_items(first_ctx))
    assert first_ctx.fingerprints["prompt_cache"] == {"hits": 0, "built": 3}
    monkeypatch.setattr(hl, "fit_context", lambda *a: (_ for _ in ()).throw(AssertionError("not from the cache")))
    again_ctx = build_context("helmet", tokenizer_dir, tmp_path, max_context=4096, data_dir=tmp_path / "d", options=options)
    assert list(hl.iter_items(again_ctx)) == first and again_ctx.fingerprints["prompt_cache"]["hits"] == 3
    write_recall_tree(tmp_path / "d", context_words=4000)  # a changed source row is a new address
    with pytest.raises(AssertionError, match="not from the cache"):
        list(hl.iter_items(build_context("helmet", tokenizer_dir, tmp_path, max_context=4096, data_dir=tmp_path / "d", options=options)))


def test_a_rag_answer_is_cut_at_its_newline_and_read_after_the_answer_prefix():
    prompt = "Document (Title: T): Paris is the capital.\n\nQuestion: capital?\nAnswer:"
    item = Item("4k/kilt_nq/0", ({"role": "user", "content": prompt},), ["Paris"],
                meta={"dataset": "kilt_nq", "length": "4k", "raw_prompt": True, "output_prefix": "Answer:"})
    text = prompt + " Paris\nQuestion: something about London"
    assert hl.model_output(item, Generation(text=text, reasoning=None, answer=text)) == "Answer: Paris"
    assert hl.score(item, Generation(text=text, reasoning=None, answer=text)).value == 1.0
    wrong = prompt + " Lyon\nParis"  # Paris only after the newline: HELMET stopped before it
    assert hl.score(item, Generation(text=wrong, reasoning=None, answer=wrong)).value == 0.0
