"""Load a local HF-layout checkpoint: `config.json` plus `model.safetensors`, or shards listed
in `model.safetensors.index.json`.

The weight table is the module itself: every parameter of `ForCausalLM` under its HF name and
shape. Loading fails, naming the tensor, on any missing, unexpected or wrong-shape tensor, so
a checkpoint never runs half-loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from exaone_eval.model.config import ModelConfig, config_from_hf
from exaone_eval.model.modeling import ForCausalLM, rope_inv_freq
from exaone_eval.types import HarnessError

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}
INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"


def read_config(path: str | Path) -> ModelConfig:
    """The checkpoint's ModelConfig; HarnessError names the file and the field at fault."""
    file = Path(path) / "config.json"
    if not file.is_file():
        raise HarnessError(f"{file}: not found (expected an HF-layout checkpoint directory)")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise HarnessError(f"{file}: not valid JSON: {e}") from None
    try:
        return config_from_hf(raw)
    except ValueError as e:
        raise HarnessError(f"{file}: {e}") from None


def weight_files(path: str | Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file holding it."""
    root = Path(path)
    index = root / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise HarnessError(f"{index}: expected a JSON object with a 'weight_map': {e}") from None
        return {name: root / shard for name, shard in weight_map.items()}
    single = root / SINGLE_FILE
    if single.is_file():
        from safetensors import safe_open

        with safe_open(single, framework="pt") as f:
            return {name: single for name in f.keys()}
    raise HarnessError(f"{root}: no {SINGLE_FILE} or {INDEX_FILE} (only safetensors checkpoints are supported)")


def _dtype(dtype: torch.dtype | str) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise HarnessError(f"dtype {dtype!r} is not supported; expected one of {sorted(DTYPES)}")
    return DTYPES[dtype]


def load_model(path: str | Path, dtype: torch.dtype | str = torch.float32, device: str | torch.device = "cpu") -> ForCausalLM:
    """The checkpoint at `path` as a ForCausalLM in eval mode (fp32 on CPU by default)."""
    from safetensors import safe_open

    config = read_config(path)
    dtype = _dtype(dtype)
    with torch.device("meta"):
        model = ForCausalLM(config)
    expected = {name: tuple(p.shape) for name, p in model.named_parameters()}  # tied lm_head appears once
    files = weight_files(path)
    _check_names(path, expected, files, config)

    by_file: dict[Path, list[str]] = {}
    for name in expected:
        by_file.setdefault(files[name], []).append(name)
    for file, names in by_file.items():
        if not file.is_file():
            raise HarnessError(f"{file}: shard listed in {INDEX_FILE} is missing")
        with safe_open(file, framework="pt") as f:
            for name in names:
                shape = tuple(f.get_slice(name).get_shape())
                if shape != expected[name]:
                    raise HarnessError(f"{path}: tensor {name} has shape {list(shape)}, expected {list(expected[name])}")
                tensor = f.get_tensor(name).to(device=device, dtype=dtype)
                _set_parameter(model, name, tensor)
    if config.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
        if "lm_head.weight" in files:  # some exports save the tied copy too: it must be the same
            with safe_open(files["lm_head.weight"], framework="pt") as f:
                if not torch.equal(f.get_tensor("lm_head.weight").to(device=device, dtype=dtype), model.lm_head.weight):
                    raise HarnessError(f"{path}: tensor lm_head.weight differs from model.embed_tokens.weight "
                                       "but tie_word_embeddings is true")
    model.model.inv_freq = rope_inv_freq(config.head_dim, config.rope_theta, config.rope_scaling).to(device)
    return model.eval().requires_grad_(False)


def _check_names(path, expected: dict, files: dict, config: ModelConfig) -> None:
    present = set(files)
    missing = [n for n in expected if n not in present]
    if missing:
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise HarnessError(f"{path}: checkpoint is missing tensor(s) {', '.join(missing[:5])}{more}")
    allowed = {"lm_head.weight"} if config.tie_word_embeddings else set()
    # Old exports saved the RoPE frequency buffer; it is recomputed from the config instead.
    unexpected = sorted(n for n in present - set(expected) - allowed if not n.endswith("rotary_emb.inv_freq"))
    if unexpected:
        more = f" (and {len(unexpected) - 5} more)" if len(unexpected) > 5 else ""
        raise HarnessError(f"{path}: checkpoint has unexpected tensor(s) {', '.join(unexpected[:5])}{more} "
                           f"for model_type {config.model_type!r}")


def _set_parameter(model: torch.nn.Module, name: str, tensor: torch.Tensor) -> None:
    module_name, _, attr = name.rpartition(".")
    module = model.get_submodule(module_name)
    setattr(module, attr, torch.nn.Parameter(tensor, requires_grad=False))
