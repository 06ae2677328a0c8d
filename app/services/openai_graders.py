"""A grader run's result in the shape of OpenAI's ``GraderRunResponse``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.evaluators import SampleResult

ERROR_FLAGS = (
    "formula_parse_error",
    "invalid_variable_error",
    "model_grader_parse_error",
    "model_grader_refusal_error",
    "model_grader_server_error",
    "other_error",
    "python_grader_runtime_error",
    "python_grader_server_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
)


def _types(spec: Mapping[str, Any]) -> set[str]:
    found = {str(spec.get("type"))}
    children = spec.get("graders")
    if isinstance(children, Mapping):
        for child in children.values():
            if isinstance(child, Mapping):
                found |= _types(child)
    return found


def _errors(spec: Mapping[str, Any], result: SampleResult) -> dict[str, Any]:
    errors: dict[str, Any] = dict.fromkeys(ERROR_FLAGS, False)
    errors.update(
        python_grader_runtime_error_details=None,
        python_grader_server_error_type=None,
        model_grader_server_error_details=None,
    )
    if result.is_score_valid:
        return errors
    text = result.error or result.reason or "the grader gave no score"
    kinds = _types(spec)
    if "template {{" in text:
        errors["invalid_variable_error"] = True
    elif "formula" in text.lower():
        errors["formula_parse_error"] = True
    elif "timed out" in text.lower() or "timeout" in text.lower():
        errors["unresponsive_reward_error"] = True
    elif "python" in kinds:
        errors["python_grader_runtime_error"] = True
        errors["python_grader_runtime_error_details"] = text
    elif "score_model" in kinds:
        errors["model_grader_server_error"] = True
        errors["model_grader_server_error_details"] = text
    else:
        errors["other_error"] = True
    return errors


def run_response(spec: Mapping[str, Any], result: SampleResult) -> dict[str, Any]:
    subs = {name: metric.score for name, metric in result.metrics.items()}
    reward = result.score if result.is_score_valid and result.score is not None else 0.0
    name = str(spec.get("name") or spec.get("type"))
    return {
        "reward": reward,
        "sub_rewards": subs,
        "model_grader_token_usage_per_model": {},
        "metadata": {
            "name": name,
            "type": str(spec.get("type")),
            "errors": _errors(spec, result),
            "execution_time": result.duration_ms / 1000,
            "scores": {name: reward, **subs},
            "token_usage": None,
            "sampled_model_name": None,
            # Additions: the runtime's own words (print output, reason, error).
            "reason": result.reason,
            "stdout": result.stdout,
            "error": result.error,
        },
    }
