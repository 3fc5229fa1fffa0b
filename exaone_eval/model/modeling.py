"""EXAONE 4.0 (and the Llama family) in PyTorch, read top to bottom:
RMSNorm -> rotary embedding -> KVCache -> Attention -> MLP -> DecoderLayer -> Model -> ForCausalLM.

Parameter names are the HF checkpoint's own (`model.layers.3.self_attn.q_norm.weight`), so a
checkpoint loads by name (see `loading.py`). Shapes: B batch, T new tokens, S cached key slots,
H query heads, K key/value heads, G = H // K query heads per KV head, D head dim, C hidden size.

EXAONE 4.0 layer (post-norm, "QK-Reorder-Norm", report section 2.1):
    h = x + post_attention_layernorm(attn(x));   y = h + post_feedforward_layernorm(mlp(h))
Llama layer (pre-norm):
    h = x + attn(input_layernorm(x));            y = h + mlp(post_attention_layernorm(h))

The CPU pass that swaps the Linears for packed GEMMs after loading (the `set by
pack_linears_for_cpu` fields below) is cpu_pack.py.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from exaone_eval.model import cpu_gemm
from exaone_eval.model.config import ModelConfig, RopeScaling


class RMSNorm(nn.Module):
    """weight * x * rsqrt(mean(x^2) + eps), computed in fp32 whatever the model dtype."""

    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps
        self.cpu_kernels = False  # set by pack_linears_for_cpu: cpu_gemm's RMSNorm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cpu_kernels:
            return cpu_gemm.rms_norm(x, self.weight, self.eps)
        return F.rms_norm(x.float(), self.weight.shape, self.weight.float(), self.eps).to(x.dtype)


def rope_inv_freq(head_dim: int, theta: float, scaling: RopeScaling | None) -> torch.Tensor:
    """The D/2 rotation frequencies; with Llama 3.1 scaling, long wavelengths are divided by
    `factor`, short ones kept, and the band between blended smoothly."""
    # fp32 throughout, as the checkpoints were trained and as transformers computes it.
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    if scaling is None:
        return inv_freq
    old_context = scaling.original_max_position_embeddings
    low_freq_wavelen = old_context / scaling.low_freq_factor
    high_freq_wavelen = old_context / scaling.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / scaling.factor, inv_freq)
    smooth = (old_context / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor)
    blended = (1 - smooth) * scaled / scaling.factor + smooth * scaled
    in_band = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(in_band, blended, scaled)


class KVCache:
    """Keys and values of B sequences, each at its own length.

    Global layers store position p in slot p (S = capacity, grown by doubling). Sliding layers
    keep a ring of at most `window` slots, position p in slot p % window, so their memory is
    O(window) however long the context. `full_pos` / `ring_pos` [B, S] hold the position in each
    slot (-1 empty): attention masks come from them, so rows of different lengths share a batch.
    """

    def __init__(self, config: ModelConfig, batch: int, capacity: int, dtype: torch.dtype, device=None):
        self.config = config
        self.windows = [config.layer_window(i) for i in range(config.num_hidden_layers)]
        self.ring = min((w for w in self.windows if w is not None), default=None)
        if any(w is not None and w != self.ring for w in self.windows):
            raise ValueError("sliding layers with different windows are not supported")
        self.capacity = 0
        self.lengths = torch.zeros(batch, dtype=torch.long, device=device)
        """Next position of each row (= tokens seen so far)."""
        K, D = config.num_key_value_heads, config.head_dim
        self.keys = [torch.empty(batch, K, 0, D, dtype=dtype, device=device) for _ in self.windows]
        self.values = [torch.empty(batch, K, 0, D, dtype=dtype, device=device) for _ in self.windows]
        self.full_pos = torch.full((batch, 0), -1, dtype=torch.long, device=device)
        self.ring_pos = torch.full((batch, 0), -1, dtype=torch.long, device=device)
        self.ensure(capacity)

    @property
    def dtype(self) -> torch.dtype:
        return self.keys[0].dtype

    @property
    def batch(self) -> int:
        return self.lengths.shape[0]

    def ensure(self, needed: int) -> None:
        """Make room for `needed` positions per row (amortised: capacity at least doubles)."""
        if needed > self.capacity:
            self.resize(max(needed, 2 * self.capacity))

    def resize(self, new_capacity: int) -> None:
        """Grow to exactly `new_capacity` positions per row (never shrinks)."""
        if new_capacity <= self.capacity:
            return
        ring_slots = min(new_capacity, self.ring) if self.ring else 0
        for i, window in enumerate(self.windows):
            slots = new_capacity if window is None else ring_slots
            self.keys[i] = _grow(self.keys[i], slots, 0.0)
            self.values[i] = _grow(self.values[i], slots, 0.0)
        self.full_pos = _grow(self.full_pos, new_capacity, -1)
        self.ring_pos = _grow(self.ring_pos, ring_slots, -1)
        self.capacity = new_capacity

    def select(self, rows: torch.Tensor | list[int]) -> KVCache:
        """A new cache holding the given rows (in that order); repeat a row to fork it."""
        rows = torch.as_tensor(rows, dtype=torch.long, device=self.lengths.device)
        out = object.__new__(KVCache)
        out.config, out.windows, out.ring, out.capacity = self.config, self.windows, self.ring, self.capacity
        out.lengths = self.lengths[rows]
        out.keys = [k[rows] for k in self.keys]
        out.values = [v[rows] for v in self.values]
        out.full_pos, out.ring_pos = self.full_pos[rows], self.ring_pos[rows]
        return out

    def extend(self, other: KVCache) -> None:
        """Append the rows of another cache (continuous batching admits new sequences)."""
        self.resize(other.capacity)
        other.resize(self.capacity)
        self.lengths = torch.cat([self.lengths, other.lengths])
        self.keys = [torch.cat(pair) for pair in zip(self.keys, other.keys)]
        self.values = [torch.cat(pair) for pair in zip(self.values, other.values)]
        self.full_pos = torch.cat([self.full_pos, other.full_pos])
        self.ring_pos = torch.cat([self.ring_pos, other.ring_pos])

    def nbytes(self) -> int:
        """Bytes actually allocated for keys and values."""
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))


def _grow(t: torch.Tensor, slots: int, fill) -> torch.Tensor:
    """Pad dim 2 (or dim 1 for [B, S] position tables) of `t` up to `slots`."""
    dim = 2 if t.dim() == 4 else 1
    if t.shape[dim] >= slots:
        return t
    shape = list(t.shape)
    shape[dim] = slots - t.shape[dim]
    return torch.cat([t, torch.full(shape, fill, dtype=t.dtype, device=t.device)], dim=dim)


class StepPlan:
    """What one forward step over T new tokens needs, shared by every layer of a kind:
    the positions, rotary tables, where each layer writes and which slots it reads."""

    def __init__(self, cache: KVCache, T: int):
        B = cache.batch
        start = cache.lengths  # [B]
        self.positions = start[:, None] + torch.arange(T, device=start.device)  # [B, T]
        self.rope: tuple[torch.Tensor, torch.Tensor] | None = None  # set by Model.forward
        self.rows = torch.arange(B, device=start.device)[:, None].expand(B, T)  # [B, T]
        q_pos = self.positions[:, :, None]  # [B, T, 1]
        self.read = max(int(start.max()) + T, 1) if B else T  # full slots in use after this step

        # Global layers: write first, then attend to slots [0, read).
        full_pos = cache.full_pos.clone()
        full_pos[self.rows, self.positions] = self.positions
        k_pos = full_pos[:, None, : self.read]  # [B, 1, S]
        self.full_mask = _additive((k_pos >= 0) & (k_pos <= q_pos), cache.dtype)  # [B, 1, T, S]
        self.full_pos = full_pos

        # Sliding layers: a ring slot may be overwritten by this very step only when positions wrap
        # past the ring; then attend to old ring + new keys side by side ("concat"), write after.
        self.ring_pos = cache.ring_pos
        if cache.ring:
            window = cache.ring
            wraps = T > 1 and int(start.max()) + T > cache.ring_pos.shape[1]
            self.ring_concat = wraps
            ring_pos = cache.ring_pos.clone()
            keep = max(0, T - window)  # only the last `window` new keys survive in the ring
            ring_pos[self.rows[:, keep:], self.positions[:, keep:] % window] = self.positions[:, keep:]
            self.ring_keep = keep
            k_pos = torch.cat([cache.ring_pos, self.positions], 1) if wraps else ring_pos  # [B, S]
            k_pos = k_pos[:, None, :]
            self.ring_mask = _additive((k_pos >= 0) & (k_pos <= q_pos) & (q_pos - k_pos < window), cache.dtype)
            self.ring_pos = ring_pos

    def commit(self, cache: KVCache) -> None:
        cache.full_pos = self.full_pos
        cache.ring_pos = self.ring_pos
        cache.lengths = self.positions[:, -1] + 1


def _additive(visible: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A [B, T, S] visibility table as the additive mask SDPA takes, [B, 1, T, S] (0 or -inf):
    cheaper per layer than a boolean one, which SDPA converts on every call."""
    return torch.zeros(visible.shape, dtype=dtype, device=visible.device).masked_fill_(~visible, float("-inf"))[:, None]


def apply_rope(x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotate-half RoPE: x * cos + [-x2, x1] * sin, with the sign folded into the sin table
    (`signed_sin` = [-sin1, sin2]) so that [x2, x1] is one roll of x."""
    cos, signed_sin = rope  # [B, T, 1, D]
    return x * cos + x.roll(x.shape[-1] // 2, -1) * signed_sin


class Attention(nn.Module):
    """Grouped-query attention; EXAONE 4.0 adds per-head RMSNorm on q and k before RoPE.
    `use_rope` and `sliding_window` are this layer's own: hybrid EXAONE global layers are NoPE."""

    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        C, H, K, D = config.hidden_size, config.num_attention_heads, config.num_key_value_heads, config.head_dim
        self.layer, self.num_heads, self.num_kv_heads, self.head_dim = layer, H, K, D
        self.use_rope = config.layer_uses_rope(layer)
        self.sliding_window = config.layer_window(layer)
        self.q_proj = nn.Linear(C, H * D, bias=False)
        self.k_proj = nn.Linear(C, K * D, bias=False)
        self.v_proj = nn.Linear(C, K * D, bias=False)
        self.o_proj = nn.Linear(H * D, C, bias=False)
        if config.qk_norm:
            self.q_norm = RMSNorm(D, config.rms_norm_eps)
            self.k_norm = RMSNorm(D, config.rms_norm_eps)
        self.qkv_proj = None  # set by pack_linears_for_cpu: q, k and v in one GEMM
        self.cpu_kernels = False  # set by pack_linears_for_cpu: one-token steps use cpu_gemm's attention

    def forward(self, x: torch.Tensor, cache: KVCache, plan: StepPlan) -> torch.Tensor:
        B, T, _ = x.shape
        H, K, D = self.num_heads, self.num_kv_heads, self.head_dim
        if self.qkv_proj is not None:
            q, k, v = self.qkv_proj(x).split([H * D, K * D, K * D], -1)
        else:
            q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        q = q.view(B, T, H, D)  # [B, T, H, D]
        k = k.view(B, T, K, D)  # [B, T, K, D]
        v = v.view(B, T, K, D)  # [B, T, K, D]
        if hasattr(self, "q_norm"):
            q, k = self.q_norm(q), self.k_norm(k)
        if self.use_rope:
            q, k = apply_rope(q, plan.rope), apply_rope(k, plan.rope)
        keys, values, mask = self._cached(k, v, cache, plan)  # [B, K, S, D] x2, [B, 1, T, S]
        if T == 1 and self.cpu_kernels:
            out = cpu_gemm.decode_attention(q.reshape(B, H, D), keys, values, mask, self.head_dim**-0.5)
            if out is not None:
                return self.o_proj(out.view(B, 1, H * D))
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), keys, values, attn_mask=mask, scale=self.head_dim**-0.5, enable_gqa=True
        )  # [B, H, T, D]
        return self.o_proj(out.transpose(1, 2).reshape(B, T, -1))

    def _cached(self, k, v, cache: KVCache, plan: StepPlan):
        """Store this step's keys/values; return what the queries attend to."""
        i = self.layer
        if self.sliding_window is None:
            cache.keys[i][plan.rows, :, plan.positions] = k  # [B, T, K, D] into slots = positions
            cache.values[i][plan.rows, :, plan.positions] = v
            return cache.keys[i][:, :, : plan.read], cache.values[i][:, :, : plan.read], plan.full_mask
        window, keep = self.sliding_window, plan.ring_keep
        rows, slots = plan.rows[:, keep:], plan.positions[:, keep:] % window
        if plan.ring_concat:
            keys = torch.cat([cache.keys[i], k.transpose(1, 2)], 2)  # [B, K, ring + T, D]
            values = torch.cat([cache.values[i], v.transpose(1, 2)], 2)
            cache.keys[i][rows, :, slots] = k[:, keep:]
            cache.values[i][rows, :, slots] = v[:, keep:]
            return keys, values, plan.ring_mask
        cache.keys[i][rows, :, slots] = k[:, keep:]
        cache.values[i][rows, :, slots] = v[:, keep:]
        return cache.keys[i], cache.values[i], plan.ring_mask


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.gate_up_proj = None  # set by pack_linears_for_cpu: gate and up in one GEMM
        self.cpu_kernels = False  # set by pack_linears_for_cpu: silu(gate) * up by cpu_gemm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate_up_proj is not None:
            gate_up = self.gate_up_proj(x)
            if self.cpu_kernels:
                    return self.down_proj(cpu_gemm.silu_mul(gate_up))
            gate, up = gate_up.chunk(2, -1)
        else:
            gate, up = self.gate_proj(x), self.up_proj(x)
        return self.down_proj(F.silu(gate) * up)


class DecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        self.post_norm = config.post_norm
        self.self_attn = Attention(config, layer)
        self.mlp = MLP(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        if self.post_norm:
            self.post_feedforward_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        else:
            self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, x: torch.Tensor, cache: KVCache, plan: StepPlan) -> torch.Tensor:
        if self.post_attention_layernorm.cpu_kernels:
            return self._forward_fused(x, cache, plan)
        if self.post_norm:  # EXAONE 4.0
            h = x + self.post_attention_layernorm(self.self_attn(x, cache, plan))
            return h + self.post_feedforward_layernorm(self.mlp(h))
        h = x + self.self_attn(self.input_layernorm(x), cache, plan)  # Llama
        return h + self.mlp(self.post_attention_layernorm(h))

    def _forward_fused(self, x: torch.Tensor, cache: KVCache, plan: StepPlan) -> torch.Tensor:
        """The same layer with cpu_gemm's RMSNorm taking the residual adds into the same pass."""
        attn_norm = self.post_attention_layernorm
        if self.post_norm:
            h = cpu_gemm.rms_norm(self.self_attn(x, cache, plan), attn_norm.weight, attn_norm.eps, add=x)
            mlp_norm = self.post_feedforward_layernorm
            return cpu_gemm.rms_norm(self.mlp(h), mlp_norm.weight, mlp_norm.eps, add=h)
        h, normed = cpu_gemm.rms_norm(self.self_attn(self.input_layernorm(x), cache, plan), attn_norm.weight, attn_norm.eps,
                             add=x, add_first=True)
        return h + self.mlp(normed)


class Model(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.register_buffer(
            "inv_freq", rope_inv_freq(config.head_dim, config.rope_theta, config.rope_scaling), persistent=False
        )
        self.any_rope = any(config.layer_uses_rope(i) for i in range(config.num_hidden_layers))
        self._rope_table: tuple[torch.Tensor, torch.Tensor] | None = None  # cos, signed sin [positions, D]

    def rope_tables(self, positions: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and signed sin (see apply_rope) of every position below `positions`, grown by doubling."""
        table = self._rope_table
        if table is None or table[0].shape[0] < positions or table[0].dtype != dtype:
            size = max(positions, 2 * table[0].shape[0] if table is not None else 256)
            freqs = torch.arange(size, device=self.inv_freq.device).float()[:, None] * self.inv_freq  # [N, D/2]
            cos, sin = torch.cat([freqs, freqs], -1).cos(), torch.cat([-freqs.sin(), freqs.sin()], -1)  # [N, D]
            self._rope_table = table = (cos.to(dtype), sin.to(dtype))
        return table

    def forward(self, input_ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        B, T = input_ids.shape
        cache.ensure(int(cache.lengths.max()) + T if B else T)
        x = self.embed_tokens(input_ids)  # [B, T, C]
        plan = StepPlan(cache, T)
        if self.any_rope:
            cos, sin = self.rope_tables(plan.read, x.dtype)
            plan.rope = (cos[plan.positions][:, :, None, :], sin[plan.positions][:, :, None, :])  # [B, T, 1, D]
        for layer in self.layers:
            x = layer(x, cache, plan)
        plan.commit(cache)
        return self.norm(x)


class ForCausalLM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.model = Model(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def new_cache(self, batch: int, capacity: int = 0) -> KVCache:
        p = self.model.embed_tokens.weight
        return KVCache(self.config, batch, capacity, p.dtype, p.device)

    def forward(self, input_ids: torch.Tensor, cache: KVCache | None = None, last_only: bool = False) -> torch.Tensor:
        """Logits [B, T, V] (or [B, 1, V] with `last_only`) for `input_ids` [B, T] following
        whatever `cache` holds (a fresh, throwaway cache when None); the cache advances by T."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be [batch, seq], got shape {tuple(input_ids.shape)}")
        if cache is None:
            cache = self.new_cache(input_ids.shape[0], input_ids.shape[1])
        h = self.model(input_ids, cache)
        if last_only:
            h = h[:, -1:]
        return self.lm_head(h).float()
