"""Finding 8: security headers, the Origin check on cookie requests, the API key cap."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.main import create_app
from tests.conftest import Account
from tests.web.test_pages import sign_in


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    for url in ("/healthz", "/login", "/api/v1/me", "/static/css/app.css"):
        headers = client.get(url).headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "worker-src 'self' blob:" in csp


def test_cookie_writes_from_another_site_are_refused(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    csrf = sign_in(client, session_factory)
    body = {"name": "from-evil", "code": "def evaluate(messages, **kw):\n    return 1.0\n"}
    headers = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    response = client.post("/api/v1/evaluators", json=body, headers=headers)
    assert response.status_code == 403
    assert response.json()["errors"] == [
        {"field": "Origin", "message": "request from another site (https://evil.example) refused"}
    ]
    same_site = {"X-CSRF-Token": csrf, "Origin": "http://testserver"}
    assert client.post("/api/v1/evaluators", json=body, headers=same_site).status_code == 201


def test_bearer_clients_are_not_origin_checked(client: TestClient, alice: Account) -> None:
    headers = {**alice.headers, "Origin": "https://elsewhere.example"}
    response = client.post("/api/v1/keys", json={"name": "ci"}, headers=headers)
    assert response.status_code == 201


def test_api_keys_are_capped_per_user(
    settings: Settings, session_factory: sessionmaker[Session], alice: Account
) -> None:
    app = create_app(settings.model_copy(update={"api_keys_per_user": 3}))
    with TestClient(app) as client:
        codes = [
            client.post("/api/v1/keys", json={"name": f"k{i}"}, headers=alice.headers).status_code
            for i in range(3)
        ]
        refused = client.post("/api/v1/keys", json={"name": "one-too-many"}, headers=alice.headers)
    app.state.engine.dispose()
    assert codes == [201, 201, 409]  # alice already had one key
    assert refused.status_code == 409
    assert "at most 3 API keys per user" in refused.json()["errors"][0]["message"]
