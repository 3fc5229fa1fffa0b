"""RULER: samples sized in a tokenizer the tests build, needles where the config puts them, the
official string-match metrics on hand-made cases, the cache, and the settings checks."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from exaone_eval import registry
from exaone_eval.benchmarks import ruler
from exaone_eval.config import ModelPreset
from exaone_eval.longctx import ruler_sizing as sizing
from exaone_eval.longctx import ruler_sources as sources
from exaone_eval.longctx import ruler_synth as synth
from exaone_eval.longctx.cache import CachedStream
from exaone_eval.tokenizer import load_tokenizer
from exaone_eval.types import BuildContext, Generation, HarnessError, Item, Score

pytest.importorskip("long_context_eval")
pytest.importorskip("wonderwords")
from longctx_helpers import write_word_tokenizer  # noqa: E402


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    return write_word_tokenizer(tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="module")
def counter(tokenizer_dir):
    from exaone_eval.tokenizer import load_tokenizer

    return sizing.Counter(load_tokenizer(str(tokenizer_dir)))


def context(tmp_path, tokenizer_dir, max_context=131072, **options) -> BuildContext:
    spec = dataclasses.replace(registry.get_spec("ruler"), options={**registry.get_spec("ruler").options, **options})
    return BuildContext(spec=spec, data_dir=None, model=ModelPreset("m", "m", max_context=max_context), mode="non-reasoning",
                        limit=None, cache_dir=tmp_path / "cache", tokenizer_name=str(tokenizer_dir),
                        tokenizer_loader=load_tokenizer)


def first_sample(task: str, length: int, counter) -> sizing.Sample:
    kind, args = ruler.TASKS[task]
    return next(synth.GENERATORS[kind](args, length, counter, 42).samples())


# Tasks whose haystack unit has a fixed token count under the word tokenizer: the sized prompt
# must be the largest that fits, i.e. less than one unit short of the length.
UNIT_TOKENS = {"niah_single_1": 26, "vt": 26 * 5, "niah_multikey_2": 26 * 25}


@pytest.mark.parametrize("task", list(ruler.TASKS))
def test_a_sample_fits_its_length_counted_with_the_chat_template_and_answer_prefix(task, counter):
    sample = first_sample(task, 2048, counter)
    tokens = counter.prompt(sample.messages, sample.prefix) + synth.GENERATORS[ruler.TASKS[task][0]].tokens_to_generate
    assert sample.meta["length"] == tokens <= 2048
    rendered = counter.render(sample.messages, sample.prefix)
    assert rendered.startswith("<|user|>\n") and rendered.endswith("<|assistant|>\n" + sample.prefix)


@pytest.mark.parametrize("task", sorted(UNIT_TOKENS))
def test_the_haystack_is_the_largest_that_fits(task, counter):
    for length in (1024, 4096):
        sample = first_sample(task, length, counter)
        assert length - UNIT_TOKENS[task] < sample.meta["length"] <= length


def test_binary_search_finds_the_largest_size_that_fits():
    assert sizing.binary_search(lambda n: 3 * n + 7, 1, 1000, 100) == 31
    assert sizing.binary_search(lambda n: 3 * n + 7, 40, 1000, 100) is None


def test_noise_haystack_needles_sit_on_the_lines_drawn_for_them(counter):
    sample = first_sample("niah_single_1", 2048, counter)
    body = sample.messages[0]["content"].split("\n")
    lines = body[1:-1]  # between the instruction line and the question
    needle_lines = [i for i, line in enumerate(lines) if line.startswith("One of the special magic")]
    assert needle_lines == [p + j for j, p in enumerate(sample.meta["positions"])]
    assert sample.outputs[0] in lines[needle_lines[0]]
    assert all(line == synth.NOISE for i, line in enumerate(lines) if i not in needle_lines)


def test_essay_haystack_needles_sit_at_their_drawn_depths(counter):
    sample = first_sample("niah_multivalue", 4096, counter)
    text = sample.messages[0]["content"]
    start, end = text.index("afterwards.\n") + len("afterwards.\n"), text.rindex("\nWhat")
    haystack = text[start:end]
    where = sorted(haystack.index(n) / len(haystack) for n in sample.meta["needles"])
    assert len(where) == 4 and all(abs(w - d / 100) < 0.06 for w, d in zip(where, sample.meta["depths"]))
    assert all(v in text for v in sample.outputs)


def test_single_answer_questions_use_the_official_singular_wording(counter):
    sample = first_sample("niah_single_2", 2048, counter)
    assert sample.messages[0]["content"].startswith("A special magic number is hidden within the following text.")
    assert sample.prefix.startswith(" The special magic number for ") and sample.prefix.endswith(" mentioned in the provided text is")


def test_variable_tracking_answer_is_the_chain_of_its_value(counter):
    sample = first_sample("vt", 2048, counter)
    text = sample.messages[0]["content"]
    value = re.findall(r"assigned the value (\d+) in the text above", text)[-1]  # the first is the worked example's
    first = sample.outputs[0]
    assert f"VAR {first} = {value}" in text
    for a, b in zip(sample.outputs, sample.outputs[1:]):
        assert f"VAR {b} = VAR {a}" in text
    assert text.count("Memorize and track") == 2  # the worked example, then the task
    assert sample.prefix == f" Answer: According to the chain(s) of variable assignment in the text above, 5 variables are assigned the value {value}, they are: "


def test_common_words_appear_most_often_and_the_example_is_a_previous_turn(counter):
    sample = first_sample("cwe", 4096, counter)
    assert [m["role"] for m in sample.messages] == ["user", "assistant", "user"]
    words = re.findall(r"\d+\. (\S+)", sample.messages[2]["content"].split("\nQuestion:")[0])
    counts = {w: words.count(w) for w in set(words)}
    assert {w for w, c in counts.items() if c == 30} == set(sample.outputs)
    assert set(counts.values()) == {30, 3}


def test_frequent_words_answer_is_the_three_most_frequent_coded_words(counter):
    sample = first_sample("fwe", 4096, counter)
    words = sample.messages[0]["content"].split("coded words. ")[1].split("\nQuestion")[0].split()
    ranked = sorted(set(words) - {"..."}, key=words.count, reverse=True)
    assert ranked[:3] == sample.outputs


@pytest.mark.parametrize("task", ["qa_1", "qa_2"])
def test_qa_gold_documents_are_in_the_context(task, counter):
    sample = first_sample(task, 4096, counter)
    qas, docs = sources.qa_source(ruler.TASKS[task][1]["dataset"])
    text = sample.messages[0]["content"]
    for gold, number in zip(qas[0]["context"], sample.meta["gold_documents"]):
        assert f"Document {number}:\n{docs[gold]}" in text
    assert sample.outputs == qas[0]["outputs"] and text.endswith("Question: " + qas[0]["query"])


def test_adjective_noun_keys_index_the_sorted_official_list():
    words = sources.adj_noun_words()
    assert len(words) == 910 * 6782
    for start in words.starts[:-1]:  # every block boundary, and inside the interleaved blocks
        window = [words[i] for i in range(max(0, start - 3), start + 3)]
        assert window == sorted(set(window))
    blue = [i for i, b in enumerate(words.blocks) if isinstance(b, list) and b[0].startswith("blue-")][0]
    block = words.blocks[blue]
    assert block == sorted(block) and any(w.startswith("blue-eyed-") for w in block)


# ---- iter_items: order, limits, cache, settings ---------------------------------------------------------


def test_items_come_sample_by_sample_over_every_length_and_task(tmp_path, tokenizer_dir):
    ctx = context(tmp_path, tokenizer_dir, lengths=[1024, 2048], samples=2, tasks=["niah_single_1", "niah_multikey_2"])
    ids = [item.id for item in ruler.iter_items(ctx)]
    assert ids == ["niah_single_1/1024/0", "niah_multikey_2/1024/0", "niah_single_1/2048/0", "niah_multikey_2/2048/0",
                   "niah_single_1/1024/1", "niah_multikey_2/1024/1", "niah_single_1/2048/1", "niah_multikey_2/2048/1"]
    assert ctx.fingerprints["lengths_built"] == [1024, 2048] and ctx.fingerprints["tokenizer"]


def test_lengths_above_the_models_max_context_are_not_built(tmp_path, tokenizer_dir):
    ctx = context(tmp_path, tokenizer_dir, max_context=1500, lengths=[1024, 2048], samples=1, tasks=["niah_single_1"])
    assert [item.meta["length"] for item in ruler.iter_items(ctx)] == [1024]
    with pytest.raises(HarnessError, match="max_context"):
        list(ruler.iter_items(context(tmp_path, tokenizer_dir, max_context=512, lengths=[1024])))


def test_a_second_build_reads_the_cache_and_gives_the_same_items(tmp_path, tokenizer_dir, monkeypatch):
    options = dict(lengths=[1024], samples=3, tasks=["niah_single_1"])
    first = list(ruler.iter_items(context(tmp_path, tokenizer_dir, **options)))
    files = list((tmp_path / "cache" / "ruler").glob("niah_single_1-1024-*.jsonl"))
    assert len(files) == 1 and len(files[0].read_text().splitlines()) == 3
    monkeypatch.setattr(synth.Niah, "samples", lambda self: pytest.fail("regenerated despite the cache"))
    again = list(ruler.iter_items(context(tmp_path, tokenizer_dir, **options)))
    assert again == first


def test_a_cached_stream_cuts_a_torn_line_and_extends_by_regenerating(tmp_path):
    made = []

    def make():
        for i in range(10):
            made.append(i)
            yield {"i": i}

    stream = CachedStream(tmp_path, "k", make)
    assert [r["i"] for r, _ in zip(stream, range(3))] == [0, 1, 2]
    with stream.path.open("a") as f:
        f.write('{"i": 3')  # a killed run's half line
    made.clear()
    assert [r["i"] for r in stream] == list(range(10))
    assert made == list(range(10))  # regenerated from the start, the cached three skipped
    assert [json.loads(line)["i"] for line in stream.path.read_text().splitlines()] == list(range(10))


def test_without_a_tokenizer_the_error_says_to_pass_tokenizer(tmp_path):
    ctx = context(tmp_path, None)
    ctx.tokenizer_name = None
    with pytest.raises(HarnessError, match="--tokenizer"):
        next(ruler.iter_items(ctx))


@pytest.mark.parametrize("options, field", [({"lenghts": [1024]}, "unknown keys"), ({"lengths": [0]}, "lengths"),
                                            ({"tasks": ["niah_single_9"]}, "tasks"), ({"samples": 0}, "samples")])
def test_bad_options_name_the_file_and_the_field(tmp_path, tokenizer_dir, options, field):
    with pytest.raises(HarnessError, match=rf"tasks/ruler.toml \[options\].*{field}"):
        next(ruler.iter_items(context(tmp_path, tokenizer_dir, **options)))


# ---- scoring: RULER's scripts/eval/synthetic/constants.py ----------------------------------------------


def item(task="niah_multivalue", length=4096, refs=("1", "2"), match="all", id_="x") -> Item:
    return Item(id=id_, messages=(), reference=list(refs), meta={"task": task, "length": length, "match": match})


def gen(text: str) -> Generation:
    return Generation(text=text, reasoning=None, answer=text)


SCORE_CASES = [
    # (match, references, prediction, score)
    ("all", ["7067228"], " 7067228.", 1.0),
    ("all", ["1234567", "7654321", "1111111", "2222222"], "1234567, 7654321 and 3333333", 0.5),
    ("all", ["Apple-Pie"], "the answer is apple-pie", 1.0),  # case-insensitive
    ("all", ["1234567"], "", 0.0),
    ("all", ["12345"], "123456", 1.0),  # a substring match, as the official
    ("part", ["Paris", "the city of Paris"], "Paris.", 1.0),
    ("part", ["Denver Broncos", "Broncos"], "the broncos", 1.0),
    ("part", ["yes"], "No", 0.0),
    ("part", ["a", "b"], "a", 1.0),  # any one reference: not lm-eval's per-reference average
]


@pytest.mark.parametrize("match, refs, prediction, expected", SCORE_CASES)
def test_string_match_scores_as_the_official_functions(match, refs, prediction, expected):
    assert ruler.score(item(refs=refs, match=match), gen(prediction)).value == expected


def test_control_characters_become_newlines_and_an_empty_prediction_is_no_answer():
    assert ruler.postprocess("  1234\x00567\t ") == "1234\n567"
    s = ruler.score(item(refs=["1"]), gen("  \n "))
    assert s.value == 0.0 and s.extracted is None


def test_metrics_round_each_task_then_average_tasks_per_length():
    records = [(item("niah_single_1", 4096, id_="a"), Score(1.0)), (item("niah_single_1", 4096, id_="b"), Score(0.0)),
               (item("niah_single_1", 4096, id_="c"), Score(0.0)), (item("qa_1", 4096, id_="d"), Score(1.0)),
               (item("qa_1", 8192, id_="e"), Score(0.5))]
    m = ruler.metrics(records)
    assert m["4k/niah_single_1"] == 33.33 and m["4k/qa_1"] == 100.0
    assert m["4k"] == round((33.33 + 100.0) / 2, 2) and m["8k"] == 50.0
    assert ruler.headline_metric(m) == "8k"


def test_the_headline_is_the_longest_length_in_the_scores_entry():
    from exaone_eval.items import Planned
    from exaone_eval.results import aggregate

    planned, scores, gens = [], {}, {}
    for i, (length, value) in enumerate([(4096, 1.0), (4096, 1.0), (131072, 0.0), (131072, 1.0)]):
        it = item("niah_single_1", length, id_=f"i{i}")
        planned.append(Planned(it, 0, 0, None, f"k{i}"))
        scores[f"k{i}"], gens[f"k{i}"] = Score(value), gen("x")
    entry = aggregate("ruler", 1, planned, scores, gens)
    assert entry["score"] == 50.0 and entry["metrics"]["4k"] == 100.0 and entry["score_basis"] == "metrics['128k']"
