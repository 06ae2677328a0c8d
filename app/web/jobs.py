"""Fine-tuning pages: the job list (live while jobs run) and a job's live view."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SessionDep, SettingsDep
from app.core.errors import is_htmx
from app.schemas.job import JobPublic
from app.schemas.job_params import parse_job_request
from app.services import demo, jobs
from app.tasks import enqueue_job
from app.web.deps import PageUser
from app.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/fine-tuning", response_class=HTMLResponse)
def jobs_page(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser
) -> HTMLResponse:
    rows = [JobPublic.of(j) for j in jobs.list_for(session, user, 0, 200)]
    active = any(j.status in ("queued", "running") for j in rows)
    preset = settings.data_path / "demo-job.json"
    block = "jobs" if is_htmx(request) else None
    return render(
        request,
        "pages/jobs.html",
        block=block,
        jobs=rows,
        active=active,
        demo_ready=preset.exists() and demo.model_status(settings)["state"] == "ready",
    )


@router.post("/fine-tuning/demo")
def launch_demo(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser
) -> Response:
    """Queue the demo job for this user (their own copy of the demo resources)."""
    resources = demo.seed(session, settings, user)
    job = jobs.create(session, settings, user, parse_job_request(demo.job_request(resources)))
    session.commit()
    enqueue_job(request.app.state.celery, job.id)
    return Response(status_code=204, headers={"HX-Redirect": f"/fine-tuning/{job.id}"})


@router.get("/fine-tuning/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: int, session: SessionDep, user: PageUser) -> HTMLResponse:
    job = JobPublic.of(jobs.get(session, user, job_id))
    return render(request, "pages/job.html", job=job)
