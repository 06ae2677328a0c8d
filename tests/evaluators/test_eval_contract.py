"""Static checks: entry-point detection, grader-spec validation, the formula language."""

from __future__ import annotations

import json

import pytest

from app.evaluators import EvaluatorCodeError, check_code, load_evaluator_spec
from app.evaluators.formula import evaluate_formula, parse_formula


@pytest.mark.parametrize(
    ("code", "kind", "name"),
    [
        ("def evaluate(messages, **fields):\n    return 1.0\n", "evaluate", "evaluate"),
        ("def my_reward(prompt, completion, example):\n    return 1\n", "reward_fn", "my_reward"),
        ("def reward(prompts, completions, **kwargs):\n    return []\n", "batch", "reward"),
        ("def grade(sample, item):\n    return 1\n", "grade", "grade"),
        (
            "def compute_score(data_source, solution_str, ground_truth, extra_info=None):\n"
            "    return 1\n",
            "compute_score",
            "compute_score",
        ),
        (
            "from reward_kit import reward_function\n\n@reward_function\n"
            "def judge(messages, **kw):\n    return 1.0\n",
            "evaluate",
            "judge",
        ),
    ],
)
def test_each_convention_is_detected(code: str, kind: str, name: str) -> None:
    info = check_code(code)
    assert (info.kind, info.name) == (kind, name)


def test_helpers_do_not_count_and_async_is_noticed() -> None:
    code = "def helper(x):\n    return x\n\nasync def evaluate(messages, **kw):\n    return 1.0\n"
    info = check_code(code)
    assert info.kind == "evaluate" and info.is_async and info.line == 4


def test_syntax_error_reports_its_line() -> None:
    with pytest.raises(EvaluatorCodeError) as caught:
        check_code("def evaluate(messages, **kw):\n    return (1.0\n\nx = 1\n")
    assert caught.value.message.startswith("SyntaxError")
    assert caught.value.line is not None and caught.value.line >= 2


def test_no_entry_point_lists_the_conventions() -> None:
    with pytest.raises(EvaluatorCodeError) as caught:
        check_code("def helper(x):\n    return x\n")
    assert "no entry point" in caught.value.message
    assert "compute_score(data_source" in caught.value.message


def test_several_reward_functions_become_components() -> None:
    code = "def evaluate(messages, **kw):\n    return 1\n\ndef grade(sample, item):\n    return 1\n"
    entry = check_code(code)
    assert entry.kind == "components"
    assert [(c.name, c.kind, c.line) for c in entry.components] == [
        ("evaluate", "evaluate", 1),
        ("grade", "grade", 4),
    ]


def test_wrong_signature_is_reported_at_the_def() -> None:
    with pytest.raises(EvaluatorCodeError) as caught:
        check_code("x = 1\n\ndef grade(sample):\n    return 1\n")
    assert "grade() must take (sample, item)" in caught.value.message
    assert caught.value.line == 3


def test_needs_network_flag() -> None:
    code = "NEEDS_NETWORK = True\n\ndef evaluate(messages, **kw):\n    return 1\n"
    assert check_code(code).needs_network
    assert not check_code("def evaluate(messages, **kw):\n    return 1\n").needs_network


def test_spec_key_follows_the_code() -> None:
    a = load_evaluator_spec("def evaluate(messages, **kw):\n    return 1.0\n")
    b = load_evaluator_spec("def evaluate(messages, **kw):\n    return 1.0\n")
    c = load_evaluator_spec("def evaluate(messages, **kw):\n    return 0.0\n")
    assert a.key == b.key != c.key


STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.ground_truth}}",
    "operation": "eq",
}


def test_grader_spec_as_dict_or_json_text() -> None:
    assert check_code(STRING_CHECK).kind == "grader_spec"
    info = check_code(json.dumps(STRING_CHECK))
    assert info.kind == "grader_spec" and info.name == "exact"
    assert not info.needs_network


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "nope"}, "unknown type 'nope'"),
        ({**STRING_CHECK, "operation": "regex"}, "'operation' must be one of"),
        ({**STRING_CHECK, "input": "{{answer}}"}, "must start with item. or sample."),
        ({"type": "label_model", "name": "l"}, "label_model graders are not supported"),
        (
            {
                "type": "text_similarity",
                "input": "a",
                "reference": "b",
                "evaluation_metric": "cosine",
            },
            "cosine metric needs an embedding model",
        ),
        ({"type": "python", "source": "def helper(x):\n    return x\n"}, "no entry point"),
        (
            {"type": "multi", "graders": {"a": STRING_CHECK}, "calculate_output": "a + b"},
            "'b', which is not a grader",
        ),
        (
            {
                "type": "multi",
                "graders": {"a": STRING_CHECK},
                "calculate_output": "__import__('os').system('id')",
            },
            "may call only",
        ),
        (
            {"type": "multi", "graders": {"a": STRING_CHECK}, "calculate_output": "a.real"},
            "Attribute is not allowed",
        ),
    ],
)
def test_bad_grader_specs_are_explained(spec: dict[str, object], message: str) -> None:
    with pytest.raises(EvaluatorCodeError) as caught:
        load_evaluator_spec(spec)
    assert message in str(caught.value)


def test_python_grader_syntax_error_keeps_the_line() -> None:
    spec = {"type": "python", "name": "p", "source": "def grade(sample, item):\n    return (\n"}
    with pytest.raises(EvaluatorCodeError) as caught:
        load_evaluator_spec(spec)
    assert "SyntaxError" in caught.value.message and caught.value.line is not None


def test_score_model_needs_network() -> None:
    spec = {
        "type": "multi",
        "graders": {
            "judge": {
                "type": "score_model",
                "name": "judge",
                "model": "m",
                "input": [{"role": "user", "content": "Grade {{sample.output_text}}"}],
            },
            "exact": STRING_CHECK,
        },
        "calculate_output": "0.5 * judge + 0.5 * exact",
    }
    assert check_code(spec).needs_network


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("0.5 * a + 0.5 * b", 0.75),
        ("a ^ 2", 0.25),
        ("max(a, b) - min(a, b)", 0.5),
        ("sqrt(b) * abs(-a)", 0.5),
        ("(a + b) / 2", 0.75),
    ],
)
def test_formula(formula: str, expected: float) -> None:
    tree = parse_formula(formula, {"a", "b"})
    assert evaluate_formula(tree, {"a": 0.5, "b": 1.0}) == pytest.approx(expected)
