"""Deployments: request and answer bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from app.schemas.common import DbId, InputModel, OutputModel

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"


class DeploymentCreate(InputModel):
    """Deploy a checkpoint's adapter, or a base model alone (for comparison): exactly one."""

    checkpoint_id: DbId | None = Field(default=None, description="Checkpoint to serve.")
    base_model: str | None = Field(
        default=None, min_length=1, max_length=500, description="Base model to serve as is."
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=NAME_PATTERN,
        description="The `model` clients send; default ft-<job>-step<N>, or the base model's "
        "name. Letters, digits, '.', '_', ':' and '-'.",
    )

    @model_validator(mode="after")
    def _exactly_one_source(self) -> DeploymentCreate:
        if (self.checkpoint_id is None) == (self.base_model is None):
            raise ValueError("give exactly one of checkpoint_id and base_model")
        return self


class DeploymentPublic(OutputModel):
    id: int
    name: str
    base_model: str
    checkpoint_id: int | None
    job_id: int | None = None
    step: int | None = None
    adapter_path: str | None
    state: str
    cause: str | None
    loaded: bool
    requests_served: int
    last_request_at: datetime | None
    created_at: datetime
    ready_at: datetime | None
    stopped_at: datetime | None
