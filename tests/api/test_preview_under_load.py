"""Previews under concurrent use (issue 11, findings 4 and 5): no database connection held
while evaluators run, a fair share per user, and a client that leaves stops its run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.main import create_app
from tests.conftest import Account
from tests.helpers import free_port

SLEEPY = "import time\n\ndef evaluate(messages, **kw):\n    time.sleep(SECONDS)\n    return 1.0\n"


@dataclass
class Server:
    url: str
    app: FastAPI


@pytest.fixture
def server(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[Server]:
    """The real app under uvicorn, with a preview pool of 2 workers (1 per user) and a small
    database connection pool: 20 concurrent previews used to exhaust it."""
    port = free_port()
    tuned = settings.model_copy(
        update={
            "port": port,
            "evaluator_preview_workers": 2,
            "evaluator_preview_workers_per_user": 1,
            "evaluator_timeout_seconds": 120.0,
        }
    )
    app = create_app(tuned)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    _until(lambda: runner.started, "the server to start")
    yield Server(f"http://127.0.0.1:{port}", app)
    runner.should_exit = True
    thread.join(timeout=30)
    app.state.engine.dispose()


def _until(condition: Any, what: str, limit_s: float = 60.0) -> None:
    """Wait for `condition` (a hang guard, not a speed target)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _dataset(url: str, account: Account, rows: int = 2) -> int:
    from tests.datasets_support import rows_bytes

    files = {"file": ("rows.jsonl", rows_bytes(rows), "application/jsonl")}
    response = httpx.post(f"{url}/api/v1/datasets", files=files, headers=account.headers)
    assert response.status_code == 201, response.text
    ident: int = response.json()["id"]
    return ident


def test_concurrent_previews_keep_the_server_answering(
    server: Server, alice: Account, bob: Account
) -> None:
    sets = {name: _dataset(server.url, acc) for name, acc in (("alice", alice), ("bob", bob))}
    code = SLEEPY.replace("SECONDS", "0.3")
    outcomes: list[int] = []
    lock = threading.Lock()

    def preview(account: Account, dataset: int) -> None:
        body = {"code": code, "dataset_id": dataset, "limit": 2}
        response = httpx.post(
            f"{server.url}/api/v1/evaluators/preview",
            json=body,
            headers=account.headers,
            timeout=300,
        )
        with lock:
            outcomes.append(response.status_code)

    threads = [
        threading.Thread(target=preview, args=(acc, sets[name]))
        for _ in range(12)
        for name, acc in (("alice", alice), ("bob", bob))
    ]
    for thread in threads:
        thread.start()
    # While 24 previews queue for 2 workers: health answers, and another user's write (a
    # new evaluator) goes through instead of waiting behind an evaluation.
    health = [httpx.get(f"{server.url}/healthz", timeout=30) for _ in range(5)]
    created = httpx.post(
        f"{server.url}/api/v1/evaluators",
        json={"name": "during-load", "code": "def evaluate(messages, **kw):\n    return 1.0\n"},
        headers=bob.headers,
        timeout=30,
    )
    for thread in threads:
        thread.join(timeout=300)
    assert [r.status_code for r in health] == [200] * 5
    assert created.status_code == 201, created.text
    assert outcomes == [200] * 24


def test_a_client_that_leaves_stops_its_preview(server: Server, alice: Account) -> None:
    dataset = _dataset(server.url, alice, rows=4)
    body = {"code": SLEEPY.replace("SECONDS", "100"), "dataset_id": dataset}
    shared = server.app.state.evaluator_pool

    def stopped() -> bool:  # the rows sleep 100 s each: workers return only if the run stopped
        pool = shared.get()
        return not pool._held and not pool._wanting

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{server.url}/api/v1/evaluators/preview", json=body, headers=alice.headers, timeout=2
        )
    _until(stopped, "the preview to stop")
    stream_url = f"{server.url}/api/v1/evaluators/preview/stream"
    with httpx.stream("POST", stream_url, json=body, headers=alice.headers, timeout=30) as answer:
        assert next(answer.iter_text()).startswith(":")  # rows are running; then we leave
    _until(stopped, "the streamed preview to stop")
