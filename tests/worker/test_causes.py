"""Failure causes the user can act on: the library's error turned into our setting's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.training.causes import NoTrainingStep, human_cause, no_step_cause


def test_trl_group_size_error_names_rollout_n(tmp_path: Path) -> None:
    from trl import GRPOConfig

    with pytest.raises(ValueError) as raised:  # TRL's own words, from a real config
        GRPOConfig(
            output_dir=str(tmp_path),
            per_device_train_batch_size=3,
            num_generations=2,
            use_cpu=True,
            report_to="none",
        )
    cause = human_cause("training", raised.value)
    assert cause.startswith("failed while training: ")
    assert "rollout.n" in cause
    assert "must be divisible by num_generations" in cause  # the raw words, in brief


def test_empty_dataloader_error_says_no_step_and_which_setting() -> None:
    error = ValueError(
        "args.max_steps must be set to a positive value if dataloader does not have a length, "
        "was -1"
    )
    cause = human_cause("training", error)
    assert "no optimizer step" in cause and "training.batch_size" in cause


def test_no_step_cause_gives_the_numbers_that_decide_it() -> None:
    cause = human_cause("training", NoTrainingStep(no_step_cause(27, 32, 1, 300)))
    assert cause == (
        "failed while training: no optimizer step was taken: the training dataset has 27 "
        "usable row(s) and one step needs 32 prompt(s) (from training.batch_size), with "
        "training.max_steps 300; use more rows, or lower training.batch_size"
    )


def test_unknown_errors_keep_their_own_words() -> None:
    assert human_cause("loading the base model", OSError("disk on fire\nmore")) == (
        "failed while loading the base model: OSError: disk on fire"
    )
