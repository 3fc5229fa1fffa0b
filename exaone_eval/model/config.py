"""The architecture settings of a checkpoint, read strictly from its HF `config.json`.

Two families share one module (`modeling.py`):
- `exaone4`: EXAONE 4.0 (report section 2.1, Table 1). Post-norm decoder layers (no input norm),
  per-head RMSNorm on q and k, and, in the 32B model, hybrid attention: three sliding-window
  layers with RoPE, then one global layer without positional encoding (NoPE), repeated.
- `llama`: the Llama family (pre-norm, RoPE on every layer, no QK-norm): the report's EXAONE 3.5
  and EXAONE Deep baselines in Llama layout, and the SmolLM2 demo model.

Anything this module does not implement raises ValueError naming the field, so a checkpoint
never runs with a setting silently ignored. No torch here: the CLI imports it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

SLIDING = "sliding_attention"
FULL = "full_attention"
ROPE_TYPES = ("default", "llama3")

# Keys that describe the file or the training run, not the forward pass: read and ignored.
IGNORED_KEYS = frozenset({
    "architectures", "transformers_version", "torch_dtype", "dtype", "use_cache", "_name_or_path",
    "initializer_range", "attention_dropout", "is_llama_config", "transformers.js_config",
    "tokenizer_class", "cache_implementation", "output_attentions", "output_hidden_states",
    "return_dict", "auto_map",
})
# Keys this module reads; any key in neither set is an error.
USED_KEYS = frozenset({
    "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
    "num_attention_heads", "num_key_value_heads", "head_dim", "hidden_act", "rms_norm_eps",
    "max_position_embeddings", "tie_word_embeddings", "bos_token_id", "eos_token_id", "pad_token_id",
    "rope_theta", "rope_scaling", "rope_parameters", "sliding_window", "sliding_window_pattern",
    "layer_types", "attention_bias", "mlp_bias", "pretraining_tp", "rope_interleaved",
})
REQUIRED_KEYS = ("model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                 "num_attention_heads", "rms_norm_eps", "max_position_embeddings")


@dataclass(frozen=True)
class RopeScaling:
    """Llama 3.1 frequency scaling: long wavelengths slowed by `factor`, short ones kept, a smooth
    blend between (used by EXAONE 4.0 with factor 16 over an original 8K context)."""

    factor: float
    low_freq_factor: float
    high_freq_factor: float
    original_max_position_embeddings: int


@dataclass(frozen=True)
class ModelConfig:
    model_type: str
    """`exaone4` (post-norm, QK-norm, hybrid attention) or `llama` (pre-norm)."""
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    max_position_embeddings: int
    rope_theta: float
    rope_scaling: RopeScaling | None
    tie_word_embeddings: bool
    layer_types: tuple[str, ...]
    """`sliding_attention` or `full_attention`, one per layer (already expanded from any pattern)."""
    sliding_window: int | None
    """Keys a sliding layer sees: a key at position k is visible from q if 0 <= q - k < window."""
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = ()
    pad_token_id: int | None = None

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"config field {name!r} must be a positive integer, got {value!r}")
        if self.model_type not in ("exaone4", "llama"):
            raise ValueError(f"config field 'model_type' {self.model_type!r} is not supported (exaone4, llama)")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"config field 'num_key_value_heads' ({self.num_key_value_heads}) must divide "
                             f"num_attention_heads ({self.num_attention_heads})")
        if self.head_dim % 2:
            raise ValueError(f"config field 'head_dim' must be even for RoPE, got {self.head_dim}")
        if len(self.layer_types) != self.num_hidden_layers:
            raise ValueError(f"config field 'layer_types' has {len(self.layer_types)} entries for "
                             f"{self.num_hidden_layers} layers")
        if self.sliding_window is not None and self.sliding_window <= 0:
            raise ValueError(f"config field 'sliding_window' must be positive, got {self.sliding_window}")
        if SLIDING in self.layer_types and self.sliding_window is None:
            raise ValueError("config field 'layer_types' has sliding layers but 'sliding_window' is null")

    @property
    def post_norm(self) -> bool:
        """EXAONE 4.0 normalises each sublayer's output (QK-Reorder-Norm); Llama its input."""
        return self.model_type == "exaone4"

    @property
    def qk_norm(self) -> bool:
        return self.model_type == "exaone4"

    def layer_window(self, i: int) -> int | None:
        """The sliding window of layer i, or None for a global (full-attention) layer."""
        return self.sliding_window if self.layer_types[i] == SLIDING else None

    def layer_uses_rope(self, i: int) -> bool:
        """EXAONE 4.0's hybrid model ropes only its sliding layers (global layers are NoPE); a
        model without sliding window (1.2B, Llama) ropes every layer."""
        return self.sliding_window is None or self.layer_types[i] == SLIDING


def exaone4_32b() -> ModelConfig:
    """EXAONE 4.0 32B (report Table 1): hybrid attention, 3 sliding (4K window) : 1 global."""
    layers = 64
    return ModelConfig(
        model_type="exaone4", vocab_size=102400, hidden_size=5120, intermediate_size=27392,
        num_hidden_layers=layers, num_attention_heads=40, num_key_value_heads=8, head_dim=128,
        rms_norm_eps=1e-5, max_position_embeddings=131072, rope_theta=1_000_000.0,
        rope_scaling=RopeScaling(16.0, 1.0, 4.0, 8192), tie_word_embeddings=False,
        layer_types=expand_pattern("LLLG", layers), sliding_window=4096,
        bos_token_id=1, eos_token_ids=(361,), pad_token_id=0,
    )


def exaone4_1_2b() -> ModelConfig:
    """EXAONE 4.0 1.2B (report Table 1): every layer global, with RoPE; tied embeddings."""
    layers = 30
    return ModelConfig(
        model_type="exaone4", vocab_size=102400, hidden_size=2048, intermediate_size=4096,
        num_hidden_layers=layers, num_attention_heads=32, num_key_value_heads=8, head_dim=64,
        rms_norm_eps=1e-5, max_position_embeddings=65536, rope_theta=1_000_000.0,
        rope_scaling=RopeScaling(16.0, 1.0, 4.0, 8192), tie_word_embeddings=True,
        layer_types=(FULL,) * layers, sliding_window=None,
        bos_token_id=1, eos_token_ids=(361,), pad_token_id=0,
    )


def expand_pattern(pattern: int | str, num_layers: int) -> tuple[str, ...]:
    """`sliding_window_pattern` as layer types.

    An int p: layer i slides unless (i+1) % p == 0 (p=4 is LLLG). A string of L (local, sliding)
    and G (global) repeats from layer 0, and the last layer is always global.
    """
    if isinstance(pattern, bool) or not isinstance(pattern, (int, str)):
        raise ValueError(f"config field 'sliding_window_pattern' must be an int or an L/G string, got {pattern!r}")
    if isinstance(pattern, int):
        if pattern <= 0:
            raise ValueError(f"config field 'sliding_window_pattern' must be positive, got {pattern}")
        return tuple(SLIDING if (i + 1) % pattern else FULL for i in range(num_layers))
    if not pattern or set(pattern) - {"L", "G"}:
        raise ValueError(f"config field 'sliding_window_pattern' {pattern!r} must be made of 'L' and 'G'")
    types = [SLIDING if pattern[i % len(pattern)] == "L" else FULL for i in range(num_layers)]
    types[-1] = FULL
    return tuple(types)


def config_from_hf(raw: dict) -> ModelConfig:
    """A ModelConfig from a parsed HF config.json; ValueError names any field it cannot honour."""
    if not isinstance(raw, dict):
        raise ValueError(f"config must be a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - USED_KEYS - IGNORED_KEYS)
    if unknown:
        raise ValueError(f"config fields {unknown} are not supported by the bundled model")
    missing = [k for k in REQUIRED_KEYS if raw.get(k) is None]
    if missing:
        raise ValueError(f"config fields {missing} are missing")
    model_type = raw["model_type"]
    if model_type not in ("exaone4", "llama"):
        raise ValueError(f"config field 'model_type' {model_type!r} is not supported (exaone4, llama)")
    if raw.get("hidden_act", "silu") != "silu":
        raise ValueError(f"config field 'hidden_act' {raw['hidden_act']!r} is not supported (silu)")
    for flag in ("attention_bias", "mlp_bias", "rope_interleaved"):
        if raw.get(flag, False):
            raise ValueError(f"config field {flag!r} = true is not supported")
    if raw.get("pretraining_tp", 1) != 1:
        raise ValueError(f"config field 'pretraining_tp' {raw['pretraining_tp']!r} is not supported (1)")

    heads = raw["num_attention_heads"]
    layers = raw["num_hidden_layers"]
    head_dim = raw.get("head_dim")
    if head_dim is None:  # both HF families derive it so when absent
        if raw["hidden_size"] % heads:
            raise ValueError("config field 'head_dim' is missing and hidden_size is not a multiple of num_attention_heads")
        head_dim = raw["hidden_size"] // heads
    theta, scaling = _rope(raw)
    layer_types, window = _attention_layout(raw, model_type, layers)
    eos = raw.get("eos_token_id")
    eos_ids = () if eos is None else tuple(eos) if isinstance(eos, list) else (eos,)
    return ModelConfig(
        model_type=model_type,
        vocab_size=raw["vocab_size"],
        hidden_size=raw["hidden_size"],
        intermediate_size=raw["intermediate_size"],
        num_hidden_layers=layers,
        num_attention_heads=heads,
        # Absent means one KV head per query head (plain multi-head attention) in both families.
        num_key_value_heads=raw.get("num_key_value_heads") or heads,
        head_dim=head_dim,
        rms_norm_eps=float(raw["rms_norm_eps"]),
        max_position_embeddings=raw["max_position_embeddings"],
        rope_theta=theta,
        rope_scaling=scaling,
        # LlamaConfig and Exaone4Config both default to untied; a missing lm_head then fails loudly.
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
        layer_types=layer_types,
        sliding_window=window,
        bos_token_id=raw.get("bos_token_id"),
        eos_token_ids=eos_ids,
        pad_token_id=raw.get("pad_token_id"),
    )


def _rope(raw: dict) -> tuple[float, RopeScaling | None]:
    """RoPE base and scaling from `rope_parameters` (transformers 5) or `rope_theta` + `rope_scaling` (4.x)."""
    params = raw.get("rope_parameters")
    if params is not None:
        if not isinstance(params, dict):
            raise ValueError("config field 'rope_parameters' must be an object")
        if "full_attention" in params or "sliding_attention" in params:
            raise ValueError("config field 'rope_parameters' per layer type is not supported")
        theta = params.get("rope_theta", raw.get("rope_theta"))
        scaling = params
    else:
        theta = raw.get("rope_theta")
        scaling = raw.get("rope_scaling") or {}
    if theta is None:
        raise ValueError("config field 'rope_theta' is missing")
    if not isinstance(theta, (int, float)) or isinstance(theta, bool) or theta <= 0:
        raise ValueError(f"config field 'rope_theta' must be a positive number, got {theta!r}")
    if not isinstance(scaling, dict):
        raise ValueError("config field 'rope_scaling' must be an object or null")
    rope_type = scaling.get("rope_type", scaling.get("type")) or "default"
    if rope_type not in ROPE_TYPES:
        raise ValueError(f"config field 'rope_scaling.rope_type' {rope_type!r} is not supported {ROPE_TYPES}")
    if rope_type == "default":
        return float(theta), None
    fields = ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")
    missing = [f for f in fields if scaling.get(f) is None]
    if missing:
        raise ValueError(f"config field 'rope_scaling' (llama3) is missing {missing}")
    if scaling["low_freq_factor"] >= scaling["high_freq_factor"]:
        raise ValueError("config field 'rope_scaling': low_freq_factor must be below high_freq_factor")
    return float(theta), RopeScaling(float(scaling["factor"]), float(scaling["low_freq_factor"]),
                                     float(scaling["high_freq_factor"]), int(scaling["original_max_position_embeddings"]))


def _attention_layout(raw: dict, model_type: str, layers: int) -> tuple[tuple[str, ...], int | None]:
    """Per-layer attention kind and the sliding window, from `layer_types` (wins when present),
    else `sliding_window_pattern`. A null `sliding_window` means every layer is global."""
    window = raw.get("sliding_window")
    types = raw.get("layer_types")
    pattern = raw.get("sliding_window_pattern")
    if model_type == "llama":
        if window is not None:
            raise ValueError("config field 'sliding_window' is not supported for model_type 'llama'")
        if types is not None and any(t != FULL for t in types):
            raise ValueError("config field 'layer_types' must be all full_attention for model_type 'llama'")
        return (FULL,) * layers, None
    if window is not None and (isinstance(window, bool) or not isinstance(window, int)):
        raise ValueError(f"config field 'sliding_window' must be an integer or null, got {window!r}")
    if window is None:
        if types is not None and any(t != FULL for t in types):
            raise ValueError("config field 'layer_types' has sliding layers but 'sliding_window' is null")
        return (FULL,) * layers, None
    if types is not None:
        if not isinstance(types, list) or any(t not in (SLIDING, FULL) for t in types):
            raise ValueError(f"config field 'layer_types' must list {SLIDING!r} / {FULL!r}, got {types!r}")
        if len(types) != layers:
            raise ValueError(f"config field 'layer_types' has {len(types)} entries for {layers} layers")
        return tuple(types), window
    if pattern is None:
        raise ValueError("config field 'sliding_window' is set but neither 'layer_types' nor "
                         "'sliding_window_pattern' says which layers slide")
    return expand_pattern(pattern, layers), window


def kv_cache_bytes(config: ModelConfig, context: int, batch: int = 1, bytes_per_value: int = 2) -> int:
    """KV-cache size by formula (sliding layers hold at most `window` positions)."""
    per_position = 2 * config.num_key_value_heads * config.head_dim * bytes_per_value * batch
    return sum(per_position * (min(context, w) if (w := config.layer_window(i)) else context)
               for i in range(config.num_hidden_layers))

