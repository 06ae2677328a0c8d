"""HTML routes over HTTP: sign-in, redirects, CSRF on forms and htmx posts, error fragments."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import transaction
from app.services import auth_sessions, users

PAGES = ["/", "/datasets", "/evaluations", "/fine-tuning", "/deployments", "/models", "/keys"]
PAGES += ["/status"]


def sign_in(client: TestClient, factory: sessionmaker[Session], name: str = "alice") -> str:
    """Signs the client in through a one-time link; returns the page's CSRF token."""
    with transaction(factory) as session:
        user = users.get_or_create(session, name)
        token = auth_sessions.create_login_token(session, user, 5)
    response = client.get(f"/login?token={token}")
    assert response.status_code == 200 and response.url.path == "/"
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert match
    return match.group(1)


class TestWithoutSession:
    @pytest.mark.parametrize("path", PAGES)
    def test_pages_redirect_to_login(self, client: TestClient, path: str) -> None:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"

    def test_htmx_request_is_told_to_redirect(self, client: TestClient) -> None:
        response = client.get("/status", headers={"HX-Request": "true"}, follow_redirects=False)
        assert response.status_code == 401
        assert response.headers["hx-redirect"] == "/login?next=/status"

    def test_login_page_and_static_files_are_public(self, client: TestClient) -> None:
        assert client.get("/login").status_code == 200
        assert client.get("/static/css/app.css").status_code == 200
        assert client.get("/static/vendor/htmx-2.0.11/htmx.min.js").status_code == 200


class TestLoginLink:
    def test_link_works_once(self, client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
        with transaction(session_factory) as session:
            token = auth_sessions.create_login_token(
                session, users.get_or_create(session, "alice"), 5
            )
        assert client.get(f"/login?token={token}").url.path == "/"
        client.cookies.clear()
        again = client.get(f"/login?token={token}")
        assert again.status_code == 401
        assert "already used or has expired" in again.text

    def test_next_must_be_local(self, client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
        with transaction(session_factory) as session:
            token = auth_sessions.create_login_token(
                session, users.get_or_create(session, "alice"), 5
            )
        response = client.get(f"/login?token={token}&next=//evil.example/x", follow_redirects=False)
        assert response.headers["location"] == "/"

    def test_navigation_is_shown(self, client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
        sign_in(client, session_factory)
        html = client.get("/").text
        for label in ("Datasets", "Evaluations", "Fine-tuning", "Deployments"):
            assert f">{label}</a>" in html


class TestLoginWithKey:
    def _form_token(self, client: TestClient) -> str:
        page = client.get("/login").text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match
        return match.group(1)

    def test_valid_key_signs_in(self, client: TestClient, alice) -> None:  # type: ignore[no-untyped-def]
        csrf = self._form_token(client)
        response = client.post("/login", data={"api_key": alice.key, "csrf_token": csrf})
        assert response.url.path == "/"
        assert '<span class="user" title="Signed in">alice</span>' in response.text

    def test_wrong_key_is_refused(self, client: TestClient) -> None:
        csrf = self._form_token(client)
        response = client.post("/login", data={"api_key": "rft_nope", "csrf_token": csrf})
        assert response.status_code == 401
        assert "That API key is not valid." in response.text

    def test_form_without_csrf_is_refused(self, client: TestClient, alice) -> None:  # type: ignore[no-untyped-def]
        response = client.post("/login", data={"api_key": alice.key})
        assert response.status_code == 403


class TestCsrf:
    def test_htmx_post_without_token_is_refused(self, client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
        sign_in(client, session_factory)
        response = client.post("/keys", data={"name": "x"}, headers={"HX-Request": "true"})
        assert response.status_code == 403
        assert "CSRF token missing or wrong" in response.text
        assert response.headers["hx-retarget"] == "#flash"

    def test_htmx_post_with_header_token_works(self, client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
        csrf = sign_in(client, session_factory)
        response = client.post(
            "/keys", data={"name": "cli"}, headers={"HX-Request": "true", "X-CSRF-Token": csrf}
        )
        assert response.status_code == 200
        assert 'data-testid="new-key"' in response.text
        assert "<html" not in response.text  # the fragment, not the page

    def test_api_with_cookie_needs_csrf_too(self, client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
        csrf = sign_in(client, session_factory)
        assert client.post("/api/v1/keys", json={"name": "x"}).status_code == 403
        ok = client.post("/api/v1/keys", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 201

    def test_logout_needs_the_form_token(self, client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
        csrf = sign_in(client, session_factory)
        assert client.post("/logout", data={}).status_code == 403
        response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert response.headers["location"] == "/login"
        assert client.get("/", follow_redirects=False).status_code == 303


class TestErrors:
    def test_unknown_page_is_a_page_not_a_traceback(
        self, client: TestClient, session_factory
    ) -> None:  # type: ignore[no-untyped-def]
        sign_in(client, session_factory)
        response = client.get("/no-such-page")
        assert response.status_code == 404
        assert "<nav" in response.text and "Traceback" not in response.text

    def test_htmx_domain_error_is_a_fragment(self, client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
        csrf = sign_in(client, session_factory)
        response = client.delete("/keys/9999", headers={"HX-Request": "true", "X-CSRF-Token": csrf})
        assert response.status_code == 404
        assert "API key 9999 not found" in response.text
        assert "<html" not in response.text

    def test_unknown_api_route_is_json(self, client: TestClient) -> None:
        response = client.get("/api/v1/nothing")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found", "errors": []}
