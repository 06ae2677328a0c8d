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


# Only reward-kit's evaluate() promises 0-1; TRL, verl, Predibase and OpenAI's python grader
# take any finite number (unsloth's correctness reward gives 2.0, math_dapo gives -1).
BOUNDED_KINDS = frozenset({"evaluate"})
# TRL's None: this function does not apply to the sample (its other functions still count).
SKIPPED = "returned None (sample skipped)"


def is_skipped(result: SampleResult) -> bool:
    return not result.is_score_valid and result.error is None and result.reason == SKIPPED


def check_score(value: Any, bounded: bool = True) -> tuple[float | None, str | None]:
    return _number(value, bounded=bounded, label="")


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


def _verl_mapping(fields: Mapping[str, Any]) -> SampleResult:
    """verl's dict: `score` is the reward; every other key goes to reward_extra_info, so
    numbers (and bools) become metrics and the rest is shown in the reason."""
    if "score" not in fields:
        return SampleResult.invalid("compute_score returned a dict without 'score' (verl needs it)")
    score, problem = check_score(fields["score"], bounded=False)
    if problem:
        return SampleResult.invalid(problem)
    metrics: dict[str, Metric] = {}
    notes = []
    for key, value in fields.items():
        if key == "score":
            continue
        if isinstance(value, bool | numbers.Real) and math.isfinite(float(value)):
            metrics[str(key)] = Metric(score=float(value))
        else:
            notes.append(f"{key}={value!r}"[:200])
    reason = "; ".join(notes) or None
    return SampleResult(score=score, reason=reason, is_score_valid=True, metrics=metrics)


def _from_mapping(fields: Mapping[str, Any], bounded: bool = True) -> SampleResult:
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
    score, problem = check_score(fields["score"], bounded)
    if not flag:
        # The evaluator itself asked to skip this sample: keep what it said, report no error.
        return SampleResult(score=score, reason=reason, is_score_valid=False, metrics=metrics)
    if problem:
        return SampleResult.invalid(problem)
    return SampleResult(score=score, reason=reason, is_score_valid=True, metrics=metrics)


def judge(value: Any, kind: str = "evaluate") -> SampleResult:
    """One sample's answer, judged by its convention's rules: a number, a dict /
    EvaluateResult, or something wrong."""
    bounded = kind in BOUNDED_KINDS
    if kind == "reward_fn":
        return _predibase(value)
    if kind == "compute_score" and isinstance(value, Mapping):
        return _verl_mapping(value)
    if isinstance(value, EvaluateResult):
        return _from_mapping(
            {
                "score": value.score,
                "reason": value.reason,
                "is_score_valid": value.is_score_valid,
                "metrics": value.metrics,
            },
            bounded,
        )
    if isinstance(value, Mapping):
        return _from_mapping(value, bounded)
    if value is None:
        return SampleResult.invalid("returned None, expected a number")
    score, problem = check_score(value, bounded)
    if problem:
        return SampleResult.invalid(problem)
    return SampleResult(score=score, is_score_valid=True)


def _predibase(value: Any) -> SampleResult:
    """Predibase counts a non-numeric return as 0; NaN and inf are still errors."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        reason = f"returned {describe(value)}, not a number: Predibase counts it as 0"
        return SampleResult(score=0.0, reason=reason, is_score_valid=True)
    score, problem = check_score(value, bounded=False)
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
            results.append(SampleResult.invalid(SKIPPED))
            continue
        score, problem = check_score(value, bounded=False)
        if problem:
            results.append(SampleResult.invalid(problem))
        else:
            results.append(SampleResult(score=score, is_score_valid=True))
    return results


def merge_components(names: list[str], parts: list[SampleResult]) -> SampleResult:
    """One sample's result for a module with several reward functions (the IDE preview).

    The score is the mean of the components that scored, as a job with equal weights trains
    on; a component that returned None (TRL's skip) is left out, as TRL's nansum leaves it;
    any other invalid component makes the sample invalid. Each component's score is a metric
    named after it; its own metrics are prefixed with its name.
    """
    metrics: dict[str, Metric] = {}
    problems: list[str] = []
    scores: list[float] = []
    outputs: list[str] = []
    merged = SampleResult()
    for name, part in zip(names, parts, strict=True):
        if part.stdout:
            outputs.append(f"[{name}]\n{part.stdout}")
        merged.duration_ms += part.duration_ms
        for metric_name, metric in part.metrics.items():
            metrics[f"{name}/{metric_name}"] = metric
        if part.is_score_valid and part.score is not None:
            scores.append(part.score)
            metrics[name] = Metric(score=part.score, reason=part.reason)
        elif not is_skipped(part):
            problems.append(f"{name}: {part.reason}")
            if merged.error is None and part.error is not None:
                merged.error, merged.error_line = part.error, part.error_line
    merged.metrics = metrics
    merged.stdout = "".join(outputs)
    if problems:
        merged.reason = "; ".join(problems)
    elif not scores:
        merged.reason = f"every reward function {SKIPPED}"
    else:
        merged.score = sum(scores) / len(scores)
        merged.is_score_valid = True
        merged.reason = ", ".join(f"{n} {m.score:g}" for n, m in metrics.items() if n in names)
    return merged
