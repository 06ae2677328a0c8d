"""Download a base model from the Hugging Face hub into RFT_MODELS_DIR/<org>/<name>.

Progress (files and bytes) goes to the status file the Models page and `rft models add --hub`
poll (app.services.model_downloads). The files land in a hidden folder first and are renamed
into place only when complete, so a failed or interrupted download leaves nothing half-written
that could be listed or trained on. Without a reachable hub it fails within seconds, naming the
setting (HF_ENDPOINT, HF_HUB_OFFLINE, a proxy), rather than retrying.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import socket
import threading
from pathlib import Path
from typing import Any

from app.core.config import Settings
from app.services import base_models, model_downloads
from app.services.model_downloads import Download

log = logging.getLogger("rft.downloads")

REPORT_SECONDS = 0.5
# Weights in formats the trainer never reads: a hub repo often carries them next to safetensors.
IGNORED = ["*.gguf", "*.onnx", "onnx/*", "*.msgpack", "*.h5", "*.ot", "*.tflite", "original/*"]


class Progress:
    """Counts files and bytes from huggingface_hub's progress bars; a thread writes them to
    the status file twice a second while the download runs."""

    def __init__(self, models_dir: Path, hub_id: str) -> None:
        self.models_dir, self.hub_id = models_dir, hub_id
        self.lock = threading.Lock()
        self.bars: list[Any] = []
        self.done = threading.Event()
        self.reporter = threading.Thread(target=self._report, daemon=True)

    def snapshot(self, state: model_downloads.State = "downloading") -> Download:
        with self.lock:
            bars = list(self.bars)
        files = [b for b in bars if b.rft_kind == "files"]
        disk = [b for b in bars if b.rft_kind == "bytes"]
        return Download(
            self.hub_id,
            state,
            files_done=int(sum(b.n for b in files)),
            files_total=int(sum(b.total or 0 for b in files)) or None,
            bytes_done=int(sum(b.n for b in disk)),
            bytes_total=int(sum(b.total or 0 for b in disk)) or None,
        )

    def __enter__(self) -> Progress:
        model_downloads.write(self.models_dir, self.snapshot())
        self.reporter.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.reporter.join()  # its last write comes before the outcome's

    def _report(self) -> None:
        while not self.done.wait(REPORT_SECONDS):
            model_downloads.write(self.models_dir, self.snapshot())

    def bar_class(self) -> type[Any]:
        """A tqdm class for ``snapshot_download(tqdm_class=...)``: shows nothing, counts."""
        from tqdm.auto import tqdm

        progress = self

        class Counted(tqdm):
            monitor_interval = 0  # no tqdm monitor thread in a worker

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs.pop("name", None)
                kwargs.update(disable=False, file=io.StringIO())
                # Which bar this is, told by how it starts (its description changes later).
                self.rft_kind = _kind(kwargs)
                super().__init__(*args, **kwargs)
                with progress.lock:
                    progress.bars.append(self)

            def display(self, *args: Any, **kwargs: Any) -> bool:
                return True

        return Counted


def _kind(kwargs: dict[str, Any]) -> str:
    """files (one per file done), bytes (written to disk, total known) or transfer (network
    bytes, total unknown: not shown)."""
    if kwargs.get("unit", "it") != "B":
        return "files"
    return "transfer" if str(kwargs.get("desc", "")).startswith("Downloading bytes") else "bytes"


def cause(hub_id: str, exc: BaseException) -> str:
    """What went wrong, in words a user can act on (the raw text is in the worker's log)."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return f"{hub_id} is gated on the hub: accept its terms there and set HF_TOKEN"
    if isinstance(exc, RepositoryNotFoundError):
        return f"{hub_id} is not on the hub (or is private: set HF_TOKEN): check the id"
    if isinstance(exc, LocalEntryNotFoundError):
        return (
            f"the hub cannot be reached from the worker ({exc.__cause__ or exc}): set "
            "HF_ENDPOINT to a reachable mirror or HTTPS_PROXY to a proxy, or unset HF_HUB_OFFLINE"
        )
    if isinstance(exc, OSError) and exc.errno == 28:
        return "no space left under RFT_MODELS_DIR: free some, then add the model again"
    return f"{type(exc).__name__}: {exc}"


def download(settings: Settings, hub_id: str) -> Download:
    """Download ``hub_id``; the outcome (ready or failed, with its cause) is also stored."""
    models_dir = settings.models_path
    target = models_dir / hub_id
    if (target / base_models.DOWNLOADED).exists():  # asked twice (a redelivered task, say)
        return model_downloads.write(models_dir, Download(hub_id, "ready"))
    unavailable = base_models.hub_unavailable(hub_id)
    if unavailable is not None:  # within seconds, naming the setting: no retries
        why = unavailable.errors[0]["message"] if unavailable.errors else unavailable.detail
        return model_downloads.write(models_dir, _failed(hub_id, why))
    aside = _aside(models_dir, hub_id)
    progress = Progress(models_dir, hub_id)
    try:
        from huggingface_hub import snapshot_download

        with progress:
            snapshot_download(
                repo_id=hub_id,
                # Read now: huggingface_hub reads these once, when first imported.
                endpoint=os.environ.get("HF_ENDPOINT") or None,
                cache_dir=os.environ.get("HF_HUB_CACHE") or None,
                local_dir=aside,
                ignore_patterns=IGNORED,
                tqdm_class=progress.bar_class(),
            )
        if not base_models.is_model_folder(aside):
            raise ValueError(f"{hub_id} holds no transformers model (config.json and a tokenizer)")
        shutil.rmtree(aside / ".cache", ignore_errors=True)  # huggingface_hub's own metadata
        (aside / base_models.DOWNLOADED).write_text(json.dumps({"hub_id": hub_id}))
        if (target / base_models.DOWNLOADED).exists():  # another worker finished it first
            shutil.rmtree(aside, ignore_errors=True)
        elif target.exists():
            raise FileExistsError(f"{target} appeared meanwhile: remove it, then add again")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            aside.rename(target)
    except Exception as exc:
        log.exception("download of %s failed", hub_id)
        shutil.rmtree(aside, ignore_errors=True)
        return model_downloads.write(models_dir, _failed(hub_id, cause(hub_id, exc)))
    done = progress.snapshot("ready")
    done = Download(
        hub_id,
        "ready",
        files_done=done.files_total or done.files_done,
        files_total=done.files_total,
        bytes_done=done.bytes_total or done.bytes_done,
        bytes_total=done.bytes_total,
    )
    return model_downloads.write(models_dir, done)


def _aside(models_dir: Path, hub_id: str) -> Path:
    """This attempt's own hidden folder. What earlier attempts left (a killed worker's) goes,
    unless another worker is downloading the same model right now."""
    folder, key = model_downloads.folder(models_dir), model_downloads.key(hub_id)
    current = model_downloads.read(models_dir, hub_id)
    if current is None or current.state != "downloading":
        for left in folder.glob(f"{key}.partial-*"):
            shutil.rmtree(left, ignore_errors=True)
    return folder / f"{key}.partial-{socket.gethostname()}-{os.getpid()}"


def _failed(hub_id: str, error: str) -> Download:
    return Download(hub_id, "failed", error=error)
