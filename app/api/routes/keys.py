from __future__ import annotations

from fastapi import APIRouter, status

from app.api.deps import CurrentUser, Limit, Offset, PathId, SessionDep
from app.schemas.api_key import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from app.schemas.common import Page
from app.schemas.user import UserPublic
from app.services import api_keys

router = APIRouter(prefix="/api/v1", tags=["keys"])


@router.get("/me", response_model=UserPublic)
def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.get("/keys", response_model=Page[ApiKeyPublic])
def list_keys(
    session: SessionDep,
    user: CurrentUser,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[ApiKeyPublic]:
    rows = api_keys.list_for(session, user, offset, limit)
    data = [ApiKeyPublic.model_validate(r) for r in rows]
    return Page(data=data, count=api_keys.count_for(session, user))


@router.post("/keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(body: ApiKeyCreate, session: SessionDep, user: CurrentUser) -> ApiKeyCreated:
    row, key = api_keys.create(session, user, body.name)
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=key)


@router.get("/keys/{key_id}", response_model=ApiKeyPublic)
def read_key(key_id: PathId, session: SessionDep, user: CurrentUser) -> ApiKeyPublic:
    return ApiKeyPublic.model_validate(api_keys.get(session, user, key_id))


@router.delete("/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_key(key_id: PathId, session: SessionDep, user: CurrentUser) -> None:
    api_keys.delete(session, user, key_id)
