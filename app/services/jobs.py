"""Fine-tuning jobs as users see them: create (validated, versions pinned), list, cancel, and
read what a job recorded. Worker-side writes live in app.services.job_records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.evaluators import EvaluatorCodeError, check_code
from app.models import (
    Checkpoint,
    Evaluator,
    Job,
    JobCompletion,
    JobEvent,
    JobLog,
    JobMetric,
    User,
)
from app.schemas.job_params import JobCreate, JobEvaluator
from app.services import job_defaults


def unknown_components(code: Any, chosen: dict[str, float] | None) -> str | None:
    """Why a job's choice of components does not fit the evaluator, or None when it fits."""
    if not chosen:
        return None
    try:
        names = check_code(code).component_names()
    except EvaluatorCodeError as exc:
        return f"the evaluator does not pass its check: {exc}"
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        return f"no reward function {', '.join(unknown)}; the evaluator has {', '.join(names)}"
    return None


def pin_evaluators(
    session: Session, owner: User, chosen: list[JobEvaluator]
) -> list[dict[str, Any]]:
    """The evaluators with the version each job trains with, or InvalidInput naming the entry."""
    pinned, errors = [], []
    for i, item in enumerate(chosen):
        evaluator = session.get(Evaluator, item.id)
        if evaluator is None or evaluator.owner_id != owner.id:
            errors.append(
                {"field": f"evaluators.{i}.id", "message": f"evaluator {item.id} not found"}
            )
            continue
        version = evaluator.latest
        problem = unknown_components(version.code, item.components)
        if problem:
            errors.append({"field": f"evaluators.{i}.components", "message": problem})
            continue
        pinned.append(
            {
                "id": evaluator.id,
                "name": evaluator.name,
                "version": version.version,
                "weight": item.weight,
                "components": item.components,
                "code": version.code,
                "requirements": list(version.requirements or []),
            }
        )
    if errors:
        raise InvalidInput("Invalid job request", errors)
    return pinned


def create(session: Session, settings: Settings, owner: User, request: JobCreate) -> Job:
    """A queued job: defaults derived from the model and data, evaluator versions pinned."""
    resolved = job_defaults.resolve(session, settings, owner, request)
    final = resolved.request
    spec = final.model_dump(mode="json", exclude={"evaluators", "name"})
    spec["evaluators"] = pin_evaluators(session, owner, final.evaluators)
    spec["evaluators_revision"] = 1
    spec["derived"] = resolved.derived
    spec["warnings"] = resolved.warnings
    spec["plan"] = resolved.plan()
    job = Job(
        owner_id=owner.id,
        name=final.name or f"{resolved.model.name} on {resolved.dataset.name}",
        base_model=resolved.model.name,
        dataset_id=resolved.dataset.id,
        validation_dataset_id=final.validation_dataset_id,
        total_steps=resolved.total_steps,
        spec=spec,
        heartbeat_at=utcnow(),  # for a queued job: when its doorbell last rang
    )
    session.add(job)
    session.flush()
    add_event(session, job, "status", {"status": "queued"})
    for warning in resolved.warnings:
        session.add(JobLog(job_id=job.id, step=0, level="warning", source="setup", message=warning))
    return job


def add_event(session: Session, job: Job, type_: str, data: dict[str, Any]) -> JobEvent:
    event = JobEvent(job_id=job.id, type=type_, data=data)
    session.add(event)
    return event


def list_for(session: Session, owner: User, offset: int = 0, limit: int = 100) -> list[Job]:
    query = select(Job).where(Job.owner_id == owner.id).order_by(Job.id.desc())
    return list(session.scalars(query.offset(offset).limit(limit)))


def count_for(session: Session, owner: User) -> int:
    return session.scalar(select(func.count()).where(Job.owner_id == owner.id)) or 0


def get(session: Session, owner: User, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None or job.owner_id != owner.id:
        raise NotFound(f"Job {job_id} not found")
    return job


def cancel(session: Session, owner: User, job_id: int) -> Job:
    """A queued or paused job is cancelled at once; a running one stops at its next step."""
    job = get(session, owner, job_id)
    if job.is_terminal:
        raise Conflict(f"Job {job_id} is already {job.status}")
    if job.status in ("queued", "paused"):
        job.status, job.finished_at = "cancelled", utcnow()
        job.pause_requested = False
        add_event(session, job, "status", {"status": "cancelled"})
    else:
        job.cancel_requested, job.pause_requested = True, False  # a cancel outranks a pause
        add_event(session, job, "cancel_requested", {"step": job.step})
    return job


def set_evaluators(session: Session, owner: User, job_id: int, chosen: list[JobEvaluator]) -> Job:
    """New evaluators for a job: a running one switches at its next step."""
    job = get(session, owner, job_id)
    if job.is_terminal:
        raise Conflict(f"Job {job_id} is already {job.status}: its evaluators can't change")
    if not chosen:
        raise InvalidInput(
            "Invalid evaluators", [{"field": "evaluators", "message": "at least one is needed"}]
        )
    pinned = pin_evaluators(session, owner, chosen)
    revision = int(job.spec.get("evaluators_revision", 1)) + 1
    job.spec = {**job.spec, "evaluators": pinned, "evaluators_revision": revision}
    summary = [{k: e[k] for k in ("id", "name", "version", "weight")} for e in pinned]
    add_event(
        session,
        job,
        "evaluators_updated",
        {"step": job.step, "revision": revision, "evaluators": summary},
    )
    return job


def metrics(session: Session, job: Job) -> list[JobMetric]:
    query = select(JobMetric).where(JobMetric.job_id == job.id)
    return list(session.scalars(query.order_by(JobMetric.kind, JobMetric.step)))


def completions(
    session: Session, job: Job, offset: int, limit: int, step: int | None = None
) -> tuple[list[JobCompletion], int]:
    where = [JobCompletion.job_id == job.id]
    if step is not None:
        where.append(JobCompletion.step == step)
    total = session.scalar(select(func.count()).where(*where)) or 0
    query = select(JobCompletion).where(*where).order_by(JobCompletion.id.desc())
    return list(session.scalars(query.offset(offset).limit(limit))), total


def logs(
    session: Session, job: Job, offset: int, limit: int, level: str | None = None
) -> tuple[list[JobLog], int]:
    where = [JobLog.job_id == job.id]
    if level is not None:
        where.append(JobLog.level == level)
    total = session.scalar(select(func.count()).where(*where)) or 0
    query = select(JobLog).where(*where).order_by(JobLog.id.desc())
    return list(session.scalars(query.offset(offset).limit(limit))), total


def checkpoints(session: Session, job: Job) -> list[Checkpoint]:
    query = select(Checkpoint).where(Checkpoint.job_id == job.id).order_by(Checkpoint.step)
    return list(session.scalars(query))


def events_after(session: Session, job_id: int, after_id: int, limit: int = 500) -> list[JobEvent]:
    query = (
        select(JobEvent)
        .where(JobEvent.job_id == job_id, JobEvent.id > after_id)
        .order_by(JobEvent.id)
        .limit(limit)
    )
    return list(session.scalars(query))
