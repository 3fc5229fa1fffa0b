"""The bundled EXAONE 4.0 implementation (PyTorch) and its CPU engine.

`load_model(path)` loads a local HF-layout checkpoint (model_type `exaone4` or `llama`);
`model(input_ids)` with a LongTensor [batch, seq] returns logits [batch, seq, vocab].
torch is imported only when a model is loaded, so `exaone-eval list` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_model(path: str | Path, dtype: Any = "float32", device: Any = "cpu"):
    """The checkpoint at `path` as a `ForCausalLM` (fp32 on CPU by default)."""
    from exaone_eval.model.loading import load_model as _load

    return _load(path, dtype=dtype, device=device)


__all__ = ["load_model"]
