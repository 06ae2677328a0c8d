"""reward_kit.rewards.accuracy_length: cosine_scaled_accuracy_length_reward, with reward-kit's
behaviour: 0.7 x accuracy_reward's score + 0.3 x the cosine length score (correct when the
answer_accuracy metric succeeded), clipped to 0-1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...results import EvaluateResult, Message, MetricResult, reward_function
from .accuracy import accuracy_reward
from .length import cosine_scaled, count_tokens


@reward_function
def cosine_scaled_accuracy_length_reward(
    messages: list[Message],
    ground_truth: list[Message] | None = None,
    extract_fn: Callable[[str], str] | None = None,
    compare_fn: Callable[[str, str], float] | None = None,
    max_length: int = 1000,
    min_value_wrong: float = 0.0,
    max_value_wrong: float = 0.3,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
    token_method: str = "whitespace",
    correctness_weight: float = 0.7,
    length_weight: float = 0.3,
    **kwargs: Any,
) -> EvaluateResult:
    """Accuracy and length efficiency in one score: short right answers score best."""
    if not messages:
        bad = MetricResult(score=0.0, is_score_valid=False, reason="No messages provided")
        return EvaluateResult(
            score=0.0, reason="No messages provided", metrics={"combined_reward": bad}
        )
    response = messages[-1]
    if response.role != "assistant" or not response.content:
        detail = "Message not from assistant or has no content"
        bad = MetricResult(score=0.0, is_score_valid=False, reason=detail)
        return EvaluateResult(
            score=0.0,
            reason="No assistant response found or response has no content",
            metrics={"combined_reward": bad},
        )
    accuracy = accuracy_reward(
        messages=messages, ground_truth=ground_truth, extract_fn=extract_fn, compare_fn=compare_fn
    )
    accurate = accuracy.metrics.get("answer_accuracy")
    correct = bool(accurate and accurate.is_score_valid)
    tokens = count_tokens(response.content, method=token_method)
    bounds = (min_value_wrong, max_value_wrong, min_value_correct, max_value_correct)
    length_score = cosine_scaled(tokens, max_length, correct, bounds)
    combined = accuracy.score * correctness_weight + length_score * length_weight
    combined = max(0.0, min(1.0, combined))
    within = tokens <= max_length
    reason = (
        f"Combined score (acc:{accuracy.score:.2f}*{correctness_weight:.1f} + "
        f"len:{length_score:.2f}*{length_weight:.1f} = {combined:.2f}). "
        f"Accuracy: {accuracy.reason or 'No reason from accuracy_reward'}. "
        f"Length: {tokens}/{max_length} tokens"
    )
    progress = min(1.0, tokens / max_length)
    metrics = {
        "combined_reward": MetricResult(
            score=combined, is_score_valid=correct, reason=f"Combined score: {combined:.2f}"
        ),
        "accuracy": MetricResult(
            score=accuracy.score, is_score_valid=correct, reason=f"Accuracy: {accuracy.score:.2f}"
        ),
        "length": MetricResult(
            score=length_score,
            is_score_valid=within,
            reason=f"Length: {tokens}/{max_length} tokens, score: {length_score:.2f}",
        ),
        "token_count": MetricResult(
            score=min(1.0, max(0.0, 1.0 - progress)),
            is_score_valid=within,
            reason=f"Token count: {tokens}/{max_length}",
        ),
    }
    return EvaluateResult(
        score=combined, reason=reason, metrics=metrics, is_score_valid=combined > 0.0
    )
