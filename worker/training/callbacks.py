"""The trainer callback: progress, metrics, validation, checkpoints, cancel and evaluator swaps."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback

from worker.training.recorder import Recorder
from worker.training.rewards import RewardHub
from worker.training.validation import Validator


def _numbers(logs: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in logs.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


class JobCallback(TrainerCallback):
    def __init__(
        self,
        recorder: Recorder,
        hub: RewardHub,
        validator: Validator | None,
        every: int,
        on_checkpoint: Callable[[int, str, dict[str, float], float | None], None],
    ) -> None:
        self.recorder, self.hub, self.validator = recorder, hub, validator
        self.every, self.on_checkpoint = every, on_checkpoint
        self.revision: int | None = None
        self.cancelled = False
        self.last_eval: tuple[int, float | None] | None = None
        self.last_train: dict[str, float] = {}
        self.progress_at = time.monotonic()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.recorder.progress(state.global_step, state.max_steps)
        if self.recorder.evaluators is not None:
            self.revision = self.recorder.evaluators[0]
        if self.validator is not None and state.global_step == 0:
            self._validate(kwargs["model"], 0)  # the base model's score: where the curve starts

    def _validate(self, model: Any, step: int) -> None:
        values = self.validator.run(model) if self.validator is not None else {}
        self.last_eval = (step, values.get("eval/reward"))
        self.recorder.metric("eval", step, values)

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
        step = state.global_step
        self.progress_at = time.monotonic()
        self.recorder.progress(step, state.max_steps)
        at_end = step >= state.max_steps
        if self.validator is not None and (step % self.every == 0 or at_end):
            self._validate(kwargs["model"], step)
        if at_end:
            control.should_save = True
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
        values.update(self.hub.take_metrics(state.global_step))
        self.last_train = values
        self.recorder.metric("train", state.global_step, values)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        step = state.global_step
        folder = f"{args.output_dir}/checkpoint-{step}"
        measured = self.last_eval[1] if self.last_eval and self.last_eval[0] == step else None
        self.on_checkpoint(step, folder, self.last_train, measured)
