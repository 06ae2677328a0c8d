"""Small things a user trips on: API docs offline, the favicon, API keys feedback."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.web.test_pages import sign_in


def test_api_docs_load_their_assets_from_this_server(client: TestClient) -> None:
    html = client.get("/api/docs").text
    assert "cdn.jsdelivr.net" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        path = html.split(asset)[0].rsplit('"', 1)[1] + asset
        assert path.startswith("/static/vendor/swagger-ui-dist-")
        assert client.get(path).status_code == 200


def test_favicon_is_served(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")


def test_empty_key_name_answers_an_error_naming_the_field(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    csrf = sign_in(client, session_factory)
    response = client.post(
        "/keys", data={"name": "  "}, headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
    )
    assert response.status_code == 422
    assert response.headers["hx-retarget"] == "#flash"
    assert "must not be empty" in response.text
    page = client.get("/keys").text
    assert "required maxlength" not in page  # the browser would block it without a word


def test_new_key_has_a_copy_button(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    csrf = sign_in(client, session_factory)
    html = client.post(
        "/keys", data={"name": "laptop"}, headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
    ).text
    assert 'id="copy-key"' in html and 'data-testid="new-key"' in html
