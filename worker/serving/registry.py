"""Which deployments this model server holds, kept in step with the database.

The database is the source of truth: every poll, pending deployments of our bases are claimed
(state `loading` with our address, then `ready` or `failed` with a cause), stopped ones are let
go, and adapters idle for longer than RFT_DEPLOYMENT_IDLE_SECONDS are unloaded (they stay
`ready`: the next request loads them again). At start every active deployment of our bases is
claimed, so what was `ready` before a restart is served again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.core.storage import Storage
from app.models.deployment import ACTIVE_STATES
from app.services import base_models, deployments

log = logging.getLogger("rft.serving")


class NotServed(Exception):
    """This server does not serve that deployment (unknown, stopped, or of another base)."""


class StillLoading(Exception):
    pass


@dataclass
class Held:
    deployment_id: int
    base_model: str
    adapter_key: str | None
    loaded: bool = False
    last_used: float = 0.0

    @property
    def adapter_id(self) -> int | None:
        """What the engine knows the adapter as; None serves the base model itself."""
        return self.deployment_id if self.adapter_key is not None else None


def make_engine(folder: Path, settings: Settings) -> Any:
    """vLLM where it is installed (with a GPU), else the transformers engine."""
    from worker.serving import vllm_engine

    if vllm_engine.available():
        return vllm_engine.VllmEngine(folder, settings.model_server_max_batch)
    from worker.serving.hf_engine import HfEngine

    return HfEngine(folder, settings.model_server_max_batch)


def adapter_folder(settings: Settings, storage: Storage, key: str, local_name: str) -> Path:
    """A LoRA adapter's folder on this host: in place on local storage, else copied once to
    ``serving/adapters/<local_name>``."""
    if storage.is_local:
        folder = Path(storage.path(key))
    else:
        folder = settings.data_path / "serving" / "adapters" / local_name
        if not folder.exists():
            storage.fs.get(storage.path(key), str(folder), recursive=True)
    if not (folder / "adapter_config.json").exists():
        raise FileNotFoundError(f"no PEFT adapter (adapter_config.json) in {key}")
    return folder


class Registry:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        url: str,
        bases: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.url = url
        self.bases = bases
        self.storage = Storage.from_settings(settings)
        self.engines: dict[str, Any] = {}
        self.held: dict[int, Held] = {}
        self._lock = threading.RLock()  # guards loads: one at a time, never half-seen
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # The poll loop.

    def start(self) -> None:
        self._thread = threading.Thread(target=self._poll, name="registry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for engine in self.engines.values():
            engine.close()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
                self.unload_idle()
            except Exception:
                log.exception("could not sync deployments with the database")
            self._stop.wait(self.settings.model_server_poll_seconds)

    def sync(self) -> None:
        with self.factory() as session:
            rows = [
                (d.id, d.state, d.base_model, d.adapter_path, d.server_url)
                for d in deployments.for_server(session, self.bases)
            ]
        for deployment_id, state, base, adapter_key, _server in rows:
            held = self.held.get(deployment_id)
            if state in ACTIVE_STATES and held is None:
                self._claim(Held(deployment_id, base, adapter_key))
            elif state not in ACTIVE_STATES and held is not None:
                self._release(held)

    def _claim(self, held: Held) -> None:
        with self._lock:
            if held.deployment_id in self.held:
                return
            self._set(held.deployment_id, "loading", server_url=self.url, loaded=False)
            try:
                self._load(held)
            except Exception as exc:
                log.exception("deployment %s failed to load", held.deployment_id)
                self._set(held.deployment_id, "failed", cause=f"could not load: {exc}")
                return
            self.held[held.deployment_id] = held
            self._set(held.deployment_id, "ready", server_url=self.url, loaded=True)

    def _release(self, held: Held) -> None:
        with self._lock:
            self.held.pop(held.deployment_id, None)
            engine = self.engines.get(held.base_model)
            if held.loaded and held.adapter_key is not None and engine is not None:
                engine.unload_adapter(held.deployment_id)
            held.loaded = False

    def unload_idle(self) -> None:
        limit = self.settings.deployment_idle_seconds
        if limit <= 0:
            return
        now = time.monotonic()
        for held in list(self.held.values()):
            if held.loaded and held.adapter_key is not None and now - held.last_used > limit:
                self.unload_one(held)

    def unload_one(self, held: Held) -> None:
        """Drops an adapter from memory; it stays `ready` and its next request reloads it."""
        with self._lock:
            if held.loaded and held.adapter_key is not None:
                self.engines[held.base_model].unload_adapter(held.deployment_id)
            held.loaded = False
        self._record_loaded(held.deployment_id, False)

    def _record_loaded(self, deployment_id: int, loaded: bool) -> None:
        """Shown on the deployments page only: a busy database must not fail a request."""
        try:
            with transaction(self.factory) as session:
                deployments.set_loaded(session, deployment_id, loaded)
        except Exception:
            log.warning("could not record deployment %s loaded=%s", deployment_id, loaded)

    # Loading.

    def _engine(self, base: str) -> Any:
        if base not in self.engines:
            model = base_models.get_model(self.settings, base)
            self.engines[base] = make_engine(model.path, self.settings)
        return self.engines[base]

    def _adapter_folder(self, held: Held) -> Path:
        local = str(held.deployment_id)
        return adapter_folder(self.settings, self.storage, str(held.adapter_key), local)

    def _load(self, held: Held) -> None:
        engine = self._engine(held.base_model)
        if held.adapter_key is not None:
            engine.load_adapter(held.deployment_id, self._adapter_folder(held))
        held.loaded = True
        held.last_used = time.monotonic()

    def _set(self, deployment_id: int, state: str, **values: Any) -> None:
        with transaction(self.factory) as session:
            deployments.set_state(session, deployment_id, state, **values)

    # Requests.

    def engine_for(self, deployment_id: int) -> tuple[Any, Held]:
        """The engine and adapter for a request, loading an idle adapter back first."""
        held = self.held.get(deployment_id)
        if held is None:
            self.sync()  # created a moment ago, before our next poll?
            held = self.held.get(deployment_id)
        if held is None:
            raise NotServed(f"deployment {deployment_id} is not served here")
        if not held.loaded:
            with self._lock:
                if not held.loaded:
                    self._load(held)
                    self._record_loaded(deployment_id, True)
        held.last_used = time.monotonic()
        return self.engines[held.base_model], held
