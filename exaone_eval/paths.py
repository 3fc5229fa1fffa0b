"""Where the shipped data folders live: inside the wheel, or beside the package in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """`tasks`, `configs` or `reference`: the folder as installed, else the checkout's own.

    The wheel carries them under `exaone_eval/_shipped/` (pyproject force-include); a source
    checkout or editable install reads `tasks/`, `configs/`, `results/reference/` at the root.
    """
    installed = _PACKAGE / "_shipped" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent / ("results/reference" if name == "reference" else name)
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"exaone-eval is installed without its {name}/ folder (looked in {installed} and {checkout})")
