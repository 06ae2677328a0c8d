"""Typed dependencies shared by every route: settings, the database session, the user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import CsrfFailed, Forbidden, NotAuthenticated
from app.core.security import same_secret
from app.models import BrowserSession, User
from app.schemas.common import MAX_ID
from app.services import api_keys, auth_sessions

SESSION_COOKIE = "rft_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """One session per request; the route's work is committed when it returns without error."""
    factory = request.app.state.session_factory
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# Bounded path and query integers, shared by every route (422 naming the parameter).
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Rows to return (at most 1000).")]

SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit before the response is sent, so a client that follows a redirect
# (or sends its next request at once) always sees what this request wrote.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def _check_csrf(request: Request, browser: BrowserSession) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    # Only small url-encoded forms are read here: reading a multipart body would consume a
    # streamed upload, so multipart posts must send the header (htmx does).
    urlencoded = "application/x-www-form-urlencoded" in request.headers.get("content-type", "")
    if sent is None and urlencoded:
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not same_secret(sent, browser.csrf_token):
        raise CsrfFailed("CSRF token missing or wrong: reload the page and try again")


async def get_browser_session(request: Request, session: SessionDep) -> BrowserSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    # In a thread: waiting for a database connection must never block the event loop.
    return await run_in_threadpool(auth_sessions.find, session, token) if token else None


BrowserSessionDep = Annotated[BrowserSession | None, Depends(get_browser_session)]


async def get_current_user(
    request: Request, session: SessionDep, browser: BrowserSessionDep
) -> User:
    """The caller: a bearer key (API clients) or a session cookie (the browser, CSRF-checked)."""
    key = _bearer(request)
    if key is not None:
        user = await run_in_threadpool(api_keys.authenticate, session, key)
        if user is None:
            raise NotAuthenticated("Invalid API key")
        return user
    if browser is None:
        raise NotAuthenticated()
    await _check_csrf(request, browser)
    request.state.csrf_token = browser.csrf_token
    return browser.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> User:
    """The caller, when an admin (User.is_admin); Forbidden (403) otherwise."""
    if not user.is_admin:
        raise Forbidden("Only an admin can do this")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]
