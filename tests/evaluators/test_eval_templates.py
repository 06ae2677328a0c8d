"""Every built-in template scores a right and a wrong answer sensibly, in the sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.evaluators import EvaluatorPool, Sample, check_code, get_template, list_templates
from tests.evaluators.conftest import _JudgeHandler
from tests.evaluators.support import chat_row


def scores(pool: EvaluatorPool, slug: str, row: dict[str, Any], answers: list[str]) -> list[Any]:
    results = pool.score(get_template(slug).code, [Sample(row, a) for a in answers])
    assert all(r.error is None for r in results), [r.error for r in results]
    return results


def test_registry() -> None:
    templates = list_templates()
    assert templates[0].slug == "math_answer"
    assert len({t.slug for t in templates}) == len(templates) == 11
    for template in templates:
        assert template.name and len(template.description) > 80, template.slug
        assert check_code(template.code).kind == template.kind
    assert [t.slug for t in templates if t.needs_network] == ["llm_judge"]
    assert {t.kind for t in templates} >= {
        "evaluate",
        "reward_fn",
        "batch",
        "grade",
        "compute_score",
    }


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("So the total is \\boxed{1,250}.", 1.0),
        ("Step 1... Step 2...\n#### 1250", 1.0),
        ("The answer is 1250.0 dollars", 1.0),
        ("The answer is \\boxed{\\frac{5000}{4}}", 1.0),
        ("I think it is 1249", 0.0),
        ("no idea", 0.0),
    ],
)
def test_math_answer(pool: EvaluatorPool, answer: str, expected: float) -> None:
    (result,) = scores(pool, "math_answer", chat_row(ground_truth="#### 1250"), [answer])
    assert result.score == expected, result.reason


def test_exact_match(pool: EvaluatorPool) -> None:
    row = chat_row(ground_truth=["The Eiffel Tower", "Eiffel Tower"])
    exact, loose, wrong = scores(
        pool, "exact_match", row, ["Eiffel Tower", "the eiffel tower!", "Big Ben"]
    )
    assert (exact.score, loose.score, wrong.score) == (1.0, 1.0, 0.0)
    assert exact.metrics["exact"].score == 1.0 and loose.metrics["exact"].score == 0.0
    assert loose.reason == "match after normalization"


def test_list_ranking(pool: EvaluatorPool) -> None:
    row = chat_row(ground_truth="Paris")
    first, second, absent = scores(
        pool, "list_ranking", row, ["1. Paris\n2. Lyon", "1. Lyon\n2. Paris.", "Lyon, Nice"]
    )
    assert (first.score, second.score, absent.score) == (1.0, 0.5, 0.0)


def test_json_schema(pool: EvaluatorPool) -> None:
    schema = {
        "type": "object",
        "required": ["name", "age"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "additionalProperties": False,
    }
    row = chat_row(schema=schema)
    good, fenced, breaks, broken = scores(
        pool,
        "json_schema",
        row,
        [
            '{"name": "Ada", "age": 36}',
            '```json\n{"name": "Ada", "age": 36}\n```',
            '{"name": "Ada", "age": -1, "x": 1}',
            '{"name": "Ada", ',
        ],
    )
    assert (good.score, fenced.score, breaks.score, broken.score) == (1.0, 1.0, 0.5, 0.0)
    assert breaks.reason is not None and "$.age: -1 < minimum 0" in breaks.reason
    assert "unexpected property 'x'" in breaks.reason


def test_regex_format(pool: EvaluatorPool) -> None:
    good, bad = scores(
        pool, "regex_format", chat_row(), ["<think>2+2 is 4</think>\n<answer>4</answer>", "4"]
    )
    assert (good.score, bad.score) == (1.0, 0.0)


def test_function_call(pool: EvaluatorPool) -> None:
    row = chat_row(
        expected_call={"name": "get_weather", "arguments": {"city": "Oslo", "unit": "C"}}
    )
    right, hermes, half, wrong_name, none = scores(
        pool,
        "function_call",
        row,
        [
            '{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "C"}}',
            "<tool_call>"
            + json.dumps({"name": "get_weather", "arguments": '{"city": "Oslo", "unit": "C"}'})
            + "</tool_call>",
            '{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "F"}}',
            '{"name": "get_time", "arguments": {"city": "Oslo"}}',
            "It is sunny in Oslo.",
        ],
    )
    assert (right.score, hermes.score, half.score) == (1.0, 1.0, 0.75)
    assert (wrong_name.score, none.score) == (0.0, 0.0)


def test_code_tests(roomy_pool: EvaluatorPool) -> None:
    row = chat_row(tests=["assert add(2, 3) == 5", "assert add(-1, 1) == 0"])
    right, wrong, broken, hangs = scores(
        roomy_pool,
        "code_tests",
        row,
        [
            "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```",
            "```python\ndef add(a, b):\n    return abs(a) + b\n```",
            "```python\ndef add(a, b) return\n```",
            "```python\ndef add(a, b):\n    while True:\n        pass\n```",
        ],
    )
    assert (right.score, wrong.score, broken.score) == (1.0, 0.5, 0.0)
    assert hangs.score == 0.0 and "took longer than" in (hangs.reason or "")


def test_countdown(pool: EvaluatorPool) -> None:
    row = chat_row(ground_truth={"target": 24, "numbers": [3, 4, 6, 1]})
    right, misses, reuse, garbage = scores(
        pool,
        "countdown",
        row,
        [
            "Let me think.\n<answer>6 / (1 - 3 / 4)</answer>",
            "<answer>6 * 4 + 3 - 1</answer>",
            "<answer>6 * 4 * 1 * 1</answer>",
            "I cannot do it",
        ],
    )
    assert right.score == 1.0, right.reason
    assert misses.score == pytest.approx(0.1) and reuse.score == pytest.approx(0.1)
    assert garbage.score == 0.0


def test_text_similarity_template(pool: EvaluatorPool) -> None:
    row = chat_row(reference="the cat sat on the mat")
    same, close, far = scores(
        pool, "text_similarity", row, ["The cat sat on the mat.", "a cat sat on a mat", "dogs bark"]
    )
    assert same.score == 1.0 and 0.3 < close.score < 1.0 and far.score == 0.0


def test_length_penalty(pool: EvaluatorPool) -> None:
    row = chat_row(target_words=10)
    on_target, long, empty = scores(pool, "length_penalty", row, ["word " * 11, "word " * 16, ""])
    assert on_target.score == 1.0
    assert 0.0 < long.score < 1.0
    assert empty.score == 0.0


def test_llm_judge_unconfigured_skips(network_pool: EvaluatorPool) -> None:
    (result,) = network_pool.score(get_template("llm_judge").code, [Sample(chat_row(), "4")])
    assert not result.is_score_valid and "not configured" in (result.reason or "")


def test_llm_judge(network_pool: EvaluatorPool, judge_server: type[_JudgeHandler]) -> None:
    row = chat_row(judge_base_url=judge_server.base_url, ground_truth="4")
    judge_server.reply = "SCORE: 9"
    (good,) = scores(network_pool, "llm_judge", row, ["4"])
    judge_server.reply = "SCORE: 2"
    (bad,) = scores(network_pool, "llm_judge", row, ["5"])
    assert (good.score, bad.score) == (0.9, 0.2)
    assert "Answer to grade: 4" in judge_server.requests[0]["body"]["messages"][0]["content"]
