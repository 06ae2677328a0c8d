"""The Datasets pages: upload with a progress bar, the list, and one dataset with its rows."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse

from app.api.deps import PathId, SessionDep, SettingsDep
from app.api.routes.datasets import StorageDep, create_from_request
from app.core.errors import is_htmx
from app.core.storage import describe_bytes
from app.ingest.files import RowRef, decode_row
from app.models import Dataset, User
from app.services import datasets
from app.web.deps import PageUser
from app.web.templating import render, templates

router = APIRouter(include_in_schema=False)

PAGE_ROWS = 20
CLIP = 240

templates.env.filters.setdefault("bytes", describe_bytes)


def _ordered(rows: list[Dataset]) -> list[Dataset]:
    """Each dataset followed by its splits (a split whose source is gone stays at its place)."""
    ids = {r.id for r in rows}
    out: list[Dataset] = []
    for row in rows:
        if row.split_of_id is None or row.split_of_id not in ids:
            out.append(row)
            out.extend(s for s in rows if s.split_of_id == row.id)
    return out


def _list_page(
    request: Request, session: SessionDep, user: User, settings: SettingsDep
) -> HTMLResponse:
    rows = _ordered(datasets.list_for(session, user, 0, 1000))
    block = "datasets" if is_htmx(request) else None
    limit = settings.max_upload_bytes
    return render(request, "pages/datasets.html", block=block, datasets=rows, max_bytes=limit)


@router.get("/datasets", response_class=HTMLResponse)
def datasets_page(
    request: Request, session: SessionDep, user: PageUser, settings: SettingsDep
) -> HTMLResponse:
    return _list_page(request, session, user, settings)


@router.post("/datasets")
async def upload(
    request: Request, session: SessionDep, user: PageUser, settings: SettingsDep
) -> Response:
    """The upload form (htmx, multipart): on success the browser opens the new dataset."""
    row = await create_from_request(request, session, user, settings)
    return Response(status_code=200, headers={"HX-Redirect": f"/datasets/{row.id}"})


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(
    request: Request,
    dataset_id: PathId,
    session: SessionDep,
    user: PageUser,
    storage: StorageDep,
    offset: int = Query(0, ge=0),
    limit: int = Query(PAGE_ROWS, ge=1, le=100),
) -> HTMLResponse:
    """The dataset's facts and a page of its rows; htmx paging gets only the rows block."""
    row = datasets.get(session, user, dataset_id)
    offset = min(offset, max(row.row_count - 1, 0))
    _row, page = datasets.read_page(session, user, dataset_id, offset, limit, storage=storage)
    views = [_row_view(ref, decode_row(data), row.format) for ref, data in page]
    block = "rows" if is_htmx(request) and request.headers.get("hx-target") == "rows" else None
    source = datasets.get(session, user, row.split_of_id) if row.split_of_id else None
    context: dict[str, Any] = {"dataset": row, "meta": row.meta, "source": source}
    context.update(rows=views, offset=offset, limit=limit)
    return render(request, "pages/dataset.html", block=block, **context)


@router.post("/datasets/{dataset_id}/split")
def split(
    dataset_id: PathId,
    session: SessionDep,
    user: PageUser,
    storage: StorageDep,
    validation_percent: float = Form(..., gt=0, lt=100),
    seed: int = Form(0, ge=0, le=2**32 - 1),
) -> Response:
    datasets.split(session, storage, user, dataset_id, validation_percent, seed)
    return Response(status_code=200, headers={"HX-Redirect": f"/datasets/{dataset_id}"})


@router.delete("/datasets/{dataset_id}")
def delete(
    request: Request,
    dataset_id: PathId,
    session: SessionDep,
    user: PageUser,
    storage: StorageDep,
    settings: SettingsDep,
) -> Response:
    """From the list, the list is redrawn; from the dataset's page, the browser goes back."""
    datasets.delete(session, storage, user, dataset_id)
    session.flush()
    if request.headers.get("hx-target") == "datasets":
        return _list_page(request, session, user, settings)
    return Response(status_code=200, headers={"HX-Redirect": "/datasets"})


def _row_view(ref: RowRef, values: dict[str, Any], fmt: str) -> dict[str, Any]:
    """What the preview table shows of a row: the prompt, the answer, the other fields."""
    answer = ""
    if fmt == "messages":
        messages = values["messages"]
        prompt_part = messages[:-1] if ref.answer else messages
        shown = next((m for m in reversed(prompt_part) if m["role"] == "user"), prompt_part[-1])
        prompt = _text(shown.get("content"))
        answer = _text(messages[-1].get("content")) if ref.answer else ""
        count = f"{len(messages)} messages"
    else:
        prompt, count = values["prompt"], ""
    extras = {k: v for k, v in values.items() if k != fmt}
    return {
        "index": ref.position,
        "tokens": ref.tokens,
        "count": count,
        "prompt": _clip(prompt),
        "answer": _clip(answer),
        "extras": _clip(json.dumps(extras, ensure_ascii=False)) if extras else "",
        "json": json.dumps(values, indent=2, ensure_ascii=False),
    }


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content)
    return "(tool calls)"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= CLIP else text[: CLIP - 1] + "…"
