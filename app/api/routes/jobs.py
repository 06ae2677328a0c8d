from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from app.api.deps import CurrentUser, Limit, Offset, PathId, SessionDep, SettingsDep
from app.schemas.common import MAX_ID, Page
from app.schemas.job import (
    CheckpointPublic,
    CompletionPublic,
    JobEvaluatorsUpdate,
    JobPublic,
    LogPublic,
    MetricPublic,
)
from app.schemas.job_params import JobCreate, invalid_request
from app.schemas.job_views import JobSummary
from app.services import job_samples, job_views, jobs, preflight
from app.tasks import enqueue_job_after_commit


class JobBodyRoute(APIRoute):
    """A bad job body answers the job's own 422 (each field named with its valid range, under
    "Invalid training parameters" etc.) rather than the generic "Invalid request"."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        annotation = self.body_field.field_info.annotation if self.body_field else None
        body_model = annotation if isinstance(annotation, type) else None
        if body_model is not None and not issubclass(body_model, BaseModel):
            body_model = None

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = exc.errors()
                if body_model is None or any(e.get("loc", ("",))[0] != "body" for e in errors):
                    raise
                raise invalid_request(errors, body_model) from None

        return handle


router = APIRouter(prefix="/api/v1", tags=["jobs"], route_class=JobBodyRoute)
EVENT_POLL_SECONDS = 0.25


@router.post("/jobs", response_model=JobPublic, status_code=status.HTTP_201_CREATED)
def create_job(
    body: JobCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> JobPublic:
    """Validate, derive what was left unset (answered in the job), and queue."""
    job = jobs.create(session, settings, user, body)
    enqueue_job_after_commit(session, request.app.state.celery, job.id)
    return JobPublic.of(job)


@router.post("/jobs/preflight")
def preflight_job(
    body: JobCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Sample the base model on a few prompts and say whether RFT can learn from them.
    (A sync handler: FastAPI runs it in its thread pool while a worker does the sampling.)"""
    plan = preflight.plan(session, settings, user, body)
    return preflight.run(request.app.state.celery, plan)


@router.get("/jobs", response_model=Page[JobPublic])
def list_jobs(
    session: SessionDep,
    user: CurrentUser,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[JobPublic]:
    rows = jobs.list_for(session, user, offset, limit)
    return Page(data=[JobPublic.of(j) for j in rows], count=jobs.count_for(session, user))


@router.get("/jobs/{job_id}", response_model=JobPublic)
def read_job(job_id: PathId, session: SessionDep, user: CurrentUser) -> JobPublic:
    return JobPublic.of(jobs.get(session, user, job_id))


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic)
def cancel_job(job_id: PathId, session: SessionDep, user: CurrentUser) -> JobPublic:
    return JobPublic.of(jobs.cancel(session, user, job_id))


@router.put("/jobs/{job_id}/evaluators", response_model=JobPublic)
def update_job_evaluators(
    job_id: PathId, body: JobEvaluatorsUpdate, session: SessionDep, user: CurrentUser
) -> JobPublic:
    return JobPublic.of(jobs.set_evaluators(session, user, job_id, body.evaluators))


@router.get("/jobs/{job_id}/metrics", response_model=Page[MetricPublic])
def job_metrics(job_id: PathId, session: SessionDep, user: CurrentUser) -> Page[MetricPublic]:
    rows = jobs.metrics(session, jobs.get(session, user, job_id))
    return Page(data=[MetricPublic.model_validate(r) for r in rows], count=len(rows))


@router.get("/jobs/{job_id}/completions", response_model=Page[CompletionPublic])
def job_completions(
    job_id: PathId,
    session: SessionDep,
    user: CurrentUser,
    offset: Offset = 0,
    limit: int = Query(50, ge=1, le=500),
    step: int | None = Query(None, ge=0, le=MAX_ID),
    step_min: int | None = Query(None, ge=0),
    step_max: int | None = Query(None, ge=0),
    prompt: str | None = Query(None, max_length=20_000, description="Exactly this prompt."),
    evaluator: str | None = Query(
        None, max_length=200, description="Reward range and invalid apply to its score."
    ),
    reward_min: float | None = Query(None),
    reward_max: float | None = Query(None),
    invalid: bool = Query(False, description="Only samples without a valid score."),
    q: str | None = Query(None, max_length=200, description="Text in prompt or completion."),
) -> Page[CompletionPublic]:
    job = jobs.get(session, user, job_id)
    f = job_samples.CompletionFilter(
        step, step_min, step_max, prompt, evaluator, reward_min, reward_max, invalid, q
    )
    rows, total = job_samples.completions(session, job, f, offset, limit)
    return Page(data=[CompletionPublic.model_validate(r) for r in rows], count=total)


@router.get("/jobs/{job_id}/logs", response_model=Page[LogPublic])
def job_logs(
    job_id: PathId,
    session: SessionDep,
    user: CurrentUser,
    offset: Offset = 0,
    limit: Limit = 100,
    level: str | None = Query(None, pattern="^(info|warning|error)$"),
    source: str | None = Query(None, max_length=200, description="An evaluator's name."),
    step_min: int | None = Query(None, ge=0),
    step_max: int | None = Query(None, ge=0),
) -> Page[LogPublic]:
    job = jobs.get(session, user, job_id)
    f = job_samples.LogFilter(source, level, step_min, step_max)
    rows, total = job_samples.logs(session, job, f, offset, limit)
    return Page(data=[LogPublic.model_validate(r) for r in rows], count=total)


@router.get("/jobs/{job_id}/summary", response_model=JobSummary)
def job_summary(job_id: PathId, session: SessionDep, user: CurrentUser) -> JobSummary:
    job = jobs.get(session, user, job_id)
    elapsed = JobPublic.of(job).elapsed_seconds
    return JobSummary.of(job, elapsed, job_views.summary(session, job))


@router.get("/jobs/{job_id}/checkpoints", response_model=Page[CheckpointPublic])
def job_checkpoints(
    job_id: PathId, session: SessionDep, user: CurrentUser
) -> Page[CheckpointPublic]:
    rows = jobs.checkpoints(session, jobs.get(session, user, job_id))
    return Page(data=[CheckpointPublic.model_validate(r) for r in rows], count=len(rows))


@router.get("/jobs/{job_id}/events")
def job_events(
    job_id: PathId,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    last_event_id: int | None = Header(None, ge=0, le=MAX_ID),
    after: int = Query(
        0, ge=0, le=MAX_ID, description="Resume after this event id (or Last-Event-ID)."
    ),
) -> StreamingResponse:
    """Server-sent events: every status change, metric, completion, log and checkpoint."""
    jobs.get(session, user, job_id)
    stream = _event_stream(request, job_id, last_event_id or after)
    return StreamingResponse(
        stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


async def _event_stream(request: Request, job_id: int, after: int) -> AsyncIterator[str]:
    factory = request.app.state.session_factory
    idle = 0.0
    while not await request.is_disconnected():
        events, finished = await run_in_threadpool(_read_events, factory, job_id, after)
        for event in events:
            after = event["id"]
            yield f"id: {after}\nevent: {event['type']}\ndata: {json.dumps(event['data'])}\n\n"
        if finished and not events:
            yield f"event: end\ndata: {json.dumps({'job_id': job_id})}\n\n"
            return
        idle = 0.0 if events else idle + EVENT_POLL_SECONDS
        if idle >= 15:
            idle = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(EVENT_POLL_SECONDS)


def _read_events(factory: Any, job_id: int, after: int) -> tuple[list[dict[str, Any]], bool]:
    from app.models import Job

    with factory() as session:
        rows = jobs.events_after(session, job_id, after)
        job = session.get(Job, job_id)
        finished = job is None or job.is_terminal
        return [{"id": e.id, "type": e.type, "data": e.data} for e in rows], finished
