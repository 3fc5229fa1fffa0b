"""Next-token choice for a batch of sequences, each with its own settings and seed.

Order per row (as vLLM does it): presence penalty on the raw logits, then greedy argmax when the
temperature is 0, else temperature, top-k, top-p and one uniform draw turned into a token by
inverse CDF over the kept tokens (most likely first).

The draw of the token at absolute position p of a sequence with seed s comes from the row's own
torch.Generator re-seeded with mix(s, p), one draw per generated token. Keying draws by position
(not by how many draws came before) means a continuation from a prefix (`Request.prefix`) lands
on the same draws as the run that produced it: truncating a long reasoning at b tokens and
forcing the answer equals a direct run with budget b, token for token.
"""

from __future__ import annotations

import torch

MASK64 = (1 << 64) - 1


def position_seed(seed: int, position: int) -> int:
    """A 64-bit generator seed for (sequence seed, token position): splitmix64 of the pair."""
    z = (seed * 0x9E3779B97F4A7C15 + position * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def uniform_draw(generator: torch.Generator, seed: int, position: int) -> float:
    """The one uniform in [0, 1) that picks the token at `position`."""
    generator.manual_seed(position_seed(seed, position))
    return float(torch.rand((), generator=generator))


def apply_presence_penalty(logits: torch.Tensor, penalties: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """OpenAI / vLLM presence penalty: subtract `penalty` from the logit of every token that
    already appeared in the output. logits [B, V] fp32, penalties [B], seen [B, V] bool."""
    return logits - penalties[:, None] * seen.to(logits.dtype)


def choose_tokens(
    logits: torch.Tensor,
    temperatures: list[float],
    top_ps: list[float],
    top_ks: list[int],
    uniforms: list[float | None],
) -> list[int]:
    """One token per row of logits [B, V]. Rows with temperature 0 are greedy (their uniform is
    None); the others sample from the top-k / top-p filtered softmax at their temperature."""
    tokens = logits.argmax(-1).tolist()
    sampled = [i for i, t in enumerate(temperatures) if t > 0]
    if not sampled:
        return tokens
    V = logits.shape[-1]
    rows = torch.tensor(sampled)
    temps = torch.tensor([temperatures[i] for i in sampled], dtype=logits.dtype)
    scaled = logits[rows] / temps[:, None]  # [S, V]
    ordered, order = scaled.sort(-1, descending=True)  # most likely first
    k = torch.tensor([top_ks[i] if 0 < top_ks[i] < V else V for i in sampled])
    ordered = ordered.masked_fill(torch.arange(V)[None, :] >= k[:, None], float("-inf"))
    probs = ordered.softmax(-1)
    cumulative = probs.cumsum(-1)
    top_p = torch.tensor([top_ps[i] for i in sampled], dtype=probs.dtype)
    # Keep the smallest head whose mass reaches top_p: drop a token once the mass before it does.
    drop = cumulative - probs >= top_p[:, None]
    drop[:, 0] = False  # the most likely token always stays
    probs = probs.masked_fill(drop, 0.0)
    cumulative = probs.cumsum(-1)
    u = torch.tensor([uniforms[i] for i in sampled], dtype=probs.dtype) * cumulative[:, -1]
    picks = torch.searchsorted(cumulative, u[:, None], right=True).clamp_(max=V - 1)  # [S, 1]
    # searchsorted may land on a zero-probability tail slot when u rounds to the total.
    kept = (probs > 0).sum(-1, keepdim=True) - 1
    picks = torch.minimum(picks, kept)
    for row, token in zip(sampled, order.gather(1, picks)[:, 0].tolist()):
        tokens[row] = token
    return tokens
