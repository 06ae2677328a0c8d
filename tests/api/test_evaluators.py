"""Saved evaluators through HTTP: checked code, immutable versions, restore, templates, and one
user never reaching another's evaluators."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.evaluators import check_code
from app.models import Job
from app.schemas.job_params import parse_job_request
from app.services import demo, evaluators, jobs
from tests.conftest import Account

EXACT = """def evaluate(messages, ground_truth, **kwargs):
    return 1.0 if messages[-1]["content"] == str(ground_truth) else 0.0
"""
HALF = "def evaluate(messages, **kwargs):\n    return 0.5\n"
SPEC = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
        "reference": "{{item.ground_truth}}", "operation": "eq"}  # fmt: skip


Make = Callable[..., int]


@pytest.fixture
def make(session_factory: sessionmaker[Session]) -> Make:
    """make(account, name, code) -> the id of an evaluator created through the service."""

    def create(account: Account, name: str = "exact", code: str = EXACT) -> int:
        with transaction(session_factory) as session:
            return evaluators.create(session, account.user, name, code, "first").id

    return create


def post(client: TestClient, account: Account, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/evaluators", json=body, headers=account.headers)


class TestAuthentication:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/api/v1/evaluators"),
            ("POST", "/api/v1/evaluators"),
            ("GET", "/api/v1/evaluators/templates"),
            ("POST", "/api/v1/evaluators/preview"),
            ("POST", "/api/v1/evaluators/preview/stream"),
            ("GET", "/api/v1/evaluators/1"),
            ("PUT", "/api/v1/evaluators/1"),
            ("DELETE", "/api/v1/evaluators/1"),
            ("GET", "/api/v1/evaluators/1/versions"),
            ("GET", "/api/v1/evaluators/1/versions/1"),
            ("POST", "/api/v1/evaluators/1/versions/1/restore"),
        ],
    )
    def test_every_route_needs_credentials(
        self, client: TestClient, method: str, path: str
    ) -> None:
        response = client.request(method, path)
        assert response.status_code == 401
        assert response.json() == {"detail": "Not authenticated", "errors": []}


class TestCreateEvaluator:
    def test_returns_the_checked_evaluator(self, client: TestClient, alice: Account) -> None:
        response = post(client, alice, {"name": " exact ", "code": EXACT, "note": "hi"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["name"] == "exact" and body["latest_version"] == 1
        assert body["code"] == EXACT and body["note"] == "hi"
        assert (body["kind"], body["entry_point"], body["needs_network"]) == (
            "evaluate",
            "evaluate",
            False,
        )
        assert body["created_at"] and body["updated_at"]
        read = client.get(f"/api/v1/evaluators/{body['id']}", headers=alice.headers)
        assert read.json() == body

    def test_grader_spec_object_is_stored_as_json(self, client: TestClient, alice: Account) -> None:
        body = post(client, alice, {"name": "spec", "code": SPEC}).json()
        assert body["kind"] == "grader_spec" and body["entry_point"] == "exact"
        assert json.loads(body["code"]) == SPEC

    def test_syntax_error_names_the_line(self, client: TestClient, alice: Account) -> None:
        code = "def evaluate(messages, **kw):\n    x = 1\n    return (\n"
        response = post(client, alice, {"name": "bad", "code": code})
        assert response.status_code == 422
        body = response.json()
        assert body["detail"] == "Invalid evaluator code"
        [error] = body["errors"]
        assert error["field"] == "code" and error["line"] == 3
        assert "(line" not in error["message"]
        assert client.get("/api/v1/evaluators", headers=alice.headers).json()["count"] == 0

    def test_code_without_entry_point_is_refused(self, client: TestClient, alice: Account) -> None:
        response = post(client, alice, {"name": "none", "code": "x = 1\n"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "code"

    def test_duplicate_name_is_a_conflict(
        self, client: TestClient, alice: Account, bob: Account, make: Make
    ) -> None:
        first = make(alice)
        response = post(client, alice, {"name": "exact", "code": HALF})
        assert response.status_code == 409
        assert response.json()["errors"] == [
            {"field": "name", "message": f"already used by evaluator {first}"}
        ]
        assert post(client, bob, {"name": "exact", "code": HALF}).status_code == 201

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": "", "code": HALF}, "name"),
            ({"name": "   ", "code": HALF}, "name"),
            ({"code": HALF}, "name"),
            ({"name": "x"}, "code"),
            ({"name": "x", "code": HALF, "colour": "red"}, "colour"),
        ],
    )
    def test_bad_body_names_the_field(
        self, client: TestClient, alice: Account, body: dict[str, Any], field: str
    ) -> None:
        response = post(client, alice, body)
        assert response.status_code == 422
        assert field in [e["field"] for e in response.json()["errors"]]


class TestListEvaluators:
    def test_lists_only_own_evaluators(
        self, client: TestClient, alice: Account, bob: Account, make: Make
    ) -> None:
        make(alice, "one")
        make(alice, "two", HALF)
        make(bob, "bobs")
        body = client.get("/api/v1/evaluators", headers=alice.headers).json()
        assert body["count"] == 2
        assert [(e["name"], e["code"]) for e in body["data"]] == [("one", EXACT), ("two", HALF)]
        page = client.get("/api/v1/evaluators?offset=1&limit=1", headers=alice.headers).json()
        assert [e["name"] for e in page["data"]] == ["two"] and page["count"] == 2
        assert client.get("/api/v1/evaluators", headers=bob.headers).json()["count"] == 1


class TestReadEvaluator:
    def test_other_users_evaluator_is_not_found(
        self, client: TestClient, alice: Account, bob: Account, make: Make
    ) -> None:
        alices = make(alice)
        response = client.get(f"/api/v1/evaluators/{alices}", headers=bob.headers)
        assert response.status_code == 404
        assert response.json() == {"detail": f"Evaluator {alices} not found", "errors": []}
        assert client.get("/api/v1/evaluators/999999", headers=alice.headers).status_code == 404


class TestUpdateEvaluator:
    def put(self, client: TestClient, account: Account, ident: int, body: dict[str, Any]) -> Any:
        return client.put(f"/api/v1/evaluators/{ident}", json=body, headers=account.headers)

    def test_code_change_adds_a_version(
        self, client: TestClient, alice: Account, make: Make
    ) -> None:
        ident = make(alice)
        response = self.put(client, alice, ident, {"code": HALF, "note": "flat"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["latest_version"], body["code"], body["note"]) == (2, HALF, "flat")
        versions = client.get(f"/api/v1/evaluators/{ident}/versions", headers=alice.headers)
        assert [(v["version"], v["code"]) for v in versions.json()["data"]] == [
            (1, EXACT),
            (2, HALF),
        ]

    def test_same_code_adds_no_version(
        self, client: TestClient, alice: Account, make: Make
    ) -> None:
        ident = make(alice)
        body = self.put(client, alice, ident, {"code": EXACT, "name": "renamed"}).json()
        assert (body["latest_version"], body["name"]) == (1, "renamed")
        assert self.put(client, alice, ident, {}).json()["latest_version"] == 1

    def test_note_without_new_code_is_refused(
        self, client: TestClient, alice: Account, make: Make
    ) -> None:
        response = self.put(client, alice, make(alice), {"note": "lonely"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "note"

    def test_invalid_code_keeps_the_latest_version(
        self, client: TestClient, alice: Account, make: Make
    ) -> None:
        ident = make(alice)
        response = self.put(client, alice, ident, {"code": "def evaluate(:\n"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["line"] == 1
        read = client.get(f"/api/v1/evaluators/{ident}", headers=alice.headers).json()
        assert (read["latest_version"], read["code"]) == (1, EXACT)

    def test_rename_to_a_used_name_is_a_conflict(
        self, client: TestClient, alice: Account, make: Make
    ) -> None:
        make(alice, "taken")
        response = self.put(client, alice, make(alice, "mine"), {"name": "taken"})
        assert response.status_code == 409

    def test_other_users_evaluator_is_not_found(
        self, client: TestClient, alice: Account, bob: Account, make: Make
    ) -> None:
        ident = make(alice)
        assert self.put(client, bob, ident, {"code": HALF}).status_code == 404
        read = client.get(f"/api/v1/evaluators/{ident}", headers=alice.headers).json()
        assert read["latest_version"] == 1


class TestDeleteEvaluator:
    def test_deleted_evaluator_is_gone(
        self, client: TestClient, alice: Account, make: Make
    ) -> None:
        ident = make(alice)
        assert (
            client.delete(f"/api/v1/evaluators/{ident}", headers=alice.headers).status_code == 204
        )
        assert client.get(f"/api/v1/evaluators/{ident}", headers=alice.headers).status_code == 404
        versions = client.get(f"/api/v1/evaluators/{ident}/versions", headers=alice.headers)
        assert versions.status_code == 404

    def test_cannot_delete_other_users_evaluator(
        self, client: TestClient, alice: Account, bob: Account, make: Make
    ) -> None:
        ident = make(alice)
        assert client.delete(f"/api/v1/evaluators/{ident}", headers=bob.headers).status_code == 404
        assert client.get(f"/api/v1/evaluators/{ident}", headers=alice.headers).status_code == 200

    def test_a_job_keeps_the_code_it_pinned(
        self,
        client: TestClient,
        alice: Account,
        settings: Settings,
        session_factory: sessionmaker[Session],
    ) -> None:
        folder = settings.models_path / demo.DEMO_MODEL
        folder.mkdir(parents=True)
        config = {"architectures": ["Qwen2ForCausalLM"], "max_position_embeddings": 256}
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "tokenizer.json").write_text("{}")
        with transaction(session_factory) as session:
            resources = demo.seed(session, settings, alice.user)
            request = parse_job_request(demo.job_request(resources))
            job_id = jobs.create(session, settings, alice.user, request).id
        ident = resources.evaluator_id
        assert (
            client.delete(f"/api/v1/evaluators/{ident}", headers=alice.headers).status_code == 204
        )
        job = client.get(f"/api/v1/jobs/{job_id}", headers=alice.headers).json()
        assert [(e["id"], e["version"]) for e in job["evaluators"]] == [(ident, 1)]
        with session_factory() as session:
            pinned = session.get(Job, job_id)
            assert pinned is not None
            assert pinned.spec["evaluators"][0]["code"] == demo.EVALUATOR_CODE


class TestVersions:
    def test_lists_and_reads_versions(
        self, client: TestClient, alice: Account, bob: Account, make: Make
    ) -> None:
        ident = make(alice)
        client.put(
            f"/api/v1/evaluators/{ident}", json={"code": HALF, "note": "v2"}, headers=alice.headers
        )
        listed = client.get(f"/api/v1/evaluators/{ident}/versions", headers=alice.headers).json()
        assert listed["count"] == 2
        assert [(v["version"], v["note"]) for v in listed["data"]] == [(1, "first"), (2, "v2")]
        assert all(v["created_at"] for v in listed["data"])
        one = client.get(f"/api/v1/evaluators/{ident}/versions/1", headers=alice.headers).json()
        assert (one["version"], one["code"], one["note"]) == (1, EXACT, "first")
        missing = client.get(f"/api/v1/evaluators/{ident}/versions/3", headers=alice.headers)
        assert missing.status_code == 404
        assert missing.json()["detail"] == f"Evaluator {ident} has no version 3"
        for path in (
            f"/api/v1/evaluators/{ident}/versions",
            f"/api/v1/evaluators/{ident}/versions/1",
        ):
            assert client.get(path, headers=bob.headers).status_code == 404


class TestRestoreVersion:
    def test_restore_adds_a_version_with_the_old_code(
        self, client: TestClient, alice: Account, make: Make
    ) -> None:
        ident = make(alice)
        client.put(f"/api/v1/evaluators/{ident}", json={"code": HALF}, headers=alice.headers)
        response = client.post(
            f"/api/v1/evaluators/{ident}/versions/1/restore", headers=alice.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["latest_version"], body["code"], body["note"]) == (
            3,
            EXACT,
            "restored from v1",
        )
        versions = client.get(f"/api/v1/evaluators/{ident}/versions", headers=alice.headers)
        assert [v["code"] for v in versions.json()["data"]] == [EXACT, HALF, EXACT]

    def test_missing_or_foreign_version_is_not_found(
        self, client: TestClient, alice: Account, bob: Account, make: Make
    ) -> None:
        ident = make(alice)
        path = f"/api/v1/evaluators/{ident}/versions"
        assert client.post(f"{path}/7/restore", headers=alice.headers).status_code == 404
        assert client.post(f"{path}/1/restore", headers=bob.headers).status_code == 404
        read = client.get(f"/api/v1/evaluators/{ident}", headers=alice.headers).json()
        assert read["latest_version"] == 1


class TestTemplates:
    def test_math_template_first_and_every_template_checks(
        self, client: TestClient, alice: Account
    ) -> None:
        response = client.get("/api/v1/evaluators/templates", headers=alice.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == len(body["data"]) >= 5
        first = body["data"][0]
        assert first["slug"] == "math_answer" and "math" in first["name"].lower()
        for template in body["data"]:
            assert set(template) == {"slug", "name", "description", "code", "kind", "needs_network"}
            assert template["description"]
            entry = check_code(template["code"])
            assert (entry.kind, entry.needs_network) == (
                template["kind"],
                template["needs_network"],
            )
        assert any(t["needs_network"] for t in body["data"])  # the LLM judge
