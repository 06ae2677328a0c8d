"""A user who owns one of everything that leaves files: a dataset (uploaded), an evaluator, a
job with a checkpoint in storage, its working folder and a merged export, and a deployment with
its adapter copy. Built through the services and the API as the worker and the server would."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.core.storage import Storage
from app.models import Deployment, Job, User
from app.services import exports, job_records
from tests.conftest import Account
from tests.datasets_support import rows_bytes, upload
from tests.job_records_support import make_job


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def give_everything(
    client: TestClient, settings: Settings, factory: sessionmaker[Session], account: Account
) -> Job:
    """Everything above for `account`; returns its job, left running (claimed by a worker)."""
    assert upload(client, account, rows_bytes(3)).status_code == 201
    code = "def evaluate(messages, **kw):\n    return 1.0\n"
    made = client.post(
        "/api/v1/evaluators", json={"name": "one", "code": code}, headers=account.headers
    )
    assert made.status_code == 201, made.text
    storage = Storage.from_settings(settings)
    with transaction(factory) as session:
        owner = session.get(User, account.user.id)
        assert owner is not None
        job = make_job(session, owner)
        key = f"jobs/{job.id}/checkpoint-1"
        with storage.writer(f"{key}/adapter_model.safetensors") as handle:
            handle.write(b"weights")
        checkpoint = job_records.add_checkpoint(session, job.id, 1, key, {}, None)
        with storage.writer(f"{exports.merged_key(checkpoint.id)}/model.safetensors") as handle:
            handle.write(b"merged")
        deployment = Deployment(owner_id=owner.id, name="ft", base_model="tiny-demo", state="ready")
        session.add(deployment)
        session.flush()
        work = settings.data_path / "jobs" / str(job.id)
        adapter = settings.data_path / "serving" / "adapters" / str(deployment.id)
        for folder in (work, adapter):
            folder.mkdir(parents=True)
            (folder / "adapter_config.json").write_text("{}")
    return job


def stop_when_cancelled(factory: sessionmaker[Session], job_id: int) -> threading.Thread:
    """The worker's side of a cancel: it sees the request at its next step and ends the job."""

    def run() -> None:
        deadline = time.monotonic() + 120  # a hang guard
        while time.monotonic() < deadline:
            with transaction(factory) as session:
                job = session.get(Job, job_id)
                if job is None or job.cancel_requested:
                    if job is not None:
                        job_records.finish(session, job_id, "cancelled")
                    return
            time.sleep(0.1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def server_files(settings: Settings) -> set[Path]:
    """Files under the data dir, without the database's own and the broker's."""
    skip = (settings.data_path / "broker", settings.data_path / "results")
    return {
        p
        for p in files_under(settings.data_path)
        if not p.name.startswith("rft.db") and not any(p.is_relative_to(s) for s in skip)
    }
