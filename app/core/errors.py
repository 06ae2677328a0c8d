"""Domain errors, and the one place that turns them (and every other failure) into responses.

Services raise ``DomainError`` subclasses; they never know about HTTP. API clients get JSON
``{"detail", "errors"}``; htmx requests get an error fragment; pages get an error page.
Nothing ever sends a traceback to a client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("rft.errors")


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    """Signed in, but not allowed to do this (an admin-only action)."""

    status_code = 403


class InvalidInput(DomainError):
    status_code = 422


class PayloadTooLarge(DomainError):
    status_code = 413


class Unavailable(DomainError):
    status_code = 503


class NotAuthenticated(Exception):
    """No valid credentials: 401 for the API, a redirect to the login page for pages."""

    def __init__(self, detail: str = "Not authenticated") -> None:
        super().__init__(detail)
        self.detail = detail


class CsrfFailed(DomainError):
    status_code = 403


def unstorable(exc: DataError) -> InvalidInput:
    """A value the database refuses (a NUL character in a PostgreSQL text, a number past its
    column) is the client's input, not our failure: a 422 quoting the database's reason."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "invalid value"
    return InvalidInput(f"A value in the request cannot be stored: {reason}")


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/v1/", "/healthz")) or "application/json" in (
        request.headers.get("accept", "")
    )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# How a page (not an API client) is shown an error: registered by app.main from app.web, so
# this module knows nothing of templates.
PageRenderer = Callable[[Request, int, str, list[dict[str, Any]]], Response]


def _json_error(status: int, detail: str, errors: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors}, status_code=status)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "body"


Describe = Callable[[tuple[Any, ...], Mapping[str, Any]], str | None]


def field_errors(
    errors: Iterable[Mapping[str, Any]], describe: Describe | None = None
) -> list[dict[str, Any]]:
    """Pydantic's errors as ``[{"field", "message"}]``, the one conversion every caller uses.
    ``describe(loc, error)`` may word a message itself (e.g. name the field's valid range)."""
    out = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        else:
            described = describe(loc, err) if describe else None
            message = described or str(err.get("msg", "invalid value"))
            message = message.removeprefix("Value error, ")
        out.append({"field": _field_name(loc), "message": message})
    return out


def install_error_handlers(app: FastAPI, render_page: PageRenderer | None = None) -> None:
    """JSON for API clients; ``render_page`` (an error page or htmx fragment) for browsers."""

    def error_response(
        request: Request, status: int, detail: str, errors: list[dict[str, Any]] | None = None
    ) -> Response:
        errors = errors or []
        if render_page is None or wants_json(request):
            return _json_error(status, detail, errors)
        return render_page(request, status, detail, errors)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return error_response(request, exc.status_code, exc.detail, exc.errors)

    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(request: Request, exc: NotAuthenticated) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"detail": exc.detail, "errors": []},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = "/login?next=" + request.url.path
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 422, "Invalid request", field_errors(exc.errors()))

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        refused = unstorable(exc)
        return error_response(request, refused.status_code, refused.detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
        return error_response(request, exc.status_code, detail)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "Internal server error: the server log has details")
