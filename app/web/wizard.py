"""The fine-tune wizard: model -> data -> evaluators -> parameters -> review, then Launch.

One page with five steps. Every check is the server's own (``parse_job_request`` and
``job_defaults.resolve``, as for the API and the CLI); nothing is queued until Launch.
``?from=<job_id>`` ("Copy job") fills the form with that job's configuration.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from itertools import groupby
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from app.api.deps import SessionDep, SettingsDep
from app.core.errors import DomainError, InvalidInput
from app.models import EvaluatorTestCase, User
from app.schemas.job_params import default_text, param_specs, parse_job_request
from app.services import (
    base_models,
    datasets,
    demo,
    evaluator_tests,
    evaluators,
    job_defaults,
    jobs,
    preflight,
)
from app.tasks import enqueue_job_after_commit
from app.web.deps import PageUser
from app.web.models import memory_context
from app.web.templating import render

router = APIRouter(include_in_schema=False)

PEEK_ROWS = 3
CARVE_SEED = 0
GROUPS = ("training", "rollout", "algorithm")


def _value(raw: str) -> Any:
    """A form value as JSON when it reads as JSON (numbers, objects), else the text itself."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _carve_percent(form: Mapping[str, Any]) -> float | None:
    if form.get("validation") != "carve":
        return None
    raw = str(form.get("validation_percent") or "").strip()
    try:
        percent = float(raw)
    except ValueError:
        percent = -1.0
    if not 1 <= percent <= 50:
        raise InvalidInput(
            "Invalid job request",
            [{"field": "validation_percent", "message": f"must be from 1 to 50 (got {raw!r})"}],
        )
    return percent


def request_of(form: Mapping[str, Any], chosen: list[str]) -> dict[str, Any]:
    """The wizard's form as a POST /api/v1/jobs body: empty fields stay unset (derived)."""
    body: dict[str, Any] = {"training": {}, "rollout": {}, "evaluators": []}
    for key in ("base_model", "name"):
        if str(form.get(key) or "").strip():
            body[key] = str(form[key]).strip()
    if str(form.get("dataset_id") or "").strip():
        body["dataset_id"] = _value(str(form["dataset_id"]))
    if form.get("validation") == "dataset" and str(form.get("validation_dataset_id") or ""):
        body["validation_dataset_id"] = _value(str(form["validation_dataset_id"]))
    for ident in chosen:
        weight = str(form.get(f"weight_{ident}") or "").strip()
        body["evaluators"].append({"id": _value(ident), "weight": _value(weight or "1")})
    for spec in param_specs():
        raw = str(form.get(spec.path) or "").strip()
        if raw:
            section, name = spec.path.split(".")
            body[section][name] = raw if spec.kind == "json" else _value(raw)
    return body


async def _form(request: Request) -> tuple[dict[str, Any], list[str]]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}, [
        str(v) for v in form.getlist("evaluator")
    ]


def _check(
    session: SessionDep, settings: SettingsDep, user: User, form: dict[str, Any], chosen: list[str]
) -> job_defaults.Resolved:
    _carve_percent(form)
    request = parse_job_request(request_of(form, chosen))
    return job_defaults.resolve(session, settings, user, request)


def _prefill(session: SessionDep, user: User, job_id: int) -> dict[str, Any]:
    """A job's configuration as form values; derived parameters stay empty (derived again)."""
    job = jobs.get(session, user, job_id)
    spec, derived = job.spec, set(job.spec.get("derived", []))
    values: dict[str, Any] = {"base_model": job.base_model, "dataset_id": job.dataset_id}
    values["name"] = f"{job.name} (copy)"
    if job.validation_dataset_id:
        values["validation"] = "dataset"
        values["validation_dataset_id"] = job.validation_dataset_id
    for item in spec.get("evaluators", []):
        values.setdefault("evaluator", []).append(str(item["id"]))
        values[f"weight_{item['id']}"] = item.get("weight", 1.0)
    for p in param_specs():
        section, name = p.path.split(".")
        value = spec.get(section, {}).get(name)
        if p.path in derived or value is None:
            continue
        values[p.path] = json.dumps(value) if p.kind == "json" else value
    return values


@router.get("/fine-tuning/new", response_class=HTMLResponse)
def wizard_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
    from_: int | None = Query(None, alias="from", description="Copy this job's configuration."),
) -> HTMLResponse:
    owned = evaluators.list_for(session, user, 0, 1000)
    ids = [e.id for e in owned]
    tests = Counter(
        session.scalars(
            select(EvaluatorTestCase.evaluator_id).where(EvaluatorTestCase.evaluator_id.in_(ids))
        )
    )
    specs = sorted(param_specs(), key=lambda s: GROUPS.index(s.group))
    return render(
        request,
        "pages/wizard.html",
        models=base_models.list_models(settings),
        **memory_context(settings),
        datasets=datasets.list_for(session, user, 0, 1000),
        evaluators=owned,
        tests=tests,
        groups=[(g, list(items)) for g, items in groupby(specs, key=lambda s: s.group)],
        default_text=default_text,
        demo_model=demo.model_status(settings),
        prefill=_prefill(session, user, from_) if from_ else None,
        copied_from=from_,
    )


@router.post("/fine-tuning/new/check", response_class=HTMLResponse)
async def check(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser
) -> HTMLResponse:
    """Errors at their fields (htmx out-of-band swaps), as the user types."""
    form, chosen = await _form(request)
    errors: list[dict[str, Any]] = []
    try:
        await run_in_threadpool(_check, session, settings, user, form, chosen)
    except InvalidInput as exc:
        errors = exc.errors
    by_field = {e.get("field"): e["message"] for e in errors}
    fields = [p.path for p in param_specs()] + ["validation_percent", "base_model", "dataset_id"]
    other = [e for e in errors if e.get("field") not in fields]
    return render(
        request,
        "partials/wizard_errors.html",
        fields=fields,
        by_field=by_field,
        other=other,
    )


@router.post("/fine-tuning/new/review", response_class=HTMLResponse)
async def review(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser
) -> HTMLResponse:
    """What the defaults became, the plan and a wall-time estimate; or what is still wrong."""
    form, chosen = await _form(request)
    try:
        resolved = await run_in_threadpool(_check, session, settings, user, form, chosen)
    except InvalidInput as exc:
        return render(request, "partials/wizard_review.html", problems=exc.errors)
    return render(
        request,
        "partials/wizard_review.html",
        resolved=resolved,
        final=resolved.request.model_dump(mode="json"),
        estimate=job_defaults.estimate(session, resolved),
        carve=_carve_percent(form),
        problems=[],
    )


@router.post("/fine-tuning/new/preflight", response_class=HTMLResponse)
async def run_preflight(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser
) -> HTMLResponse:
    """A worker samples the base model on a few prompts and scores them (nothing queued)."""
    form, chosen = await _form(request)
    request_body = parse_job_request(request_of(form, chosen))
    plan = await run_in_threadpool(preflight.plan, session, settings, user, request_body)
    report = await run_in_threadpool(preflight.run, request.app.state.celery, plan)
    return render(request, "partials/wizard_preflight.html", report=report)


@router.post("/fine-tuning/new/launch")
async def launch(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser
) -> Response:
    form, chosen = await _form(request)
    await run_in_threadpool(_check, session, settings, user, form, chosen)
    body = request_of(form, chosen)
    percent = _carve_percent(form)
    if percent is not None:
        storage = datasets.storage_for(session)
        train, validation = await run_in_threadpool(
            datasets.split, session, storage, user, int(body["dataset_id"]), percent, CARVE_SEED
        )
        body.update(dataset_id=train.id, validation_dataset_id=validation.id)
    job = jobs.create(session, settings, user, parse_job_request(body))
    enqueue_job_after_commit(session, request.app.state.celery, job.id)
    session.commit()
    return Response(status_code=204, headers={"HX-Redirect": f"/fine-tuning/{job.id}"})


@router.get("/fine-tuning/new/peek", response_class=HTMLResponse)
def peek(
    request: Request, session: SessionDep, user: PageUser, dataset_id: int = Query(...)
) -> HTMLResponse:
    """A few rows of the chosen dataset."""
    row = datasets.get(session, user, dataset_id)
    rows = datasets.read_rows(session, user, dataset_id, 0, min(PEEK_ROWS, row.row_count or 1))
    shown = [json.dumps(r, ensure_ascii=False)[:400] for r in rows]
    return render(request, "partials/wizard_peek.html", dataset=row, rows=shown)


@router.post("/fine-tuning/new/tests/{evaluator_id}", response_class=HTMLResponse)
async def run_tests(
    request: Request, evaluator_id: int, session: SessionDep, user: PageUser
) -> HTMLResponse:
    """The evaluator's pinned tests, run now on its latest version."""
    settings = request.app.state.settings
    try:
        work = await run_in_threadpool(
            evaluator_tests.plan, session, settings, user, evaluator_id, None
        )
        pool = await run_in_threadpool(request.app.state.evaluator_pool.get)
        outcome = await run_in_threadpool(evaluator_tests.run, pool, work, f"user-{user.id}")
    except DomainError as exc:
        return render(request, "partials/wizard_tests.html", outcome=None, problem=exc.detail)
    return render(request, "partials/wizard_tests.html", outcome=outcome, problem=None)
