"""Every id, offset and limit is bounded (issue 11, finding 7: ids >= 2^63 gave 500 on 26
operations). Walks the OpenAPI document, so a new route is covered without a new test."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

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


def test_ids_past_64_bits_are_422_naming_the_field(client: TestClient, alice: Account) -> None:
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
