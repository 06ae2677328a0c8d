"""Deleting a user (admins only): their running work stopped, their rows and files gone, no
one else's touched (issue 11: "deleting a user removes its files", counted before and after)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.api.routes import users as users_route
from app.core.config import Settings
from app.core.db import transaction, utcnow
from app.models import Dataset, Evaluator, Job, User
from app.services import api_keys, users
from tests.conftest import Account
from tests.datasets_support import rows_bytes, upload
from tests.user_files_support import give_everything, server_files, stop_when_cancelled


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> Account:
    with transaction(session_factory) as session:
        user = users.ensure_admin(session, "root")
        _row, key = api_keys.create(session, user, "admin")
    return Account(user=user, key=key)


def owned(factory: sessionmaker[Session], user_id: int) -> dict[str, int]:
    with factory() as session:
        return {
            model.__name__: session.scalar(
                select(func.count()).select_from(model).where(model.owner_id == user_id)
            )
            or 0
            for model in (Dataset, Evaluator, Job)
        }


def test_deleting_a_user_removes_their_rows_and_files_and_no_one_elses(
    client: TestClient,
    settings: Settings,
    session_factory: sessionmaker[Session],
    admin: Account,
    alice: Account,
    bob: Account,
) -> None:
    baseline = server_files(settings)
    job = give_everything(client, settings, session_factory, alice)
    alices = server_files(settings) - baseline
    assert upload(client, bob, rows_bytes(2)).status_code == 201
    bobs = server_files(settings) - baseline - alices
    # dataset (rows + index), checkpoint, merged export, job folder, deployment adapter copy
    assert len(alices) == 6 and len(bobs) == 2
    stopper = stop_when_cancelled(session_factory, job.id)  # the job is running: cancelled first
    answer = client.delete(f"/api/v1/users/{alice.user.id}", headers=admin.headers)
    stopper.join(timeout=60)
    assert answer.status_code == 204, answer.text
    assert server_files(settings) == baseline | bobs
    assert owned(session_factory, alice.user.id) == {"Dataset": 0, "Evaluator": 0, "Job": 0}
    assert client.get("/api/v1/datasets", headers=alice.headers).status_code == 401
    assert client.get("/api/v1/datasets", headers=bob.headers).json()["count"] == 1


def test_only_an_admin_may_delete_a_user(
    client: TestClient, session_factory: sessionmaker[Session], alice: Account, bob: Account
) -> None:
    answer = client.delete(f"/api/v1/users/{bob.user.id}", headers=alice.headers)
    assert answer.status_code == 403
    assert answer.json()["detail"] == "Only an admin can do this"
    with session_factory() as session:
        assert session.get(User, bob.user.id) is not None


def test_an_unknown_user_is_404(client: TestClient, admin: Account) -> None:
    answer = client.delete("/api/v1/users/999999", headers=admin.headers)
    assert answer.status_code == 404
    assert answer.json()["detail"] == "User 999999 not found"


def test_the_last_admin_cannot_be_deleted(client: TestClient, admin: Account) -> None:
    answer = client.delete(f"/api/v1/users/{admin.user.id}", headers=admin.headers)
    assert answer.status_code == 409
    assert "last admin" in answer.json()["detail"]
    assert client.get("/api/v1/datasets", headers=admin.headers).status_code == 200


def test_a_job_that_does_not_stop_in_time_is_named_and_the_user_kept(
    client: TestClient,
    settings: Settings,
    session_factory: sessionmaker[Session],
    admin: Account,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(users_route, "STOP_WAIT_S", 0.5)
    job = give_everything(client, settings, session_factory, alice)
    files = server_files(settings)
    answer = client.delete(f"/api/v1/users/{alice.user.id}", headers=admin.headers)
    assert answer.status_code == 409
    assert answer.json()["errors"] == [
        {"field": "jobs", "message": f"job {job.id} is still running"}
    ]
    assert server_files(settings) == files
    with session_factory() as session:
        assert session.get(Job, job.id).cancel_requested  # type: ignore[union-attr]
    stop_when_cancelled(session_factory, job.id).join(timeout=60)  # its worker stops it
    again = client.delete(f"/api/v1/users/{alice.user.id}", headers=admin.headers)
    assert again.status_code == 204, again.text


def test_a_job_whose_worker_is_gone_is_cancelled_at_once(
    client: TestClient,
    settings: Settings,
    session_factory: sessionmaker[Session],
    admin: Account,
    alice: Account,
) -> None:
    job = give_everything(client, settings, session_factory, alice)
    with transaction(session_factory) as session:
        session.get(Job, job.id).heartbeat_at = utcnow() - timedelta(minutes=10)  # type: ignore[union-attr]
    answer = client.delete(f"/api/v1/users/{alice.user.id}", headers=admin.headers)
    assert answer.status_code == 204, answer.text
