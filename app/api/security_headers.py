"""Security headers on every answer, and the Origin check on cookie-authenticated writes.

A pure ASGI middleware (no body buffering: uploads and event streams pass straight through).

* Content-Security-Policy: script files only from this origin (the pages load htmx, Monaco and
  our own files from /static) and no inline script, so injected markup cannot run code;
  'unsafe-eval' stays allowed (Monaco's loader and the browser tests' Playwright waits
  evaluate strings); styles also inline (Monaco and htmx inject them); Monaco's editor
  workers start from blob: URLs; no framing, no plugins, forms post only here.
* X-Frame-Options DENY, X-Content-Type-Options nosniff, and Referrer-Policy same-origin (the
  one-time login link carries its token in the URL: it must not leak to another site; not
  no-referrer, with which browsers send `Origin: null` on same-site form posts).
* A POST/PUT/PATCH/DELETE that carries the session cookie and no bearer key must come from a
  page of this site: when the browser names another Origin it is refused with 403 before any
  route runs (the CSRF token is the second line of defence).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
SESSION_COOKIE = b"rft_session="


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def cross_site(scope: Scope) -> str | None:
    """The foreign Origin of a cookie-authenticated unsafe request, or None when it is fine."""
    if scope.get("method") not in UNSAFE_METHODS:
        return None
    authorization = _header(scope, b"authorization") or ""
    if authorization.lower().startswith("bearer "):
        return None  # API clients: a key is not sent by browsers on their own
    cookie = _header(scope, b"cookie") or ""
    if SESSION_COOKIE.decode() not in cookie:
        return None
    origin = _header(scope, b"origin")
    if origin is None:
        return None  # not a browser's cross-site request (browsers always send Origin then)
    host = _header(scope, b"host") or ""
    if origin != "null" and urlsplit(origin).netloc == host:
        return None
    return origin


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        foreign = cross_site(scope)
        if foreign is not None:
            await self._refuse(foreign, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, origin: str, send: Send) -> None:
        message = f"request from another site ({origin[:200]}) refused"
        body = json.dumps(
            {
                "detail": f"Cross-site request refused: Origin {origin[:200]} is not this site",
                "errors": [{"field": "Origin", "message": message}],
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), *HEADERS]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})
