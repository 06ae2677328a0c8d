from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")

# Every id (and offset, step, event id) fits the database's INTEGER columns: 2^31 - 1 on
# PostgreSQL. A bigger one is a 422 naming the field, never an overflow in the driver (a 500).
MAX_ID = 2**31 - 1
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


def nul_character_at(value: Any, where: str = "") -> str | None:
    """Where a NUL character hides in a request body (``"name"``, ``"rows.3.prompt"``), if any:
    PostgreSQL refuses it in text and JSON, so it is refused at the door on every database."""
    if isinstance(value, str):
        return where or "body" if "\x00" in value else None
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    for key, item in items:
        shown = str(key).replace("\x00", "\\u0000")  # printable, in the message
        inner = f"{where}.{shown}" if where else shown
        found = nul_character_at(key, inner) if isinstance(key, str) else None
        found = found or nul_character_at(item, inner)
        if found:
            return found
    return None


def refuse_nul_characters(data: Any) -> Any:
    where = nul_character_at(data)
    if where is not None:
        raise ValueError(f"{where}: contains a NUL character (\\u0000), which cannot be stored")
    return data


class InputModel(BaseModel):
    """Base for request bodies: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        return refuse_nul_characters(data)


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
