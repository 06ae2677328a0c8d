"""The parts of a job's page that htmx reloads: completions (filtered, paged), one prompt's
group, reward logs, checkpoints and the run summary."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.api.deps import PathId, SessionDep
from app.core.errors import InvalidInput
from app.models import Job
from app.schemas.job import JobPublic
from app.services import job_samples, job_views, jobs
from app.web.deps import PageUser
from app.web.templating import render

router = APIRouter(include_in_schema=False)
COMPLETIONS_PER_PAGE = 20
LOGS_PER_PAGE = 50
FOLD_CHARS = 600  # longer completions show their start and unfold on a click


def _page_job(job_id: PathId, session: SessionDep, user: PageUser) -> Job:
    return jobs.get(session, user, job_id)


# The job of the URL, the signed-in user's own (404 otherwise), in the request's session.
PageJob = Annotated[Job, Depends(_page_job)]


def _paging(params: dict[str, str], page: int, total: int, per_page: int) -> dict[str, Any]:
    """What the pager of a fragment shows; the filters are kept in its links."""
    return {
        "total": total,
        "page": page,
        "pages": max(1, -(-total // per_page)),
        "params": {k: v for k, v in params.items() if k != "page"},
    }


def browse_context(session: Session, job: Job) -> dict[str, Any]:
    """What the filter forms offer: the evaluators, the sampled steps and prompts, log sources."""
    return {
        "evaluator_names": [e["name"] for e in job.spec.get("evaluators", [])],
        "prompts": job_samples.prompts(session, job),
        "log_sources": job_samples.log_sources(session, job),
        "fold_chars": FOLD_CHARS,
    }


def _number(params: dict[str, str], name: str, kind: type = float) -> Any:
    """A form field: empty is "not set"; anything else must parse, or the field is named."""
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise InvalidInput(
            "Invalid filter", [{"field": name, "message": f"must be {expected} (got {raw!r})"}]
        ) from None


def completion_filter(params: dict[str, str]) -> job_samples.CompletionFilter:
    return job_samples.CompletionFilter(
        step=None if params.get("any_step") else _number(params, "step", int),
        step_min=_number(params, "step_min", int),
        step_max=_number(params, "step_max", int),
        prompt=params.get("prompt") or None,
        evaluator=params.get("evaluator") or None,
        reward_min=_number(params, "reward_min"),
        reward_max=_number(params, "reward_max"),
        invalid=params.get("invalid") in ("1", "on", "true"),
        q=(params.get("q") or "").strip()[:200] or None,
    )


@router.get("/fine-tuning/{job_id}/completions", response_class=HTMLResponse)
def completions_fragment(request: Request, job: PageJob, session: SessionDep) -> HTMLResponse:
    params = dict(request.query_params)
    page = max(0, _number(params, "page", int) or 0)
    f = completion_filter(params)
    asked = f.step
    if f.step is not None:  # the slider's step, or the nearest one that has samples
        f = replace(f, step=job_samples.nearest_sampled_step(session, job, f.step) or f.step)
    found, total = job_samples.completions(
        session, job, f, page * COMPLETIONS_PER_PAGE, COMPLETIONS_PER_PAGE
    )
    return render(
        request,
        "partials/job_completions.html",
        job_id=job.id,
        rows=found,
        **_paging(params, page, total, COMPLETIONS_PER_PAGE),
        fold_chars=FOLD_CHARS,
        step=f.step,
        asked_step=asked,
    )


@router.get("/fine-tuning/{job_id}/group", response_class=HTMLResponse)
def group_fragment(request: Request, job: PageJob, session: SessionDep) -> HTMLResponse:
    """One prompt's completions at a step, and at a second step beside them when asked."""
    params = dict(request.query_params)
    prompt = params.get("prompt", "")
    steps = job_samples.sampled_steps(session, job, prompt)
    step = _number(params, "step", int)
    other = _number(params, "other", int)
    columns = [s for s in (step, other) if s is not None]
    return render(
        request,
        "partials/job_group.html",
        job_id=job.id,
        prompt=prompt,
        steps=steps,
        step=step,
        other=other,
        groups=[(s, job_samples.group(session, job, s, prompt)) for s in columns],
        evaluator_names=[e["name"] for e in job.spec.get("evaluators", [])],
        fold_chars=FOLD_CHARS,
    )


@router.get("/fine-tuning/{job_id}/logs", response_class=HTMLResponse)
def logs_fragment(request: Request, job: PageJob, session: SessionDep) -> HTMLResponse:
    params = dict(request.query_params)
    level = params.get("level") or None
    if level not in (None, "info", "warning", "error"):
        message = "one of info (print output), warning, error"
        raise InvalidInput("Invalid filter", [{"field": "level", "message": message}])
    f = job_samples.LogFilter(
        source=params.get("source") or None,
        level=level,
        step_min=_number(params, "step_min", int),
        step_max=_number(params, "step_max", int),
    )
    page = max(0, _number(params, "page", int) or 0)
    found, total = job_samples.logs(session, job, f, page * LOGS_PER_PAGE, LOGS_PER_PAGE)
    return render(
        request,
        "partials/job_logs.html",
        job_id=job.id,
        rows=found,
        **_paging(params, page, total, LOGS_PER_PAGE),
        groups=job_samples.error_groups(session, job, f),
    )


@router.get("/fine-tuning/{job_id}/checkpoints", response_class=HTMLResponse)
def checkpoints_fragment(request: Request, job: PageJob, session: SessionDep) -> HTMLResponse:
    return render(
        request,
        "partials/job_checkpoints.html",
        job=JobPublic.of(job),
        checkpoints=jobs.checkpoints(session, job),
    )


@router.get("/fine-tuning/{job_id}/summary", response_class=HTMLResponse)
def summary_fragment(request: Request, job: PageJob, session: SessionDep) -> HTMLResponse:
    return render(
        request,
        "partials/job_summary.html",
        job=JobPublic.of(job),
        summary=job_views.summary(session, job),
    )
