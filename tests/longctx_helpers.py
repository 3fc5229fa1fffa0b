"""A small tokenizer the long-context tests build themselves: every word and every punctuation
run is one token (a WordLevel model that maps them all to [UNK]), with a short chat template."""

from __future__ import annotations

import json
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL = ["[UNK]", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]


def write_word_tokenizer(folder: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordLevel(vocab={t: i for i, t in enumerate(SPECIAL)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(SPECIAL)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "eos_token": "<|end|>",
        "chat_template": CHAT_TEMPLATE, "model_max_length": 1 << 20,
    }))
    return folder
