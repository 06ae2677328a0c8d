"""Exact or normalized string match.

Compares the reply with the row's `ground_truth` (a string, or a list of acceptable answers).
An exact match scores 1.0; so does a match after normalization (lower case, punctuation,
articles "a/an/the" and extra spaces removed — the SQuAD convention), and the reason says
which. Anything else scores 0.0. Written in the Fireworks reward-kit style: the same file runs
unchanged on Fireworks.
"""

import re
import string
from typing import Any

from reward_kit import EvaluateResult, MetricResult, reward_function

ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = ARTICLES.sub(" ", text)
    return " ".join(text.split())


@reward_function
def evaluate(messages: list[dict[str, Any]], ground_truth: Any = None, **kwargs: Any) -> Any:
    reply = str(messages[-1].get("content") or "").strip()
    if ground_truth is None:
        return EvaluateResult(score=0.0, is_score_valid=False, reason="row has no ground_truth")
    answers = (
        [str(a) for a in ground_truth] if isinstance(ground_truth, list) else [str(ground_truth)]
    )
    exact = any(reply == answer.strip() for answer in answers)
    normalized = exact or any(normalize(reply) == normalize(answer) for answer in answers)
    if exact:
        reason = "exact match"
    elif normalized:
        reason = "match after normalization"
    else:
        reason = f"no match for {reply[:80]!r}"
    return EvaluateResult(
        score=1.0 if normalized else 0.0,
        reason=reason,
        metrics={"exact": MetricResult(score=float(exact), reason="character-exact match")},
    )
