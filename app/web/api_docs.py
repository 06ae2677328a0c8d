"""The API's interactive docs, served from the vendored Swagger UI (works without internet),
and the favicon at the address browsers ask for."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse

router = APIRouter(include_in_schema=False)

SWAGGER = "/static/vendor/swagger-ui-dist-5.35.0"
FAVICON = "/static/favicon.svg"


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=FAVICON,
    )


@router.get("/favicon.ico")
def favicon() -> RedirectResponse:
    return RedirectResponse(FAVICON, status_code=301)
