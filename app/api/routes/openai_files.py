"""OpenAI's Files API for fine-tuning data: ``client.files.create(file=..., purpose="fine-tune")``
stores a dataset (validated as every dataset upload is), and the other calls read or delete it."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.api.routes.datasets import UPLOAD_BODY, receive_upload
from app.api.routes.openai_errors import OpenAIRoute
from app.core.storage import Storage
from app.schemas.dataset import DatasetUploadForm
from app.schemas.openai_ft import cursor_page
from app.services import datasets, openai_files

router = APIRouter(prefix="/v1", tags=["openai fine-tuning"], route_class=OpenAIRoute)


@router.post("/files", openapi_extra=UPLOAD_BODY)
async def create_file(
    request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> dict[str, Any]:
    """Multipart ``file`` and ``purpose="fine-tune"``: a JSONL file refused whole, naming each
    bad line, or stored as a dataset of the caller."""
    staged = await receive_upload(request, settings)
    try:
        openai_files.check_purpose(staged.fields)
        form = DatasetUploadForm(name=(staged.filename or "upload.jsonl")[:200])
        storage = Storage.from_settings(settings)
        row = await run_in_threadpool(datasets.create, session, storage, user, staged, form)
    finally:
        staged.discard()
    return openai_files.file_object(row)


@router.get("/files")
def list_files(
    session: SessionDep,
    user: CurrentUser,
    after: str | None = Query(None, description="A file id: the page after it."),
    limit: int = Query(10000, ge=1, le=10000),
    order: Literal["asc", "desc"] = Query("desc"),
    purpose: str | None = Query(None),
) -> dict[str, Any]:
    if purpose not in (None, openai_files.PURPOSE):
        return cursor_page([], False)  # only fine-tuning files live here
    rows, has_more = openai_files.list_files(session, user, after, limit, order)
    return cursor_page([openai_files.file_object(r) for r in rows], has_more)


@router.get("/files/{file_id}")
def read_file(file_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return openai_files.file_object(openai_files.get_dataset(session, user, file_id))


@router.get("/files/{file_id}/content")
def file_content(
    file_id: str, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> StreamingResponse:
    dataset = openai_files.get_dataset(session, user, file_id)
    rows = openai_files.content(Storage.from_settings(settings), dataset)
    return StreamingResponse(rows, media_type="application/octet-stream")


@router.delete("/files/{file_id}")
def delete_file(
    file_id: str, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> dict[str, Any]:
    dataset = openai_files.get_dataset(session, user, file_id)
    datasets.delete(session, Storage.from_settings(settings), user, dataset.id)
    return {"id": file_id, "object": "file", "deleted": True}
