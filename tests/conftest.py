"""Fixtures shared by the whole suite.

The suite runs against PostgreSQL and Redis when RFT_TEST_DATABASE_URL / RFT_TEST_REDIS_URL are
set (each run gets its own database and Redis db number), and on the embedded default (SQLite +
filesystem broker) otherwise. Schema comes from the Alembic migrations, as in production.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import Base, make_engine, make_session_factory, transaction
from app.core.migrate import upgrade
from app.main import create_app
from app.models import User
from app.services import api_keys, users
from tests.helpers import free_port

# Without bubblewrap evaluators run only by explicit opt-in. CI installs bubblewrap (then this
# changes nothing); a development machine without it still runs the suite, unsandboxed.
os.environ.setdefault("RFT_UNSAFE_NO_SANDBOX", "true")
TEST_PG = os.environ.get("RFT_TEST_DATABASE_URL")
TEST_REDIS = os.environ.get("RFT_TEST_REDIS_URL")


def _create_pg_database(base_url: str) -> tuple[str, str]:
    name = f"rft_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(base_url: str, name: str) -> None:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if TEST_PG:
        url, name = _create_pg_database(TEST_PG)
        upgrade(url)
        yield url
        _drop_pg_database(TEST_PG, name)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'rft.db'}"
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def broker_url() -> str | None:
    """A Redis db of its own for this run (the one RFT_TEST_REDIS_URL names, else a random
    one), or None for the filesystem broker."""
    if not TEST_REDIS:
        return None
    import redis

    named = urlsplit(TEST_REDIS).path.strip("/")
    url = TEST_REDIS if named else f"{TEST_REDIS.rstrip('/')}/{random.randint(1, 15)}"
    # Messages left by an earlier run (a killed worker's tasks, expired pings) would reach this
    # run's workers: a stale `rft.jobs.train` names a job id that exists again in a fresh DB.
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(autouse=True)
def _empty_broker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tasks a test enqueued (jobs nobody ran, pings) must not reach the next test's workers."""
    yield
    if TEST_REDIS and "broker_url" in request.fixturenames:
        import redis

        redis.Redis.from_url(request.getfixturevalue("broker_url")).flushdb()


@pytest.fixture(scope="session")
def session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "session_factory" not in request.fixturenames:
        return
    factory = request.getfixturevalue("session_factory")
    with transaction(factory) as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path, database_url: str, broker_url: str | None) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=database_url,
        broker_url=broker_url,
    )


@pytest.fixture
def server_env(settings: Settings) -> dict[str, str]:
    """Environment for a subprocess (`rft …`) that must see the same database and broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RFT_")}
    env.update(RFT_DATA_DIR=str(settings.data_path), RFT_DATABASE_URL=settings.database)
    env["RFT_UNSAFE_NO_SANDBOX"] = os.environ["RFT_UNSAFE_NO_SANDBOX"]
    if settings.broker_url:
        env["RFT_BROKER_URL"] = settings.broker_url
    return env


@pytest.fixture
def client(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@pytest.fixture
def live_server(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[str]:
    """The real app under uvicorn in a thread; yields its base URL."""
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


@dataclass
class Account:
    user: User
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def make_account(session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """make_account("alice") -> a user with a fresh API key, made through the services."""

    def make(name: str) -> Account:
        with transaction(session_factory) as session:
            user = users.get_or_create(session, name)
            _row, key = api_keys.create(session, user, "test")
        return Account(user=user, key=key)

    return make


@pytest.fixture
def alice(make_account) -> Account:  # type: ignore[no-untyped-def]
    return make_account("alice")


@pytest.fixture
def bob(make_account) -> Account:  # type: ignore[no-untyped-def]
    return make_account("bob")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked gpu run only where CUDA is; everywhere else they are skipped, saying why."""
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:  # no torch import (seconds) when no GPU test was collected
        return
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if cuda:
        return
    skip = pytest.mark.skip(reason="needs CUDA (no GPU on this machine)")
    for item in gpu_items:
        item.add_marker(skip)
