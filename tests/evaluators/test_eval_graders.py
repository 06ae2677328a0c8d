"""OpenAI grader specs, run through the pool."""

from __future__ import annotations

from typing import Any

import pytest

from app.evaluators import EvaluatorPool, Sample, textsim
from tests.evaluators.conftest import _JudgeHandler
from tests.evaluators.support import chat_row, samples


def string_check(operation: str, reference: str = "{{item.label}}") -> dict[str, Any]:
    return {
        "type": "string_check",
        "name": "check",
        "input": "{{sample.output_text}}",
        "reference": reference,
        "operation": operation,
    }


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ("eq", [1.0, 0.0, 0.0]),
        ("ne", [0.0, 1.0, 1.0]),
        ("like", [1.0, 0.0, 1.0]),
        ("ilike", [1.0, 1.0, 1.0]),
    ],
)
def test_string_check(pool: EvaluatorPool, operation: str, expected: list[float]) -> None:
    rows = samples(["Paris", "PARIS", "It is Paris."], label="Paris")
    assert [r.score for r in pool.score(string_check(operation), rows)] == expected


def test_templates_reach_into_output_json(pool: EvaluatorPool) -> None:
    spec = string_check("eq", reference="{{item.expected.city}}")
    spec["input"] = "{{sample.output_json.answer.city}}"
    rows = samples(['{"answer": {"city": "Oslo"}}', '{"answer": {"city": "Rome"}}'])
    rows = [Sample(chat_row(expected={"city": "Oslo"}), s.completion) for s in rows]
    assert [r.score for r in pool.score(spec, rows)] == [1.0, 0.0]


def test_a_template_typo_invalidates_the_sample(pool: EvaluatorPool) -> None:
    (result,) = pool.score(string_check("eq", "{{item.lable}}"), samples(["x"], label="x"))
    assert not result.is_score_valid
    assert result.reason is not None and "no 'lable' here" in result.reason


@pytest.mark.parametrize("metric", ["fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_l"])
def test_text_similarity(request: pytest.FixtureRequest, metric: str) -> None:
    slow_import = metric in textsim.NLTK_METRICS
    pool: EvaluatorPool = request.getfixturevalue("nltk_pool" if slow_import else "pool")
    spec = {
        "type": "text_similarity",
        "name": "sim",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference}}",
        "evaluation_metric": metric,
        "pass_threshold": 0.5,
    }
    reference = "the quick brown fox jumps over the lazy dog"
    rows = samples(
        [reference, "the quick brown fox sleeps", "entirely unrelated words"], reference=reference
    )
    same, close, far = pool.score(spec, rows)
    assert same.score == pytest.approx(1.0, abs=0.01)
    assert same.score > close.score > far.score  # type: ignore[operator]
    assert same.reason is not None and same.reason.endswith("pass)")
    assert far.reason is not None and far.reason.endswith("fail)")


def test_multi_grader_combines_with_a_formula(pool: EvaluatorPool) -> None:
    spec = {
        "type": "multi",
        "name": "combined",
        "graders": {
            "exact": string_check("eq"),
            "loose": string_check("ilike"),
            "short": {
                "type": "python",
                "name": "short",
                "source": "def grade(sample, item):\n"
                "    return 1.0 if len(sample['output_text']) < 6 else 0.0\n",
            },
        },
        "calculate_output": "0.5 * exact + 0.25 * loose + 0.25 * short",
    }
    exact, loose, wrong = pool.score(spec, samples(["Paris", "paris!!!", "Rome"], label="Paris"))
    assert (exact.score, loose.score, wrong.score) == (1.0, 0.25, 0.25)
    assert exact.metrics["exact"].score == 1.0 and loose.metrics["loose"].score == 1.0


def test_python_grader_errors_point_at_the_grader_line(pool: EvaluatorPool) -> None:
    spec = {
        "type": "python",
        "name": "broken",
        "source": "def grade(sample, item):\n    total = 0\n    return item['missing'] + total\n",
    }
    (result,) = pool.score(spec, samples(["x"]))
    assert not result.is_score_valid and result.error_line == 3
    assert result.reason == "raised KeyError: 'missing'"


def score_model(**extra: Any) -> dict[str, Any]:
    return {
        "type": "score_model",
        "name": "judge",
        "model": "grader-model",
        "input": [
            {"role": "system", "content": "Grade from 0 to 10."},
            {"role": "user", "content": "Answer: {{sample.output_text}} Reference: {{item.label}}"},
        ],
        "range": [0, 10],
        **extra,
    }


def test_score_model_is_refused_without_network(pool: EvaluatorPool) -> None:
    (result,) = pool.score(score_model(base_url="http://127.0.0.1:9/v1"), samples(["x"]))
    assert not result.is_score_valid
    assert result.reason is not None and "allow_network=False" in result.reason


def test_score_model_without_endpoint_says_so(network_pool: EvaluatorPool) -> None:
    (result,) = network_pool.score(score_model(), samples(["x"], label="y"))
    assert not result.is_score_valid
    assert result.reason is not None and "score_model grader has no endpoint" in result.reason


def test_score_model_calls_the_endpoint(
    network_pool: EvaluatorPool, judge_server: type[_JudgeHandler]
) -> None:
    spec = score_model(base_url=judge_server.base_url, api_key="sk-test")
    (result,) = network_pool.score(spec, samples(["Paris"], label="Paris"))
    assert result.score == pytest.approx(0.7), result.reason
    (request,) = judge_server.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "grader-model"
    assert request["body"]["messages"][1]["content"] == "Answer: Paris Reference: Paris"


def test_score_model_uses_the_pool_endpoint(judge_server: type[_JudgeHandler]) -> None:
    judge_server.reply = '{"result": 2.5}'
    endpoint = {"base_url": judge_server.base_url, "api_key": "sk-pool"}
    with EvaluatorPool(size=1, allow_network=True, llm_endpoint=endpoint) as pool:
        (result,) = pool.score(score_model(), samples(["x"], label="y"))
    assert result.score == pytest.approx(0.25)
    assert judge_server.requests[0]["auth"] == "Bearer sk-pool"
