"""Which isolation evaluator code gets is visible (/healthz, every page), and without
bubblewrap nothing runs unless the operator opted in (issue 11, finding 1)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.evaluators.sandbox import bwrap_usable
from app.main import create_app
from tests.conftest import Account
from tests.datasets_support import rows_bytes, upload
from tests.web.test_pages import sign_in


@pytest.fixture
def no_bubblewrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host without bubblewrap: `bwrap` is not on the PATH."""
    monkeypatch.setenv("PATH", "/nonexistent")
    assert shutil.which("bwrap") is None


@pytest.fixture
def strict_client(
    settings: Settings,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    no_bubblewrap: None,
) -> Iterator[TestClient]:
    """The app as an operator who did not opt in to running without a sandbox has it."""
    monkeypatch.delenv("RFT_UNSAFE_NO_SANDBOX", raising=False)
    app = create_app(settings.model_copy(update={"unsafe_no_sandbox": False}))
    with TestClient(app) as client:
        yield client
    app.state.evaluator_pool.close()
    app.state.engine.dispose()


def test_healthz_says_which_isolation_is_in_force(client: TestClient) -> None:
    expected = "bubblewrap" if bwrap_usable(shutil.which("bwrap")) else "rlimits-only"
    assert client.get("/healthz").json()["isolation"] == expected  # the suite opts in


def test_without_bubblewrap_and_without_opt_in_evaluators_do_not_run(
    strict_client: TestClient, alice: Account
) -> None:
    assert strict_client.get("/healthz").json()["isolation"] == "disabled"
    dataset = upload(strict_client, alice, rows_bytes(2)).json()["id"]
    body = {"code": "def evaluate(messages, **kw):\n    return 1.0\n", "dataset_id": dataset}
    response = strict_client.post("/api/v1/evaluators/preview", json=body, headers=alice.headers)
    assert response.status_code == 503
    assert "RFT_UNSAFE_NO_SANDBOX=true" in response.json()["detail"]


def test_pages_show_the_unsafe_mode(
    client: TestClient, session_factory: sessionmaker[Session], no_bubblewrap: None
) -> None:
    sign_in(client, session_factory)
    page = client.get("/evaluations").text
    assert 'data-isolation="rlimits-only"' in page
    assert "UNSAFE: no sandbox (RFT_UNSAFE_NO_SANDBOX)" in page
