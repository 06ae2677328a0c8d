"""What counts as a valid score, how rows split into prompt and completion, text metrics."""

from __future__ import annotations

import json
import math

import pytest

from app.evaluators import EvaluateResult, MetricResult, SampleResult, textsim
from app.evaluators.rows import RowError, batch_arguments, split_row
from app.evaluators.validate import judge, judge_batch


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "returned NaN"),
        (math.inf, "returned inf"),
        (1.7, "score 1.7 is outside 0–1"),  # noqa: RUF001
        (-0.2, "score -0.2 is outside 0–1"),  # noqa: RUF001
        ("high", "returned str 'high', expected a number"),
        (True, "returned bool True, expected a number"),
        (None, "returned None, expected a number"),
        ([0.5], "returned list [0.5], expected a number"),
        ({"reason": "no score"}, "returned a dict without 'score'"),
        ({"score": 0.5, "is_score_valid": "yes"}, "is_score_valid must be a bool, got str 'yes'"),
        ({"score": 0.5, "metrics": {"m": math.nan}}, "metric 'm' returned NaN"),
    ],
)
def test_invalid_answers_say_what_came_back(value: object, reason: str) -> None:
    result = judge(value)
    assert not result.is_score_valid and result.score is None
    assert result.reason == reason


def test_valid_answers() -> None:
    assert judge(1).score == 1.0 and judge(1).is_score_valid
    rich = judge(
        EvaluateResult(
            score=0.25, reason="meh", metrics={"len": MetricResult(score=42.0, reason="words")}
        )
    )
    assert (rich.score, rich.reason, rich.is_score_valid) == (0.25, "meh", True)
    assert rich.metrics["len"].score == 42.0  # metrics may use any finite range
    skipped = judge({"score": 0.0, "is_score_valid": False, "reason": "no ground truth"})
    assert not skipped.is_score_valid and skipped.reason == "no ground truth"


def test_batch_answers_must_match_the_batch() -> None:
    wrong = judge_batch([1.0, 0.0, 1.0], 4)
    assert all(r.reason == "batch returned 3 scores for 4 samples" for r in wrong)
    assert all(not r.is_score_valid for r in wrong)
    mixed = judge_batch([1.0, None, 2.0], 3)
    assert mixed[0].score == 1.0
    assert mixed[1].reason == "returned None (sample skipped)"
    assert (mixed[2].score, mixed[2].is_score_valid) == (2.0, True)  # TRL takes any float
    assert (judge_batch(0.5, 2)[0].reason or "").startswith("batch returned float 0.5")


def test_sample_result_is_json_serialisable() -> None:
    result = judge({"score": 0.5, "metrics": {"m": {"score": 3, "reason": "r"}}})
    data = json.loads(json.dumps(result.to_dict()))
    assert data["metrics"] == {"m": {"score": 3.0, "reason": "r"}}
    assert set(data) == set(SampleResult.__struct_fields__)


def test_split_messages_row_preview_and_training() -> None:
    row = {
        "messages": [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
        ],
        "ground_truth": "4",
    }
    preview = split_row(row, None)
    assert preview.completion == "4" and preview.messages == [row["messages"][0]]
    assert preview.extra == {"ground_truth": "4"}
    training = split_row({"messages": row["messages"][:1]}, "5")
    assert training.chat()[-1] == {"role": "assistant", "content": "5"}
    with pytest.raises(RowError, match="not from the assistant"):
        split_row({"messages": row["messages"][:1]}, None)


def test_split_prompt_rows() -> None:
    turn = split_row({"prompt": "Say hi", "completion": "hi", "lang": "en"}, None)
    assert (turn.prompt, turn.completion, turn.extra) == ("Say hi", "hi", {"lang": "en"})
    conversational = split_row({"prompt": [{"role": "user", "content": "q"}]}, "a")
    assert conversational.messages == [{"role": "user", "content": "q"}]
    with pytest.raises(RowError, match="neither 'messages' nor 'prompt'"):
        split_row({"question": "q"}, "a")


def test_batch_arguments_follow_trl() -> None:
    turns = [
        split_row({"messages": [{"role": "user", "content": "q1"}], "gt": "a"}, "x"),
        split_row({"prompt": "q2"}, "y"),
    ]
    prompts, completions, columns = batch_arguments(turns)
    assert prompts == [[{"role": "user", "content": "q1"}], "q2"]
    assert completions == [[{"role": "assistant", "content": "x"}], "y"]
    assert columns == {"gt": ["a", None]}


def test_text_metrics() -> None:
    same = "the cat sat on the mat"
    for name, metric in textsim.METRICS.items():
        assert metric(same, same) == pytest.approx(1.0, abs=0.01), name  # METEOR: 0.998
        assert metric(same, "quantum chromodynamics") == pytest.approx(0.0, abs=0.35), name
    assert textsim.rouge_l("the cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
    assert textsim.rouge_n("a b c", "a b d", 2) == pytest.approx(0.5)
    assert 0.3 < textsim.bleu("the cat sat on a mat", same) < 1.0
    assert textsim.fuzzy_match("kitten", "sitting") == pytest.approx(8 / 13)
