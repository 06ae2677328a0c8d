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
    "403": "Refused (CSRF token, Origin, admin only)",
    "404": "Not found (another user's resource too)",
    "409": "Conflict",
    "413": "Too large",
    "422": "Invalid input, naming the field or line",
    "503": "A service (database, broker, workers, sandbox) is unavailable",
}
_REF = {"$ref": "#/components/schemas/ErrorOut"}

# The OpenAI-compatible routes (/v1/...) answer OpenAI's shape, so that its clients raise their
# usual exceptions; 422 is 400 there, as OpenAI says it.
OPENAI_ERROR_STATUSES = {
    "400": "Invalid request, naming the parameter",
    "401": "Incorrect API key",
    "404": "No such model, file or job (another user's too)",
    "409": "Conflict",
    "413": "Too large",
    "503": "The model is still loading (Retry-After) or the model server is not answering",
}
OPENAI_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_OPENAI_REF = {"$ref": "#/components/schemas/OpenAIErrorOut"}


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
    components["OpenAIErrorOut"] = OPENAI_ERROR
    for path, methods in schema.get("paths", {}).items():
        openai = path.startswith("/v1/")
        statuses, ref = (OPENAI_ERROR_STATUSES, _OPENAI_REF) if openai else (ERROR_STATUSES, _REF)
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            if openai:
                responses.pop("422", None)
            for status, description in statuses.items():
                body = {"application/json": {"schema": ref}}
                responses[status] = {"description": description, "content": body}
    return schema
