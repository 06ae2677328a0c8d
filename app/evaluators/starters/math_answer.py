"""Math answer (numeric).

Scores a math answer against the row's `ground_truth`. The model's answer is taken from the
last \\boxed{...}, else from a GSM8K-style "#### 42" line, else the last number in the reply.
Numbers compare with a tolerance (row field `tolerance`, default 1e-6), so "0.50" matches
"0.5", "1/2" and "\frac{1}{2}"; thousands separators, "$" and "%" are ignored. A non-numeric
ground truth falls back to a case- and space-insensitive text comparison.
Score: 1.0 right, 0.0 wrong or no answer found.
"""

import math
import re
from fractions import Fraction
from typing import Any

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
DEFAULT_TOLERANCE = 1e-6


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...}, with nested braces."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def extract_answer(text: str) -> str | None:
    """The final answer in a reply: boxed, then '#### x', then the last number."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip()
    marker = re.search(r"####\s*(.+)", text)
    if marker:
        return marker.group(1).strip()
    numbers = NUMBER.findall(text)
    return numbers[-1] if numbers else None


def to_number(text: str) -> float | None:
    cleaned = text.replace(",", "").replace("$", "").replace("%", "").strip().rstrip(".")
    frac = re.fullmatch(r"\\[dt]?frac\{(-?\d+)\}\{(\d+)\}", cleaned)
    if frac:
        cleaned = f"{frac.group(1)}/{frac.group(2)}"
    try:
        return float(Fraction(cleaned))
    except (ValueError, ZeroDivisionError):
        return None


def evaluate(messages: list[dict[str, Any]], ground_truth: Any = None, **fields: Any) -> dict:
    reply = str(messages[-1].get("content") or "")
    if ground_truth is None:
        return {"score": 0.0, "is_score_valid": False, "reason": "row has no ground_truth"}
    truth = extract_answer(str(ground_truth)) or str(ground_truth)
    answer = extract_answer(reply)
    if answer is None:
        return {"score": 0.0, "reason": "no answer found in the reply"}
    expected, got = to_number(truth), to_number(answer)
    if expected is not None and got is not None:
        tolerance = float(fields.get("tolerance") or DEFAULT_TOLERANCE)
        right = math.isclose(got, expected, rel_tol=tolerance, abs_tol=tolerance)
    else:
        right = " ".join(answer.lower().split()) == " ".join(truth.lower().split())
    verdict = "right" if right else "wrong"
    return {"score": float(right), "reason": f"answer {answer!r}, expected {truth!r}: {verdict}"}
