"""Text similarity metrics for the `text_similarity` grader spec: all return 0.0 to 1.0.

fuzzy_match is rapidfuzz's WRatio with its default processing, divided by 100 — OpenAI's
number (the graders guide's "fuzzy wuzzy was a bear" / "fuzzy wuzzy had no hair" gives 0.756).
ROUGE tokenises as Google's rouge-score does (lower case, runs of [a-z0-9], no stemming) and
gives its F-measure; rouge-score itself is not imported because it pulls in NLTK (seconds per
sandbox worker start), and the tests check the two agree.

BLEU, GLEU and METEOR are NLTK's own functions called as the public OpenAI-grader evaluators
(Azure AI Evaluation's BleuScore/GleuScore/MeteorScore) call them: nltk.word_tokenize tokens,
sentence_bleu with smoothing method4, sentence_gleu, meteor_score(alpha=0.9, beta=3, gamma=0.5).
OpenAI publishes no reference numbers for these three. NLTK is imported on first use. Without
NLTK's data (punkt_tab, wordnet: `python -m nltk.downloader punkt_tab wordnet` on the server),
sentences split after . ! ? and METEOR matches exact words and Porter stems but no synonyms.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from rapidfuzz import fuzz, utils


def _ngrams(words: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


_ROUGE_SPLIT = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's tokenizer: lower case, non-alphanumerics become spaces."""
    return _ROUGE_SPLIT.sub(" ", text.lower()).split()


def fuzzy_match(candidate: str, reference: str) -> float:
    """rapidfuzz's WRatio with default processing, 0-1 (what OpenAI's fuzzy_match gives)."""
    return float(fuzz.WRatio(candidate, reference, processor=utils.default_process)) / 100.0


class _NoSynonyms:
    """Stands in for WordNet when its data is not installed: METEOR's synonym stage finds none."""

    @staticmethod
    def synsets(word: str) -> list[Any]:
        return []


def _has_nltk_data(resource: str) -> bool:
    import nltk.data

    try:
        nltk.data.find(resource)
    except LookupError:
        return False
    return True


@functools.cache
def _nltk() -> SimpleNamespace:
    """NLTK, imported on first use only (about a second; most graders never need it)."""
    from nltk.stem.porter import PorterStemmer
    from nltk.tokenize import NLTKWordTokenizer, word_tokenize
    from nltk.translate import bleu_score, gleu_score, meteor_score

    if _has_nltk_data("corpora/wordnet.zip") or _has_nltk_data("corpora/wordnet"):
        from nltk.corpus import wordnet
    else:
        wordnet = _NoSynonyms()
    punkt = _has_nltk_data("tokenizers/punkt_tab/english/")
    return SimpleNamespace(
        word_tokenize=word_tokenize if punkt else None,
        words=NLTKWordTokenizer().tokenize,
        bleu=bleu_score,
        gleu=gleu_score.sentence_gleu,
        meteor=meteor_score.meteor_score,
        stemmer=PorterStemmer(),
        wordnet=wordnet,
    )


NLTK_METRICS = ("bleu", "gleu", "meteor")


def prepare_metric(metric: str) -> None:
    """Import what a metric needs ahead of its first row (NLTK's import takes about a second)."""
    if metric in NLTK_METRICS:
        _nltk()


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def nltk_tokens(text: str) -> list[str]:
    """nltk.word_tokenize (what Azure's OpenAI-grader evaluators tokenise with): Punkt sentences
    when its data is installed, else sentences split after . ! ?, then the Treebank words."""
    nltk = _nltk()
    if nltk.word_tokenize is not None:
        return list(nltk.word_tokenize(text))
    return [word for sentence in _SENTENCE_END.split(text) for word in nltk.words(sentence)]


def bleu(candidate: str, reference: str) -> float:
    """NLTK's sentence_bleu, 4-gram, NIST geometric smoothing (method4), case-sensitive."""
    nltk = _nltk()
    cand, ref = nltk_tokens(candidate), nltk_tokens(reference)
    if not cand or not ref:
        return 1.0 if cand == ref else 0.0
    smoothing = nltk.bleu.SmoothingFunction().method4
    return float(nltk.bleu.sentence_bleu([ref], cand, smoothing_function=smoothing))


def gleu(candidate: str, reference: str) -> float:
    """NLTK's sentence_gleu (Google-BLEU: min of 1-4-gram precision and recall)."""
    cand, ref = nltk_tokens(candidate), nltk_tokens(reference)
    if not cand or not ref:
        return 1.0 if cand == ref else 0.0
    return float(_nltk().gleu([ref], cand))


def meteor(candidate: str, reference: str) -> float:
    """NLTK's meteor_score (alpha 0.9, beta 3, gamma 0.5): exact, Porter-stem and, when WordNet's
    data is installed, synonym matches, lower-cased."""
    nltk = _nltk()
    cand, ref = nltk_tokens(candidate), nltk_tokens(reference)
    if not cand or not ref:
        return 1.0 if cand == ref else 0.0
    score = nltk.meteor(
        [ref], cand, alpha=0.9, beta=3.0, gamma=0.5, stemmer=nltk.stemmer, wordnet=nltk.wordnet
    )
    return float(score)


def rouge_n(candidate: str, reference: str, n: int) -> float:
    """ROUGE-N F-measure over n-gram overlap (rouge-score's)."""
    cand, ref = _ngrams(rouge_tokens(candidate), n), _ngrams(rouge_tokens(reference), n)
    if not cand or not ref:
        return 0.0
    overlap = sum((cand & ref).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / sum(cand.values()), overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Longest common subsequence length, O(len(a) * len(b)) time, O(len(b)) memory."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F-measure from the longest common subsequence of tokens (rouge-score's)."""
    cand, ref = rouge_tokens(candidate), rouge_tokens(reference)
    if not cand or not ref:
        return 0.0
    lcs = lcs_length(cand, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


METRICS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match,
    "bleu": bleu,
    "gleu": gleu,
    "meteor": meteor,
    "rouge_l": rouge_l,
    **{
        f"rouge_{n}": (lambda c, r, n=n: rouge_n(c, r, n))  # type: ignore[misc]
        for n in range(1, 6)
    },
}
