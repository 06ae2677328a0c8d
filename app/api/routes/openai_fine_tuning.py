"""OpenAI's fine-tuning jobs API (``client.fine_tuning.jobs.*``) over this product's jobs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.api.routes.openai_errors import OpenAIRoute
from app.schemas.openai_ft import FineTuningJobCreate, cursor_page
from app.services import jobs, openai_ft, openai_objects
from app.tasks import enqueue_job_after_commit

router = APIRouter(prefix="/v1/fine_tuning", tags=["openai fine-tuning"], route_class=OpenAIRoute)


@router.post("/jobs")
def create_job(
    body: FineTuningJobCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """A reinforcement fine-tuning job (``method.type = "reinforcement"``) on a local model."""
    job = openai_ft.create(session, settings, user, body)
    session.flush()
    enqueue_job_after_commit(session, request.app.state.celery, job.id)
    return openai_objects.job_object(session, job, user)


@router.get("/jobs")
def list_jobs(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    after: str | None = Query(None, description="A job id: the page after it."),
    limit: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    # The client sends metadata filters as metadata[key]=value.
    metadata = {
        key[len("metadata[") : -1]: value
        for key, value in request.query_params.items()
        if key.startswith("metadata[") and key.endswith("]")
    }
    rows, has_more = openai_ft.list_jobs(session, user, after, limit, metadata)
    return cursor_page([openai_objects.job_object(session, j, user) for j in rows], has_more)


@router.get("/jobs/{job_id}")
def read_job(job_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return openai_objects.job_object(session, openai_ft.get_job(session, user, job_id), user)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """A queued or paused job is cancelled at once; a running one at its next step."""
    job = jobs.cancel(session, user, openai_ft.get_job(session, user, job_id).id)
    return openai_objects.job_object(session, job, user)


@router.post("/jobs/{job_id}/pause")
def pause_job(job_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Stops the job at its next step, keeping a checkpoint (status ``paused``)."""
    return openai_objects.job_object(session, openai_ft.pause(session, user, job_id), user)


@router.post("/jobs/{job_id}/resume")
def resume_job(
    job_id: str,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """A paused job continues from its last checkpoint."""
    job, enqueue = openai_ft.resume(session, user, job_id)
    if enqueue:
        enqueue_job_after_commit(session, request.app.state.celery, job.id)
    return openai_objects.job_object(session, job, user)


@router.get("/jobs/{job_id}/events")
def list_events(
    job_id: str,
    session: SessionDep,
    user: CurrentUser,
    after: str | None = Query(None, description="An event id: the (older) page after it."),
    limit: int = Query(20, ge=1, le=1000),
) -> dict[str, Any]:
    job = openai_ft.get_job(session, user, job_id)
    rows, has_more = openai_objects.list_events(session, job, after, limit)
    return cursor_page([openai_objects.event_object(e, job) for e in rows], has_more)


@router.get("/jobs/{job_id}/checkpoints")
def list_checkpoints(
    job_id: str,
    session: SessionDep,
    user: CurrentUser,
    after: str | None = Query(None, description="A checkpoint id: the page after it."),
    limit: int = Query(10, ge=1, le=100),
) -> dict[str, Any]:
    job = openai_ft.get_job(session, user, job_id)
    rows, has_more = openai_objects.list_checkpoints(session, job, after, limit)
    data = [openai_objects.checkpoint_object(c, job, user) for c in rows]
    return cursor_page(data, has_more)
