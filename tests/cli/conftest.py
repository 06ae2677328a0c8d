"""A live server for the CLI to talk to, as `rft serve` would run it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.main import create_app
from tests.e2e.conftest import free_port


@pytest.fixture
def api_url(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[str]:
    port = free_port()
    app = create_app(settings.model_copy(update={"port": port}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()
