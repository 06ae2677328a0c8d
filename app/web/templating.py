"""Jinja2 rendering: whole pages, or one named block of a page for htmx requests."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.core.errors import is_htmx
from app.core.paths import TEMPLATES_DIR

VENDOR = {
    "htmx": "vendor/htmx-2.0.11/htmx.min.js",
    "htmx_sse": "vendor/htmx-ext-sse-2.2.4/sse.js",
    "uplot_js": "vendor/uplot-1.6.32/uPlot.iife.min.js",
    "uplot_css": "vendor/uplot-1.6.32/uPlot.min.css",
    "monaco_js": "vendor/monaco-editor-0.57.0/monaco.js",
    "monaco_css": "vendor/monaco-editor-0.57.0/monaco.css",
}

NAV = [
    ("Datasets", "/datasets"),
    ("Evaluations", "/evaluations"),
    ("Fine-tuning", "/fine-tuning"),
    ("Deployments", "/deployments"),
    ("Models", "/models"),
]

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals.update(vendor=VENDOR, nav=NAV)
ISOLATION_NOTICES = {
    "bubblewrap": "Evaluator code runs in a bubblewrap sandbox.",
    "rlimits-only": "UNSAFE: no sandbox (RFT_UNSAFE_NO_SANDBOX). Evaluator code runs with "
    "resource limits, a seccomp filter and its own uid only, and can read the host's files.",
    "disabled": "Evaluators cannot run: bubblewrap cannot sandbox them on this host. Install "
    "bubblewrap, or set RFT_UNSAFE_NO_SANDBOX=true to run them without a sandbox.",
}


def _isolation(request: Request) -> tuple[str, str]:
    """(mode, sentence) for the layout's banner: which isolation evaluator code gets."""
    shared = getattr(request.app.state, "evaluator_pool", None)
    mode = shared.isolation() if shared is not None else "disabled"
    return mode, ISOLATION_NOTICES.get(mode, mode)


templates.env.globals.update(isolation=_isolation)


def render(
    request: Request,
    name: str,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``name``; with ``block``, only that block (the fragment an htmx request swaps)."""
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("csrf_token", getattr(request.state, "csrf_token", ""))
    if block is None:
        return templates.TemplateResponse(
            request, name, context, status_code=status_code, headers=headers
        )
    template = templates.env.get_template(name)
    ctx = template.new_context({"request": request, **context})
    html = "".join(template.blocks[block](ctx))
    return HTMLResponse(html, status_code=status_code, headers=headers)


def render_error(
    request: Request, status: int, detail: str, errors: list[dict[str, Any]]
) -> HTMLResponse:
    if is_htmx(request):
        # htmx swaps only 2xx by default; the fragment goes to the page's error region.
        return render(
            request,
            "partials/error.html",
            status_code=status,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
            detail=detail,
            errors=errors,
        )
    _identify(request)
    return render(request, "error.html", status_code=status, detail=detail, errors=errors)


def _identify(request: Request) -> None:
    """On error pages no route dependency ran: find the signed-in user for the navigation."""
    from app.api.deps import SESSION_COOKIE
    from app.services import auth_sessions
    from app.web.deps import UserView

    token = request.cookies.get(SESSION_COOKIE)
    if getattr(request.state, "user", None) is not None or not token:
        return
    with request.app.state.session_factory() as session:
        browser = auth_sessions.find(session, token)
        if browser is not None:
            user = browser.user
            request.state.user = UserView(user.id, user.name, user.is_admin)
            request.state.csrf_token = browser.csrf_token
