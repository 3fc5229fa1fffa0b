"""avg@k, bootstrap confidence intervals over items, and paired comparisons.

The unit of resampling is the item: the k samples of one item are not independent draws of the
benchmark, so a CI that resampled samples would be too narrow.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

N_BOOTSTRAP = 2000


def item_means(per_item: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """The mean over the k samples of each item (items with no samples are left out)."""
    return {item: float(np.mean(v)) for item, v in per_item.items() if len(v)}


def avg_at_k(per_item: Mapping[str, Sequence[float]]) -> float:
    """Mean over items of the mean over samples, on 0-100."""
    means = list(item_means(per_item).values())
    return 100.0 * float(np.mean(means)) if means else float("nan")


def bootstrap_ci(values: Sequence[float], level: float = 0.95, n: int = N_BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of `values` (same scale as values)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n, x.size))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def bootstrap_statistic(records: Sequence, statistic, key, level: float = 0.95, n: int = 500, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of any `statistic(records)`, resampling whole items (`key(record)`)."""
    groups: dict = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    items = list(groups.values())
    if len(items) < 2:
        value = statistic(list(records))
        return value, value
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        picks = rng.integers(0, len(items), size=len(items))
        values.append(statistic([r for i in picks for r in items[i]]))
    alpha = (1 - level) / 2
    # A resample may lack every item of a part the statistic needs (NaN): those resamples are left out.
    return float(np.nanquantile(values, alpha)), float(np.nanquantile(values, 1 - alpha))


def summarize(per_item: Mapping[str, Sequence[float]], seed: int = 0) -> dict:
    """`score`, `ci_low`, `ci_high` (0-100) and `n_items` for one benchmark."""
    means = item_means(per_item)
    lo, hi = bootstrap_ci(list(means.values()), seed=seed)
    return {
        "score": avg_at_k(per_item),
        "n_items": len(means),
        "ci_low": 100.0 * lo,
        "ci_high": 100.0 * hi,
    }


def paired_difference(
    baseline: Mapping[str, Sequence[float]],
    candidate: Mapping[str, Sequence[float]],
    level: float = 0.95,
    n: int = N_BOOTSTRAP,
    seed: int = 0,
) -> dict:
    """candidate - baseline over the items both have (0-100), with a paired bootstrap CI."""
    b, c = item_means(baseline), item_means(candidate)
    common = sorted(set(b) & set(c))
    diffs = np.array([c[i] - b[i] for i in common], dtype=float)
    lo, hi = bootstrap_ci(diffs, level=level, n=n, seed=seed)
    return {
        "n_common": len(common),
        "diff": 100.0 * float(diffs.mean()) if len(common) else float("nan"),
        "ci_low": 100.0 * lo,
        "ci_high": 100.0 * hi,
        "sd": 100.0 * float(diffs.std(ddof=1)) if len(common) > 1 else float("nan"),
    }


def sampling_noise_sd(baseline: Mapping[str, Sequence[float]], candidate: Mapping[str, Sequence[float]]) -> float:
    """The sd of one item's paired difference (0-100) that sampling alone produces, over common items.

    Item i's mean over k samples has sampling variance s_i^2 / k (s_i^2: the variance between its
    samples), so the difference of two runs' item means has s_b,i^2/k_b + s_c,i^2/k_c; this is the
    root of its mean over items. Items with a single sample add 0 (their spread is unknown).
    """
    common = sorted(set(baseline) & set(candidate))

    def var_of_mean(v: Sequence[float]) -> float:
        return float(np.var(v, ddof=1)) / len(v) if len(v) > 1 else 0.0

    if not common:
        return float("nan")
    return 100.0 * float(np.sqrt(np.mean([var_of_mean(baseline[i]) + var_of_mean(candidate[i]) for i in common])))


def min_detectable_effect(sd: float, n: int, level: float = 0.95, power: float = 0.8, k: int | None = None) -> float:
    """The smallest true mean change (0-100, like sd) that a paired test at `level` detects with
    probability `power` over n items: (z_{1-(1-level)/2} + z_power) * sd / sqrt(n), 2.80 * sd / sqrt(n)
    at the defaults.

    With `k` (samples per item), never below 100 * (z + z_power)^2 / (n * k): even when every change
    goes the same way, about (z + z_power)^2 of the n * k samples must flip before chance is ruled out.
    This floor keeps two identical greedy runs (observed sd 0) from claiming to see any drop.
    """
    from statistics import NormalDist

    if n < 2 or not np.isfinite(sd):
        return float("inf")
    z = NormalDist().inv_cdf(1 - (1 - level) / 2) + NormalDist().inv_cdf(power)
    floor = 100.0 * z * z / (n * k) if k else 0.0
    return float(max(z * sd / np.sqrt(n), floor))
