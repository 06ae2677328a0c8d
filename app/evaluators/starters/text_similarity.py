"""Text similarity (fuzzy ratio, BLEU, ROUGE-L).

An OpenAI-style python grader, grade(sample, item): compares the reply with the row's
`reference` (or `ground_truth`). METRIC picks the measure — "fuzzy" (difflib's character
ratio), "bleu" (sentence BLEU-4 with add-one smoothing) or "rouge_l" (F1 of the longest common
token subsequence); a row field `metric` overrides it. All three are written out here in pure
Python and score 0.0 (nothing in common) to 1.0 (identical).
"""

import difflib
import math
import re
from collections import Counter
from typing import Any

METRIC = "rouge_l"


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def fuzzy(candidate: str, reference: str) -> float:
    return difflib.SequenceMatcher(None, candidate, reference, autojunk=False).ratio()


def bleu(candidate: str, reference: str) -> float:
    cand, ref = words(candidate), words(reference)
    if not cand or not ref:
        return float(cand == ref)
    order = min(4, len(cand))
    log_sum = 0.0
    for n in range(1, order + 1):
        grams = Counter(tuple(cand[i : i + n]) for i in range(len(cand) - n + 1))
        ref_grams = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
        matches, total = sum((grams & ref_grams).values()), len(cand) - n + 1
        if n > 1:  # add-one smoothing keeps short answers from scoring 0
            matches, total = matches + 1, total + 1
        if matches == 0:
            return 0.0
        log_sum += math.log(matches / total)
    brevity = 1.0 if len(cand) > len(ref) else math.exp(1 - len(ref) / len(cand))
    return brevity * math.exp(log_sum / order)


def rouge_l(candidate: str, reference: str) -> float:
    cand, ref = words(candidate), words(reference)
    if not cand or not ref:
        return float(cand == ref)
    previous = [0] * (len(ref) + 1)
    for token in cand:
        current = [0]
        for j, other in enumerate(ref):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


METRICS = {"fuzzy": fuzzy, "bleu": bleu, "rouge_l": rouge_l}


def grade(sample: dict[str, Any], item: dict[str, Any]) -> float:
    reference = item.get("reference", item.get("ground_truth"))
    if reference is None:
        raise ValueError("the row needs a 'reference' (or 'ground_truth') text")
    metric = METRICS[item.get("metric") or METRIC]
    return metric(sample["output_text"], str(reference))
