"""Prompts per step never exceed the training rows when batch_size is derived, whatever the
prompts' real token count turns out to be; an explicit batch_size is the user's, kept as is."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_jobs import post_job
from tests.conftest import Account
from tests.datasets_support import rows_bytes, upload


def test_derived_batch_fits_the_rows_even_for_one_token_prompts(
    client: TestClient, alice: Account, request_body: dict[str, Any]
) -> None:
    dataset = upload(client, alice, rows_bytes(3)).json()
    body = {**request_body, "dataset_id": dataset["id"], "validation_dataset_id": None}
    body |= {"training": {"max_steps": 5}, "rollout": {}}
    job = post_job(client, alice, body).json()
    assert "training.batch_size" in job["derived"]
    batch, n = job["training"]["batch_size"], job["rollout"]["n"]
    shortest_possible = n * (1 + job["rollout"]["max_tokens"])  # a 1-token prompt
    assert 1 <= batch // shortest_possible <= 3  # what the worker divides by, at worst


def test_an_explicit_batch_size_is_kept_verbatim(
    client: TestClient, alice: Account, request_body: dict[str, Any]
) -> None:
    body = {**request_body, "training": {"batch_size": 1000, "max_steps": 5}, "rollout": {}}
    job = post_job(client, alice, body).json()
    assert job["training"]["batch_size"] == 1000
    assert "training.batch_size" not in job["derived"]
