"""OpenAI's error shape for every OpenAI-compatible route (/v1: models, completions, files,
fine-tuning).

Scripts written against the ``openai`` client read ``{"error": {message, type, param, code}}``
and raise by status (400 BadRequestError, 401 AuthenticationError, 404 NotFoundError). A route
class converts every failure of these routes, so the app's own error handlers (``{"detail",
"errors"}`` for /api/v1) stay as they are.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.core.errors import Conflict, DomainError, InvalidInput, NotAuthenticated, unstorable
from app.services.inference import ServingError
from app.services.openai_errors import OpenAIError

log = logging.getLogger("rft.openai")

# Our field names -> the request parameter an OpenAI script sent.
PARAM_NAMES = {
    "training.epochs": "method.reinforcement.hyperparameters.n_epochs",
    "training.learning_rate": "method.reinforcement.hyperparameters.learning_rate_multiplier",
    "training.batch_size": "method.reinforcement.hyperparameters.batch_size",
    "training.eval_steps": "method.reinforcement.hyperparameters.eval_interval",
    "training.save_steps": "method.reinforcement.hyperparameters.eval_interval",
    "rollout.n": "method.reinforcement.hyperparameters.compute_multiplier",
    "training.max_context_length": "model",
    "rollout.max_tokens": "model",
    "base_model": "model",
    "dataset_id": "training_file",
    "validation_dataset_id": "validation_file",
    "code": "method.reinforcement.grader",
}


def error_body(
    message: str, type_: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


SERVING_CODES = {404: "model_not_found", 503: "model_not_ready"}


def _from_serving(exc: ServingError) -> JSONResponse:
    """A model that does not exist (404, param "model") or is still loading (503 + Retry-After:
    the openai client waits and retries)."""
    type_ = "server_error" if exc.status >= 500 else "invalid_request_error"
    param = "model" if exc.status == 404 else None
    body = error_body(exc.message, type_, param, SERVING_CODES.get(exc.status))
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return JSONResponse(body, status_code=exc.status, headers=headers)


def _describe(item: dict[str, Any]) -> str:
    where = f"line {item['line']}" if item.get("line") else item.get("field")
    return f"{where}: {item.get('message', '')}" if where else str(item.get("message", ""))


def _from_domain(exc: DomainError) -> JSONResponse:
    if isinstance(exc, OpenAIError):
        body = error_body(exc.detail, exc.type_, exc.param, exc.code)
        return JSONResponse(body, status_code=exc.status_code)
    items = exc.errors[:5]
    message = exc.detail
    if items:
        message += ": " + "; ".join(_describe(i) for i in items)
        if len(exc.errors) > len(items):
            message += f" (and {len(exc.errors) - len(items)} more)"
    field = next((str(i["field"]) for i in items if i.get("field")), None)
    param = PARAM_NAMES.get(field or "", field)
    # OpenAI answers 400 where we say 422 (bad input) or 409 (wrong state).
    status = 400 if isinstance(exc, InvalidInput | Conflict) else exc.status_code
    type_ = "server_error" if status >= 500 else "invalid_request_error"
    return JSONResponse(error_body(message, type_, param), status_code=status)


_TYPE_TAGS = re.compile(r"^(int|float|str|bool|none|function-.*|.*\[.*\])$")


def _from_validation(exc: RequestValidationError) -> JSONResponse:
    """One problem per parameter, named as the client sent it (pydantic's union member tags,
    e.g. "literal['auto']" / "int", are not part of the name)."""
    problems: dict[str, list[dict[str, Any]]] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        param = ".".join(p for p in loc if not _TYPE_TAGS.match(p)) or "body"
        problems.setdefault(param, []).append(err)
    parts = []
    for param, errors in problems.items():
        kinds = {e.get("type") for e in errors}
        if "extra_forbidden" in kinds:
            message = "unknown parameter"
        elif "literal_error" in kinds and len(errors) > 1:
            message = "must be 'auto' or a number"
        else:
            message = str(errors[0].get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{param}: {message}")
    first = next(iter(problems), None)
    text = "Invalid request: " + "; ".join(parts[:5])
    return JSONResponse(error_body(text, "invalid_request_error", first), 400)


def openai_error_response(exc: Exception) -> Response:
    """Any failure of an OpenAI-compatible route, in OpenAI's shape (never a traceback)."""
    if isinstance(exc, NotAuthenticated):
        body = error_body(
            f"Incorrect API key provided ({exc.detail}): use an API key of this server "
            "(rft keys create) as the client's api_key",
            "invalid_request_error",
            code="invalid_api_key",
        )
        return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, ServingError):
        return _from_serving(exc)
    if isinstance(exc, DomainError):
        return _from_domain(exc)
    if isinstance(exc, RequestValidationError):
        return _from_validation(exc)
    if isinstance(exc, DataError):
        return _from_domain(unstorable(exc))
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
        return JSONResponse(error_body(detail, "invalid_request_error"), exc.status_code)
    log.exception("unhandled error on an OpenAI-compatible route", exc_info=exc)
    return JSONResponse(
        error_body("Internal server error: the server log has details", "server_error"), 500
    )


class OpenAIRoute(APIRoute):
    """A route whose every failure is answered in OpenAI's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return openai_error_response(exc)

        return handle
