"""OpenAI grader specs (string_check, text_similarity, score_model, python, multi): parsing,
validation and {{ }} templates. Executing them is graders.py's job, inside the sandbox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .entrypoints import detect_entry_point
from .formula import parse_formula
from .textsim import METRICS
from .values import EvaluatorCodeError

GRADER_TYPES = ("string_check", "text_similarity", "score_model", "python", "multi")
STRING_OPERATIONS = ("eq", "ne", "like", "ilike")
_TEMPLATE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_PATH_PART = re.compile(r"[A-Za-z_][\w-]*|\d+")


def parse_spec_text(text: str) -> dict[str, Any] | None:
    """A grader spec given as JSON text, or None when the text is not one (it is code)."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "type" in value else None


def _fail(path: str, message: str) -> EvaluatorCodeError:
    return EvaluatorCodeError(f"grader {path}: {message}")


def _check_template(path: str, field: str, text: Any) -> None:
    if not isinstance(text, str):
        raise _fail(path, f"'{field}' must be a string")
    for match in _TEMPLATE.finditer(text):
        namespace = match.group(1).split(".", 1)[0]
        if namespace not in ("item", "sample"):
            raise _fail(path, f"template {match.group(0)} must start with item. or sample.")


def _check_score_model(path: str, spec: Mapping[str, Any]) -> None:
    messages = spec.get("input")
    if not isinstance(messages, list) or not messages:
        raise _fail(path, "'input' must be a non-empty list of messages")
    for message in messages:
        if not isinstance(message, Mapping) or "role" not in message:
            raise _fail(path, "each input message needs a 'role' and a 'content'")
        _check_template(path, "content", message.get("content"))
    if not isinstance(spec.get("model", ""), str):
        raise _fail(path, "'model' must be a string")
    bounds = spec.get("range", [0, 1])
    if (
        not isinstance(bounds, list)
        or len(bounds) != 2
        or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
        or not bounds[0] < bounds[1]
    ):
        raise _fail(path, "'range' must be [low, high] with low < high")


def _check_python(path: str, spec: Mapping[str, Any]) -> None:
    source = spec.get("source")
    if not isinstance(source, str):
        raise _fail(path, "'source' must hold the Python code defining grade(sample, item)")
    try:
        entry = detect_entry_point(source)
    except EvaluatorCodeError as exc:
        raise EvaluatorCodeError(f"grader {path}: {exc.message}", exc.line) from None
    if entry.kind != "grade":
        raise _fail(path, "python graders must define grade(sample, item)")


def validate_grader(spec: Any, path: str = "") -> None:
    """Raise EvaluatorCodeError naming the first problem in a grader spec (recursively)."""
    if not isinstance(spec, Mapping):
        raise EvaluatorCodeError(f"grader {path or 'spec'}: must be a JSON object")
    kind = spec.get("type")
    path = path or str(spec.get("name") or kind)
    if kind == "label_model":
        raise _fail(path, "label_model graders are not supported; use a score_model grader")
    if kind not in GRADER_TYPES:
        raise _fail(path, f"unknown type {kind!r}; expected one of {', '.join(GRADER_TYPES)}")
    if kind in ("string_check", "text_similarity"):
        _check_template(path, "input", spec.get("input"))
        _check_template(path, "reference", spec.get("reference"))
    if kind == "string_check" and spec.get("operation") not in STRING_OPERATIONS:
        raise _fail(path, f"'operation' must be one of {', '.join(STRING_OPERATIONS)}")
    if kind == "text_similarity":
        metric = spec.get("evaluation_metric")
        if metric == "cosine":
            raise _fail(path, "the cosine metric needs an embedding model and is not supported")
        if metric not in METRICS:
            raise _fail(path, f"'evaluation_metric' must be one of {', '.join(METRICS)}")
        threshold = spec.get("pass_threshold", 0.0)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise _fail(path, "'pass_threshold' must be a number")
    if kind == "score_model":
        _check_score_model(path, spec)
    if kind == "python":
        _check_python(path, spec)
    if kind == "multi":
        graders = spec.get("graders")
        if not isinstance(graders, Mapping) or not graders:
            raise _fail(path, "'graders' must map names to grader specs")
        for name, sub in graders.items():
            validate_grader(sub, f"{path}.{name}")
        parse_formula(spec.get("calculate_output", ""), set(graders))


def needs_network(spec: Mapping[str, Any]) -> bool:
    if spec.get("type") == "score_model":
        return True
    graders = spec.get("graders")
    return isinstance(graders, Mapping) and any(needs_network(g) for g in graders.values())


def _lookup(context: Mapping[str, Any], expression: str) -> Any:
    value: Any = context
    for part in _PATH_PART.findall(expression.replace("[", ".").replace("]", "")):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(f"template {{{{{expression}}}}}: no {part!r} here")
    return value


def render(template: str, context: Mapping[str, Any]) -> str:
    """Fill {{item.x}}, {{sample.output_text}}, {{sample.output_json.a.b}}; strict on typos."""

    def substitute(match: re.Match[str]) -> str:
        value = _lookup(context, match.group(1))
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False)

    return _TEMPLATE.sub(substitute, template)
