"""Browsing what a job sampled and logged: completions filtered and paged in the database, one
prompt's group with its advantages, and the reward logs with errors grouped by message."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from app.models import Job, JobCompletion, JobLog

# Errors grouped per page view: the newest this many (a broken evaluator logs one per sample).
ERROR_GROUP_SCAN = 5000


@dataclass(frozen=True)
class CompletionFilter:
    step: int | None = None
    step_min: int | None = None
    step_max: int | None = None
    prompt: str | None = None
    evaluator: str | None = None  # the reward range and "invalid" then apply to its score
    reward_min: float | None = None
    reward_max: float | None = None
    invalid: bool = False
    q: str | None = None  # text in the prompt or the completion


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _completion_where(job: Job, f: CompletionFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [JobCompletion.job_id == job.id]
    if f.step is not None:
        where.append(JobCompletion.step == f.step)
    if f.step_min is not None:
        where.append(JobCompletion.step >= f.step_min)
    if f.step_max is not None:
        where.append(JobCompletion.step <= f.step_max)
    if f.prompt is not None:
        where.append(JobCompletion.prompt == f.prompt)
    if f.q:
        pattern = _like(f.q)
        where.append(
            or_(
                JobCompletion.completion.like(pattern, escape="\\"),
                JobCompletion.prompt.like(pattern, escape="\\"),
            )
        )
    if f.evaluator:
        score = JobCompletion.scores[(f.evaluator, "score")].as_float()
        valid = JobCompletion.scores[(f.evaluator, "valid")].as_boolean()
        where.append(valid.is_not(None))  # scored by this evaluator at all
        if f.invalid:
            where.append(valid.is_(False))
    else:
        score = JobCompletion.reward
        if f.invalid:
            where.append(JobCompletion.reward.is_(None))
    if f.reward_min is not None:
        where.append(score >= f.reward_min)
    if f.reward_max is not None:
        where.append(score <= f.reward_max)
    return where


def completions(
    session: Session, job: Job, f: CompletionFilter, offset: int, limit: int
) -> tuple[list[JobCompletion], int]:
    """The newest first; ``count`` is the number matching the filter."""
    where = _completion_where(job, f)
    total = session.scalar(select(func.count()).select_from(JobCompletion).where(*where)) or 0
    query = select(JobCompletion).where(*where).order_by(JobCompletion.id.desc())
    return list(session.scalars(query.offset(offset).limit(limit))), total


def sampled_steps(session: Session, job: Job, prompt: str) -> list[int]:
    """Steps with stored completions of ``prompt``: the ones its group can be shown at."""
    query = select(JobCompletion.step).where(
        JobCompletion.job_id == job.id, JobCompletion.prompt == prompt
    )
    return list(session.scalars(query.distinct().order_by(JobCompletion.step)))


def nearest_sampled_step(session: Session, job: Job, step: int) -> int | None:
    """Completions are sampled on some steps only: the step slider lands on the nearest one
    at or before ``step`` (or the first after it)."""
    mine = JobCompletion.job_id == job.id
    before = select(func.max(JobCompletion.step)).where(mine, JobCompletion.step <= step)
    found = session.scalar(before)
    if found is None:
        found = session.scalar(select(func.min(JobCompletion.step)).where(mine))
    return None if found is None else int(found)


def prompts(
    session: Session, job: Job, limit: int = 200, recent: int = 5000
) -> list[tuple[str, int]]:
    """The prompts of the newest ``recent`` completions, most sampled first, with their counts
    (bounded: a long job has 100,000 completions)."""
    newest = (
        select(JobCompletion.prompt)
        .where(JobCompletion.job_id == job.id)
        .order_by(JobCompletion.id.desc())
        .limit(recent)
        .subquery()
    )
    count = func.count().label("n")
    query = (
        select(newest.c.prompt, count)
        .group_by(newest.c.prompt)
        .order_by(count.desc(), newest.c.prompt)
        .limit(limit)
    )
    return [(p, n) for p, n in session.execute(query)]


def group(session: Session, job: Job, step: int, prompt: str) -> list[dict[str, Any]]:
    """One prompt's completions at one step, each with its group advantage: the reward minus
    the group's mean, over the group's standard deviation (as GRPO scales it)."""
    query = (
        select(JobCompletion)
        .where(
            JobCompletion.job_id == job.id,
            JobCompletion.step == step,
            JobCompletion.prompt == prompt,
        )
        .order_by(JobCompletion.id)
    )
    rows = list(session.scalars(query))
    rewards = [r.reward for r in rows if r.reward is not None]
    mean = sum(rewards) / len(rewards) if rewards else 0.0
    std = math.sqrt(sum((x - mean) ** 2 for x in rewards) / len(rewards)) if rewards else 0.0
    return [
        {
            "row": r,
            "advantage": None if r.reward is None else (r.reward - mean) / (std + 1e-4),
        }
        for r in rows
    ]


@dataclass(frozen=True)
class LogFilter:
    source: str | None = None
    level: str | None = None
    step_min: int | None = None
    step_max: int | None = None


def _log_where(job: Job, f: LogFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [JobLog.job_id == job.id]
    if f.source:
        where.append(JobLog.source == f.source)
    if f.level:
        where.append(JobLog.level == f.level)
    if f.step_min is not None:
        where.append(JobLog.step >= f.step_min)
    if f.step_max is not None:
        where.append(JobLog.step <= f.step_max)
    return where


def logs(
    session: Session, job: Job, f: LogFilter, offset: int, limit: int
) -> tuple[list[JobLog], int]:
    where = _log_where(job, f)
    total = session.scalar(select(func.count()).select_from(JobLog).where(*where)) or 0
    query = select(JobLog).where(*where).order_by(JobLog.id.desc())
    return list(session.scalars(query.offset(offset).limit(limit))), total


def error_key(message: str) -> str:
    """What identifies an error: its last non-empty line (``ValueError: …``), not the traceback
    above it, whose line numbers and values repeat."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(empty)"


def error_groups(session: Session, job: Job, f: LogFilter) -> list[dict[str, Any]]:
    """Errors grouped by message, most frequent first: count, steps, the first full traceback."""
    where = [*_log_where(job, LogFilter(f.source, "error", f.step_min, f.step_max))]
    query = (
        select(JobLog.step, JobLog.source, JobLog.message)
        .where(*where)
        .order_by(JobLog.id.desc())
        .limit(ERROR_GROUP_SCAN)
    )
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for step, source, message in session.execute(query):
        key = (source, error_key(message))
        found = groups.setdefault(
            key, {"source": source, "message": key[1], "count": 0, "last_step": step}
        )
        found["count"] += 1
        found["first_step"], found["first"] = step, message  # newest first: the last is first
    return sorted(groups.values(), key=lambda g: (-g["count"], g["first_step"]))


def log_sources(session: Session, job: Job) -> list[str]:
    query = select(JobLog.source).where(JobLog.job_id == job.id).distinct()
    return sorted(session.scalars(query))
