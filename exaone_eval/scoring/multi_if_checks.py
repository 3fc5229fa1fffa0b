"""Multi-IF's own instruction checkers and its per-turn verdicts.

He et al., 2024, "Multi-IF", arXiv:2410.15553; code facebookresearch/Multi-IF @ 1cdb53e:
`ifeval.py` (the checkers) and `metrics.py` (`gen_acc_strict`, `gen_acc_loose`, `metrics_gen`).

Multi-IF's `ifeval.py` is a copy of Google's IFEval checkers with its own changes, so it is not
lm-eval's registry. Its 25 instruction ids are IFEval's; four of them check differently:

- `startend:quotation` also accepts an answer wrapped in “…” or 「…」, not only "…";
- `length_constraints:number_words` and `length_constraints:number_sentences` count by the
  language langdetect finds (scoring/multi_if_lang.py: characters for Chinese and Japanese, `।`
  for Hindi, pythainlp for Thai);
- `keywords:frequency` returns False when the keyword is not a valid regex (Google's raises).

The other 21 are lm-eval's classes: their code is Multi-IF's, line for line, up to logging and
style (read side by side with lm-eval 0.4.5 and 0.4.13; `registry` says so per id). The build
step, where a missing argument draws at random, is lm-eval's for all 25, so `seeded_fallbacks`
(scoring/ifeval.py) seeds those draws by item, turn and instruction, as for IFEval (Multi-IF
draws from the global state).

Per turn, as `metrics.py` does it (`check_turn`): an answer that is a JSON list whose first element
has a "response" (`[{"response": ...}]`) is scored on that response; strict checks the answer when
it is not empty; loose passes when any of its eight variants (first / last / both lines dropped,
asterisks removed) is not blank and follows. `metrics.py` knows nothing of reasoning: it scores the
text its generation step stored, which is the answer alone when the server returns reasoning apart
(its API path). The harness does the same: a turn's answer is the text after `</think>`,
stripped as Multi-IF's vLLM runner strips its output (reasoning.py), and an unfinished reasoning
leaves an empty answer that follows nothing.

One difference is ours: a checker that raises (a `keywords:existence` or `keywords:forbidden_words`
keyword that is not a valid regex, an unknown instruction id, a missing Thai tokenizer) stops
Multi-IF's whole evaluation; here that instruction is not followed on that text, the error is kept
in the turn's detail, and the run goes on.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from exaone_eval.scoring import multi_if_lang
from exaone_eval.scoring.ifeval import _lm_eval_ifeval, fallback_seed, seeded_fallbacks

# Multi-IF's QuotationChecker: English, Chinese and Japanese double quotes.
QUOTE_PAIRS = (('"', '"'), ("“", "”"), ("「", "」"))


class _QuotationMultiIF:
    def check_following(self, value):
        value = value.strip()
        return len(value) > 1 and any(value[0] == left and value[-1] == right for left, right in QUOTE_PAIRS)


def _compare(count: int, relation: str, threshold: int):
    """Google's rule: "less than" is <, "at least" is >=; any other relation gives None (falsy)."""
    if relation == "less than":
        return count < threshold
    if relation == "at least":
        return count >= threshold
    return None


class _NumberOfWordsMultiIF:
    def check_following(self, value):
        return _compare(multi_if_lang.count_words(value), self._comparison_relation, self._num_words)


class _NumberOfSentencesMultiIF:
    def check_following(self, value):
        return _compare(multi_if_lang.count_sentences(value), self._comparison_relation, self._num_sentences_threshold)


class _KeywordFrequencyMultiIF:
    def check_following(self, value):
        try:
            occurrences = len(re.findall(self._keyword, value, flags=re.IGNORECASE))
        except Exception:  # Multi-IF: a keyword that is not a valid regex is not followed
            return False
        return _compare(occurrences, self._comparison_relation, self._frequency)


@lru_cache(maxsize=None)
def registry() -> dict[str, type]:
    """Multi-IF's INSTRUCTION_DICT: instruction id -> checker class.

    Built on first use: lm-eval's checkers import NLTK and need punkt (scoring/ifeval.py). A class
    of Multi-IF's own is lm-eval's with `check_following` replaced, so its build step (and its
    random fallbacks) stay lm-eval's, which are Multi-IF's."""
    lm = _lm_eval_ifeval().instructions_registry.instructions

    def own(behaviour, base):
        return type(base.__name__ + "MultiIF", (behaviour, base), {})

    return {
        # Multi-IF's own behaviour (see the module docstring):
        "startend:quotation": own(_QuotationMultiIF, lm.QuotationChecker),
        "length_constraints:number_words": own(_NumberOfWordsMultiIF, lm.NumberOfWords),
        "length_constraints:number_sentences": own(_NumberOfSentencesMultiIF, lm.NumberOfSentences),
        "keywords:frequency": own(_KeywordFrequencyMultiIF, lm.KeywordFrequencyChecker),
        # Same code as lm-eval's (Google's):
        "keywords:existence": lm.KeywordChecker,  # an invalid regex raises in both
        "keywords:forbidden_words": lm.ForbiddenWords,  # an invalid regex raises in both
        "keywords:letter_frequency": lm.LetterFrequencyChecker,
        "language:response_language": lm.ResponseLanguageChecker,  # Multi-IF returns False for a non-str; ours is always str
        "length_constraints:number_paragraphs": lm.ParagraphChecker,
        "length_constraints:nth_paragraph_first_word": lm.ParagraphFirstWordCheck,
        "detectable_content:number_placeholders": lm.PlaceholderChecker,
        "detectable_content:postscript": lm.PostscriptChecker,
        "detectable_format:number_bullet_lists": lm.BulletListChecker,
        "detectable_format:constrained_response": lm.ConstrainedResponseChecker,
        "detectable_format:number_highlighted_sections": lm.HighlightSectionChecker,  # *x* and **x** both count in both
        "detectable_format:multiple_sections": lm.SectionChecker,
        "detectable_format:json_format": lm.JsonFormat,
        "detectable_format:title": lm.TitleChecker,
        "combination:two_responses": lm.TwoResponsesChecker,
        "combination:repeat_prompt": lm.RepeatPromptThenAnswer,
        "startend:end_checker": lm.EndChecker,
        "change_case:capital_word_frequency": lm.CapitalWordFrequencyChecker,
        "change_case:english_capital": lm.CapitalLettersEnglishChecker,
        "change_case:english_lowercase": lm.LowercaseLettersEnglishChecker,
        "punctuation:no_comma": lm.CommaChecker,
    }


def unwrap_answer(answer) -> str:
    """`metrics_gen`'s reading of a stored response: `json.loads(r)[0]["response"]` when that
    works, else the text itself; then `str()` of it (so `[{"response": 5}]` reads "5")."""
    try:
        answer = json.loads(answer)[0]["response"]
    except Exception:  # Multi-IF's bare except: any other text is scored as it is
        pass
    return str(answer)


def loose_variants(response: str) -> list[str]:
    """`gen_acc_loose`'s eight texts, in its order."""
    lines = response.split("\n")
    dropped = ["\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return [response, response.replace("*", ""), *dropped, *(d.replace("*", "") for d in dropped)]


def _follows(checker, text: str, errors: list[str], instruction_id: str) -> bool:
    """One check; an exception (where Multi-IF's run would stop) counts as not followed."""
    try:
        return bool(checker.check_following(text))
    except Exception as e:
        errors.append(f"{instruction_id}: {type(e).__name__}: {e}")
        return False


def check_turn(key: str, instruction_ids: list[str], kwargs: list[dict], answer: str) -> dict:
    """Strict and loose verdicts per instruction for one turn's answer, as `metrics.py` gives them.

    `key` names the item and turn (`<id>:<turn>`): it seeds the checkers' random fallbacks. The
    result is {"strict": [bool], "loose": [bool]}, plus "errors" (one line each) when a checker
    raised."""
    checkers = registry()
    response = unwrap_answer(answer)
    variants = [v for v in loose_variants(response) if v.strip()]
    strict, loose, errors = [], [], []
    for index, (instruction_id, args) in enumerate(zip(instruction_ids, kwargs)):
        try:
            checker = checkers[instruction_id](instruction_id)
            # Multi-IF passes the kwargs as the data gives them (no falsy filtering, unlike IFEval's runner).
            with seeded_fallbacks(fallback_seed(key, index, instruction_id)):
                checker.build_description(**args)
        except Exception as e:
            errors.append(f"{instruction_id}: {type(e).__name__}: {e}")
            strict.append(False)
            loose.append(False)
            continue
        strict.append(bool(response) and _follows(checker, response, errors, instruction_id))
        loose.append(any(_follows(checker, v, errors, instruction_id) for v in variants))
    verdicts = {"strict": strict, "loose": loose}
    if errors:
        verdicts["errors"] = sorted(set(errors))
    return verdicts
