"""OpenAI files over our datasets: a ``file-<id>`` is dataset ``<id>``, uploads are validated
exactly as dataset uploads (errors named by line), and only the owner sees a file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import NotFound
from app.core.storage import Storage
from app.ingest import files as dataset_files
from app.models import Dataset, User
from app.schemas.openai_ft import unix
from app.services import datasets
from app.services.openai_errors import OpenAIError

PURPOSE = "fine-tune"
_FILE_ID = re.compile(r"^file-(\d{1,18})$")


def file_id(dataset_id: int) -> str:
    return f"file-{dataset_id}"


def parse_file_id(value: str) -> int | None:
    match = _FILE_ID.match(value)
    return int(match.group(1)) if match else None


def get_dataset(session: Session, owner: User, value: str, param: str = "file_id") -> Dataset:
    """The caller's dataset behind a file id, or OpenAI's 404 naming the parameter."""
    dataset_id = parse_file_id(value)
    if dataset_id is not None:
        try:
            return datasets.get(session, owner, dataset_id)
        except NotFound:
            pass
    raise OpenAIError(f"No such File object: {value}", param=param, status_code=404)


def check_purpose(fields: dict[str, str]) -> None:
    purpose = fields.get("purpose", "").strip()
    if not purpose:
        raise OpenAIError("Missing required parameter: 'purpose'.", param="purpose")
    if purpose != PURPOSE:
        raise OpenAIError(
            f"Invalid purpose {purpose!r}: this server stores fine-tuning files only "
            f"(purpose={PURPOSE!r})",
            param="purpose",
        )


def file_object(dataset: Dataset) -> dict[str, Any]:
    filename = dataset.meta.get("filename") or dataset.name
    return {
        "id": file_id(dataset.id),
        "object": "file",
        "bytes": dataset.size_bytes,
        "created_at": unix(dataset.created_at),
        "filename": filename,
        "purpose": PURPOSE,
        "status": "processed",  # validated whole at upload: a bad file is never stored
        "status_details": None,
        "expires_at": None,
    }


def list_files(
    session: Session, owner: User, after: str | None, limit: int, order: str
) -> tuple[list[Dataset], bool]:
    """A page of the caller's datasets (newest first unless ``order="asc"``) after a cursor."""
    query = select(Dataset).where(Dataset.owner_id == owner.id)
    newest_first = order != "asc"
    cursor = parse_file_id(after) if after else None
    if after and cursor is None:
        raise OpenAIError(f"Invalid 'after': {after!r} is not a file id", param="after")
    if cursor is not None:
        query = query.where(Dataset.id < cursor if newest_first else Dataset.id > cursor)
    query = query.order_by(Dataset.id.desc() if newest_first else Dataset.id)
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def content(storage: Storage, dataset: Dataset) -> Iterator[bytes]:
    """The file's rows as stored, one JSON line each (a split gives only its own rows)."""
    for refs in dataset_files.iter_refs(storage, dataset.index_file):
        yield b"".join(
            data + b"\n" for data in dataset_files.read_bytes(storage, dataset.data_file, refs)
        )
