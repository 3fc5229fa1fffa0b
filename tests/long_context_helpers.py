"""A small word-level tokenizer the long-context tests build, and a BuildContext around it."""

from __future__ import annotations

import json
from pathlib import Path

from exaone_eval import registry
from exaone_eval.config import ModelPreset
from exaone_eval.tokenizer import load_tokenizer
from exaone_eval.types import BuildContext

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def write_word_tokenizer(folder: Path, texts: list[str]) -> Path:
    """A WordLevel tokenizer (one token per whitespace-separated word, decoded with single spaces)
    whose vocabulary is every word of `texts`, saved as tokenizer.json + tokenizer_config.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    words = ["[UNK]", "<s>", "<|user|>", "<|assistant|>", "<|system|>"]
    seen = set(words)
    for text in texts:
        for w in text.split():
            if w not in seen:
                seen.add(w)
                words.append(w)
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with single spaces
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "chat_template": CHAT_TEMPLATE,
              "model_max_length": 10**9}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def build_context(name: str, tokenizer_dir: Path | None, tmp_path: Path, max_context: int, data_dir: Path | None = None,
                  mode: str = "non-reasoning", limit: int | None = None, options: dict | None = None) -> BuildContext:
    import dataclasses

    spec = registry.get_spec(name)
    if options is not None:
        spec = dataclasses.replace(spec, options={**spec.options, **options})
    model = ModelPreset(name="test", hf_id="test", max_context=max_context)
    return BuildContext(spec=spec, data_dir=data_dir, model=model, mode=mode, limit=limit, cache_dir=tmp_path / "cache",
                        tokenizer_name=str(tokenizer_dir) if tokenizer_dir else None, tokenizer_loader=load_tokenizer)
