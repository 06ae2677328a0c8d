from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

# Every id (and offset, step, event id) fits the database's INTEGER columns: 2^31 - 1 on
# PostgreSQL. A bigger one is a 422 naming the field, never an overflow in the driver (a 500).
MAX_ID = 2**31 - 1
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
