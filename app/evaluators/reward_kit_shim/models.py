"""reward_kit.models: the result and message models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..results import EvaluateResult, Message, MetricResult


class StepOutput(BaseModel):
    """One step's reward in a multi-step (agent) evaluation, as reward-kit defines it."""

    model_config = ConfigDict(extra="allow")

    step_index: int | str
    base_reward: float
    terminated: bool = False
    control_plane_info: dict[str, Any] | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None


__all__ = ["EvaluateResult", "Message", "MetricResult", "StepOutput"]
