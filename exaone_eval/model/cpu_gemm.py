"""The CPU engine's own kernels (`cpu_gemm.c`): an fp32 GEMM over weights packed into 16-wide
panels, one-token attention over the KV cache, SwiGLU's silu(gate) * up, and RMSNorm with the
residual add; AVX2 + FMA, threaded with torch's own OpenMP runtime.

Why our own: decoding reads every weight once per step, so at batch 1 the GEMMs are bound by
memory bandwidth and at batch 16 by arithmetic with the weights streaming in. On the 2-core AMD
EPYC box this was written on (about 34 GB/s of read bandwidth), one decoding step's GEMMs of
SmolLM2-135M took (`python bench/engine.py --gemm-only`, 513 MiB of fp32 weights):

    batch 1:  MKL `F.linear` 49.7 ms, oneDNN prepacked 27.3, numpy's OpenBLAS 25.7, this kernel 17.8
    batch 16: MKL `F.linear` 77.6 ms, oneDNN prepacked 49.4, numpy's OpenBLAS 66.6, this kernel 30.2

MKL takes a generic path on AMD CPUs, oneDNN's prepacked layout is tuned for larger batches, and
no package on PyPI ships a CPU GEMV that reaches the memory bandwidth here. Around the GEMMs,
torch's small ops (SDPA for one query, RMSNorm as five ops) cost more than the arithmetic at these
sizes; the attention here reads each key and value once for the whole GQA group. Together they
take the engine from 1.5x to 2.3-3.5x transformers' decoding speed (`python bench/engine.py`).

The C file (about 300 lines) is built once per machine with the system C compiler into the cache
(`~/.cache/exaone-eval/kernels`, or `$EXAONE_EVAL_CACHE/kernels`) and loaded with ctypes, whose
calls release the GIL. Where it can't be built (no C compiler, not x86-64 Linux, a CPU without
AVX2/FMA, a non-fp32 model), `pack_linears_for_cpu` uses oneDNN's prepacked linear and torch's
ops instead and logs why once. `EXAONE_EVAL_CPU_GEMM=onednn` chooses that path; `=avx2` makes a
failed build an error.

Results equal torch's to float rounding (sums run in other orders): the tests compare every
kernel with torch directly, and the packed model with transformers' logits and greedy tokens.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch
from torch import nn

from exaone_eval.types import HarnessError

SOURCE = Path(__file__).with_name("cpu_gemm.c")
PANEL = 16  # output features per panel: two AVX2 vectors
FLAGS = ["-O3", "-mavx2", "-mfma", "-ffp-contract=off", "-fopenmp", "-shared", "-fPIC"]  # fused multiply-adds only where written


class GemmUnavailable(Exception):
    """Why the kernel can't be used on this machine (the message says it)."""


def _torch_openmp_dir() -> Path | None:
    """torch's own lib folder when it carries GNU OpenMP: linking the kernel against that file means
    one OpenMP runtime and one thread pool in the process, not two fighting over the cores."""
    lib = Path(torch.__file__).parent / "lib"
    return lib if (lib / "libgomp.so.1").exists() else None


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _check_platform() -> None:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise GemmUnavailable(f"it is built for x86-64 Linux, this is {platform.system()} {platform.machine()}")
    missing = {"avx2", "fma"} - _cpu_flags()
    if missing:
        raise GemmUnavailable(f"this CPU lacks {', '.join(sorted(missing))}")


def _build(target: Path, openmp_dir: Path | None) -> None:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise GemmUnavailable("no C compiler found (set CC, or install gcc)")
    link = [f"-L{openmp_dir}", f"-Wl,-rpath,{openmp_dir}"] if openmp_dir else []
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp) / target.name
        command = [compiler, *FLAGS, str(SOURCE), "-o", str(built), *link]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise GemmUnavailable(f"`{' '.join(command)}` failed: {e}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise GemmUnavailable(f"`{' '.join(command)}` exited {done.returncode}: {' | '.join(tail)}")
        os.replace(built, target)  # atomic: a concurrent process sees the old file or the whole new one


@functools.lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    """The built kernel, compiled on first use per machine and source version; GemmUnavailable if not."""
    from exaone_eval.model.gguf import cache_root

    _check_platform()
    openmp_dir = _torch_openmp_dir()
    key = hashlib.sha256(SOURCE.read_bytes() + repr((FLAGS, str(openmp_dir), torch.__version__)).encode()).hexdigest()[:16]
    target = cache_root() / "kernels" / f"cpu_gemm-{key}.so"
    if not target.exists():
        try:
            _build(target, openmp_dir)
        except OSError as e:  # an unwritable cache folder, a full disk
            raise GemmUnavailable(f"can't build {target}: {e}") from None
    try:
        lib = ctypes.CDLL(str(target))  # CDLL calls release the GIL: the serve thread keeps running
    except OSError as e:
        raise GemmUnavailable(f"{target} does not load: {e}") from None
    ptr, i64 = ctypes.c_void_p, ctypes.c_int64
    signatures = {
        "exaone_gemm_f32": [ptr] * 3 + [i64] * 3 + [ctypes.c_int],
        "exaone_decode_attention": [ptr] * 6 + [i64] * 7 + [ctypes.c_float, ctypes.c_int],
        "exaone_silu_mul": [ptr] * 2 + [i64] * 2 + [ctypes.c_int],
        "exaone_rms_norm": [ptr] * 5 + [i64] * 2 + [ctypes.c_float, ctypes.c_int, ctypes.c_int],
    }
    for name, argtypes in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = None, argtypes
    return lib


def pack_panels(weight: torch.Tensor) -> torch.Tensor:
    """[N, K] -> [ceil(N/16), K, 16]: panel p holds output features 16p..16p+15, k-major, zero-padded."""
    N, K = weight.shape
    blocks = -(-N // PANEL)
    padded = torch.zeros(blocks * PANEL, K, dtype=torch.float32)
    padded[:N] = weight.detach().float()
    panels = padded.view(blocks, PANEL, K).transpose(1, 2).contiguous()
    if panels.data_ptr() % 32:  # torch's CPU allocator aligns to 64 bytes; the kernel's loads need 32
        raise GemmUnavailable("torch gave an unaligned buffer for the packed weights")
    return panels


class PanelLinear(nn.Module):
    """A bias-free fp32 Linear on the CPU through `exaone_gemm_f32`; inference only (no autograd)."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.panels = pack_panels(weight)
        self._gemm = library().exaone_gemm_f32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32 or x.device.type != "cpu":
            raise TypeError(f"PanelLinear takes fp32 CPU input, got {x.dtype} on {x.device}")
        rows = x.reshape(-1, self.in_features).contiguous()
        y = torch.empty(rows.shape[0], self.out_features, dtype=torch.float32)
        if rows.shape[0]:
            self._gemm(self.panels.data_ptr(), rows.data_ptr(), y.data_ptr(), rows.shape[0], self.out_features,
                       self.in_features, torch.get_num_threads())
        return y.view(*x.shape[:-1], self.out_features)


def decode_attention(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
                     scale: float) -> torch.Tensor | None:
    """softmax(q . k * scale + mask) . v for one new token per row: q [B, H, D]; keys, values
    [B, KV, S, D] views of the cache (any row and head strides, slots D apart); mask [B, 1, 1, S]
    additive. Returns [B, H, D], or None when the tensors are outside what the kernel takes
    (the caller then uses SDPA)."""
    B, H, D = q.shape
    S = keys.shape[2]
    if not (D % 8 == 0 and H % keys.shape[1] == 0 and H // keys.shape[1] <= 64 and keys.stride()[2:] == (D, 1) and values.stride() == keys.stride()
            and q.is_contiguous() and mask.is_contiguous() and mask.shape[-1] == S and keys.dtype == torch.float32):
        return None
    out = torch.empty_like(q)
    threads = torch.get_num_threads()
    scratch = torch.empty(threads * S * (H // keys.shape[1]), dtype=torch.float32)  # each thread's scores
    library().exaone_decode_attention(q.data_ptr(), keys.data_ptr(), values.data_ptr(), mask.data_ptr(), out.data_ptr(),
                                      scratch.data_ptr(), B, H, keys.shape[1], S, D, keys.stride(0), keys.stride(1),
                                      scale, threads)
    return out


def silu_mul(gate_up: torch.Tensor) -> torch.Tensor:
    """silu(gate) * up for gate_up = [..., gate | up] (fp32, contiguous): SwiGLU's middle in one pass."""
    F2 = gate_up.shape[-1]
    rows = gate_up.reshape(-1, F2).contiguous()
    out = torch.empty(rows.shape[0], F2 // 2, dtype=torch.float32)
    library().exaone_silu_mul(rows.data_ptr(), out.data_ptr(), rows.shape[0], F2 // 2, torch.get_num_threads())
    return out.view(*gate_up.shape[:-1], F2 // 2)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float, add: torch.Tensor | None = None,
             add_first: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """RMSNorm of fp32 rows with the layer's residual add fused in:
    norm(x); with `add`, `add + norm(x)` (post-norm layers); with `add` and `add_first`,
    (x + add, norm(x + add)) (pre-norm layers)."""
    C = x.shape[-1]
    rows = x.reshape(-1, C).contiguous()
    extra = add.reshape(-1, C).contiguous() if add is not None else None
    out = torch.empty_like(rows)
    total = torch.empty_like(rows) if add_first else None
    mode = 0 if add is None else 1 if add_first else 2
    library().exaone_rms_norm(rows.data_ptr(), extra.data_ptr() if extra is not None else None, weight.data_ptr(),
                              out.data_ptr(), total.data_ptr() if total is not None else None, rows.shape[0], C,
                              eps, mode, torch.get_num_threads())
    if add_first:
        return total.view(x.shape), out.view(x.shape)
    return out.view(x.shape)


def choose(dtype: torch.dtype) -> tuple[str, str]:
    """(kernel, why): "avx2" where the kernel can run this model, else "onednn" and the reason.
    `EXAONE_EVAL_CPU_GEMM` = auto (default) | avx2 | onednn."""
    wanted = os.environ.get("EXAONE_EVAL_CPU_GEMM", "auto").strip().lower() or "auto"
    if wanted not in ("auto", "avx2", "onednn"):
        raise HarnessError(f"EXAONE_EVAL_CPU_GEMM={wanted!r}: expected auto, avx2 or onednn")
    if wanted == "onednn":
        return "onednn", "EXAONE_EVAL_CPU_GEMM=onednn"
    try:
        if dtype != torch.float32:
            raise GemmUnavailable(f"it is fp32 only and the model is {str(dtype).removeprefix('torch.')}")
        library()
    except GemmUnavailable as e:
        if wanted == "avx2":
            raise HarnessError(f"EXAONE_EVAL_CPU_GEMM=avx2, but the CPU GEMM kernel can't be used: {e}") from None
        return "onednn", f"the AVX2 GEMM kernel can't be used: {e}"
    return "avx2", "built for this machine"
