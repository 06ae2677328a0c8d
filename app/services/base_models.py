"""Base models available to fine-tune: Hugging Face folders under RFT_MODELS_DIR (``name`` or
``org/name``, e.g. a hub download), and folders registered elsewhere under a name of the user's
choosing (``org/name`` as on the hub).

Read from each folder's config.json only: the web process never imports torch or transformers.
Registered folders are kept in ``RFT_MODELS_DIR/registry.json``: the workers, which share the
models folder, resolve the same names.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.core.config import Settings
from app.core.errors import Conflict, InvalidInput, NotFound, Unavailable

REGISTRY = "registry.json"
DOWNLOADED = "rft_download.json"  # written by the worker into a folder it downloaded
NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?$")
HUB_TIMEOUT_SECONDS = 3.0
FLOAT32_BYTES = 4
RUNTIME_BYTES = 1 << 30


@dataclass(frozen=True)
class BaseModel:
    name: str
    path: Path
    architecture: str
    max_context_length: int
    parameters: int | None
    source: str = "folder"  # folder (under RFT_MODELS_DIR), path (registered) or hub (downloaded)
    chat_template: bool = False

    @property
    def training_memory_bytes(self) -> int | None:
        """A rough figure for LoRA GRPO on the CPU build (float32): the frozen weights, about
        twice that again for activations and generation caches, and the Python/torch runtime."""
        if self.parameters is None:
            return None
        return self.parameters * FLOAT32_BYTES * 3 + RUNTIME_BYTES


def worker_memory_bytes(settings: Settings) -> int | None:
    """The trainer's memory: the setting, else this host's RAM (None where it cannot be read)."""
    if settings.worker_memory_bytes:
        return settings.worker_memory_bytes
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def fits_worker(model: BaseModel, settings: Settings) -> bool | None:
    """Whether training the model should fit the worker's memory (None: unknown)."""
    needed, available = model.training_memory_bytes, worker_memory_bytes(settings)
    if needed is None or available is None:
        return None
    return needed <= available


def _estimate_parameters(config: dict[str, object]) -> int | None:
    try:
        hidden = int(config["hidden_size"])  # type: ignore[call-overload]
        layers = int(config["num_hidden_layers"])  # type: ignore[call-overload]
        vocab = int(config["vocab_size"])  # type: ignore[call-overload]
        inner = int(config.get("intermediate_size", 4 * hidden))  # type: ignore[call-overload]
    except (KeyError, TypeError, ValueError):
        return None
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    return int(embeddings + layers * (4 * hidden * hidden + 3 * hidden * inner))


def _has_chat_template(folder: Path, config: dict[str, object]) -> bool:
    if (folder / "chat_template.jinja").exists() or (folder / "chat_template.json").exists():
        return True
    try:
        tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(tokenizer_config.get("chat_template"))


def _read(folder: Path, name: str | None = None, source: str = "folder") -> BaseModel | None:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if not (folder / "tokenizer.json").exists() and not (folder / "tokenizer_config.json").exists():
        return None
    architectures = config.get("architectures") or [config.get("model_type", "unknown")]
    return BaseModel(
        name=name or folder.name,
        path=folder,
        architecture=str(architectures[0]),
        max_context_length=int(config.get("max_position_embeddings") or 2048),
        parameters=_estimate_parameters(config),
        source=source,
        chat_template=_has_chat_template(folder, config),
    )


def is_model_folder(folder: Path) -> bool:
    """Whether ``folder`` holds what a listed model needs (config.json and a tokenizer)."""
    return _read(folder) is not None


def _registry(settings: Settings) -> dict[str, str]:
    try:
        data = json.loads((settings.models_path / REGISTRY).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save_registry(settings: Settings, entries: dict[str, str]) -> None:
    settings.models_path.mkdir(parents=True, exist_ok=True)
    target = settings.models_path / REGISTRY
    aside = target.with_suffix(f".{os.getpid()}.tmp")
    aside.write_text(json.dumps(entries, indent=2, sort_keys=True))
    aside.replace(target)  # atomic: a worker never reads half a file


def _folders(root: Path) -> list[tuple[str, Path]]:
    """(name, folder) of each candidate under ``root``: ``name`` folders, and ``org/name`` ones
    inside an org folder (which holds no config.json itself). Hidden folders are work in
    progress (a download, a demo build) and never models."""
    if not root.is_dir():
        return []
    found = []
    for top in sorted(root.iterdir()):
        if top.name.startswith(".") or not top.is_dir():
            continue
        if (top / "config.json").exists():
            found.append((top.name, top))
            continue
        for inner in sorted(top.iterdir()):
            if not inner.name.startswith(".") and inner.is_dir():
                found.append((f"{top.name}/{inner.name}", inner))
    return found


def list_models(settings: Settings) -> list[BaseModel]:
    found: list[BaseModel | None] = []
    for name, folder in _folders(settings.models_path):
        found.append(_read(folder, name, "hub" if (folder / DOWNLOADED).exists() else "folder"))
    found += [_read(Path(p), name, "path") for name, p in sorted(_registry(settings).items())]
    return [model for model in found if model is not None]


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput("Invalid model", [{"field": field, "message": message}])


def register_path(settings: Settings, name: str, path: str) -> BaseModel:
    """Register a local Hugging Face folder under ``name`` (e.g. ``Qwen/Qwen2.5-0.5B``)."""
    if not NAME.match(name):
        raise _invalid("name", "use letters, digits, . _ - and at most one / (org/name)")
    if any(m.name == name for m in list_models(settings)):
        raise Conflict(f"A model named {name} already exists")
    if "\x00" in path:
        raise _invalid("path", "contains a NUL character")
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise _invalid("path", f"{folder} is not a folder on this host")
    model = _read(folder, name, "path")
    if model is None:
        raise _invalid(
            "path", f"{folder} holds no Hugging Face model (config.json and a tokenizer)"
        )
    _save_registry(settings, {**_registry(settings), name: str(folder)})
    return model


def check_hub_id(hub_id: str) -> None:
    if not NAME.match(hub_id) or "/" not in hub_id:
        raise _invalid("hub_id", "a hub id is org/name, e.g. Qwen/Qwen2.5-0.5B-Instruct")


def register_cached(settings: Settings, hub_id: str) -> BaseModel | None:
    """A hub model already in this host's Hugging Face cache, registered from there; None when
    it is not cached (then it needs a download: app.services.model_downloads)."""
    check_hub_id(hub_id)
    cached = _hub_cache_snapshot(hub_id)
    return None if cached is None else register_path(settings, hub_id, str(cached))


def hub_unavailable(hub_id: str) -> Unavailable | None:
    """Why ``hub_id`` cannot be downloaded from this host, found within seconds (no internet,
    HF_HUB_OFFLINE, an unreachable HF_ENDPOINT or proxy), naming the setting; None when the hub
    answers a connection."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    reason = "HF_HUB_OFFLINE is set: unset it to download" if offline else _unreachable(endpoint)
    if reason is None:
        return None
    return Unavailable(
        f"Cannot download {hub_id}: {reason}",
        [
            {
                "field": "hub_id",
                "message": f"{hub_id} is not in this host's Hugging Face cache and "
                f"{endpoint} cannot be reached ({reason}): set HF_ENDPOINT to a reachable "
                "mirror or HTTPS_PROXY to a proxy (for the server and its workers), or "
                "register a local folder instead (path)",
            }
        ],
    )


def _hub_cache_snapshot(hub_id: str) -> Path | None:
    cache = Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    )
    repo = cache / ("models--" + hub_id.replace("/", "--"))
    try:
        revision = (repo / "refs" / "main").read_text().strip()
    except OSError:
        return None
    snapshot = repo / "snapshots" / revision
    return snapshot if (snapshot / "config.json").exists() else None


def _unreachable(endpoint: str) -> str | None:
    """Why ``endpoint`` (or the proxy that reaches it) cannot be reached within a few seconds,
    or None when it can."""
    parts = urlsplit(endpoint)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme or "https")
    via = ""
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_parts.hostname or "", proxy_parts.port or 80
        via = f"the proxy ({parts.scheme.upper()}_PROXY) "
    try:
        with socket.create_connection((host, port), timeout=HUB_TIMEOUT_SECONDS):
            return None
    except OSError as exc:
        return f"{via}{host}:{port}: {exc.strerror or exc}"


def remove(settings: Settings, name: str) -> None:
    """Forget a registered model (its folder is left alone), or delete a downloaded one."""
    entries = _registry(settings)
    folder = settings.models_path / name
    if name not in entries:
        if NAME.match(name) and (folder / DOWNLOADED).exists():
            _delete_download(settings, folder)
            return
        if NAME.match(name) and folder.is_dir():
            raise Conflict(f"{name} is a folder under RFT_MODELS_DIR: delete the folder instead")
        raise NotFound(f"Model {name} is not registered")
    del entries[name]
    _save_registry(settings, entries)


def _delete_download(settings: Settings, folder: Path) -> None:
    # Renamed aside first: the model leaves the list at once, never half-deleted.
    aside = settings.models_path / f".removing-{os.getpid()}-{folder.name}"
    folder.rename(aside)
    shutil.rmtree(aside, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # the org folder, when this was its last model


def get_model(settings: Settings, name: str) -> BaseModel:
    for model in list_models(settings):
        if model.name == name:
            return model
    names = ", ".join(m.name for m in list_models(settings)) or "none yet: run `rft demo`"
    raise InvalidInput(
        "Invalid job request",
        [{"field": "base_model", "message": f"unknown model {name!r} (available: {names})"}],
    )
