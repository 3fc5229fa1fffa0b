"""`--backend vllm` against a fake `vllm` module: what reaches vLLM, and what comes back.

The fake has vLLM's surface as the backend uses it (`AsyncEngineArgs`, `AsyncLLMEngine.
from_engine_args`, `generate(prompt, params, request_id, data_parallel_rank=...)`, `SamplingParams`,
`RequestOutputKind`), with the real field names as dataclass fields so a misspelt option fails.
Its "model" is a function from the prompt text to the full continuation; the fake engine cuts it
at `max_tokens` (finish `length`) as vLLM does. The tokenizer is one token per character.
"""

from __future__ import annotations

import asyncio
import enum
import json
import sys
import types
from dataclasses import dataclass, field

import pytest
from conftest import AIME_ROWS, write_jsonl

from exaone_eval.backends import vllm as vllm_backend
from exaone_eval.backends.vllm import VLLMBackend
from exaone_eval.cli import main
from exaone_eval.reasoning import BUDGET_FORCING_TEXT
from exaone_eval.types import HarnessError, Request, Sampling

# ---- the fakes -------------------------------------------------------------------------------------


class CharTokenizer:
    """One token per character; a chat template that marks thinking and tools."""

    chat_template = "fake"

    def apply_chat_template(self, messages, tools=None, add_generation_prompt=False, tokenize=True, enable_thinking=False):
        assert tokenize is False and add_generation_prompt is True
        text = "".join(f"<|{m['role']}|>{m['content']}\n" for m in messages)
        if tools:
            text = f"<|tools|>{json.dumps(tools)}\n" + text
        return text + "<|assistant|>" + ("<think>\n" if enable_thinking else "")

    def encode(self, text, add_special_tokens=True):
        assert add_special_tokens is False
        return [ord(c) for c in text]

    def decode(self, ids, skip_special_tokens=False, clean_up_tokenization_spaces=False):
        return "".join(chr(i) for i in ids)


class RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


@dataclass
class SamplingParams:
    n: int = 1
    presence_penalty: float = 0.0
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: list | None = None
    max_tokens: int | None = 16
    skip_special_tokens: bool = True
    output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE


@dataclass
class AsyncEngineArgs:
    model: str
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    enable_prefix_caching: bool | None = None
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    seed: int = 0
    trust_remote_code: bool = False


@dataclass
class Call:
    prompt: str
    params: SamplingParams
    request_id: str
    data_parallel_rank: int | None


@dataclass
class FakeEngine:
    args: AsyncEngineArgs
    model: callable
    calls: list = field(default_factory=list)
    shut_down: bool = False

    @property
    def model_config(self):
        """vLLM's v1 engine states its context here (None: the fake was given none)."""
        return types.SimpleNamespace(max_model_len=self.args.max_model_len)

    async def generate(self, prompt, sampling_params, request_id, *, data_parallel_rank=None):
        assert sampling_params.output_kind is RequestOutputKind.FINAL_ONLY
        n, context = len(prompt["prompt_token_ids"]), self.args.max_model_len
        if context is not None and n > context:  # vLLM's v1 processor (`_validate_model_input`)
            raise ValueError(f"The decoder prompt (length {n}) is longer than the maximum model length of {context}. "
                             "Make sure that `max_model_len` is no smaller than the number of text tokens.")
        text = "".join(chr(i) for i in prompt["prompt_token_ids"])
        self.calls.append(Call(text, sampling_params, request_id, data_parallel_rank))
        await asyncio.sleep(0)
        full = self.model(text)
        if isinstance(full, Exception):
            raise full
        finish = "stop"
        if isinstance(full, tuple):  # (text, finish reason) scripted as it is
            full, finish = full
        else:  # vLLM stops at max_tokens, or where the context is full, whichever comes first
            room = min(sampling_params.max_tokens, context - n if context is not None else sampling_params.max_tokens)
            if len(full) > room:
                full, finish = full[:room], "length"
        out = types.SimpleNamespace(text=full, token_ids=[ord(c) for c in full], finish_reason=finish)
        yield types.SimpleNamespace(prompt_token_ids=prompt["prompt_token_ids"], outputs=[out], finished=True)

    def shutdown(self):
        self.shut_down = True


class FakeVLLM:
    """Installs the fake modules; `model` is the scripted continuation function."""

    def __init__(self, monkeypatch):
        self.engines: list[FakeEngine] = []
        self.model = lambda prompt: "<think>\nfine\n</think>\n\nThe answer is \\boxed{5}."
        fake = self

        class AsyncLLMEngine:
            @classmethod
            def from_engine_args(cls, args):
                engine = FakeEngine(args, lambda prompt: fake.model(prompt))
                fake.engines.append(engine)
                return engine

        vllm = types.ModuleType("vllm")
        vllm.__version__ = "0.11.0"  # a release the gate accepts: the fake has no package metadata
        vllm.SamplingParams, vllm.AsyncEngineArgs, vllm.AsyncLLMEngine = SamplingParams, AsyncEngineArgs, AsyncLLMEngine
        sampling = types.ModuleType("vllm.sampling_params")
        sampling.RequestOutputKind, sampling.SamplingParams = RequestOutputKind, SamplingParams
        vllm.sampling_params = sampling
        monkeypatch.setitem(sys.modules, "vllm", vllm)
        monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)

    @property
    def calls(self) -> list[Call]:
        return [c for e in self.engines for c in e.calls]


@pytest.fixture
def fake_vllm(monkeypatch) -> FakeVLLM:
    return FakeVLLM(monkeypatch)


def backend(**options) -> VLLMBackend:
    return VLLMBackend("org/model", tokenizer=CharTokenizer(), **options)


def request(mode="reasoning", content="What is 2+3?", **fields) -> Request:
    sampling = fields.pop("sampling", Sampling(temperature=0.6, top_p=0.95, presence_penalty=1.5, max_tokens=1000, seed=11))
    return Request(messages=({"role": "user", "content": content},), sampling=sampling, mode=mode, **fields)


def run(b: VLLMBackend, requests: list[Request]) -> list:
    async def go():
        got = {i: g async for i, g in b.generate(requests)}
        await b.aclose()
        return [got[i] for i in range(len(requests))]

    return asyncio.run(go())


# ---- what reaches vLLM -----------------------------------------------------------------------------


def test_the_reports_sampling_settings_and_each_samples_own_seed_reach_vllm(fake_vllm):
    reqs = [request(sampling=Sampling(temperature=0.6, top_p=0.95, presence_penalty=1.5, max_tokens=777, seed=s)) for s in (3, 4)]
    run(backend(), reqs)
    params = sorted((c.params for c in fake_vllm.calls), key=lambda p: p.seed)
    assert [p.seed for p in params] == [3, 4]
    p = params[0]
    assert (p.temperature, p.top_p, p.presence_penalty, p.max_tokens, p.n) == (0.6, 0.95, 1.5, 777, 1)
    assert p.top_k == 0 and p.stop is None  # vLLM's defaults: no top-k cut, no stop strings
    assert p.skip_special_tokens is False  # `</think>` must stay in the text


def test_top_k_and_stop_strings_are_passed_when_set(fake_vllm):
    run(backend(), [request(sampling=Sampling(temperature=0.0, top_k=20, stop=("###",), max_tokens=50, seed=1))])
    p = fake_vllm.calls[0].params
    assert (p.temperature, p.top_k, p.stop) == (0.0, 20, ["###"])


def test_reasoning_mode_turns_thinking_on_in_the_chat_template_and_non_reasoning_turns_it_off(fake_vllm):
    run(backend(), [request("reasoning", "A"), request("non-reasoning", "B")])
    prompts = {c.prompt[len("<|user|>"):][0]: c.prompt for c in fake_vllm.calls}
    assert prompts["A"] == "<|user|>A\n<|assistant|><think>\n"
    assert prompts["B"] == "<|user|>B\n<|assistant|>"


def test_tools_are_rendered_into_the_prompt(fake_vllm):
    tool = {"type": "function", "function": {"name": "add", "parameters": {}}}
    run(backend(), [request(tools=(tool,))])
    assert fake_vllm.calls[0].prompt.startswith('<|tools|>[{"type": "function", "function": {"name": "add"')


def test_tensor_and_data_parallel_sizes_and_engine_options_reach_vllm(fake_vllm):
    run(backend(tensor_parallel_size=2, data_parallel_size=4, max_model_len=8192, gpu_memory_utilization=0.8), [request()])
    args = fake_vllm.engines[0].args
    assert (args.model, args.tensor_parallel_size, args.data_parallel_size) == ("org/model", 2, 4)
    assert (args.max_model_len, args.gpu_memory_utilization) == (8192, 0.8)
    assert (args.enable_prefix_caching, args.seed, args.trust_remote_code) == (True, 0, False)


def test_unset_engine_options_are_left_to_vllm(fake_vllm):
    run(backend(), [request()])
    args = fake_vllm.engines[0].args
    assert (args.max_model_len, args.gpu_memory_utilization) == (None, 0.9)


def test_the_engine_is_built_on_the_first_generate_and_only_once(fake_vllm):
    b = backend()
    assert fake_vllm.engines == []

    async def go():
        for _ in range(2):
            [g async for g in b.generate([request()])]

    asyncio.run(go())
    assert len(fake_vllm.engines) == 1 and len(fake_vllm.calls) == 2


def test_aclose_shuts_the_engine_down(fake_vllm):
    run(backend(), [request()])
    assert fake_vllm.engines[0].shut_down


def test_each_request_gets_its_own_vllm_request_id(fake_vllm):
    run(backend(), [request(), request(), request()])
    assert len({c.request_id for c in fake_vllm.calls}) == 3


# ---- what comes back -------------------------------------------------------------------------------


def test_a_reasoning_response_is_split_into_reasoning_and_answer_with_token_counts(fake_vllm):
    fake_vllm.model = lambda prompt: "fine\n</think>\n\nThe answer is \\boxed{5}."
    [g] = run(backend(), [request()])
    assert g.error is None and g.finish_reason == "stop"
    assert (g.reasoning, g.answer, g.reasoning_closed) == ("fine", "The answer is \\boxed{5}.", True)
    assert g.text == "fine\n</think>\n\nThe answer is \\boxed{5}."
    assert g.completion_tokens == len(g.text)
    assert g.prompt_tokens == len("<|user|>What is 2+3?\n<|assistant|><think>\n")


def test_a_reasoning_cut_at_max_tokens_is_unfinished_and_has_no_answer(fake_vllm):
    fake_vllm.model = lambda prompt: "x" * 500
    [g] = run(backend(), [request(sampling=Sampling(temperature=0.6, max_tokens=100, seed=1))])
    assert (g.finish_reason, g.reasoning_closed, g.answer, g.completion_tokens) == ("length", False, "", 100)
    assert g.reasoning == "x" * 100


def test_a_reasoning_mode_response_that_stops_without_closing_its_reasoning_is_taken_as_the_answer(fake_vllm):
    fake_vllm.model = lambda prompt: "The answer is \\boxed{5}."  # the model skipped thinking and ended (eos)
    [g] = run(backend(), [request()])
    assert (g.finish_reason, g.reasoning, g.answer, g.reasoning_closed) == ("stop", None, "The answer is \\boxed{5}.", True)


def test_a_non_reasoning_answer_cut_at_max_tokens_is_still_an_answer(fake_vllm):
    fake_vllm.model = lambda prompt: "The answer is 5 because " + "y" * 500
    [g] = run(backend(), [request("non-reasoning", sampling=Sampling(temperature=0.0, max_tokens=30, seed=1))])
    assert (g.finish_reason, g.reasoning, g.reasoning_closed) == ("length", None, True)
    assert g.answer == ("The answer is 5 because " + "y" * 500)[:30]


# ---- budget forcing and prefixes -------------------------------------------------------------------


def thinker(reasoning: str, answer: str = "\\boxed{7}"):
    """A model that reasons `reasoning` then answers; after the forcing text it answers at once."""

    def model(prompt: str) -> str:
        if prompt.endswith(BUDGET_FORCING_TEXT):
            return answer
        return reasoning + "\n</think>\n\n" + answer

    return model


def test_budget_forcing_caps_the_reasoning_then_forces_and_caps_the_answer(fake_vllm):
    fake_vllm.model = thinker("r" * 300, answer="\\boxed{7} " + "z" * 100)
    [g] = run(backend(), [request(reasoning_budget=50, answer_max_tokens=20)])
    first, second = fake_vllm.calls
    assert first.params.max_tokens == 50
    assert second.prompt == first.prompt + "r" * 50 + BUDGET_FORCING_TEXT
    assert second.params.max_tokens == 20 and second.params.seed == first.params.seed
    assert g.text == "r" * 50 + BUDGET_FORCING_TEXT + ("\\boxed{7} " + "z" * 100)[:20]
    assert (g.reasoning_closed, g.answer, g.meta["forced_at"], g.meta["calls"]) == (True, ("\\boxed{7} " + "z" * 100)[:20], 50, 2)
    assert g.completion_tokens == 50 + 20 and g.prompt_tokens == len(first.prompt)
    assert g.meta["token_ids"] == [ord(c) for c in "r" * 50 + g.answer]  # as sampled; the forcing text is not


def test_only_budget_requests_report_their_sampled_tokens(fake_vllm):
    [g] = run(backend(), [request()])
    assert "token_ids" not in g.meta


def test_a_forced_answer_without_answer_max_tokens_is_capped_at_max_tokens(fake_vllm):
    fake_vllm.model = thinker("r" * 300)
    run(backend(), [request(reasoning_budget=50, sampling=Sampling(temperature=0.6, max_tokens=400, seed=1))])
    assert [c.params.max_tokens for c in fake_vllm.calls] == [50, 400]


def test_a_reasoning_that_ends_within_the_budget_is_not_forced(fake_vllm):
    fake_vllm.model = thinker("short")
    [g] = run(backend(), [request(reasoning_budget=50, answer_max_tokens=20)])
    assert len(fake_vllm.calls) == 1 and "forced_at" not in g.meta
    assert (g.answer, g.completion_tokens) == ("\\boxed{7}", len("short\n</think>\n\n\\boxed{7}"))


def test_a_reasoning_that_closes_within_the_budget_runs_on_to_max_tokens_unforced(fake_vllm):
    fake_vllm.model = lambda prompt: ("a" * 200) if prompt.endswith("</think>\n\n") else "rr\n</think>\n\n" + "a" * 200
    [g] = run(backend(), [request(reasoning_budget=30, answer_max_tokens=5, sampling=Sampling(temperature=0.6, max_tokens=100, seed=1))])
    first, second = fake_vllm.calls
    assert first.params.max_tokens == 30 and second.params.max_tokens == 70
    assert BUDGET_FORCING_TEXT not in second.prompt and "forced_at" not in g.meta
    assert g.completion_tokens == 100 and g.finish_reason == "length"


def test_the_budget_applies_only_in_reasoning_mode(fake_vllm):
    run(backend(), [request("non-reasoning", reasoning_budget=50, sampling=Sampling(temperature=0.0, max_tokens=400, seed=1))])
    assert [c.params.max_tokens for c in fake_vllm.calls] == [400]


def test_a_prefix_is_continued_right_after_the_rendered_prompt(fake_vllm):
    fake_vllm.model = lambda prompt: "more\n</think>\n\n\\boxed{5}"
    [g] = run(backend(), [request(prefix="<think>\nstarted ")])
    assert fake_vllm.calls[0].prompt == "<|user|>What is 2+3?\n<|assistant|><think>\n<think>\nstarted "
    assert g.text == "<think>\nstarted more\n</think>\n\n\\boxed{5}" and g.reasoning == "started more"


def test_a_prefix_that_closed_the_reasoning_is_capped_at_answer_max_tokens_and_not_budgeted(fake_vllm):
    fake_vllm.model = lambda prompt: "\\boxed{5}"
    prefix = "r" * 10 + BUDGET_FORCING_TEXT
    [g] = run(backend(), [request(prefix=prefix, reasoning_budget=5, answer_max_tokens=64)])
    assert [c.params.max_tokens for c in fake_vllm.calls] == [64]
    assert (g.text, g.answer, g.completion_tokens) == (prefix + "\\boxed{5}", "\\boxed{5}", len("\\boxed{5}"))


def test_a_prefix_without_messages_is_a_raw_prompt(fake_vllm):
    fake_vllm.model = lambda prompt: " world"
    [g] = run(backend(), [Request(messages=(), sampling=Sampling(temperature=0.0, max_tokens=8), mode="non-reasoning", prefix="hello")])
    assert fake_vllm.calls[0].prompt == "hello" and g.text == "hello world"


def test_budget_requests_keep_both_calls_on_one_data_parallel_replica(fake_vllm):
    fake_vllm.model = thinker("r" * 300)
    run(backend(data_parallel_size=4), [request(reasoning_budget=50, answer_max_tokens=20, sampling=Sampling(temperature=0.6, max_tokens=999, seed=s)) for s in range(6)])
    by_seed: dict[int, set] = {}
    for c in fake_vllm.calls:
        by_seed.setdefault(c.params.seed, set()).add(c.data_parallel_rank)
    assert len(fake_vllm.calls) == 12 and all(len(ranks) == 1 for ranks in by_seed.values())
    assert all(0 <= r < 4 for ranks in by_seed.values() for r in ranks)


def test_requests_without_a_budget_are_left_to_vllms_own_load_balancing(fake_vllm):
    run(backend(data_parallel_size=4), [request(), request()])
    assert [c.data_parallel_rank for c in fake_vllm.calls] == [None, None]


# ---- errors ------------------------------------------------------------------------------------------


def test_a_failing_request_yields_an_error_and_the_others_still_finish(fake_vllm):
    fake_vllm.model = lambda prompt: ValueError("prompt too long") if "B" in prompt else "ok\n</think>\n\nfine"
    ok, bad = run(backend(), [request(content="A"), request(content="B")])
    assert ok.error is None and ok.answer == "fine"
    assert bad.error == "vllm: ValueError: prompt too long" and bad.text == ""


def test_an_aborted_request_is_an_error_not_an_answer(fake_vllm):
    fake_vllm.model = lambda prompt: ("partial", "abort")
    [g] = run(backend(), [request()])
    assert g.error == "vllm: RuntimeError: vLLM ended the request with finish reason 'abort'"


def test_a_broken_chat_template_is_an_error_of_that_request(fake_vllm):
    class Broken(CharTokenizer):
        def apply_chat_template(self, *a, **k):
            raise KeyError("role")

    [g] = run(VLLMBackend("org/model", tokenizer=Broken()), [request()])
    assert g.error.startswith("chat template failed: KeyError") and fake_vllm.calls == []


def test_without_vllm_installed_the_backend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError
    b = backend()
    with pytest.raises(HarnessError, match=r"pip install 'exaone-eval\[vllm\]'"):
        asyncio.run(b.check())

    async def go():
        return [g async for g in b.generate([request()])]

    with pytest.raises(HarnessError, match="GPU machine"):
        asyncio.run(go())


def test_an_engine_that_cannot_start_is_a_one_line_error(fake_vllm, monkeypatch):
    def boom(args):
        raise RuntimeError("CUDA out of memory\nlong trace")

    monkeypatch.setattr(sys.modules["vllm"].AsyncLLMEngine, "from_engine_args", staticmethod(boom))

    async def go():
        return [g async for g in backend().generate([request()])]

    with pytest.raises(HarnessError, match=r"^vllm could not start org/model: RuntimeError: CUDA out of memory$"):
        asyncio.run(go())


@pytest.mark.parametrize("options", [{"tensor_parallel_size": 0}, {"data_parallel_size": -1}, {"gpu_memory_utilization": 1.5}, {"max_model_len": 0}])
def test_bad_engine_options_are_rejected_naming_the_option(options):
    with pytest.raises(HarnessError, match=next(iter(options))):
        backend(**options)


# ---- the budget sweep ---------------------------------------------------------------------------


def test_every_budget_of_the_sweep_equals_a_direct_budget_run_on_vllm(fake_vllm, tmp_path):
    from exaone_eval.config import ModelPreset, RunConfig
    from exaone_eval.items import load_items, plan
    from exaone_eval.store import SampleStore, request_key
    from exaone_eval.sweep import budget_request, run_sweep

    lengths = {"2+3": 5, "10*7": 20, "1+1": 40}  # reasoning lengths: some budgets bite, some do not
    values = {"2+3": 5, "10*7": 70, "1+1": 2}

    def model(prompt: str) -> str:
        """A prefix-consistent model: the same reasoning for a question, continued from any prefix."""
        question = next(q for q in lengths if f"What is {q}?" in prompt)
        answer = f"\\boxed{{{values[question]}}}"
        if prompt.endswith(BUDGET_FORCING_TEXT):
            return answer
        full = ("mull " * 20)[: lengths[question]] + "\n</think>\n\n" + answer
        so_far = prompt.rsplit("<|assistant|><think>\n", 1)[1]
        assert full.startswith(so_far)
        return full[len(so_far):]

    fake_vllm.model = model
    budgets, answer_max = (8, 16, 32, 64), 6
    data = write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS).parent
    cfg = RunConfig(suite="budget", mode="reasoning", model=ModelPreset(name="m", hf_id="org/model"), backend="vllm",
                    benchmarks=["aime_2025"], out=tmp_path / "run", k=2, data_dir=data, budgets=budgets, answer_max_tokens=answer_max)
    b = backend()

    async def sweep_then_direct():
        await run_sweep(cfg, b, progress=False)
        planned = plan(cfg, "aime_2025", load_items(cfg, "aime_2025")[0])
        requests = [budget_request(p.request, budget, answer_max) for p in planned for budget in budgets]
        direct = {i: g async for i, g in b.generate(requests)}
        return requests, direct

    requests, direct = asyncio.run(sweep_then_direct())
    store = SampleStore(cfg.out / "store.sqlite")
    swept = store.get_many([request_key("org/model", r) for r in requests])
    store.close()
    sources = {json.loads(line)["source"] for line in (cfg.out / "samples" / "aime_2025.jsonl").read_text().splitlines()}
    assert sources == {"full", "reused", "truncated"}
    for i, r in enumerate(requests):
        gen = swept[request_key("org/model", r)]
        assert (gen.text, gen.completion_tokens, gen.meta.get("forced_at")) == (
            direct[i].text, direct[i].completion_tokens, direct[i].meta.get("forced_at")), r.reasoning_budget


# ---- the CLI -----------------------------------------------------------------------------------------


def test_run_with_backend_vllm_writes_a_run_directory(fake_vllm, monkeypatch, tmp_path):
    monkeypatch.setattr(vllm_backend, "load_chat_tokenizer", lambda model: CharTokenizer())
    answers = {"2+3": 5, "10*7": 70, "1+1": 2}
    fake_vllm.model = lambda prompt: "easy\n</think>\n\n\\boxed{%d}" % next(v for q, v in answers.items() if f"What is {q}?" in prompt)
    data = write_jsonl(tmp_path / "data" / "aime_2025.jsonl", AIME_ROWS).parent
    code = main(["run", "--suite", "reasoning", "--model", "32b", "--backend", "vllm", "--benchmarks", "aime_2025",
                 "--data-dir", str(data), "--k", "2", "--tensor-parallel-size", "2", "--data-parallel-size", "2",
                 "--max-model-len", "4096", "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 0
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())["aime_2025"]
    assert (scores["score"], scores["n_items"], scores["k"]) == (100.0, 3, 2)
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples" / "aime_2025.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and len({s["seed"] for s in samples}) == 6
    assert {c.params.seed for c in fake_vllm.calls} == {s["seed"] for s in samples}
    args = fake_vllm.engines[0].args
    assert (args.model, args.tensor_parallel_size, args.data_parallel_size, args.max_model_len) == ("LGAI-EXAONE/EXAONE-4.0-32B", 2, 2, 4096)
    run_json = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run_json["backend"] == "vllm"


def test_vllm_options_with_another_backend_are_an_error(capsys, tmp_path):
    code = main(["run", "--suite", "reasoning", "--model", "32b", "--base-url", "http://127.0.0.1:9/v1",
                 "--tensor-parallel-size", "2", "--out", str(tmp_path / "run")])
    assert code == 2
    assert "--tensor-parallel-size is for --backend vllm" in capsys.readouterr().err


# ---- the engine's context ------------------------------------------------------------------------


def test_a_budget_longer_than_the_context_left_is_capped_at_the_room_and_recorded(fake_vllm):
    fake_vllm.model = lambda prompt: "x" * 100_000
    req = request("non-reasoning", "A", sampling=Sampling(temperature=0.0, max_tokens=32768, seed=1))
    [gen] = run(backend(max_model_len=100), [req])
    prompt = len("<|user|>A\n<|assistant|>")
    assert fake_vllm.calls[0].params.max_tokens == 100 - prompt
    assert gen.error is None and gen.completion_tokens == 100 - prompt
    assert gen.max_tokens_capped == {"asked": 32768, "sent": 100 - prompt, "context": 100}


def test_a_budget_that_fits_the_engines_context_is_sent_unchanged(fake_vllm):
    [gen] = run(backend(max_model_len=8192), [request()])
    assert fake_vllm.calls[0].params.max_tokens == 1000 and gen.max_tokens_capped is None


def test_a_prompt_that_fills_the_engines_context_fails_alone_naming_both_lengths(fake_vllm):
    long, short = request(content="y" * 200), request(content="A")
    out = run(backend(max_model_len=100), [long, short])
    prompt = len("<|user|>" + "y" * 200 + "\n<|assistant|><think>\n")
    assert out[0].error == (f"vllm: the prompt is {prompt} tokens and the engine's context is 100 tokens: "
                            "no room to generate; raise --max-model-len")
    assert out[1].error is None
    assert len(fake_vllm.calls) == 1  # the long prompt never reached vLLM
