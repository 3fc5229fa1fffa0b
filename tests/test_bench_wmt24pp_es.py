"""WMT24++ en->es_MX: rows, the translation prompt, the judge prompt, verdicts, and a judge round trip."""

import json

import pytest

from exaone_eval.benchmarks import wmt24pp_es as bench
from exaone_eval.types import Generation, HarnessError

ROW = {
    "lp": "en-es_MX",
    "domain": "news",
    "document_id": "test-en-news_example.1",
    "segment_id": 11,
    "is_bad_source": False,
    "source": "A final push for female equality",
    "target": "Un último empujón por la igualdad femenina",
    "original_target": "Un último impulso por la igualdad de las mujeres",
}


def gen(answer: str, closed: bool = True) -> Generation:
    return Generation(text=answer, reasoning=None, answer=answer, reasoning_closed=closed)


def judged(reply: str) -> Generation:
    return Generation(text=reply, reasoning=None, answer=reply)


def test_the_item_id_is_the_segment_id_and_the_reference_is_the_post_edit():
    item = bench.to_item(ROW)
    assert item.id == "11"
    assert item.reference == ROW["target"]
    assert item.meta["source"] == ROW["source"]


def test_the_prompt_asks_for_only_a_mexican_spanish_translation_of_the_source():
    (message,) = bench.to_item(ROW).messages
    text = message["content"]
    assert ROW["source"] in text
    assert "Spanish (es_MX)" in text and "Mexico" in text
    assert "Produce only the Spanish translation" in text
    assert ROW["target"] not in text


def test_bad_sources_are_left_out_and_good_ones_kept():
    assert bench.keep_row(ROW)
    assert not bench.keep_row({**ROW, "is_bad_source": True})


def test_a_non_boolean_bad_source_flag_is_an_input_error():
    with pytest.raises(HarnessError, match="is_bad_source"):
        bench.keep_row({**ROW, "is_bad_source": "no"})


def test_the_judge_request_carries_source_reference_and_translation():
    translation = "Un último esfuerzo por la igualdad de las mujeres"
    (req,) = bench.judge_requests(bench.to_item(ROW), gen(f"  {translation}\n"))
    (message,) = req.messages
    prompt = message["content"]
    assert f'English source: "{ROW["source"]}"' in prompt
    assert f'Spanish human reference: "{ROW["target"]}"' in prompt
    assert f'Spanish translation: "{translation}"' in prompt
    assert "0 to 100" in prompt and prompt.rstrip().endswith("Score:")
    assert req.sampling.temperature == 0.0 and req.mode == "non-reasoning"


@pytest.mark.parametrize("answer,closed", [("", True), ("   \n", True), ("", False)])
def test_an_empty_translation_scores_zero_without_asking_the_judge(answer, closed):
    item = bench.to_item(ROW)
    g = gen(answer, closed)
    assert bench.judge_requests(item, g) == []
    s = bench.score(item, g, [])
    assert (s.value, s.extracted, s.detail["reason"]) == (0.0, None, "empty translation")


# (judge reply, score 0-1, extracted judge score)
VERDICTS = [
    ("85", 0.85, 85.0),
    ("Score: 92", 0.92, 92.0),
    ("The translation is accurate and fluent. Score: 100", 1.0, 100.0),
    ("0", 0.0, 0.0),
    ("150", 0.0, None),
    ("I am unable to rate this.", 0.0, None),
]


@pytest.mark.parametrize("reply,value,extracted", VERDICTS)
def test_the_judge_score_over_100_is_the_sample_score(reply, value, extracted):
    s = bench.score(bench.to_item(ROW), gen("Un último empujón por la igualdad"), [judged(reply)])
    assert (s.value, s.extracted) == (value, extracted)
    assert s.detail["judge_raw"] == [reply]
    assert s.detail["translation"] == "Un último empujón por la igualdad"


def test_unparsable_and_empty_samples_are_counted_in_metrics():
    item = bench.to_item(ROW)
    records = [
        (item, bench.score(item, gen("Hola"), [judged("Score: 80")])),
        (item, bench.score(item, gen("Hola"), [judged("n/a")])),
        (item, bench.score(item, gen(""), [])),
    ]
    assert bench.metrics(records) == {"judge_unparsable": 1.0, "empty_translation": 1.0}


def test_a_translation_with_no_judge_reply_is_refused_rather_than_scored():
    with pytest.raises(HarnessError, match="needs a judge"):
        bench.score(bench.to_item(ROW), gen("Hola"), [])


def _rows() -> list[dict]:
    texts = [
        ("Good morning", "Buenos días"),
        ("Thank you very much", "Muchas gracias"),
        ("See you tomorrow", "Hasta mañana"),
    ]
    return [
        {**ROW, "segment_id": i + 1, "source": s, "target": t, "original_target": t}
        for i, (s, t) in enumerate(texts)
    ]


def _judge_reply(body: dict) -> dict:
    """A scripted judge: 90 for a translation that matches its reference, 40 otherwise, junk for 'ZZZ'."""
    prompt = body["messages"][0]["content"]
    reference = prompt.split('human reference: "')[1].split('"')[0]
    translation = prompt.split('Spanish translation: "')[1].split('"')[0]
    if translation == "ZZZ":
        return {"content": "I cannot score this."}
    return {"content": "Score: 90" if translation == reference else "40"}


def test_score_command_round_trips_through_a_scripted_judge_server_and_caches_its_calls(tmp_path):
    from exaone_eval.fake_server import FakeOpenAIServer
    from exaone_eval.score_file import score_responses

    data = tmp_path / "data"
    data.mkdir()
    (data / "wmt24pp_es.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows()), encoding="utf-8")
    responses = tmp_path / "responses.jsonl"
    lines = [
        {"id": "1", "response": "<think>Easy.</think>Buenos días"},
        {"id": "2", "response": "Muchas gracias, amigo"},
        {"id": "3", "response": "ZZZ"},
    ]
    responses.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    out = tmp_path / "out"

    with FakeOpenAIServer(responder=_judge_reply) as server:
        entry = score_responses("wmt24pp_es", responses, out, data_dir=data, judge_base_url=server.url, judge_model="judge-x")
        assert len(server.requests) == 3
        assert {r["model"] for r in server.requests} == {"judge-x"}
        assert {r["temperature"] for r in server.requests} == {0.0}
        again = score_responses("wmt24pp_es", responses, out, data_dir=data, judge_base_url=server.url, judge_model="judge-x")
        assert len(server.requests) == 3  # every judge call came from the store the second time

    assert entry["score"] == pytest.approx((90 + 40 + 0) / 3)
    assert entry["metrics"] == {"judge_unparsable": 1.0, "empty_translation": 0.0}
    assert again["score"] == entry["score"]
    samples = {s["id"]: s for s in map(json.loads, (out / "samples" / "wmt24pp_es.jsonl").read_text().splitlines())}
    assert samples["1"]["extracted"] == 90.0 and samples["1"]["detail"]["judge_raw"] == ["Score: 90"]
    assert samples["3"]["extracted"] is None and samples["3"]["detail"]["reason"] == "judge_unparsable"
