"""Training fixtures: the demo model (built once, cached across runs) and demo resources."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.models import Job
from app.services import demo
from tests.conftest import Account
from tests.helpers import demo_model, start_rft

DEMO_PRETRAIN_STEPS = 1500


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The demo model as `rft demo` builds it; kept in .cache/ so later runs skip the build."""
    return demo_model(DEMO_PRETRAIN_STEPS)


@pytest.fixture
def train_settings(settings: Settings, models_dir: Path) -> Settings:
    return settings.model_copy(
        update={"models_dir": models_dir, "job_stale_seconds": 8.0, "job_ring_seconds": 5.0}
    )


@pytest.fixture
def train_env(server_env: dict[str, str], models_dir: Path) -> dict[str, str]:
    return {
        **server_env,
        "RFT_MODELS_DIR": str(models_dir),
        "RFT_JOB_STALE_SECONDS": "8",
        "RFT_JOB_RING_SECONDS": "5",
    }


@pytest.fixture
def train_client(
    train_settings: Settings, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    from app.main import create_app

    app = create_app(train_settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def demo_request(
    train_settings: Settings, session_factory: sessionmaker[Session], alice: Account
) -> dict[str, Any]:
    with transaction(session_factory) as session:
        resources = demo.seed(session, train_settings, alice.user)
    return demo.job_request(resources)


@pytest.fixture
def worker_process(train_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """Starts `rft worker` processes on demand; all are stopped at the end of the test."""
    started = []

    def start() -> Any:
        process = start_rft(["worker", "--queues", "gpu,cpu"], train_env)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def wait_for_job(
    factory: sessionmaker[Session],
    job_id: int,
    until: Callable[[Job], bool],
    timeout: float,
) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        with factory() as session:
            job = session.get(Job, job_id)
            assert job is not None
            if until(job):
                return job
            if job.is_terminal:
                raise AssertionError(f"job ended {job.status}: {job.error}")
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} at step {job.step}")
        time.sleep(0.2)
