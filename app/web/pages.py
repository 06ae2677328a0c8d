"""The dashboard and the section pages of the navigation."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep, SettingsDep
from app.core.errors import DomainError
from app.services import demo, job_records, system
from app.tasks import QUEUES
from app.web.deps import PageUser
from app.web.templating import render

router = APIRouter(include_in_schema=False)

SECTIONS: dict[str, tuple[str, str]] = {}  # every section has a page of its own now


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, user: PageUser, settings: SettingsDep) -> HTMLResponse:
    return render(request, "pages/dashboard.html", settings=settings)


@router.get("/status", response_class=HTMLResponse)
async def status(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The live status widget: database, broker and a real round trip to the workers."""
    celery = request.app.state.celery
    database = await run_in_threadpool(system.database_health, session)
    broker = await run_in_threadpool(system.broker_health, settings, celery)
    try:
        workers = await run_in_threadpool(system.ping_workers, celery, QUEUES, 3.0)
        worker_error = None
    except DomainError as exc:
        workers, worker_error = [], exc.detail
        busy = job_records.running_jobs(session)
        if busy:  # a worker with concurrency 1 answers pings only between tasks
            worker_error = f"busy: running job {', '.join(str(j) for j in busy)}"
    return render(
        request,
        "partials/status.html",
        database=database,
        broker=broker,
        workers=workers,
        worker_error=worker_error,
        demo=demo.model_status(settings) if settings.seed_demo else None,
    )


def _section_page(slug: str) -> Callable[..., HTMLResponse]:
    title, summary = SECTIONS[slug]

    def page(request: Request, user: PageUser) -> HTMLResponse:
        return render(request, "pages/section.html", title=title, summary=summary, section=slug)

    return page


for _slug in SECTIONS:
    router.add_api_route(f"/{_slug}", _section_page(_slug), response_class=HTMLResponse)
