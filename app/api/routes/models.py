"""Base models: listed for everyone; added (a local folder, the Hugging Face cache, or a hub
download run by a worker) and removed by admins only."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from app.api.deps import AdminUser, CurrentUser, SettingsDep
from app.core.config import Settings
from app.core.errors import InvalidInput
from app.schemas.common import ErrorOut, Page
from app.schemas.job import ModelCreate, ModelPublic
from app.schemas.model_download import ModelDownloadPublic
from app.services import base_models, model_downloads
from app.services.model_downloads import Download

router = APIRouter(prefix="/api/v1", tags=["models"])


def model_public(model: base_models.BaseModel, settings: Settings) -> ModelPublic:
    fits = base_models.fits_worker(model, settings)
    fields = {k: getattr(model, k) for k in ModelPublic.model_fields if k != "fits_worker_memory"}
    return ModelPublic(**fields, fits_worker_memory=fits)


def download_public(download: Download) -> ModelDownloadPublic:
    return ModelDownloadPublic(**asdict(download))


@router.get("/models", response_model=Page[ModelPublic])
def list_models(_user: CurrentUser, settings: SettingsDep) -> Page[ModelPublic]:
    data = [model_public(m, settings) for m in base_models.list_models(settings)]
    return Page(data=data, count=len(data))


@router.post(
    "/models",
    response_model=ModelPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        202: {"model": ModelDownloadPublic, "description": "Download started (poll it)"},
        403: {"model": ErrorOut, "description": "Only an admin adds models"},
    },
)
def add_model(
    body: ModelCreate, request: Request, _admin: AdminUser, settings: SettingsDep
) -> ModelPublic | JSONResponse:
    """Register a local folder (``name`` + ``path``), or a hub id (``hub_id``): taken from this
    host's Hugging Face cache when there (201), else downloaded by a worker (202: poll
    ``GET /api/v1/models/downloads/{hub_id}``). Without internet: 503 at once, naming why."""
    if body.hub_id and not body.path:
        cached = base_models.register_cached(settings, body.hub_id)
        if cached is not None:
            return model_public(cached, settings)
        download = model_downloads.start(settings, request.app.state.celery, body.hub_id)
        return JSONResponse(download_public(download).model_dump(), status_code=202)
    if not body.path:
        raise InvalidInput(
            "Invalid model", [{"field": "path", "message": "give a path (with a name) or a hub_id"}]
        )
    name = body.name or body.hub_id or Path(body.path).name
    return model_public(base_models.register_path(settings, name, body.path), settings)


@router.get("/models/downloads", response_model=Page[ModelDownloadPublic])
def list_downloads(_user: CurrentUser, settings: SettingsDep) -> Page[ModelDownloadPublic]:
    data = [download_public(d) for d in model_downloads.list_downloads(settings)]
    return Page(data=data, count=len(data))


@router.get("/models/downloads/{hub_id:path}", response_model=ModelDownloadPublic)
def get_download(hub_id: str, _user: CurrentUser, settings: SettingsDep) -> ModelDownloadPublic:
    return download_public(model_downloads.get(settings, hub_id))


@router.delete(
    "/models/{name:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"model": ErrorOut, "description": "Only an admin removes models"}},
)
def remove_model(name: str, _admin: AdminUser, settings: SettingsDep) -> None:
    """Forget a registered model (its folder is kept), or delete a downloaded one."""
    base_models.remove(settings, name)
    model_downloads.forget(settings, name)
