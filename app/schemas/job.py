from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.core.db import utcnow
from app.models import Job
from app.schemas.common import InputModel, OutputModel
from app.schemas.job_params import JobEvaluator


class JobEvaluatorsUpdate(InputModel):
    evaluators: list[JobEvaluator] = Field(min_length=1, max_length=16)


class PinnedEvaluator(BaseModel):
    id: int
    name: str
    version: int
    weight: float
    components: dict[str, float] | None = None


class JobPublic(OutputModel):
    id: int
    name: str
    base_model: str
    dataset_id: int | None
    validation_dataset_id: int | None
    status: str
    step: int
    total_steps: int | None
    attempts: int
    error: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    elapsed_seconds: float | None
    eta_seconds: float | None
    evaluators: list[PinnedEvaluator]
    training: dict[str, Any]
    rollout: dict[str, Any]
    derived: list[str]  # the parameters left unset, whose values were derived
    warnings: list[str]
    plan: dict[str, Any]  # prompts and steps as derived at creation

    @classmethod
    def of(cls, job: Job) -> JobPublic:
        elapsed = eta = None
        if job.started_at is not None:
            elapsed = ((job.finished_at or utcnow()) - job.started_at).total_seconds()
            if job.total_steps and 0 < job.step < job.total_steps and not job.is_terminal:
                eta = elapsed / job.step * (job.total_steps - job.step)
        spec = job.spec
        return cls.model_validate(
            {
                **{k: getattr(job, k) for k in cls.model_fields if hasattr(job, k)},
                "elapsed_seconds": elapsed,
                "eta_seconds": eta,
                "evaluators": spec.get("evaluators", []),
                "training": spec.get("training", {}),
                "rollout": spec.get("rollout", {}),
                "derived": spec.get("derived", []),
                "warnings": spec.get("warnings", []),
                "plan": spec.get("plan", {}),
            }
        )


class MetricPublic(OutputModel):
    kind: str
    step: int
    values: dict[str, float]


class CompletionPublic(OutputModel):
    id: int
    step: int
    prompt: str
    completion: str
    reward: float | None
    scores: dict[str, Any]
    created_at: datetime


class LogPublic(OutputModel):
    id: int
    step: int
    level: str
    source: str
    message: str
    created_at: datetime


class CheckpointPublic(OutputModel):
    id: int
    job_id: int
    step: int
    metrics: dict[str, float]
    eval_reward: float | None
    is_best: bool
    created_at: datetime


class ModelPublic(BaseModel):
    name: str
    architecture: str
    max_context_length: int
    parameters: int | None
    source: str  # folder (under RFT_MODELS_DIR) or path (registered)
    chat_template: bool
    training_memory_bytes: int | None = Field(
        description="Rough memory to train it with LoRA on the CPU build (float32)."
    )
    fits_worker_memory: bool | None = Field(
        description="Whether that fits the worker's memory (RFT_WORKER_MEMORY_BYTES, default "
        "this host's RAM); null when unknown."
    )


class ModelCreate(InputModel):
    """Register a base model: a local folder under a name, or a hub id (from this host's
    Hugging Face cache; without internet, a hub id that is not cached fails at once)."""

    name: str | None = Field(None, description="org/name or name; with path.")
    path: str | None = Field(None, description="A Hugging Face model folder on this host.")
    hub_id: str | None = Field(None, description="e.g. Qwen/Qwen2.5-0.5B-Instruct.")
