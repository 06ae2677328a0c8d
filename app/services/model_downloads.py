"""Base models downloaded from the Hugging Face hub by a worker, and the progress they report.

The web process never downloads: it checks within seconds that the hub can be reached (naming
the setting when it cannot), records the download as queued and rings a worker (app.tasks).
The worker writes its progress to a status file under ``RFT_MODELS_DIR/.downloads`` (the folder
web and workers share, as for registry.json), downloads into a hidden folder there and renames
it to ``RFT_MODELS_DIR/<org>/<name>`` once complete: the model is listed only then, and a
failed download leaves nothing behind but its status.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from celery import Celery

from app.core.config import Settings
from app.core.errors import Conflict, NotFound, Unavailable
from app.services import base_models
from app.tasks import request_model_download

DOWNLOADS = ".downloads"
# No progress reported for this long: the worker that had it died (it may be asked again).
STALE_SECONDS = 600.0
State = Literal["queued", "downloading", "ready", "failed"]
TERMINAL = ("ready", "failed")


@dataclass(frozen=True)
class Download:
    hub_id: str
    state: State
    files_done: int = 0
    files_total: int | None = None
    bytes_done: int = 0
    bytes_total: int | None = None
    error: str | None = None
    updated_at: float = 0.0

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


def folder(models_dir: Path) -> Path:
    return models_dir / DOWNLOADS


def key(hub_id: str) -> str:
    return hub_id.replace("/", "--")


def _status_file(models_dir: Path, hub_id: str) -> Path:
    return folder(models_dir) / f"{key(hub_id)}.json"


def write(models_dir: Path, download: Download) -> Download:
    """Store ``download`` (stamped now) atomically: a reader never sees half a file."""
    stamped = replace(download, updated_at=time.time())
    target = _status_file(models_dir, download.hub_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
    aside.write_text(json.dumps(asdict(stamped)))
    aside.replace(target)
    return stamped


def _read(path: Path) -> Download | None:
    try:
        data = json.loads(path.read_text())
        download = Download(**data)
    except (OSError, ValueError, TypeError):
        return None
    stale = time.time() - download.updated_at > STALE_SECONDS
    if download.terminal or not stale:
        return download
    if download.state == "queued":
        why = (
            "no worker took it within 10 minutes: is one running on the cpu queue "
            "(`rft worker --queues gpu,cpu`) and free? Add it again"
        )
    else:
        why = "the worker downloading it stopped reporting (it died?): add it again"
    return replace(download, state="failed", error=why)


def read(models_dir: Path, hub_id: str) -> Download | None:
    return _read(_status_file(models_dir, hub_id))


def list_downloads(settings: Settings) -> list[Download]:
    found = [_read(p) for p in sorted(folder(settings.models_path).glob("*.json"))]
    return [d for d in found if d is not None]


def get(settings: Settings, hub_id: str) -> Download:
    valid = base_models.NAME.match(hub_id) and "/" in hub_id
    download = read(settings.models_path, hub_id) if valid else None
    if download is None:
        raise NotFound(f"No download of {hub_id} was asked for")
    return download


def start(settings: Settings, celery: Celery, hub_id: str) -> Download:
    """Queue the download of ``hub_id`` (already checked not to be cached), or answer the one
    under way. Refused at once when the hub cannot be reached from here."""
    base_models.check_hub_id(hub_id)
    if any(m.name == hub_id for m in base_models.list_models(settings)):
        raise Conflict(f"A model named {hub_id} already exists")
    current = read(settings.models_path, hub_id)
    if current is not None and not current.terminal:
        return current
    unavailable = base_models.hub_unavailable(hub_id)
    if unavailable is not None:
        raise unavailable
    queued = write(settings.models_path, Download(hub_id, "queued"))
    try:
        request_model_download(celery, hub_id)
    except Exception as exc:  # the broker is down: say so rather than queue into nothing
        write(settings.models_path, Download(hub_id, "failed", error="the broker is down"))
        raise Unavailable(f"Cannot queue the download of {hub_id}: the broker is down") from exc
    return queued


def forget(settings: Settings, hub_id: str) -> None:
    """Drop the status of ``hub_id`` (its model was removed): no stale "ready" is answered."""
    _status_file(settings.models_path, hub_id).unlink(missing_ok=True)
