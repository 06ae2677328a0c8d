"""The Models page: everyone sees the list; only an admin sees (and may use) add and remove;
a download's status widget polls until it is ready or failed, then stops."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.services import model_downloads
from app.services.model_downloads import Download
from tests.api.test_models import model_folder
from tests.conftest import Account
from tests.web.test_pages import sign_in


def htmx(csrf: str) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRF-Token": csrf}


def test_a_non_admin_sees_the_list_without_the_controls_and_is_refused(
    client: TestClient, session_factory: sessionmaker[Session], bob: Account, tmp_path: Path
) -> None:
    csrf = sign_in(client, session_factory, "bob")
    html = client.get("/models").text
    assert "Only an admin can add or remove models" in html
    assert 'name="hub_id"' not in html and "/models/remove" not in html
    body = {"name": "acme/tiny-1", "path": str(model_folder(tmp_path))}
    refused = client.post("/models", data=body, headers=htmx(csrf))
    assert refused.status_code == 403 and "Only an admin can do this" in refused.text
    assert refused.headers["hx-retarget"] == "#flash"


def test_an_admin_registers_and_removes_a_folder(
    client: TestClient, session_factory: sessionmaker[Session], admin: Account, tmp_path: Path
) -> None:
    csrf = sign_in(client, session_factory, "root")  # the admin fixture's user
    assert 'name="hub_id"' in client.get("/models").text
    body = {"name": "acme/tiny-1", "path": str(model_folder(tmp_path))}
    added = client.post("/models", data=body, headers=htmx(csrf))
    assert added.status_code == 200, added.text
    assert added.text.lstrip().startswith('<div id="models"')  # the list block only
    assert "<code>acme/tiny-1</code>" in added.text and "LlamaForCausalLM" in added.text
    removed = client.post("/models/remove", data={"name": "acme/tiny-1"}, headers=htmx(csrf))
    assert "acme/tiny-1" not in removed.text


def test_a_download_widget_polls_until_the_end_then_refreshes_the_list(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    sign_in(client, session_factory, "bob")
    running = Download("acme/big", "downloading", 1, 4, 1_000_000, 4_000_000)
    model_downloads.write(settings.models_path, running)
    html = client.get("/models").text
    assert 'hx-get="/models/downloads/acme/big" hx-trigger="every 1s"' in html
    assert "1 of 4 files" in html and "1.0 of 4.0 MB" in html

    model_downloads.write(settings.models_path, Download("acme/big", "ready", 4, 4))
    done = client.get("/models/downloads/acme/big", headers={"HX-Request": "true"})
    assert "hx-trigger" not in done.text  # polling stops
    assert done.headers["hx-trigger"] == "models-changed"  # the list reloads itself

    failed = Download("acme/big", "failed", error="acme/big is not on the hub")
    model_downloads.write(settings.models_path, failed)
    html = client.get("/models/downloads/acme/big").text
    assert "hx-trigger" not in html and "acme/big is not on the hub" in html
