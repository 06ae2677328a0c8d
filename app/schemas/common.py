from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class InputModel(BaseModel):
    """Base for request bodies: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """A list answer: ``data`` holds this page, ``count`` the total."""

    data: list[T]
    count: int


class ErrorItem(BaseModel):
    field: str | None = None
    line: int | None = None
    message: str


class ErrorOut(BaseModel):
    detail: str
    errors: list[ErrorItem] = []
