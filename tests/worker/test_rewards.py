"""The reward TRL trains on, through the real sandbox pool."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app.evaluators import EvaluatorPool
from worker.training.rewards import RewardHub, combine

EXACT = (
    "def evaluate(messages, ground_truth, **kw):\n"
    "    print('saw', messages[-1]['content'])\n"
    "    return float(messages[-1]['content'] == ground_truth)\n"
)
CRASHES_ON_SEVEN = (
    "def evaluate(messages, ground_truth, **kw):\n"
    "    if ground_truth == '7':\n"
    "        raise ValueError('boom')\n"
    "    return 0.5\n"
)


@pytest.fixture(scope="module")
def pool() -> Iterator[EvaluatorPool]:
    with EvaluatorPool(size=2, timeout_s=5) as started:
        yield started


def rows(*truths: str) -> list[str]:
    return [
        json.dumps({"messages": [{"role": "user", "content": "q"}], "ground_truth": t})
        for t in truths
    ]


def completions(*texts: str) -> list[list[dict[str, str]]]:
    return [[{"role": "assistant", "content": t}] for t in texts]


def test_weighted_mean_and_invalid_samples() -> None:
    assert combine([1.0, 3.0], [1.0, 0.0]) == 0.25
    assert combine([1.0, 1.0], [1.0, None]) is None


def test_scores_through_the_pool_with_weights(pool: EvaluatorPool) -> None:
    hub = RewardHub(
        pool,
        [
            {"name": "exact", "code": EXACT, "weight": 1.0},
            {"name": "half", "code": CRASHES_ON_SEVEN, "weight": 1.0},
        ],
        tenant="test",
    )
    hub.step = 3
    rewards = hub(["q"] * 3, completions("4", "5", "7"), row_json=rows("4", "6", "7"))
    assert rewards == [0.75, 0.25, None]  # the crash makes that sample invalid, not the run
    metrics = hub.take_metrics(3)
    assert metrics["rewards/exact/mean"] == pytest.approx(2 / 3)
    assert metrics["rewards/half/invalid_frac"] == pytest.approx(1 / 3)


def test_swapped_evaluators_apply_to_the_next_call(pool: EvaluatorPool) -> None:
    hub = RewardHub(pool, [{"name": "exact", "code": EXACT, "weight": 1.0}], tenant="test")
    assert hub(["q"], completions("4"), row_json=rows("4")) == [1.0]
    hub.set_evaluators([{"name": "half", "code": CRASHES_ON_SEVEN, "weight": 1.0}])
    assert hub(["q"], completions("4"), row_json=rows("4")) == [0.5]
