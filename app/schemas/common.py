from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

# Every id is a positive signed 64-bit integer (what the database stores). A bigger one is a
# 422 naming the field, never an overflow deep in the driver (a 500).
MAX_ID = 2**63 - 1
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


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
