from __future__ import annotations

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.conftest import Account


class TestHealthz:
    def test_ok_without_credentials(self, client: TestClient) -> None:
        response = client.get("/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["database"]["ok"] and body["broker"]["ok"]

    def test_answers_while_every_pooled_connection_is_taken(self, client: TestClient) -> None:
        """Busy requests hold all of the app's pooled connections: /healthz still says ok, from
        a connection of its own (it used to wait for the pool, then answer 503)."""
        pool = client.app.state.engine.pool  # type: ignore[attr-defined]
        capacity = pool.size() + pool._max_overflow
        held = [client.app.state.engine.connect() for _ in range(capacity)]  # type: ignore[attr-defined]
        try:
            response = client.get("/healthz")
        finally:
            for connection in held:
                connection.close()
        assert response.status_code == 200
        assert response.json()["database"]["ok"]

    def test_unreachable_broker_is_503(self, settings: Settings) -> None:
        broken = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
        app = create_app(broken)
        with TestClient(app) as client:
            response = client.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["database"]["ok"] and not body["broker"]["ok"]

    def test_unreachable_database_is_503(self, settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
        missing = tmp_path / "no" / "such" / "dir" / "db.sqlite"
        broken = settings.model_copy(update={"database_url": f"sqlite:///{missing}"})
        with TestClient(create_app(broken)) as client:
            response = client.get("/healthz")
        assert response.status_code == 503
        assert not response.json()["database"]["ok"]


class TestPingWorkers:
    def test_no_worker_is_503_naming_the_queue(self, client: TestClient, alice: Account) -> None:
        response = client.post("/api/v1/system/ping?queue=cpu&timeout=0.5", headers=alice.headers)
        assert response.status_code == 503
        assert response.json()["detail"] == "No worker answered on queue 'cpu' within 0.5 s"

    def test_unknown_queue_is_422(self, client: TestClient, alice: Account) -> None:
        response = client.post("/api/v1/system/ping?queue=tpu", headers=alice.headers)
        assert response.status_code == 422
        assert response.json()["errors"] == [{"field": "queue", "message": "unknown queue 'tpu'"}]
