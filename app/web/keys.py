"""The API keys page: list, create (shown once) and delete the signed-in user's keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from app.api.deps import PathId, SessionDep
from app.core.errors import is_htmx
from app.services import api_keys
from app.web.deps import PageUser
from app.web.templating import render

router = APIRouter(include_in_schema=False)


def _keys_page(request: Request, session: SessionDep, user: PageUser, **extra: Any) -> HTMLResponse:
    keys = api_keys.list_for(session, user, 0, 1000)
    block = "keys" if is_htmx(request) else None
    return render(request, "pages/keys.html", block=block, keys=keys, **extra)


@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request, session: SessionDep, user: PageUser) -> HTMLResponse:
    return _keys_page(request, session, user)


@router.post("/keys", response_class=HTMLResponse)
def create_key(
    request: Request, session: SessionDep, user: PageUser, name: str = Form(...)
) -> HTMLResponse:
    _row, key = api_keys.create(session, user, name)
    return _keys_page(request, session, user, new_key=key, new_key_name=name.strip())


@router.delete("/keys/{key_id}", response_class=HTMLResponse)
def delete_key(
    request: Request, key_id: PathId, session: SessionDep, user: PageUser
) -> HTMLResponse:
    api_keys.delete(session, user, key_id)
    session.flush()
    return _keys_page(request, session, user)
