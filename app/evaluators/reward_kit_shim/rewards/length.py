"""reward_kit.rewards.length: length_reward and count_tokens, with reward-kit's behaviour.

Target length: score falls linearly (or along a cosine) with the relative distance from the
target; min/max bounds: full score inside, falling off outside; no bounds: shorter is better
against a reference of 100 tokens. Metrics `length` and `token_count`, as reward-kit reports.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ...results import EvaluateResult, MetricResult, reward_function
from ._common import answer_or_failure


def count_tokens(text: str, method: str = "whitespace") -> int:
    if method == "character":
        return len(text)
    if method == "words":
        return len(re.findall(r"\b[\w\d]+\b", text))
    return len(re.split(r"\s+", text.strip()))  # whitespace (and the default)


def _rise(progress: float, low: float, high: float, cosine: bool) -> float:
    """From low (progress 0) up to high (progress 1)."""
    shape = 1.0 - math.cos(progress * math.pi / 2.0) if cosine else progress
    return low + (high - low) * shape


def _fall(progress: float, low: float, high: float, cosine: bool) -> float:
    """From high (progress 0) down to low (progress 1)."""
    shape = 1.0 - math.cos(progress * math.pi / 2.0) if cosine else progress
    return high - (high - low) * shape


def _score(
    tokens: int,
    target: int | None,
    lower: int | None,
    upper: int | None,
    cosine: bool,
    low: float,
    high: float,
) -> tuple[float, str, bool]:
    if target is not None:
        diff = abs(tokens - target) / target if target > 0 else 1.0
        if cosine:
            score = low + (high - low) * (1.0 + math.cos(min(1.0, diff) * math.pi)) / 2.0
        else:
            score = max(low, high - diff * (high - low))
        reason = f"Response length ({tokens} tokens) deviated by {diff:.2f} from target ({target})"
        return score, reason, diff < 0.2
    if lower is not None and tokens < lower:
        reason = f"Response length ({tokens} tokens) is below minimum ({lower})"
        return _rise(tokens / lower, low, high, cosine), reason, False
    if upper is not None and tokens > upper:
        span = upper - lower if lower is not None else upper
        progress = min(1.0, (tokens - upper) / span)
        reason = f"Response length ({tokens} tokens) exceeds maximum ({upper})"
        return _fall(progress, low, high, cosine), reason, False
    if lower is not None or upper is not None:
        return high, f"Response length ({tokens} tokens) is within the limits", True
    progress = min(1.0, tokens / 100)
    if cosine:
        score = low + (high - low) * (1.0 + math.cos(progress * math.pi)) / 2.0
    else:
        score = high - progress * (high - low)
    return score, f"Response length: {tokens} tokens", True


@reward_function
def length_reward(
    messages: Any,
    *,
    ground_truth: Any = None,
    target_length: int | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    token_method: str = "whitespace",
    scaling: str = "linear",
    reward_range: list[float] | None = None,
    **kwargs: Any,
) -> EvaluateResult:
    text, failure = answer_or_failure(messages, "length")
    if failure is not None or text is None:
        return failure  # type: ignore[return-value]
    tokens = count_tokens(text, method=token_method)
    low, high = reward_range or [0.0, 1.0]
    score, reason, success = _score(
        tokens, target_length, min_length, max_length, scaling == "cosine", low, high
    )
    scale = target_length or max_length or min_length or 100
    metrics = {
        "length": MetricResult(score=score, is_score_valid=success, reason=reason),
        "token_count": MetricResult(
            score=min(1.0, float(tokens) / scale),
            is_score_valid=success,
            reason=f"Token count: {tokens}",
        ),
    }
    return EvaluateResult(score=score, reason=reason, metrics=metrics)


def cosine_scaled(tokens: int, max_length: int, correct: bool, bounds: tuple[float, ...]) -> float:
    """The cosine schedule of reward-kit (after open-r1 and Kimi): a correct answer goes from
    max_value_correct (empty) down to min_value_correct (max_length tokens); a wrong one from
    min_value_wrong up to max_value_wrong. bounds: (min_wrong, max_wrong, min_ok, max_ok)."""
    min_wrong, max_wrong, min_ok, max_ok = bounds
    start, end = (min_ok, max_ok) if correct else (max_wrong, min_wrong)
    progress = min(1.0, tokens / max_length)
    return start + 0.5 * (end - start) * (1.0 + math.cos(progress * math.pi))


@reward_function
def cosine_length_reward(
    messages: Any,
    *,
    ground_truth: Any = None,
    correctness: float | None = None,
    is_correct: bool | None = None,
    max_length: int = 1000,
    min_value_wrong: float = 0.0,
    max_value_wrong: float = 0.3,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
    token_method: str = "whitespace",
    **kwargs: Any,
) -> EvaluateResult:
    """Shorter correct answers score more; longer wrong ones are penalised less. Correct:
    `is_correct`, else `correctness` >= 0.9 (neither: wrong)."""
    text, failure = answer_or_failure(messages, "cosine_length")
    if failure is not None or text is None:
        return failure  # type: ignore[return-value]
    tokens = count_tokens(text, method=token_method)
    correct = is_correct if is_correct is not None else (correctness or 0.0) >= 0.9
    bounds = (min_value_wrong, max_value_wrong, min_value_correct, max_value_correct)
    score = cosine_scaled(tokens, max_length, correct, bounds)
    factor = math.cos(min(1.0, tokens / max_length) * math.pi)
    kind = "reward" if correct else "penalty"
    detail = f"Length-based {kind}: {tokens}/{max_length} tokens, cosine factor: {factor:.2f}"
    reason = (
        f"Correct solution with length penalty: {tokens} tokens"
        if correct
        else f"Incorrect solution with length consideration: {tokens} tokens"
    )
    metrics = {
        "cosine_length": MetricResult(score=score, is_score_valid=correct, reason=detail),
        "token_count": MetricResult(
            score=min(1.0, float(tokens) / max_length),
            is_score_valid=correct,
            reason=f"Token count: {tokens}/{max_length}",
        ),
        "correctness": MetricResult(
            score=1.0 if correct else 0.0,
            is_score_valid=correct,
            reason=f"Solution is {'correct' if correct else 'incorrect'}",
        ),
    }
    return EvaluateResult(score=score, reason=reason, metrics=metrics)
