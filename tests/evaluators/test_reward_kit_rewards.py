"""reward_kit.rewards.accuracy, .math, .accuracy_length and length's cosine_length_reward,
called as Fireworks' examples call them, with the numbers reward-kit's own rules give (worked
out by hand next to each case from reward-kit's source, cited in the modules)."""

from __future__ import annotations

import pytest

from app.evaluators import EvaluatorPool, Sample
from app.evaluators.runtime import install_reward_kit

install_reward_kit()

from reward_kit import Message  # noqa: E402
from reward_kit.rewards.accuracy import accuracy_reward  # noqa: E402
from reward_kit.rewards.accuracy_length import cosine_scaled_accuracy_length_reward  # noqa: E402
from reward_kit.rewards.length import cosine_length_reward  # noqa: E402
from reward_kit.rewards.math import extract_numbers, math_reward  # noqa: E402


def convo(answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": "What is 6 * 7?"}, {"role": "assistant", "content": answer}]


@pytest.mark.parametrize(
    ("answer", "truth", "score"),
    [
        ("The answer is 42", "42", 1.0),  # "answer is 42": exact after normalising
        ("I think it's 40", "42", 0.8),  # one number; relative error 2/42 < 0.05
        ("I think it's 30", "42", 0.3),  # relative error 12/42 = 0.29 < 0.3
        ("The capital of France is Paris.", "Paris", 1.0),  # the proper noun after "is"
        ("No idea, sorry, I cannot work that out at all today.", "42", 0.0),
    ],
)
def test_accuracy_reward(answer: str, truth: str, score: float) -> None:
    result = accuracy_reward(
        messages=convo(answer), ground_truth=[{"role": "assistant", "content": truth}]
    )
    assert result.score == pytest.approx(score)
    assert result.metrics["answer_accuracy"].is_score_valid == (score >= 0.9)


def test_accuracy_reward_wants_ground_truth_as_messages() -> None:
    result = accuracy_reward(messages=convo("42"), ground_truth="42")
    assert result.score == 0.0 and result.reason == "Ground truth not provided/invalid."


@pytest.mark.parametrize(
    ("answer", "truth", "score"),
    [
        ("So the answer is \\boxed{42}.", "42", 1.0),
        ("#### 42", "42", 1.0),  # GSM8K's final-answer marker
        ("\\boxed{42.01}", "42", 1.0),  # within the 0.001 relative tolerance
        ("\\boxed{41}", "42", 0.0),  # 1/42 is 24 tolerances away: similarity 0
        ("6 * 7 = 42", "42", 0.0),  # three numbers for one expected answer: ambiguous
        ("It is 42 or 43", "42", 0.0),  # alternatives joined by an unboxed "or"
        ("<answer>42</answer>", "\\boxed{42}", 1.0),
    ],
)
def test_math_reward(answer: str, truth: str, score: float) -> None:
    result = math_reward(messages=convo(answer), ground_truth=truth)
    assert result.score == pytest.approx(score), result.reason


def test_math_reward_explains_strictness_and_extraction() -> None:
    ambiguous = math_reward(messages=convo("6 * 7 = 42"), ground_truth="42")
    assert "strictness_penalty_ambiguity" in ambiguous.metrics
    assert extract_numbers("x = 4y + 3, so 3") == [("3", 3.0), ("3", 3.0)]  # 4 is a coefficient
    assert extract_numbers("\\boxed{\\frac{3}{4}}") == [("\\boxed{\\frac{3}{4}}", 0.75)]


@pytest.mark.parametrize(
    ("correct", "score"),
    [(True, 0.75), (False, 0.15)],  # 5 of 10 tokens: cos(pi/2) = 0, halfway along each range
)
def test_cosine_length_reward(correct: bool, score: float) -> None:
    messages = convo("one two three four five")
    result = cosine_length_reward(messages=messages, is_correct=correct, max_length=10)
    assert result.score == pytest.approx(score)
    assert result.metrics["correctness"].score == float(correct)


def test_cosine_length_reward_reads_correctness() -> None:
    short = cosine_length_reward(messages=convo("yes"), correctness=0.95, max_length=1000)
    assert short.score == pytest.approx(1.0, abs=1e-4)  # correct and almost empty: the maximum


def test_cosine_scaled_accuracy_length_reward() -> None:
    messages = [
        Message(role="user", content="6*7?"),
        Message(role="assistant", content="The answer is 42"),
    ]
    truth = [Message(role="assistant", content="42")]
    result = cosine_scaled_accuracy_length_reward(
        messages=messages, ground_truth=truth, max_length=8
    )
    # 0.7 x accuracy 1.0 + 0.3 x length score 0.75 (4 of 8 tokens, a correct answer).
    assert result.score == pytest.approx(0.925)
    assert result.metrics["length"].score == pytest.approx(0.75)


def test_the_modules_import_in_the_sandbox(pool: EvaluatorPool) -> None:
    code = """from reward_kit import reward_function
from reward_kit.rewards.math import math_reward
from reward_kit.rewards.accuracy import accuracy_reward


@reward_function
def evaluate(messages, ground_truth=None, **kwargs):
    first = math_reward(messages=messages, ground_truth=str(ground_truth))
    gt = [{"role": "assistant", "content": str(ground_truth)}]
    second = accuracy_reward(messages=messages, ground_truth=gt)
    return {"score": (first.score + second.score) / 2}
"""
    row = {"messages": [{"role": "user", "content": "6*7?"}], "ground_truth": "42"}
    right, wrong = pool.score(code, [Sample(row, "\\boxed{42}"), Sample(row, "\\boxed{41}")])
    # 41 for 42: math_reward 0 (24 tolerances off), accuracy_reward 0.8 (error 1/42 < 0.05).
    assert (right.score, wrong.score) == (1.0, pytest.approx(0.4))
