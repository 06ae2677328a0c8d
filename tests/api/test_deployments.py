"""Deployments API and the OpenAI-compatible router's refusals (no model server needed here;
serving itself is tested in tests/worker/test_serving.py with a real model server)."""

from __future__ import annotations

import json

import openai
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.models import Checkpoint, Deployment, Job
from app.services import demo
from tests.conftest import Account


@pytest.fixture
def fake_model(settings: Settings) -> str:
    folder = settings.models_path / demo.DEMO_MODEL
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"architectures": ["Qwen2ForCausalLM"]}))
    (folder / "tokenizer.json").write_text("{}")
    return demo.DEMO_MODEL


def make_checkpoint(factory: sessionmaker[Session], account: Account, step: int = 20) -> int:
    with transaction(factory) as session:
        job = Job(owner_id=account.user.id, name="j", base_model=demo.DEMO_MODEL, spec={})
        session.add(job)
        session.flush()
        checkpoint = Checkpoint(job_id=job.id, step=step, path=f"jobs/{job.id}/checkpoint-{step}")
        session.add(checkpoint)
        session.flush()
        return checkpoint.id


def deploy(client: TestClient, account: Account, **body: object) -> object:
    return client.post("/api/v1/deployments", json=body, headers=account.headers)


class TestCreate:
    def test_checkpoint_deployment_is_pending_with_a_derived_name(
        self, client: TestClient, alice: Account, session_factory: sessionmaker[Session]
    ) -> None:
        checkpoint_id = make_checkpoint(session_factory, alice)
        response = deploy(client, alice, checkpoint_id=checkpoint_id)
        assert response.status_code == 201, response.text
        made = response.json()
        assert made["state"] == "pending"
        assert made["name"].startswith("ft-") and made["name"].endswith("-step20")
        assert made["checkpoint_id"] == checkpoint_id and made["step"] == 20
        assert made["adapter_path"].endswith("checkpoint-20")
        # The same checkpoint twice: the second gets a name of its own.
        again = deploy(client, alice, checkpoint_id=checkpoint_id).json()
        assert again["name"] == made["name"] + "-2"

    def test_base_model_deployment_is_named_after_the_base(
        self, client: TestClient, alice: Account, fake_model: str
    ) -> None:
        made = deploy(client, alice, base_model=fake_model).json()
        assert made["name"] == fake_model and made["adapter_path"] is None

    @pytest.mark.parametrize(
        "body",
        [{}, {"checkpoint_id": 1, "base_model": "x"}, {"base_model": "x", "name": "has space"}],
    )
    def test_exactly_one_source_and_a_clean_name(
        self, client: TestClient, alice: Account, body: dict[str, object]
    ) -> None:
        response = deploy(client, alice, **body)
        assert response.status_code == 422
        assert response.json()["errors"]

    def test_unknown_base_and_foreign_checkpoint_are_named(
        self,
        client: TestClient,
        alice: Account,
        bob: Account,
        session_factory: sessionmaker[Session],
        fake_model: str,
    ) -> None:
        response = deploy(client, alice, base_model="nope")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "base_model"
        assert fake_model in response.json()["errors"][0]["message"]
        bobs = make_checkpoint(session_factory, bob)
        response = deploy(client, alice, checkpoint_id=bobs)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "checkpoint_id"

    def test_a_name_in_use_is_refused_until_that_deployment_stops(
        self, client: TestClient, alice: Account, fake_model: str
    ) -> None:
        first = deploy(client, alice, base_model=fake_model, name="mine").json()
        response = deploy(client, alice, base_model=fake_model, name="mine")
        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "name"
        stopped = client.delete(f"/api/v1/deployments/{first['id']}", headers=alice.headers)
        assert stopped.json()["state"] == "stopped"
        assert deploy(client, alice, base_model=fake_model, name="mine").status_code == 201


class TestReadAndStop:
    def test_owned_per_user(
        self, client: TestClient, alice: Account, bob: Account, fake_model: str
    ) -> None:
        made = deploy(client, alice, base_model=fake_model).json()
        url = f"/api/v1/deployments/{made['id']}"
        assert client.get(url, headers=alice.headers).json()["name"] == fake_model
        assert client.get(url, headers=bob.headers).status_code == 404
        assert client.delete(url, headers=bob.headers).status_code == 404
        assert client.get("/api/v1/deployments", headers=bob.headers).json()["count"] == 0
        listed = client.get("/api/v1/deployments", headers=alice.headers).json()
        assert listed["count"] == 1 and listed["data"][0]["id"] == made["id"]

    def test_delete_stops_once(self, client: TestClient, alice: Account, fake_model: str) -> None:
        made = deploy(client, alice, base_model=fake_model).json()
        url = f"/api/v1/deployments/{made['id']}"
        stopped = client.delete(url, headers=alice.headers).json()
        assert stopped["state"] == "stopped" and stopped["stopped_at"]
        assert client.delete(url, headers=alice.headers).status_code == 409


class TestOpenAIErrors:
    """The official client raises its own typed errors on our answers."""

    def test_refusals_have_openai_shape(
        self,
        live_server: str,
        alice: Account,
        session_factory: sessionmaker[Session],
    ) -> None:
        api = openai.OpenAI(base_url=live_server + "/v1", api_key=alice.key, max_retries=0)
        messages = [{"role": "user", "content": "1+1="}]
        with pytest.raises(openai.NotFoundError) as missing:
            api.chat.completions.create(model="nope", messages=messages)  # type: ignore[arg-type]
        assert missing.value.body["param"] == "model"  # type: ignore[index]
        assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]

        bad_key = openai.OpenAI(base_url=live_server + "/v1", api_key="rft_wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as denied:
            bad_key.models.list()
        assert denied.value.body["code"] == "invalid_api_key"  # type: ignore[index]

        with pytest.raises(openai.BadRequestError) as bad:
            api.chat.completions.create(model="x", messages=messages, temperature=3)  # type: ignore[arg-type]
        assert bad.value.body["param"] == "temperature"  # type: ignore[index]
        assert bad.value.body["type"] == "invalid_request_error"  # type: ignore[index]

        with transaction(session_factory) as session:
            session.add(Deployment(owner_id=alice.user.id, name="warming", base_model="b"))
        with pytest.raises(openai.APIStatusError) as loading:
            api.completions.create(model="warming", prompt="1+1=")
        assert loading.value.status_code == 503
        assert loading.value.response.headers["retry-after"] == "2"
        assert [m.id for m in api.models.list()] == ["warming"]
