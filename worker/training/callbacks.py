"""The platform's hooks on TRL's loops: progress, metrics, validation results, checkpoints,
cancel and evaluator swaps (GRPO), and the warm-up's progress (SFT)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback

from worker.training.context import Phase
from worker.training.recorder import Recorder
from worker.training.rewards import RewardHub

# What the reward hub logs through TRL during evaluation (see RewardHub._log_validation).
VALIDATION_PREFIX = "eval_validation/"


def _numbers(logs: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in logs.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def validation_values(metrics: dict[str, Any]) -> dict[str, float]:
    """TRL's evaluation metrics -> the stored validation metrics: ``eval/reward`` (TRL's mean
    reward over the validation rows, invalid samples left out), ``eval/invalid_frac`` and
    ``eval/<evaluator>/mean``."""
    numbers = _numbers(metrics)
    values = {
        "eval/" + key.removeprefix(VALIDATION_PREFIX): value
        for key, value in numbers.items()
        if key.startswith(VALIDATION_PREFIX)
    }
    if "eval_reward" in numbers:
        values["eval/reward"] = numbers["eval_reward"]
    return values


class JobCallback(TrainerCallback):
    def __init__(
        self,
        recorder: Recorder,
        hub: RewardHub,
        on_checkpoint: Callable[[int, str, dict[str, float], float | None], None],
    ) -> None:
        self.recorder, self.hub, self.on_checkpoint = recorder, hub, on_checkpoint
        self.revision: int | None = None
        self.cancelled = False
        self.last_eval: tuple[int, float | None] | None = None
        self.last_train: dict[str, float] = {}
        self.progress_at = time.monotonic()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.recorder.progress(state.global_step, state.max_steps)
        if self.recorder.evaluators is not None:
            self.revision = self.recorder.evaluators[0]

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.hub.step = state.global_step + 1
        update = self.recorder.evaluators
        if update is not None and update[0] != self.revision:
            if self.revision is not None:  # changed through the API while running
                self.hub.set_evaluators(update[1])
                self.recorder.event(
                    "evaluators_applied", {"step": self.hub.step, "revision": update[0]}
                )
            self.revision = update[0]

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.progress_at = time.monotonic()
        self.recorder.progress(state.global_step, state.max_steps)
        if self.recorder.lost:  # recovery gave the job to another worker: leave it to them
            control.should_training_stop = True
            return
        if self.recorder.cancel_requested and not self.cancelled:
            self.cancelled = True
            control.should_save = True  # keep what was learned so far
            control.should_training_stop = True

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        values = _numbers(logs or {})
        if "train_runtime" in values:  # the end-of-run summary, not a step
            self.recorder.event("summary", values)
            return
        if any(key.startswith("eval_") for key in values):  # recorded by on_evaluate
            return
        values.update(self.hub.take_metrics(state.global_step))
        self.last_train = values
        self.recorder.metric("train", state.global_step, values)

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """TRL's evaluation on the validation rows (at the start, then every eval_steps)."""
        self.progress_at = time.monotonic()
        values = validation_values(metrics or {})
        self.last_eval = (state.global_step, values.get("eval/reward"))
        self.recorder.metric("eval", state.global_step, values)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        step = state.global_step
        folder = f"{args.output_dir}/checkpoint-{step}"
        measured = self.last_eval[1] if self.last_eval and self.last_eval[0] == step else None
        self.on_checkpoint(step, folder, self.last_train, measured)


class WarmupCallback(TrainerCallback):
    """The SFT warm-up's progress in the job's phase ("... step 3 of 10", what a failure or a
    stall names); a cancel or a lost job ends it at the next step."""

    def __init__(self, recorder: Recorder, phase: Phase) -> None:
        self.recorder, self.phase = recorder, phase
        self.name = phase.name

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.phase(f"{self.name}, step {state.global_step} of {state.max_steps}")
        if self.recorder.cancel_requested or self.recorder.lost:
            control.should_training_stop = True
