"""The Models page: the base models of this installation; admins add them (a hub id, which a
worker downloads with live progress, or a local folder) and remove them."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from app.api.deps import SettingsDep
from app.core.config import Settings
from app.core.errors import InvalidInput, is_htmx
from app.services import base_models, model_downloads
from app.web.deps import PageAdmin, PageUser
from app.web.templating import render

router = APIRouter(include_in_schema=False)
FAILED_SHOWN_SECONDS = 3600


def memory_context(settings: Settings) -> dict[str, Any]:
    """What the model tables' memory cell needs (partials/model_memory.html)."""
    return {
        "fits_worker": lambda model: base_models.fits_worker(model, settings),
        "worker_memory": base_models.worker_memory_bytes(settings) or 0,
    }


def _page(request: Request, settings: Settings, **extra: Any) -> HTMLResponse:
    # Under way, or failed within the hour (the cause stays readable for a while).
    recent = time.time() - FAILED_SHOWN_SECONDS
    downloads = [
        d
        for d in model_downloads.list_downloads(settings)
        if not d.terminal or (d.state == "failed" and d.updated_at > recent)
    ]
    return render(
        request,
        "pages/models.html",
        block="models" if is_htmx(request) else None,
        models=base_models.list_models(settings),
        **memory_context(settings),
        downloads=downloads,
        **extra,
    )


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, user: PageUser, settings: SettingsDep) -> HTMLResponse:
    return _page(request, settings)


@router.post("/models", response_class=HTMLResponse)
def add_model(
    request: Request,
    user: PageAdmin,
    settings: SettingsDep,
    hub_id: str = Form(""),
    name: str = Form(""),
    path: str = Form(""),
) -> HTMLResponse:
    """A hub id (from the local cache, else a worker downloads it) or a name and a folder."""
    hub_id, name, path = hub_id.strip(), name.strip(), path.strip()
    if path:
        base_models.register_path(settings, name or path.rstrip("/").rsplit("/", 1)[-1], path)
    elif hub_id:
        if base_models.register_cached(settings, hub_id) is None:
            model_downloads.start(settings, request.app.state.celery, hub_id)
    else:
        raise InvalidInput(
            "Invalid model", [{"field": "hub_id", "message": "give a hub id, or a folder path"}]
        )
    return _page(request, settings)


@router.post("/models/remove", response_class=HTMLResponse)
def remove_model(
    request: Request, user: PageAdmin, settings: SettingsDep, name: str = Form(...)
) -> HTMLResponse:
    base_models.remove(settings, name)
    model_downloads.forget(settings, name)
    return _page(request, settings)


@router.get("/models/downloads/{hub_id:path}", response_class=HTMLResponse)
def download_status(
    request: Request, hub_id: str, user: PageUser, settings: SettingsDep
) -> HTMLResponse:
    """One download's status widget: it polls itself until ready or failed; once ready it
    asks the page to refresh the list (HX-Trigger), where the model now is."""
    download = model_downloads.get(settings, hub_id)
    headers = {"HX-Trigger": "models-changed"} if download.state == "ready" else None
    return render(request, "partials/model_download.html", download=download, headers=headers)
