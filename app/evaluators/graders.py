"""Run OpenAI grader specs inside the worker (validated before by grader_specs.validate_grader)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from .formula import evaluate_formula, parse_formula
from .grader_specs import render
from .loader import exec_module
from .textsim import METRICS, prepare_metric
from .validate import check_score, describe

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LLM_TIMEOUT_S = 60.0


class GraderConfigError(RuntimeError):
    """A grader cannot run as configured (e.g. score_model without an endpoint)."""


Grade = dict[str, Any]  # {"score": float, "reason": str | None, "metrics": {...}}
_GradeFn = Callable[[dict[str, Any], dict[str, Any]], Grade]


def build(spec: Mapping[str, Any], key: str, llm: Mapping[str, Any] | None) -> _GradeFn:
    """A callable grade(sample, item) -> {"score", "reason", "metrics"} for a spec tree."""
    kind = spec["type"]
    name = str(spec.get("name") or kind)
    if kind == "string_check":
        return lambda sample, item: _string_check(spec, sample, item)
    if kind == "text_similarity":
        prepare_metric(spec["evaluation_metric"])  # at load, not inside a row's time limit
        return lambda sample, item: _text_similarity(spec, sample, item)
    if kind == "score_model":
        return lambda sample, item: _score_model(spec, sample, item, llm)
    if kind == "python":
        module = exec_module(spec["source"], key, label=re.sub(r"\W", "_", name))
        grade = module.grade
        return lambda sample, item: _python(grade, sample, item)
    if kind == "multi":
        children = {
            child: build(sub, f"{key}.{child}", llm) for child, sub in spec["graders"].items()
        }
        formula = parse_formula(spec["calculate_output"], set(children))
        return lambda sample, item: _multi(children, formula, sample, item)
    raise GraderConfigError(f"unknown grader type {kind!r}")


def _context(sample: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    return {"sample": sample, "item": item}


def _string_check(spec: Mapping[str, Any], sample: dict[str, Any], item: dict[str, Any]) -> Grade:
    context = _context(sample, item)
    given, reference = render(spec["input"], context), render(spec["reference"], context)
    operation = spec["operation"]
    if operation == "eq":
        passed = given == reference
    elif operation == "ne":
        passed = given != reference
    elif operation == "like":
        passed = reference in given
    else:  # ilike
        passed = reference.lower() in given.lower()
    shown = given if len(given) <= 80 else given[:77] + "..."
    verdict = "pass" if passed else "fail"
    return {"score": float(passed), "reason": f"{shown!r} {operation} {reference!r}: {verdict}"}


def _text_similarity(
    spec: Mapping[str, Any], sample: dict[str, Any], item: dict[str, Any]
) -> Grade:
    context = _context(sample, item)
    metric = spec["evaluation_metric"]
    value = METRICS[metric](render(spec["input"], context), render(spec["reference"], context))
    threshold = float(spec.get("pass_threshold", 0.0))
    verdict = "pass" if value >= threshold else "fail"
    return {
        "score": value,
        "reason": f"{metric} {value:.3f} (pass threshold {threshold:g}: {verdict})",
    }


def _python(grade: Callable[..., Any], sample: dict[str, Any], item: dict[str, Any]) -> Grade:
    value = grade(sample, item)
    score, problem = check_score(value, bounded=False)  # OpenAI takes any float here
    if problem:
        raise ValueError(f"grade() {problem}")
    return {"score": score, "reason": None}


def _multi(
    children: Mapping[str, _GradeFn], formula: Any, sample: dict[str, Any], item: dict[str, Any]
) -> Grade:
    metrics = {name: child(sample, item) for name, child in children.items()}
    scores = {name: float(m["score"]) for name, m in metrics.items()}
    output = evaluate_formula(formula, scores)
    parts = ", ".join(f"{name}={value:.3g}" for name, value in scores.items())
    return {
        "score": output,
        "reason": f"{parts} -> {output:.3g}",
        "metrics": {
            name: {"score": m["score"], "reason": m.get("reason")} for name, m in metrics.items()
        },
    }


def _endpoint(spec: Mapping[str, Any], llm: Mapping[str, Any] | None) -> tuple[str, str | None]:
    base_url = spec.get("base_url") or (llm or {}).get("base_url")
    if not base_url:
        raise GraderConfigError(
            "score_model grader has no endpoint: set 'base_url' in the spec or configure the "
            "pool's OpenAI-compatible endpoint (llm_endpoint)"
        )
    return str(base_url).rstrip("/"), spec.get("api_key") or (llm or {}).get("api_key")


def _score_model(
    spec: Mapping[str, Any],
    sample: dict[str, Any],
    item: dict[str, Any],
    llm: Mapping[str, Any] | None,
) -> Grade:
    base_url, api_key = _endpoint(spec, llm)
    context = _context(sample, item)
    messages = [
        {"role": m["role"], "content": render(m.get("content") or "", context)}
        for m in spec["input"]
    ]
    body: dict[str, Any] = {"model": spec.get("model") or (llm or {}).get("model") or "default"}
    body.update(spec.get("sampling_params") or {})
    body["messages"] = messages
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(
        f"{base_url}/chat/completions", data=json.dumps(body).encode(), headers=headers
    )
    with urllib.request.urlopen(request, timeout=_LLM_TIMEOUT_S) as response:
        reply = json.loads(response.read())
    text = reply["choices"][0]["message"]["content"] or ""
    low, high = (float(b) for b in spec.get("range", [0, 1]))
    raw = _parse_model_score(text)
    if not low <= raw <= high:
        raise ValueError(f"the model answered {raw:g}, outside its range [{low:g}, {high:g}]")
    return {"score": (raw - low) / (high - low), "reason": text.strip()[:500]}


def _parse_model_score(text: str) -> float:
    """The judge's number: a JSON {"result"/"score": x} or else the first number in the text."""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping):
        for field in ("result", "score", "steps_score"):
            if field in parsed and isinstance(parsed[field], int | float):
                return float(parsed[field])
    if isinstance(parsed, int | float) and not isinstance(parsed, bool):
        return float(parsed)
    match = _NUMBER.search(text)
    if not match:
        raise ValueError(f"the model's answer holds no score: {describe(text)}")
    return float(match.group(0))
