"""The assistant answer of a messages list, or the EvaluateResult reward-kit gives without one."""

from __future__ import annotations

from typing import Any

from ...results import EvaluateResult, Message, MetricResult


def answer_or_failure(messages: Any, metric: str) -> tuple[str | None, EvaluateResult | None]:
    def failure(reason: str, detail: str) -> tuple[None, EvaluateResult]:
        bad = MetricResult(score=0.0, is_score_valid=False, reason=detail)
        return None, EvaluateResult(score=0.0, reason=reason, metrics={metric: bad})

    if not messages:
        return failure("No messages provided", "No messages provided")
    last = messages[-1]
    role: Any
    content: Any
    if isinstance(last, Message):
        role, content = last.role, last.content
    elif isinstance(last, dict):
        role, content = last.get("role"), last.get("content")
    else:
        return failure("Last message is of unexpected type.", "Invalid message type in messages.")
    if role != "assistant" or not content:
        return failure(
            "No assistant response found", "Message not from assistant or has no content"
        )
    return str(content), None
