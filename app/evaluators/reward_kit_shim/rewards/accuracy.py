"""reward_kit.rewards.accuracy: accuracy_reward and its helpers, with reward-kit's behaviour.

The answer is pulled out of the response by reward-kit's heuristics (answer phrases, "x = …",
last lines, a lone number, LaTeX, a few common words) and compared with the first ground-truth
message: equal after normalising, close numerically (graded 1.0 / 0.9 / 0.8 / 0.5 / 0.3), or
word overlap (Jaccard) for text. `ground_truth` is a list of messages, as reward-kit takes it.
Metrics `answer_extraction` and `answer_accuracy`; 0.9 or more counts as a success.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...results import EvaluateResult, Message, MetricResult, reward_function

_NUMBER = r"[-+]?\d+(?:\.\d+)?(?:/\d+)?"
PI = "3.14159"
# (pattern, what it means): tried in order on the text, then on its lower-case form.
_ANSWER_PATTERNS: tuple[str, ...] = (
    rf"(?:answer|result|solution)(?:\s+is|\s*[:=])\s*(?:x\s*=\s*)?({_NUMBER})",
    rf"(?:therefore|thus|so)[,:]?\s*(?:x\s*=\s*)?({_NUMBER})",
    rf"(?:the value of|value)\s*(?:x|y|z)\s*(?:is|=)\s*({_NUMBER})",
    rf"x\s*=\s*({_NUMBER})",
    rf"(?:=|equals)\s*({_NUMBER})",
    r"(?:answer|result|solution)[^0-9\n.]*?is[^0-9\n.]*?((?:\([-+]?\))?(?:\d+(?:\.\d+)?(?:/\d+)?))",
    r"(?:answer|result|value)[^0-9\n.]*?((?:\([-+]?\))?(?:\d+(?:\.\d+)?(?:/\d+)?))",
    r"(?:answer|result|value|=)\s*(?:is\s*)?(?:π|pi)",  # pi alone
    r"(?:answer|result|value|=)\s*(?:is\s*)?(\d+(?:\.\d+)?π)",
    r"(?:answer|result|value|=)\s*(?:is\s*)?π(?:\s*=\s*)?(?:≈\s*)?(3\.14\d*)",
    r"(?:answer|result|value|=)\s*(?:is\s*)?([-+]?\d+(?:\.\d+)?)\s*(?:meters|feet|kg|seconds)",
    rf"\$x\s*=\s*({_NUMBER})\$",
    r"(?:approximately|about|≈|~)\s*([-+]?\d+\.\d+)",
)
_PI_ALONE = _ANSWER_PATTERNS[7]
_LATEX = (r"\$x\s*=\s*([^$]+)\$", r"\$([^$]+)\$", r"\\\((.*?)\\\)", r"\\\[(.*?)\\\]")


def normalize_text(text: str) -> str:
    """Lower case, single spaces, no punctuation or brackets, the times and divide signs as *
    and /."""
    text = re.sub(r"\s+", " ", text.lower())
    text = re.sub(r"[,.;:!?\"']", "", text)
    text = re.sub(r"[\(\)\[\]\{\}]", "", text)
    text = re.sub(r"[^\w\s\d+-/*=]", "", text)
    return text.replace("\u00d7", "*").replace("\u00f7", "/").strip()


def _from_match(match: re.Match[str], pattern: str) -> str | None:
    if pattern == _PI_ALONE:
        return PI
    if not match.groups():
        return None
    found = re.sub(r"[.,;:]$", "", match.group(1).strip())
    if "π" not in found and "pi" not in found.lower():
        return found
    coefficient = found.replace("π", "").replace("Pi", "").replace("pi", "").strip()
    if coefficient in ("", "1"):
        return PI
    try:
        return str(float(coefficient) * float(PI))
    except ValueError:
        return coefficient


def _from_phrases(text: str) -> str | None:
    for variant in (text, text.lower()):
        for pattern in _ANSWER_PATTERNS:
            match = re.search(pattern, variant, re.IGNORECASE)
            if match:
                found = _from_match(match, pattern)
                if found is not None:
                    return found
    return None


def _from_last_lines(text: str) -> str | None:
    for line in reversed(text.strip().split("\n")[-3:]):
        if any(word in line.lower() for word in ("answer", "result", "solution")):
            numbers = re.findall(r"[-+]?\d+(?:\.\d+)?", line)
            if numbers:
                return str(numbers[-1])
    return None


def _from_short_text(text: str) -> str | None:
    if len(text) >= 200:
        return None
    numbers = re.findall(r"(?:^|\s|[^\w])([-+]?\d+(?:\.\d+)?)(?:\s|$|[^\w])", text)
    if len(numbers) == 1:
        return str(numbers[0])
    if numbers and len(text.split()) < 30:
        return str(numbers[-1])
    return None


def _from_latex(text: str) -> str | None:
    for pattern in _LATEX:
        found = re.findall(pattern, text)
        if found:
            expression = str(found[-1]).strip().split("=")[-1].strip()
            numbers = re.findall(r"[-+]?\d+(?:\.\d+)?", expression)
            return numbers[-1] if numbers else re.sub(r"[\\{}\[\]]", "", expression)
    return None


def extract_math_expression(text: str) -> str:
    """The final answer in a response, by reward-kit's heuristics; "" when none is found."""
    for step in (_from_phrases, _from_last_lines, _from_short_text):
        found = step(text)
        if found is not None:
            return found
    if re.search(r"capital|city|country|president|largest|smallest", text.lower()):
        noun = re.search(r"is\s+([A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)*)", text)
        if noun:
            return noun.group(1).strip()
    found = _from_latex(text)
    if found is not None:
        return found
    for word in ("Paris", "London", "yes", "no", "true", "false"):
        if word.lower() in text.lower():
            return word
    return normalize_text(text) if len(text) < 50 else ""


def string_similarity(first: str, second: str) -> float:
    """Jaccard overlap of the two texts' words."""
    if not first and not second:
        return 1.0
    words1, words2 = set(first.split()), set(second.split())
    if not first or not second:
        return 0.0
    union = words1 | words2
    return len(words1 & words2) / len(union) if union else 1.0


def _as_number(text: str) -> float | None:
    try:
        if text.count("/") == 1:
            numerator, denominator = text.split("/")
            return float(numerator) / float(denominator)
        return float(text)
    except (ValueError, ZeroDivisionError):
        return None


def _same_two_decimals(pred: str, gt: str) -> float | None:
    """reward-kit's first numeric check: two equal leading decimals and a small difference."""
    try:
        pred_value, gt_value = float(pred), float(gt)
    except ValueError:
        return None
    pred_digits = str(pred_value).split(".")[1] if "." in str(pred_value) else ""
    gt_digits = str(gt_value).split(".")[1] if "." in str(gt_value) else ""
    if len(pred_digits) < 2 or len(gt_digits) < 2 or pred_digits[:2] != gt_digits[:2]:
        return None
    difference = abs(pred_value - gt_value)
    if difference < 0.01:
        return 1.0
    if difference / max(abs(gt_value), 0.001) < 0.05:
        return 0.9
    return None


def _graded(pred_value: float, gt_value: float) -> float:
    if pred_value == gt_value:
        return 1.0
    error = abs(pred_value - gt_value)
    tolerance = 0.001 if abs(gt_value) < 0.1 else 0.01 if abs(gt_value) < 1.0 else 0.1
    if error <= tolerance:
        return 1.0
    if gt_value == 0:
        return 1.0 if error < 0.01 else 0.5 if error < 0.1 else 0.0
    relative = error / abs(gt_value)
    for limit, score in ((0.001, 1.0), (0.01, 0.9), (0.05, 0.8), (0.1, 0.5), (0.3, 0.3)):
        if relative < limit:
            return score
    return 0.0


def compare_math_expressions(pred: str, gt: str) -> float:
    """How well a predicted answer matches the expected one, 0.0 to 1.0."""
    if not pred or not gt:
        return 1.0 if not pred and not gt else 0.0
    pred_norm, gt_norm = normalize_text(pred), normalize_text(gt)
    if pred_norm == gt_norm:
        return 1.0
    overlap = gt.lower() in pred.lower() or pred.lower() in gt.lower()
    if len(gt) > 2 and not gt.replace(".", "").isdigit() and overlap:
        return 1.0
    pred_clean, gt_clean = pred_norm.replace(" ", ""), gt_norm.replace(" ", "")
    for prefix in ("3.14", "314"):
        if pred_clean.startswith(prefix) and gt_clean.startswith(prefix):
            return 1.0
    close = _same_two_decimals(pred_clean, gt_clean)
    if close is not None:
        return close
    pred_value, gt_value = _as_number(pred_clean), _as_number(gt_clean)
    if pred_value is None or gt_value is None:
        return string_similarity(pred_norm, gt_norm)
    return _graded(pred_value, gt_value)


def _content(message: Any) -> tuple[str | None, str | None]:
    """(role, content) of a Message or a dict; (None, None) for anything else."""
    if isinstance(message, Message):
        return message.role, message.content
    if isinstance(message, dict):
        return message.get("role"), message.get("content")
    return None, None


def _invalid(reason: str, detail: str) -> EvaluateResult:
    bad = MetricResult(score=0.0, is_score_valid=False, reason=detail)
    return EvaluateResult(score=0.0, reason=reason, metrics={"accuracy": bad})


@reward_function
def accuracy_reward(
    messages: Any,
    ground_truth: Any = None,
    extract_fn: Callable[[str], str] | None = None,
    compare_fn: Callable[[str, str], float] | None = None,
    **kwargs: Any,
) -> EvaluateResult:
    """Score the last (assistant) message against the first ground-truth message's content."""
    if not messages:
        return _invalid("No messages provided.", "No messages provided.")
    role, response = _content(messages[-1])
    if role != "assistant" or response is None:
        return _invalid("Last message not valid assistant response.", "Invalid assistant response.")
    if not ground_truth or not isinstance(ground_truth, list):
        return _invalid("Ground truth not provided/invalid.", "Invalid ground truth format.")
    _, expected = _content(ground_truth[0])
    if expected is None:
        return _invalid("First GT message has no content.", "Ground truth content missing.")
    extracted = (extract_fn or extract_math_expression)(response)
    if not extracted and response and len(expected) > 2 and expected.lower() in response.lower():
        extracted = expected
    similarity = (compare_fn or compare_math_expressions)(extracted, expected)
    found = bool(extracted)
    metrics = {
        "answer_extraction": MetricResult(
            score=1.0 if found else 0.0,
            is_score_valid=found,
            reason=f"Extracted answer: '{extracted}'" if found else "Failed to extract answer",
        ),
        "answer_accuracy": MetricResult(
            score=similarity,
            is_score_valid=similarity >= 0.9,
            reason=f"Answer similarity: {similarity:.2f}",
        ),
    }
    reason = f"Expected: '{expected}', Extracted: '{extracted}', Similarity: {similarity:.2f}"
    return EvaluateResult(score=similarity, reason=reason, metrics=metrics)
