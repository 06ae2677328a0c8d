"""Fine-tuning pages: the job list (live while jobs run), a job's page (its stored state at
once, then the live stream from there), and runs compared side by side."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import PathId, SessionDep, SettingsDep
from app.core.errors import InvalidInput, is_htmx
from app.schemas.job import JobPublic
from app.schemas.job_params import parse_job_request
from app.services import demo, job_compare, job_views, jobs
from app.tasks import enqueue_job_after_commit
from app.web import job_fragments
from app.web.deps import PageUser
from app.web.templating import render

router = APIRouter(include_in_schema=False)
JOB_SORTS = ("id", "name", "status", "reward", "best_eval")


@router.get("/fine-tuning", response_class=HTMLResponse)
def jobs_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
    sort: str = Query("id", pattern="^(" + "|".join(JOB_SORTS) + ")$"),
    desc: bool = True,
) -> HTMLResponse:
    found = jobs.list_for(session, user, 0, 200)
    rewards = job_views.list_rewards(session, [j.id for j in found])
    rows: list[dict[str, Any]] = [{"job": JobPublic.of(j), **rewards[j.id]} for j in found]
    rows.sort(key=lambda r: _sort_key(r, sort), reverse=desc)
    active = any(r["job"].status in ("queued", "running") for r in rows)
    preset = settings.data_path / "demo-job.json"
    return render(
        request,
        "pages/jobs.html",
        block="jobs" if is_htmx(request) else None,
        rows=rows,
        active=active,
        sort=sort,
        desc=desc,
        demo_ready=preset.exists() and demo.model_status(settings)["state"] == "ready",
    )


def _sort_key(row: dict[str, Any], sort: str) -> tuple[bool, Any]:
    """Jobs without the value (no reward yet) go last, whichever the direction."""
    value = row.get(sort) if sort in ("reward", "best_eval") else getattr(row["job"], sort)
    return (value is not None, value if value is not None else 0)


@router.post("/fine-tuning/demo")
def launch_demo(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser
) -> Response:
    """Queue the demo job for this user (their own copy of the demo resources)."""
    resources = demo.seed(session, settings, user)
    job = jobs.create(session, settings, user, parse_job_request(demo.job_request(resources)))
    enqueue_job_after_commit(session, request.app.state.celery, job.id)
    session.commit()
    return Response(status_code=204, headers={"HX-Redirect": f"/fine-tuning/{job.id}"})


@router.get("/fine-tuning/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    session: SessionDep,
    user: PageUser,
    ids: str = "",
    pick: list[str] = Query([], description="Job ids ticked in the job list."),
) -> HTMLResponse:
    chosen = _job_ids(",".join([ids, *pick]))
    runs = [jobs.get(session, user, i) for i in chosen]
    view = job_compare.compare(session, runs) if len(runs) >= 2 else None
    candidates = [JobPublic.of(j) for j in jobs.list_for(session, user, 0, 200)]
    return render(
        request,
        "pages/job_compare.html",
        view=view,
        chosen=chosen,
        candidates=candidates,
        chart_json=script_json(view["charts"] if view else None),
    )


def _job_ids(raw: str) -> list[int]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    try:
        chosen = list(dict.fromkeys(int(p) for p in parts))
    except ValueError:
        raise InvalidInput(
            "Invalid job ids", [{"field": "ids", "message": "job ids separated by commas"}]
        ) from None
    if len(chosen) > job_compare.MAX_RUNS:
        message = f"at most {job_compare.MAX_RUNS} jobs (got {len(chosen)})"
        raise InvalidInput("Too many jobs", [{"field": "ids", "message": message}])
    return chosen


@router.get("/fine-tuning/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: PathId, session: SessionDep, user: PageUser) -> HTMLResponse:
    """Everything stored so far is in the page; the stream starts after its newest event."""
    # The stream's start is read before the job: an event in between is sent, not lost.
    after = job_views.last_event_id(session, job_id)
    job = jobs.get(session, user, job_id)
    chart = job_views.chart_data(session, job)
    return render(
        request,
        "pages/job.html",
        job=JobPublic.of(job),
        config=_config(job.spec),
        summary=job_views.summary(session, job, chart),
        checkpoints=jobs.checkpoints(session, job),
        after=after,
        chart_json=script_json(chart),
        **job_fragments.browse_context(session, job),
    )


def _config(spec: dict[str, Any]) -> dict[str, Any]:
    """The resolved configuration as shown: evaluators without their code."""
    pinned = [{k: v for k, v in e.items() if k != "code"} for e in spec.get("evaluators", [])]
    return {**spec, "evaluators": pinned}


def script_json(value: Any) -> str:
    """JSON to embed in a <script> element: a "</" inside a string cannot close it."""
    return orjson.dumps(value).decode().replace("</", "<\\/")


router.include_router(job_fragments.router)
