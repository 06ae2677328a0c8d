"""API keys through HTTP: auth on every route, and one user never reaching another's keys."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account


class TestAuthentication:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/api/v1/me"),
            ("GET", "/api/v1/keys"),
            ("POST", "/api/v1/keys"),
            ("GET", "/api/v1/keys/1"),
            ("DELETE", "/api/v1/keys/1"),
            ("POST", "/api/v1/system/ping"),
        ],
    )
    def test_every_api_route_needs_credentials(
        self, client: TestClient, method: str, path: str
    ) -> None:
        response = client.request(method, path)
        assert response.status_code == 401
        assert response.json() == {"detail": "Not authenticated", "errors": []}
        assert response.headers["www-authenticate"] == "Bearer"

    def test_made_up_key_is_refused(self, client: TestClient) -> None:
        response = client.get("/api/v1/me", headers={"Authorization": "Bearer rft_madeup"})
        assert response.status_code == 401
        assert response.json()["detail"] == "Invalid API key"

    def test_key_from_cli_is_accepted(self, client: TestClient, server_env: dict[str, str]) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "keys", "create", "--name", "ci", "--user", "carol"],
            env=server_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        key = done.stdout.strip()
        assert key.startswith("rft_")
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200
        assert response.json()["name"] == "carol"

    def test_cli_key_defaults_to_admin(
        self, client: TestClient, server_env: dict[str, str]
    ) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "keys", "create", "--name", "mine"],
            env=server_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        key = done.stdout.strip()
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
        assert me["name"] == "admin"
        assert me["is_admin"] is True


class TestCreateKey:
    def test_returns_the_key_once(self, client: TestClient, alice: Account) -> None:
        response = client.post("/api/v1/keys", json={"name": "laptop"}, headers=alice.headers)
        assert response.status_code == 201
        body = response.json()
        assert body["name"] == "laptop" and body["key"].startswith(body["prefix"])
        new_headers = {"Authorization": f"Bearer {body['key']}"}
        assert client.get("/api/v1/me", headers=new_headers).json()["name"] == "alice"
        listed = client.get(f"/api/v1/keys/{body['id']}", headers=alice.headers).json()
        assert "key" not in listed

    def test_unknown_field_is_named(self, client: TestClient, alice: Account) -> None:
        response = client.post(
            "/api/v1/keys", json={"name": "x", "colour": "red"}, headers=alice.headers
        )
        assert response.status_code == 422
        assert response.json()["errors"] == [{"field": "colour", "message": "unknown field"}]

    def test_empty_name_is_refused(self, client: TestClient, alice: Account) -> None:
        response = client.post("/api/v1/keys", json={"name": ""}, headers=alice.headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "name"


class TestListKeys:
    def test_lists_only_own_keys(self, client: TestClient, alice: Account, bob: Account) -> None:
        client.post("/api/v1/keys", json={"name": "second"}, headers=alice.headers)
        body = client.get("/api/v1/keys", headers=alice.headers).json()
        assert body["count"] == 2
        assert [k["name"] for k in body["data"]] == ["test", "second"]
        assert client.get("/api/v1/keys", headers=bob.headers).json()["count"] == 1


class TestReadKey:
    def test_other_users_key_is_not_found(
        self, client: TestClient, alice: Account, bob: Account
    ) -> None:
        bobs = client.get("/api/v1/keys", headers=bob.headers).json()["data"][0]["id"]
        response = client.get(f"/api/v1/keys/{bobs}", headers=alice.headers)
        assert response.status_code == 404
        assert response.json() == {"detail": f"API key {bobs} not found", "errors": []}


class TestDeleteKey:
    def test_deleted_key_stops_working(self, client: TestClient, alice: Account) -> None:
        key_id = client.get("/api/v1/keys", headers=alice.headers).json()["data"][0]["id"]
        assert client.delete(f"/api/v1/keys/{key_id}", headers=alice.headers).status_code == 204
        assert client.get("/api/v1/me", headers=alice.headers).status_code == 401

    def test_cannot_delete_other_users_key(
        self, client: TestClient, alice: Account, bob: Account
    ) -> None:
        bobs = client.get("/api/v1/keys", headers=bob.headers).json()["data"][0]["id"]
        assert client.delete(f"/api/v1/keys/{bobs}", headers=alice.headers).status_code == 404
        assert client.get("/api/v1/me", headers=bob.headers).status_code == 200
