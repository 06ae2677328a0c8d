"""reward_kit.rewards.format: format_reward, with reward-kit's behaviour (a wrong format scores
0 and is marked is_score_valid=False, as reward-kit marks it)."""

from __future__ import annotations

import re
from typing import Any

from ...results import EvaluateResult, MetricResult, reward_function
from ._common import answer_or_failure

DEFAULT_FORMAT = r"^<think>\n.*?</think>\n<answer>\n.*?</answer>$"


@reward_function
def format_reward(
    messages: Any,
    ground_truth: Any = None,
    format_regex: str = DEFAULT_FORMAT,
    require_exact_match: bool = True,
    **kwargs: Any,
) -> EvaluateResult:
    text, failure = answer_or_failure(messages, "format_check")
    if failure is not None or text is None:
        assert failure is not None
        return failure.model_copy(update={"is_score_valid": False})
    pattern = re.compile(format_regex, re.DOTALL)
    found = pattern.match(text) if require_exact_match else pattern.search(text)
    ok = found is not None
    detail = (
        "Text follows the required format pattern"
        if ok
        else "Text does not follow the required format pattern"
    )
    return EvaluateResult(
        score=1.0 if ok else 0.0,
        reason="Format is correct" if ok else "Format is incorrect",
        metrics={"format_check": MetricResult(score=float(ok), is_score_valid=ok, reason=detail)},
        is_score_valid=ok,
    )
