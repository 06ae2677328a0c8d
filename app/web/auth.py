"""Sign-in: the one-time URL printed by `rft serve`, or an API key pasted in the form."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.api.deps import SESSION_COOKIE, SessionDep, SettingsDep
from app.core.config import Settings
from app.core.security import new_token, same_secret
from app.models import User
from app.services import api_keys, auth_sessions
from app.web.deps import PageUser
from app.web.templating import render

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "rft_login_csrf"


def _safe_next(target: str | None) -> str:
    # Only local paths: never redirect a fresh session to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _signed_in(
    session: SessionDep, settings: Settings, user: User, request: Request, target: str
) -> Response:
    _row, token = auth_sessions.start(session, user, settings.session_days)
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def _login_form(request: Request, error: str | None, target: str, status: int = 200) -> Response:
    csrf = new_token()
    response = render(
        request, "login.html", status_code=status, error=error, next=target, login_csrf=csrf
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict")
    return response


@router.get("/login")
def login_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: str | None = None,
    next: str = "/",
) -> Response:
    if token:
        user = auth_sessions.redeem_login_token(session, token)
        if user is not None:
            return _signed_in(session, settings, user, request, next)
        error = (
            "This login link was already used or has expired. "
            "Run `rft login` (or restart `rft serve`) for a new one."
        )
        return _login_form(request, error, next, status=401)
    return _login_form(request, None, next)


@router.post("/login")
def login_with_key(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    api_key: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/"),
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not same_secret(expected, csrf_token):
        return _login_form(request, "The form expired: please try again.", next, status=403)
    user = api_keys.authenticate(session, api_key.strip()) if api_key.strip() else None
    if user is None:
        return _login_form(request, "That API key is not valid.", next, status=401)
    return _signed_in(session, settings, user, request, next)


@router.post("/logout")
def logout(request: Request, session: SessionDep, _user: PageUser) -> Response:
    """Ends this browser's session (CSRF-checked like every other form)."""
    auth_sessions.end(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
