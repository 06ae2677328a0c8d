"""Derived defaults beyond the context: prompts per step never exceed the training rows when
batch_size is derived, whatever the prompts' real token count turns out to be; the learning rate
and its schedule fit the model's size and the run's length. Explicit values are kept as is."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from app.core.config import Settings
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


def test_a_short_run_keeps_its_full_learning_rate_a_long_one_decays(
    client: TestClient, alice: Account, request_body: dict[str, Any]
) -> None:
    short = post_job(client, alice, {**request_body, "training": {}, "rollout": {}}).json()
    assert short["total_steps"] <= 200
    assert short["training"]["lr_scheduler"] == "constant"
    assert short["training"]["learning_rate"] == 1e-4  # a model of unknown size: the default
    assert {"training.lr_scheduler", "training.learning_rate"} <= set(short["derived"])
    body = {**request_body, "training": {"max_steps": 500}, "rollout": {}}
    assert post_job(client, alice, body).json()["training"]["lr_scheduler"] == "linear"
    body["training"] = {"lr_scheduler": "cosine", "learning_rate": 2e-4}
    chosen = post_job(client, alice, body).json()
    assert chosen["training"]["lr_scheduler"] == "cosine"
    assert chosen["training"]["learning_rate"] == 2e-4
    assert "training.learning_rate" not in chosen["derived"]


def test_a_small_model_takes_the_top_of_the_learning_rate_range(
    client: TestClient, alice: Account, request_body: dict[str, Any], settings: Settings
) -> None:
    config = settings.models_path / request_body["base_model"] / "config.json"
    sizes = {"hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 91}  # the demo model's
    config.write_text(json.dumps({**json.loads(config.read_text()), **sizes}))
    job = post_job(client, alice, {**request_body, "training": {}, "rollout": {}}).json()
    assert job["training"]["learning_rate"] == 5e-4
