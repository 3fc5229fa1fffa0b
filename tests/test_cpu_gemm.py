"""The CPU engine's own kernels (exaone_eval/model/cpu_gemm.c) against torch's, and how the engine
chooses between them and oneDNN."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F

from exaone_eval.model import cpu_gemm
from exaone_eval.types import HarnessError

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def kernels():
    try:
        return cpu_gemm.library()
    except cpu_gemm.GemmUnavailable as e:
        pytest.skip(f"the AVX2 kernels can't be built here: {e}")


@pytest.mark.parametrize("rows", [1, 2, 5, 6, 7, 12, 16, 17, 40])
@pytest.mark.parametrize("out_features,in_features", [(1, 3), (15, 7), (16, 64), (17, 9), (100, 576), (33, 1)])
def test_gemm_matches_f_linear(kernels, rows, out_features, in_features):
    g = torch.Generator().manual_seed(rows * 1000 + out_features)
    weight = torch.randn(out_features, in_features, generator=g)
    x = torch.randn(rows, in_features, generator=g)
    got = cpu_gemm.PanelLinear(weight)(x)
    assert got.shape == (rows, out_features)
    torch.testing.assert_close(got, F.linear(x, weight), atol=1e-4, rtol=1e-5)  # fp32 sums in another order


def test_gemm_takes_batched_and_strided_input_on_two_threads(kernels):
    weight = torch.randn(50, 24)
    x = torch.randn(3, 24, 5).transpose(1, 2)  # [3, 5, 24], not contiguous
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        got = cpu_gemm.PanelLinear(weight)(x)
    finally:
        torch.set_num_threads(threads)
    assert got.shape == (3, 5, 50)
    assert torch.allclose(got, F.linear(x, weight), atol=1e-5)
    assert cpu_gemm.PanelLinear(weight)(torch.zeros(0, 24)).shape == (0, 50)
    with pytest.raises(TypeError, match="fp32"):
        cpu_gemm.PanelLinear(weight)(x.double())


def sdpa(q, keys, values, mask):
    return F.scaled_dot_product_attention(q[:, :, None], keys, values, attn_mask=mask, scale=q.shape[-1] ** -0.5,
                                          enable_gqa=True)[:, :, 0]


@pytest.mark.parametrize("batch,heads,kv_heads,slots,used,dim", [
    (1, 9, 3, 64, 37, 64), (4, 4, 2, 20, 20, 16), (3, 8, 8, 40, 17, 128), (2, 4, 1, 9, 1, 8), (2, 6, 2, 300, 259, 32),
])
@pytest.mark.parametrize("sharp", [1.0, 30.0])
def test_decode_attention_matches_sdpa_on_a_cache_view(kernels, batch, heads, kv_heads, slots, used, dim, sharp):
    g = torch.Generator().manual_seed(slots + dim)
    q = torch.randn(batch, heads, dim, generator=g) * sharp
    cache_k = torch.randn(batch, kv_heads, slots, dim, generator=g)
    cache_v = torch.randn(batch, kv_heads, slots, dim, generator=g)
    keys, values = cache_k[:, :, :used], cache_v[:, :, :used]  # as a global layer reads its cache
    visible = torch.rand(batch, used, generator=g) > 0.4
    visible[:, -1] = True
    mask = torch.zeros(batch, 1, 1, used).masked_fill_(~visible[:, None, None], float("-inf"))
    got = cpu_gemm.decode_attention(q, keys, values, mask, dim**-0.5)
    assert torch.allclose(got, sdpa(q, keys, values, mask), atol=2e-5 * sharp, rtol=1e-4)


def test_decode_attention_gives_zeros_where_nothing_is_visible_and_declines_odd_shapes(kernels):
    q, keys = torch.randn(2, 2, 8), torch.randn(2, 1, 5, 8)
    mask = torch.zeros(2, 1, 1, 5)
    mask[1] = float("-inf")
    got = cpu_gemm.decode_attention(q, keys, keys.clone(), mask, 8**-0.5)
    assert torch.equal(got[1], torch.zeros(2, 8))
    assert torch.allclose(got[0], sdpa(q, keys, keys, mask)[0], atol=1e-5)
    odd = torch.randn(2, 1, 5, 6)  # head dim not a multiple of 8: the caller falls back to SDPA
    assert cpu_gemm.decode_attention(torch.randn(2, 2, 6), odd, odd, mask, 1.0) is None


def test_silu_mul_matches_torch_including_extremes(kernels):
    x = torch.randn(5, 2 * 37) * 4
    x[0, :9] = torch.tensor([-100.0, -90.0, -88.0, -50.0, 0.0, 50.0, 88.0, 100.0, 1e-3])
    gate, up = x.chunk(2, -1)
    expected = F.silu(gate) * up
    got = cpu_gemm.silu_mul(x)
    assert got.shape == (5, 37)
    assert torch.allclose(got, expected, atol=1e-6, rtol=1e-6)


def test_choose_follows_the_environment_and_says_why(monkeypatch, kernels):
    monkeypatch.setenv("EXAONE_EVAL_CPU_GEMM", "onednn")
    assert cpu_gemm.choose(torch.float32) == ("onednn", "EXAONE_EVAL_CPU_GEMM=onednn")
    monkeypatch.setenv("EXAONE_EVAL_CPU_GEMM", "auto")
    assert cpu_gemm.choose(torch.float32)[0] == "avx2"
    kernel, why = cpu_gemm.choose(torch.bfloat16)
    assert kernel == "onednn" and "fp32 only" in why and "bfloat16" in why
    monkeypatch.setenv("EXAONE_EVAL_CPU_GEMM", "fast")
    with pytest.raises(HarnessError, match="EXAONE_EVAL_CPU_GEMM='fast': expected auto, avx2 or onednn"):
        cpu_gemm.choose(torch.float32)


def test_a_failed_build_names_the_command_and_falls_back_only_when_not_asked_for(monkeypatch, tmp_path):
    monkeypatch.setenv("EXAONE_EVAL_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # a "compiler" that fails
    monkeypatch.setattr(cpu_gemm, "_check_platform", lambda: None)
    cpu_gemm.library.cache_clear()
    try:
        monkeypatch.setenv("EXAONE_EVAL_CPU_GEMM", "auto")
        kernel, why = cpu_gemm.choose(torch.float32)
        assert kernel == "onednn"
        assert "the AVX2 GEMM kernel can't be used: `false -O3" in why and "exited 1" in why
        monkeypatch.setenv("EXAONE_EVAL_CPU_GEMM", "avx2")
        with pytest.raises(HarnessError, match="EXAONE_EVAL_CPU_GEMM=avx2, but the CPU GEMM kernel can't be used"):
            cpu_gemm.choose(torch.float32)
        assert not list(tmp_path.rglob("*.so"))
    finally:
        cpu_gemm.library.cache_clear()


def test_the_kernel_is_built_once_into_the_cache(monkeypatch, tmp_path, kernels):
    monkeypatch.setenv("EXAONE_EVAL_CACHE", str(tmp_path))
    cpu_gemm.library.cache_clear()
    try:
        cpu_gemm.library()
        built = list((tmp_path / "kernels").glob("cpu_gemm-*.so"))
        assert len(built) == 1
        stamp = built[0].stat().st_mtime_ns
        cpu_gemm.library.cache_clear()
        cpu_gemm.library()
        assert built[0].stat().st_mtime_ns == stamp
    finally:
        cpu_gemm.library.cache_clear()


def test_packing_a_model_uses_the_kernels_and_keeps_its_logits(kernels, tmp_path, monkeypatch):
    from exaone_eval.model import load_model
    from exaone_eval.model.cpu_pack import pack_linears_for_cpu
    from exaone_eval.model.tiny import write_tiny_checkpoint

    monkeypatch.setenv("EXAONE_EVAL_CPU_GEMM", "auto")
    folder = write_tiny_checkpoint(tmp_path, "hybrid", seed=3, tokenizer=False)
    plain, packed = load_model(folder), load_model(folder)
    assert pack_linears_for_cpu(packed) > 0 and packed.cpu_gemm == "avx2"
    ids = torch.randint(0, plain.config.vocab_size, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = plain(ids)
        cache = packed.new_cache(2, 16)
        prompt = packed(ids[:, :8], cache)
        steps = [packed(ids[:, t:t + 1], cache) for t in range(8, 12)]  # one-token steps: the C attention
    got = torch.cat([prompt, *steps], 1)
    assert (got - expected).abs().max().item() <= 1e-4


def test_an_unwritable_cache_is_a_reason_not_a_crash(monkeypatch, tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("EXAONE_EVAL_CACHE", str(blocker))
    monkeypatch.setenv("EXAONE_EVAL_CPU_GEMM", "auto")
    monkeypatch.setattr(cpu_gemm, "_check_platform", lambda: None)
    cpu_gemm.library.cache_clear()
    try:
        kernel, why = cpu_gemm.choose(torch.float32)
    finally:
        cpu_gemm.library.cache_clear()
    assert kernel == "onednn" and f"can't build {blocker}/kernels/cpu_gemm-" in why
