"""Evaluators over HTTP: saved evaluators with their versions, templates, and the IDE preview.

The preview runs unsaved code on the caller's dataset rows through the app's one sandboxed
pool (``app.state.evaluator_pool``); the streamed form sends each row as it finishes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from app.api.deps import CurrentUser, Limit, Offset, PathId, SessionDep, SettingsDep
from app.core.config import Settings
from app.evaluators import environment, list_templates
from app.models import User
from app.schemas.common import Page
from app.schemas.evaluator import (
    EnvironmentPackage,
    EvaluatorCreate,
    EvaluatorPublic,
    EvaluatorUpdate,
    EvaluatorVersionPublic,
    PreviewRequest,
    PreviewResponse,
    TemplatePublic,
)
from app.services import evaluator_envs, evaluator_preview, evaluators, preview_sampling
from app.services.evaluator_preview import SharedPool

router = APIRouter(prefix="/api/v1/evaluators", tags=["evaluators"])


def get_pool(request: Request) -> SharedPool:
    pool: SharedPool = request.app.state.evaluator_pool
    return pool


PoolDep = Annotated[SharedPool, Depends(get_pool)]


@router.get("/environment", response_model=Page[EnvironmentPackage])
def list_environment(_user: CurrentUser) -> Page[EnvironmentPackage]:
    """The packages evaluators can import inside the sandbox, with their versions."""
    data = [EnvironmentPackage(**p) for p in environment.packages()]
    return Page(data=data, count=len(data))


@router.get("/templates", response_model=Page[TemplatePublic])
def list_evaluator_templates(_user: CurrentUser) -> Page[TemplatePublic]:
    """Built-in graders to start from, the default (math answer) first."""
    data = [TemplatePublic.of(t) for t in list_templates()]
    return Page(data=data, count=len(data))


@router.post("/preview", response_model=PreviewResponse)
async def preview(
    body: PreviewRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    pool: PoolDep,
) -> PreviewResponse:
    """Score rows of your dataset with unsaved code: per-row results and a summary. A client
    that disconnects stops the run. With `sample`, rows without a completion are scored on
    completions a worker generates; with `completions`, on ones typed by hand."""
    # Admitted: rows read, the session closed (no connection held while evaluators run).
    work, shared = await evaluator_preview.admit(pool, session, settings, user, body)
    tenant = f"user-{user.id}"
    if preview_sampling.wanted(body):
        prepared = await _prepare_sampling(request, session, settings, user, body, work)
        celery = request.app.state.celery
        return await preview_sampling.run(
            shared, prepared, celery, tenant, user.id, request.is_disconnected
        )
    return await evaluator_preview.run_while_connected(
        shared, work, tenant, request.is_disconnected
    )


@router.post("/preview/stream")
async def preview_stream(
    body: PreviewRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    pool: PoolDep,
) -> StreamingResponse:
    """The preview as server-sent events: `result` per row as it finishes, `summary`, `end`;
    with `sample`, `progress` ({generated, rows}) as a worker generates completions.
    A client that disconnects stops the run."""
    work, shared = await evaluator_preview.admit(pool, session, settings, user, body)
    tenant = f"user-{user.id}"
    events: AsyncIterator[str]
    if preview_sampling.wanted(body):
        prepared = await _prepare_sampling(request, session, settings, user, body, work)
        celery = request.app.state.celery
        events = preview_sampling.stream(shared, prepared, celery, tenant, user.id)
    else:
        events = evaluator_preview.stream(shared, work, tenant)
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


async def _prepare_sampling(
    request: Request,
    session: Session,
    settings: Settings,
    user: User,
    body: PreviewRequest,
    work: evaluator_preview.Plan,
) -> preview_sampling.Prepared:
    """Check `sample` and `completions` (422/404 naming the field), close the session, and
    make sure a worker answers when one is needed (503 at once otherwise)."""
    prepared = await run_in_threadpool(
        preview_sampling.prepare, session, settings, user, body, work
    )
    await run_in_threadpool(session.close)
    if prepared.needs_worker:
        await run_in_threadpool(preview_sampling.check_worker, request.app.state.celery)
    return prepared


@router.get("", response_model=Page[EvaluatorPublic])
def list_evaluators(
    session: SessionDep,
    user: CurrentUser,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[EvaluatorPublic]:
    rows = evaluators.list_for(session, user, offset, limit)
    data = [EvaluatorPublic.of(r) for r in rows]
    return Page(data=data, count=evaluators.count_for(session, user))


@router.post("", response_model=EvaluatorPublic, status_code=status.HTTP_201_CREATED)
def create_evaluator(
    body: EvaluatorCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> EvaluatorPublic:
    """Declared requirements are installed (outside the sandbox) before the evaluator is
    saved: a failed install is a 422 with pip's log, and nothing is saved."""
    evaluators.check(body.code)
    declared = evaluators.declared_requirements(body.requirements, body.code)
    env = evaluator_envs.ensure(settings, declared)
    row = evaluators.create(session, user, body.name, body.code, body.note, declared)
    return EvaluatorPublic.of(row, env)


@router.get("/{evaluator_id}", response_model=EvaluatorPublic)
def read_evaluator(
    evaluator_id: PathId, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> EvaluatorPublic:
    row = evaluators.get(session, user, evaluator_id)
    return EvaluatorPublic.of(row, evaluator_envs.status(settings, row.latest.requirements))


@router.put("/{evaluator_id}", response_model=EvaluatorPublic)
def update_evaluator(
    evaluator_id: PathId,
    body: EvaluatorUpdate,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> EvaluatorPublic:
    """Rename; new code or requirements are saved as a new version (versions never change).
    New requirements are installed first (a failed install is a 422 with pip's log)."""
    latest = evaluators.get(session, user, evaluator_id).latest
    code = body.code if body.code is not None else latest.code
    wanted = latest.requirements if body.requirements is None else body.requirements
    env = evaluator_envs.ensure(settings, evaluators.declared_requirements(wanted, code))
    row = evaluators.update(
        session,
        user,
        evaluator_id,
        name=body.name,
        code=body.code,
        note=body.note,
        requirements=body.requirements,
    )
    return EvaluatorPublic.of(row, env)


@router.delete("/{evaluator_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_evaluator(evaluator_id: PathId, session: SessionDep, user: CurrentUser) -> None:
    """Jobs that use it keep running: they pinned its code when they were created."""
    evaluators.delete(session, user, evaluator_id)


@router.get("/{evaluator_id}/versions", response_model=Page[EvaluatorVersionPublic])
def list_versions(
    evaluator_id: PathId, session: SessionDep, user: CurrentUser
) -> Page[EvaluatorVersionPublic]:
    versions = evaluators.get(session, user, evaluator_id).versions
    data = [EvaluatorVersionPublic.model_validate(v) for v in versions]
    return Page(data=data, count=len(data))


@router.get("/{evaluator_id}/versions/{version}", response_model=EvaluatorVersionPublic)
def read_version(
    evaluator_id: PathId, version: PathId, session: SessionDep, user: CurrentUser
) -> EvaluatorVersionPublic:
    row = evaluators.get_version(session, user, evaluator_id, version)
    return EvaluatorVersionPublic.model_validate(row)


@router.post("/{evaluator_id}/versions/{version}/restore", response_model=EvaluatorPublic)
def restore_version(
    evaluator_id: PathId, version: PathId, session: SessionDep, user: CurrentUser
) -> EvaluatorPublic:
    """A new version with the code of an old one (note "restored from vN")."""
    return EvaluatorPublic.of(evaluators.restore(session, user, evaluator_id, version))
