"""Anytime-valid tests and confidence bounds for the mean of bounded i.i.d. draws (betting).

A planned gate (exaone_eval/gate_plan.py) draws units (item, sample) of a benchmark at random,
with replacement, with known probabilities, and turns each into a draw Z whose expectation is
exactly the full run's paired difference D (Hansen-Hurwitz weighting). Those draws are i.i.d.
and bounded in [-m, m], whatever the candidate model does: the randomness is the plan's own
draw, not a model of the candidate.

For such draws the betting test of Waudby-Smith & Ramdas (2023, "Estimating means of bounded
random variables by betting", JRSS-B) gives, for a null H0: E[Z] >= m0, the wealth

    K_t = prod_{i <= t} (1 - lambda_i (Z_i - m0)),   0 <= lambda_i <= c / (m - m0), c < 1,

with lambda_i chosen from draws 1..i-1 only (predictable). Under H0 each factor has mean <= 1 and
is >= 0, so K is a non-negative supermartingale and, by Ville's inequality,
P(sup_t K_t >= 1/alpha) <= alpha: rejecting the first time the wealth reaches 1/alpha is wrong
with probability at most alpha, however often one looks and whenever one stops. That is what
lets `run --plan` look after every batch and stop early without inflating false alarms.
The bet size is aGRAPA (the same paper, an approximation to the growth-optimal Kelly bet):
lambda = (m0 - mu) / (var + (mu - m0)^2) from the running mean and variance, clipped.
The mirror test (H0: E[Z] <= m0) bets the other way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

BET_CAP = 0.5
"""c above: at most half the stake that would risk ruin on the worst draw (WSR's usual truncation)."""


def _wealth(z: np.ndarray, m: float, m0: np.ndarray, side: int) -> np.ndarray:
    """log of the running wealth, shape (len(m0), len(z)); side -1 bets that the mean is below m0
    (H0: mean >= m0), side +1 that it is above (H0: mean <= m0)."""
    z = np.asarray(z, dtype=float)
    m0 = np.atleast_1d(np.asarray(m0, dtype=float))[:, None]
    t = np.arange(1, z.size + 1, dtype=float)
    # Predictable estimates: after draws 1..i-1, shrunk toward 0 and toward a wide variance, so the
    # first bets are small (nothing is known yet).
    csum = np.concatenate([[0.0], np.cumsum(z)[:-1]])
    mu = csum / t
    csq = np.concatenate([[0.0], np.cumsum(z * z)[:-1]])
    var = (m * m / 4 + np.maximum(csq - csum * mu, 0.0)) / t
    gap = side * (mu[None, :] - m0)  # how far the running mean is on the side bet on
    lam = np.clip(gap / (var[None, :] + gap * gap), 0.0, None)
    cap = BET_CAP / np.maximum(m - side * m0, 1e-12)  # keeps every factor >= 1 - BET_CAP > 0
    lam = np.minimum(lam, cap)
    return np.cumsum(np.log1p(side * lam * (z[None, :] - m0)), axis=1)


def rejects(z: Sequence[float], m: float, m0: float, side: int, alpha: float) -> int | None:
    """The first draw (1-based) at which the wealth against H0 reaches 1/alpha, or None.
    side -1 rejects H0: mean >= m0 (so the mean is < m0); side +1 rejects H0: mean <= m0."""
    if len(z) == 0:
        return None
    log_k = _wealth(np.asarray(z, dtype=float), m, np.array([m0]), side)[0]
    hit = np.nonzero(log_k >= math.log(1 / alpha))[0]
    return int(hit[0]) + 1 if hit.size else None


def bounds(z: Sequence[float], m: float, alpha: float, tol: float = 1e-5) -> tuple[float, float]:
    """One-sided anytime bounds (L, U) of the mean after all of `z`: each holds with probability
    >= 1 - alpha at every time simultaneously (the mean is > L, resp. < U). U is the smallest m0
    whose "mean >= m0" the test has rejected at some time so far, L the largest whose "mean <= m0"
    it has; found by bisection (the further m0 lies from the data, the sooner it is rejected)."""
    z = np.asarray(z, dtype=float)
    if z.size == 0:
        return -m, m
    level = math.log(1 / alpha)

    def shown(m0: float, side: int) -> bool:
        return bool(_wealth(z, m, np.array([m0]), side)[0].max() >= level)

    centre = float(np.clip(z.mean(), -m, m))
    lo, hi = centre, m  # U: between the mean and m (m itself is always an upper bound)
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if shown(mid, -1) else (mid, hi)
    upper = hi
    lo, hi = -m, centre
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if shown(mid, +1) else (lo, mid)
    return lo, upper


@dataclass(frozen=True)
class Decision:
    verdict: str
    """"regression" (shown: D < -tolerance), "within tolerance" (shown: D > -tolerance) or "undecided"."""
    draws: int
    """Draws used when it was decided (all of them when undecided)."""


def decide(z: Sequence[float], m: float, tolerance: float, alpha: float) -> Decision:
    """The planned gate's stopping rule on draws z of the paired difference (0-1 scale; tolerance
    too). The two hypotheses D <= -tol and D >= -tol cannot both be false, and each test is wrong
    with probability <= alpha, so the decision differs from the full run's "is the drop beyond the
    tolerance" with probability <= alpha (whichever is true), at any stopping time."""
    reg = rejects(z, m, -tolerance, -1, alpha)
    ok = rejects(z, m, -tolerance, +1, alpha)
    if reg is None and ok is None:
        return Decision("undecided", len(z))
    if ok is None or (reg is not None and reg <= ok):
        return Decision("regression", reg)
    return Decision("within tolerance", ok)


def _least_draws(distance: float, alpha: float, bound: float) -> float:
    """Draws the betting test needs even when every draw is exactly the mean: it stakes at most
    BET_CAP / (bound + distance) per draw, so its wealth grows by at most log(1 + BET_CAP * distance /
    (bound + distance)) a draw and must reach log(1/alpha)."""
    return math.log(1 / alpha) / math.log1p(BET_CAP * distance / (bound + distance))


def power_at(var_z: float, n: int, distance: float, alpha: float, bound: float = 1.0) -> float:
    """About the probability that the betting test shows a mean `distance` away from m0 within n
    draws of variance var_z. A Kelly bettor's log wealth after n draws is about normal with mean
    n d^2 / (2 var) and variance n d^2 / var, so with x = d sqrt(n / var) the power is about
    Phi(x/2 - log(1/alpha) / x); below the range's least number of draws it is 0. Used to size
    plans and to state their power, never for a decision."""
    from statistics import NormalDist

    if n <= 0 or distance <= 0 or n < _least_draws(distance, alpha, bound):
        return 0.0
    x = distance * math.sqrt(n / max(var_z, 1e-9))
    return NormalDist().cdf(x / 2 - math.log(1 / alpha) / x)


def sample_size(var_z: float, distance: float, alpha: float, power: float, bound: float = 1.0) -> int:
    """The inverse of power_at: about how many draws give `power`."""
    from statistics import NormalDist

    if distance <= 0:
        return 10**12
    z = NormalDist().inv_cdf(power)
    x = z + math.sqrt(z * z + 2 * math.log(1 / alpha))
    return max(1, math.ceil(max(max(var_z, 1e-9) * x * x / (distance * distance), _least_draws(distance, alpha, bound))))
