"""Bring a base model: register a local folder under an org-prefixed name, or a hub id."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.api.test_jobs import post_job
from tests.conftest import Account
from tests.helpers import free_port


def model_folder(root: Path, context: int = 512) -> Path:
    folder = root / "somewhere" / "tiny-1"
    folder.mkdir(parents=True)
    config = {"architectures": ["LlamaForCausalLM"], "max_position_embeddings": context}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text("{}")
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ x }}"}))
    return folder


def add(client: TestClient, account: Account, **body: str) -> Any:
    return client.post("/api/v1/models", json=body, headers=account.headers)


def test_local_folder_under_org_name_is_listed_and_trains_with_its_limits(
    client: TestClient,
    admin: Account,
    alice: Account,
    request_body: dict[str, Any],
    tmp_path: Path,
) -> None:
    folder = model_folder(tmp_path)
    response = add(client, admin, name="acme/tiny-1", path=str(folder))
    assert response.status_code == 201, response.text
    listed = {
        m["name"]: m for m in client.get("/api/v1/models", headers=alice.headers).json()["data"]
    }
    assert listed["acme/tiny-1"]["source"] == "path"
    assert listed["acme/tiny-1"]["chat_template"] is True
    assert listed["acme/tiny-1"]["max_context_length"] == 512
    body = {**request_body, "base_model": "acme/tiny-1", "training": {}, "rollout": {}}
    job = post_job(client, alice, body).json()  # a model is everyone's once added
    assert job["base_model"] == "acme/tiny-1"
    assert job["training"]["max_context_length"] == 512  # its own limit


def test_bad_registrations_name_the_field(
    client: TestClient, admin: Account, tmp_path: Path, fake_model: str
) -> None:
    folder = model_folder(tmp_path)
    assert (
        add(client, admin, name="acme/x", path=str(tmp_path / "nope")).json()["errors"][0]["field"]
        == "path"
    )
    bad_name = add(client, admin, name="a/b/c", path=str(folder))
    assert bad_name.status_code == 422 and bad_name.json()["errors"][0]["field"] == "name"
    assert add(client, admin, name="acme/x", path=str(folder)).status_code == 201
    assert add(client, admin, name="acme/x", path=str(folder)).status_code == 409
    assert client.delete(f"/api/v1/models/{fake_model}", headers=admin.headers).status_code == 409


def test_remove_forgets_a_registered_model(
    client: TestClient, admin: Account, tmp_path: Path
) -> None:
    add(client, admin, name="acme/tiny-1", path=str(model_folder(tmp_path)))
    assert client.delete("/api/v1/models/acme/tiny-1", headers=admin.headers).status_code == 204
    names = [m["name"] for m in client.get("/api/v1/models", headers=admin.headers).json()["data"]]
    assert "acme/tiny-1" not in names
    assert client.delete("/api/v1/models/acme/tiny-1", headers=admin.headers).status_code == 404


def test_hub_id_without_internet_fails_at_once_naming_the_cause(
    client: TestClient, admin: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"  # nothing listens: as a host without internet
    monkeypatch.setenv("HF_ENDPOINT", unreachable)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    response = add(client, admin, hub_id="Qwen/Qwen2.5-0.5B-Instruct")
    assert response.status_code == 503
    message = response.json()["errors"][0]["message"]
    assert response.json()["errors"][0]["field"] == "hub_id"
    assert unreachable in message and "not in this host's Hugging Face cache" in message
    assert "HF_ENDPOINT" in message


def test_hub_id_in_the_local_cache_is_registered_from_there(
    client: TestClient, admin: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "hf-cache"
    repo = cache / "models--acme--cached"
    snapshot = model_folder(tmp_path)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots").mkdir()
    snapshot.rename(repo / "snapshots" / "abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    response = add(client, admin, hub_id="acme/cached")
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "acme/cached"


def test_only_an_admin_adds_or_removes_models_everyone_lists_them(
    client: TestClient, admin: Account, alice: Account, tmp_path: Path
) -> None:
    folder = str(model_folder(tmp_path))
    refused = add(client, alice, name="acme/tiny-1", path=folder)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only an admin can do this"
    assert add(client, alice, hub_id="Qwen/Qwen2.5-0.5B-Instruct").status_code == 403
    assert add(client, admin, name="acme/tiny-1", path=folder).status_code == 201
    names = [m["name"] for m in client.get("/api/v1/models", headers=alice.headers).json()["data"]]
    assert "acme/tiny-1" in names
    assert client.delete("/api/v1/models/acme/tiny-1", headers=alice.headers).status_code == 403
    assert client.delete("/api/v1/models/acme/tiny-1", headers=admin.headers).status_code == 204


@pytest.mark.timeout(30)  # seconds, not a long retry
def test_hub_id_with_hf_hub_offline_fails_at_once_naming_the_setting(
    client: TestClient, admin: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    response = add(client, admin, hub_id="Qwen/Qwen2.5-0.5B-Instruct")
    assert response.status_code == 503
    assert "HF_HUB_OFFLINE" in response.json()["errors"][0]["message"]
    downloads = client.get("/api/v1/models/downloads", headers=admin.headers).json()
    assert downloads["count"] == 0  # nothing was queued


@pytest.mark.timeout(30)
def test_hub_id_on_this_host_without_internet_fails_in_seconds(
    client: TestClient, admin: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real hub, as this host sees it (no route, no DNS): an answer, not a hang."""
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    response = add(client, admin, hub_id="Qwen/Qwen2.5-0.5B-Instruct")
    if response.status_code == 202:
        pytest.skip("this host reaches huggingface.co")
    assert response.status_code == 503
    message = response.json()["errors"][0]["message"]
    assert "https://huggingface.co cannot be reached" in message
    assert "HF_ENDPOINT" in message and "HTTPS_PROXY" in message


def test_a_download_no_worker_took_reads_failed_naming_the_worker(
    client: TestClient, admin: Account, settings: Settings
) -> None:
    status = settings.models_path / ".downloads" / "acme--big.json"
    status.parent.mkdir(parents=True)
    long_ago = time.time() - 11 * 60
    status.write_text(json.dumps({"hub_id": "acme/big", "state": "queued", "updated_at": long_ago}))
    answer = client.get("/api/v1/models/downloads/acme/big", headers=admin.headers).json()
    assert answer["state"] == "failed" and "rft worker --queues gpu,cpu" in answer["error"]


def test_odd_names_in_paths_are_404_never_500(client: TestClient, admin: Account) -> None:
    for hub_id in ("acme/x%00y", "..%2Fetc", "a/b/c"):
        answer = client.get(f"/api/v1/models/downloads/{hub_id}", headers=admin.headers)
        assert answer.status_code == 404, (hub_id, answer.text)
        assert client.delete(f"/api/v1/models/{hub_id}", headers=admin.headers).status_code == 404


def test_the_list_says_whether_training_a_model_fits_the_worker_memory(
    client: TestClient, admin: Account, settings: Settings, tmp_path: Path
) -> None:
    """A 7B-shaped config needs far more than a 16 GiB worker; a tiny one fits. Tried: the
    API's figures, and the Models page's words for both."""
    shapes = {
        "acme/big-7b": {
            "hidden_size": 4096,
            "num_hidden_layers": 32,
            "vocab_size": 32000,
            "intermediate_size": 11008,
        },
        "acme/tiny": {"hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100},
    }
    for name, shape in shapes.items():
        folder = tmp_path / name.replace("/", "-")
        folder.mkdir()
        config = {"architectures": ["LlamaForCausalLM"], "max_position_embeddings": 512, **shape}
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "tokenizer.json").write_text("{}")
        assert add(client, admin, name=name, path=str(folder)).status_code == 201
    settings.worker_memory_bytes = 16 << 30
    listed = {
        m["name"]: m for m in client.get("/api/v1/models", headers=admin.headers).json()["data"]
    }
    big, tiny = listed["acme/big-7b"], listed["acme/tiny"]
    assert big["parameters"] > 6_000_000_000
    assert big["training_memory_bytes"] > 16 << 30 and big["fits_worker_memory"] is False
    assert tiny["training_memory_bytes"] < 2 << 30 and tiny["fits_worker_memory"] is True
    page = client.get("/models", headers=admin.headers).text
    assert (
        "does not fit the worker&#39;s 16.0 GiB" in page
        or "does not fit the worker's 16.0 GiB" in page
    )
    assert ">fits<" in page
    wizard = client.get("/fine-tuning/new", headers=admin.headers).text  # step 1 says it too
    assert "does not fit the worker" in wizard and ">fits<" in wizard
