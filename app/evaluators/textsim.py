"""Text similarity metrics for the `text_similarity` grader spec: all return 0.0 to 1.0.

fuzzy_match is rapidfuzz's WRatio with its default processing, divided by 100 — OpenAI's
number (the graders guide's "fuzzy wuzzy was a bear" / "fuzzy wuzzy had no hair" gives 0.756).
ROUGE tokenises as Google's rouge-score does (lower case, runs of [a-z0-9], no stemming) and
gives its F-measure; rouge-score itself is not imported because it pulls in NLTK (seconds per
sandbox worker start), and the tests check the two agree. BLEU, GLEU and METEOR are computed
here without NLTK data (METEOR: exact matches only; WordNet synonyms need a download).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable

from rapidfuzz import fuzz, utils

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _ngrams(words: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


_ROUGE_SPLIT = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's tokenizer: lower case, non-alphanumerics become spaces."""
    return _ROUGE_SPLIT.sub(" ", text.lower()).split()


def fuzzy_match(candidate: str, reference: str) -> float:
    """rapidfuzz's WRatio with default processing, 0-1 (what OpenAI's fuzzy_match gives)."""
    return float(fuzz.WRatio(candidate, reference, processor=utils.default_process)) / 100.0


def bleu(candidate: str, reference: str, max_n: int = 4) -> float:
    """Sentence BLEU with add-one smoothing for n > 1 (Lin & Och) and a brevity penalty."""
    cand, ref = tokens(candidate), tokens(reference)
    if not cand or not ref:
        return 1.0 if cand == ref else 0.0
    order = min(max_n, len(cand))
    log_sum = 0.0
    for n in range(1, order + 1):
        overlap = _ngrams(cand, n) & _ngrams(ref, n)
        matches, total = sum(overlap.values()), len(cand) - n + 1
        if n > 1:
            matches, total = matches + 1, total + 1
        if matches == 0:
            return 0.0
        log_sum += math.log(matches / total)
    brevity = 1.0 if len(cand) > len(ref) else math.exp(1 - len(ref) / len(cand))
    return brevity * math.exp(log_sum / order)


def gleu(candidate: str, reference: str, max_n: int = 4) -> float:
    """Google-BLEU: min(precision, recall) over all 1..4-grams pooled together."""
    cand, ref = tokens(candidate), tokens(reference)
    if not cand or not ref:
        return 1.0 if cand == ref else 0.0
    matches = cand_total = ref_total = 0
    for n in range(1, max_n + 1):
        cand_grams, ref_grams = _ngrams(cand, n), _ngrams(ref, n)
        matches += sum((cand_grams & ref_grams).values())
        cand_total += sum(cand_grams.values())
        ref_total += sum(ref_grams.values())
    return matches / max(cand_total, ref_total)


def meteor(candidate: str, reference: str) -> float:
    """METEOR with exact unigram matching only (no stemming/synonyms: they need WordNet)."""
    cand, ref = tokens(candidate), tokens(reference)
    if not cand or not ref:
        return 1.0 if cand == ref else 0.0
    used = [False] * len(ref)
    alignment: list[int] = []
    for word in cand:
        for j, ref_word in enumerate(ref):
            if not used[j] and ref_word == word:
                used[j] = True
                alignment.append(j)
                break
    matches = len(alignment)
    if matches == 0:
        return 0.0
    precision, recall = matches / len(cand), matches / len(ref)
    f_mean = 10 * precision * recall / (recall + 9 * precision)
    chunks = 1 + sum(1 for a, b in itertools.pairwise(alignment) if b != a + 1)
    penalty = 0.5 * (chunks / matches) ** 3
    return f_mean * (1 - penalty)


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
