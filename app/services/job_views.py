"""What the job pages read: chart series (downsampled), the run summary, the live-stream start,
event markers, and the job list's rewards. Read-only; every function takes a session."""

from __future__ import annotations

import math
from typing import Any

import orjson
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from app.models import Checkpoint, Job, JobEvent, JobLog, JobMetric

# Charts stay smooth with this many points per series; longer jobs are averaged in buckets.
MAX_CHART_POINTS = 1500
# Within a bucket these keep their extreme, not their mean (a max length is a max).
BUCKET_MIN = ("completions/min_length",)
BUCKET_MAX = ("completions/max_length",)
MARKER_EVENTS = ("evaluators_applied", "resumed")


def last_event_id(session: Session, job_id: int) -> int:
    """Where the live stream starts for a page rendered now: everything before is on the page."""
    query = select(func.max(JobEvent.id)).where(JobEvent.job_id == job_id)
    return session.scalar(query) or 0


def metric_rows(session: Session, job_id: int, kind: str) -> list[tuple[int, dict[str, float]]]:
    """(step, values) in step order. The JSON is read as text and parsed with orjson: a long
    job has 10,000 rows, and the generic JSON column type spends most of the page's time."""
    raw = cast(JobMetric.values, Text)
    query = (
        select(JobMetric.step, raw)
        .where(JobMetric.job_id == job_id, JobMetric.kind == kind)
        .order_by(JobMetric.step)
    )
    return [(step, orjson.loads(text)) for step, text in session.execute(query)]


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
    if size == 1:  # short job: every step as it is
        return {
            "steps": [step for step, _ in rows],
            "series": {k: [v.get(k) for _, v in rows] for k in keys},
            "bucket": 1,
        }
    steps: list[int] = []
    series: dict[str, list[float | None]] = {k: [] for k in keys}
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        steps.append(chunk[-1][0])
        found: dict[str, list[float]] = {}
        for _, values in chunk:
            for key, value in values.items():
                found.setdefault(key, []).append(value)
        for key in keys:
            got = found.get(key)
            series[key].append(_bucket_value(key, got) if got else None)
    return {"steps": steps, "series": series, "bucket": size}


def markers(session: Session, job_id: int) -> list[dict[str, Any]]:
    """Vertical lines on the charts: checkpoints, evaluator changes, resumes after a lost worker."""
    saved = select(Checkpoint.step).where(Checkpoint.job_id == job_id).order_by(Checkpoint.step)
    found = [
        {"step": step, "kind": "checkpoint", "label": "checkpoint"}
        for step in session.scalars(saved)
    ]
    events: list[tuple[int, str, dict[str, Any]]] = []
    for type_ in MARKER_EVENTS:  # one equality each: SQLite then uses the (job_id, type) index
        query = select(JobEvent.id, JobEvent.data).where(
            JobEvent.job_id == job_id, JobEvent.type == type_
        )
        events.extend((event_id, type_, data) for event_id, data in session.execute(query))
    for _id, type_, data in sorted(events, key=lambda e: e[0]):
        if type_ == "evaluators_applied":
            label = f"evaluators changed (revision {data.get('revision')})"
            found.append({"step": data["step"], "kind": "evaluators", "label": label})
        else:  # a lost worker's job picked up again from its last checkpoint
            found.append({"step": data["step"], "kind": "resumed", "label": "resumed"})
    return found


def series(
    session: Session, job_id: int, kind: str, max_points: int = MAX_CHART_POINTS
) -> dict[str, Any]:
    """A job's metrics of ``kind`` as chart columns. A long job is bucketed in the database
    (mean per bucket; min/max lengths keep their extremes): its rows never reach Python."""
    mine = (JobMetric.job_id == job_id, JobMetric.kind == kind)
    count = session.scalar(select(func.count()).select_from(JobMetric).where(*mine)) or 0
    if count <= max_points:
        return columns(metric_rows(session, job_id, kind), max_points)
    size = math.ceil(count / max_points)
    keys = _sampled_keys(session, job_id, kind, count)
    aggregates = []
    for key in keys:
        value = JobMetric.values[key].as_float()
        aggregate = func.min if key in BUCKET_MIN else func.max if key in BUCKET_MAX else func.avg
        aggregates.append(aggregate(value))
    last_step = func.max(JobMetric.step)
    query = (
        select(last_step, *aggregates)
        .where(*mine)
        .group_by(JobMetric.step // size)
        .order_by(last_step)
    )
    found = session.execute(query).all()
    return {
        "steps": [row[0] for row in found],
        "series": {k: [row[i + 1] for row in found] for i, k in enumerate(keys)},
        "bucket": size,
    }


def _sampled_keys(session: Session, job_id: int, kind: str, count: int) -> list[str]:
    """The metric names of a long job, from about 100 rows spread over the run (and the last):
    names change only when the evaluators do."""
    stride = max(1, count // 100)
    where = (JobMetric.job_id == job_id, JobMetric.kind == kind)
    raw = cast(JobMetric.values, Text)
    spread = select(raw).where(*where, JobMetric.step % stride == 0)
    newest = select(raw).where(*where).order_by(JobMetric.step.desc()).limit(1)
    keys: set[str] = set()
    for query in (spread, newest):
        for text in session.scalars(query):
            keys.update(orjson.loads(text))
    return sorted(keys)


def chart_data(session: Session, job: Job, max_points: int = MAX_CHART_POINTS) -> dict[str, Any]:
    return {
        "train": series(session, job.id, "train", max_points),
        "eval": series(session, job.id, "eval", max_points),
        "markers": markers(session, job.id),
        "evaluators": [e["name"] for e in job.spec.get("evaluators", [])],
    }


def summary(session: Session, job: Job, chart: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run at a glance: validation at the start, best and last; the reward gained; the best
    checkpoint; how often the evaluators could not score a sample. ``chart``: the job's
    chart_data when the caller has it already."""
    train = (chart or {}).get("train") or series(session, job.id, "train")
    validation = [
        (step, values["eval/reward"])
        for step, values in metric_rows(session, job.id, "eval")
        if "eval/reward" in values
    ]
    start = validation[0] if validation and validation[0][0] == 0 else None
    best = max(validation, key=lambda sv: (sv[1], sv[0])) if validation else None
    last = validation[-1] if validation else None
    best_checkpoint = session.scalars(
        select(Checkpoint).where(Checkpoint.job_id == job.id, Checkpoint.is_best)
    ).first()
    rates = [
        v
        for key, values in train["series"].items()
        if key.endswith("/invalid_frac")
        for v in values
        if v is not None
    ]
    errors = select(func.count()).where(JobLog.job_id == job.id, JobLog.level == "error")
    return {
        "eval_start": start,
        "eval_best": best,
        "eval_last": last,
        "gain": (best[1] - start[1]) if best and start else None,
        "best_checkpoint": best_checkpoint,
        "current_reward": latest_train(session, job.id).get("reward"),
        "invalid_rate": sum(rates) / len(rates) if rates else None,
        "errors": session.scalar(errors) or 0,
    }


def latest_train(session: Session, job_id: int) -> dict[str, float]:
    query = (
        select(cast(JobMetric.values, Text))
        .where(JobMetric.job_id == job_id, JobMetric.kind == "train")
        .order_by(JobMetric.step.desc())
        .limit(1)
    )
    text = session.scalar(query)
    return orjson.loads(text) if text else {}


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
