"""PNG line plots for `exaone-eval tables`: the report's curve (dashed) beside each run's (solid).

Used for Table 7 (score against reasoning budget) and Tables 9 / 10 (HELMET and RULER against
context length). Needs matplotlib (`pip install 'exaone-eval[plots]'`); importing this module
without it raises ImportError, which `tables` reports as a skipped plot.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt  # noqa: E402

Series = tuple[str, list[int], list[float], bool]
"""(label, x in tokens, y scores, is the report's curve)."""


def _token_label(x: int) -> str:
    return f"{x // 1024}K" if x % 1024 == 0 else str(x)


def line_panels(panels: dict[str, list[Series]], path: Path, title: str, xlabel: str) -> Path:
    """One small plot per panel, x on a log2 token axis, shared legend; written to `path`."""
    if not panels:
        raise ValueError("nothing to plot")
    cols = min(len(panels), 4)
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, (name, series) in zip(axes.flat, panels.items()):
        ticks = sorted({x for _, xs, _, _ in series for x in xs})
        for label, xs, ys, is_report in series:
            ax.plot(xs, ys, linestyle="--" if is_report else "-", marker="o", markersize=4, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [_token_label(x) for x in ticks])
        ax.minorticks_off()
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("score", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
