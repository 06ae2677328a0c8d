"""The evaluator conventions, run for real through the sandboxed pool."""

from __future__ import annotations

import threading

import pytest

from app.evaluators import EvaluatorCodeError, EvaluatorPool, Sample
from tests.evaluators.support import chat_row, samples

ANSWERS = ["4", "5", "four", "4"]
EXPECTED = [1.0, 0.0, 0.0, 1.0]

CONVENTIONS: dict[str, str | dict[str, str]] = {
    "evaluate": """
def evaluate(messages, ground_truth=None, **fields):
    return {"score": float(messages[-1]["content"] == ground_truth), "reason": "compared"}
""",
    "async evaluate": """
import asyncio

async def evaluate(messages, ground_truth=None, **fields):
    await asyncio.sleep(0)
    return float(messages[-1]["content"] == ground_truth)
""",
    "reward_fn": """
def exact(prompt, completion, example):
    assert prompt == "What is 2 + 2?", prompt
    return float(completion == example["ground_truth"])
""",
    "batch": """
def reward(prompts, completions, ground_truth, **kwargs):
    assert prompts[0] == [{"role": "user", "content": "What is 2 + 2?"}], prompts[0]
    assert completions[0][0]["role"] == "assistant"
    assert len(ground_truth) == len(completions)
    return [float(c[0]["content"] == gt) for c, gt in zip(completions, ground_truth)]
""",
    "grade": """
def grade(sample, item):
    return float(sample["output_text"] == item["ground_truth"])
""",
    "compute_score": """
def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    assert data_source is None and extra_info is None  # verl: the row's own columns
    return float(solution_str == ground_truth)
""",
    "string_check spec": {
        "type": "string_check",
        "name": "exact",
        "input": "{{sample.output_text}}",
        "reference": "{{item.ground_truth}}",
        "operation": "eq",
    },
    "python grader spec": {
        "type": "python",
        "name": "exact",
        "source": "def grade(sample, item):\n"
        "    return float(sample['output_text'] == item['ground_truth'])\n",
    },
}


@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_every_convention_scores_the_same(pool: EvaluatorPool, name: str) -> None:
    results = pool.score(CONVENTIONS[name], samples(ANSWERS, ground_truth="4"))
    assert [r.error for r in results] == [None] * len(ANSWERS)
    assert [r.score for r in results] == EXPECTED
    assert all(r.is_score_valid for r in results)


def test_batch_on_a_prompt_dataset_gets_strings(pool: EvaluatorPool) -> None:
    code = """
def reward(prompts, completions, **kwargs):
    assert prompts == ["Say hi"] * len(completions), prompts
    return [float(c == "hi") for c in completions]
"""
    rows = [Sample({"prompt": "Say hi"}, c) for c in ["hi", "bye", "hi"]]
    assert [r.score for r in pool.score(code, rows)] == [1.0, 0.0, 1.0]


def test_fireworks_reward_kit_code_runs_as_is(pool: EvaluatorPool) -> None:
    code = """
from typing import List, Optional

from reward_kit import EvaluateResult, Message, MetricResult, reward_function


@reward_function
def evaluate(
    messages: List[Message], ground_truth: Optional[str] = None, **kwargs
) -> EvaluateResult:
    response = messages[-1].content
    correct = response.strip() == ground_truth
    return EvaluateResult(
        score=1.0 if correct else 0.0,
        reason="exact" if correct else "different",
        metrics={"length": MetricResult(score=len(response), reason="characters")},
    )
"""
    results = pool.score(code, samples(["4", "five"], ground_truth="4"))
    assert [r.score for r in results] == [1.0, 0.0]
    assert results[1].reason == "different"
    assert results[1].metrics["length"].score == 4.0


def test_preview_takes_the_trailing_assistant_message(pool: EvaluatorPool) -> None:
    code = "def grade(sample, item):\n    return float(sample['output_text'] == '4')\n"
    row = chat_row()
    row["messages"] = [*row["messages"], {"role": "assistant", "content": "4"}]  # type: ignore[misc]
    (result,) = pool.score(code, [Sample(row)])
    assert result.score == 1.0


@pytest.mark.parametrize(
    ("returned", "reason"),
    [
        ("float('nan')", "returned NaN"),
        ("1.7", "score 1.7 is outside 0–1"),  # noqa: RUF001
        ("'high'", "returned str 'high', expected a number"),
        ("None", "returned None, expected a number"),
    ],
)
def test_bad_scores_make_the_sample_invalid(
    pool: EvaluatorPool, returned: str, reason: str
) -> None:
    code = f"def evaluate(messages, **kw):\n    return {returned}\n"
    (result,) = pool.score(code, samples(["x"]))
    assert (result.score, result.is_score_valid, result.reason) == (None, False, reason)


def test_batch_of_the_wrong_length(pool: EvaluatorPool) -> None:
    code = "def reward(prompts, completions, **kw):\n    return [1.0] * (len(completions) - 1)\n"
    results = pool.score(code, samples(["a", "b", "c", "d"]))
    assert {r.reason for r in results} == {"batch returned 3 scores for 4 samples"}
    assert not any(r.is_score_valid for r in results)


def test_exception_keeps_only_user_frames_with_lines(pool: EvaluatorPool) -> None:
    code = """def helper(text):
    return 1 / len(text)


def evaluate(messages, **kw):
    print("checking", repr(messages[-1]["content"]))
    return helper(messages[-1]["content"])
"""
    good, bad = pool.score(code, samples(["ab", ""]))
    assert good.score == 0.5 and good.stdout == "checking 'ab'\n"
    assert not bad.is_score_valid and bad.score is None
    assert bad.reason == "raised ZeroDivisionError: division by zero"
    assert bad.error is not None and bad.error_line == 2
    assert 'File "<evaluator>", line 7, in evaluate' in bad.error
    assert 'File "<evaluator>", line 2, in helper' in bad.error
    assert "return 1 / len(text)" in bad.error
    assert "runtime.py" not in bad.error and "rft_evaluators" not in bad.error
    assert bad.stdout == "checking ''\n"


def test_syntax_error_is_raised_before_scoring(pool: EvaluatorPool) -> None:
    with pytest.raises(EvaluatorCodeError) as caught:
        pool.score("def evaluate(messages):\n    return 1 +\n", samples(["a"]))
    assert caught.value.line == 2


def test_import_failure_invalidates_every_row(pool: EvaluatorPool) -> None:
    code = "import numpy_but_misspelled\n\ndef evaluate(messages, **kw):\n    return 1.0\n"
    results = pool.score(code, samples(["a", "b", "c"]))
    assert all(not r.is_score_valid for r in results)
    assert results[0].reason is not None
    assert results[0].reason.startswith("evaluator failed to load: ModuleNotFoundError")
    assert results[0].error_line == 1


def test_module_is_compiled_once_per_worker(pool: EvaluatorPool) -> None:
    code = """
import uuid
LOADED = uuid.uuid4().hex

def evaluate(messages, **kw):
    print(LOADED)
    return 1.0
"""
    results = pool.score(code, samples(["x"] * 300))
    assert 1 <= len({r.stdout for r in results}) <= pool.size


def test_score_iter_yields_every_row_once(pool: EvaluatorPool) -> None:
    code = "def evaluate(messages, **kw):\n    return len(messages[-1]['content']) / 10\n"
    rows = samples([str(i % 10) * (i % 10) for i in range(200)])
    seen = dict(pool.score_iter(code, rows))
    assert sorted(seen) == list(range(200))
    assert all(seen[i].score == pytest.approx((i % 10) / 10) for i in range(200))


def test_async_rows_overlap(pool: EvaluatorPool) -> None:
    code = """
import asyncio
import time

async def evaluate(messages, **kw):
    start = time.monotonic()
    await asyncio.sleep(0.4)
    print(start, time.monotonic())
    return 1.0
"""
    results = pool.score(code, samples(["x"] * 16))
    assert [r.score for r in results] == [1.0] * 16
    spans = [tuple(float(x) for x in r.stdout.split()) for r in results]  # output kept apart
    # Overlap, not speed (bench/ measures that): every row ran while another one was running.
    for i, (start, end) in enumerate(spans):
        assert any(s < end and start < e for j, (s, e) in enumerate(spans) if j != i)


def test_concurrent_callers_share_the_pool(pool: EvaluatorPool) -> None:
    outcomes: dict[str, list[float | None]] = {}

    def run(name: str, score: float) -> None:
        code = f"def evaluate(messages, **kw):\n    return {score}\n"
        outcomes[name] = [r.score for r in pool.score(code, samples(["x"] * 500))]

    threads = [threading.Thread(target=run, args=(f"t{i}", i / 4)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == {f"t{i}": [i / 4] * 500 for i in range(4)}


def test_needs_network_is_refused_without_permission(pool: EvaluatorPool) -> None:
    code = "NEEDS_NETWORK = True\n\ndef evaluate(messages, **kw):\n    return 1.0\n"
    (result,) = pool.score(code, samples(["x"]))
    assert not result.is_score_valid
    assert result.reason is not None and "allow_network=False" in result.reason


def test_one_user_cannot_monopolise_the_pool() -> None:
    """Finding 5: 8 sleeping rows of one user made another's trivial preview wait 35 s."""
    finished: list[str] = []
    lock = threading.Lock()
    slow = "import time\n\ndef evaluate(messages, **kw):\n    time.sleep(0.3)\n    return 1.0\n"
    with EvaluatorPool(size=2, timeout_s=10.0, per_owner=1) as shared:
        shared.start()
        hog = shared.score_iter(slow, samples(["x"] * 8), tenant="user-1")
        first = next(hog)  # user 1 is busy: its rows are spread over the pool
        with lock:
            finished.append("user-1")

        def drain() -> None:
            for _ in hog:
                with lock:
                    finished.append("user-1")

        thread = threading.Thread(target=drain)
        thread.start()
        quick = "def evaluate(messages, **kw):\n    return 0.5\n"
        assert [r.score for r in shared.score(quick, samples(["x"]), tenant="user-2")] == [0.5]
        with lock:
            finished.append("user-2")
        thread.join(timeout=60)
    assert first[1].score == 1.0
    assert finished.count("user-1") == 8
    # User 2 never waited for user 1's rows: it ran beside them, before most had finished.
    assert finished.index("user-2") < 6, finished
