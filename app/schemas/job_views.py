"""Read-side answers about a job: its run summary."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class StepValue(BaseModel):
    step: int
    value: float


class JobSummary(BaseModel):
    """Validation at step 0, at its best and last; the gain; the best checkpoint; error rates."""

    job_id: int
    status: str
    step: int
    total_steps: int | None
    elapsed_seconds: float | None
    eval_start: StepValue | None
    eval_best: StepValue | None
    eval_last: StepValue | None
    reward_gain: float | None
    current_reward: float | None
    best_checkpoint_id: int | None
    best_checkpoint_step: int | None
    invalid_rate: float | None
    error_logs: int

    @classmethod
    def of(cls, job: Any, elapsed: float | None, summary: dict[str, Any]) -> JobSummary:
        def point(pair: tuple[int, float] | None) -> StepValue | None:
            return StepValue(step=pair[0], value=pair[1]) if pair else None

        best = summary["best_checkpoint"]
        return cls(
            job_id=job.id,
            status=job.status,
            step=job.step,
            total_steps=job.total_steps,
            elapsed_seconds=elapsed,
            eval_start=point(summary["eval_start"]),
            eval_best=point(summary["eval_best"]),
            eval_last=point(summary["eval_last"]),
            reward_gain=summary["gain"],
            current_reward=summary["current_reward"],
            best_checkpoint_id=best.id if best else None,
            best_checkpoint_step=best.step if best else None,
            invalid_rate=summary["invalid_rate"],
            error_logs=summary["errors"],
        )
