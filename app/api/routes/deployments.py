"""Deployments: serve a checkpoint (or a base model) behind the OpenAI-compatible /v1 API."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.schemas.common import Page
from app.schemas.deployment import DeploymentCreate, DeploymentPublic
from app.services import deployments

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
    offset: int = Query(0, ge=0),
    limit: int = Query(100, ge=1, le=1000),
) -> Page[DeploymentPublic]:
    rows = deployments.list_for(session, user, offset, limit)
    data = [deployments.public(session, d) for d in rows]
    return Page(data=data, count=deployments.count_for(session, user))


@router.get("/deployments/{deployment_id}", response_model=DeploymentPublic)
def get_deployment(deployment_id: int, session: SessionDep, user: CurrentUser) -> DeploymentPublic:
    return deployments.public(session, deployments.get(session, user, deployment_id))


@router.delete("/deployments/{deployment_id}", response_model=DeploymentPublic)
def delete_deployment(
    deployment_id: int, session: SessionDep, user: CurrentUser
) -> DeploymentPublic:
    """Stops it (the row stays, `stopped`, so its history and counts remain readable)."""
    return deployments.public(session, deployments.stop(session, user, deployment_id))
