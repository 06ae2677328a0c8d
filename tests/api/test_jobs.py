"""Jobs API: validation before anything is queued, ownership, cancel, records. Training itself
is exercised in tests/worker/test_training.py with a real worker."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app import tasks
from app.core.config import Settings
from app.models import Job
from app.services import demo, jobs
from tests.conftest import Account
from tests.test_tasks import _sent


def post_job(client: TestClient, account: Account, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/jobs", json=body, headers=account.headers)


class TestListModels:
    def test_lists_local_model_folders(
        self, client: TestClient, alice: Account, fake_model: str
    ) -> None:
        body = client.get("/api/v1/models", headers=alice.headers).json()
        assert body["count"] == 1
        assert body["data"][0]["name"] == fake_model
        assert body["data"][0]["max_context_length"] == 256


class TestCreateJob:
    @pytest.mark.parametrize(
        ("group", "field", "value", "detail", "message"),
        [
            ("rollout", "temperature", 0, "Invalid rollout parameters", "between 0.1 and 2.0"),
            ("rollout", "n", 1, "Invalid rollout parameters", "from 2 to 8"),
            ("training", "lora_rank", 12, "Invalid training parameters", "4, 8, 16, 32, 64, 128"),
            ("training", "epochs", 1.5, "Invalid training parameters", "from 1 to 10"),
            ("rollout", "top_k", 101, "Invalid rollout parameters", "from 0 to 100"),
            ("rollout", "extra_body", "{bad json", "Invalid rollout parameters", "not valid JSON"),
            ("training", "learning_rate", 1e-3, "Invalid training parameters", "1e-05 and 0.0005"),
            ("rollout", "top_p", 0, "Invalid rollout parameters", "greater than 0"),
            ("training", "beta", 2, "Invalid training parameters", "between 0.0 and 1.0"),
            ("training", "loss_type", "ppo", "Invalid training parameters", "grpo, dr_grpo, dapo"),
            ("training", "colour", "red", "Invalid training parameters", "unknown field"),
            ("training", "eval_steps", 1.5, "Invalid training parameters", "fraction below 1"),
            ("training", "save_steps", 0, "Invalid training parameters", "greater than 0"),
        ],
    )
    def test_bad_value_names_field_and_range(
        self,
        client: TestClient,
        alice: Account,
        request_body: dict[str, Any],
        session_factory: sessionmaker[Session],
        group: str,
        field: str,
        value: object,
        detail: str,
        message: str,
    ) -> None:
        request_body[group][field] = value
        response = post_job(client, alice, request_body)
        assert response.status_code == 422
        body = response.json()
        assert body["detail"] == detail
        assert [e["field"] for e in body["errors"]] == [f"{group}.{field}"]
        assert message in body["errors"][0]["message"]
        with session_factory() as session:
            assert session.query(Job).count() == 0  # nothing queued

    def test_every_bad_field_is_reported(
        self, client: TestClient, alice: Account, request_body: dict[str, Any]
    ) -> None:
        request_body["rollout"].update(temperature=0, n=1, top_k=101)
        body = post_job(client, alice, request_body).json()
        assert body["detail"] == "Invalid rollout parameters"
        fields = {e["field"] for e in body["errors"]}
        assert fields == {"rollout.temperature", "rollout.n", "rollout.top_k"}

    def test_context_beyond_model_limit(
        self, client: TestClient, alice: Account, request_body: dict[str, Any]
    ) -> None:
        request_body["training"]["max_context_length"] = 4096
        request_body["rollout"]["max_tokens"] = 16
        body = post_job(client, alice, request_body).json()
        assert body["detail"] == "Invalid training parameters"
        assert "at most 256" in body["errors"][0]["message"]

    def test_unknown_model_lists_available(
        self, client: TestClient, alice: Account, request_body: dict[str, Any]
    ) -> None:
        request_body["base_model"] = "gpt-17"
        body = post_job(client, alice, request_body).json()
        assert body["errors"][0]["field"] == "base_model"
        assert demo.DEMO_MODEL in body["errors"][0]["message"]

    def test_other_users_dataset_and_evaluator_are_refused(
        self, client: TestClient, bob: Account, request_body: dict[str, Any]
    ) -> None:
        response = post_job(client, bob, request_body)
        assert response.status_code == 422
        fields = {e["field"] for e in response.json()["errors"]}
        assert fields == {"dataset_id"}

    def test_valid_request_is_queued_with_pinned_versions(
        self, client: TestClient, alice: Account, request_body: dict[str, Any]
    ) -> None:
        response = post_job(client, alice, request_body)
        assert response.status_code == 201, response.text
        job = response.json()
        assert job["status"] == "queued"
        assert job["evaluators"][0]["version"] == 1
        assert job["training"]["learning_rate"] == 5e-4
        assert job["rollout"]["n"] == 8

    def test_the_worker_is_rung_once_the_job_is_saved(
        self, client: TestClient, alice: Account, request_body: dict[str, Any], settings: Settings
    ) -> None:
        job_id = post_job(client, alice, request_body).json()["id"]
        sent = _sent(tasks.make_client(settings), "gpu")
        assert sent == [(tasks.TRAIN_TASK, [{"job_id": job_id}])]

    def test_validation_and_checkpoints_as_a_share_of_the_run(
        self, client: TestClient, alice: Account, request_body: dict[str, Any]
    ) -> None:
        request_body["training"].update(eval_steps=0.25, save_steps=0.5)
        response = post_job(client, alice, request_body)
        assert response.status_code == 201, response.text
        training = response.json()["training"]
        assert training["eval_steps"] == 0.25 and training["save_steps"] == 0.5


class TestJobAccess:
    def test_other_user_gets_404_everywhere(
        self, client: TestClient, alice: Account, bob: Account, request_body: dict[str, Any]
    ) -> None:
        job_id = post_job(client, alice, request_body).json()["id"]
        for path in ("", "/metrics", "/completions", "/logs", "/checkpoints", "/events"):
            response = client.get(f"/api/v1/jobs/{job_id}{path}", headers=bob.headers)
            assert response.status_code == 404, path
        assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=bob.headers).status_code == 404
        put = client.put(
            f"/api/v1/jobs/{job_id}/evaluators",
            json={"evaluators": [{"id": 1}]},
            headers=bob.headers,
        )
        assert put.status_code == 404
        assert client.get("/api/v1/jobs", headers=bob.headers).json()["count"] == 0


class TestCancelJob:
    def test_queued_job_is_cancelled_at_once(
        self, client: TestClient, alice: Account, request_body: dict[str, Any]
    ) -> None:
        job_id = post_job(client, alice, request_body).json()["id"]
        response = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=alice.headers)
        assert response.json()["status"] == "cancelled"
        again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=alice.headers)
        assert again.status_code == 409
        assert again.json()["detail"] == f"Job {job_id} is already cancelled"


class TestJobEvents:
    def test_finished_job_streams_its_events_then_ends(
        self,
        client: TestClient,
        alice: Account,
        request_body: dict[str, Any],
    ) -> None:
        job_id = post_job(client, alice, request_body).json()["id"]
        client.post(f"/api/v1/jobs/{job_id}/cancel", headers=alice.headers)
        with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=alice.headers) as r:
            text = "".join(r.iter_text())
        assert "event: status" in text and '"status": "cancelled"' in text
        assert text.rstrip().endswith('data: {"job_id": ' + str(job_id) + "}")
        first_id = int(text.split("id: ")[1].split("\n")[0])
        headers = {**alice.headers, "Last-Event-ID": str(first_id)}
        with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=headers) as r:
            resumed = "".join(r.iter_text())
        assert f"id: {first_id}\n" not in resumed  # nothing seen twice
        assert '"status": "cancelled"' in resumed


class TestUpdateEvaluators:
    def test_running_job_records_the_change(
        self,
        client: TestClient,
        alice: Account,
        request_body: dict[str, Any],
        session_factory: sessionmaker[Session],
    ) -> None:
        job_id = post_job(client, alice, request_body).json()["id"]
        evaluator_id = request_body["evaluators"][0]["id"]
        response = client.put(
            f"/api/v1/jobs/{job_id}/evaluators",
            json={"evaluators": [{"id": evaluator_id, "weight": 2.0}]},
            headers=alice.headers,
        )
        assert response.status_code == 200
        assert response.json()["evaluators"][0]["weight"] == 2.0
        with session_factory() as session:
            events = jobs.events_after(session, job_id, 0)
        assert [e.type for e in events] == ["status", "evaluators_updated"]
