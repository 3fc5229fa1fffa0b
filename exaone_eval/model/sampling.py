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


CANDIDATES = (256, 4096)
"""Head sizes tried before a full sort (a top-k of 256 takes ~2 ms for 16 x 49K logits, a sort ~100)."""


def choose_tokens(
    logits: torch.Tensor,
    temperatures: list[float],
    top_ps: list[float],
    top_ks: list[int],
    uniforms: list[float | None],
) -> list[int]:
    """One token per row of logits [B, V]. Rows with temperature 0 are greedy (their uniform is
    None); the others sample from the top-k / top-p filtered softmax at their temperature."""
    sampled = [i for i, t in enumerate(temperatures) if t > 0]
    tokens = logits.argmax(-1).tolist() if len(sampled) < len(temperatures) else [0] * len(temperatures)
    if not sampled:
        return tokens
    V = logits.shape[-1]
    temps = torch.tensor([temperatures[i] for i in sampled], dtype=torch.float32)
    rows = logits if len(sampled) == len(temperatures) else logits[sampled]  # no copy when all sample
    probs = (rows.float() / temps[:, None]).softmax(-1)  # [S, V]
    k = torch.tensor([top_ks[i] if 0 < top_ks[i] < V else V for i in sampled])
    top_p = torch.tensor([top_ps[i] for i in sampled])
    u = torch.tensor([uniforms[i] for i in sampled])

    # No cut at all: invert the CDF over the whole vocabulary in vocabulary order (no sort).
    whole = ((k == V) & (top_p >= 1.0)).nonzero()[:, 0]
    if len(whole):
        for j, token in zip(whole.tolist(), _inverse_cdf(probs[whole], top_p[whole], u[whole]).tolist()):
            tokens[sampled[j]] = token
    # Otherwise the most likely n tokens, most likely first. A row is decided by them when its
    # top-k fits in n, or when they already hold its top-p mass (every later token is cut anyway).
    pending = ((k < V) | (top_p < 1.0)).nonzero()[:, 0]
    for n in (*CANDIDATES, V):
        if not len(pending):
            break
        n = min(n, V)
        head, order = (probs if len(pending) == len(probs) else probs[pending]).topk(n)  # [P, n]
        kp = k[pending]
        head = head.masked_fill(torch.arange(n)[None, :] >= kp[:, None], 0.0)
        has_k = kp < V
        head = torch.where(has_k[:, None], head / head.sum(-1, keepdim=True), head)  # top-k renormalises
        decided = has_k & (kp <= n) | (head.sum(-1) >= top_p[pending]) | (n == V)
        picks = _inverse_cdf(head, top_p[pending], u[pending])
        chosen = order.gather(1, picks[:, None])[:, 0]
        for j, token, done in zip(pending.tolist(), chosen.tolist(), decided.tolist()):
            if done:
                tokens[sampled[j]] = token
        pending = pending[~decided]
    return tokens


def _inverse_cdf(probs: torch.Tensor, top_p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Column index per row of probs [S, n] (most likely first, or any fixed order with top_p 1):
    keep the smallest head whose mass reaches top_p, renormalise, and invert the CDF at u."""
    cumulative = probs.cumsum(-1)
    # Drop a token once the mass before it reaches p (never at p = 1, where rounding could cut
    # the tail); the first token always stays.
    drop = (cumulative - probs >= top_p[:, None]) & (top_p[:, None] < 1.0)
    drop[:, 0] = False
    probs = probs.masked_fill(drop, 0.0)
    cumulative = probs.cumsum(-1)
    picks = torch.searchsorted(cumulative, (u * cumulative[:, -1])[:, None], right=True)[:, 0]
    # u * total may round up to the total itself (index n): take the last token still kept.
    n = probs.shape[-1]
    last_kept = n - 1 - (probs > 0).flip(-1).int().argmax(-1)
    return torch.minimum(picks, last_kept)
