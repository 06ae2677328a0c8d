"""A fine-tuning job and everything it records. The database is the source of truth for job
state: the broker only rings the doorbell, and a job whose worker died is found from its row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, TimestampMixin

# paused: stopped at a step with a checkpoint kept, until resumed (not terminal).
JOB_STATUSES = ("queued", "running", "paused", "completed", "failed", "cancelled")
TERMINAL = ("completed", "failed", "cancelled")


class Job(TimestampMixin, Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    base_model: Mapped[str] = mapped_column(String(500))
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), default=None
    )
    validation_dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), default=None
    )
    # The validated request (training, rollout, evaluators with the versions pinned).
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    step: Mapped[int] = mapped_column(default=0)
    total_steps: Mapped[int | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    # With cancel_requested: the worker stops at its next step as for a cancel, and the job
    # becomes "paused" instead of "cancelled" (job_records.finish); resume re-queues it.
    pause_requested: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class JobMetric(Base):
    """All metrics logged at one step: ``kind`` "train" (the trainer's logs) or "eval"."""

    __tablename__ = "job_metrics"
    __table_args__ = (UniqueConstraint("job_id", "kind", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    step: Mapped[int]
    values: Mapped[dict[str, float]] = mapped_column(JSON)


class JobCompletion(TimestampMixin, Base):
    """A sampled completion with its prompt, total reward and per-evaluator scores."""

    __tablename__ = "job_completions"
    # The completions browser filters by step within a job.
    __table_args__ = (Index("ix_job_completions_job_id_step", "job_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    step: Mapped[int]
    prompt: Mapped[str] = mapped_column(Text)
    completion: Mapped[str] = mapped_column(Text)
    reward: Mapped[float | None] = mapped_column(Float, default=None)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JobLog(TimestampMixin, Base):
    """Reward logs: an evaluator's print output or error for one sample, and job messages."""

    __tablename__ = "job_logs"
    __table_args__ = (Index("ix_job_logs_job_id_step", "job_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    step: Mapped[int]
    level: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)


class Checkpoint(TimestampMixin, Base):
    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("job_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    step: Mapped[int]
    path: Mapped[str] = mapped_column(String(1000))
    metrics: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    eval_reward: Mapped[float | None] = mapped_column(Float, default=None)
    is_best: Mapped[bool] = mapped_column(default=False)


class JobEvent(TimestampMixin, Base):
    """The live feed: every persisted record is also an event; ``id`` is the SSE event id, so
    a client that reconnects with Last-Event-ID resumes exactly where it stopped."""

    __tablename__ = "job_events"
    # The job page reads its chart markers (checkpoints, resumes) by type.
    __table_args__ = (Index("ix_job_events_job_id_type", "job_id", "type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
