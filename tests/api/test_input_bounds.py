"""Every id, offset and limit is bounded (issue 11, finding 7: ids >= 2^63 gave 500 on 26
operations). Walks the OpenAPI document, so a new route is covered without a new test."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import transaction
from app.models import User
from tests.conftest import Account

TOO_BIG = 2**63


def _operations(client: TestClient) -> list[tuple[str, str, list[str]]]:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    found = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            # Integer path parameters (ids): a name like /models/{name} is no id to bound.
            params = [
                p["name"]
                for p in operation.get("parameters", [])
                if p["in"] == "path" and p.get("schema", {}).get("type") == "integer"
            ]
            if params:
                found.append((method, path, params))
    return found


def test_ids_past_64_bits_are_422_naming_the_field(
    client: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:  # admin-only routes answer others 403 first
        session.get(User, alice.user.id).is_admin = True  # type: ignore[union-attr]
    operations = _operations(client)
    assert len(operations) >= 20
    failures = []
    for method, path, params in operations:
        url = path
        for name in params:
            url = url.replace(f"{{{name}}}", str(TOO_BIG))
        response = client.request(method.upper(), url, headers=alice.headers, json={})
        fields = {e.get("field") for e in response.json().get("errors", [])}
        if response.status_code != 422 or not fields & set(params):
            failures.append((method, path, response.status_code, response.text[:200]))
    assert failures == []


@pytest.mark.parametrize(
    "url", ["/api/v1/datasets", "/api/v1/evaluators", "/api/v1/keys", "/api/v1/jobs"]
)
def test_offsets_and_limits_are_bounded(client: TestClient, alice: Account, url: str) -> None:
    for query, field in ((f"offset={TOO_BIG}", "offset"), ("limit=100000", "limit")):
        response = client.get(f"{url}?{query}", headers=alice.headers)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_ids_in_bodies_are_bounded(client: TestClient, alice: Account) -> None:
    body = {"code": "def evaluate(messages, **kw):\n    return 1.0\n", "dataset_id": TOO_BIG}
    response = client.post("/api/v1/evaluators/preview", json=body, headers=alice.headers)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["dataset_id"]


# A NUL character (issue 11, found by schemathesis on PostgreSQL in CI: `model: "a\u0000b"` on
# /v1/completions gave a 500): PostgreSQL refuses it in text and JSON. Tried: a key name, a
# nested job field, an OpenAI model name in a body and in the path, a fine-tuning suffix.
def test_nul_characters_in_bodies_are_422_naming_the_field(
    client: TestClient, alice: Account
) -> None:
    response = client.post("/api/v1/keys", json={"name": "ci\x00key"}, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert "name: contains a NUL character" in response.json()["errors"][0]["message"]
    body = {
        "base_model": "demo",
        "dataset_id": 1,
        "evaluators": [{"id": 1}, {"id": 2, "components": {"ok": 1, "b\x00d": 2}}],
    }
    response = client.post("/api/v1/jobs", json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    message = response.json()["errors"][0]["message"]
    assert message.startswith("evaluators.1.components.b\\u0000d: contains a NUL character")


def test_nul_characters_on_openai_routes_are_client_errors(
    client: TestClient, alice: Account
) -> None:
    body = {"model": "ft:x\x00y", "prompt": "hi", "max_tokens": 2}
    for url in ("/v1/completions", "/v1/chat/completions"):
        sent = dict(body, messages=[{"role": "user", "content": "hi"}])
        response = client.post(url, json=sent, headers=alice.headers)
        assert response.status_code in (400, 404), response.text
        assert response.json()["error"]["type"] == "invalid_request_error"
    response = client.get("/v1/models/a%00b", headers=alice.headers)
    assert response.status_code in (400, 404), response.text
    job = {"model": "demo", "training_file": "file-1", "suffix": "a\x00"}
    response = client.post("/v1/fine_tuning/jobs", json=job, headers=alice.headers)
    assert response.status_code == 400, response.text
    assert "suffix: contains a NUL character" in response.json()["error"]["message"]


def test_a_single_valued_query_parameter_given_twice_is_refused(
    client: TestClient, alice: Account
) -> None:
    """FastAPI would keep the last value silently (schemathesis' negative cases found it)."""
    twice = client.get("/api/v1/datasets?limit=5&limit=6", headers=alice.headers)
    assert twice.status_code == 422
    assert twice.json()["errors"] == [
        {"field": "limit", "message": "given more than once: send one value"}
    ]
    openai = client.get("/v1/files?purpose=a&purpose=b", headers=alice.headers)
    assert openai.status_code == 400
    assert openai.json()["error"]["param"] == "purpose"
    # a list parameter still takes several values (here: refused for naming an unknown queue)
    queues = client.post("/api/v1/system/ping?queue=tpu&queue=gpu", headers=alice.headers)
    assert queues.json()["errors"] == [{"field": "queue", "message": "unknown queue 'tpu'"}]


def test_a_body_that_is_not_utf8_is_422_naming_the_body(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/v1/evaluators",
        content=b'{"name": "\xff\xfe"}',
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "body", "message": "not readable as JSON: send UTF-8 encoded JSON"}
    ]
