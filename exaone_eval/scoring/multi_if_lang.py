"""Word and sentence counts by language, as Multi-IF's `ifeval.py` counts them.

Google's IFEval counts words with `\\w+` and sentences with NLTK's English punkt model, whatever
the language. Multi-IF (facebookresearch/Multi-IF, `ifeval.py` @ 1cdb53e) first asks langdetect
for the answer's language, then counts:

| langdetect says     | words                                   | sentences                              |
| ---                 | ---                                     | ---                                    |
| `th`                | pythainlp `word_tokenize` (newmm)       | pythainlp `sent_tokenize` (crfcut), line by line |
| `hi`                | `\\w+` (as Google)                       | pieces ending in `।`, `!` or `?`       |
| `zh-cn`/`zh-tw`/`ja`| one per Han/kana/Hangul character, plus whitespace-separated other words, plus emoji | pieces ending in `。！？．!?.` or a line end |
| anything else       | `\\w+` (as Google)                       | NLTK punkt, English (as Google)        |

A text langdetect cannot read (no letters at all) counts as `en`, as Multi-IF's bare `except` makes
it. langdetect itself samples at random; `scoring/ifeval.py` seeds it with 0 when it loads the
checkers, so a verdict never flips between runs (Multi-IF leaves it unseeded).

Optional packages, as in Multi-IF: `emoji` (its Chinese/Japanese word count adds one per emoji and
drops them from the text, and counts none when `emoji` is missing: Multi-IF imports it the same
optional way), and `pythainlp` (with `python-crfsuite` for sentences) for Thai. Multi-IF cannot
run at all without pythainlp; here a Thai answer without it raises `ThaiTokenizerMissing`, which
the per-turn scorer records as that instruction not followed (scoring/multi_if_checks.py).
"""

from __future__ import annotations

import re

from exaone_eval.scoring.ifeval import _lm_eval_ifeval

# Multi-IF's character classes: CJK unified ideographs (+ extension A), hiragana and katakana,
# Hangul syllables. Each such character is one "word".
_CJK_CHARS = r"[\u4E00-\u9FFF\u3400-\u4DBF]|[\u3040-\u309f\u30a0-\u30ff]|[\uAC00-\uD7AF]"
# Punctuation Multi-IF deletes before counting Chinese/Japanese words (its own list, kept as is,
# including the doubled characters; `——` and `……` act as single characters inside the class).
_CJK_PUNCTUATION = r"[\\.\!\?\．\/_,\{\}<>:;$%^&*(+\"\'+——！，。？、`~@#￥……（）：；《）《》“”()\[\]»〔〕\-「」]+"
# A Chinese/Japanese sentence: a run of non-terminators and at most one terminator.
_CJK_SENTENCE = r"[^!?。\.\!\?\！\？\．\n]+[!?。\.\!\?\！\？\．\n]?"
# A Hindi sentence ends after a danda, `!` or `?`.
_HINDI_SENTENCE_END = r"(?<=[।!?])\s*"

CHINESE_JAPANESE = ("zh", "zh-cn", "zh-tw", "ja")


class ThaiTokenizerMissing(RuntimeError):
    """A Thai answer needs pythainlp (and python-crfsuite for sentences) to be counted."""


def _google_util():
    """lm-eval's copy of Google's helpers (Multi-IF's `count_words` and `count_sentences` are the
    same functions). Loading it through scoring/ifeval.py finds punkt offline and seeds langdetect."""
    return _lm_eval_ifeval().instructions_registry.instructions.instructions_util


def detect_language(text: str) -> str:
    """langdetect's code for `text`; `en` when it finds no features (Multi-IF's fallback)."""
    _lm_eval_ifeval()  # seeds langdetect before its first use
    import langdetect

    try:
        return langdetect.detect(text)
    except Exception:  # Multi-IF catches everything here, not only LangDetectException
        return "en"


def _thai():
    try:
        from pythainlp.tokenize import sent_tokenize, word_tokenize
    except ImportError as e:
        raise ThaiTokenizerMissing(
            "a Thai answer is counted with pythainlp, which is not installed: "
            "pip install 'exaone-eval[multi-if-thai]'") from e
    return sent_tokenize, word_tokenize


def count_words_chinese_japanese(text: str) -> int:
    """Multi-IF's count: CJK characters, emoji and whitespace-separated other words."""
    text = re.sub(_CJK_PUNCTUATION, "", text)
    emoji_count = 0
    try:
        import emoji
    except ImportError:  # Multi-IF: emoji are then neither counted nor removed
        emoji = None
    if emoji is not None:
        emoji_count = emoji.emoji_count(text)
        text = emoji.replace_emoji(text, "")
    cjk = re.findall(_CJK_CHARS, text)
    others = re.sub(_CJK_CHARS, " ", text).split()
    return len(others) + len(cjk) + emoji_count


def count_words(text: str) -> int:
    language = detect_language(text)
    if language == "th":
        return len(_thai()[1](text))
    if language in CHINESE_JAPANESE:
        return count_words_chinese_japanese(text)
    return _google_util().count_words(text)  # `\w+`


def count_sentences(text: str) -> int:
    language = detect_language(text)
    if language == "th":
        sent_tokenize = _thai()[0]
        return sum(len(sent_tokenize(line)) for line in text.splitlines())  # a line break ends a sentence too
    if language == "hi":
        return len([s for s in re.split(_HINDI_SENTENCE_END, text) if s.strip()])
    if language in CHINESE_JAPANESE:
        return sum(len(re.findall(_CJK_SENTENCE, line.strip())) for line in text.splitlines())
    return _google_util().count_sentences(text)  # NLTK punkt, English
