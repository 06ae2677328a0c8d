"""The domain error of the OpenAI-compatible services: worded as OpenAI words it."""

from __future__ import annotations

from app.core.errors import DomainError


class OpenAIError(DomainError):
    """An error for an OpenAI script: ``param`` and ``code`` as OpenAI would send them
    (answered as ``{"error": {message, type, param, code}}`` by the /v1 fine-tuning routes)."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status_code: int = 400,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status_code, self.param, self.code, self.type_ = status_code, param, code, type_
