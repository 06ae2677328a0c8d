"""What a worker writes about a job: claiming it, its records, its end, and recovery of jobs
whose worker vanished. Every function takes a session and never commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.models import Checkpoint, Job, JobCompletion, JobEvent, JobLog, JobMetric
from app.services.jobs import add_event


def claim(session: Session, job_id: int, worker: str) -> Job | None:
    """Atomically take a queued job: of several deliveries of one message, one wins."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="running", worker=worker, heartbeat_at=now, attempts=Job.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    job = session.get(Job, job_id, populate_existing=True)
    assert job is not None
    if job.started_at is None:
        job.started_at = now
    add_event(
        session, job, "status", {"status": "running", "attempt": job.attempts, "worker": worker}
    )
    return job


def last_checkpoint(session: Session, job: Job) -> Checkpoint | None:
    query = select(Checkpoint).where(Checkpoint.job_id == job.id).order_by(Checkpoint.step.desc())
    return session.scalars(query.limit(1)).first()


def rewind_to(session: Session, job: Job, step: int) -> None:
    """Resuming from ``step``: what a lost attempt recorded after it is recorded again."""
    for model in (JobMetric, JobCompletion, JobLog):
        session.execute(delete(model).where(model.job_id == job.id, model.step > step))
    session.execute(delete(Checkpoint).where(Checkpoint.job_id == job.id, Checkpoint.step > step))
    job.step = step


def save_batch(
    session: Session,
    job_id: int,
    *,
    step: int,
    total_steps: int | None,
    metrics: list[tuple[str, int, dict[str, float]]],
    completions: list[dict[str, Any]],
    logs: list[dict[str, Any]],
    events: list[tuple[str, dict[str, Any]]],
    worker: str | None = None,
) -> Job | None:
    """One flush of the recorder: records, their events, progress and the heartbeat.

    Bulk inserts: a job logs every step (~25 ms on the demo), so this runs often."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or (worker is not None and not owns(job, worker)):
        return job
    feed: list[dict[str, Any]] = []
    for kind, at, values in metrics:
        # A step re-run after a resume replaces what the lost attempt wrote.
        session.execute(
            delete(JobMetric).where(
                JobMetric.job_id == job_id, JobMetric.kind == kind, JobMetric.step == at
            )
        )
        feed.append({"type": "metrics", "data": {"kind": kind, "step": at, "values": values}})
    if metrics:
        session.execute(
            insert(JobMetric),
            [{"job_id": job_id, "kind": k, "step": at, "values": v} for k, at, v in metrics],
        )
    for model, items, type_ in ((JobCompletion, completions, "completion"), (JobLog, logs, "log")):
        if items:
            now = utcnow()
            session.execute(
                insert(model), [{"job_id": job_id, "created_at": now, **i} for i in items]
            )
            feed.extend({"type": type_, "data": item} for item in items)
    feed.extend({"type": type_, "data": data} for type_, data in events)
    if step > job.step or total_steps != job.total_steps:
        job.step, job.total_steps = max(step, job.step), total_steps
        feed.append({"type": "progress", "data": {"step": job.step, "total_steps": total_steps}})
    if feed:
        now = utcnow()
        session.execute(
            insert(JobEvent), [{"job_id": job_id, "created_at": now, **e} for e in feed]
        )
    job.heartbeat_at = utcnow()
    return job


def add_checkpoint(
    session: Session,
    job_id: int,
    step: int,
    path: str,
    metrics: dict[str, float],
    eval_reward: float | None,
) -> Checkpoint:
    session.execute(delete(Checkpoint).where(Checkpoint.job_id == job_id, Checkpoint.step == step))
    checkpoint = Checkpoint(
        job_id=job_id, step=step, path=path, metrics=metrics, eval_reward=eval_reward
    )
    session.add(checkpoint)
    session.flush()
    _mark_best(session, job_id)
    session.add(
        JobEvent(
            job_id=job_id,
            type="checkpoint",
            data={
                "id": checkpoint.id,
                "step": step,
                "eval_reward": eval_reward,
                "is_best": checkpoint.is_best,
            },
        )
    )
    return checkpoint


def _mark_best(session: Session, job_id: int) -> None:
    rows = list(session.scalars(select(Checkpoint).where(Checkpoint.job_id == job_id)))
    scored = [c for c in rows if c.eval_reward is not None]
    best = max(scored, key=lambda c: (c.eval_reward, c.step)) if scored else None
    for c in rows:
        c.is_best = c is best


def owns(job: Job, worker: str) -> bool:
    """Whether ``worker`` still holds the job: recovery may have handed it to another."""
    return job.status == "running" and job.worker == worker


def finish(
    session: Session, job_id: int, status: str, error: str | None = None, worker: str | None = None
) -> None:
    """Ends a job; with ``worker``, only while that worker still holds it."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.is_terminal or (worker is not None and not owns(job, worker)):
        return
    if status == "cancelled" and job.pause_requested:  # a pause: kept, resumed on request
        job.status, job.cancel_requested, job.pause_requested = "paused", False, False
        add_event(session, job, "status", {"status": "paused", "step": job.step})
        return
    job.status, job.error, job.finished_at = status, error, utcnow()
    data: dict[str, Any] = {"status": status}
    if error:
        data["error"] = error
    add_event(session, job, "status", data)


def recover(
    session: Session, stale_before: datetime, ring_before: datetime, max_attempts: int
) -> list[int]:
    """Jobs to enqueue again. A running job whose heartbeat stopped goes back to the queue (it
    resumes from its last checkpoint) or fails after ``max_attempts``; a queued job whose
    doorbell rang before ``ring_before`` is rung again (a lost message is harmless)."""
    stale = select(Job).where(
        Job.status == "running", or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < stale_before)
    )
    again = []
    for job in session.scalars(stale):
        if job.attempts >= max_attempts:
            cause = f"the worker stopped responding {job.attempts} times (last: {job.worker})"
            finish(session, job.id, "failed", cause)
            continue
        job.status, job.heartbeat_at = "queued", utcnow()
        add_event(
            session, job, "status", {"status": "queued", "reason": f"worker {job.worker} lost"}
        )
        again.append(job.id)
    waiting = select(Job).where(
        Job.status == "queued", or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < ring_before)
    )
    for job in session.scalars(waiting):
        job.heartbeat_at = utcnow()
        again.append(job.id)
    return sorted(set(again))


def stale_cutoff(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)


def running_jobs(session: Session) -> list[int]:
    """Ids of running jobs whose worker is alive (heartbeat within a minute)."""
    query = select(Job.id).where(Job.status == "running", Job.heartbeat_at > stale_cutoff(60))
    return list(session.scalars(query))
