"""MMMLU (ES): the CSV row number as id, a Spanish simple-evals prompt, and simple-evals'
multilingual extraction ("Answer:" then "Respuesta:", markup stripped, full-width letters)."""

import pytest

from exaone_eval.registry import get_spec
from exaone_eval.benchmarks import mmmlu_es as bench
from exaone_eval.types import HarnessError
from helpers import gen

ROW = {
    "Unnamed: 0": 42,
    "Question": "¿Cuál es el grado de la extensión de campo Q(sqrt(2)) sobre Q?",
    "A": "0",
    "B": "2",
    "C": "1",
    "D": "3",
    "Answer": "B",
    "Subject": "abstract_algebra",
}


def test_the_item_id_is_the_csv_row_number():
    assert bench.to_item(ROW).id == "42"


def test_the_prompt_is_spanish_and_asks_for_a_respuesta_line():
    (message,) = bench.to_item(ROW).messages
    text = message["content"]
    assert "opción múltiple" in text and "'Respuesta: $LETRA'" in text
    assert text.endswith(f"{ROW['Question']}\n\nA) 0\nB) 2\nC) 1\nD) 3")


def test_an_answer_that_is_not_a_letter_is_a_data_error():
    with pytest.raises(HarnessError, match="row 42"):
        bench.to_item({**ROW, "Answer": "E"})


CASES = [
    ("Razonamiento...\nRespuesta: B", "B", 1.0),
    ("**Respuesta:** B", "B", 1.0),
    ("Respuesta: **B**", "B", 1.0),
    ("Respuesta: $\\boxed{B}$", "B", 1.0),
    ("Respuesta: Ｂ", "B", 1.0),
    ("Answer: B", "B", 1.0),
    ("Respuesta: C", "C", 0.0),
    ("Respuesta: B\nAnswer: C", "C", 0.0),  # "Answer:" is tried before "Respuesta:"
    ("Respuesta: C ... Respuesta: B", "C", 0.0),  # the first match of a label
    ("respuesta: b", "b", 0.0),  # simple-evals extracts the lowercase letter, which is not "B"
    ("La respuesta correcta es la B.", None, 0.0),
    ("\\boxed{B}", None, 0.0),  # no label, no answer
    ("No lo sé.", None, 0.0),
]


@pytest.mark.parametrize("answer, extracted, value", CASES)
def test_responses_get_the_simple_evals_verdict(answer, extracted, value):
    s = bench.score(bench.to_item(ROW), gen(answer))
    assert (s.extracted, s.value) == (extracted, value)


def test_an_answer_only_in_the_reasoning_finds_nothing():
    s = bench.score(bench.to_item(ROW), gen("No lo sé.", reasoning="Respuesta: B"))
    assert (s.extracted, s.value) == (None, 0.0)


def test_metrics_give_per_subject_accuracy_and_the_no_answer_share():
    algebra = bench.to_item(ROW)
    law = bench.to_item({**ROW, "Unnamed: 0": 7, "Subject": "professional_law"})
    records = [(algebra, bench.score(algebra, gen("Respuesta: B"))), (law, bench.score(law, gen("?")))]
    m = bench.metrics(records)
    assert (m["acc/abstract_algebra"], m["acc/professional_law"], m["no_answer_pct"]) == (100.0, 0.0, 50.0)


def test_the_spec_reads_the_es_la_config_with_its_row_number_column():
    spec = get_spec("mmmlu_es")
    assert spec.configs == ("ES_LA",) and spec.id_field == "Unnamed: 0" and spec.rows == 14042
