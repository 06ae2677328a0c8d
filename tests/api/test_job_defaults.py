"""Job defaults fit the chosen model and data; a job that could not take a step is refused."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.schemas.job_params import JobCreate, TrainingParams, param_specs, range_text
from tests.api.test_jobs import post_job
from tests.conftest import Account
from tests.datasets_support import rows_bytes, upload


def bare(request_body: dict[str, Any]) -> dict[str, Any]:
    """The demo request with every parameter left to its default."""
    return {**request_body, "training": {}, "rollout": {}}


def test_unset_parameters_are_derived_from_model_and_data(
    client: TestClient, alice: Account, request_body: dict[str, Any]
) -> None:
    response = post_job(client, alice, bare(request_body))
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["training"]["max_context_length"] == 256  # the model's limit, not 8192
    longest = job_plan(client, alice, job["id"])["longest_prompt_tokens"]
    assert job["rollout"]["max_tokens"] == min(2048, 256 - longest)
    assert set(job["derived"]) >= {"training.max_context_length", "rollout.max_tokens"}
    assert job["total_steps"] > 0


def job_plan(client: TestClient, account: Account, job_id: int) -> dict[str, Any]:
    job = client.get(f"/api/v1/jobs/{job_id}", headers=account.headers).json()
    return dict(job["plan"])


def test_explicit_values_are_kept_and_checked(
    client: TestClient, alice: Account, request_body: dict[str, Any]
) -> None:
    body = bare(request_body)
    body["rollout"] = {"max_tokens": 255}
    response = post_job(client, alice, body)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "rollout.max_tokens"
    assert "longest prompt" in error["message"] and "256" in error["message"]
    body["rollout"] = {"max_tokens": 32}
    job = post_job(client, alice, body).json()
    assert job["rollout"]["max_tokens"] == 32 and "rollout.max_tokens" not in job["derived"]


def test_tiny_dataset_with_max_steps_is_accepted_with_a_warning(
    client: TestClient, alice: Account, request_body: dict[str, Any]
) -> None:
    dataset = upload(client, alice, rows_bytes(3)).json()
    body = {**bare(request_body), "dataset_id": dataset["id"], "validation_dataset_id": None}
    body["training"] = {"max_steps": 5}
    response = post_job(client, alice, body)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["total_steps"] == 5
    assert any("3 rows" in w and "prompts per step" in w for w in job["warnings"])
    logs = client.get(f"/api/v1/jobs/{job['id']}/logs", headers=alice.headers).json()
    assert any(
        entry["level"] == "warning" and "3 rows" in entry["message"] for entry in logs["data"]
    )


def test_job_that_could_not_take_a_step_is_refused(
    client: TestClient, alice: Account, request_body: dict[str, Any]
) -> None:
    dataset = upload(client, alice, rows_bytes(3)).json()
    body = {**bare(request_body), "dataset_id": dataset["id"], "validation_dataset_id": None}
    body["training"] = {"batch_size": 1_000_000, "max_steps": 300}
    response = post_job(client, alice, body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["detail"] == "Invalid training parameters"
    error = payload["errors"][0]
    assert error["field"] == "training.batch_size"
    for said in ("3 rows", "prompts per step", "epochs (1)", "max_steps (300)"):
        assert said in error["message"]
    assert client.get("/api/v1/jobs", headers=alice.headers).json()["count"] == 0


def test_missing_body_and_unknown_top_level_field_name_the_field(
    client: TestClient, alice: Account, request_body: dict[str, Any]
) -> None:
    response = client.post("/api/v1/jobs", headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    response = post_job(client, alice, {**request_body, "colour": "red"})
    assert response.json()["errors"] == [{"field": "colour", "message": "unknown field"}]


def test_ranges_and_help_come_from_the_model() -> None:
    fields = TrainingParams.model_fields
    assert range_text(fields["epochs"]) == "an integer from 1 to 10"
    assert range_text(fields["learning_rate"]) == "between 1e-05 and 0.0005"
    assert range_text(fields["lora_rank"]) == "one of 4, 8, 16, 32, 64, 128"
    specs = {s.path: s for s in param_specs()}
    assert specs["rollout.temperature"].valid == "between 0.1 and 2.0"
    assert "exploration" in specs["rollout.temperature"].help
    assert specs["training.beta"].group == "algorithm"
    assert specs["training.max_context_length"].unset == "the model's limit, at most 8192"
    assert all(s.help and s.description for s in specs.values())
    # the published schema states the same ranges: one definition
    schema = JobCreate.model_json_schema()["$defs"]["RolloutParams"]["properties"]["n"]
    assert (schema["minimum"], schema["maximum"]) == (2, 8)
