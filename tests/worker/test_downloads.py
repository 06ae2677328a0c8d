"""Adding a hub id: a real `rft worker` downloads it (from a stand-in hub on 127.0.0.1, this host
has no internet) with progress the API shows, into RFT_MODELS_DIR/<org>/<name>; a failed
download leaves nothing half-written; an unreachable hub fails at once, naming the setting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli.main import cli
from app.core.config import Settings
from app.services.base_models import list_models
from tests.conftest import Account
from tests.fake_hub import Repo, fake_hub, model_files
from tests.helpers import free_port, start_rft
from worker.downloads import download

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    repos = {
        "acme/tiny": Repo(model_files(), slow={"model.safetensors"}),
        "acme/broken": Repo(model_files(), missing={"model.safetensors"}),
    }
    with fake_hub(repos) as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        yield endpoint


@pytest.fixture
def worker(server_env: dict[str, str], hub: str, tmp_path: Path) -> Iterator[None]:
    env = {**server_env, "HF_ENDPOINT": hub, "HF_HUB_CACHE": str(tmp_path / "hf-cache")}
    process = start_rft(["worker", "--queues", "cpu"], env)
    yield
    process.kill()
    process.wait(timeout=30)


def follow(client: TestClient, account: Account, hub_id: str) -> list[dict[str, Any]]:
    """Every status the API answered until the download ended."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while not seen or seen[-1]["state"] not in ("ready", "failed"):
        assert time.monotonic() < deadline, seen[-1:]
        response = client.get(f"/api/v1/models/downloads/{hub_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        seen.append(response.json())
        time.sleep(0.2)
    return seen


def listed(client: TestClient, account: Account) -> dict[str, Any]:
    page = client.get("/api/v1/models", headers=account.headers).json()
    return {m["name"]: m for m in page["data"]}


def test_a_hub_id_is_downloaded_by_a_worker_with_progress(
    client: TestClient, admin: Account, bob: Account, settings: Settings, worker: None
) -> None:
    started = client.post("/api/v1/models", json={"hub_id": "acme/tiny"}, headers=admin.headers)
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "queued"
    assert "acme/tiny" not in listed(client, admin)  # not before it is complete

    seen = follow(client, bob, "acme/tiny")  # anyone may watch
    assert seen[-1]["state"] == "ready", seen[-1]
    midway = [s for s in seen if s["state"] == "downloading" and s["files_total"]]
    assert any(s["files_done"] < s["files_total"] for s in midway), seen
    assert any(0 < s["bytes_done"] < (s["bytes_total"] or 0) for s in midway), seen
    assert seen[-1]["bytes_done"] == seen[-1]["bytes_total"] == 3_000_101

    model = listed(client, bob)["acme/tiny"]
    assert model["source"] == "hub" and model["max_context_length"] == 256
    assert (settings.models_path / "acme" / "tiny" / "model.safetensors").exists()

    again = client.post("/api/v1/models", json={"hub_id": "acme/tiny"}, headers=admin.headers)
    assert again.status_code == 409
    assert client.delete("/api/v1/models/acme/tiny", headers=admin.headers).status_code == 204
    assert not (settings.models_path / "acme").exists()
    assert "acme/tiny" not in listed(client, admin)
    gone = client.get("/api/v1/models/downloads/acme/tiny", headers=admin.headers)
    assert gone.status_code == 404  # no stale "ready" for a removed model


def test_a_failed_download_says_why_and_leaves_nothing_half_written(
    client: TestClient, admin: Account, settings: Settings, worker: None
) -> None:
    started = client.post("/api/v1/models", json={"hub_id": "acme/broken"}, headers=admin.headers)
    assert started.status_code == 202, started.text
    last = follow(client, admin, "acme/broken")[-1]
    assert last["state"] == "failed" and "EntryNotFound" in last["error"], last
    assert "acme/broken" not in listed(client, admin)
    left = sorted(p.name for p in settings.models_path.rglob("*"))
    assert left == [".downloads", "acme--broken.json"], left  # its status only


def test_the_worker_fails_at_once_without_a_hub_naming_the_setting(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub went away after the API checked it (or the worker runs elsewhere)."""
    unreachable = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HF_ENDPOINT", unreachable)
    outcome = download(settings, "Qwen/Qwen2.5-0.5B-Instruct")
    assert outcome.state == "failed" and outcome.error is not None
    assert unreachable in outcome.error and "HF_ENDPOINT" in outcome.error
    assert sorted(p.name for p in settings.models_path.rglob("*")) == [
        ".downloads",
        "Qwen--Qwen2.5-0.5B-Instruct.json",
    ]


def test_rft_models_add_hub_follows_the_download_to_the_end(
    live_server: str, admin: Account, bob: Account, worker: None
) -> None:
    env = {"RFT_API_URL": live_server, "RFT_API_KEY": admin.key, "COLUMNS": "200"}
    runner = CliRunner()
    added = runner.invoke(cli, ["models", "add", "--hub", "acme/tiny"], env=env)
    assert added.exit_code == 0, added.output
    assert "files" in added.output and "3.0/3.0 MB" in added.output  # the progress bar
    assert "model acme/tiny added (LlamaForCausalLM, hub)" in added.output
    broken = runner.invoke(cli, ["models", "add", "--hub", "acme/broken"], env=env)
    assert broken.exit_code == 1
    assert "download of acme/broken failed" in broken.output
    as_bob = {**env, "RFT_API_KEY": bob.key}
    refused = runner.invoke(cli, ["models", "remove", "acme/tiny"], env=as_bob)
    assert refused.exit_code == 1 and "Only an admin" in refused.output


def test_what_a_killed_attempt_left_is_never_listed_and_is_cleared(
    settings: Settings, hub: str
) -> None:
    left = settings.models_path / ".downloads" / "acme--tiny.partial-elsewhere-1"
    left.mkdir(parents=True)
    (left / "config.json").write_text("{}")
    (left / "tokenizer.json").write_text("{}")
    assert [m.name for m in list_models(settings)] == []
    assert download(settings, "acme/tiny").state == "ready"  # here, in this process
    assert not left.exists()
    assert [p.name for p in (settings.models_path / ".downloads").iterdir()] == ["acme--tiny.json"]
    assert [m.name for m in list_models(settings)] == ["acme/tiny"]
