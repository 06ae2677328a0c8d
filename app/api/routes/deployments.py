"""Deployments: serve a checkpoint (or a base model) behind the OpenAI-compatible /v1 API;
and checkpoint exports (the adapter, or merged full weights)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from app.api.deps import CurrentUser, Limit, Offset, PathId, SessionDep, SettingsDep
from app.core.errors import Unavailable
from app.core.storage import Storage
from app.schemas.common import Page
from app.schemas.deployment import DeploymentCreate, DeploymentPublic
from app.services import deployments, exports, inference

router = APIRouter(prefix="/api/v1", tags=["deployments"])


@router.post("/deployments", response_model=DeploymentPublic, status_code=status.HTTP_201_CREATED)
def create_deployment(
    payload: DeploymentCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> DeploymentPublic:
    """Queued as `pending`: the model server for its base picks it up from the database."""
    deployment = deployments.create(session, settings, user, payload)
    return deployments.public(session, deployment)


@router.get("/deployments", response_model=Page[DeploymentPublic])
def list_deployments(
    session: SessionDep,
    user: CurrentUser,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[DeploymentPublic]:
    rows = deployments.list_for(session, user, offset, limit)
    data = [deployments.public(session, d) for d in rows]
    return Page(data=data, count=deployments.count_for(session, user))


@router.get("/deployments/{deployment_id}", response_model=DeploymentPublic)
def get_deployment(
    deployment_id: PathId, session: SessionDep, user: CurrentUser
) -> DeploymentPublic:
    return deployments.public(session, deployments.get(session, user, deployment_id))


@router.delete("/deployments/{deployment_id}", response_model=DeploymentPublic)
def delete_deployment(
    deployment_id: PathId, session: SessionDep, user: CurrentUser
) -> DeploymentPublic:
    """Stops it (the row stays, `stopped`, so its history and counts remain readable)."""
    return deployments.public(session, deployments.stop(session, user, deployment_id))


def _archive_response(handle: Any, filename: str) -> StreamingResponse:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(exports.stream(handle), media_type="application/gzip", headers=headers)


@router.get("/checkpoints/{checkpoint_id}/adapter")
def export_adapter(
    checkpoint_id: PathId, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> StreamingResponse:
    """The checkpoint's PEFT adapter folder as a .tar.gz (load with PeftModel.from_pretrained)."""
    checkpoint, job = exports.owned_checkpoint(session, user, checkpoint_id)
    top = f"ft-{job.id}-step{checkpoint.step}-adapter"
    handle = exports.archive(Storage.from_settings(settings), checkpoint.path, top)
    return _archive_response(handle, f"{top}.tar.gz")


@router.get("/checkpoints/{checkpoint_id}/merged")
async def export_merged(
    checkpoint_id: PathId, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> StreamingResponse:
    """Full weights with the adapter merged in (safetensors + tokenizer), as a .tar.gz; a model
    server does the merge (the web app never loads weights), once per checkpoint."""
    checkpoint, job = exports.owned_checkpoint(session, user, checkpoint_id)
    storage = Storage.from_settings(settings)
    key = exports.merged_key(checkpoint.id)
    if not storage.exists(f"{key}/config.json"):
        server = deployments.any_server_url(session)
        if server is None:
            raise Unavailable(
                "No model server is running to merge this checkpoint: start `rft model-server` "
                "(`rft serve` starts one in embedded mode)"
            )
        await inference.merge(server, job.base_model, checkpoint.path, key)
    top = f"ft-{job.id}-step{checkpoint.step}-merged"
    handle = await run_in_threadpool(exports.archive, storage, key, top)
    return _archive_response(handle, f"{top}.tar.gz")
