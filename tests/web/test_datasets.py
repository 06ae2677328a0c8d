"""The Datasets pages over HTTP: list, htmx upload, errors into #flash, row paging, delete."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Account
from tests.datasets_support import rows_bytes, upload
from tests.web.test_pages import sign_in


@pytest.fixture
def csrf(client: TestClient, session_factory: sessionmaker[Session]) -> str:
    return sign_in(client, session_factory, "alice")


def htmx(csrf: str, target: str | None = None) -> dict[str, str]:
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf}
    return {**headers, "HX-Target": target} if target else headers


def page_upload(client: TestClient, csrf: str, data: bytes, **fields: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/datasets",
        files={"file": ("adds.jsonl", data, "application/jsonl")},
        data=fields,
        headers=htmx(csrf),
    )


class TestListPage:
    def test_empty_page_has_the_upload_form(self, client: TestClient, csrf: str) -> None:
        html = client.get("/datasets").text
        assert 'id="upload-form"' in html and 'hx-encoding="multipart/form-data"' in html
        assert 'data-max-bytes="2147483648"' in html and "Up to 2 GiB" in html
        assert "No datasets yet" in html and "/static/js/datasets.js" in html

    def test_lists_datasets_with_their_splits(self, client: TestClient, csrf: str) -> None:
        page_upload(client, csrf, rows_bytes(20), name="adds", validation_percent="10")
        html = client.get("/datasets").text
        names = re.findall(r'<a href="/datasets/\d+">([^<]+)</a>', html)
        assert names == ["adds", "adds (train 90%)", "adds (validation 10%)"]
        assert html.count('class="split-row"') == 2


class TestUploadFromPage:
    def test_success_sends_the_browser_to_the_dataset(self, client: TestClient, csrf: str) -> None:
        response = page_upload(client, csrf, rows_bytes(3))
        assert response.status_code == 200
        assert re.fullmatch(r"/datasets/\d+", response.headers["hx-redirect"])

    def test_errors_go_to_the_flash_region_with_lines(self, client: TestClient, csrf: str) -> None:
        response = page_upload(client, csrf, rows_bytes(2) + b'{"prompt": 3}\n')
        assert response.status_code == 422
        assert response.headers["hx-retarget"] == "#flash"
        assert "Invalid dataset" in response.text
        assert "line 3: " in response.text and "prompt row in a messages file" in response.text

    def test_needs_the_csrf_token(self, client: TestClient, csrf: str) -> None:
        response = client.post(
            "/datasets",
            files={"file": ("a.jsonl", rows_bytes(1))},
            headers={"HX-Request": "true", "X-CSRF-Token": "wrong"},
        )
        assert response.status_code == 403


class TestDatasetPage:
    @pytest.fixture
    def dataset_id(self, client: TestClient, csrf: str) -> int:
        response = page_upload(client, csrf, rows_bytes(45), name="adds")
        return int(response.headers["hx-redirect"].rsplit("/", 1)[1])

    def test_shows_facts_fields_and_first_rows(self, client: TestClient, dataset_id: int) -> None:
        html = client.get(f"/datasets/{dataset_id}").text
        assert "<h1>adds" in html and 'data-testid="row-count">45<' in html
        for field in ("messages", "ground_truth", "nums", "extra"):
            assert f"<code>{field}</code>" in html
        assert "Rows 0\u201319\n      of 45" in html
        assert html.count('class="row-main"') == 20
        assert "JSON of row 0" in html and "&#34;ground_truth&#34;: 1" in html

    def test_htmx_paging_returns_only_the_rows(
        self, client: TestClient, csrf: str, dataset_id: int
    ) -> None:
        response = client.get(f"/datasets/{dataset_id}?offset=40", headers=htmx(csrf, "rows"))
        html = response.text
        assert html.lstrip().startswith('<div id="rows">') and "<h1>" not in html
        assert [int(i) for i in re.findall(r'data-row="(\d+)"', html)] == [40, 41, 42, 43, 44]
        assert re.search(r"<button[^>]*disabled[^>]*>Next", html.replace("\n", " "))

    def test_offset_past_the_end_shows_the_last_row(
        self, client: TestClient, dataset_id: int
    ) -> None:
        html = client.get(f"/datasets/{dataset_id}?offset=999").text
        assert re.findall(r'data-row="(\d+)"', html) == ["44"]

    def test_split_form(self, client: TestClient, csrf: str, dataset_id: int) -> None:
        response = client.post(
            f"/datasets/{dataset_id}/split",
            data={"validation_percent": "20", "seed": "1"},
            headers=htmx(csrf),
        )
        assert response.headers["hx-redirect"] == f"/datasets/{dataset_id}"
        html = client.get(f"/datasets/{dataset_id}").text
        assert "adds (train 80%)" in html and "adds (validation 20%)" in html

    def test_delete_from_the_list_redraws_it(
        self, client: TestClient, csrf: str, dataset_id: int
    ) -> None:
        response = client.delete(f"/datasets/{dataset_id}", headers=htmx(csrf, "datasets"))
        assert response.text.lstrip().startswith('<div id="datasets">')
        assert "No datasets yet" in response.text

    def test_delete_from_its_page_goes_back_to_the_list(
        self, client: TestClient, csrf: str, dataset_id: int
    ) -> None:
        response = client.delete(f"/datasets/{dataset_id}", headers=htmx(csrf))
        assert response.headers["hx-redirect"] == "/datasets"
        assert client.get(f"/datasets/{dataset_id}").status_code == 404

    def test_other_users_dataset_is_not_found(
        self, client: TestClient, csrf: str, bob: Account
    ) -> None:
        bobs = upload(client, bob, rows_bytes(1)).json()["id"]
        assert client.get(f"/datasets/{bobs}").status_code == 404
        assert client.delete(f"/datasets/{bobs}", headers=htmx(csrf)).status_code == 404
