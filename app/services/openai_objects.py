"""Jobs, their events and checkpoints answered as OpenAI's ``fine_tuning.job``,
``fine_tuning.job.event`` and ``fine_tuning.job.checkpoint`` objects, with cursor pages."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Checkpoint, Job, JobEvent, User
from app.schemas.openai_ft import unix
from app.services import job_records, openai_files
from app.services.openai_errors import OpenAIError
from app.services.openai_ft import (
    STATUSES,
    checkpoint_model_name,
    job_public_id,
    model_name,
    org_of,
    trained_tokens,
)
from app.services.openai_params import DEFAULT_LR

# Event types an OpenAI script is shown (completions and progress ticks stay in /api/v1).
SHOWN = (
    "status",
    "metrics",
    "checkpoint",
    "resumed",
    "note",
    "cancel_requested",
    "pause_requested",
    "pause_withdrawn",
    "evaluators_updated",
    "evaluators_applied",
    "sft_warmup",
    "summary",
    "log",
)
SUPERVISED_NAMES = ("n_epochs", "batch_size", "learning_rate_multiplier")
_EVENT_ID = re.compile(r"^ftevent-(\d{1,18})$")
_CHECKPOINT_ID = re.compile(r"^ftckpt-(\d{1,18})$")


def _hyperparameters(job: Job) -> dict[str, Any]:
    asked = job.spec.get("openai") or {}
    if "hyperparameters" in asked:
        return dict(asked["hyperparameters"])
    training = job.spec.get("training") or {}
    return {
        "n_epochs": training.get("epochs"),
        "batch_size": None,
        "learning_rate_multiplier": (training.get("learning_rate") or DEFAULT_LR) / DEFAULT_LR,
    }


def job_object(session: Session, job: Job, owner: User) -> dict[str, Any]:
    asked = job.spec.get("openai") or {}
    status = STATUSES.get(job.status, job.status)
    succeeded = status == "succeeded" and job_records.last_checkpoint(session, job) is not None
    hyper = _hyperparameters(job)
    method = None
    if "grader" in asked:
        reinforcement = {"grader": asked["grader"], "hyperparameters": hyper}
        method = {"type": "reinforcement", "reinforcement": reinforcement}
    estimated = None
    if job.status == "running" and job.started_at and job.total_steps and job.step:
        elapsed = job.heartbeat_at or job.started_at
        per_step = (elapsed - job.started_at) / job.step
        estimated = unix(elapsed + per_step * (job.total_steps - job.step))
    return {
        "id": job_public_id(job.id),
        "object": "fine_tuning.job",
        "created_at": unix(job.created_at),
        "finished_at": unix(job.finished_at),
        "estimated_finish": estimated if estimated else None,
        "model": asked.get("model") or job.base_model,
        "fine_tuned_model": model_name(job, owner) if succeeded else None,
        "organization_id": org_of(owner),
        "status": status,
        "error": (
            {"code": "training_failed", "message": job.error or "the job failed", "param": None}
            if job.status == "failed"
            else None
        ),
        "training_file": asked.get("training_file")
        or (openai_files.file_id(job.dataset_id) if job.dataset_id else ""),
        "validation_file": asked.get("validation_file")
        or (openai_files.file_id(job.validation_dataset_id) if job.validation_dataset_id else None),
        "hyperparameters": {k: hyper.get(k) for k in SUPERVISED_NAMES},
        "method": method,
        "seed": int(job.spec.get("seed") or 0),
        "metadata": asked.get("metadata"),
        "trained_tokens": trained_tokens(session, job) if status == "succeeded" else None,
        "result_files": [],
        "integrations": [],
    }


def _cursor(pattern: re.Pattern[str], after: str | None) -> int | None:
    if not after:
        return None
    match = pattern.match(after)
    if match is None:
        raise OpenAIError(f"Invalid 'after': {after!r}", param="after")
    return int(match.group(1))


def list_events(
    session: Session, job: Job, after: str | None, limit: int
) -> tuple[list[JobEvent], bool]:
    """Newest first (as OpenAI lists them); evaluator logs only when warnings or errors."""
    cursor = _cursor(_EVENT_ID, after)
    found: list[JobEvent] = []
    while len(found) <= limit:
        query = select(JobEvent).where(JobEvent.job_id == job.id, JobEvent.type.in_(SHOWN))
        if cursor is not None:
            query = query.where(JobEvent.id < cursor)
        batch = list(session.scalars(query.order_by(JobEvent.id.desc()).limit(200)))
        if not batch:
            break
        cursor = batch[-1].id
        found += [e for e in batch if e.type != "log" or e.data.get("level") != "info"]
    return found[:limit], len(found) > limit


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)


def _status_message(data: dict[str, Any]) -> tuple[str, str]:
    status = data.get("status")
    if status == "running":
        return "info", f"Fine-tuning job started (attempt {data.get('attempt', 1)})"
    if status == "queued":
        reason = data.get("reason")
        return "info", "Job queued" + (f" ({reason})" if reason else "")
    if status == "paused":
        return "info", f"Job paused at step {data.get('step')}: its checkpoint is kept"
    if status == "completed":
        return "info", "The job has successfully completed"
    if status == "failed":
        return "error", f"Job failed: {data.get('error') or 'no cause recorded'}"
    return "info", f"Job {status}"


def _describe(event: JobEvent, job: Job) -> tuple[str, str, str, Any]:
    """(level, type, message, data) of one event."""
    data = dict(event.data)
    kind = event.type
    if kind == "status":
        level, text = _status_message(data)
        return level, "message", text, data
    if kind == "metrics":
        values, step = dict(data.get("values") or {}), data.get("step")
        if data.get("kind") == "eval":
            reward = values.get("eval/reward")
            out = {"step": step, "valid_reward_mean": reward, **values}
            return "info", "metrics", f"Step {step}: validation reward={_number(reward)}", out
        reward = values.get("reward")
        out = {"step": step, "total_steps": job.total_steps, "train_reward_mean": reward, **values}
        text = f"Step {step}/{job.total_steps}: training reward={_number(reward)}"
        return "info", "metrics", text, out
    if kind == "checkpoint":
        return "info", "message", f"Checkpoint created at step {data.get('step')}", data
    if kind == "resumed":
        return "info", "message", f"Resumed from the checkpoint at step {data.get('step')}", data
    if kind == "note":
        level = "warn" if data.get("level") == "warn" else "info"
        return level, "message", str(data.get("message")), None
    if kind == "pause_requested":
        return "info", "message", "Pause requested: the job stops at its next step", data
    if kind == "cancel_requested":
        return "info", "message", "Cancel requested: the job stops at its next step", data
    if kind == "log":
        level = "error" if data.get("level") == "error" else "warn"
        text = f"{data.get('source')} (step {data.get('step')}): {data.get('message')}"
        return level, "message", text, data
    return "info", "message", kind.replace("_", " "), data


def event_object(event: JobEvent, job: Job) -> dict[str, Any]:
    level, kind, message, data = _describe(event, job)
    return {
        "id": f"ftevent-{event.id}",
        "object": "fine_tuning.job.event",
        "created_at": unix(event.created_at),
        "level": level,
        "type": kind,
        "message": message,
        "data": data,
    }


def list_checkpoints(
    session: Session, job: Job, after: str | None, limit: int
) -> tuple[list[Checkpoint], bool]:
    """Newest (highest step) first."""
    query = select(Checkpoint).where(Checkpoint.job_id == job.id)
    cursor = _cursor(_CHECKPOINT_ID, after)
    if cursor is not None:
        mark = session.get(Checkpoint, cursor)
        if mark is None or mark.job_id != job.id:
            raise OpenAIError(f"Invalid 'after': no checkpoint {after}", param="after")
        query = query.where(Checkpoint.step < mark.step)
    rows = list(session.scalars(query.order_by(Checkpoint.step.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def checkpoint_object(checkpoint: Checkpoint, job: Job, owner: User) -> dict[str, Any]:
    values = checkpoint.metrics or {}
    return {
        "id": f"ftckpt-{checkpoint.id}",
        "object": "fine_tuning.job.checkpoint",
        "created_at": unix(checkpoint.created_at),
        "fine_tuned_model_checkpoint": checkpoint_model_name(job, owner, checkpoint.step),
        "fine_tuning_job_id": job_public_id(job.id),
        "step_number": checkpoint.step,
        "metrics": {
            "step": float(checkpoint.step),
            "train_loss": values.get("loss"),
            "train_mean_token_accuracy": None,
            "valid_loss": None,
            "valid_mean_token_accuracy": None,
            "full_valid_loss": None,
            "full_valid_mean_token_accuracy": None,
            # Additions (RFT has rewards, not token accuracy):
            "train_reward_mean": values.get("reward"),
            "valid_reward_mean": checkpoint.eval_reward,
            "is_best": checkpoint.is_best,
        },
    }
