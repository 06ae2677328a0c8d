"""The OpenAPI document is true to the answers (issue 11, finding 8): schemathesis drives
every operation with generated input and an API key; no server error, no answer that
contradicts the document, no unresolvable `$ref`."""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from tests.conftest import Account


def test_every_ref_resolves(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert refs <= set(document["components"]["schemas"])
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_or_schema_violation(
    client: TestClient, alice: Account
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: list[str] = []
    statuses: list[int] = []
    checks = schemathesis.checks
    wanted = [
        checks.not_a_server_error,
        checks.response_schema_conformance,
        checks.status_code_conformance,
        checks.content_type_conformance,
    ]
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/stream") or operation.path == "/api/v1/system/ping":
            continue  # endless or worker-bound answers: covered by their own tests
        if operation.method.upper() == "DELETE" and operation.path.startswith("/api/v1/keys"):
            continue  # would delete the key this test signs in with

        # Derandomized: the same cases on every run and machine, so CI is repeatable; a route
        # or schema change changes the cases (and a local run shows what CI will see).
        @settings(
            max_examples=8,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=alice.headers)
            statuses.append(response.status_code)
            try:
                case.validate_response(response, checks=wanted)
            except Exception as exc:
                failures.append(f"{case.method} {case.path}: {str(exc)[:300]}")

        run()
    assert failures == [], "\n".join(failures[:20])
    assert len(statuses) > 100 and 500 not in statuses
    assert {200, 201, 404} <= set(statuses)  # it reached real answers, not only refusals
    assert 401 not in statuses
