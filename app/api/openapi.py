"""The OpenAPI document, true to the answers: every error is our `{detail, errors}` shape.

FastAPI documents 422 bodies as its own `HTTPValidationError`, which our handler never sends;
and it documents no 401/403/404/409/413/503, which routes do send. Both are fixed here, once,
for every operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.schemas.common import ErrorOut

ERROR_STATUSES = {
    "401": "Not authenticated",
    "403": "Refused (CSRF token, Origin)",
    "404": "Not found (another user's resource too)",
    "409": "Conflict",
    "413": "Too large",
    "422": "Invalid input, naming the field or line",
    "503": "A service (database, broker, workers, sandbox) is unavailable",
}
_REF = {"$ref": "#/components/schemas/ErrorOut"}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in error.pop("$defs", {}).items():
        components[name] = definition
    components["ErrorOut"] = error
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                body = {"application/json": {"schema": _REF}}
                responses[status] = {"description": description, "content": body}
    return schema
