"""GPQA-Diamond: Record ID ids, simple-evals prompt and regex, a per-sample option shuffle that is
reproducible and visible in the item, and a clear error for the gated dataset without access."""

import pytest

from exaone_eval.registry import get_spec
from exaone_eval.benchmarks import gpqa_diamond as bench
from exaone_eval.types import HarnessError
from helpers import gen

ROW = {
    "Record ID": "recXYZ123",
    "Question": "Which particle mediates the electromagnetic force? ",
    "Correct Answer": "photon",
    "Incorrect Answer 1": "gluon",
    "Incorrect Answer 2": "W boson",
    "Incorrect Answer 3": "graviton\n",
    "High-level domain": "Physics",
    "Subdomain": "Particle physics",
}


def letter_of(item, text: str) -> str:
    """The letter the shown options give `text`."""
    shown = [item.meta["options"][i] for i in item.meta["permutation"]]
    return "ABCD"[shown.index(text)]


def test_the_item_id_is_the_record_id():
    assert bench.to_item(ROW).id == "recXYZ123"


def test_the_prompt_is_simple_evals_with_four_lettered_options():
    item = bench.to_item(ROW)
    (message,) = item.messages
    text = message["content"]
    assert text.startswith("Answer the following multiple choice question.")
    assert "'Answer: $LETTER'" in text and "Which particle mediates the electromagnetic force?\n\nA) " in text
    for option in ("photon", "gluon", "W boson", "graviton"):
        assert f") {option}" in text
    assert f"{item.reference}) photon" in text


def test_the_base_item_is_sample_zero():
    item = bench.to_item(ROW)
    assert bench.sample_view(item, 0) == item


def test_each_sample_gets_its_own_order_and_the_reference_follows_the_correct_answer():
    item = bench.to_item(ROW)
    views = [bench.sample_view(item, s) for s in range(8)]
    assert len({tuple(v.meta["permutation"]) for v in views}) > 1
    for v in views:
        assert sorted(v.meta["permutation"]) == [0, 1, 2, 3]
        assert v.reference == letter_of(v, "photon")
        assert f"{v.reference}) photon" in v.messages[0]["content"]


def test_a_sample_order_is_reproduced_for_the_same_item_and_sample():
    a, b = bench.to_item(ROW), bench.to_item(dict(ROW))
    assert [bench.sample_view(a, s).meta["permutation"] for s in range(4)] == [
        bench.sample_view(b, s).meta["permutation"] for s in range(4)
    ]


def test_the_order_depends_on_the_item():
    a = bench.to_item(ROW)
    orders_a = [tuple(bench.sample_view(a, s).meta["permutation"]) for s in range(6)]
    b = bench.to_item({**ROW, "Record ID": "recOTHER"})
    orders_b = [tuple(bench.sample_view(b, s).meta["permutation"]) for s in range(6)]
    assert orders_a != orders_b


def test_scoring_uses_the_letter_of_the_shuffled_order():
    item = bench.to_item(ROW)
    views = [bench.sample_view(item, s) for s in range(8)]
    moved = next(v for v in views if v.reference != item.reference)  # photon under another letter
    right = f"Answer: {moved.reference}"
    assert bench.score(moved, gen(right)).value == 1.0
    assert bench.score(item, gen(right)).value == 0.0
    assert bench.score(moved, gen(right)).detail["permutation"] == moved.meta["permutation"]


def answer_for(item, wanted: str) -> str:
    """`wanted` with the placeholders R (the right letter) and W (a wrong one) filled in."""
    wrong = next(c for c in "ABCD" if c != item.reference)
    return wanted.replace("<R>", item.reference).replace("<W>", wrong)


CASES = [
    ("Reasoning...\nAnswer: <R>", "<R>", 1.0),
    ("Answer:<R>", "<R>", 1.0),
    ("answer: <R>", "<R>", 1.0),
    ("Answer: $<R>$", "<R>", 1.0),
    ("**Answer: <R>**", "<R>", 1.0),
    ("Answer: <W>", "<W>", 0.0),
    ("Answer: <W>\nWait, no.\nAnswer: <R>", "<W>", 0.0),  # simple-evals takes the first match
    ("Answer: **<R>**", None, 0.0),  # no normalisation in simple-evals' GPQA: bold hides the letter
    ("Answer: \\boxed{<R>}", None, 0.0),
    ("The answer is (<R>).", None, 0.0),  # only "Answer: X" counts
    ("<R>) photon", None, 0.0),
    ("I do not know.", None, 0.0),
]


@pytest.mark.parametrize("answer, extracted, value", CASES)
def test_responses_get_the_simple_evals_verdict(answer, extracted, value):
    item = bench.to_item(ROW)
    s = bench.score(item, gen(answer_for(item, answer)))
    assert (s.extracted, s.value) == (None if extracted is None else answer_for(item, extracted), value)


def test_a_lowercase_letter_is_extracted_but_wrong_as_in_simple_evals():
    item = bench.to_item(ROW)
    s = bench.score(item, gen(f"Answer: {item.reference.lower()}"))
    assert (s.extracted, s.value) == (item.reference.lower(), 0.0)


def test_an_answer_only_in_the_reasoning_finds_nothing():
    item = bench.to_item(ROW)
    s = bench.score(item, gen("Done.", reasoning=f"Answer: {item.reference}"))
    assert (s.extracted, s.value) == (None, 0.0)


def test_metrics_give_per_domain_accuracy_and_the_no_answer_share():
    phys = bench.to_item(ROW)
    chem = bench.to_item({**ROW, "Record ID": "rec2", "High-level domain": "Chemistry"})
    records = [(phys, bench.score(phys, gen(f"Answer: {phys.reference}"))), (chem, bench.score(chem, gen("?")))]
    m = bench.metrics(records)
    assert (m["acc/Physics"], m["acc/Chemistry"], m["no_answer_pct"]) == (100.0, 0.0, 50.0)


def test_the_gated_dataset_without_access_says_how_to_get_it(monkeypatch):
    import datasets

    from exaone_eval.data import load_rows

    def refuse(*args, **kwargs):
        raise ConnectionError("401 Client Error: Unauthorized. Dataset 'Idavidrein/gpqa' is a gated dataset")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    with pytest.raises(HarnessError) as err:
        load_rows(get_spec("gpqa_diamond"))
    message = str(err.value)
    assert "gated" in message and "HF_TOKEN" in message and "\n" not in message
