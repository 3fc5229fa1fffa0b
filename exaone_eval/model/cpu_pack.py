"""The bundled model packed for CPU inference: every Linear of a built ForCausalLM replaced, in
place, by the fastest CPU GEMM this machine has (cpu_gemm.py's AVX2 kernel, else oneDNN's
prepacked linear), q/k/v and gate/up fused. A pass over the model after loading, not a rung of
the ladder in modeling.py; the layers' `qkv_proj`, `gate_up_proj` and `cpu_kernels` are where it
plugs in.
"""

from __future__ import annotations

import functools
import logging

import torch
from torch import nn

from exaone_eval.model import cpu_gemm
from exaone_eval.model.modeling import ForCausalLM, RMSNorm

log = logging.getLogger(__name__)


class PackedLinear(nn.Module):
    """A bias-free Linear whose weight oneDNN has reordered for CPU inference: what the engine
    uses where its own kernels (cpu_gemm.py) can't run. For SmolLM2-135M's fp32 GEMMs on the
    2-core box this was written on, `F.linear` (MKL) took 50 ms per step at batch 1 and 78 ms at
    batch 16, the prepacked oneDNN kernel 27 and 49 ms (`bench/engine.py --gemm-only`). Results
    match `F.linear` to float rounding.
    """

    def __init__(self, weight: torch.Tensor, batch_hint: int):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), batch_hint)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, None, "none", [], "")


def pack_linears_for_cpu(model: ForCausalLM, batch_hint: int = 16) -> int:
    """Pack every Linear of a CPU model for the fastest CPU GEMM here, in place, fusing q/k/v and
    gate/up into one GEMM each: the engine's own AVX2 kernel (`cpu_gemm.py`) for fp32 models where
    it builds, else oneDNN's prepacked linear (the reason is logged once). For inference only: the
    packed layers have no `weight` parameter any more (a tied embedding keeps its own). Sets
    `model.cpu_gemm` to the kernel used and returns how many GEMMs were packed; 0 (nothing
    changed) when the model is not on the CPU or this torch build has neither kernel."""
    if model.model.embed_tokens.weight.device.type != "cpu":
        return 0
    kernel, why = cpu_gemm.choose(model.model.embed_tokens.weight.dtype)
    if kernel == "onednn":
        if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
            return 0
        if "EXAONE_EVAL_CPU_GEMM" not in why:  # asked for: nothing to warn about
            _log_once(f"CPU GEMMs: oneDNN prepacked ({why})")

    def packed(weight: torch.Tensor) -> nn.Module:
        return cpu_gemm.PanelLinear(weight) if kernel == "avx2" else PackedLinear(weight, batch_hint)

    count = 0
    for layer in model.model.layers:
        attn, mlp = layer.self_attn, layer.mlp
        if attn.qkv_proj is None:
            attn.qkv_proj = packed(torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]))
            del attn.q_proj, attn.k_proj, attn.v_proj
            attn.o_proj = packed(attn.o_proj.weight)
            mlp.gate_up_proj = packed(torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]))
            del mlp.gate_proj, mlp.up_proj
            mlp.down_proj = packed(mlp.down_proj.weight)
        attn.cpu_kernels = mlp.cpu_kernels = kernel == "avx2"
        count += 4
    if kernel == "avx2":
        for norm in model.modules():
            if isinstance(norm, RMSNorm) and norm.weight.dtype == torch.float32:
                norm.cpu_kernels = True
    if isinstance(model.lm_head, nn.Linear):
        model.lm_head = packed(model.lm_head.weight)
    model.cpu_gemm = kernel
    return count + 1


@functools.cache
def _log_once(message: str) -> None:
    log.warning(message)
