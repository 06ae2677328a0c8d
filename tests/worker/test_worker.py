"""`rft worker` as a separate process (a worker host): tasks sent by the web app reach it."""

from __future__ import annotations

import signal

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.tasks import QUEUES, ROUTES
from tests.conftest import Account
from tests.helpers import start_rft
from worker.celery_app import make_celery

pytestmark = pytest.mark.embedded


def test_separate_worker_answers_both_queues(
    client: TestClient, alice: Account, server_env: dict[str, str]
) -> None:
    worker = start_rft(["worker", "--queues", "gpu,cpu"], server_env)
    try:
        response = client.post("/api/v1/system/ping?timeout=60", headers=alice.headers)
        assert response.status_code == 200, response.text
        assert sorted(p["queue"] for p in response.json()["data"]) == ["cpu", "gpu"]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)


def test_cpu_only_worker_leaves_gpu_queue_unanswered(
    client: TestClient, alice: Account, server_env: dict[str, str]
) -> None:
    worker = start_rft(["worker", "--queues", "cpu"], server_env)
    try:
        cpu = client.post("/api/v1/system/ping?queue=cpu&timeout=60", headers=alice.headers)
        assert cpu.status_code == 200
        gpu = client.post("/api/v1/system/ping?queue=gpu&timeout=1", headers=alice.headers)
        assert gpu.status_code == 503
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)


def test_celery_is_configured_for_database_side_recovery(settings: Settings) -> None:
    conf = make_celery(settings).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert {q.name for q in conf.task_queues} == set(QUEUES)
    assert ROUTES["rft.ping.gpu"] == {"queue": "gpu"}
