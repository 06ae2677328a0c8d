"""Datasets through HTTP: streamed upload and its limits, reads, splits, one user per dataset."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.main import create_app
from tests.conftest import Account
from tests.datasets_support import (
    BOUNDARY,
    MULTIPART,
    assert_nothing_stored,
    leftovers,
    multipart,
    rows_bytes,
    upload,
)


@pytest.fixture
def small_app(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[FastAPI]:
    """The app with a 4 KiB upload limit."""
    app = create_app(settings.model_copy(update={"max_upload_bytes": 4096}))
    yield app
    app.state.engine.dispose()


@pytest.fixture
def dataset(client: TestClient, alice: Account) -> dict[str, Any]:
    response = upload(client, alice, rows_bytes(45), name="adds")
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


class TestAuthentication:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/api/v1/datasets"),
            ("GET", "/api/v1/datasets"),
            ("GET", "/api/v1/datasets/1"),
            ("GET", "/api/v1/datasets/1/rows"),
            ("POST", "/api/v1/datasets/1/split"),
            ("DELETE", "/api/v1/datasets/1"),
        ],
    )
    def test_every_route_needs_credentials(
        self, client: TestClient, method: str, path: str
    ) -> None:
        response = client.request(method, path)
        assert response.status_code == 401

    @pytest.mark.parametrize(
        ("method", "suffix"),
        [("GET", ""), ("GET", "/rows"), ("POST", "/split"), ("DELETE", "")],
    )
    def test_other_users_dataset_is_not_found(
        self,
        client: TestClient,
        dataset: dict[str, Any],
        bob: Account,
        alice: Account,
        method: str,
        suffix: str,
    ) -> None:
        path = f"/api/v1/datasets/{dataset['id']}{suffix}"
        body = {"validation_percent": 10} if suffix == "/split" else None
        response = client.request(method, path, json=body, headers=bob.headers)
        assert response.status_code == 404
        assert response.json() == {"detail": f"Dataset {dataset['id']} not found", "errors": []}
        assert client.get(f"/api/v1/datasets/{dataset['id']}", headers=alice.headers).is_success


class TestUpload:
    def test_creates_the_dataset_with_its_metadata(self, dataset: dict[str, Any]) -> None:
        assert (dataset["name"], dataset["format"], dataset["row_count"]) == (
            "adds",
            "messages",
            45,
        )
        meta = dataset["metadata"]
        assert meta["filename"] == "gsm8k.jsonl" and meta["rows_with_answer"] == 45
        assert {f["name"]: list(f["types"]) for f in meta["fields"]} == {
            "messages": ["array"],
            "ground_truth": ["integer"],
            "nums": ["array"],
            "extra": ["object"],
        }
        assert meta["tokens"]["min"] > 0 and dataset["splits"] == []

    def test_name_defaults_to_the_file_name(self, client: TestClient, alice: Account) -> None:
        assert upload(client, alice, rows_bytes(1)).json()["name"] == "gsm8k"

    def test_each_problem_is_reported_with_its_line(
        self, client: TestClient, alice: Account, session_factory, settings
    ) -> None:  # type: ignore[no-untyped-def]
        bad = rows_bytes(2) + b"\n" + b'{"messages": [{"role": "robot", "content": "x"}]}\n'
        bad += b"not json\n" + b'{"prompt": "mixed"}\n'
        response = upload(client, alice, bad)
        assert response.status_code == 422
        assert response.json() == {
            "detail": "Invalid dataset",
            "errors": [
                {
                    "line": 4,
                    "message": "messages[0].role: unknown role 'robot' (use system, user, "
                    "assistant or tool)",
                },
                {"line": 5, "message": "invalid JSON: invalid character (column 5)"},
                {
                    "line": 6,
                    "message": "prompt row in a messages file (line 1 set the format): use "
                    "one format per file",
                },
            ],
        }
        assert_nothing_stored(session_factory, settings)

    def test_more_than_a_hundred_errors_are_counted(
        self, client: TestClient, alice: Account
    ) -> None:
        errors = upload(client, alice, b"[]\n" * 2445).json()["errors"]
        assert len(errors) == 101 and errors[99]["line"] == 100
        assert errors[-1] == {"message": "… and 2,345 more errors"}

    def test_form_fields_are_checked(self, client: TestClient, alice: Account) -> None:
        response = upload(client, alice, rows_bytes(3), colour="red", seed="-1")
        assert response.status_code == 422
        assert {e["field"]: e["message"] for e in response.json()["errors"]} == {
            "seed": "Input should be greater than or equal to 0",
            "colour": "unknown field",
        }

    def test_file_is_required(self, client: TestClient, alice: Account) -> None:
        body = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n'
        body += f"--{BOUNDARY}--\r\n"
        response = client.post(
            "/api/v1/datasets", content=body, headers={**alice.headers, **MULTIPART}
        )
        assert response.status_code == 422
        assert response.json()["errors"] == [{"field": "file", "message": "Field required"}]

    def test_malformed_multipart_is_refused(
        self, client: TestClient, alice: Account, session_factory, settings
    ) -> None:  # type: ignore[no-untyped-def]
        body = f"--{BOUNDARY}\r\nno colon in this header\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
        headers = {**alice.headers, **MULTIPART}
        response = client.post("/api/v1/datasets", content=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["message"] == "malformed multipart body"
        assert_nothing_stored(session_factory, settings)

    def test_json_body_is_refused(self, client: TestClient, alice: Account) -> None:
        response = client.post("/api/v1/datasets", json={"name": "x"}, headers=alice.headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "file"

    def test_validation_split_at_upload(self, client: TestClient, alice: Account) -> None:
        body = upload(client, alice, rows_bytes(40), validation_percent="25", seed="3").json()
        splits = {s["split"]: s for s in body["splits"]}
        assert (splits["train"]["row_count"], splits["validation"]["row_count"]) == (30, 10)
        train = client.get(f"/api/v1/datasets/{splits['train']['id']}", headers=alice.headers)
        assert train.json()["validation_dataset_id"] == splits["validation"]["id"]
        assert train.json()["metadata"]["split"] == {"validation_percent": 25.0, "seed": 3}


class TestUploadLimits:
    def test_declared_size_over_the_limit_is_413_at_once(
        self, small_app: FastAPI, alice: Account, session_factory, settings
    ) -> None:  # type: ignore[no-untyped-def]
        with TestClient(small_app) as client:
            response = upload(client, alice, rows_bytes(100))
        assert response.status_code == 413
        assert response.json()["detail"] == (
            "The file is larger than the upload limit of 4 KiB (4,096 bytes)"
        )
        assert_nothing_stored(session_factory, settings)

    def test_streamed_size_over_the_limit_is_413(
        self, small_app: FastAPI, alice: Account, session_factory, settings
    ) -> None:  # type: ignore[no-untyped-def]
        body = multipart(rows_bytes(100))

        def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
            yield from (body[i : i + 1000] for i in range(0, len(body), 1000))

        with TestClient(small_app) as client:
            response = client.post(
                "/api/v1/datasets", content=chunks(), headers={**alice.headers, **MULTIPART}
            )
        assert response.status_code == 413
        assert_nothing_stored(session_factory, settings)

    def test_body_cut_off_before_the_end_stores_nothing(
        self, client: TestClient, alice: Account, session_factory, settings
    ) -> None:  # type: ignore[no-untyped-def]
        body = multipart(rows_bytes(20000), close=False)  # ~4 MB, several blocks on disk
        response = client.post(
            "/api/v1/datasets", content=body, headers={**alice.headers, **MULTIPART}
        )
        assert response.status_code == 422
        assert response.json()["detail"].startswith("Upload interrupted")
        assert_nothing_stored(session_factory, settings)

    def test_client_gone_mid_upload_stores_nothing(
        self, client: TestClient, alice: Account, session_factory, settings
    ) -> None:  # type: ignore[no-untyped-def]
        body = multipart(rows_bytes(20000))
        messages = [
            {"type": "http.request", "body": body[:3_000_000], "more_body": True},
            {"type": "http.disconnect"},
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        headers = [
            (k.lower().encode(), v.encode()) for k, v in {**alice.headers, **MULTIPART}.items()
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/datasets",
            "raw_path": b"/api/v1/datasets",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
        assert sent[0]["status"] == 422
        assert b"Upload interrupted" in sent[1]["body"]
        assert_nothing_stored(session_factory, settings)

    def test_failed_commit_leaves_no_file(
        self, client: TestClient, alice: Account, session_factory, settings
    ) -> None:  # type: ignore[no-untyped-def]
        factory = client.app.state.session_factory  # type: ignore[attr-defined]

        def refuse(_session: Session) -> None:
            raise RuntimeError("database went away")

        event.listen(factory, "before_commit", refuse)
        try:
            with TestClient(client.app, raise_server_exceptions=False) as failing:
                response = upload(failing, alice, rows_bytes(10), validation_percent="10")
        finally:
            event.remove(factory, "before_commit", refuse)
        assert response.status_code == 500
        assert_nothing_stored(session_factory, settings)


class TestListDatasets:
    def test_lists_only_own_datasets(
        self, client: TestClient, dataset: dict[str, Any], alice: Account, bob: Account
    ) -> None:
        upload(client, bob, rows_bytes(2), name="bobs")
        body = client.get("/api/v1/datasets", headers=alice.headers).json()
        assert body["count"] == 1 and [d["name"] for d in body["data"]] == ["adds"]

    def test_paging(self, client: TestClient, alice: Account) -> None:
        for name in ("a", "b", "c"):
            upload(client, alice, rows_bytes(1), name=name)
        body = client.get("/api/v1/datasets?offset=1&limit=1", headers=alice.headers).json()
        assert body["count"] == 3 and [d["name"] for d in body["data"]] == ["b"]


class TestReadDataset:
    def test_reads_own_dataset(
        self, client: TestClient, dataset: dict[str, Any], alice: Account
    ) -> None:
        response = client.get(f"/api/v1/datasets/{dataset['id']}", headers=alice.headers)
        assert response.json() == dataset


class TestReadRows:
    def test_pages_through_rows_with_their_types(
        self, client: TestClient, dataset: dict[str, Any], alice: Account
    ) -> None:
        path = f"/api/v1/datasets/{dataset['id']}/rows"
        body = client.get(f"{path}?offset=40&limit=10", headers=alice.headers).json()
        assert body["count"] == 45 and [r["index"] for r in body["data"]] == [40, 41, 42, 43, 44]
        assert body["data"][0]["row"] == json.loads(rows_bytes(1, start=40))
        assert body["data"][0]["tokens"] > 0
        beyond = client.get(f"{path}?offset=45", headers=alice.headers).json()
        assert beyond == {"data": [], "count": 45}

    @pytest.mark.parametrize(
        ("query", "field"), [("offset=-1", "offset"), ("limit=1001", "limit"), ("limit=0", "limit")]
    )
    def test_bad_page_names_the_field(
        self, client: TestClient, dataset: dict[str, Any], alice: Account, query: str, field: str
    ) -> None:
        path = f"/api/v1/datasets/{dataset['id']}/rows?{query}"
        response = client.get(path, headers=alice.headers)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]


class TestSplitDataset:
    def test_creates_train_and_validation(
        self, client: TestClient, dataset: dict[str, Any], alice: Account
    ) -> None:
        path = f"/api/v1/datasets/{dataset['id']}/split"
        response = client.post(
            path, json={"validation_percent": 20, "seed": 5}, headers=alice.headers
        )
        assert response.status_code == 201
        train, validation = response.json()["train"], response.json()["validation"]
        assert (train["row_count"], validation["row_count"]) == (36, 9)
        assert train["split_of_id"] == validation["split_of_id"] == dataset["id"]
        again = client.post(path, json={"validation_percent": 20, "seed": 5}, headers=alice.headers)
        assert again.status_code == 409

    def test_bad_body_names_the_field(
        self, client: TestClient, dataset: dict[str, Any], alice: Account
    ) -> None:
        path = f"/api/v1/datasets/{dataset['id']}/split"
        response = client.post(
            path, json={"validation_percent": 100, "x": 1}, headers=alice.headers
        )
        assert response.status_code == 422
        assert {e["field"] for e in response.json()["errors"]} == {"validation_percent", "x"}


class TestDeleteDataset:
    def test_deletes_rows_and_files(
        self, client: TestClient, dataset: dict[str, Any], alice: Account, session_factory, settings
    ) -> None:  # type: ignore[no-untyped-def]
        response = client.delete(f"/api/v1/datasets/{dataset['id']}", headers=alice.headers)
        assert response.status_code == 204
        assert (
            client.get(f"/api/v1/datasets/{dataset['id']}", headers=alice.headers).status_code
            == 404
        )
        assert_nothing_stored(session_factory, settings)

    def test_bob_cannot_delete_alices_files(
        self, client: TestClient, dataset: dict[str, Any], bob: Account, settings: Settings
    ) -> None:
        assert (
            client.delete(f"/api/v1/datasets/{dataset['id']}", headers=bob.headers).status_code
            == 404
        )
        assert len(leftovers(settings)) == 2
