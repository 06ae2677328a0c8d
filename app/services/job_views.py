"""What the job pages read: chart series (downsampled), the run summary, the live-stream start,
event markers, and the job list's rewards. Read-only; every function takes a session."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Checkpoint, Job, JobEvent, JobLog, JobMetric

# Charts stay smooth with this many points per series; longer jobs are averaged in buckets.
MAX_CHART_POINTS = 1500
# Within a bucket these keep their extreme, not their mean (a max length is a max).
BUCKET_MIN = ("completions/min_length",)
BUCKET_MAX = ("completions/max_length",)
MARKER_EVENTS = ("checkpoint", "evaluators_applied", "resumed")


def last_event_id(session: Session, job_id: int) -> int:
    """Where the live stream starts for a page rendered now: everything before is on the page."""
    query = select(func.max(JobEvent.id)).where(JobEvent.job_id == job_id)
    return session.scalar(query) or 0


def metric_rows(session: Session, job_id: int, kind: str) -> list[tuple[int, dict[str, float]]]:
    query = (
        select(JobMetric.step, JobMetric.values)
        .where(JobMetric.job_id == job_id, JobMetric.kind == kind)
        .order_by(JobMetric.step)
    )
    return [(step, values) for step, values in session.execute(query)]


def _bucket_value(key: str, values: list[float]) -> float:
    if key in BUCKET_MIN:
        return min(values)
    if key in BUCKET_MAX:
        return max(values)
    return sum(values) / len(values)


def columns(
    rows: list[tuple[int, dict[str, float]]], max_points: int = MAX_CHART_POINTS
) -> dict[str, Any]:
    """Rows of {key: value} per step as aligned columns for a chart, at most ``max_points`` long:
    ``{"steps": [...], "series": {key: [value or None, ...]}, "bucket": steps per point}``."""
    keys = sorted({k for _, values in rows for k in values})
    size = max(1, math.ceil(len(rows) / max_points))
    steps: list[int] = []
    series: dict[str, list[float | None]] = {k: [] for k in keys}
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        steps.append(chunk[-1][0])
        for key in keys:
            found = [v[key] for _, v in chunk if key in v]
            series[key].append(_bucket_value(key, found) if found else None)
    return {"steps": steps, "series": series, "bucket": size}


def markers(session: Session, job_id: int) -> list[dict[str, Any]]:
    """Vertical lines on the charts: checkpoints, evaluator changes, resumes after a lost worker."""
    query = (
        select(JobEvent.type, JobEvent.data)
        .where(JobEvent.job_id == job_id, JobEvent.type.in_(MARKER_EVENTS))
        .order_by(JobEvent.id)
    )
    found: list[dict[str, Any]] = []
    for type_, data in session.execute(query):
        if type_ == "checkpoint":
            found.append({"step": data["step"], "kind": "checkpoint", "label": "checkpoint"})
        elif type_ == "evaluators_applied":
            label = f"evaluators changed (revision {data.get('revision')})"
            found.append({"step": data["step"], "kind": "evaluators", "label": label})
        else:  # a lost worker's job picked up again from its last checkpoint
            found.append({"step": data["step"], "kind": "resumed", "label": "resumed"})
    return found


def chart_data(
    session: Session,
    job: Job,
    rows: tuple[list[Any], list[Any]] | None = None,
    max_points: int = MAX_CHART_POINTS,
) -> dict[str, Any]:
    train, validation = rows or (
        metric_rows(session, job.id, "train"),
        metric_rows(session, job.id, "eval"),
    )
    return {
        "train": columns(train, max_points),
        "eval": columns(validation, max_points),
        "markers": markers(session, job.id),
        "evaluators": [e["name"] for e in job.spec.get("evaluators", [])],
    }


def summary(
    session: Session, job: Job, rows: tuple[list[Any], list[Any]] | None = None
) -> dict[str, Any]:
    """The run at a glance: validation at the start, best and last; the reward gained; the best
    checkpoint; how often the evaluators could not score a sample. ``rows``: the (train, eval)
    metric rows when the caller has them already."""
    train, validation_rows = rows or (
        metric_rows(session, job.id, "train"),
        metric_rows(session, job.id, "eval"),
    )
    validation = [(s, v["eval/reward"]) for s, v in validation_rows if "eval/reward" in v]
    start = validation[0] if validation and validation[0][0] == 0 else None
    best = max(validation, key=lambda sv: (sv[1], sv[0])) if validation else None
    last = validation[-1] if validation else None
    best_checkpoint = session.scalars(
        select(Checkpoint).where(Checkpoint.job_id == job.id, Checkpoint.is_best)
    ).first()
    rates = [v for _, values in train for k, v in values.items() if k.endswith("/invalid_frac")]
    errors = select(func.count()).where(JobLog.job_id == job.id, JobLog.level == "error")
    return {
        "eval_start": start,
        "eval_best": best,
        "eval_last": last,
        "gain": (best[1] - start[1]) if best and start else None,
        "best_checkpoint": best_checkpoint,
        "current_reward": train[-1][1].get("reward") if train else None,
        "invalid_rate": sum(rates) / len(rates) if rates else None,
        "errors": session.scalar(errors) or 0,
    }


def list_rewards(session: Session, job_ids: list[int]) -> dict[int, dict[str, float | None]]:
    """For the job list: each job's latest train reward and best validation reward."""
    if not job_ids:
        return {}
    latest = (
        select(JobMetric.job_id, func.max(JobMetric.step).label("step"))
        .where(JobMetric.job_id.in_(job_ids), JobMetric.kind == "train")
        .group_by(JobMetric.job_id)
        .subquery()
    )
    current = session.execute(
        select(JobMetric.job_id, JobMetric.values).join(
            latest,
            (JobMetric.job_id == latest.c.job_id)
            & (JobMetric.step == latest.c.step)
            & (JobMetric.kind == "train"),
        )
    )
    found: dict[int, dict[str, float | None]] = {
        i: {"reward": None, "best_eval": None} for i in job_ids
    }
    for job_id, values in current:
        found[job_id]["reward"] = values.get("reward")
    evals = select(JobMetric.job_id, JobMetric.values).where(
        JobMetric.job_id.in_(job_ids), JobMetric.kind == "eval"
    )
    for job_id, values in session.execute(evals):
        value = values.get("eval/reward")
        best = found[job_id]["best_eval"]
        if value is not None and (best is None or value > best):
            found[job_id]["best_eval"] = value
    return found
