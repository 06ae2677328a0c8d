"""Datasets over HTTP: streamed upload, list, read, a page of rows, split, delete.

The upload route reads the request body itself (no form parsing by the framework), so a
2 GiB file never sits in memory or in a spooled temporary file: see ``services.uploads``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from app.api.deps import CurrentUser, Limit, Offset, PathId, SessionDep, SettingsDep
from app.core.config import Settings
from app.core.errors import InvalidInput
from app.core.storage import Storage, staging_dir
from app.ingest import uploads
from app.ingest.uploads import StagedUpload
from app.models import Dataset, User
from app.schemas.common import MAX_ID, Page
from app.schemas.dataset import (
    DatasetPublic,
    DatasetRowsPage,
    DatasetSplitCreate,
    DatasetSplitPair,
)
from app.services import datasets

router = APIRouter(prefix="/api/v1", tags=["datasets"])


def get_storage(settings: SettingsDep) -> Storage:
    return Storage.from_settings(settings)


StorageDep = Annotated[Storage, Depends(get_storage)]

_TEXT = {"type": "string"}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": _TEXT,
                        "validation_percent": {"type": "number", "exclusiveMinimum": 0},
                        "seed": {"type": "integer", "minimum": 0},
                    },
                }
            }
        },
    }
}


async def receive_upload(request: Request, settings: Settings) -> StagedUpload:
    """The request body streamed into the staging folder (the API and the page share this)."""
    length = request.headers.get("content-length", "")
    try:
        return await uploads.receive(
            request.stream(),
            request.headers.get("content-type", ""),
            int(length) if length.isdigit() else None,
            staging_dir(settings),
            settings.max_upload_bytes,
        )
    except ClientDisconnect:
        raise InvalidInput("Upload interrupted: the client went away; nothing was stored") from None


async def create_from_request(
    request: Request, session: SessionDep, user: User, settings: Settings
) -> Dataset:
    staged = await receive_upload(request, settings)
    try:
        form = datasets.parse_upload_form(staged.fields)
        storage = Storage.from_settings(settings)
        return await run_in_threadpool(datasets.create, session, storage, user, staged, form)
    finally:
        staged.discard()


@router.post(
    "/datasets",
    response_model=DatasetPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=UPLOAD_BODY,
)
async def upload_dataset(
    request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> DatasetPublic:
    """Upload a JSONL file: multipart ``file``, optional ``name``, ``validation_percent``, ``seed``.

    A file with any problem is refused whole (422, each problem with its line); one larger
    than the server's limit gets 413. With ``validation_percent`` a train/validation split is
    drawn too (listed in ``splits``).
    """
    row = await create_from_request(request, session, user, settings)
    return await run_in_threadpool(DatasetPublic.of, row)


@router.get("/datasets", response_model=Page[DatasetPublic])
def list_datasets(
    session: SessionDep,
    user: CurrentUser,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[DatasetPublic]:
    rows = datasets.list_for(session, user, offset, limit)
    data = [DatasetPublic.of(r) for r in rows]
    return Page(data=data, count=datasets.count_for(session, user))


@router.get("/datasets/{dataset_id}", response_model=DatasetPublic)
def read_dataset(dataset_id: PathId, session: SessionDep, user: CurrentUser) -> DatasetPublic:
    return DatasetPublic.of(datasets.get(session, user, dataset_id))


@router.get("/datasets/{dataset_id}/rows", response_model=DatasetRowsPage)
def read_rows(
    dataset_id: PathId,
    session: SessionDep,
    user: CurrentUser,
    storage: StorageDep,
    offset: Annotated[
        int, Query(ge=0, le=MAX_ID, description="Index of the first row, from 0.")
    ] = 0,
    limit: int = Query(100, ge=1, le=datasets.MAX_PAGE),
) -> DatasetRowsPage:
    """A page of rows exactly as uploaded (JSON types kept), with estimated prompt tokens.

    The stored bytes of each row (checked JSON objects) are spliced into the answer: nothing
    is decoded and encoded again, so a page of 1,000 rows costs about what reading it does.
    """
    row, page = datasets.read_page(session, user, dataset_id, offset, limit, storage=storage)
    item = b'{"index":%d,"row":%s,"tokens":%d}'
    items = b",".join(item % (ref.position, data, ref.tokens) for ref, data in page)
    body = b'{"data":[%s],"count":%d}' % (items, row.row_count)
    return Response(body, media_type="application/json")  # type: ignore[return-value]


@router.post(
    "/datasets/{dataset_id}/split",
    response_model=DatasetSplitPair,
    status_code=status.HTTP_201_CREATED,
)
def split_dataset(
    dataset_id: PathId,
    body: DatasetSplitCreate,
    session: SessionDep,
    user: CurrentUser,
    storage: StorageDep,
) -> DatasetSplitPair:
    """Draw a train and a validation dataset from this one (seeded: reproducible)."""
    train, validation = datasets.split(
        session, storage, user, dataset_id, body.validation_percent, body.seed
    )
    return DatasetSplitPair(train=DatasetPublic.of(train), validation=DatasetPublic.of(validation))


@router.delete("/datasets/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dataset(
    dataset_id: PathId, session: SessionDep, user: CurrentUser, storage: StorageDep
) -> None:
    """Delete the dataset, its splits and their files."""
    datasets.delete(session, storage, user, dataset_id)
