"""reward_kit.rewards.math: math_reward, extract_numbers and compare_numbers, with reward-kit's
behaviour.

Answers are extracted by priority: <answer>/<ans> tags, then \\boxed{} (authoritative when
present, even if nothing numeric is inside), then GSM8K's "#### 42", then every number in the
text (LaTeX fractions and x·10^n, scientific, fractions, 1,234.5, decimals, integers; a number
that is a coefficient such as the 4 of "4x" is skipped; overlapping matches keep the earliest,
longest). The response fails strictly when it offers numeric alternatives joined by an unboxed
"or", when the truth has one answer and the response several, or when it matches but also
states other numbers (unless a boxed answer matches a boxed truth). Otherwise the score is the
best similarity between any expected and any extracted value.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ...results import EvaluateResult, Message, MetricResult, reward_function

Answer = tuple[str, float | str]
_VARIABLES = set("xyzabcntqpruvw")
_FRAC = r"\\frac\{(-?\d+(?:\.\d+)?)\}\{(-?\d+(?:\.\d+)?)\}"


def _parse_numeric(text: str) -> float | None:
    """An integer, decimal or simple fraction "a/b"; None otherwise."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    fraction = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*/\s*(-?\d+(?:\.\d+)?)", text)
    if fraction:
        denominator = float(fraction.group(2))
        return float(fraction.group(1)) / denominator if denominator else None
    return None


def _fraction(text: str) -> float | None:
    found = re.fullmatch(_FRAC, text)
    if found and float(found.group(2)):
        return float(found.group(1)) / float(found.group(2))
    return None


def _is_coefficient(text: str, match: re.Match[str], group: int = 1, unit: int = 0) -> bool:
    """The matched number multiplies a variable ("4x", "3 y"): not an answer."""
    suffix = (match.group(unit) or "").strip() if unit and match.group(unit) else ""
    if len(suffix) == 1 and suffix.lower() in _VARIABLES:
        return True
    end = match.end(group)
    for gap in (0, 1):
        at = end + gap
        if gap and (at >= len(text) or text[end] != " "):
            break
        alone = at + 1 == len(text) or (at + 1 < len(text) and not text[at + 1].isalnum())
        if at < len(text) and text[at].lower() in _VARIABLES and alone:
            return True
    return False


def _tag_answers(text: str) -> list[Answer]:
    found: list[Answer] = []
    pattern = r"<(?P<tag>answer|ans)\b[^>]*>(?P<inner>.*?)</(?P=tag)>"
    for match in re.finditer(pattern, text, re.IGNORECASE | re.DOTALL):
        inner = re.sub(r"^\$+|^\(+|^\[+|(\$|\)|\])+?$", "", match.group("inner").strip()).strip()
        value = _parse_numeric(inner)
        if value is None:
            value = _fraction(inner)
        if value is None and re.fullmatch(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?", inner):
            value = float(inner.replace(",", ""))
        unit = re.fullmatch(r"(-?\d+(?:\.\d+)?)[ ]*[a-zA-Z%]+", inner)
        if value is None and unit:
            value = float(unit.group(1))
        if value is not None:
            found.append((match.group(0), value))
    return found


def _boxed_value(content: str) -> float | str | None:
    if " or " in content.lower():
        return content
    if re.fullmatch(r"[A-Ea-e]", content):
        return content.upper()
    value = _fraction(content)
    if value is None:
        value = _parse_numeric(content)
    unit = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*([a-zA-Z%]+)", content)
    if value is None and unit:
        value = float(unit.group(1))
    return value


def _boxed_answers(text: str) -> tuple[list[Answer], bool]:
    found: list[Answer] = []
    any_boxed = False
    for match in re.finditer(r"\\boxed\s*\{\s*((?:[^{}]|\{[^{}]*\})*?)\s*\}", text):
        any_boxed = True
        content = match.group(1).strip()
        value = _boxed_value(content) if content else None
        if value is not None:
            found.append((match.group(0), value))
    numeric = [v for _, v in found if isinstance(v, float)]
    same = all(math.isclose(v, numeric[0], rel_tol=1e-9, abs_tol=1e-9) for v in numeric[1:])
    if len(found) > 1 and len(numeric) == len(found) and same:
        found = found[:1]  # the same number boxed twice is one answer
    return found, any_boxed


def _gsm8k_answers(text: str) -> list[Answer]:
    number = r"-?\d{1,3}(?:,\d{3})*(?:\.\d+)?|-?\d+(?:\.\d+)?"
    return [
        (match.group(0), float(match.group(1).replace(",", "")))
        for match in re.finditer(rf"####\s*({number})", text)
    ]


# (pattern, number group, unit group, priority, value) over the whole text, after LaTeX blocks.
_GENERAL: tuple[tuple[str, int, int, int], ...] = (
    (r"(?<![a-zA-Z0-9_])(-?\d+\.?\d*[eE][-+]?\d+)(?:\s*([a-zA-Z%]+))?", 1, 2, 4),
    (
        r"(?<!\d/)(?<!\d)(?<!\.)(-?\d+)\s*/\s*(-?\d+)(?!\.\d)(?!\d*/)"
        r"(?:\s+(?!(?:and|or)\b)([a-zA-Z%]+)\b)?",
        1,
        3,
        5,
    ),
    (r"(?<![a-zA-Z0-9_])(-?\d{1,3}(?:,\d{3})*(?:\.\d+)?)(?:\s*([a-zA-Z%]+))?", 1, 2, 6),
    (r"(?<![a-zA-Z0-9_])(?<!,\d{3})(-?\d+\.\d+)(?!\d*[eE])(?:\s*([a-zA-Z%]+))?", 1, 2, 7),
    (
        r"(?<![a-zA-Z0-9_])(?<!\d\.)(-?\d+)(?!\.\d)(?![eE][-+]?\d+)(?!,\d{3})(?!\s*/\s*\d+)"
        r"(?:\s*([a-zA-Z%]+))?",
        1,
        2,
        8,
    ),
)


def _latex_candidates(text: str) -> list[tuple[int, int, int, str, float]]:
    out = []
    for block in re.finditer(r"\$\$(.*?)\$\$|\$(.*?)\$", text, re.DOTALL):
        which = 1 if block.group(1) is not None else 2
        content, offset = block.group(which), block.start(which)
        if not content or (content.strip().startswith("\\boxed{") and content.strip()[-1] == "}"):
            continue
        for m in re.finditer(_FRAC, content):
            if float(m.group(2)):
                value = float(m.group(1)) / float(m.group(2))
                out.append((m.start() + offset, m.end() + offset, 1, m.group(0), value))
        for m in re.finditer(r"(-?\d+(?:\.\d+)?)\s*\\times\s*10\^\{(.*?)\}", content):
            try:
                value = float(m.group(1)) * 10 ** float(m.group(2))
            except ValueError:
                continue
            out.append((m.start() + offset, m.end() + offset, 2, m.group(0), value))
        for m in re.finditer(r"(?<![a-zA-Z0-9_])(-?\d+(?:\.\d+)?)(?![a-zA-Z0-9_])", content):
            if not _is_coefficient(content, m):
                span = (m.start(1) + offset, m.end(1) + offset)
                out.append((*span, 3, m.group(1), float(m.group(1))))
    return out


def _general_answers(text: str) -> list[Answer]:
    candidates = _latex_candidates(text)
    for pattern, group, unit, priority in _GENERAL:
        for m in re.finditer(pattern, text):
            if _is_coefficient(text, m, group, unit):
                continue
            if priority == 5:  # a fraction, shown as "a/b unit"
                if not float(m.group(2)):
                    continue
                shown = f"{m.group(1)}/{m.group(2)}" + (f" {m.group(3)}" if m.group(3) else "")
                value = float(m.group(1)) / float(m.group(2))
            else:
                shown, value = m.group(0), float(m.group(1).replace(",", ""))
            candidates.append((m.start(), m.end(), priority, shown, value))
    candidates.sort(key=lambda c: (c[0], -(c[1] - c[0]), c[2]))
    chosen: list[Answer] = []
    covered = -1
    for start, end, _, shown, value in candidates:
        if start >= covered:
            chosen.append((shown, float(value)))
            covered = end
    return chosen


def extract_numbers(text: str) -> list[Answer]:
    """(matched text, value) of the answers in a text, by reward-kit's priority order."""
    tagged = _tag_answers(text)
    if tagged:
        return tagged
    boxed, any_boxed = _boxed_answers(text)
    if any_boxed:
        return boxed
    return _gsm8k_answers(text) or _general_answers(text)


def compare_numbers(
    expected: float,
    actual: float,
    relative_tolerance: float = 1e-5,
    absolute_tolerance: float = 1e-8,
) -> tuple[bool, float]:
    """(close enough, similarity 0-1 falling linearly to 0 at one tolerance away)."""
    if math.isclose(expected, actual, rel_tol=relative_tolerance, abs_tol=absolute_tolerance):
        return True, 1.0
    try:
        if expected == 0:
            return False, max(0.0, 1.0 - min(1.0, abs(actual) / absolute_tolerance))
        error = abs((expected - actual) / expected)
        return False, max(0.0, 1.0 - min(1.0, error / relative_tolerance))
    except (ZeroDivisionError, OverflowError):
        return False, 0.0


def _has_unit(shown: str, value: float) -> bool:
    content = shown[7:-1].strip() if shown.startswith("\\boxed{") and shown[-1] == "}" else shown
    terms = [str(value)] + ([str(int(value))] if value == int(value) else [])
    for term in dict.fromkeys(terms):
        at = content.find(term)
        rest = content[at + len(term) :].strip().split(" ")[0] if at != -1 else ""
        if rest and not rest.replace(".", "", 1).isdigit() and rest.lower() != "or":
            return True
    return False


def _fail(reason: str, metric: str, detail: str, metrics: dict[str, Any]) -> EvaluateResult:
    metrics[metric] = MetricResult(score=0.0, is_score_valid=False, reason=detail)
    return EvaluateResult(score=0.0, reason=reason, metrics=metrics)


def _listed(items: list[Answer]) -> str:
    return ", ".join(f"'{text}' ({value})" for text, value in items) if items else "None"


def _similarity(
    expected: Answer, got: Answer, tolerance: float, absolute: float, require_units: bool
) -> tuple[bool, float, str]:
    """(match, similarity, how it was compared) for one expected and one extracted answer."""
    (expected_text, expected_value), (got_text, got_value) = expected, got
    if isinstance(expected_value, float) and isinstance(got_value, float):
        if require_units and _has_unit(expected_text, expected_value) != _has_unit(
            got_text, got_value
        ):
            how = (
                "Unit presence mismatch (require_units=True). "
                f"Orig_text: '{expected_text}', Gen_text: '{got_text}'"
            )
            return False, 0.0, how
        match, similarity = compare_numbers(expected_value, got_value, tolerance, absolute)
        how = f"Numeric match: {'Yes' if match else 'No'}, Similarity: {similarity:.3f}"
        return match, similarity, how
    if isinstance(expected_value, str) and isinstance(got_value, str):
        same = expected_value.lower() == got_value.lower()
        values = f"(value: '{got_value}' vs '{expected_value}')"
        how = f"String match: {'Yes' if same else 'No'} {values}"
        return same, 1.0 if same else 0.0, how
    kinds = f"Gen({type(got_value).__name__}) vs Orig({type(expected_value).__name__})"
    return False, 0.0, f"Type mismatch: {kinds}"


@reward_function
def math_reward(
    messages: list[Message],
    *,
    ground_truth: str,
    tolerance: float = 0.001,
    absolute_tolerance: float = 1e-8,
    require_units: bool = False,
    **kwargs: Any,
) -> EvaluateResult:
    """Compare the numbers in the last (assistant) message with those in `ground_truth`."""
    last = messages[-1] if messages else None
    if not isinstance(last, Message) or last.role != "assistant" or last.content is None:
        detail = "Last message not a valid assistant response."
        return _fail("Invalid or missing assistant response in messages.", "error", detail, {})
    if not ground_truth:
        reason = "Missing or empty ground_truth (expected math answer string)."
        return _fail(reason, "error", "Invalid ground_truth string.", {})
    response = last.content
    got_all, expected = extract_numbers(response), extract_numbers(ground_truth)
    metrics: dict[str, Any] = {
        "extracted_original_answers": MetricResult(
            score=0.0,
            is_score_valid=bool(expected),
            reason=f"Extracted from original: {_listed(expected)}",
        ),
        "extracted_generated_answers": MetricResult(
            score=0.0,
            is_score_valid=bool(got_all),
            reason=f"Extracted from generated (initial): {_listed(got_all)}",
        ),
    }
    if not expected:
        reason = "Could not extract answers from original message (ground truth)."
        return EvaluateResult(score=0.0, reason=reason, metrics=metrics)
    if not got_all:
        reason = (
            "Could not extract answers from generated message, but original message has answers."
        )
        return EvaluateResult(score=0.0, reason=reason, metrics=metrics)
    got, boxed_match = _boxed_leniency(expected, got_all, tolerance, absolute_tolerance, metrics)
    strict = _strictness(response, expected, got, metrics)
    if strict is not None:
        return strict
    best, matched, reason = 0.0, False, ""
    for want in expected:
        for have in got:
            match, similarity, how = _similarity(
                want, have, tolerance, absolute_tolerance, require_units
            )
            pair = f"Gen='{have[0]}' ({have[1]}) vs Orig='{want[0]}' ({want[1]}).\n{how}"
            if similarity > best:
                best, matched, reason = similarity, match, f"Best match: {pair}"
            elif not reason:
                reason = f"Initial comparison: {pair}"
    if matched and best > 0.75 and not boxed_match:
        extra = _conflicting(expected, got, tolerance, absolute_tolerance)
        if extra:
            detail = (
                "Generated answer, while containing a match for an original answer, also includes "
                f"other distinct numerical values not matching any original answer: [{extra}]"
            )
            metrics["strictness_penalty_conflicting_answers"] = MetricResult(
                score=0.0, is_score_valid=False, reason=detail
            )
            best, matched = 0.0, False
            reason = f"Strictness fail (Conflicting Answers): {detail}. Initial match was: {reason}"
    metrics["answer_comparison"] = MetricResult(
        score=best, is_score_valid=matched and best > 0, reason=reason
    )
    return EvaluateResult(score=best, reason=reason, metrics=metrics)


def _boxed_leniency(
    expected: list[Answer],
    got: list[Answer],
    tolerance: float,
    absolute: float,
    metrics: dict[str, Any],
) -> tuple[list[Answer], bool]:
    """A single boxed truth matched by a boxed answer: only that answer counts."""
    if len(expected) != 1 or not expected[0][0].startswith("\\boxed{"):
        return got, False
    want = expected[0][1]
    if not isinstance(want, float):
        return got, False
    for text, value in got:
        boxed = text.startswith("\\boxed{") and isinstance(value, float)
        if boxed and math.isclose(float(value), want, rel_tol=tolerance, abs_tol=absolute):
            metrics["demo_leniency_info"] = MetricResult(
                score=1.0,
                is_score_valid=True,
                reason=f"Demo Leniency: Matching boxed answer '{text}' found. "
                "Simplified gen_answers to this match.",
            )
            return [(text, value)], True
    return got, False


def _strictness(
    response: str, expected: list[Answer], got: list[Answer], metrics: dict[str, Any]
) -> EvaluateResult | None:
    numbers = [v for _, v in extract_numbers(response) if isinstance(v, float)]
    boxed_or = len(got) == 1 and isinstance(got[0][1], str) and " or " in got[0][1].lower()
    if " or " in response.lower() and len(numbers) > 1 and not boxed_or:
        detail = (
            "Generated answer offers multiple numeric alternatives with an unboxed 'or' in the "
            "raw response."
        )
        reason = f"Strictness fail (Issue #1 - Unboxed 'or'): {detail}"
        return _fail(reason, "strictness_penalty_unboxed_or", detail, metrics)
    if len(expected) == 1 and len(got) > 1:
        detail = (
            "Ground truth is specific (one answer), but generated answer is ambiguous (multiple "
            "answers extracted, even after potential leniency)."
        )
        reason = f"Strictness fail (Issue #2 - Ambiguity): {detail}"
        return _fail(reason, "strictness_penalty_ambiguity", detail, metrics)
    return None


def _conflicting(
    expected: list[Answer], got: list[Answer], tolerance: float, absolute: float
) -> str:
    wanted = [v for _, v in expected if isinstance(v, float)]
    extra = {
        value
        for _, value in got
        if isinstance(value, float)
        and not any(math.isclose(value, w, rel_tol=tolerance, abs_tol=absolute) for w in wanted)
    }
    return ", ".join(map(str, sorted(extra)))
