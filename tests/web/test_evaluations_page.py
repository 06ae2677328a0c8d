"""The Evaluations page over HTTP: the IDE shell with its boot data, opening a saved evaluator,
sign-in redirects, and the warm-up of the user's sandboxed workers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import transaction
from app.services import evaluators, users
from tests.datasets_support import rows_bytes
from tests.web.test_pages import sign_in

CODE = "def evaluate(messages, **kwargs):\n    return 1.0\n"


@pytest.fixture
def csrf(client: TestClient, session_factory: sessionmaker[Session]) -> str:
    return sign_in(client, session_factory, "alice")


def boot(page: str) -> Any:
    match = re.search(r'<script type="application/json" id="ide-boot">(.*?)</script>', page, re.S)
    assert match, "the page carries its boot data"
    return json.loads(match.group(1))  # as the browser reads it: no HTML unescaping


def make_evaluator(factory: sessionmaker[Session], owner: str, name: str) -> int:
    with transaction(factory) as session:
        row = evaluators.create(session, users.get_or_create(session, owner), name, CODE, "first")
        return row.id


class TestPage:
    def test_renders_the_ide_for_a_signed_in_user(self, client: TestClient, csrf: str) -> None:
        client.post(
            "/api/v1/datasets",
            files={"file": ("adds.jsonl", rows_bytes(3), "application/jsonl")},
            headers={"X-CSRF-Token": csrf},
        )
        response = client.get("/evaluations")
        assert response.status_code == 200
        page = response.text
        assert 'aria-current="page">Evaluations</a>' in page
        assert f'data-csrf="{csrf}"' in page
        assert "/static/vendor/monaco-editor-0.57.0/monaco.js" in page
        assert "/static/vendor/monaco-editor-0.57.0/monaco.css" in page
        assert "/static/js/evaluations.js" in page
        data = boot(page)
        assert data["evaluator"] is None and data["evaluators"] == []
        assert [d["name"] for d in data["datasets"]] == ["adds"]
        assert data["datasets"][0]["row_count"] == 3
        assert data["templates"][0]["slug"] == "math_answer"  # the default template first
        assert "def " in data["templates"][0]["code"]

    def test_opens_a_saved_evaluator(
        self, client: TestClient, csrf: str, session_factory: sessionmaker[Session]
    ) -> None:
        ident = make_evaluator(session_factory, "alice", "exact <sum>")
        page = client.get(f"/evaluations?evaluator={ident}").text
        assert "<title>exact &lt;sum&gt; · RFT Studio</title>" in page
        data = boot(page)
        assert data["evaluator"]["id"] == ident and data["evaluator"]["code"] == CODE
        assert data["evaluator"]["latest_version"] == 1
        assert data["evaluators"] == [{"id": ident, "name": "exact <sum>", "latest_version": 1}]
        script = page.split('id="ide-boot">', 1)[1].split("</script>", 1)[0]
        assert "<sum>" not in script  # "<" is escaped inside the script element

    def test_another_users_evaluator_is_not_found(
        self, client: TestClient, csrf: str, session_factory: sessionmaker[Session]
    ) -> None:
        theirs = make_evaluator(session_factory, "bob", "bobs")
        response = client.get(f"/evaluations?evaluator={theirs}")
        assert response.status_code == 404
        assert f"Evaluator {theirs} not found" in response.text and "<nav" in response.text

    def test_signed_out_is_sent_to_sign_in(self, client: TestClient) -> None:
        response = client.get("/evaluations", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/evaluations"

    def test_static_files_are_served(self, client: TestClient) -> None:
        for path in (
            "/static/js/evaluations.js",
            "/static/js/evaluations-run.js",
            "/static/js/evaluations-panels.js",
            "/static/vendor/monaco-editor-0.57.0/editor.worker.js",
            "/static/vendor/monaco-editor-0.57.0/codicon.ttf",
        ):
            assert client.get(path).status_code == 200, path


class TestWarm:
    def test_needs_the_csrf_token(self, client: TestClient, csrf: str) -> None:
        assert client.post("/evaluations/warm").status_code == 403

    def test_starts_the_users_workers(self, client: TestClient, csrf: str) -> None:
        response = client.post("/evaluations/warm", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 204
        pool = client.app.state.evaluator_pool  # type: ignore[attr-defined]
        assert pool.started
        assert pool.get().worker_info()  # a worker is up and said hello
