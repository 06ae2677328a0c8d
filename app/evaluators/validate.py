"""Judge what an evaluator returned: never coerce, always say what came back."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from .results import EvaluateResult, MetricResult
from .values import Metric, SampleResult


def describe(value: Any) -> str:
    """`str 'high'`, `list [1, 2]` — the type and a short repr, for error reasons."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _number(value: Any, *, bounded: bool, label: str) -> tuple[float | None, str | None]:
    """(value, None) when acceptable, else (None, why). bool is not a number here."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None, f"{label}returned {describe(value)}, expected a number"
    number = float(value)
    if math.isnan(number):
        return None, f"{label}returned NaN"
    if math.isinf(number):
        return None, f"{label}returned {'-' if number < 0 else ''}inf"
    if bounded and not 0.0 <= number <= 1.0:
        return None, f"{label}score {number:g} is outside 0–1"  # noqa: RUF001 (the en dash reads better)
    return number, None


def check_score(value: Any) -> tuple[float | None, str | None]:
    return _number(value, bounded=True, label="")


def _metrics(raw: Any) -> tuple[dict[str, Metric], str | None]:
    if raw is None:
        return {}, None
    if not isinstance(raw, Mapping):
        return {}, f"metrics must be a mapping, got {describe(raw)}"
    out: dict[str, Metric] = {}
    for name, item in raw.items():
        label = f"metric {name!r} "
        score: Any
        reason: Any
        if isinstance(item, MetricResult):
            score, reason = item.score, item.reason
        elif isinstance(item, Mapping):
            if "score" not in item:
                return {}, f"{label}has no 'score'"
            score, reason = item["score"], item.get("reason")
        else:
            score, reason = item, None
        number, problem = _number(score, bounded=False, label=label)
        if problem or number is None:
            return {}, problem
        out[str(name)] = Metric(score=number, reason=None if reason is None else str(reason))
    return out, None


def _from_mapping(fields: Mapping[str, Any]) -> SampleResult:
    if "score" not in fields:
        return SampleResult.invalid(f"returned a {type(fields).__name__} without 'score'")
    flag = fields.get("is_score_valid", True)
    if not isinstance(flag, bool):
        return SampleResult.invalid(f"is_score_valid must be a bool, got {describe(flag)}")
    raw_reason = fields.get("reason")
    reason = None if raw_reason is None else str(raw_reason)
    metrics, problem = _metrics(fields.get("metrics"))
    if problem:
        return SampleResult.invalid(problem)
    score, problem = check_score(fields["score"])
    if not flag:
        # The evaluator itself asked to skip this sample: keep what it said, report no error.
        return SampleResult(score=score, reason=reason, is_score_valid=False, metrics=metrics)
    if problem:
        return SampleResult.invalid(problem)
    return SampleResult(score=score, reason=reason, is_score_valid=True, metrics=metrics)


def judge(value: Any) -> SampleResult:
    """One sample's answer: a number, a dict / EvaluateResult, or something wrong."""
    if isinstance(value, EvaluateResult):
        return _from_mapping(
            {
                "score": value.score,
                "reason": value.reason,
                "is_score_valid": value.is_score_valid,
                "metrics": value.metrics,
            }
        )
    if isinstance(value, Mapping):
        return _from_mapping(value)
    if value is None:
        return SampleResult.invalid("returned None, expected a number")
    score, problem = check_score(value)
    if problem:
        return SampleResult.invalid(problem)
    return SampleResult(score=score, is_score_valid=True)


def judge_batch(values: Any, count: int) -> list[SampleResult]:
    """A batch answer: exactly one float or None per sample; None means skip that sample."""
    if not isinstance(values, list | tuple):
        reason = f"batch returned {describe(values)}, expected a list of {count} scores"
        return [SampleResult.invalid(reason) for _ in range(count)]
    if len(values) != count:
        reason = f"batch returned {len(values)} scores for {count} samples"
        return [SampleResult.invalid(reason) for _ in range(count)]
    results = []
    for value in values:
        if value is None:
            results.append(SampleResult.invalid("returned None (sample skipped)"))
            continue
        score, problem = check_score(value)
        if problem:
            results.append(SampleResult.invalid(problem))
        else:
            results.append(SampleResult(score=score, is_score_valid=True))
    return results
